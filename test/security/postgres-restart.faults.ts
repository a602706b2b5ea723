/**
 * Issue 7, faults: PostgreSQL restarted under a load of logins and registrations. A journal-id
 * node (its own OS process) serves a private PostgreSQL cluster; while people register with
 * invite codes and log in to an app, the database is stopped (fast shutdown: sessions cut, open
 * transactions rolled back) and started again on the same port. The node must come back by
 * itself (same process), /readyz must say 503 during the outage and 200 after, every response
 * must be a completion or a clean failure, and the database must hold no half-made account and
 * no code used without its account.
 *
 * PostgreSQL only, and it restarts a server: it runs as `npm run test:faults` (once in `.ci/run`,
 * on a cluster of its own in a temporary folder), not in `npm test`.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { addAccount, addSchool, freePort, testConfig } from '../helpers/app.js';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster.js';
import { startNodeProcess, type NodeProcess } from '../helpers/process.js';
import { discover } from '../helpers/rp.js';
import { cleanStep, logIn, pupilsWithCodes, registerWithCode, type FlowResult, type LoginTarget, type Registrant } from '../helpers/flows.js';
import { NOTHING_HALF_MADE, registrationInvariants } from '../helpers/registration-invariants.js';
import { recordCounts } from '../helpers/security-counts.js';
import { listenerOf, type Listener } from '../helpers/listener.js';
import { createDb, type Db } from '../../src/db/index.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { createAppContext } from '../../src/server/bootstrap.js';
import { createLogger } from '../../src/server/logger.js';
import type { AppContext } from '../../src/server/context.js';
import type { Config } from '../../src/config/index.js';

const CHILDREN = 16; // each with a student code and a parent code: 32 registrations
const LOGIN_ACCOUNTS = 8;
const VIRTUAL_USERS = 6;
const OUTAGE_FLOWS = 5; // registrations and as many logins, sent while /readyz says 503
const PREFIX = 'reg';

let cluster: PgCluster;
let db: Db;
let app: AppContext;
let config: Config;
let node: NodeProcess;
let target: LoginTarget;
const registrants: Registrant[] = [];
const people: { login: string; password: string }[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readyz(): Promise<number> {
  try {
    return (await fetch(`${node.url}/readyz`)).status;
  } catch {
    return 0;
  }
}

async function waitForReadyz(status: number, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await readyz()) !== status) {
    if (Date.now() > deadline) throw new Error(`/readyz never answered ${status} ${what}\n${node.output()}\n${cluster.log()}`);
    await sleep(100);
  }
}

beforeAll(async () => {
  cluster = await startPgCluster();
  db = createDb({ databaseUrl: cluster.url, logger: createLogger('silent') }); // its pool sees the outage too
  await migrateLatest(db);
  const port = await freePort();
  config = testConfig({ ISSUER: `http://127.0.0.1:${port}`, DATABASE_URL: cluster.url });
  app = await createAppContext(config, { db, migrate: false, logger: createLogger('silent') });
  app.oidc.stop();

  const school = await addSchool(db);
  registrants.push(...(await pupilsWithCodes(app, school, CHILDREN, PREFIX)));
  for (let i = 0; i < LOGIN_ACCOUNTS; i++) {
    const a = await addAccount(app, school, { login: `pupil${i}`, password: `Kolobok${i}x2024` });
    people.push({ login: a.login, password: a.password });
  }

  node = await startNodeProcess(config, cluster.url, {}, { port });
  target = {
    rp: await discover(node.url, 'journal-web', config.secrets.journalWebClientSecret),
    clientId: 'journal-web',
    clientSecret: config.secrets.journalWebClientSecret,
    redirectUri: config.firstPartyClients.journalWeb.redirectUris[0]!,
    school: school.slug,
  };
}, 120_000);

afterAll(async () => {
  if (node) await node.stop();
  await db?.destroy().catch(() => undefined);
  await cluster?.destroy();
});

describe('PostgreSQL restarted during a load of logins and registrations', () => {
  it('the node recovers by itself, /readyz reports the outage, every request completes or fails cleanly, nothing is half-made', async () => {
    // Who serves, seen from outside: the process holding the node's listening socket, and the
    // PostgreSQL postmaster holding the cluster's (pid and start time, from the OS). Read before,
    // during and after the outage: one node process throughout means it recovered by itself; two
    // postmasters mean the database really went down and came back.
    const nodePort = Number(new URL(node.url).port);
    const nodeServers = new Map<string, Listener>();
    const postmasters = new Map<string, Listener>();
    const observe = (into: Map<string, Listener>, port: number) => {
      const l = listenerOf(port);
      into.set(`${l.pid}@${l.startedAt}`, l);
    };
    observe(nodeServers, nodePort);
    observe(postmasters, cluster.port);
    const all: FlowResult<string>[] = [];
    const done = new Map<string, 'registered' | 'code-used'>();
    const queue = [...registrants];
    const forOutage = queue.splice(queue.length - OUTAGE_FLOWS, OUTAGE_FLOWS);

    const register = async (r: Registrant) => {
      const res = await registerWithCode(node.url, r);
      all.push(res);
      if (res.outcome === 'failed') queue.push(r); // tried again later: the code must still work, or say it is used
      else done.set(r.code, res.outcome);
      return res;
    };
    const login = async (i: number) => {
      const p = people[i % people.length]!;
      const res = await logIn(node.url, target, p.login, p.password);
      all.push(res);
      return res;
    };

    // Before: the service works.
    for (let i = 0; i < 4; i++) expect((await register(queue.shift()!)).outcome).toBe('registered');
    for (let i = 0; i < 4; i++) expect((await login(i)).outcome).toBe('logged-in');

    // The load: virtual users registering and logging in until told to stop.
    let stopLoad = false;
    let completed = 0;
    let successesAfter = { registered: 0, loggedIn: 0 };
    let recovered = false;
    const users = Array.from({ length: VIRTUAL_USERS }, async (_, u) => {
      for (let n = 0; !stopLoad; n++) {
        const r = u % 2 === 0 ? queue.shift() : undefined;
        const res = r ? await register(r) : await login(u + n);
        if (res.outcome === 'failed') await sleep(100); // a person waits a moment before trying again
        else {
          completed += 1;
          if (recovered && res.outcome === 'registered') successesAfter.registered += 1;
          if (recovered && res.outcome === 'logged-in') successesAfter.loggedIn += 1;
        }
      }
    });

    const loadDeadline = Date.now() + 60_000;
    while (completed < 6) {
      if (Date.now() > loadDeadline) throw new Error('the load made no progress');
      await sleep(50);
    }

    // The outage, mid-load.
    await cluster.stop();
    await waitForReadyz(503, 'during the outage');
    observe(nodeServers, nodePort);
    expect(() => listenerOf(cluster.port)).toThrow(/nothing listens/); // the database is really away
    const during: FlowResult<string>[] = [];
    for (let i = 0; i < OUTAGE_FLOWS; i++) {
      const res = await registerWithCode(node.url, forOutage[i]!);
      during.push(res);
      during.push(await logIn(node.url, target, people[i]!.login, people[i]!.password));
    }
    all.push(...during);
    for (const res of during) {
      expect(res.outcome).toBe('failed');
      const last = res.steps.at(-1)!;
      expect(last.status).toBeGreaterThanOrEqual(500);
    }
    // The person is told to try later, in Russian.
    const serverPage = during.flatMap((r) => r.steps).find((s) => s.status >= 500 && s.body.includes('<html'));
    expect(serverPage?.body).toContain('Сервис временно недоступен');
    // Our own pages say 503 (retry), not 500 (a bug): the database is away, not broken.
    expect(during.flatMap((r) => r.steps).some((s) => s.status === 503)).toBe(true);
    expect(await readyz()).toBe(503);
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200); // alive, only not ready

    // Back: the same process serves again, without a restart.
    await cluster.start();
    observe(postmasters, cluster.port);
    await waitForReadyz(200, 'after PostgreSQL came back');
    observe(nodeServers, nodePort);
    recovered = true;
    successesAfter = { registered: 0, loggedIn: 0 };
    const recoverDeadline = Date.now() + 60_000;
    while ((successesAfter.loggedIn < 2 || (successesAfter.registered < 1 && queue.length > 0)) && Date.now() < recoverDeadline) await sleep(100);
    stopLoad = true;
    await Promise.all(users);
    expect(successesAfter.loggedIn).toBeGreaterThanOrEqual(2);

    queue.push(...forOutage);
    // Whoever failed tries again: every code either registers now or says it was used — by an
    // account that exists (the commit went through, only the answer was lost).
    for (let tries = 0; queue.length > 0 && tries < registrants.length * 3; tries++) {
      const r = queue.shift()!;
      const res = await register(r);
      expect(res.outcome).not.toBe('failed');
    }
    expect(queue).toHaveLength(0);
    for (let i = 0; i < 4; i++) expect((await login(i)).outcome).toBe('logged-in');
    expect(node.child.exitCode).toBeNull();
    observe(nodeServers, nodePort);
    // One server process from start to end: the node was never restarted (by a supervisor, a
    // wrapper or anything else), it reconnected by itself.
    expect([...nodeServers.keys()]).toHaveLength(1);
    expect([...postmasters.keys()]).toHaveLength(2);
    // Its log stayed JSON lines through the outage (knex's own messages included).
    const notJson = node.output().split('\n').filter((l) => l.trim() && !/^\{.*\}$/.test(l.trim()));
    expect(notJson).toEqual([]);

    // Every response: a completion or a clean failure.
    const unclean = all.flatMap((r) => r.steps).filter((s) => !cleanStep(s));
    expect(unclean.map((s) => `${s.what} → ${s.status} ${s.networkError ?? s.body.slice(0, 300)}`)).toEqual([]);

    // The database: every code has its whole account, nothing half-made.
    for (const r of registrants) {
      const account = await db('users').whereRaw('lower(login) = ?', [r.login]).first();
      expect({ login: r.login, found: Boolean(account) }).toEqual({ login: r.login, found: true });
    }
    const invariants = await registrationInvariants(db, PREFIX);
    expect(invariants).toEqual(NOTHING_HALF_MADE);
    const registered = Number((await db('users').where('login', 'like', `${PREFIX}%`).count({ n: '*' }))[0]!.n);
    expect(registered).toBe(registrants.length);
    expect(done.size).toBe(registrants.length);

    recordCounts('faults', {
      'faults.pg-restart.restarts': postmasters.size - 1,
      'faults.pg-restart.registrations': registered,
      'faults.pg-restart.requests-during-outage': during.length,
      'faults.pg-restart.unclean-responses': unclean.length,
      'faults.pg-restart.node-restarts': nodeServers.size - 1,
      'faults.pg-restart.half-made-accounts': invariants.halfMadeAccounts,
      'faults.pg-restart.codes-consumed-without-account': invariants.codesConsumedWithoutAccount,
      'faults.pg-restart.guardianships-missing-a-side': invariants.guardianshipsMissingASide,
    });
  }, 240_000);
});
