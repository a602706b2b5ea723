/** Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the database answers). */
import type Router from '@koa/router';
import type { AppContext } from './context.js';
import { ping } from '../db/index.js';

export function registerHealthRoutes(router: Router, app: AppContext): void {
  router.get('/healthz', (ctx) => {
    ctx.set('cache-control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('cache-control', 'no-store');
    if (await databaseReachable(app)) {
      ctx.body = { status: 'ok', database: 'ok' };
    } else {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', database: 'unreachable' };
    }
  });
}

/** Whether the database answers within two seconds (readiness, and support's health page). */
export async function databaseReachable(app: AppContext): Promise<boolean> {
  try {
    await Promise.race([
      ping(app.db),
      new Promise((_, reject) => setTimeout(() => reject(new Error('database timeout')), 2000).unref()),
    ]);
    return true;
  } catch (err) {
    app.logger.warn('readiness check failed', { error: (err as Error).message });
    return false;
  }
}
