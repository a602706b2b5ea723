/**
 * Password login: throttle first (the attempt is reserved atomically before the costly hash
 * check), then the account by school + login, then argon2. Every failure looks the same to the
 * person, whether the login exists or not.
 */
import type { AppContext } from '../server/context.js';
import { findAccountByLogin, recordLogin, type Account } from '../accounts/queries.js';
import { loginKeys } from '../throttle/throttle.js';
import { writeAudit } from '../audit/audit.js';
import type { School } from '../schools/queries.js';

export type LoginOutcome =
  | { ok: true; account: Account }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'throttled'; retryAfterSeconds: number };

export interface LoginAttempt {
  /** null: platform staff, whose accounts have no school (the console's platform login). */
  school: School | null;
  login: string;
  password: string;
  ip: string;
  requestId?: string;
  clientId?: string;
}

export async function authenticate(app: AppContext, attempt: LoginAttempt): Promise<LoginOutcome> {
  const { db, throttle, passwords, config } = app;
  const schoolId = attempt.school?.id ?? null;
  const keys = loginKeys(schoolId, attempt.login, attempt.ip);
  const audit = {
    schoolId,
    ip: attempt.ip,
    requestId: attempt.requestId,
    clientId: attempt.clientId,
  };

  const gate = await throttle.take([
    { key: keys.account, policy: config.throttle.account },
    { key: keys.addressLogin, policy: config.throttle.addressLogin },
    { key: keys.address, policy: config.throttle.address },
  ]);
  if (!gate.allowed) {
    await writeAudit(db, {
      action: 'login.throttled',
      outcome: 'denied',
      actor: { type: 'anonymous' },
      details: { login: attempt.login.slice(0, 100), key: gate.key.split(':').slice(0, 2).join(':') },
      ...audit,
    });
    return { ok: false, reason: 'throttled', retryAfterSeconds: gate.retryAfterSeconds };
  }

  const account = await findAccountByLogin(db, schoolId, attempt.login);
  const valid = await passwords.verify(account?.password_hash, attempt.password);
  if (!account || !valid || account.disabled_at) {
    await writeAudit(db, {
      action: 'login.failure',
      outcome: 'failure',
      actor: { type: 'anonymous' },
      target: account ? { type: 'user', id: account.id } : undefined,
      details: { login: attempt.login.slice(0, 100), reason: !account ? 'unknown_login' : account.disabled_at ? 'disabled' : 'wrong_password' },
      ...audit,
    });
    return { ok: false, reason: 'invalid' };
  }

  await throttle.succeed(keys.account);
  await throttle.succeed(keys.addressLogin);
  await throttle.refund(keys.address, config.throttle.address);
  const rehash = passwords.needsRehash(account.password_hash) ? await passwords.hash(attempt.password) : undefined;
  await recordLogin(db, account.id, rehash);
  await writeAudit(db, {
    action: 'login.success',
    actor: { type: 'user', id: account.id },
    target: { type: 'user', id: account.id },
    details: { method: 'pwd', rehashed: Boolean(rehash) },
    ...audit,
  });
  return { ok: true, account };
}
