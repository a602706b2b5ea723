/**
 * Discovery and JWKS as ready bytes: the provider builds both documents anew on every request,
 * though they change only when the provider is rebuilt (signing keys rotated, provider.ts). The
 * first answer of each provider instance is kept as a string and served as it was — with the
 * provider's CORS answer (any origin may read them) — until the next rebuild.
 *
 * Discovery's endpoint URLs follow the request's origin (oidc-provider's urlFor), so it is kept per
 * origin, for a bounded number of origins: a client making up Host headers only gets uncached
 * answers, never a growing cache.
 */
import type { Context, Middleware, Next } from 'koa';
import type { OidcService } from './provider.js';

const DISCOVERY = '/.well-known/openid-configuration';
const JWKS = '/jwks';
const MAX_ORIGINS = 16;

export function cachedDocuments(oidc: OidcService): Middleware {
  let provider: unknown;
  let kept = new Map<string, { body: string; type: string }>();
  return async function cachedDocumentsMiddleware(ctx: Context, next: Next) {
    if ((ctx.path !== DISCOVERY && ctx.path !== JWKS) || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    if (oidc.provider !== provider) {
      provider = oidc.provider;
      kept = new Map();
    }
    // (Koa 3's ctx.origin is the Origin header, not this request's own origin.)
    const key = ctx.path === JWKS ? JWKS : `${ctx.protocol}://${ctx.host}${DISCOVERY}`;
    const hit = kept.get(key);
    if (!hit) {
      await next();
      if (ctx.status === 200 && ctx.body && typeof ctx.body === 'object' && !Buffer.isBuffer(ctx.body) && kept.size < MAX_ORIGINS + 1) {
        const body = JSON.stringify(ctx.body);
        kept.set(key, { body, type: ctx.response.get('content-type') });
        ctx.body = body;
      }
      return;
    }
    // What the provider's CORS middleware answers for these public documents.
    ctx.set('access-control-allow-origin', ctx.get('origin') || '*');
    ctx.vary('Origin');
    ctx.type = hit.type;
    ctx.body = hit.body;
  };
}
