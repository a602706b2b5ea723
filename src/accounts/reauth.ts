/**
 * The current password asked again before a sensitive change (email, password, SNILS, two-step
 * verification; the email prompt; linking Gosuslugi). The same password gate as the login forms
 * (login/password-gate.ts): no more guesses here than there, and a browser that is a known device
 * of the account is counted on its own key, so during an attack on the account its signed-in
 * owner is not refused. A throttled attempt is told to wait, not that the password is wrong.
 */
import type { Context } from 'koa';
import type { AppContext } from '../server/context.js';
import type { Account } from './queries.js';
import type { HashSlot } from './hash-pool.js';
import type { LoginOutcome } from '../login/authenticate.js';
import { knownDevice } from '../login/known-device.js';
import { passwordGate } from '../login/password-gate.js';
import { busyRefusal, throttledRefusal } from '../login/refusal.js';
import { reserveHashing } from '../login/authenticate.js';
import { tr } from '../server/views.js';
import { auditOf } from '../audit/bound.js';

export type ReauthOutcome = { ok: true } | (LoginOutcome & { ok: false });

export async function reauthenticate(app: AppContext, ctx: Context, account: Account, password: string): Promise<ReauthOutcome> {
  // The hashing line first: a full line refuses before the attempt is counted (login/authenticate.ts).
  const slot = reserveHashing(app);
  if ('reason' in slot) return slot;
  try {
    return await checkCurrentPassword(app, ctx, account, password, slot);
  } finally {
    slot.release();
  }
}

async function checkCurrentPassword(app: AppContext, ctx: Context, account: Account, password: string, slot: HashSlot): Promise<ReauthOutcome> {
  const gate = passwordGate(app, {
    schoolId: account.school_id,
    login: account.login,
    ip: ctx.ip,
    device: await knownDevice(app, ctx, account.id),
    audit: auditOf(ctx),
  });
  const taken = await gate.take();
  if (!taken.allowed) return { ok: false, reason: 'throttled', retryAfterSeconds: taken.retryAfterSeconds };
  if (!(await app.passwords.verify(account.password_hash, password, slot))) {
    const locked = await gate.failed(taken, { type: 'user', id: account.id });
    return { ok: false, reason: 'invalid', cause: locked ? 'locked' : 'bad_credentials' };
  }
  await gate.succeeded();
  return { ok: true };
}

/** Undefined when the password is right; else what to show: «Неверный пароль» (400) or the wait (429). */
export async function currentPasswordRefusal(app: AppContext, ctx: Context, account: Account, password: string): Promise<{ error: string; status: number } | undefined> {
  const outcome = await reauthenticate(app, ctx, account, password);
  if (outcome.ok) return undefined;
  if (outcome.reason === 'throttled') return throttledRefusal(ctx, outcome.retryAfterSeconds);
  if (outcome.reason === 'busy') return busyRefusal(ctx, outcome.retryAfterSeconds);
  return { error: tr(ctx)('confirm.wrong_password'), status: 400 };
}
