/** Invites (table `invites`): looked up by the HMAC of the code, never by the code. */
import type { Queryable } from '../db/index.js';
import { affected } from '../db/index.js';
import type { InviteRole } from './code.js';

export interface Invite {
  id: string;
  school_id: string;
  role: InviteRole;
  person_id: string;
  class_name: string | null;
  batch_id: string;
  issued_by: string;
  issued_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  redeemed_at: Date | null;
  redeemed_by: string | null;
}

const COLUMNS = [
  'id', 'school_id', 'role', 'person_id', 'class_name', 'batch_id', 'issued_by', 'issued_at', 'expires_at',
  'revoked_at', 'redeemed_at', 'redeemed_by',
];

export type InviteState = 'usable' | 'redeemed' | 'revoked' | 'expired';

export function inviteState(i: Pick<Invite, 'redeemed_at' | 'revoked_at' | 'expires_at'>, now = new Date()): InviteState {
  if (i.redeemed_at) return 'redeemed';
  if (i.revoked_at) return 'revoked';
  if (i.expires_at && i.expires_at <= now) return 'expired';
  return 'usable';
}

export async function findInviteByHmac(db: Queryable, hmac: string): Promise<Invite | undefined> {
  return (await db('invites').select(COLUMNS).where({ code_hmac: hmac }).first()) as Invite | undefined;
}

/** The invites of these codes, locked for the caller's transaction, in one fixed order (no deadlocks). */
export async function lockInvitesByHmac(db: Queryable, hmacs: string[]): Promise<Map<string, Invite & { code_hmac: string }>> {
  const rows = (await db('invites')
    .select([...COLUMNS, 'code_hmac'])
    .whereIn('code_hmac', hmacs)
    .orderBy('id')
    .forUpdate()) as (Invite & { code_hmac: string })[];
  return new Map(rows.map((r) => [r.code_hmac, r]));
}

export interface NewInvite {
  school_id: string;
  role: InviteRole;
  code_hmac: string;
  person_id: string;
  class_name: string | null;
  batch_id: string;
  issued_by: string;
  expires_at: Date | null;
}

export async function insertInvites(db: Queryable, rows: NewInvite[]): Promise<(Invite & { code_hmac: string })[]> {
  if (!rows.length) return [];
  return (await db('invites').insert(rows).returning([...COLUMNS, 'code_hmac'])) as (Invite & { code_hmac: string })[];
}

/** Marks a usable invite used; 0 when someone else used it first (the caller then gives up). */
export async function markRedeemed(db: Queryable, id: string, userId: string): Promise<number> {
  return affected(
    await db('invites').where({ id }).whereNull('redeemed_at').whereNull('revoked_at')
      .update({ redeemed_at: db.fn.now(), redeemed_by: userId }),
  );
}

/** Revokes the unused invites among `ids`; returns the ids it revoked. */
export async function revokeInvites(db: Queryable, ids: string[], by: string): Promise<string[]> {
  if (!ids.length) return [];
  const rows = (await db('invites')
    .whereIn('id', ids)
    .whereNull('redeemed_at')
    .whereNull('revoked_at')
    .update({ revoked_at: db.fn.now(), revoked_by: by })
    .returning('id')) as { id: string }[];
  return rows.map((r) => r.id);
}

export interface InviteFilter {
  personIds?: string[];
  roles?: InviteRole[];
  /** Only codes that can still be used (not used, revoked or expired). */
  usableOnly?: boolean;
  batchId?: string;
}

export async function listInvites(db: Queryable, schoolId: string, f: InviteFilter = {}): Promise<Invite[]> {
  const q = db('invites').select(COLUMNS).where({ school_id: schoolId });
  if (f.personIds) q.whereIn('person_id', f.personIds);
  if (f.roles) q.whereIn('role', f.roles);
  if (f.batchId) q.andWhere('batch_id', f.batchId);
  if (f.usableOnly) {
    q.whereNull('redeemed_at').whereNull('revoked_at').andWhere((w) => w.whereNull('expires_at').orWhere('expires_at', '>', db.fn.now()));
  }
  return (await q.orderBy('issued_at')) as Invite[];
}

/** Parent codes of a child that count against the limit: used ones and those still usable. */
export async function countParentInvites(db: Queryable, personId: string): Promise<number> {
  const [row] = (await db('invites')
    .count({ n: '*' })
    .where({ person_id: personId, role: 'parent' })
    .whereNull('revoked_at')
    .andWhere((w) => w.whereNotNull('redeemed_at').orWhereNull('expires_at').orWhere('expires_at', '>', db.fn.now()))) as { n: number | string }[];
  return Number(row?.n ?? 0);
}

/** Codes that can still be used, counted by the class of their child (or staff member: null). */
export async function unusedCodesByClass(db: Queryable, schoolId: string): Promise<Map<string | null, number>> {
  const rows = (await db('invites as i')
    .join('people as p', 'p.id', 'i.person_id')
    .where('i.school_id', schoolId)
    .whereNull('i.redeemed_at')
    .whereNull('i.revoked_at')
    .andWhere((w) => w.whereNull('i.expires_at').orWhere('i.expires_at', '>', db.fn.now()))
    .groupBy('p.class_name')
    .select('p.class_name', db.raw('count(*) as n'))) as { class_name: string | null; n: string | number }[];
  return new Map(rows.map((r) => [r.class_name, Number(r.n)]));
}
