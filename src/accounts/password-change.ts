/**
 * Setting a password, by cause (effects.ts, PASSWORD_EFFECTS): the one writer of the password
 * columns after an account exists. A chosen password passes the rule with the account's personal
 * data and must differ from the current one; a generated one is made here and returned once. The
 * must-change flag follows the row; the rest of the row (sessions, letters, throttle, audit, this
 * browser's device cookie) is applied by changeAccount.
 */
import type { Knex } from 'knex';
import type { AppContext } from '../server/context.js';
import type { AuditWriter } from '../audit/bound.js';
import type { PasswordProblem } from './password-policy.js';
import { generatePassword } from './password-policy.js';
import { setPasswordHash, type Account } from './queries.js';
import { changeAccount, PASSWORD_EFFECTS, type EffectExtra, type PasswordCause } from './effects.js';

/** The causes where the person chooses the password (registration sets it when the account is made). */
export type ChosenCause = 'recovery_link' | 'own_change' | 'forced_change';
export type GeneratedCause = 'curator_reset' | 'cli';

export type SetPasswordOutcome =
  | { ok: true }
  | { ok: false; reason: 'policy'; problem: PasswordProblem }
  | { ok: false; reason: 'same' }
  /** The guard (`extra.guard`) said the change may no longer happen (a used recovery link). */
  | { ok: false; reason: 'invalid' };

export interface SetPasswordExtra extends EffectExtra {
  /** Runs first in the change's transaction; false: nothing is written (e.g. the link was used meanwhile). */
  guard?: (trx: Knex.Transaction) => Promise<boolean>;
}

/** The rule, with the personal data of the account: the same for every cause that lets a person choose. */
export function passwordProblem(app: AppContext, account: Pick<Account, 'login' | 'last_name' | 'first_name' | 'middle_name' | 'birth_date'>, password: string) {
  return app.passwords.check(password, {
    login: account.login,
    names: [account.last_name, account.first_name, account.middle_name],
    birthDate: account.birth_date,
  });
}

/** A password the person chose, for one of the causes that let them. */
export async function setPassword(
  app: AppContext,
  account: Account,
  password: string,
  cause: ChosenCause,
  by: AuditWriter,
  extra: SetPasswordExtra = {},
): Promise<SetPasswordOutcome> {
  const problem = passwordProblem(app, account, password);
  if (problem) return { ok: false, reason: 'policy', problem };
  if (await app.passwords.verify(account.password_hash, password)) return { ok: false, reason: 'same' };
  const hash = await app.passwords.hash(password);
  const done = await write(app, account, hash, cause, by, extra);
  return done ? { ok: true } : { ok: false, reason: 'invalid' };
}

/** A one-time password made here (shown once), to be changed at the next login. */
export async function resetPassword(app: AppContext, account: Account, cause: GeneratedCause, by: AuditWriter, extra: EffectExtra = {}): Promise<string> {
  const password = generatePassword();
  await write(app, account, await app.passwords.hash(password), cause, by, extra);
  return password;
}

async function write(app: AppContext, account: Account, hash: string, cause: PasswordCause, by: AuditWriter, extra: SetPasswordExtra) {
  const { guard, ...rest } = extra;
  const row = PASSWORD_EFFECTS[cause];
  const done = await changeAccount(app, cause, account, by, async (trx) => {
    if (guard && !(await guard(trx))) return false;
    await setPasswordHash(trx, account.id, hash, row.password.mustChange);
    return true;
  }, rest);
  return done !== false;
}
