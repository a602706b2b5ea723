/**
 * The database away during a request to one of oidc-provider's own endpoints (issue 16.10).
 * oidc-provider answers any error it does not know as 500 `server_error` (and /auth may redirect
 * it to the app). A database outage is neither a bug nor the app's business: the token,
 * userinfo, introspection and other JSON endpoints answer 503 `temporarily_unavailable` (RFC 6749
 * §4.1.2.1's code) with Retry-After, like our own API routes; its HTML pages (/auth and the like)
 * are rendered by `renderError` (pages.ts), which classifies the same way.
 *
 * The provider's error handlers emit `server_error` with the original error after writing their
 * answer; the event marks the request, and a middleware around the provider's routes rewrites the
 * JSON answer on the way out.
 */
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { isDatabaseUnavailable, DATABASE_RETRY_AFTER_SECONDS } from '../db/unavailable.js';

const OUTAGE = Symbol('database unavailable');

type Marked = { state?: Record<string | symbol, unknown> };

export function answerDatabaseOutages(provider: Provider): void {
  provider.on('server_error', (ctx: KoaContextWithOIDC, err: unknown) => {
    if (ctx?.state && isDatabaseUnavailable(err)) (ctx as unknown as Marked).state![OUTAGE] = true;
  });
  provider.use(async (ctx, next) => {
    await next();
    if (!(ctx as unknown as Marked).state?.[OUTAGE]) return;
    const body = ctx.body as { error?: unknown } | undefined;
    // Only the JSON answer: a page was rendered by renderError already (503, in Russian).
    if (body && typeof body === 'object' && !Buffer.isBuffer(body) && body.error === 'server_error') {
      ctx.status = 503;
      ctx.set('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
      ctx.body = { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable, try again shortly' };
    }
  });
}
