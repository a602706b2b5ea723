/**
 * A database of its own for each test file: a fresh in-memory PGlite by default, or, when
 * DATABASE_URL is set (or `postgres: true` asks for the real server), a new database on that
 * server (created here, dropped by `close`).
 */
import { randomBytes } from 'node:crypto';
import knexPkg from 'knex';
import { createDb, type Db } from '../../src/db/index.js';
import { migrateLatest } from '../../src/db/migrate.js';

export interface TestDb {
  db: Db;
  /** The connection string of the per-file database, when on PostgreSQL. */
  url?: string;
  close(): Promise<void>;
}

export const onPostgres = Boolean(process.env.DATABASE_URL);

/** The machine's PostgreSQL, for tests that must run on it even in the embedded run (CI has it). */
export const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';

export async function createTestDb({ migrate = true, postgres = false } = {}): Promise<TestDb> {
  const serverUrl = process.env.DATABASE_URL ?? (postgres ? LOCAL_POSTGRES : undefined);
  if (!serverUrl) {
    const db = createDb({});
    if (migrate) await migrateLatest(db);
    return { db, close: () => db.destroy() };
  }
  const name = `jid_test_${randomBytes(6).toString('hex')}`;
  const admin = knexPkg.knex({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = createDb({ databaseUrl: url.toString(), poolMax: 10 });
  if (migrate) await migrateLatest(db);
  return {
    db,
    url: url.toString(),
    async close() {
      await db.destroy();
      await admin.raw(`drop database if exists ${name} with (force)`);
      await admin.destroy();
    },
  };
}
