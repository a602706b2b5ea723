/**
 * Password login: the account by school + login, then the throttle (the attempt is reserved
 * atomically before the costly hash check), then argon2. Every failure looks the same to the
 * person, whether the login exists or not.
 *
 * The counters are the password gate's (password-gate.ts): a new device per account, per
 * (address, login) and per address; a known device (a valid device cookie for this account,
 * known-device.ts) only on its own key, so the owner gets past a lockout that attackers caused.
 * A success resets the keys it was counted on: on a new device the account's counter, on a known
 * device that device's (the attackers' lockout of the account stays).
 *
 * Before anything else the attempt takes its place in the hashing line (accounts/hash-pool.ts):
 * when more logins arrive than the cores can hash, the excess is told to come back (503) before
 * it costs a query or counts as an attempt.
 */
import type { AppContext } from '../server/context.js';
import { findAccountByLogin, recordLogin, type Account } from '../accounts/queries.js';
import type { AuditWriter } from '../audit/bound.js';
import { passwordGate } from './password-gate.js';
import type { School } from '../schools/queries.js';
import { HashingBusy, type HashSlot } from '../accounts/hash-pool.js';
import type { LoginResult } from '../metrics/outcomes.js';

export type LoginOutcome =
  | { ok: true; account: Account }
  /** The person sees the same words whatever `cause` is; operators' metrics tell them apart. */
  | { ok: false; reason: 'invalid'; cause: 'bad_credentials' | 'disabled' | 'locked' }
  | { ok: false; reason: 'throttled'; retryAfterSeconds: number }
  /** More logins than the cores can hash: come back later (503), nothing was counted. */
  | { ok: false; reason: 'busy'; retryAfterSeconds: number };

export interface LoginAttempt {
  /** null: platform staff, whose accounts have no school (the console's platform login). */
  school: School | null;
  login: string;
  password: string;
  ip: string;
  /** The request's writer (anonymous until this attempt identifies someone; it names the app). */
  audit: AuditWriter;
  /** This browser's known-device nonce for an account, if it has a valid cookie (known-device.ts). */
  knownDevice?: (accountId: string) => Promise<string | undefined>;
}

export async function authenticate(app: AppContext, attempt: LoginAttempt): Promise<LoginOutcome> {
  const slot = reserveHashing(app);
  if ('reason' in slot) return slot;
  try {
    return await checkPassword(app, attempt, slot);
  } finally {
    slot.release();
  }
}

/** The outcome as the metrics and the access log name it (metrics/outcomes.ts). */
export function loginResult(outcome: LoginOutcome): LoginResult {
  return outcome.ok ? 'success' : outcome.reason === 'invalid' ? outcome.cause : outcome.reason;
}

/** A place in the hashing line, or the refusal to give when the line is full. */
export function reserveHashing(app: AppContext): HashSlot | (LoginOutcome & { reason: 'busy' }) {
  try {
    return app.passwords.reserve();
  } catch (err) {
    if (err instanceof HashingBusy) return { ok: false, reason: 'busy', retryAfterSeconds: err.retryAfterSeconds };
    throw err;
  }
}

async function checkPassword(app: AppContext, attempt: LoginAttempt, slot: HashSlot): Promise<LoginOutcome> {
  const { db, passwords } = app;
  const schoolId = attempt.school?.id ?? null;

  // Looked up before the throttle (cheap) to know whether this browser is a known device of it.
  const account = await findAccountByLogin(db, schoolId, attempt.login);
  const device = account && attempt.knownDevice ? await attempt.knownDevice(account.id) : undefined;
  const gate = passwordGate(app, { schoolId, ip: attempt.ip, login: attempt.login, device, audit: attempt.audit });
  const taken = await gate.take();
  if (!taken.allowed) return { ok: false, reason: 'throttled', retryAfterSeconds: taken.retryAfterSeconds };
  const valid = await passwords.verify(account?.password_hash, attempt.password, slot);
  if (!account || !valid || account.disabled_at) {
    const target = account ? { type: 'user', id: account.id } : undefined;
    await attempt.audit.record({
      action: 'login.failure',
      outcome: 'failure',
      schoolId,
      target,
      details: {
        login: attempt.login.slice(0, 100),
        reason: !account ? 'unknown_login' : account.disabled_at ? 'disabled' : 'wrong_password',
        ...(device ? { knownDevice: true } : {}),
      },
    }, db);
    const locked = await gate.failed(taken, target);
    return { ok: false, reason: 'invalid', cause: account?.disabled_at && valid ? 'disabled' : locked ? 'locked' : 'bad_credentials' };
  }

  await gate.succeeded();
  const rehash = passwords.needsRehash(account.password_hash) ? await passwords.hash(attempt.password, slot) : undefined;
  await recordLogin(db, account.id, rehash);
  // The password identified the person: the record is theirs (the route binds the request to them).
  await attempt.audit.as({ type: 'user', id: account.id }).record({
    action: 'login.success',
    schoolId,
    target: { type: 'user', id: account.id },
    details: { method: 'pwd', rehashed: Boolean(rehash), knownDevice: Boolean(device) },
  }, db);
  return { ok: true, account };
}
