/**
 * The one audit writer. `audit_log` is append-only (a trigger refuses update and delete).
 * Pass a transaction to make the record part of the change: it commits or vanishes with it.
 */
import type { Queryable, Tx } from '../db/index.js';

export type AuditOutcome = 'success' | 'failure' | 'denied';
export type ActorType = 'user' | 'system' | 'cli' | 'client' | 'anonymous';

export interface AuditEvent {
  /** Dotted name: login.success, user.create, keys.rotate … */
  action: string;
  outcome?: AuditOutcome;
  actor: { type: ActorType; id?: string };
  schoolId?: string | null;
  target?: { type: string; id: string };
  clientId?: string;
  ip?: string;
  requestId?: string;
  details?: Record<string, unknown>;
}

export interface AuditEntry {
  id: number;
  at: Date;
  action: string;
  outcome: AuditOutcome;
  actor: { type: ActorType; id: string | null };
  schoolId: string | null;
  target: { type: string; id: string } | null;
  clientId: string | null;
  ip: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  schoolId?: string;
  action?: string;
  targetId?: string;
  /** Entries older than this id (paging backwards). */
  beforeId?: number;
  limit: number;
}

const MAX_LIMIT = 1000;

export async function writeAudit(db: Queryable, event: AuditEvent): Promise<void> {
  await db('audit_log').insert({
    action: event.action,
    outcome: event.outcome ?? 'success',
    actor_type: event.actor.type,
    actor_id: event.actor.id ?? null,
    school_id: event.schoolId ?? null,
    target_type: event.target?.type ?? null,
    target_id: event.target?.id ?? null,
    client_id: event.clientId ?? null,
    ip: event.ip ?? null,
    request_id: event.requestId ?? null,
    // Stringified: pg would turn a top-level array into a PostgreSQL array.
    details: JSON.stringify(scrub(event.details ?? {}, 0)),
  });
}

/**
 * The two erasures the append-only log allows (its trigger lets them through only with
 * `journal.audit_erasure` on, inside the transaction): a deleted person's login as typed in old
 * entries (data protection), and old addresses turned into pseudonyms (retention).
 */
async function withErasure<T>(trx: Tx, erase: () => Promise<T>): Promise<T> {
  await trx.raw(`select set_config('journal.audit_erasure', 'on', true)`);
  const result = await erase();
  await trx.raw(`select set_config('journal.audit_erasure', 'off', true)`);
  return result;
}

/** Removes the login as typed from the entries about an account (by target, or by school and login). */
export function eraseLoginFromAudit(trx: Tx, account: { id: string; schoolId: string | null; loginPart: string }): Promise<unknown> {
  return withErasure(trx, () =>
    trx.raw(
      `update audit_log set details = details - 'login'
        where details->>'login' is not null and (target_id = ? or (school_id is not distinct from ? and lower(details->>'login') = ?))`,
      [account.id, account.schoolId, account.loginPart],
    ),
  );
}

/** Replaces the addresses of entries older than `days` by `pseudonym(ip)`, a batch at a time. */
export async function pseudonymizeAuditAddresses(trx: Tx, days: number, batch: number, pseudonym: (ip: string) => string): Promise<number> {
  const rows = (await trx('audit_log')
    .whereNotNull('ip')
    .whereNot('ip', 'like', 'anon-%')
    .whereRaw('at < clock_timestamp() - make_interval(days => ?)', [days])
    .orderBy('id')
    .limit(batch)
    .select('id', 'ip')) as { id: number; ip: string }[];
  if (!rows.length) return 0;
  await withErasure(trx, async () => {
    for (const r of rows) await trx('audit_log').where({ id: r.id }).update({ ip: pseudonym(r.ip) });
  });
  return rows.length;
}

/** Newest first. */
export async function listAudit(db: Queryable, q: AuditQuery): Promise<AuditEntry[]> {
  const query = db('audit_log')
    .select('*')
    .orderBy('id', 'desc')
    .limit(Math.min(Math.max(1, Math.floor(q.limit)), MAX_LIMIT));
  if (q.schoolId) query.where('school_id', q.schoolId);
  if (q.action) query.where('action', q.action);
  if (q.targetId) query.where('target_id', q.targetId);
  if (q.beforeId !== undefined) query.where('id', '<', q.beforeId);
  const rows = (await query) as AuditRow[];
  return rows.map((r) => ({
    id: Number(r.id),
    at: new Date(r.at),
    action: r.action,
    outcome: r.outcome,
    actor: { type: r.actor_type, id: r.actor_id },
    schoolId: r.school_id,
    target: r.target_type && r.target_id ? { type: r.target_type, id: r.target_id } : null,
    clientId: r.client_id,
    ip: r.ip,
    requestId: r.request_id,
    details: typeof r.details === 'string' ? (JSON.parse(r.details) as Record<string, unknown>) : r.details,
  }));
}

interface AuditRow {
  id: number | string;
  at: Date | string;
  action: string;
  outcome: AuditOutcome;
  actor_type: ActorType;
  actor_id: string | null;
  school_id: string | null;
  target_type: string | null;
  target_id: string | null;
  client_id: string | null;
  ip: string | null;
  request_id: string | null;
  details: Record<string, unknown> | string;
}

// Words that mark a secret in a key name (camelCase, snake_case, kebab-case are split into words).
// "tokens" (a count) is a different word from "token" and is kept.
const SECRET_WORDS = new Set([
  'password', 'passwd', 'pwd', 'passphrase', 'secret', 'token', 'code', 'otp', 'pin',
  'cookie', 'authorization', 'credential', 'credentials', 'jwt', 'hash', 'assertion',
]);
// Squashed compounds (clientsecret, newpassword) that the word split misses.
const SECRET_INSIDE = /password|passwd|secret/;
const MAX_DEPTH = 6;

/** Defensive: callers should not pass secrets, but a careless `...body` must not land here. */
export function isSecretKey(key: string): boolean {
  const lower = key.toLowerCase();
  if (SECRET_INSIDE.test(lower)) return true;
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase().split(/[^a-z0-9]+/);
  return words.some((w) => SECRET_WORDS.has(w));
}

function scrub(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!isSecretKey(k) && v !== undefined) out[k] = scrub(v, depth + 1);
  }
  return out;
}
