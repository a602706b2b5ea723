/**
 * Which schools let a third-party app see their pupils' data (`school_clients`, 152-ФЗ): the
 * school decides, not the pupil. A client registered by a school's IT (dynamic registration) is
 * approved for that school at registration; a curator approves or withdraws the others in the
 * console. Each change is audited in the caller's transaction. The rules that use approvals are
 * in src/oidc/data-policy.ts.
 */
import { affected, type Queryable, type Tx } from '../db/index.js';
import type { AuditWriter } from '../audit/bound.js';

/** `approved_by` of a client approved by its own registration (school IT registered it). */
export const BY_REGISTRATION = 'registration';

/** The schools among `schoolIds` that approved the client. */
export async function approvingSchools(db: Queryable, clientId: string, schoolIds: (string | null | undefined)[]): Promise<Set<string>> {
  const ids = [...new Set(schoolIds.filter((s): s is string => Boolean(s)))];
  if (!ids.length) return new Set();
  const rows = (await db('school_clients').where({ client_id: clientId }).whereIn('school_id', ids).select('school_id')) as { school_id: string }[];
  return new Set(rows.map((r) => r.school_id));
}

export interface ApprovalAct {
  schoolId: string;
  clientId: string;
  /** Who approves: a curator's user id, or BY_REGISTRATION. */
  approvedBy: string;
  /** Who acts: the request's (or the registering client's) bound writer. */
  by: AuditWriter;
}

/** Approves the client for the school; false when it was approved already (nothing written). */
export async function approveClient(trx: Tx, act: ApprovalAct): Promise<boolean> {
  const inserted = (await trx('school_clients')
    .insert({ school_id: act.schoolId, client_id: act.clientId, approved_by: act.approvedBy })
    .onConflict(['school_id', 'client_id'])
    .ignore()
    .returning('client_id')) as unknown[];
  if (!inserted.length) return false;
  await audit(trx, 'client.approve', act);
  return true;
}

/**
 * Withdraws the approval; false when there was none. The school's pupils lose the app at once:
 * their grants of it (and every token of those grants) are deleted, so a refresh fails and the
 * next sign-in meets the «not approved» page. Parents keep their own grants; the app simply no
 * longer receives the children's data.
 */
export async function withdrawClient(trx: Tx, act: Omit<ApprovalAct, 'approvedBy'>): Promise<boolean> {
  const removed = affected(await trx('school_clients').where({ school_id: act.schoolId, client_id: act.clientId }).del());
  if (!removed) return false;
  const pupils = trx('users').select(trx.raw('id::text')).where({ school_id: act.schoolId, kind: 'student' });
  const grants = trx('oidc_models').select('id').where('model', 'Grant').whereRaw(`payload->>'clientId' = ?`, [act.clientId]).whereIn('account_id', pupils);
  const revoked = affected(await trx('oidc_models').where((q) => q.whereIn('grant_id', grants).orWhere((g) => g.where('model', 'Grant').whereIn('id', grants))).del());
  await audit(trx, 'client.withdraw', act, { revokedRows: revoked });
  return true;
}

function audit(trx: Tx, action: string, act: Omit<ApprovalAct, 'approvedBy'>, details: Record<string, unknown> = {}): Promise<void> {
  return act.by.record({ action, schoolId: act.schoolId, target: { type: 'client', id: act.clientId }, clientId: act.clientId, details }, trx);
}
