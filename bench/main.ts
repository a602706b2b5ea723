/**
 * `npm run bench`: journal-id and bare oidc-provider side by side, and the argon2id limit.
 * Speed is measured here, never asserted (issue 8). Flags:
 *   --duration S      seconds per scenario (default 10)
 *   --connections N   concurrent connections (default 16)
 *   --scenarios a,b   a subset of: discovery, jwks, client_credentials, client_credentials_jwt,
 *                     refresh_token, introspection, userinfo, login, register, storm, soak (all but soak
 *                     by default)
 *   --storm-factor F  the login storm offers F × the measured login rate (default 4)
 *   --soak-seconds S  how long the soak (memory over time) runs (default 300)
 *   --short           a quick run that proves the bench works (CI): 2 s, 4 connections
 *   --workers N       journal-id as `serve --workers N`; N > 1 runs it on every core (shared
 *                     with the load generator), not on the servers' one
 *   --seed-users N    N more accounts (schools of 1,000) and 5 × N live oidc_models rows loaded
 *                     before the server starts (bench/servers/seed-bulk.ts; PostgreSQL only)
 * PostgreSQL when DATABASE_URL is set (a database of its own is created and dropped on that
 * server), the embedded PGlite otherwise.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../test/helpers/cli.js';
import { ALL_CORES, canPin, databaseCpuSeconds, pinSelf, runPinned, startServer, type Server } from './servers/process.js';
import { startJournalId } from './servers/journal-id.js';
import { discoverPaths, HTTP_SCENARIOS, runHttp, type HttpScenario, type Measured, type Target } from './scenarios/http.js';
import { loginOnce, runLogins, type Tokens } from './scenarios/login.js';
import { runStorm, type StormResult } from './scenarios/storm.js';
import { runSoak, type SoakResult } from './scenarios/soak.js';
import { runRegistrations } from './scenarios/register.js';
import { printTable, ratiosOf, type Result, type Row } from './report.js';

const ALL = [...HTTP_SCENARIOS, 'login', 'register', 'storm', 'soak'] as const;
type Scenario = (typeof ALL)[number];

const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    connections: { type: 'string' },
    scenarios: { type: 'string' },
    short: { type: 'boolean', default: false },
    workers: { type: 'string' },
    'seed-users': { type: 'string' },
    'storm-factor': { type: 'string' },
    'soak-seconds': { type: 'string' },
  },
});
const short = values.short!;
const seconds = Number(values.duration ?? (short ? 2 : 10));
const connections = Number(values.connections ?? (short ? 4 : 16));
const scenarios = (values.scenarios?.split(',').map((s) => s.trim()) ?? ALL.filter((s) => s !== 'soak')) as Scenario[];
const stormFactor = Number(values['storm-factor'] ?? 4);
const soakSeconds = Number(values['soak-seconds'] ?? (short ? 10 : 300));
const unknown = scenarios.filter((s) => !(ALL as readonly string[]).includes(s));
const seedUsers = Number(values['seed-users'] ?? 0);
if (!(seconds > 0) || !(connections >= 1) || unknown.length || !scenarios.length || !(Number.isInteger(seedUsers) && seedUsers >= 0) || !(stormFactor > 0) || !(soakSeconds > 0)) {
  process.stderr.write(`bench: bad flags${unknown.length ? ` (unknown scenarios: ${unknown.join(', ')}; known: ${ALL.join(', ')})` : ''}\n`);
  process.exit(2);
}
if (seedUsers && !process.env.DATABASE_URL) {
  process.stderr.write('bench: --seed-users needs PostgreSQL: set DATABASE_URL (the embedded PGlite is not loaded in bulk)\n');
  process.exit(2);
}
const workers = Number(values.workers ?? 1);
if (!(Number.isInteger(workers) && workers >= 1)) {
  process.stderr.write('bench: --workers must be a whole number of processes, at least 1\n');
  process.exit(2);
}
if (workers > 1 && !process.env.DATABASE_URL) {
  process.stderr.write('bench: --workers needs PostgreSQL: set DATABASE_URL (the embedded PGlite belongs to one process)\n');
  process.exit(2);
}
const warmup = short ? 0.5 : Math.min(3, seconds / 2);
const tsx = path.join(ROOT, 'node_modules/.bin/tsx');
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

/**
 * Runs `measure` while reading the server's CPU (the share of one core it used) and, for
 * journal-id on the local PostgreSQL, the database's: the other half of what a request costs.
 */
async function withCpu<T extends Measured>(server: Server, measure: () => Promise<T>, database = false): Promise<T & { serverCpuPercent: number; databaseCpuPercent?: number }> {
  const cpu0 = server.cpuSeconds();
  const db0 = database ? databaseCpuSeconds() : 0;
  const t0 = performance.now();
  const m = await measure();
  const seconds = (performance.now() - t0) / 1000;
  const cpuPercent = ((server.cpuSeconds() - cpu0) / seconds) * 100;
  return { ...m, serverCpuPercent: Math.round(cpuPercent), ...(database ? { databaseCpuPercent: Math.max(0, Math.round(((databaseCpuSeconds() - db0) / seconds) * 100)) } : {}) };
}

