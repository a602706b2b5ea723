/**
 * Registration by invite, all or nothing: the account, the used codes, the links to children,
 * the consents and the audit record commit together or not at all. The codes are locked first
 * (FOR UPDATE, in one order), so of concurrent submissions of one code exactly one wins; the
 * others find it used. The password is hashed before, so no lock waits for argon2.
 */
import type { AppContext } from '../server/context.js';
import { AccountInputError, storeAccount, type AccountInput } from '../accounts/create.js';
import type { Account } from '../accounts/queries.js';
import { writeAudit } from '../audit/audit.js';
import { lockInvitesByHmac, inviteState, markRedeemed } from '../invites/queries.js';
import { personName, type Person } from '../roster/queries.js';
import { fullName } from '../oidc/claims.js';
import type { UsableCode } from './check-code.js';
import { addGuardianships, guardiansOf } from '../accounts/guardianships.js';

export type RegistrationProblem = 'redeemed' | 'revoked' | 'expired' | 'login_taken' | 'guardians_full' | 'person_has_account';

export class RegistrationError extends Error {
  override name = 'RegistrationError';
  constructor(
    readonly problem: RegistrationProblem,
    readonly params: Record<string, string> = {},
  ) {
    super(problem);
  }
}

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
  requestId?: string;
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
  /** Guardians who were there before this one, per child (the caller tells them by letter). */
  earlierGuardians: { child: Person; guardians: Account[] }[];
}

export async function register(app: AppContext, r: Registration): Promise<Registered> {
  const input = accountInput(r);
  const hash = await app.passwords.hash(r.password);
  const codes = [r.main, ...r.children];
  const children = [...(r.main.role === 'parent' ? [r.main.person] : []), ...r.children.map((c) => c.person)];
  return app.db.transaction(async (trx) => {
    const locked = await lockInvitesByHmac(trx, codes.map((c) => c.hmac));
    for (const c of codes) {
      const invite = locked.get(c.hmac);
      const state = invite ? inviteState(invite) : 'revoked';
      if (state !== 'usable') throw new RegistrationError(state, { code: c.code });
    }

    const earlierGuardians: Registered['earlierGuardians'] = [];
    for (const child of [...children].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      // The child's row serialises guardians linking at the same time, so the limit holds.
      await trx('people').where({ id: child.id }).forUpdate().select('id');
      const guardians = await guardiansOf(trx, child.id);
      if (guardians.length >= app.config.invites.maxParentsPerChild) {
        throw new RegistrationError('guardians_full', { name: personName(child) });
      }
      if (guardians.length) earlierGuardians.push({ child, guardians });
    }

    let account: Account;
    try {
      account = await storeAccount(trx, input, hash, { type: 'system' });
    } catch (err) {
      if (err instanceof AccountInputError && err.field === 'login') throw new RegistrationError('login_taken');
      if (err instanceof AccountInputError && err.field === 'person') {
        throw new RegistrationError('person_has_account', { name: personName(r.main.person) });
      }
      throw err;
    }

    for (const c of codes) {
      // Under the row lock this cannot miss; the check keeps a broken invariant from passing silently.
      if ((await markRedeemed(trx, c.invite.id, account.id)) !== 1) throw new RegistrationError('redeemed', { code: c.code });
    }
    const links = children.map((child) => ({ personId: child.id, inviteId: codes.find((c) => c.person.id === child.id)!.invite.id }));
    await addGuardianships(trx, account.id, links);

    // Parents already linked learn that someone else now sees their child's diary (a code may
    // have been stolen from a sheet): the letter commits with the link or not at all.
    for (const { child, guardians } of earlierGuardians) {
      for (const g of guardians.filter((x) => x.email)) {
        await app.mail.enqueue(trx, {
          to: g.email!,
          template: 'guardian-linked',
          locale: 'ru',
          locals: {
            guardianName: [g.first_name, g.middle_name].filter(Boolean).join(' ') || g.login,
            childName: `${child.first_name} ${child.last_name}`,
            className: child.class_name ?? '',
            schoolName: r.main.school.name,
            newGuardianName: fullName(account),
          },
        });
      }
    }

    // Consent to the processing of personal data: the person's own, and each child's by the parent.
    const ownPerson = input.personId ?? null;
    await trx('consents').insert([
      { user_id: account.id, person_id: ownPerson, policy_version: app.config.privacyPolicyVersion, ip: r.ip },
      ...children.map((child) => ({ user_id: account.id, person_id: child.id, policy_version: app.config.privacyPolicyVersion, ip: r.ip })),
    ]);

    await writeAudit(trx, {
      action: 'user.register',
      actor: { type: 'user', id: account.id },
      schoolId: r.main.school.id,
      target: { type: 'user', id: account.id },
      clientId: r.clientId,
      ip: r.ip,
      requestId: r.requestId,
      details: {
        role: r.main.role,
        invites: codes.map((c) => c.invite.id),
        children: children.map((c) => c.id),
        policyVersion: app.config.privacyPolicyVersion,
      },
    });
    return { account, earlierGuardians };
  });
}
