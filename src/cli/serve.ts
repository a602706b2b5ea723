/**
 * `journal-id serve [--no-demo] [--workers N|auto]`: migrations (if configured), the demo seed on
 * a first development start, the server.
 *
 * With one worker (the default) that is one process. With N > 1 (node:cluster) the primary does
 * what must happen once — the configuration and the development secrets (loadConfig, before
 * this), migrations, the first signing keys, the demo seed — and then forks N workers that each
 * build the app and listen on the same port (the primary hands out connections round-robin). A
 * worker that dies is started again after a pause that grows while it keeps dying; SIGTERM or
 * SIGINT on the primary stops every worker gracefully, then the primary exits 0.
 */
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { ConfigError, type Config } from '../config/index.js';
import { createAppContext, openDb } from '../server/bootstrap.js';
import type { AppContext } from '../server/context.js';
import { startServer } from '../server/http.js';
import { createLogger, type Logger } from '../server/logger.js';
import { seedDemo, formatDemo } from '../demo/seed.js';
import { defaultHashConcurrency } from '../accounts/password.js';
import { CliError, parse, UsageError } from './commands.js';
import { aggregateWorkerMetrics, joinClusterMetrics } from '../metrics/cluster.js';

/** The worker's slot (1…N) in its environment: a restarted worker keeps its predecessor's. */
const SLOT_ENV = 'JOURNAL_ID_WORKER';
const MAX_WORKERS = 256;
/** Restart pauses: 0.5 s, doubling while a worker keeps dying, at most 30 s; reset after a minute up. */
const RESTART_BASE_MS = 500;
const RESTART_MAX_MS = 30_000;
const HEALTHY_AFTER_MS = 60_000;
/** Workers cut requests still running after 10 s (http.ts); after this they are killed. */
const STOP_GRACE_MS = 20_000;

/** `N`, `0` or `auto` (one per CPU the process may use) → a number of processes. */
export function parseWorkers(raw: string, fail: (message: string) => Error): number {
  const v = raw.trim().toLowerCase();
  if (v === 'auto' || v === '0') return os.availableParallelism();
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && n <= MAX_WORKERS)) throw fail(`must be a number of processes from 1 to ${MAX_WORKERS}, or 0 or auto for one per CPU (got "${raw.slice(0, 40)}")`);
  return n;
}

export async function serve(config: Config, args: string[]): Promise<number> {
  const { values } = parse(args, { 'no-demo': { type: 'boolean' }, workers: { type: 'string' } });
  if (cluster.isWorker) return serveWorker(config, Number(process.env[SLOT_ENV]) || cluster.worker!.id);
  const demo = config.demo && !values['no-demo'];
  const workers =
    values.workers !== undefined
      ? parseWorkers(values.workers, (m) => new UsageError(`--workers ${m}`))
      : process.env.WORKERS?.trim()
        ? parseWorkers(process.env.WORKERS, (m) => new ConfigError(`config: WORKERS ${m}`))
        : 1;
  if (workers === 1) return serveOne(config, demo);
  // PGlite lives inside one process, with its data folder locked by it: workers cannot share it.
  if (config.embedded) {
    throw new CliError(`${workers} workers need PostgreSQL (DATABASE_URL): the embedded database belongs to one process; run one worker or set DATABASE_URL`);
  }
  return servePrimary(config, workers, demo);
}

function describe(config: Config, app: { mail: { describe: string } }) {
  return {
    issuer: config.issuer,
    database: config.embedded ? `embedded PGlite in ${config.dataDir}` : 'PostgreSQL',
    mail: app.mail.describe,
    env: config.nodeEnv,
  };
}

/** The app context; a failed start closes the pool it opened, or the process would not exit. */
async function build(config: Config, logger: Logger, migrate: boolean): Promise<AppContext> {
  const db = openDb(config, logger);
  try {
    return await createAppContext(config, { logger, db, migrate });
  } catch (err) {
    await db.destroy().catch(() => {});
    throw err;
  }
}

/** Today's single process: everything here, nothing forked. */
async function serveOne(config: Config, demo: boolean): Promise<number> {
  const app = await build(config, createLogger(config.logLevel), config.migrateOnStart);
  const running = await (async () => {
    try {
      if (demo) await printDemo(app);
      return await startServer(app);
    } catch (err) {
      app.oidc.stop();
      await app.db.destroy().catch(() => {});
      throw err;
    }
  })();
  app.logger.info('journal-id listening', { url: running.url, ...describe(config, app) });
  onStopSignal(async (signal) => {
    app.logger.info('shutting down', { signal });
    await running.close();
    app.logger.info('stopped');
    process.exit(0);
  });
  return -1; // keep running
}

async function printDemo(app: AppContext): Promise<void> {
  const credentials = await seedDemo(app);
  if (credentials) process.stdout.write(formatDemo(credentials, app.config.issuer) + '\n');
}