const pinned = pinSelf();
const rows: Row[] = [];
const httpWanted = scenarios.filter((s): s is HttpScenario => (HTTP_SCENARIOS as readonly string[]).includes(s));
let storm: (StormResult & { calmTokenP99Ms?: number }) | undefined;
let soak: SoakResult | undefined;

const placement = !pinned
  ? 'not pinned (no taskset or one core)'
  : workers > 1
    ? `pinned: journal-id's ${workers} workers on all cores (${ALL_CORES}), bare and argon2 on core 0, load on core 1`
    : 'pinned: servers on core 0, load on core 1';
log(`${placement}; ${seconds} s × ${connections} connections${workers > 1 ? `; journal-id serve --workers ${workers}` : ''}`);
// The storm's arrivals are many people: more accounts than connections, each logging in in turn.
const students = scenarios.includes('storm') ? Math.max(connections, 64) : connections;
// Each registration uses a code of its own: more than the run can use at the argon2 limit.
const registrations = scenarios.includes('register') ? (short ? 150 : 1000) : 0;
const jid = await startJournalId(process.env.DATABASE_URL, students, { seedUsers, log, workers, registrations });
let bare: Server | undefined;
// A cancel (Ctrl-C, CI's timeout) still stops the servers and drops the bench's database.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping the servers`);
    void Promise.allSettled([bare?.stop(), jid.close()]).then(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}
