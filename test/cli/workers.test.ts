/**
 * `journal-id serve --workers 2` (issue 8, several cores) on a PostgreSQL database of its own:
 * two worker processes answer on one port (the per-worker access log tells which one did), a
 * login whose requests alternate between them works, a worker killed with SIGKILL is started
 * again while the other keeps serving, and SIGTERM on the primary ends all of them with 0.
 * Without DATABASE_URL (the embedded PGlite belongs to one process) several workers are refused.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addAccount, addSchool, freePort, testConfig } from '../helpers/app.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { startNodeProcess, type NodeProcess } from '../helpers/process.js';
import { cliCommand, ROOT } from '../helpers/cli.js';
import { Browser } from '../helpers/browser.js';
import { discover, login, oidc, startLogin } from '../helpers/rp.js';
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

/** The worker whose access log holds `requestId`. */
const workerOf = (requestId: string) => logs().find((l) => l.msg === 'request' && l.requestId === requestId)?.worker;

/** pid of each worker slot's latest start. */
const workerPids = () => new Map(logs().filter((l) => l.msg === 'worker listening').map((l) => [l.worker as number, l.pid as number]));

async function until<T>(what: string, probe: () => T | undefined | false, ms = 60_000): Promise<T> {
  for (const deadline = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 100))) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms\n${node.output().slice(-3000)}`);
  }
}

/** GET on a connection of its own (round-robin spreads connections, not requests): status and request id. */
function getFresh(pathname: string): Promise<{ status: number; requestId: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${node.url}${pathname}`, { agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, requestId: String(res.headers['x-request-id']) }));
      })
      .on('error', reject);
  });
}

/** The request ids of `n` fresh connections, once each has its access-log line. */
async function spread(n: number): Promise<Set<number>> {
  const answers: { status: number; requestId: string }[] = [];
  for (let i = 0; i < n; i++) answers.push(await getFresh('/readyz'));
  expect(answers.map((a) => a.status)).toEqual(Array(n).fill(200));
  return until('access-log lines', () => {
    const workers = answers.map((a) => workerOf(a.requestId));
    return workers.every((w) => w !== undefined) && new Set(workers as number[]);
  });
}

/** A browser whose every request opens a new connection, so that its steps go to both workers. */
class FreshBrowser extends Browser {
  readonly requestIds: string[] = [];
  override async request(input: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('connection', 'close');
    const res = await super.request(input, { ...init, headers });
    this.requestIds.push(res.headers.get('x-request-id')!);
    return res;
  }
}

