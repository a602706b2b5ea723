/**
 * The data Gosuslugi matching reads on an account (SNILS, email, phone), written in one place so
 * that who entered it is always recorded with it: `snils_source` (the school vouches for it, or the
 * person typed it) and `snils_entered_by` / `email_entered_by` (the curator who typed it into the
 * console, named on the link it makes and in its letter).
 */
import type { Queryable } from '../db/index.js';
import type { Account } from './queries.js';

export interface SchoolContacts {
  /** 11 digits, or null to remove it. */
  snils: string | null;
  /** Normalised, or null. */
  phone: string | null;
  /** Set only when the address changes: it then waits for its confirmation letter again. */
  email?: string | null;
}

/** A curator's edit in the console: a SNILS they enter is the school's (docs/esia.md). */
export async function setContactsBySchool(db: Queryable, user: Pick<Account, 'id' | 'snils'>, c: SchoolContacts, curatorId: string): Promise<void> {
  await db('users').where({ id: user.id }).update({
    snils: c.snils, snils_source: c.snils ? 'school' : null,
    // The same number saved again keeps who entered it first.
    ...(c.snils !== user.snils ? { snils_entered_by: c.snils ? curatorId : null } : {}),
    phone: c.phone,
    ...(c.email !== undefined ? { email: c.email, email_verified_at: null, email_entered_by: c.email ? curatorId : null } : {}),
    updated_at: db.fn.now(),
  });
}

/** The person's own SNILS (account page, after the password): typed by them, nobody else's entry. */
export async function setOwnSnils(db: Queryable, userId: string, snils: string | null): Promise<void> {
  await db('users').where({ id: userId }).update({ snils, snils_source: snils ? 'self' : null, snils_entered_by: null, updated_at: db.fn.now() });
}

/** The person's own address (account page, after the password); it is theirs, not a curator's entry. */
export async function setOwnEmail(db: Queryable, account: Pick<Account, 'id' | 'email_verified_at'>, email: string, same: boolean): Promise<void> {
  await db('users').where({ id: account.id }).update({ email, email_verified_at: same ? account.email_verified_at : null, email_entered_by: null, updated_at: db.fn.now() });
}
