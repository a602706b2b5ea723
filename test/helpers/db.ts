/**
 * A database of its own for each test file: a fresh in-memory PGlite by default, or, when
 * DATABASE_URL is set (or `postgres: true` asks for the real server), a new database on that
 * server (created here, dropped by `close`).
 *
 * Migrated databases are copies of one made once, not migrated file by file (a PGlite's initdb
 * and the migrations' DDL commits on PostgreSQL cost seconds per file on a loaded machine): on
 * PGlite, a migrated data directory dumped to a tarball in the temp folder; on PostgreSQL, a
 * template database `jid_template_<hash>`. Both are kept for the next runs and named by a hash
 * of the migrations (and of what applies them), so a stale copy is never used. The migrations
 * themselves still run from scratch where a test asks for `migrate: false` or starts the real
 * command (cli, serve, faults, migrate-together).
 */
import { randomBytes, createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import knexPkg, { type Knex } from 'knex';
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
    const db = migrate ? createDb({ pglite: new PGlite({ ...PGLITE_OPTIONS, loadDataDir: await migratedDataDir() }) }) : createDb({});
    return { db, close: () => db.destroy() };
  }
  const name = `jid_test_${randomBytes(6).toString('hex')}`;
  const admin = knexPkg.knex({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
  if (migrate) await admin.raw(`create database ${name} template ${await templateDatabase(admin, serverUrl)}`);
  else await admin.raw(`create database ${name}`);
  // A commit need not wait for the disk: nothing here survives a crash of the server anyway, and the
  // waits were most of a file's time on PostgreSQL (the faults test restarts a cluster of its own).
  await admin.raw(`alter database ${name} set synchronous_commit = off`);
  const url = withDatabase(serverUrl, name);
  const db = createDb({ databaseUrl: url, poolMax: 10 });
  return {
    db,
    url,
    async close() {
      await db.destroy();
      await admin.raw(`drop database if exists ${name} with (force)`);
      await admin.destroy();
    },
  };
}

function withDatabase(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** What the migrated schema depends on: the migrations, the code that runs them, the versions of knex and PGlite. */
const schemaHash = (() => {
  const h = createHash('sha256');
  const dir = path.join(root, 'migrations');
  const files = [
    ...fs.readdirSync(dir).sort().map((f) => path.join(dir, f)),
    path.join(root, 'src/db/migrate.ts'),
    path.join(root, 'node_modules/knex/package.json'),
    path.join(root, 'node_modules/@electric-sql/pglite/package.json'),
  ];
  for (const f of files) h.update(path.relative(root, f)).update('\0').update(fs.readFileSync(f)).update('\0');
  return h.digest('hex').slice(0, 16);
})();

/**
 * A test database holds a few hundred rows: PostgreSQL's default 128 MB of shared buffers only
 * make each PGlite start twice as slow (0.8 s of CPU more per test file).
 */
const PGLITE_OPTIONS = { startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'] };

/**
 * The migrated PGlite data directory (a tarball), made by the first test file that needs it and
 * kept in the temp folder for the next files and runs. Files that start together may each make
 * it; each writes a file of its own and links it into place unless one is there already, so the
 * file never changes once readers may have it open.
 */
async function migratedDataDir(): Promise<Blob> {
  const file = path.join(os.tmpdir(), `jid-test-pglite-${schemaHash}.tar`);
  if (!fs.existsSync(file)) {
    const pglite = new PGlite(PGLITE_OPTIONS);
    const db = createDb({ pglite });
    try {
      await migrateLatest(db);
      const tar = Buffer.from(await (await pglite.dumpDataDir('none')).arrayBuffer());
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
      fs.writeFileSync(tmp, tar);
      try {
        fs.linkSync(tmp, file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      } finally {
        fs.rmSync(tmp, { force: true });
      }
      removeStale(path.basename(file));
    } finally {
      await db.destroy();
    }
  }
  // Read by PGlite straight from the file: a Blob built from a Buffer costs twice the CPU.
  return fs.openAsBlob(file);
}

/** Tarballs of other migrations, a day after they were made. */
function removeStale(current: string): void {
  const dir = os.tmpdir();
  for (const f of fs.readdirSync(dir)) {
    if (!f.startsWith('jid-test-pglite-') || f === current) continue;
    const p = path.join(dir, f);
    try {
      if (Date.now() - fs.statSync(p).mtimeMs > 86_400_000) fs.rmSync(p, { force: true });
    } catch { /* removed by another run meanwhile */ }
  }
}

/** Any number: the key of the advisory lock under which test runs make and remove template databases. */
const TEMPLATE_LOCK = 7_351_446_211;

/**
 * The migrated template database on this server, made by the first test file that needs it. Under
 * an advisory lock, so that concurrent files and runs make it once, and so that no file clones it
 * while it is being made (CREATE DATABASE … TEMPLATE refuses a template that has a session).
 * Templates of other migrations are dropped then, unless a run still clones one.
 */
async function templateDatabase(admin: Knex, serverUrl: string): Promise<string> {
  const name = `jid_template_${schemaHash}`;
  const exists = async (db: string) => (await admin.raw('select 1 from pg_database where datname = ?', [db])).rows.length > 0;
  if (await exists(name)) return name;
  // The admin pool has one connection: the lock and what it guards use the same session.
  await admin.raw('select pg_advisory_lock(?)', [TEMPLATE_LOCK]);
  try {
    if (await exists(name)) return name;
    const building = `${name}_${randomBytes(4).toString('hex')}`;
    await admin.raw(`create database ${building}`);
    const db = createDb({ databaseUrl: withDatabase(serverUrl, building), poolMax: 1 });
    try {
      await migrateLatest(db);
    } finally {
      await db.destroy();
    }
    await admin.raw(`alter database ${building} rename to ${name}`);
    const stale = await admin.raw(`select datname from pg_database where datname like 'jid\\_template\\_%' and datname <> ?`, [name]);
    for (const { datname } of stale.rows as { datname: string }[]) {
      await admin.raw(`drop database if exists ${datname}`).catch(() => undefined);
    }
    return name;
  } finally {
    await admin.raw('select pg_advisory_unlock(?)', [TEMPLATE_LOCK]);
  }
}
