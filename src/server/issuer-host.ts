/**
 * Absolute URLs from ISSUER only. oidc-provider builds its endpoint URLs (discovery, the resume
 * redirect after a login, the logout form, registration_client_uri…) on the request's URL
 * (`new URL(path, ctx.href)`), which Koa takes from X-Forwarded-Host behind a trusted proxy, from
 * the Host header, or from an absolute request target (`GET http://evil.example/ HTTP/1.1`). A
 * client choosing any of those would choose where the provider sends a browser next, and a shared
 * cache could keep that answer for others. So from here on the request's host and URL are
 * ISSUER's, whatever the request says.
 *
 * Only the host and the URL: the scheme the connection used (ctx.protocol, ctx.secure) stays, as
 * cookies' Secure flag follows it. What must see the Host a client asked for (a school's own
 * host, pages/routes.ts) runs before this.
 */
import type { Context, Middleware, Next } from 'koa';

export function issuerHost(issuer: string): Middleware {
  const { origin, host, hostname } = new URL(issuer);
  return async function issuerHostMiddleware(ctx: Context, next: Next) {
    const href = `${origin}${pathAndQuery(ctx.originalUrl)}`;
    // Own properties of this request's object shadow Koa's getters (ctx.host etc. delegate to them).
    Object.defineProperties(ctx.request, {
      host: { value: host, configurable: true },
      hostname: { value: hostname, configurable: true },
      href: { value: href, configurable: true },
      URL: { get: () => parsed(href), configurable: true },
    });
    return next();
  };
}

/** Like Koa's ctx.URL: an empty object for a URL that does not parse, never a throw. */
function parsed(href: string): URL {
  try {
    return new URL(href);
  } catch {
    return Object.create(null) as URL;
  }
}

/** The path and query of a request target, in origin form even when the target is absolute. */
function pathAndQuery(target: string): string {
  if (/^https?:\/\//i.test(target)) {
    try {
      const url = new URL(target);
      return `${url.pathname}${url.search}`;
    } catch {
      return '/';
    }
  }
  return target.startsWith('/') ? target : `/${target}`;
}
