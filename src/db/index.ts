/**
 * The one database handle. PostgreSQL through `pg` when DATABASE_URL is set; otherwise PGlite
 * (PostgreSQL compiled to WASM) persisted in `<DATA_DIR>/pgdata`, with the same migrations.
 *
 * PGlite has exactly one connection: code inside a transaction must use the transaction object,
 * never the root handle, or it waits for itself.
 */
import type { PGlite } from '@electric-sql/pglite';
import knexPkg, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../server/logger.js';

export type Db = Knex;
export type Tx = Knex.Transaction;
/** Either the root handle or a transaction: what query functions take. */
export type Queryable = Knex | Knex.Transaction;

// bigint (count(*), bigserial) as JS numbers: our counts stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

export interface DbOptions {
  databaseUrl?: string;
  /** Folder of the embedded database; `null` keeps it in memory (tests). */
  pgliteDir?: string | null;
  /** An embedded database already opened by the caller, used instead of `pgliteDir` and closed by `destroy()`
   * (tests start each one from a migrated data directory made once per run instead of migrating it each time). */
  pglite?: PGlite;
  poolMax?: number;
  /** Where knex's own messages go (else its plain console lines would break the JSON log). */
  logger?: Logger;
}

/** knex's warnings (a connection lost while the database restarts) as JSON lines, first line only: the failing request logs the stack. */
function knexLog(logger: Logger): Knex.Config['log'] {
  const line = (m: unknown) => ({ message: String(m instanceof Error ? m.message : m).split('\n')[0]!.slice(0, 500) });
  return {
    warn: (m: unknown) => logger.warn('database', line(m)),
    error: (m: unknown) => logger.error('database', line(m)),
    deprecate: (m: unknown) => logger.warn('database', line(m)),
    debug: (m: unknown) => logger.debug('database', line(m)),
  };
}

export function createDb({ databaseUrl, pgliteDir = null, pglite, poolMax = 10, logger }: DbOptions): Db {
  const log = logger ? { log: knexLog(logger) } : {};
  if (databaseUrl) {
    return knexPkg.knex({
      client: 'pg',
      connection: { connectionString: databaseUrl, application_name: 'journal-id' },
      pool: { min: 0, max: poolMax },
      acquireConnectionTimeout: 10_000,
      ...log,
    });
  }
  if (pgliteDir) fs.mkdirSync(path.dirname(pgliteDir), { recursive: true });
  return knexPkg.knex({
    client: ClientPgLite as unknown as typeof Knex.Client,
    dialect: 'postgres',
    connection: pglite ? { pglite } : pgliteDir ? { filename: pgliteDir } : {},
    ...log,
  } as Knex.Config);
}

/**
 * Rows of a raw query, the same on pg and PGlite. `prepared`: the name of a statement that the
 * token endpoints send thousands of times a second — PostgreSQL then parses and plans it once
 * per connection instead of on every request (a third of the database's CPU on a refresh, issue 8
 * profiles). A name always goes with the same text. PGlite ignores it.
 */
export async function rawRows<T>(db: Queryable, sql: string, bindings: readonly unknown[] = [], prepared?: string): Promise<T[]> {
  const raw = db.raw(sql, bindings as Knex.RawBinding[]);
  const res = await (prepared ? raw.options({ name: prepared }) : raw);
  return (res.rows ?? res) as T[];
}

/**
 * Whether a value can be stored or compared as PostgreSQL text: no NUL bytes (PostgreSQL refuses
 * them with an error) and well-formed Unicode — nor U+FFFD, which is all a body parser leaves of
 * bytes that were not UTF-8 (nobody types it). Objects are checked key by key.
 */
export function isStorableText(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return !value.includes('\u0000') && !value.includes('\ufffd') && value.isWellFormed();
  if (depth > 5 || value === null || typeof value !== 'object') return true;
  return Object.entries(value).every(([k, v]) => isStorableText(k, depth + 1) && isStorableText(v, depth + 1));
}

/** Rows changed by a knex delete/update: a number on pg, a result object on PGlite. */
export function affected(res: unknown): number {
  if (typeof res === 'number') return res;
  const r = res as { rowCount?: number; affectedRows?: number } | undefined;
  return Number(r?.rowCount ?? r?.affectedRows ?? 0);
}

export async function ping(db: Db): Promise<void> {
  await db.raw('select 1');
}
