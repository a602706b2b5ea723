/**
 * SQL for oidc-provider's models in `oidc_models`: the whole payload as jsonb, lookup keys copied
 * into columns. Times are computed by the database (one clock for every node).
 */
import type { Knex } from 'knex';
import { affected, rawRows, type Queryable } from '../db/index.js';
import { accountColumns, accountOf, type Account } from '../accounts/queries.js';

const TABLE = 'oidc_models';
const BATCH = 500;
const PURGE_BATCH = 5000;

export type OidcPayload = Record<string, unknown>;

export interface ModelRow {
  payload: OidcPayload;
  /** Epoch seconds of the first consumption, or null. */
  consumedAt: number | null;
  /** Seconds since consumption, by the database clock, or null. */
  consumedAgeSeconds: number | null;
  /** The live Grant of a token row (read in the same statement), when it has one. */
  grant?: ModelRow;
  /** The account the row belongs to (read in the same statement), when it names one. */
  account?: Account;
}

export interface DeletedRow {
  model: string;
  id: string;
  payload: OidcPayload;
}

interface RawRow {
  payload: OidcPayload | string;
  consumed_at: number | null;
  consumed_age: number | null;
  grant_payload?: OidcPayload | string | null;
  grant_consumed_at?: number | null;
  grant_consumed_age?: number | null;
}

// float8 casts: extract() yields numeric, which pg returns as a string.
const SELECT_ROW = [
  'payload',
  'extract(epoch from consumed_at)::float8 as consumed_at',
  'extract(epoch from now() - consumed_at)::float8 as consumed_age',
];

function parsePayload(p: OidcPayload | string): OidcPayload {
  return typeof p === 'string' ? (JSON.parse(p) as OidcPayload) : p;
}

function toRow(r: RawRow): ModelRow {
  const row: ModelRow = { payload: parsePayload(r.payload), consumedAt: r.consumed_at, consumedAgeSeconds: r.consumed_age };
  if (r.grant_payload) row.grant = { payload: parsePayload(r.grant_payload), consumedAt: r.grant_consumed_at ?? null, consumedAgeSeconds: r.grant_consumed_age ?? null };
  const account = accountOf(r as unknown as Record<string, unknown>, ACCOUNT_PREFIX);
  if (account) row.account = account;
  return row;
}

/** Rows a delete removed: a number on pg, a result object on knex-pglite. */
function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function selectLive(db: Queryable, model: string): Knex.QueryBuilder {
  return db(TABLE)
    .select(SELECT_ROW.map((c) => db.raw(c)))
    .where('model', model)
    .andWhere((q) => q.whereNull('expires_at').orWhereRaw('expires_at > now()'));
}

// The statements every token request runs are written out once: knex's query builder compiled
// them anew per request, a visible share of a token endpoint's CPU (issue 8 profiles).
const UPSERT = (expiry: string) => `insert into ${TABLE} (model, id, payload, grant_id, user_code, uid, account_id, expires_at)
  values (?, ?, ?::jsonb, ?, ?, ?, ?, ${expiry})
  on conflict (model, id) do update set payload = excluded.payload, grant_id = excluded.grant_id, user_code = excluded.user_code,
    uid = excluded.uid, account_id = excluded.account_id, expires_at = excluded.expires_at`;
const UPSERT_EXPIRING = UPSERT('now() + make_interval(secs => ?)');
const UPSERT_LASTING = UPSERT('null');
// A token's grant and account come with it (one round trip instead of three: every token request
// reads all of them). Both joins are on primary keys; rows without a grant_id or an account get
// none. account_id is text (a client's id for client_credentials): only a UUID is looked up.
const ACCOUNT_PREFIX = 'account__';
const SELECT_WITH_GRANT = `select t.model, t.payload, extract(epoch from t.consumed_at)::float8 as consumed_at,
    extract(epoch from now() - t.consumed_at)::float8 as consumed_age,
    g.payload as grant_payload, extract(epoch from g.consumed_at)::float8 as grant_consumed_at,
    extract(epoch from now() - g.consumed_at)::float8 as grant_consumed_age,
    ${accountColumns('u', ACCOUNT_PREFIX)}
  from ${TABLE} t left join ${TABLE} g on g.model = 'Grant' and g.id = t.grant_id and (g.expires_at is null or g.expires_at > now())
    left join users u on u.id = case when t.account_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then t.account_id::uuid end`;
const FIND = `${SELECT_WITH_GRANT}
  where t.model = ? and t.id = ? and (t.expires_at is null or t.expires_at > now())`;
const CONSUME = `update ${TABLE} set consumed_at = now() where model = ? and id = ? and consumed_at is null returning 1 as first`;

const UPSERT_CONSUMING = `with consumed as (${CONSUME}) ${UPSERT_EXPIRING}`;
const UPSERT_LASTING_CONSUMING = `with consumed as (${CONSUME}) ${UPSERT_LASTING}`;

const FIND_AMONG = (models: number) => `${SELECT_WITH_GRANT}
  where t.id = ? and t.model in (${Array(models).fill('?').join(', ')}) and (t.expires_at is null or t.expires_at > now())`;

/**
 * Insert or replace; a replaced row keeps its consumed_at. `expiresIn` undefined: no expiry.
 * `consume`: a row of the same model marked consumed in the same statement (a rotated refresh
 * token and its successor: one round trip, and neither happens without the other).
 */
