/**
 * Accounts that hold power over other accounts: a curator (by role on their own school or by a
 * grant on others: `curator_schools`), a platform admin or support, any platform account. What
 * others enter about such an account (a curator in the console, a roster import, the CLI) must
 * never be enough to act as it (issue 16.1): the school console does not edit their contacts, and
 * Gosuslugi links them only after the holder proves the password and the second factor.
 */
import type { Queryable } from '../db/index.js';
import type { Account } from './queries.js';

export const PRIVILEGED_ROLES: readonly string[] = ['curator', 'admin', 'support'];

export async function holdsPrivilegedRole(db: Queryable, account: Pick<Account, 'id' | 'kind' | 'roles'>): Promise<boolean> {
  if (account.kind === 'platform') return true;
  if (account.roles.some((r) => PRIVILEGED_ROLES.includes(r))) return true;
  return Boolean(await db('curator_schools').where({ user_id: account.id }).first('school_id'));
}
