/**
 * Discovery and JWKS as ready bytes: the provider builds both documents anew on every request,
 * though they change only when the provider is rebuilt (signing keys rotated, provider.ts). The
 * first answer of each provider instance is kept as a string and served as it was — with the
 * provider's CORS answer (any origin may read them) — until the next rebuild.
 *
 * Both carry `Cache-Control: public, max-age` and a strong ETag of their bytes (304 for a matching
 * If-None-Match), so relying parties cache them and revalidate cheaply. The max-age stays well
 * under the key publish delay (a new key is published that long before it signs): a relying
 * party that honours it has fetched the new key set before the first token signed with it.
 *
 * Discovery's endpoint URLs are built from ISSUER only (src/server/issuer-host.ts pins the host
 * the provider sees), so there is one discovery document whatever Host a request names.
 */
import type { Context, Middleware, Next } from 'koa';
import type { OidcService } from './provider.js';
import { etagOf, serveKept } from '../server/conditional-get.js';

const DISCOVERY = '/.well-known/openid-configuration';
const JWKS = '/jwks';

/** The longest a relying party may cache JWKS: a quarter of the publish delay, at most 5 minutes. */
export function jwksMaxAgeSeconds(publishDelaySeconds: number): number {
  return Math.max(0, Math.min(300, Math.floor(publishDelaySeconds / 4)));
}

interface Kept {
  body: string;
  type: string;
  etag: string;
}

export function cachedDocuments(oidc: OidcService, opts: { maxAgeSeconds: number }): Middleware {
  let provider: unknown;
  let kept = new Map<string, Kept>();
  const cacheControl = `public, max-age=${opts.maxAgeSeconds}`;
  return async function cachedDocumentsMiddleware(ctx: Context, next: Next) {
    if ((ctx.path !== DISCOVERY && ctx.path !== JWKS) || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    if (oidc.provider !== provider) {
      provider = oidc.provider;
      kept = new Map();
    }
    const hit = kept.get(ctx.path);
    if (!hit) {
      await next();
      if (ctx.status === 200 && ctx.body && typeof ctx.body === 'object' && !Buffer.isBuffer(ctx.body)) {
        const body = JSON.stringify(ctx.body);
        const entry = { body, type: ctx.response.get('content-type'), etag: etagOf(body) };
        kept.set(ctx.path, entry);
        serve(ctx, entry, cacheControl);
      }
      return;
    }
    // What the provider's CORS middleware answers for these public documents.
    ctx.set('access-control-allow-origin', ctx.get('origin') || '*');
    ctx.vary('Origin');
    serve(ctx, hit, cacheControl);
  };
}

function serve(ctx: Context, doc: Kept, cacheControl: string): void {
  ctx.set('cache-control', cacheControl);
  serveKept(ctx, doc);
}
