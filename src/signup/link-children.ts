/**
 * Redeeming parent codes links an account to children on the roster — at registration and later
 * from the account page. The codes and the children's rows are locked first (one order), so the
 * per-child limit of guardians holds under concurrency; the guardians already linked are told by
 * letter, in the same transaction.
 */
import type { AppContext } from '../server/context.js';
import type { Tx } from '../db/index.js';
import type { Account } from '../accounts/queries.js';
import { addGuardianships, guardiansOf } from '../accounts/guardianships.js';
import { lockInvitesByHmac, inviteState, markRedeemed } from '../invites/queries.js';
import { personName, type Person } from '../roster/queries.js';
import { fullName } from '../oidc/claims.js';
import type { UsableCode } from './check-code.js';
import { RegistrationError } from './errors.js';

export type EarlierGuardians = { child: Person; guardians: (Account & { restricted: boolean })[] }[];

/** Locks the codes and the children; throws RegistrationError unless all can be used. */
export async function lockCodesAndChildren(app: AppContext, trx: Tx, codes: UsableCode[], children: Person[]): Promise<EarlierGuardians> {
  const locked = await lockInvitesByHmac(trx, codes.map((c) => c.hmac));
  for (const c of codes) {
    const invite = locked.get(c.hmac);
    const state = invite ? inviteState(invite) : 'revoked';
    if (state !== 'usable') throw new RegistrationError(state, { code: c.code });
  }
  const earlier: EarlierGuardians = [];
  for (const child of [...children].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    // The child's row serialises guardians linking at the same time, so the limit holds.
    await trx('people').where({ id: child.id }).forUpdate().select('id');
    const guardians = await guardiansOf(trx, child.id);
    if (guardians.length >= app.config.invites.maxParentsPerChild) {
      throw new RegistrationError('guardians_full', { name: personName(child) });
    }
    if (guardians.length) earlier.push({ child, guardians });
  }
  return earlier;
}

/** Marks the codes used by `account`, links the children and tells the earlier guardians. */
export async function linkChildren(
  app: AppContext,
  trx: Tx,
  l: { account: Account; codes: UsableCode[]; children: Person[]; earlierGuardians: EarlierGuardians; schoolName: string },
): Promise<void> {
  for (const c of l.codes) {
    // Under the row lock this cannot miss; the check keeps a broken invariant from passing silently.
    if ((await markRedeemed(trx, c.invite.id, l.account.id)) !== 1) throw new RegistrationError('redeemed', { code: c.code });
  }
  await addGuardianships(
    trx,
    l.account.id,
    l.children.map((child) => ({ personId: child.id, inviteId: l.codes.find((c) => c.person.id === child.id)!.invite.id })),
  );
  // Parents already linked learn that someone else now sees their child's diary (a code may
  // have been stolen from a sheet): the letter commits with the link or not at all.
  for (const { child, guardians } of l.earlierGuardians) {
    // A restricted guardian (a court order, say) is not told: the letter names the child's class.
    for (const g of guardians.filter((x) => x.email && x.id !== l.account.id && !x.restricted)) {
      await app.mail.enqueue(trx, {
        to: g.email!,
        template: 'guardian-linked',
        locale: 'ru',
        locals: {
          guardianName: [g.first_name, g.middle_name].filter(Boolean).join(' ') || g.login,
          childName: `${child.first_name} ${child.last_name}`,
          className: child.class_name ?? '',
          schoolName: l.schoolName,
          newGuardianName: fullName(l.account),
        },
      });
    }
  }
}

/** Consent to the processing of personal data (null: the account's own; else a child's). */
export async function recordConsents(app: AppContext, trx: Tx, userId: string, personIds: (string | null)[], ip: string): Promise<void> {
  await trx('consents').insert(personIds.map((personId) => ({ user_id: userId, person_id: personId, policy_version: app.config.privacyPolicyVersion, ip })));
}
