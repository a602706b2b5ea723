/** The tables of the ESIA connector: `esia_flows` (one per login attempt) and `federated_identities`. */
import { randomUUID } from 'node:crypto';
import { affected, type Queryable } from '../db/index.js';
import type { Candidate, Origin, Via } from './match.js';

export const PROVIDER = 'esia';

export interface Flow {
  state: string;
  interaction_uid: string;
  code_verifier: string | null;
  subject: string | null;
  candidates: Candidate[] | null;
  /** The account whose password this login proved; its second factor comes next. */
  proven_user_id: string | null;
}

export async function createFlow(db: Queryable, f: { interactionUid: string; codeVerifier?: string; ip: string; expiresAt: Date }): Promise<string> {
  const state = randomUUID();
  await db('esia_flows').insert({ state, interaction_uid: f.interactionUid, code_verifier: f.codeVerifier ?? null, ip: f.ip, expires_at: f.expiresAt });
  return state;
}

/** The callback takes the state once: unknown, used or expired states give nothing. */
export async function claimFlow(db: Queryable, state: string): Promise<Flow | undefined> {
  const [row] = await db('esia_flows')
    .where({ state })
    .whereNull('returned_at')
    .whereRaw('expires_at > clock_timestamp()')
    .update({ returned_at: db.raw('clock_timestamp()') })
    .returning(['state', 'interaction_uid', 'code_verifier', 'subject', 'candidates', 'proven_user_id']);
  return row as Flow | undefined;
}

export async function recordCandidates(db: Queryable, state: string, subject: string, candidates: Candidate[]): Promise<void> {
  // The verifier has done its work; it is not kept.
  await db('esia_flows').where({ state }).update({ subject, candidates: JSON.stringify(candidates), code_verifier: null });
}

/** The newest verified, unfinished, unexpired flow of an interaction. */
export async function pendingFlow(db: Queryable, interactionUid: string): Promise<Flow | undefined> {
  return db('esia_flows')
    .where({ interaction_uid: interactionUid })
    .whereNotNull('subject')
    .whereNull('finished_at')
    .whereRaw('expires_at > clock_timestamp()')
    .orderBy('returned_at', 'desc')
    .first('state', 'interaction_uid', 'code_verifier', 'subject', 'candidates', 'proven_user_id') as Promise<Flow | undefined>;
}

/** The password of `userId` was right in this flow: the second-factor step may follow (for that account only). */
export async function recordPasswordProven(db: Queryable, state: string, userId: string): Promise<void> {
  await db('esia_flows').where({ state }).whereNull('finished_at').update({ proven_user_id: userId });
}

/** Marks the flow finished; false when another request finished it first. */
export async function finishFlow(db: Queryable, state: string): Promise<boolean> {
  return affected(await db('esia_flows').where({ state }).whereNull('finished_at').update({ finished_at: db.raw('clock_timestamp()') })) === 1;
}

/** What the holder proved when the link was made: nothing (data alone), the password, the password and the second factor. */
export type Proof = 'none' | 'password' | 'password_otp';
const PROOF_RANK: Record<Proof, number> = { none: 0, password: 1, password_otp: 2 };

export interface Link {
  subject: string;
  linked_at: Date;
  linked_via: string;
  last_login_at: Date | null;
  origin: Origin | null;
  origin_user_id: string | null;
  proof: Proof;
}

const LINK_COLUMNS = ['subject', 'linked_at', 'linked_via', 'last_login_at', 'origin', 'origin_user_id', 'proof'];

export async function linkOf(db: Queryable, userId: string): Promise<Link | undefined> {
  return db('federated_identities').where({ provider: PROVIDER, user_id: userId }).first(LINK_COLUMNS) as Promise<Link | undefined>;
}

export interface NewLink {
  via: Via | 'chooser';
  origin?: Origin;
  originUserId?: string | null;
  proof: Proof;
}

/**
 * Links the account to the oid (or finds the link) and stamps the login. Returns 'linked' for a
 * new link, 'existing', or 'conflict' when the account is linked to another ESIA person. A login
 * that proved more than the existing link records it (a link made by data alone becomes the
 * holder's once they give their password and code).
 */
export async function linkAccount(db: Queryable, userId: string, subject: string, l: NewLink): Promise<'linked' | 'existing' | 'conflict'> {
  const inserted = await db('federated_identities')
    .insert({ provider: PROVIDER, subject, user_id: userId, linked_via: l.via, origin: l.origin ?? null, origin_user_id: l.originUserId ?? null, proof: l.proof, last_login_at: db.fn.now() })
    .onConflict(['provider', 'user_id'])
    .ignore()
    .returning('id');
  if (inserted.length) return 'linked';
  const mine = () => db('federated_identities').where({ provider: PROVIDER, user_id: userId, subject });
  const n = affected(await mine().update({ last_login_at: db.fn.now() }));
  const weaker = (Object.keys(PROOF_RANK) as Proof[]).filter((p) => PROOF_RANK[p] < PROOF_RANK[l.proof]);
  if (n && weaker.length) await mine().whereIn('proof', weaker).update({ proof: l.proof });
  return n ? 'existing' : 'conflict';
}

/** Removes the account's link; returns it (for the audit and the letter), or undefined when there was none. */
export async function unlinkAccount(db: Queryable, userId: string): Promise<Link | undefined> {
  const [row] = await db('federated_identities').where({ provider: PROVIDER, user_id: userId }).del().returning(LINK_COLUMNS);
  return row as Link | undefined;
}

/**
 * The link that the account's school-entered SNILS made by itself (no password given): when that
 * SNILS is removed or replaced, the link goes with it rather than staying behind unseen.
 */
export async function unlinkMadeBySchoolSnils(db: Queryable, userId: string): Promise<Link | undefined> {
  const [row] = await db('federated_identities')
    .where({ provider: PROVIDER, user_id: userId, linked_via: 'snils_school', proof: 'none' })
    // Links from before origins were recorded (null) go too: they cannot be told apart, and the holder can link again.
    .where((q) => q.whereIn('origin', ['curator', 'school']).orWhereNull('origin'))
    .del()
    .returning(LINK_COLUMNS);
  return row as Link | undefined;
}

/** The same for roster entries whose SNILS an import replaced: the links their old SNILS made by itself. */
export async function unlinkMadeByRosterSnils(db: Queryable, personIds: string[]): Promise<(Link & { user_id: string })[]> {
  if (!personIds.length) return [];
  return db('federated_identities')
    .where({ provider: PROVIDER, linked_via: 'snils_school', proof: 'none' })
    .where((q) => q.where('origin', 'roster').orWhereNull('origin'))
    .whereIn('user_id', db('users').whereIn('person_id', personIds).select('id'))
    .del()
    .returning([...LINK_COLUMNS, 'user_id']) as Promise<(Link & { user_id: string })[]>;
}

/** Flows past their interaction's life (the purge). */
export async function purgeFlows(db: Queryable): Promise<number> {
  return affected(await db('esia_flows').whereRaw(`expires_at < clock_timestamp() - interval '1 hour'`).del());
}
