/**
 * Children's data (152-ФЗ) — the one place that decides who gets it. A pupil's class and birth
 * date (`class`, `birthdate`) and a parent's children (`children`) go only to the journal's own
 * apps and to third-party apps the school approved (`school_clients`, src/clients/approvals.ts):
 * the account's own school for its own data, each child's school for that child (a pupil may
 * have moved to another school). Everyone else gets the other claims without them, and the
 * consent page does not offer them. A pupil never consents to a third-party app: the school
 * decides — an approved app gets the pupil without a consent page, any other ends in
 * access_denied.
 */
import { interactionPolicy as op, type KoaContextWithOIDC } from 'oidc-provider';
import type { Queryable } from '../db/index.js';
import type { Account } from '../accounts/queries.js';
import type { Child } from '../accounts/guardianships.js';
import { approvingSchools } from '../clients/approvals.js';
import { FIRST_PARTY } from './clients.js';

/** The claims this policy withholds (SCOPE_CLAIMS: `birthdate` in profile, `class` in school). */
export const CHILD_DATA_CLAIMS = ['children', 'class', 'birthdate'] as const;

/** The app asking: enough to apply the policy. */
export interface RelyingParty {
  clientId: string;
  firstParty: boolean;
}

export function relyingParty(client: { clientId: string; metadata(): Record<string, unknown> } | undefined): RelyingParty | undefined {
  return client ? { clientId: client.clientId, firstParty: client.metadata()[FIRST_PARTY] === true } : undefined;
}

export interface ChildDataRelease {
  /** The account's own class and birth date. */
  own: boolean;
  /** The children this app may list; undefined: no child's data at all (the claim is left out). */
  children: Child[] | undefined;
}

/** What of the children's data `rp` may receive for an account of `schoolId` with these children. */
export async function childDataRelease(db: Queryable, rp: RelyingParty | undefined, schoolId: string | null, children: Child[]): Promise<ChildDataRelease> {
  if (rp?.firstParty) return { own: true, children };
  // No app known: nothing is released (never reached through the provider; fails closed).
  if (!rp) return { own: false, children: undefined };
  const approved = await approvingSchools(db, rp.clientId, [schoolId, ...children.map((c) => c.school_id)]);
  const own = Boolean(schoolId && approved.has(schoolId));
  const released = children.filter((c) => approved.has(c.school_id));
  // An empty list would say «no children»: an app that may see none gets no claim.
  return { own, children: own || released.length ? released : undefined };
}

/** A pupil at a third-party app their school has not approved: no consent page, no login. */
export async function pupilRefused(db: Queryable, rp: RelyingParty | undefined, account: Pick<Account, 'kind' | 'school_id'>): Promise<boolean> {
  if (account.kind !== 'student' || rp?.firstParty) return false;
  if (!rp || !account.school_id) return true;
  return !(await approvingSchools(db, rp.clientId, [account.school_id])).has(account.school_id);
}

/**
 * Adds to oidc-provider's consent prompt the check that sends such a pupil to the consent step
 * (src/consent/routes.ts refuses there) even when an older grant covers every scope — a school
 * may have withdrawn its approval since.
 */
export function withSchoolApproval<P extends ReturnType<typeof op.base>>(policy: P, db: Queryable): P {
  policy.get('consent')!.checks.add(
    new op.Check('school_not_approved', "the pupil's school has not approved this app", async (ctx: KoaContextWithOIDC) => {
      const account = (ctx.oidc.account as { account?: Account } | undefined)?.account;
      if (!account) return op.Check.NO_NEED_TO_PROMPT;
      return (await pupilRefused(db, relyingParty(ctx.oidc.client), account)) ? op.Check.REQUEST_PROMPT : op.Check.NO_NEED_TO_PROMPT;
    }),
    0,
  );
  return policy;
}
