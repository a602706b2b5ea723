/**
 * What a registration by invite code must never leave behind, however it was interrupted (a
 * database restart, a killed node): read straight from the database after the fault.
 */
import { rawRows, type Queryable } from '../../src/db/index.js';

export interface RegistrationInvariants {
  /** Codes marked used whose account does not exist (or that are half-marked). */
  codesConsumedWithoutAccount: number;
  /**
   * Accounts registered (login starting with the prefix given) that lack any part of a
   * registration: a code used by them, their roster entry's code (students, staff), the consent,
   * the `user.register` audit record.
   */
  halfMadeAccounts: number;
  /** Parent codes used without the parent ↔ child link, and links whose code is not used by that parent. */
  guardianshipsMissingASide: number;
}

const count = async (db: Queryable, sql: string, bindings: unknown[] = []) =>
  (await rawRows<{ n: number }>(db, `select count(*)::int as n from (${sql}) x`, bindings))[0]!.n;

export async function registrationInvariants(db: Queryable, registeredLoginPrefix: string): Promise<RegistrationInvariants> {
  const codesConsumedWithoutAccount = await count(
    db,
    `select i.id from invites i
      where (i.redeemed_at is null) <> (i.redeemed_by is null)
         or (i.redeemed_by is not null and not exists (select 1 from users u where u.id = i.redeemed_by))`,
  );
  const halfMadeAccounts = await count(
    db,
    `select u.id from users u
      where lower(u.login) like ?
        and (not exists (select 1 from invites i where i.redeemed_by = u.id)
          or (u.kind <> 'parent' and not exists (select 1 from invites i where i.redeemed_by = u.id and i.person_id = u.person_id))
          or not exists (select 1 from consents c where c.user_id = u.id and c.person_id is not distinct from u.person_id)
          or not exists (select 1 from audit_log a where a.action = 'user.register' and a.target_id = u.id::text))`,
    [`${registeredLoginPrefix.toLowerCase()}%`],
  );
  const guardianshipsMissingASide = await count(
    db,
    `select i.id from invites i
      where i.role = 'parent' and i.redeemed_by is not null
        and not exists (select 1 from guardianships g where g.user_id = i.redeemed_by and g.person_id = i.person_id)
     union all
     select g.invite_id from guardianships g
      where g.invite_id is not null
        and not exists (select 1 from invites i where i.id = g.invite_id and i.redeemed_by = g.user_id and i.person_id = g.person_id)`,
  );
  return { codesConsumedWithoutAccount, halfMadeAccounts, guardianshipsMissingASide };
}

export const NOTHING_HALF_MADE: RegistrationInvariants = { codesConsumedWithoutAccount: 0, halfMadeAccounts: 0, guardianshipsMissingASide: 0 };
