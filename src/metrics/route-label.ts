/**
 * The `route` of a request for the latency histogram and the access log: the pattern our router
 * matched (`/interaction/:uid/login`, `/recover/:token`), or the name of the provider's route
 * (`token`, `authorization`, `resume`…), never the raw path (paths hold interaction ids and
 * single-use link tokens). A pattern counts only if it is one of the router's own; anything
 * else (a path nobody serves) is `other`.
 */
import type { Context } from 'koa';
import { OTHER, oneOf } from './registry.js';

/** oidc-provider 9's route names (lib/helpers/initialize_app.js) of the features journal-id uses. */
const PROVIDER_ROUTES = [
  'authorization', 'resume', 'token', 'userinfo', 'jwks', 'discovery', 'registration', 'client',
  'client_update', 'client_delete', 'revocation', 'introspection', 'end_session',
  'end_session_confirm', 'end_session_success', 'pushed_authorization_request',
] as const;

/** Answered before any router (the provider's documents kept as bytes, the stylesheet, the metrics). */
const FIXED_PATHS: Record<string, string> = {
  '/.well-known/openid-configuration': 'discovery',
  '/jwks': 'jwks',
  '/metrics': '/metrics',
};

interface RouterLike {
  stack: { path: unknown; methods: string[] }[];
}

const patternsOf = new WeakMap<RouterLike, Set<string>>();

/** The router's route patterns (layers with methods; `router.use` middleware has none). */
function patterns(router: RouterLike): Set<string> {
  let set = patternsOf.get(router);
  if (!set) {
    set = new Set(router.stack.filter((l) => l.methods.length > 0 && typeof l.path === 'string').map((l) => l.path as string));
    patternsOf.set(router, set);
  }
  return set;
}

export function routeLabel(ctx: Context): string {
  const oidcRoute = (ctx as { oidc?: { route?: string } }).oidc?.route;
  if (oidcRoute) return oneOf(PROVIDER_ROUTES, oidcRoute);
  const c = ctx as Context & { _matchedRoute?: unknown; router?: RouterLike };
  if (typeof c._matchedRoute === 'string' && c.router && Array.isArray(c.router.stack) && patterns(c.router).has(c._matchedRoute)) return c._matchedRoute;
  if (ctx.path.startsWith('/static/') && ctx.status < 400) return '/static/:file';
  return FIXED_PATHS[ctx.path] ?? OTHER;
}
