/**
 * journal-id under test: a database of its own (a fresh PostgreSQL database on the server of
 * DATABASE_URL, dropped afterwards, or the embedded PGlite in a temporary folder), seeded by
 * seed.ts (and, asked for, seed-bulk.ts's N more accounts and 5 × N oidc rows), then
 * `journal-id serve` as a separate process — the compiled dist/ when fresh, tsx otherwise
 * (test/helpers/cli.ts decides, as for the tests' nodes).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { cliCommand, ROOT } from '../../test/helpers/cli.js';
import { ALL_CORES, runPinned, settled, startServer, type Server } from './process.js';
import { seedBulk, type BulkSeeded } from './seed-bulk.js';
import { BENCH_RESOURCE } from '../scenarios/http.js';

/** The Dockerfile's NODE_OPTIONS: the bench measures journal-id as it runs in production. */
const SERVER_NODE_OPTIONS = '--max-old-space-size=160';

export interface Seeded {
  school: string;
  logins: string[];
  password: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  /** Unused student invite codes (as many as `registrations` asked for). */
  inviteCodes: string[];
}

export interface JournalId extends Server {
  database: 'postgresql' | 'pglite';
  /** The compiled dist/ or the sources through tsx. */
  runner: 'dist' | 'tsx';
  seeded: Seeded;
  /** journal-id's processes (`serve --workers`). */
  workers: number;
  /** What seed-bulk.ts added, when asked for. */
  bulk?: BulkSeeded;
  /** Its own database on the PostgreSQL server (bench/explain.ts reads it); none with PGlite. */
  databaseUrl?: string;
  /** Stops the server and removes its database and data folder. */
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function adminSql(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface StartOptions {
  /** `serve --workers N`: N > 1 runs on every core instead of the servers' one. */
  workers?: number;
  /** Accounts to add through seed-bulk.ts before the server starts (PostgreSQL only). */
  seedUsers?: number;
  /** Roster pupils with an unused student code each (the registration scenario). */
  registrations?: number;
  log?: (line: string) => void;
}

export async function startJournalId(adminUrl: string | undefined, students: number, opts: StartOptions = {}): Promise<JournalId> {
  if (opts.seedUsers && !adminUrl) throw new Error('--seed-users needs PostgreSQL: set DATABASE_URL (the embedded PGlite is not loaded in bulk)');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-bench-'));
  const dbName = `journal_id_bench_${Date.now()}_${process.pid}`;
  let databaseUrl: string | undefined;
  if (adminUrl) {
    await adminSql(adminUrl, `create database ${dbName}`);
    const u = new URL(adminUrl);
    u.pathname = `/${dbName}`;
    databaseUrl = u.toString();
  }
  const dropAll = async () => {
    if (adminUrl) await adminSql(adminUrl, `drop database if exists ${dbName} with (force)`).catch(() => {});
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`,
      NODE_ENV: 'test', // production demands https, SMTP and a proxy; the code paths are the same
      HOST: '127.0.0.1',
      PORT: String(port),
      ISSUER: `http://127.0.0.1:${port}`,
      DATA_DIR: dataDir,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      MIGRATE_ON_START: 'false',
      DEMO: 'false',
      LOG_LEVEL: 'warn',
      COOKIE_KEYS: randomBytes(32).toString('hex'),
      KEY_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      JOURNAL_WEB_CLIENT_SECRET: randomBytes(24).toString('hex'),
      INVITE_CODE_PEPPER: randomBytes(32).toString('hex'),
      // The API of the client_credentials_jwt scenario (bare oidc-provider has the same).
      RESOURCE_SERVERS: JSON.stringify([{ uri: BENCH_RESOURCE }]),
      // argon2 at the project's defaults: nothing set here.
      // As the Docker image runs it (a bounded heap: RSS stays flat), plus what the caller adds,
      // e.g. BENCH_SERVER_NODE_OPTIONS=--cpu-prof to profile the server under load.
      NODE_OPTIONS: [SERVER_NODE_OPTIONS, process.env.BENCH_SERVER_NODE_OPTIONS].filter(Boolean).join(' '),
    };
    const tsx = path.join(ROOT, 'node_modules/.bin/tsx');
    const seeded = JSON.parse(runPinned(tsx, [path.join(ROOT, 'bench/servers/seed.ts'), String(students), String(opts.registrations ?? 0)], env).trim().split('\n').pop()!) as Seeded;
    let bulk: BulkSeeded | undefined;
    if (opts.seedUsers) {
      // Minutes of loading: a cancel meanwhile must not leave gigabytes behind (the caller's own
      // handlers come after this returns).
      const cancel = () => void dropAll().then(() => process.exit(130));
      process.once('SIGINT', cancel).once('SIGTERM', cancel);
      try {
        bulk = await seedBulk(databaseUrl!, opts.seedUsers, opts.log ?? ((l) => process.stderr.write(`bench: ${l}\n`)));
      } finally {
        process.off('SIGINT', cancel).off('SIGTERM', cancel);
      }
    }
    const cli = cliCommand();
    const workers = opts.workers ?? 1;
    const server = await startServer(
      cli.command,
      [...cli.args, 'serve', ...(workers > 1 ? ['--workers', String(workers)] : [])],
      env,
      () => `http://127.0.0.1:${port}/readyz`,
      workers > 1 ? ALL_CORES : undefined,
    );
    // /readyz answers once the first worker listens (the logs that say more are off at warn).
    if (workers > 1) await settled(server);
    return {
      ...server,
      database: databaseUrl ? 'postgresql' : 'pglite',
      runner: cli.command === process.execPath ? 'dist' : 'tsx',
      seeded,
      workers,
      bulk,
      databaseUrl,
      close: async () => {
        await server.stop();
        await dropAll();
      },
    };
  } catch (err) {
    await dropAll();
    throw err;
  }
}
