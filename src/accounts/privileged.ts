/**
 * Accounts that hold power over other accounts: a curator (by role on their own school or by a
 * grant on others: `curator_schools`), a platform admin or support, any platform account. What
 * others enter about such an account (a curator in the console, a roster import, the CLI) must
 * never be enough to act as it (issue 16.1): the school console does not edit their contacts, and
 * Gosuslugi links them only after the holder proves the password and the second factor. Nor does
 * the school console change them in any other way (password, status, deletion, transfer, roster
 * entry, guardianships: issue 16.1b): the platform admin manages them, the holder their own.
 */
import type { Queryable } from '../db/index.js';
import type { Account } from './queries.js';

export const PRIVILEGED_ROLES: readonly string[] = ['curator', 'admin', 'support'];

export async function holdsPrivilegedRole(db: Queryable, account: Pick<Account, 'id' | 'kind' | 'roles'>): Promise<boolean> {
  if (account.kind === 'platform') return true;
  if (account.roles.some((r) => PRIVILEGED_ROLES.includes(r))) return true;
  return Boolean(await db('curator_schools').where({ user_id: account.id }).first('school_id'));
}

/** Of these accounts, the ones holding a privileged role (as `holdsPrivilegedRole`, for a list). */
export async function privilegedUserIds(db: Queryable, userIds: readonly string[]): Promise<Set<string>> {
  if (!userIds.length) return new Set();
  const rows = (await privileged(db).whereIn('u.id', userIds).select('u.id')) as { id: string }[];
  return new Set(rows.map((r) => r.id));
}

/**
 * Of these roster entries (people), the ones whose account holds a privileged role: a school's
 * bulk write (a roster import) leaves them as they are (issue 16.1b), as the console's user page does.
 */
export async function privilegedPersonIds(db: Queryable, personIds: readonly string[]): Promise<Set<string>> {
  if (!personIds.length) return new Set();
  const rows = (await privileged(db).whereIn('u.person_id', personIds).select('u.person_id')) as { person_id: string }[];
  return new Set(rows.map((r) => r.person_id));
}

/** `users as u` holding a privileged role: a platform account, a privileged role, or a curatorship granted. */
function privileged(db: Queryable) {
  return db('users as u').where((w) => w
    .where('u.kind', 'platform')
    .orWhere((r) => { for (const role of PRIVILEGED_ROLES) r.orWhereRaw('? = any(u.roles)', [role]); })
    .orWhereExists(db('curator_schools as cs').whereRaw('cs.user_id = u.id')));
}
