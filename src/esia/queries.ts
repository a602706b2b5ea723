/** The tables of the ESIA connector: `esia_flows` (one per login attempt) and `federated_identities`. */
import { randomUUID } from 'node:crypto';
import { affected, type Queryable } from '../db/index.js';
import type { Candidate, Via } from './match.js';

export const PROVIDER = 'esia';

export interface Flow {
  state: string;
  interaction_uid: string;
  code_verifier: string | null;
  subject: string | null;
  candidates: Candidate[] | null;
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
    .returning(['state', 'interaction_uid', 'code_verifier', 'subject', 'candidates']);
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
    .first('state', 'interaction_uid', 'code_verifier', 'subject', 'candidates') as Promise<Flow | undefined>;
}

/** Marks the flow finished; false when another request finished it first. */
export async function finishFlow(db: Queryable, state: string): Promise<boolean> {
  return affected(await db('esia_flows').where({ state }).whereNull('finished_at').update({ finished_at: db.raw('clock_timestamp()') })) === 1;
}

export interface Link {
  subject: string;
  linked_at: Date;
  linked_via: string;
  last_login_at: Date | null;
}

export async function linkOf(db: Queryable, userId: string): Promise<Link | undefined> {
  return db('federated_identities').where({ provider: PROVIDER, user_id: userId }).first('subject', 'linked_at', 'linked_via', 'last_login_at');
}

/**
 * Links the account to the oid (or finds the link) and stamps the login. Returns 'linked' for a
 * new link, 'existing', or 'conflict' when the account is linked to another ESIA person.
 */
export async function linkAccount(db: Queryable, userId: string, subject: string, via: Via | 'chooser'): Promise<'linked' | 'existing' | 'conflict'> {
  const inserted = await db('federated_identities')
    .insert({ provider: PROVIDER, subject, user_id: userId, linked_via: via, last_login_at: db.fn.now() })
    .onConflict(['provider', 'user_id'])
    .ignore()
    .returning('id');
  if (inserted.length) return 'linked';
  const n = affected(await db('federated_identities').where({ provider: PROVIDER, user_id: userId, subject }).update({ last_login_at: db.fn.now() }));
  return n ? 'existing' : 'conflict';
}

export async function unlinkAccount(db: Queryable, userId: string): Promise<boolean> {
  return affected(await db('federated_identities').where({ provider: PROVIDER, user_id: userId }).del()) > 0;
}

/** Flows past their interaction's life (the purge). */
export async function purgeFlows(db: Queryable): Promise<number> {
  return affected(await db('esia_flows').whereRaw(`expires_at < clock_timestamp() - interval '1 hour'`).del());
}
