/**
 * Periodic clean-up of expired oidc rows, stale throttle counters and ended console sessions. Every node may run it: the
 * deletes are idempotent. Rows are kept a day past expiry so late requests still get precise errors.
 */
import { affected, type Db } from '../db/index.js';
import type { Logger } from '../server/logger.js';
import { purgeExpired } from './adapter-queries.js';
import { purgeFlows } from '../esia/queries.js';
import { purgeChallenges } from '../mfa/queries.js';
import { purgeConsoleSessions } from '../curator/console-sessions.js';

const KEEP_SECONDS = 24 * 60 * 60;

export interface PurgeResult {
  oidcModels: number;
  throttle: number;
}

export async function purgeOnce(db: Db): Promise<PurgeResult> {
  const oidcModels = await purgeExpired(db, KEEP_SECONDS);
  const res = await db('throttle')
    .whereRaw(`last_at < now() - interval '1 day'`)
    .andWhere((q) => q.whereNull('blocked_until').orWhereRaw('blocked_until < now()'))
    .del();
  await purgeFlows(db);
  await purgeChallenges(db);
  await purgeConsoleSessions(db);
  // (The device rows of app sign-ins go with their grant: a cascading key, migration 014.)
  return { oidcModels, throttle: affected(res) };
}

export function startPurge(db: Db, opts: { intervalSeconds: number; logger: Logger }): { stop(): void } {
  const { logger } = opts;
  const intervalMs = opts.intervalSeconds * 1000;
  if (!(intervalMs > 0)) throw new RangeError(`purge intervalSeconds must be positive, got ${opts.intervalSeconds}`);
  let running = false;
  let stopped = false;
  const run = async () => {
    if (running || stopped) return; // a slow run is not overlapped by the next tick
    running = true;
    try {
      const res = await purgeOnce(db);
      if (res.oidcModels || res.throttle) logger.info('purged expired rows', { ...res });
    } catch (err) {
      logger.error('purge failed', { err });
    } finally {
      running = false;
    }
  };
  // First run soon after start, so frequent restarts never starve the clean-up.
  const first = setTimeout(run, Math.min(1000, intervalMs));
  const timer = setInterval(run, intervalMs);
  first.unref();
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
    },
  };
}
