/**
 * Replicas that start together (docker compose's two journal-id services, a host reboot) migrate
 * one at a time: the others wait for the first and find nothing left to do, instead of dying on
 * knex's lock or on its tables created twice. Several processes need a server with several
 * connections, so this runs on the machine's PostgreSQL in both CI runs (as nodes.test.ts does).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { createDb, type Db } from '../../src/db/index.js';
import { MIGRATIONS_LOCK, migrateLatest, migrationStatus } from '../../src/db/migrate.js';
import { migrations } from '../../migrations/index.js';

let testDb: TestDb;
const pools: Db[] = [];
const pool = () => {
  const db = createDb({ databaseUrl: testDb.url!, poolMax: 2 });
  pools.push(db);
  return db;
};

beforeAll(async () => {
  testDb = await createTestDb({ migrate: false, postgres: true });
});

afterAll(async () => {
  await Promise.all(pools.map((db) => db.destroy()));
  await testDb?.close();
});

describe('migrations on nodes that start together', () => {
  it('three nodes on a new database: one applies every migration, the others wait and apply none', async () => {
    const results = await Promise.all([pool(), pool(), pool()].map((db) => migrateLatest(db)));
    const all = Object.keys(migrations);
    expect(results.map((r) => r.length).sort((a, b) => a - b)).toEqual([0, 0, all.length]);
    expect(results.find((r) => r.length)).toEqual(all);
    expect(await migrationStatus(testDb.db)).toEqual({ done: all, pending: [] });
  });

  it('a node waits while another holds the migrations, says so once, then goes on', async () => {
    // Another node in the middle of its migrations: the same advisory lock, held by hand.
    const other = new pg.Client({ connectionString: testDb.url });
    await other.connect();
    try {
      const { rows } = await other.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [MIGRATIONS_LOCK]);
      expect(rows[0]!.locked).toBe(true);
      let waits = 0;
      let done = false;
      const run = migrateLatest(pool(), { onWait: () => waits++ }).then((applied) => {
        done = true;
        return applied;
      });
      await new Promise((r) => setTimeout(r, 1200));
      expect(done).toBe(false);
      expect(waits).toBe(1);
      await other.query('select pg_advisory_unlock($1)', [MIGRATIONS_LOCK]);
      expect(await run).toEqual([]);
      expect(waits).toBe(1);
    } finally {
      await other.end();
    }
  });
});
