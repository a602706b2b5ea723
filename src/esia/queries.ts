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
export const PROOF_RANK: Record<Proof, number> = { none: 0, password: 1, password_otp: 2 };

export interface Link {
  subject: string;
  linked_at: Date;
  linked_via: string;
  last_login_at: Date | null;
  origin: Origin | null;
  origin_user_id: string | null;
  proof: Proof;
}

export const LINK_COLUMNS = ['subject', 'linked_at', 'linked_via', 'last_login_at', 'origin', 'origin_user_id', 'proof'];

export async function linkOf(db: Queryable, userId: string): Promise<Link | undefined> {
  return db('federated_identities').where({ provider: PROVIDER, user_id: userId }).first(LINK_COLUMNS) as Promise<Link | undefined>;
}

/** Flows past their interaction's life (the purge). */
export async function purgeFlows(db: Queryable): Promise<number> {
  return affected(await db('esia_flows').whereRaw(`expires_at < clock_timestamp() - interval '1 hour'`).del());
}