async function logInAcross(): Promise<Set<number>> {
  const redirectUri = config.firstPartyClients.journalWeb.redirectUris[0]!;
  const rp = await discover(node.url, 'journal-web', config.secrets.journalWebClientSecret);
  const started = await startLogin(rp, { redirect_uri: redirectUri, school: school.slug });
  const browser = new FreshBrowser(node.url);
  const callback = await login(browser, started, person.login, person.password);
  const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
  expect(tokens.claims()!.sub).toBe(person.id);
  expect((await oidc.fetchUserInfo(rp, tokens.access_token, person.id)).sub).toBe(person.id);
  return until('the login\'s access-log lines', () => {
    const workers = browser.requestIds.map(workerOf);
    return workers.every((w) => w !== undefined) && new Set(workers as number[]);
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  pg = await createTestDb({ postgres: true });
  const port = await freePort();
  config = testConfig({ ISSUER: `http://127.0.0.1:${port}` });
  const app = await createAppContext(config, { db: pg.db, migrate: false, logger: createLogger('silent') });
  app.oidc.stop();
  school = await addSchool(pg.db);
  person = await addAccount(app, school, { login: 'kolya' });
  node = await startNodeProcess(config, pg.url!, { WORKERS: '2', LOG_LEVEL: 'info' }, { port });
  // /readyz answers once the first worker listens; the primary says when both do.
  await until('both workers listening', () => logs().some((l) => l.msg === 'journal-id listening'));
}, 120_000);

afterAll(async () => {
  if (node?.child.exitCode === null) await node.kill();
  await pg?.close();
  fs.rmSync(config.dataDir, { recursive: true, force: true });
});

describe('serve --workers 2 on PostgreSQL', () => {
  it('two worker processes answer on one port, each logging with its worker id', async () => {
    const primary = logs().find((l) => l.msg === 'journal-id listening')!;
    expect(primary).toMatchObject({ worker: 'primary', workers: 2, database: 'PostgreSQL' });
    const pids = workerPids();
    expect([...pids.keys()].sort()).toEqual([1, 2]);
    expect(new Set([...pids.values(), primary.pid]).size).toBe(3);
    expect(await spread(8)).toEqual(new Set([1, 2]));
  });

  it('a login whose steps alternate between the workers ends with tokens', async () => {
    expect(await logInAcross()).toEqual(new Set([1, 2]));
  });

  it('a worker killed with SIGKILL is started again; the other serves meanwhile', async () => {
    const before = workerPids();
    process.kill(before.get(1)!, 'SIGKILL');
    await until('the primary sees the death', () => logs().some((l) => l.msg === 'worker died; restarting it' && l.died === 1 && l.pid === before.get(1)));
    // Meanwhile the port is served by worker 2 (or already by the new worker 1).
    const meanwhile = await spread(4);
    expect([...meanwhile].every((w) => w === 2 || workerPids().get(1) !== before.get(1))).toBe(true);
    const restarted = await until('worker 1 again', () => {
      const pid = workerPids().get(1);
      return pid !== before.get(1) && pid;
    });
    expect(alive(restarted)).toBe(true);
    expect(alive(before.get(1)!)).toBe(false);
    expect(workerPids().get(2)).toBe(before.get(2));
    expect(await spread(8)).toEqual(new Set([1, 2]));
    expect(await logInAcross()).toEqual(new Set([1, 2]));
  }, 90_000);

  it('SIGTERM on the primary stops every worker gracefully, then the primary exits 0', async () => {
    const pids = [...workerPids().values()];
    expect(await node.stop()).toBe(0);
    const stopping = logs().filter((l) => l.msg === 'worker shutting down').map((l) => l.worker);
    expect(stopping.sort()).toEqual([1, 2]);
    expect(logs().at(-1)).toMatchObject({ msg: 'stopped', worker: 'primary' });
    expect(logs().some((l) => l.msg === 'worker died; restarting it' && l.died === 2)).toBe(false);
    await until('no worker left', () => pids.every((pid) => !alive(pid)), 10_000);
  }, 60_000);
});

describe('serve --workers without PostgreSQL, or with a bad value', () => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-workers-'));
      let out = '';
      const child = spawn(cliCommand().command, [...cliCommand().args, 'serve', ...args], {
        cwd: ROOT,
        env: { PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`, NODE_ENV: 'test', DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: '0', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      child.once('exit', (code) => {
        fs.rmSync(dataDir, { recursive: true, force: true });
        resolve({ code, out });
      });
    });

  it('refuses several workers on the embedded database with one line, and names the flag or the variable of a bad value', async () => {
    const [byFlag, byEnv, badFlag, badEnv] = await Promise.all([
      run(['--workers', '2']),
      run([], { WORKERS: '3' }),
      run(['--workers', 'many']),
      run([], { WORKERS: '-3' }),
    ]);
    for (const { code, out } of [byFlag, byEnv]) {
      expect(code).toBe(1);
      expect(out).toMatch(/^journal-id: \d workers need PostgreSQL \(DATABASE_URL\): the embedded database belongs to one process/m);
      expect(out).not.toContain('    at ');
    }
    expect(badFlag.code).toBe(2);
    expect(badFlag.out).toContain('journal-id: --workers must be a number of processes from 1 to 256, or 0 or auto');
    expect(badEnv.code).toBe(1);
    expect(badEnv.out).toContain('journal-id: config: WORKERS must be a number of processes');
  });
});