let argon2: { verifiesPerSecond: number; params: Record<string, number> } | undefined;
try {
  log(`journal-id (${jid.runner}) on ${jid.database} at ${jid.url}`);
  const paths = await discoverPaths(jid.url);
  const needsTokens = scenarios.some((s) => ['refresh_token', 'introspection', 'userinfo', 'storm', 'soak'].includes(s));
  // One login per connection for its refresh token (offline_access asks for consent).
  // Setup, not measurement: a few logins at a time, and a login told to come back (503 from the
  // hashing line on a loaded core) comes back after the Retry-After it was given.
  const setupLogin = async (i: number): Promise<Tokens> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await loginOnce(jid.url, paths.token, jid.seeded, jid.seeded.logins[i]!, true);
      } catch (err) {
        const wait = /answered 503 \(Retry-After (\d+)\)/.exec((err as Error).message)?.[1];
        if (!wait || attempt >= 10) throw err;
        await new Promise((r) => setTimeout(r, Number(wait) * 1000));
      }
    }
  };
  const freshTokens = async () => {
    const out: Tokens[] = [];
    for (let i = 0; i < connections; i += 4) out.push(...(await Promise.all(Array.from({ length: Math.min(4, connections - i) }, (_, k) => setupLogin(i + k)))));
    return out;
  };
  const tokens = needsTokens ? await freshTokens() : [];
  const jidTarget: Target = {
    url: jid.url,
    clientId: jid.seeded.clientId,
    clientSecret: jid.seeded.clientSecret,
    accessToken: tokens[0]?.access_token ?? '',
    refreshTokens: tokens.map((t) => t.refresh_token!),
    rotates: true,
    paths,
  };

  let bareTarget: Target | undefined;
  if (httpWanted.length) {
    let minted = '';
    bare = await startServer(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/servers/bare-oidc.ts'), String(connections)], { ...process.env, NODE_ENV: 'production' }, (out) => {
      minted = out.split('\n').find((l) => l.startsWith('{')) ?? '';
      return minted && `${JSON.parse(minted).url}/.well-known/openid-configuration`;
    });
    const m = JSON.parse(minted) as Pick<Target, 'clientId' | 'clientSecret'>;
    bareTarget = { ...m, url: bare.url, accessToken: '', refreshTokens: [], rotates: false, paths: await discoverPaths(bare.url) };
    log(`bare oidc-provider at ${bare.url}`);
  }

  for (const scenario of httpWanted) {
    const row: Row = { scenario };
    for (const [side, server, target] of [['journalId', jid, jidTarget], ['bare', bare!, bareTarget!]] as const) {
      // bare's in-memory adapter is an LRU of 1,000 entries: fresh tokens before each run on it.
      const fresh = async () => side === 'bare' && Object.assign(target, await (await fetch(`${bare!.url}/bench/tokens`)).json());
      await fresh();
      await runHttp(target, scenario, warmup, connections);
      await fresh();
      row[side] = await withCpu(server, () => runHttp(target, scenario, seconds, connections), side === 'journalId' && jid.database === 'postgresql');
      log(`${scenario} on ${side}: ${Math.round(row[side]!.requestsPerSecond)}/s`);
    }
    rows.push(row);
  }

  let loginRate: number | undefined;
  if (scenarios.includes('login')) {
    await runLogins(jid.url, paths.token, jid.seeded, warmup, connections);
    const m = await withCpu(jid, () => runLogins(jid.url, paths.token, jid.seeded, seconds, connections), jid.database === 'postgresql');
    if (m.firstError) log(`login errors (${m.errors}), the first: ${m.firstError}`);
    log(`login: ${m.requestsPerSecond.toFixed(1)}/s`);
    rows.push({ scenario: 'login', journalId: m });
    loginRate = m.requestsPerSecond;
  }

  if (scenarios.includes('register')) {
    const pool = { codes: jid.seeded.inviteCodes, next: 0 };
    await runRegistrations(jid.url, pool, warmup, connections);
    const m = await withCpu(jid, () => runRegistrations(jid.url, pool, seconds, connections), jid.database === 'postgresql');
    if (m.firstError) log(`register errors (${m.errors}), the first: ${m.firstError}`);
    if (!m.codesLeft) log('register: every seeded code was used before the time was up (the rate is over the shorter run)');
    log(`register: ${m.requestsPerSecond.toFixed(1)}/s`);
    rows.push({ scenario: 'register', journalId: m });
  }

  if (scenarios.includes('storm')) {
    // The sustainable rate is what the login scenario measured (or a short run of it now).
    loginRate ??= (await runLogins(jid.url, paths.token, jid.seeded, Math.max(2, seconds / 2), connections)).requestsPerSecond;
    const rate = Math.max(1, loginRate * stormFactor);
    log(`storm: ${rate.toFixed(1)} logins/s offered (${stormFactor} × ${loginRate.toFixed(1)}) while refresh runs at ${connections} connections`);
    // A run that ended cut its last rotations short: those chains hold a spent token, and after
    // the grace window presenting it again revokes the grant. New chains for each later run.
    jidTarget.refreshTokens = (await freshTokens()).map((t) => t.refresh_token!);
    storm = await runStorm({ base: jid.url, tokenPath: paths.token, seeded: jid.seeded, rate, seconds, tokenTarget: jidTarget, tokenScenario: 'refresh_token', connections });
    storm.calmTokenP99Ms = rows.find((r) => r.scenario === 'refresh_token')?.journalId?.p99Ms;
    if (storm.firstError) log(`storm errors (${storm.failed}), the first: ${storm.firstError}`);
    log(`storm: ${storm.served} served (${Math.round(storm.servedShare * 100)} %), ${storm.busy} told to come back (p99 ${storm.busyP99Ms} ms); refresh p99 ${storm.token.p99Ms} ms`);
  }

  if (scenarios.includes('soak')) {
    log(`soak: ${soakSeconds} s of refreshes and logins, the server's memory read every second`);
    jidTarget.refreshTokens = (await freshTokens()).map((t) => t.refresh_token!);
    soak = await runSoak({ server: jid, base: jid.url, tokenPath: paths.token, seeded: jid.seeded, tokenTarget: jidTarget, connections, seconds: soakSeconds });
    log(`soak: RSS ${soak.rssMiB.atMinute1} MiB at minute 1, ${soak.rssMiB.end} MiB at the end (${soak.growthPercent} %), at most ${soak.rssMiB.max} MiB`);
  }

  if (scenarios.includes('login') || scenarios.includes('register')) {
    // The argon2 limit on the same core, while nothing else runs there.
    await jid.stop();
    argon2 = JSON.parse(runPinned(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/servers/argon2-rate.ts'), String(short ? 2 : 5)], process.env).trim());
    log(`argon2id verify: ${argon2!.verifiesPerSecond.toFixed(1)}/s`);
  }
} finally {
  await bare?.stop();
  await jid.close();
}

const measured: Result = { database: jid.database, workers, seedUsers, pinned, seconds, connections, rows, argon2, storm, soak };
const result = {
  date: new Date().toISOString(),
  machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, platform: `${os.type()} ${os.release()}` },
  database: jid.database,
  // Accounts and oidc rows loaded beside the bench's own (--seed-users), and how long that took.
  seed: jid.bulk ?? { users: 0 },
  journalIdRunner: jid.runner,
  // journal-id's processes; with more than one they ran on every core, not on core 0 alone.
  workers,
  pinned,
  seconds,
  connections,
  rows,
  argon2,
  ratios: ratiosOf(measured),
  storm,
  soak,
};
const table = printTable(measured);
process.stdout.write(table);
const dir = path.join(ROOT, 'bench/results');
fs.mkdirSync(dir, { recursive: true });
const file = path.join(dir, `${result.date.replace(/[:.]/g, '-')}-${jid.database}${seedUsers ? `-${seedUsers}users` : ''}${short ? '-short' : ''}.json`);
fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
log(`written ${path.relative(process.cwd(), file)}`);
if (!canPin) log('figures are per machine, not per core (no taskset)');
// A run that saw failures proves nothing: the exit status says so (CI reads it), never the speed.
const failed =
  rows.some((r) => [r.journalId, r.bare].some((m) => m && (m.errors > 0 || m.non2xx > 0 || m.total === 0))) ||
  // In a storm, being told to come back is the point; anything else going wrong is not.
  Boolean(storm && (storm.failed > 0 || storm.served === 0 || storm.token.errors > 0 || storm.token.non2xx > 0)) ||
  Boolean(soak && (soak.loginErrors > 0 || soak.refresh.errors > 0 || soak.refresh.non2xx > 0));
process.exitCode = failed ? 1 : 0;
