/**
 * A real journal-id on a real port, with its own database (PGlite in memory, or a fresh
 * PostgreSQL database when DATABASE_URL is set), for black-box tests over HTTP.
 */
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createAppContext } from '../../src/server/bootstrap.js';
import { startServer, type RunningServer } from '../../src/server/http.js';
import { createLogger } from '../../src/server/logger.js';
import type { AppContext } from '../../src/server/context.js';
import { createTestDb, type TestDb } from './db.js';
import { insertSchool, type School } from '../../src/schools/queries.js';
import { createAccount } from '../../src/accounts/create.js';
import type { Account, AccountKind } from '../../src/accounts/queries.js';
import type { Db } from '../../src/db/index.js';
import { systemAudit } from '../../src/audit/bound.js';

export async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export function testSecrets() {
  return {
    cookieKeys: [randomBytes(32).toString('base64url')],
    keyEncryptionKey: randomBytes(32),
    journalWebClientSecret: randomBytes(32).toString('base64url'),
    invitePepper: randomBytes(32),
  };
}

export function testConfig(env: Record<string, string> = {}, overrides: Partial<Config> = {}): Config {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-test-'));
  return loadConfig(
    {
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATA_DIR: dataDir,
      ARGON2_MEMORY_KIB: '8192',
      ARGON2_TIME_COST: '1',
      MIGRATE_ON_START: 'false',
      BACKCHANNEL_ALLOWED_HOSTS: 'localhost,127.0.0.1',
      ...env,
    },
    { secrets: testSecrets(), ...overrides },
  );
}

export interface TestServer {
  app: AppContext;
  config: Config;
  url: string;
  db: Db;
  testDb: TestDb;
  running: RunningServer;
  close(): Promise<void>;
}

/** Starts journal-id. Pass `testDb` to share one database between several servers (several nodes). */
export async function startTestServer(
  opts: { env?: Record<string, string>; overrides?: Partial<Config>; testDb?: TestDb; logs?: string[]; port?: number } = {},
): Promise<TestServer> {
  const own = !opts.testDb;
  const testDb = opts.testDb ?? (await createTestDb());
  const port = opts.port ?? (await freePort());
  const config = testConfig({ ISSUER: `http://localhost:${port}`, PORT: String(port), HOST: '127.0.0.1', ...opts.env }, opts.overrides);
  const logger = opts.logs
    ? createLogger('debug', {}, (line) => opts.logs!.push(line))
    : createLogger('silent');
  // A second node on the same database needs its own pool when on PostgreSQL.
  const db = own || !testDb.url ? testDb.db : (await import('../../src/db/index.js')).createDb({ databaseUrl: testDb.url });
  const app = await createAppContext(config, { logger, db, migrate: false });
  const running = await startServer(app, { port, host: '127.0.0.1' });
  return {
    app,
    config,
    url: `http://localhost:${port}`,
    db,
    testDb,
    running,
    async close() {
      // startServer's close destroys the pool; the per-file database is dropped by its owner.
      await running.close();
      if (own) await testDb.close().catch(() => undefined);
    },
  };
}

let counter = 0;
export async function addSchool(db: Db, over: Partial<Omit<School, 'id'>> = {}): Promise<School> {
  counter += 1;
  const n = String(1000 + counter + Math.floor(Math.random() * 8000));
  return insertSchool(db, { number: n, name: `Школа № ${n}`, region: 'Москва', slug: n, ...over });
}

export async function addAccount(
  app: AppContext,
  school: School | null,
  over: {
    login?: string; password?: string; kind?: AccountKind; roles?: string[]; email?: string | null; emailVerified?: boolean;
    phone?: string; snils?: string; snilsSource?: 'school' | 'self'; personId?: string;
  } = {},
): Promise<Account & { password: string }> {
  const password = over.password ?? 'Kolobok2024x';
  const kind = over.kind ?? (school ? 'student' : 'platform');
  const login = over.login ?? `user${Math.floor(Math.random() * 1e9)}`;
  // Parents and staff must have an email (else the confirm_email prompt shows): a confirmed one
  // by default; `email: null` or `emailVerified: false` for tests of that prompt.
  const email = over.email === undefined ? (kind === 'parent' || kind === 'staff' ? `${login.toLowerCase()}@example.ru` : undefined) : (over.email ?? undefined);
  const account = await createAccount(
    app.db,
    app.passwords,
    {
      schoolId: school?.id ?? null,
      login,
      password,
      kind,
      roles: over.roles,
      lastName: 'Тестов',
      firstName: 'Тест',
      email,
      emailVerified: over.emailVerified ?? Boolean(email),
      phone: over.phone,
      snils: over.snils,
      snilsSource: over.snilsSource,
      personId: over.personId,
    },
    systemAudit(app.db),
  );
  return { ...account, password };
}
