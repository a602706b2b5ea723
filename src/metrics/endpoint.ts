/**
 * `GET /metrics`: the Prometheus text format, for the operator's Prometheus only.
 *
 * With `METRICS_TOKEN` set the scraper sends `Authorization: Bearer <token>` (compared in constant
 * time). Without it only a peer on this machine's loopback that did not come through the reverse
 * proxy (no X-Forwarded-For, Forwarded or X-Real-IP) is answered — a sidecar or a local agent.
 * Everyone else gets the same 404 as for any unknown path: the endpoint is not revealed.
 *
 * The process series come from registry.ts (all workers' with `serve --workers N`, cluster.ts).
 * The outbox gauges are read from the database at scrape time, once per scrape (one statement on
 * the partial index of pending letters), never per request; they are the database's, the same
 * whichever worker answers, so they are not summed over workers.
 */
import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import type { Context, Middleware, Next } from 'koa';
import { Gauge, Registry } from 'prom-client';
import type { AppContext } from '../server/context.js';
import type { Logger } from '../server/logger.js';
import { safeEqual } from '../crypto/sealed.js';
import { pendingBacklog } from '../email/outbox.js';
import { registry, watchPool } from './registry.js';
import { processMetrics } from './cluster.js';

export const METRICS_PATH = '/metrics';
const DATABASE_TIMEOUT_MS = 2_000;

export interface Peer {
  /** The TCP peer (never X-Forwarded-For). */
  remoteAddress: string | undefined;
  headers: IncomingHttpHeaders;
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  if (net.isIPv4(a)) return a.startsWith('127.');
  return a === '::1';
}

/** Whether this request may read the metrics. */
export function metricsAllowed(peer: Peer, token: string | undefined): boolean {
  if (token) {
    const m = /^Bearer ([^\s]+)$/i.exec(peer.headers.authorization ?? '');
    return Boolean(m) && safeEqual(m![1]!, token);
  }
  const { headers } = peer;
  const proxied = headers['x-forwarded-for'] !== undefined || headers.forwarded !== undefined || headers['x-real-ip'] !== undefined;
  return !proxied && isLoopback(peer.remoteAddress);
}

export function metricsEndpoint(app: AppContext): Middleware {
  watchPool(app.db);
  const database = databaseGauges(app, app.logger);
  return async function metricsMiddleware(ctx: Context, next: Next) {
    if (ctx.path !== METRICS_PATH) return next();
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || !metricsAllowed({ remoteAddress: ctx.req.socket.remoteAddress, headers: ctx.headers }, app.config.metricsToken)) {
      return next(); // answered like any path nobody serves
    }
    ctx.set('cache-control', 'no-store');
    const [own, db] = await Promise.all([processMetrics().catch((err: Error) => err), database()]);
    if (own instanceof Error) {
      // A worker did not answer the primary in time: no partial sums (counters would seem to drop).
      app.logger.warn('metrics unavailable', { error: own.message });
      ctx.status = 503;
      ctx.type = 'text/plain';
      ctx.body = 'metrics unavailable, try again\n';
      return;
    }
    ctx.type = registry.contentType;
    ctx.body = own + db;
  };
}

/** The outbox gauges, in a registry of this app's own (tests run several apps in one process). */
function databaseGauges(app: AppContext, logger: Logger): () => Promise<string> {
  const reg = new Registry();
  const backlog = new Gauge({ name: 'outbox_backlog', help: 'Letters waiting to be sent (mail_outbox, pending)', registers: [reg] });
  const oldest = new Gauge({
    name: 'outbox_oldest_age_seconds',
    help: 'How long the oldest letter waiting to be sent has waited (0 when none waits)',
    registers: [reg],
  });
  return async () => {
    try {
      const state = await Promise.race([
        pendingBacklog(app.db),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('database timeout')), DATABASE_TIMEOUT_MS).unref()),
      ]);
      backlog.set(state.pending);
      oldest.set(state.oldestSeconds);
      return await reg.metrics();
    } catch (err) {
      // The process's metrics are still worth having; the outbox's series are absent this time.
      logger.warn('metrics: the outbox could not be read', { error: (err as Error).message });
      return '';
    }
  };
}
