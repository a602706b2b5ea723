/**
 * `serve --workers 2` (PostgreSQL): a scrape of /metrics, whichever worker receives it, covers
 * both workers — requests served by either are counted once each, a login that went through
 * both moves logins_total by one — and the database's gauges appear once, not once per worker.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import http from 'node:http';
import fs from 'node:fs';
import { addAccount, addSchool, freePort, testConfig } from '../helpers/app.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { startNodeProcess, type NodeProcess } from '../helpers/process.js';
import { Browser } from '../helpers/browser.js';
import { discover, login, oidc, startLogin } from '../helpers/rp.js';
import { parseMetrics, valueOf } from '../helpers/metrics.js';
import { createAppContext } from '../../src/server/bootstrap.js';
import { createLogger } from '../../src/server/logger.js';
import type { Config } from '../../src/config/index.js';
import type { School } from '../../src/schools/queries.js';

type LogLine = Record<string, unknown> & { msg: string; worker?: number | 'primary' };

let pg: TestDb;
let config: Config;
let node: NodeProcess;
let school: School;
let person: Awaited<ReturnType<typeof addAccount>>;

const logs = (): LogLine[] =>
  node
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

async function until<T>(what: string, probe: () => T | undefined | false, ms = 60_000): Promise<T> {
  for (const deadline = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 100))) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms\n${node.output().slice(-3000)}`);
  }
}

/** GET on a connection of its own (the cluster spreads connections, not requests). */
function getFresh(pathname: string): Promise<{ status: number; requestId: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${node.url}${pathname}`, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, requestId: String(res.headers['x-request-id']), body }));
      })
      .on('error', reject);
  });
}

/** The worker whose access-log line holds `requestId`, once it is written. */
const workerOf = (requestId: string) =>
  until(`the access-log line of ${requestId}`, () => logs().find((l) => l.msg === 'request' && l.requestId === requestId)?.worker as number | undefined);

/** Scrapes on fresh connections until both workers have answered one; returns every scrape. */
async function scrapesFromBoth(): Promise<{ worker: number; text: string }[]> {
  const scrapes: { worker: number; text: string }[] = [];
  for (let i = 0; i < 10 && new Set(scrapes.map((s) => s.worker)).size < 2; i++) {
    const { status, requestId, body } = await getFresh('/metrics');
    expect(status).toBe(200);
    scrapes.push({ worker: await workerOf(requestId), text: body });
  }
  expect(new Set(scrapes.map((s) => s.worker))).toEqual(new Set([1, 2]));
  return scrapes;
}

beforeAll(async () => {
  pg = await createTestDb({ postgres: true });
  const port = await freePort();
  config = testConfig({ ISSUER: `http://127.0.0.1:${port}` });
  const app = await createAppContext(config, { db: pg.db, migrate: false, logger: createLogger('silent') });
  app.oidc.stop();
  school = await addSchool(pg.db);
  person = await addAccount(app, school, { login: 'tolya' });
  node = await startNodeProcess(config, pg.url!, { WORKERS: '2', LOG_LEVEL: 'info' }, { port });
  await until('both workers listening', () => logs().some((l) => l.msg === 'journal-id listening'));
}, 120_000);

afterAll(async () => {
  if (node?.child.exitCode === null) await node.kill();
  await pg?.close();
  if (config) fs.rmSync(config.dataDir, { recursive: true, force: true });
});

describe('serve --workers 2: one scrape covers both workers', () => {
  it('requests served by either worker are all counted, whichever worker answers the scrape', async () => {
    const served = [];
    for (let i = 0; i < 12; i++) served.push(await getFresh('/healthz'));
    const workers = new Set(await Promise.all(served.map((s) => workerOf(s.requestId))));
    expect(workers).toEqual(new Set([1, 2]));
    const healthz = { method: 'GET', route: '/healthz', status_class: '2xx' };
    for (const { text } of await scrapesFromBoth()) {
      expect(valueOf(text, 'http_request_duration_seconds_count', healthz)).toBe(12);
      // Per process values are summed or taken once, never listed per worker.
      expect(parseMetrics(text).filter((s) => s.name === 'nodejs_version_info')).toHaveLength(1);
      expect(parseMetrics(text).filter((s) => s.name === 'outbox_backlog')).toHaveLength(1);
      expect(text).toMatch(/^db_pool_connections\{state="used"\} \d+$/m);
    }
  });

  it('a login moves logins_total and tokens_issued_total by one, seen by a scrape of either worker', async () => {
    const redirectUri = config.firstPartyClients.journalWeb.redirectUris[0]!;
    const rp = await discover(node.url, 'journal-web', config.secrets.journalWebClientSecret);
    const started = await startLogin(rp, { redirect_uri: redirectUri, school: school.slug });
    const callback = await login(new Browser(node.url), started, person.login, person.password);
    await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    for (const { text } of await scrapesFromBoth()) {
      expect(valueOf(text, 'logins_total', { method: 'password', outcome: 'success' })).toBe(1);
      expect(valueOf(text, 'tokens_issued_total', { grant_type: 'authorization_code' })).toBe(1);
      expect(text).not.toContain('tolya');
    }
  });
});
