/**
 * Per-request plumbing: a request id (taken from X-Request-Id only behind a trusted proxy), a
 * logger carrying it, one access-log line per request, and the security headers every page gets.
 */
import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from './logger.js';
import { observeRequest } from '../metrics/registry.js';
import { routeLabel } from '../metrics/route-label.js';
import type { LoggedOutcome } from '../metrics/outcomes.js';

/** Route patterns whose parameter is a secret (`/recover/:token`, `/verify/:token`). */
const SECRET_IN_PATH = /:(token|code)\b/;

export function requestContext(logger: Logger, { trustProxy }: { trustProxy: boolean }) {
  return async function requestContextMiddleware(ctx: Context, next: Next): Promise<void> {
    const given = ctx.get('x-request-id');
    const requestId = trustProxy && /^[\w.-]{8,128}$/.test(given) ? given : randomUUID();
    ctx.state.requestId = requestId;
    ctx.state.log = logger.child({ requestId });
    ctx.set('x-request-id', requestId);
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const oidc = (ctx as { oidc?: { client?: { clientId?: string } } }).oidc;
      const route = routeLabel(ctx);
      observeRequest(ctx.method, route, ctx.status, ms / 1000);
      // The outcome a handler recorded (metrics/outcomes.ts): what happened, for which school and app.
      const { event, outcome, school, clientId } = ctx.state as LoggedOutcome;
      (ctx.state.log as Logger).info('request', {
        method: ctx.method,
        // Never the query (it may hold codes), nor a path that holds a single-use link's token.
        path: SECRET_IN_PATH.test(route) ? route : ctx.path,
        route,
        status: ctx.status,
        ms: Math.round(ms * 10) / 10,
        ip: ctx.ip,
        clientId: clientId ?? oidc?.client?.clientId,
        school,
        event,
        outcome,
      });
    }
  };
}

export function securityHeaders({ hsts }: { hsts: boolean }) {
  return async function securityHeadersMiddleware(ctx: Context, next: Next): Promise<void> {
    // Set before the provider runs: it adds hashes of its own inline scripts (form_post) to script-src.
    // No form-action: it would break form_post responses and logout redirects to relying parties.
    ctx.set(
      'content-security-policy',
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    );
    ctx.set('x-content-type-options', 'nosniff');
    ctx.set('referrer-policy', 'no-referrer');
    ctx.set('x-frame-options', 'DENY');
    ctx.set('cross-origin-opener-policy', 'same-origin');
    if (hsts && ctx.secure) ctx.set('strict-transport-security', 'max-age=31536000; includeSubDomains');
    await next();
  };
}
