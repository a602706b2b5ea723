/** Runs the migrations of `migrations/` (listed statically, so they work from source and from dist). */
import type { Knex } from 'knex';
import pg from 'pg';
import { migrations } from '../../migrations/index.js';

const source: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};

/** The advisory-lock key nodes take around their migrations (any constant of this project's own). */
export const MIGRATIONS_LOCK = 4_171_390_215;
const LOCK_POLL_MS = 250;

/**
 * Nodes that start together (replicas, a host reboot) must not migrate at once: knex's own lock
 * makes the second migrator fail rather than wait ("Migration table is already locked"), and on a
 * new database both create knex's tables and one dies on a duplicate type. On PostgreSQL a node
 * therefore holds a session advisory lock, on a connection of its own, while it migrates; the
 * others wait for it and then find nothing to do. They poll with pg_try_advisory_lock instead of
 * blocking in pg_advisory_lock: a blocked statement keeps a snapshot open, which a CREATE INDEX
 * CONCURRENTLY of the running migrations would wait for — a deadlock nobody detects.
 * PGlite has a single connection and a single process (lock.ts): nothing to serialise.
 */
export async function migrateLatest(db: Knex, { onWait }: { onWait?: () => void } = {}): Promise<string[]> {
  if (db.client.config.client !== 'pg') return latest(db);
  // A connection outside the pool: the migrations need the pool's, however small it is.
  const lock = new pg.Client(db.client.config.connection as pg.ClientConfig | string);
  // Lost mid-way, the lock is gone too; knex's own lock still stops a second migrator.
  lock.on('error', () => {});
  await lock.connect();
  try {
    for (let waited = false; ; waited = true) {
      const { rows } = await lock.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [MIGRATIONS_LOCK]);
      if (rows[0]!.locked) break;
      if (!waited) onWait?.();
      await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
    }
    return await latest(db);
  } finally {
    await lock.end(); // ends the session, and with it the lock
  }
}

async function latest(db: Knex): Promise<string[]> {
  const [, applied] = await db.migrate.latest({ migrationSource: source });
  return applied as string[];
}

export async function migrationStatus(db: Knex): Promise<{ done: string[]; pending: string[] }> {
  const [done, pending] = await db.migrate.list({ migrationSource: source });
  return { done: (done as { name: string }[]).map((m) => m.name), pending: pending as string[] };
}
