/**
 * What a refused password answers, on every login form and wherever the password is asked again:
 * the FAQ's words whatever went wrong; when the attempt was throttled, 429 with Retry-After
 * (machines wait, the connection is not held) and how long to wait. Identical for every login,
 * existing or not. When the service hashes as many passwords as it can, 503 with Retry-After.
 */
import type { Context } from 'koa';
import { tr } from '../server/views.js';
import type { LoginOutcome } from './authenticate.js';

export function loginRefusal(ctx: Context, outcome: LoginOutcome & { ok: false }): { error: string; status: number } {
  const t = tr(ctx);
  if (outcome.reason === 'busy') return busyRefusal(ctx, outcome.retryAfterSeconds);
  if (outcome.reason !== 'throttled') return { error: t('login.invalid'), status: 400 };
  return { error: `${t('login.invalid')} ${throttledRefusal(ctx, outcome.retryAfterSeconds).error}`, status: 429 };
}

/** The throttle's words: too many failed attempts, the next one in how long; 429 + Retry-After. */
export function throttledRefusal(ctx: Context, retryAfterSeconds: number): { error: string; status: number } {
  const wait = throttledWait(ctx, retryAfterSeconds);
  return { error: tr(ctx)('bruteforce.wait', { wait }), status: 429 };
}

/** Sets Retry-After (429 answers) and gives the wait in words: «40 с», «15 мин». */
export function throttledWait(ctx: Context, retryAfterSeconds: number): string {
  const t = tr(ctx);
  const s = retryAfterSeconds;
  ctx.set('retry-after', String(s));
  return s < 60 ? t('bruteforce.seconds', { n: s }) : t('bruteforce.minutes', { n: Math.ceil(s / 60) });
}

/** More logins at once than the cores can check: nothing is wrong with the person's input; 503 + Retry-After. */
export function busyRefusal(ctx: Context, retryAfterSeconds: number): { error: string; status: number } {
  ctx.set('retry-after', String(retryAfterSeconds));
  return { error: tr(ctx)('login.busy', { n: retryAfterSeconds }), status: 503 };
}