export async function upsert(
  db: Queryable,
  model: string,
  id: string,
  payload: OidcPayload,
  expiresIn?: number,
  consume?: string,
): Promise<void> {
  const columns = [model, id, JSON.stringify(payload), str(payload.grantId), str(payload.userCode), str(payload.uid), str(payload.accountId)];
  const lasting = expiresIn === undefined;
  const sql = lasting ? UPSERT_LASTING : UPSERT_EXPIRING;
  const bindings = lasting ? columns : [...columns, expiresIn];
  if (consume === undefined) await rawRows(db, sql, bindings, lasting ? 'oidc_upsert_lasting' : 'oidc_upsert');
  else await rawRows(db, lasting ? UPSERT_LASTING_CONSUMING : UPSERT_CONSUMING, [model, consume, ...bindings], lasting ? 'oidc_upsert_lasting_consuming' : 'oidc_upsert_consuming');
}

/** The live (not expired) row, or undefined. */
export async function find(db: Queryable, model: string, id: string): Promise<ModelRow | undefined> {
  const [r] = await rawRows<RawRow>(db, FIND, [model, id], 'oidc_find');
  return r ? toRow(r) : undefined;
}

/** The live rows with that id among several models (one query), by model. */
export async function findAmong(db: Queryable, models: string[], id: string): Promise<Map<string, ModelRow>> {
  const rows = await rawRows<RawRow & { model: string }>(db, FIND_AMONG(models.length), [id, ...models], `oidc_find_among_${models.length}`);
  return new Map(rows.map((r) => [r.model, toRow(r)]));
}

/**
 * The single live row with that key. Concurrent requests can create duplicates (oidc-provider
 * #1145); an ambiguous key is deleted outright rather than failing every later request (Logto #7650).
 */
async function findUnique(db: Queryable, model: string, column: 'uid' | 'user_code', value: string) {
  const rows = (await selectLive(db, model).andWhere(column, value).limit(2)) as RawRow[];
  if (rows.length > 1) {
    await db(TABLE).where({ model, [column]: value }).del();
    return undefined;
  }
  return rows[0] ? toRow(rows[0]) : undefined;
}

export function findByUid(db: Queryable, model: string, uid: string): Promise<ModelRow | undefined> {
  return findUnique(db, model, 'uid', uid);
}

export function findByUserCode(db: Queryable, model: string, userCode: string): Promise<ModelRow | undefined> {
  return findUnique(db, model, 'user_code', userCode);
}

/**
 * Marks consumed. The first time stands, so re-consuming cannot extend a refresh token's grace
 * window. True when this call was the first consumption (atomic: one row update).
 */
export async function consume(db: Queryable, model: string, id: string): Promise<boolean> {
  return (await rawRows(db, CONSUME, [model, id], 'oidc_consume')).length > 0;
}

export async function destroy(db: Queryable, model: string, id: string): Promise<void> {
  await db(TABLE).where({ model, id }).del();
}

/** Deletes in batches so a huge grant never holds one long statement. Returns the total. */
async function deleteInBatches(
  db: Queryable,
  batch: number,
  where: (q: Knex.QueryBuilder) => void,
): Promise<number> {
  let total = 0;
  for (;;) {
    const keys = db(TABLE).select('model', 'id').where(where).limit(batch);
    const n = affected(await db(TABLE).whereIn(['model', 'id'], keys).del());
    total += n;
    if (n < batch) return total;
  }
}

/** Deletes this model's rows of that grant (the provider calls it once per token model). */
export async function revokeByGrantId(db: Queryable, model: string, grantId: string): Promise<number> {
  return deleteInBatches(db, BATCH, (q) => q.where({ model, grant_id: grantId }));
}

/** Deletes a grant and every row issued under it, whatever the model. Returns the total. */
export async function revokeGrant(db: Queryable, grantId: string): Promise<number> {
  return deleteInBatches(db, BATCH, (q) => q.where({ grant_id: grantId }).orWhere((g) => g.where({ model: 'Grant', id: grantId })));
}

/** Deletes every model's rows of an account (sessions, grants, tokens) and returns them. */
export async function destroyByAccountId(db: Queryable, accountId: string, keep?: { sessionId: string; grantIds: string[] }): Promise<DeletedRow[]> {
  const q = db(TABLE).where('account_id', accountId);
  // All but one browser: its session row, its apps' grants and the tokens issued under them.
  if (keep) {
    q.whereNot((w) => w.where({ model: 'Session', id: keep.sessionId }));
    if (keep.grantIds.length) q.andWhere((w) => w.whereNull('grant_id').orWhereNotIn('grant_id', keep.grantIds));
    if (keep.grantIds.length) q.whereNot((w) => w.where('model', 'Grant').whereIn('id', keep.grantIds));
  }
  const rows = (await q.del(['model', 'id', 'payload'])) as DeletedRow[];
  return rows.map((r) => ({ model: r.model, id: r.id, payload: parsePayload(r.payload) }));
}

export async function findByAccountId(
  db: Queryable,
  model: string,
  accountId: string,
): Promise<Array<{ id: string; payload: OidcPayload }>> {
  const rows = (await db(TABLE)
    .select('id', 'payload')
    .where({ model, account_id: accountId })
    .andWhere((q) => q.whereNull('expires_at').orWhereRaw('expires_at > now()'))
    .orderBy('id')) as Array<{ id: string; payload: OidcPayload | string }>;
  return rows.map((r) => ({ id: r.id, payload: parsePayload(r.payload) }));
}

/** Deletes rows that expired more than `olderThanSeconds` ago; returns how many. */
export async function purgeExpired(db: Queryable, olderThanSeconds: number): Promise<number> {
  return deleteInBatches(db, PURGE_BATCH, (q) =>
    q.whereRaw('expires_at < now() - make_interval(secs => ?)', [olderThanSeconds]),
  );
}
