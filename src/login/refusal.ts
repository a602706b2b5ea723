/**
 * What a refused password login answers, on every login form: the FAQ's words whatever went
 * wrong; when the attempt was throttled, 429 with Retry-After (machines wait, the connection is
 * not held) and how long to wait. Identical for every login, existing or not.
 */
import type { Context } from 'koa';
import { tr } from '../server/views.js';
import type { LoginOutcome } from './authenticate.js';

export function loginRefusal(ctx: Context, outcome: LoginOutcome & { ok: false }): { error: string; status: number } {
  const t = tr(ctx);
  if (outcome.reason !== 'throttled') return { error: t('login.invalid'), status: 400 };
  const s = outcome.retryAfterSeconds;
  ctx.set('retry-after', String(s));
  const wait = s < 60 ? t('bruteforce.seconds', { n: s }) : t('bruteforce.minutes', { n: Math.ceil(s / 60) });
  return { error: `${t('login.invalid')} ${t('bruteforce.wait', { wait })}`, status: 429 };
}
