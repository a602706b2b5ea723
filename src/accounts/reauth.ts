/**
 * The current password asked again before a sensitive change (email, password): counted on the
 * account's login counter, so it can be guessed no more often than at the login form.
 */
import type { AppContext } from '../server/context.js';
import type { Account } from './queries.js';
import { loginKeys } from '../throttle/keys.js';

export async function currentPasswordOk(app: AppContext, account: Account, password: string, ip: string): Promise<boolean> {
  const key = loginKeys(account.school_id, account.login, ip).account;
  const taken = await app.throttle.take([{ key, policy: app.config.throttle.account }]);
  if (!taken.allowed) return false;
  const ok = await app.passwords.verify(account.password_hash, password);
  if (ok) await app.throttle.succeed(key);
  return ok;
}