function onStopSignal(stop: (signal: string) => Promise<void>): void {
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

/** A cluster worker: the app and its server; no migrations (the primary ran them). */
async function serveWorker(config: Config, slot: number): Promise<number> {
  const logger = createLogger(config.logLevel, { worker: slot });
  // First: the primary may ask for this worker's metrics as soon as the worker exists.
  joinClusterMetrics();
  try {
    const app = await build(config, logger, false);
    // The purge and the account lifecycle once per machine (worker 1): the purge's deletes are
    // idempotent but N copies at the same second do the work N times, and two lifecycle rounds
    // at once could both audit one leaver. The queues (mail, back-channel logout, recovery)
    // claim rows with FOR UPDATE SKIP LOCKED: every worker takes its share, as nodes do.
    const running = await startServer(app, { periodicJobs: slot === 1 });
    logger.info('worker listening', { pid: process.pid, url: running.url });
    onStopSignal(async (signal) => {
      logger.info('worker shutting down', { signal });
      await running.close();
      process.exit(0);
    });
  } catch (err) {
    // The IPC channel keeps a worker alive: a failed start must exit by itself.
    const e = err as Error;
    const known = ['ConfigError', 'CliError'].includes(e.name);
    process.stderr.write(`journal-id: worker ${slot}: ${known ? e.message : (e.stack ?? e.message)}\n`);
    process.exit(1);
  }
  return -1;
}

interface Slot {
  worker?: Worker;
  forkedAt: number;
  /** Deaths in a row, each less than HEALTHY_AFTER_MS after its start. */
  deaths: number;
  listened: boolean;
  restart?: NodeJS.Timeout;
}

async function servePrimary(config: Config, count: number, demo: boolean): Promise<number> {
  const logger = createLogger(config.logLevel, { worker: 'primary' });
  // Once, before any worker: knex's migration lock makes simultaneous migrators fail, not wait.
  const app = await build(config, logger, config.migrateOnStart);
  try {
    if (demo) await printDemo(app);
  } finally {
    app.oidc.stop();
    await app.db.destroy();
  }

  cluster.schedulingPolicy = cluster.SCHED_RR; // before the first fork; the default except on Windows
  // Each process has its own line of password hashes, one per core by default: N workers share
  // the cores between them, or N lines would run N hashes per core.
  const perWorker = process.env.PASSWORD_HASH_CONCURRENCY?.trim()
    ? {}
    : { PASSWORD_HASH_CONCURRENCY: String(Math.max(1, Math.ceil(defaultHashConcurrency() / count))) };
  const slots = new Map<number, Slot>();
  let stopping = false;
  let announced = false;

  const fork = (n: number) => {
    const slot = slots.get(n) ?? { forkedAt: 0, deaths: 0, listened: false };
    slots.set(n, slot);
    slot.forkedAt = Date.now();
    slot.restart = undefined;
    const worker = cluster.fork({ [SLOT_ENV]: String(n), ...perWorker });
    slot.worker = worker;
    worker.once('listening', (address: AddressInfo) => {
      slot.listened = true;
      if (!announced && [...slots.values()].filter((s) => s.listened).length === count) {
        announced = true;
        const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
        logger.info('journal-id listening', { url: `http://${host}:${address.port}`, workers: count, pid: process.pid, ...describe(config, app) });
      }
    });
    worker.once('exit', (code, signal) => {
      if (stopping) return;
      const pid = worker.process.pid;
      // A worker that never started (a taken port, a database refusing us) would fail again.
      if (!slot.listened) {
        logger.error('worker failed to start; stopping', { failed: n, pid, code, signal });
        void stop('worker failed to start', 1);
        return;
      }
      slot.deaths = Date.now() - slot.forkedAt > HEALTHY_AFTER_MS ? 1 : slot.deaths + 1;
      const delayMs = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** (slot.deaths - 1));
      logger.warn('worker died; restarting it', { died: n, pid, code, signal, restartInMs: delayMs });
      slot.restart = setTimeout(() => fork(n), delayMs);
    });
  };

  const stop = async (reason: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { reason, workers: count });
    for (const s of slots.values()) clearTimeout(s.restart);
    const alive = [...slots.values()].map((s) => s.worker!).filter((w) => !w.isDead());
    // Each worker closes its server and its pool on SIGTERM (serveWorker), then exits.
    const killer = setTimeout(() => alive.forEach((w) => w.isDead() || w.process.kill('SIGKILL')), STOP_GRACE_MS);
    await Promise.all(
      alive.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.once('exit', () => resolve());
            if (w.isDead()) resolve();
            else w.process.kill('SIGTERM');
          }),
      ),
    );
    clearTimeout(killer);
    logger.info('stopped');
    process.exit(exitCode);
  };
  onStopSignal((signal) => stop(signal, 0));
  // A scrape reaches one worker, which asks here for the sum over all of them.
  aggregateWorkerMetrics(logger);

  for (let n = 1; n <= count; n++) fork(n);
  return -1; // keep running
}
