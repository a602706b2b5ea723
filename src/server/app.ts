/**
 * The Koa application: plumbing first (request id, headers, errors, body parsing), then our
 * routes (health, pages, interactions), then oidc-provider for everything else.
 */
import Koa from 'koa';
import Router from '@koa/router';
import { koaBody } from 'koa-body';
import fs from 'node:fs';
import path from 'node:path';
import type { AppContext } from './context.js';
import { errorBoundary } from './errors.js';
import { requestAudit } from '../audit/bound.js';
import { requestContext, securityHeaders } from './request-context.js';
import { PUBLIC_DIR } from './paths.js';
import { guardBody, guardUrl } from './input-guard.js';
import { issuerHost } from './issuer-host.js';
import { cachedDocuments, jwksMaxAgeSeconds } from '../oidc/cached-documents.js';
import { registerHealthRoutes } from './health.js';
import { registerLoginRoutes } from '../login/routes.js';
import { registerConsentRoutes } from '../consent/routes.js';
import { registerPageRoutes, schoolHostRedirect } from '../pages/routes.js';
import { registerSignupRoutes } from '../signup/routes.js';
import { registerSchoolRoutes } from '../schools/routes.js';
import { registerRecoveryRoutes } from '../recovery/routes.js';
import { registerVerifyRoutes } from '../verify/routes.js';
import { registerAccountRoutes } from '../account/routes.js';
import { registerEsiaRoutes } from '../esia/routes.js';
import { esiaLogoutAfterEndSession, registerEsiaLogoutRoutes } from '../esia/logout.js';
import { registerCuratorRoutes } from '../curator/routes.js';
import { registerAdminApiRoutes } from '../admin-api/routes.js';
import { curatorAreaGuard } from '../curator/console-auth.js';
import { registerPlatformRoutes } from '../platform/routes.js';
import { metricsEndpoint } from '../metrics/endpoint.js';

const PROVIDER_JSON_PATHS = new Set(['/.well-known/openid-configuration', '/jwks', '/token', '/token/introspection', '/token/revocation', '/me']);

export function buildApp(app: AppContext): Koa {
  const koa = new Koa();
  // oidc-provider under koa-mount reads and writes cookies through this app: same keys (notes A2).
  koa.keys = app.config.secrets.cookieKeys;
  koa.proxy = app.config.trustProxy;
  // The client address is the one our proxy appended to X-Forwarded-For: entries before it were
  // sent by the client and would let anyone pick the address throttling and the audit log see.
  koa.maxIpsCount = 1;
  koa.silent = true; // errors are logged by errorBoundary and the provider's events

  koa.use(requestContext(app.logger, { trustProxy: app.config.trustProxy }));
  koa.use(requestAudit(app.db)); // ctx.state.audit: the request's bound audit writer (audit/bound.ts)
  koa.use(securityHeaders({ hsts: app.config.trustProxy || app.config.issuer.startsWith('https://') }));
  koa.use(errorBoundary(app.logger));
  koa.use(metricsEndpoint(app)); // GET /metrics for the operator's Prometheus only (else a 404 like any path)
  koa.use(guardUrl);
  koa.use(schoolHostRedirect(app));
  // After the school's host is read: from here every absolute URL is built on ISSUER (issue 16.9).
  koa.use(issuerHost(app.config.issuer));
  koa.use(staticFiles());
  // The provider's JSON endpoints (its default routes; no page or form of ours lives there) skip
  // the router, which would match every request against all of our routes before giving up.
  koa.use(cachedDocuments(app.oidc, { maxAgeSeconds: jwksMaxAgeSeconds(app.config.keys.publishDelaySeconds) }));
  koa.use((ctx, next) => (PROVIDER_JSON_PATHS.has(ctx.path) ? app.oidc.middleware(ctx, next) : next()));

  const router = buildRouter(app);
  koa.use(router.routes());
  koa.use(router.allowedMethods());

  koa.use(esiaLogoutAfterEndSession(app)); // a full logout of a Gosuslugi session ends ESIA's too
  koa.use(app.oidc.middleware);
  return koa;
}

/**
 * Our routes: pages, forms and the admin API (the provider's own routes are not here). Exported so
 * that tests can list them (every HTML page is checked in the browser: test/browser/page-inventory).
 */
export function buildRouter(app: AppContext): Router {
  const router = new Router();
  // Our forms only: oidc-provider parses its own bodies, so the parser must not run on its routes.
  const forms = koaBody({
    urlencoded: true,
    json: false,
    multipart: false,
    text: false,
    formLimit: '32kb',
    onError: (err, ctx) => ctx.throw(/too large/i.test(err.message) ? 413 : 400, 'bad request body'),
  });
  router.post(/^\/(interaction|register)\//, forms, guardBody);
  router.post('/register', forms, guardBody);
  router.post(/^\/(recover|verify|account|console)(\/|$)/, forms, guardBody);
  registerHealthRoutes(router, app);
  registerPageRoutes(router, app);
  registerLoginRoutes(router, app);
  registerConsentRoutes(router, app);
  registerSignupRoutes(router, app);
  registerSchoolRoutes(router, app);
  registerRecoveryRoutes(router, app);
  registerVerifyRoutes(router, app);
  registerAccountRoutes(router, app);
  registerEsiaRoutes(router, app);
  registerEsiaLogoutRoutes(router, app);
  registerAdminApiRoutes(router, app);
  // Before every console route: the curator's pages refuse platform staff (one place).
  router.use(curatorAreaGuard(app));
  registerPlatformRoutes(router, app);
  registerCuratorRoutes(router, app);
  return router;
}

/** /static/*: the stylesheet and images, read once. */
function staticFiles(): Koa.Middleware {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of fs.readdirSync(PUBLIC_DIR)) {
    files.set(`/static/${name}`, { body: fs.readFileSync(path.join(PUBLIC_DIR, name)), type: path.extname(name) });
  }
  return async (ctx, next) => {
    const file = ctx.method === 'GET' || ctx.method === 'HEAD' ? files.get(ctx.path) : undefined;
    if (!file) return next();
    ctx.type = file.type;
    ctx.set('cache-control', 'public, max-age=3600');
    ctx.body = file.body;
  };
}
