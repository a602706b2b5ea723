/**
 * Pages outside an OIDC interaction: the home page, a school's own address, the privacy policy.
 */
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { AppContext } from '../server/context.js';
import { render, renderMessage, tr } from '../server/views.js';
import { schoolFromHint, rememberSchool } from '../schools/resolve.js';

export function registerPageRoutes(router: Router, app: AppContext): void {
  router.get('/', (ctx) => {
    const t = tr(ctx);
    renderMessage(ctx, { title: t('home.title'), paragraphs: [t('home.text')] });
  });

  // A school's own address (/s/1399): remember the school, then go on to the issuer's pages.
  router.get('/s/:school', async (ctx) => {
    const school = await schoolFromHint(app.db, ctx.params.school!.toLowerCase());
    if (!school) return renderMessage(ctx, { title: tr(ctx)('error.title'), paragraphs: [tr(ctx)('school.not_found')] }, 404);
    rememberSchool(ctx, school);
    ctx.redirect(`/?school=${encodeURIComponent(school.slug)}`);
  });

  router.get('/privacy', (ctx) => render(ctx, 'privacy', { pageTitle: tr(ctx)('privacy.title'), version: app.config.privacyPolicyVersion }));
}

/**
 * Requests to a school's own host (1399.<SCHOOL_HOST_DOMAIN>) go to the same path on the issuer
 * with `school=1399`: /auth and the interactions live on the issuer's host alone.
 * The host is the Host header the client sent (the proxy passes it through), not X-Forwarded-Host,
 * which deploy/Caddyfile sets to the site itself; it only picks a school and the target is ISSUER.
 */
export function schoolHostRedirect(app: AppContext): Middleware {
  const domain = app.config.schoolHostDomain;
  const issuer = new URL(app.config.issuer);
  return async (ctx, next) => {
    const host = hostnameOf(ctx.get('host'));
    if (!domain || host === issuer.hostname || !host.endsWith(`.${domain}`)) return next();
    const slug = host.slice(0, -domain.length - 1);
    if (!/^[a-z0-9-]{1,63}$/.test(slug)) return next();
    // The path is set, never resolved against the issuer: "//evil.example/x" is a path here,
    // where new URL(path, issuer) would make it another host (an open redirect).
    const target = new URL(issuer);
    target.pathname = ctx.path;
    for (const [k, v] of new URLSearchParams(ctx.querystring)) target.searchParams.append(k, v);
    target.searchParams.set('school', slug);
    ctx.redirect(target.toString());
  };
}

/** The host name of a Host header ('' when it is not one). */
function hostnameOf(header: string): string {
  if (!header) return '';
  try {
    return new URL(`http://${header}`).hostname.toLowerCase();
  } catch {
    return '';
  }
}
