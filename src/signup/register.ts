/**
 * Registration by invite, all or nothing: the account, the used codes, the links to children,
 * the consents and the audit record commit together or not at all. The codes are locked first
 * (FOR UPDATE, in one order), so of concurrent submissions of one code exactly one wins; the
 * others find it used. The password is hashed before, so no lock waits for argon2.
 */
import type { AppContext } from '../server/context.js';
import { AccountInputError, storeAccount, type AccountInput } from '../accounts/create.js';
import type { Account } from '../accounts/queries.js';
import type { AuditWriter } from '../audit/bound.js';
import { applyEffects, type AfterCommit } from '../accounts/effects.js';
import { personName } from '../roster/queries.js';
import type { UsableCode } from './check-code.js';
import { RegistrationError } from './errors.js';
import { linkChildren, lockCodesAndChildren, recordConsents, type EarlierGuardians } from './link-children.js';

export { RegistrationError } from './errors.js';

export interface Registration {
  main: UsableCode;
  /** More parent codes («Дети»), already checked to be usable parent codes of the same school. */
  children: UsableCode[];
  login: string;
  password: string;
  email: string | null;
  phone: string | null;
  /** Typed by parents; students and staff are named by the roster. */
  names: { last: string; first: string; middle: string | null } | null;
  ip: string;
  /** The request's writer; the new account is the actor. */
  by: AuditWriter;
  clientId?: string;
}

/** The account a registration creates, before it exists. */
export function accountInput(r: Registration): AccountInput {
  const { role, person, school } = r.main;
  const fromRoster = role !== 'parent';
  return {
    schoolId: school.id,
    login: r.login,
    password: r.password,
    kind: role === 'student' ? 'student' : role === 'parent' ? 'parent' : 'staff',
    roles: role === 'teacher' || role === 'administration' ? [role] : [],
    lastName: fromRoster ? person.last_name : r.names?.last,
    firstName: fromRoster ? person.first_name : r.names?.first,
    middleName: (fromRoster ? person.middle_name : r.names?.middle) ?? undefined,
    birthDate: fromRoster ? (person.birth_date ?? undefined) : undefined,
    email: r.email ?? undefined,
    phone: r.phone ?? undefined,
    personId: fromRoster ? person.id : undefined,
  };
}

export interface Registered {
  account: Account;
  /** Guardians who were there before this one, per child (they were told by letter). */
  earlierGuardians: EarlierGuardians;
}

export async function register(app: AppContext, r: Registration): Promise<Registered> {
  const input = accountInput(r);
  const hash = await app.passwords.hash(r.password);
  const codes = [r.main, ...r.children];
  const children = [...(r.main.role === 'parent' ? [r.main.person] : []), ...r.children.map((c) => c.person)];
  let after: AfterCommit | undefined;
  const done = await app.db.transaction(async (trx) => {
    const earlierGuardians = await lockCodesAndChildren(app, trx, codes, children);

    let account: Account;
    try {
      account = await storeAccount(trx, input, hash, r.by.as({ type: 'system' }));
    } catch (err) {
      if (err instanceof AccountInputError && err.field === 'login') throw new RegistrationError('login_taken');
      if (err instanceof AccountInputError && err.field === 'person') {
        throw new RegistrationError('person_has_account', { name: personName(r.main.person) });
      }
      // The rest were typed on the details form and checked there; what is left came from the
      // school's roster (an import under older rules). Only the curator can correct it: say so,
      // and keep the code unused (the transaction rolls back).
      if (err instanceof AccountInputError) throw new RegistrationError('roster_invalid', { field: err.field });
      throw err;
    }

    await linkChildren(app, trx, { account, codes, children, earlierGuardians, schoolName: r.main.school.name });

    // Consent to the processing of personal data: the person's own, and each child's by the parent.
    await recordConsents(app, trx, account.id, [input.personId ?? null, ...children.map((c) => c.id)], r.ip);

    // The row of the registration cause (accounts/effects.ts): its audit record, nothing ends.
    after = await applyEffects(app, trx, 'registration', account, r.by.as({ type: 'user', id: account.id }, { clientId: r.clientId }), {
      details: {
        role: r.main.role,
        invites: codes.map((c) => c.invite.id),
        children: children.map((c) => c.id),
        policyVersion: app.config.privacyPolicyVersion,
      },
    });
    return { account, earlierGuardians };
  });
  await after?.();
  return done;
}
