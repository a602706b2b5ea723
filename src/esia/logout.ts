/**
 * Logout at ESIA (issue 21.5): when the browser's session began with Gosuslugi (amr «esia»), a
 * full logout of journal-id — the relying party's end_session, or «Выйти на всех устройствах» at
 * /account — also sends the browser through ESIA's `/idp/ext/Logout`, so that a shared school
 * computer does not stay logged in to Gosuslugi. ESIA returns to `/esia/logout` on the origin of
 * the registered redirect URI (ESIA accepts only registered addresses); where the browser goes
 * from there was decided before, by oidc-provider (a registered post_logout_redirect_uri or its
 * own page), and travels in a signed cookie, never in a parameter anyone could set.
 * ESIA_LOGOUT=false turns it off.
 */
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { AppContext } from '../server/context.js';
import { renderMessage, tr } from '../server/views.js';

export const ESIA_LOGOUT_RETURN_PATH = '/esia/logout';
const RETURN_COOKIE = 'jid_esia_out';
const cookieOptions = { signed: true, httpOnly: true, sameSite: 'lax' as const, path: ESIA_LOGOUT_RETURN_PATH, overwrite: true };

/** Whether this logout should also end the ESIA session: the setting, and a session begun with Gosuslugi. */
export function endsEsiaSession(app: AppContext, amr: unknown): boolean {
  return Boolean(app.esia && app.config.esia.logout && Array.isArray(amr) && amr.includes('esia'));
}

/** ESIA's logout for this system, returning to our /esia/logout. */
export function esiaLogoutUrl(app: AppContext): string {
  const e = app.config.esia;
  const back = new URL(ESIA_LOGOUT_RETURN_PATH, e.redirectUri ?? app.config.issuer);
  const url = new URL('/idp/ext/Logout', `${e.url}/`);
  url.search = new URLSearchParams({ client_id: e.clientId!, redirect_url: back.toString() }).toString();
  return url.toString();
}

/** Sends the browser through ESIA's logout; afterwards to `then`, or (none) to the «you are logged out» page. */
export function throughEsiaLogout(app: AppContext, ctx: Context, then?: string): void {
  if (then) ctx.cookies.set(RETURN_COOKIE, Buffer.from(then).toString('base64url'), { ...cookieOptions, maxAge: 10 * 60_000 });
  else ctx.cookies.set(RETURN_COOKIE, null, cookieOptions);
  app.logger.info('ending the ESIA session too', { requestId: ctx.state.requestId });
  ctx.status = 303;
  ctx.redirect(esiaLogoutUrl(app));
}

/**
 * Placed before oidc-provider: after its end_session confirmation logged the browser out of
 * everything (`logout=yes`), a session begun with Gosuslugi goes through ESIA's logout before the
 * provider's own redirect.
 */
export function esiaLogoutAfterEndSession(app: AppContext): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST' || ctx.path !== '/session/end/confirm' || ctx.status !== 303) return;
    const oidc = (ctx as unknown as { oidc?: { params?: { logout?: unknown }; session?: { amr?: unknown } } }).oidc;
    if (!oidc?.params?.logout || !endsEsiaSession(app, oidc.session?.amr)) return;
    const then = ctx.response.get('location');
    throughEsiaLogout(app, ctx, then || undefined);
  };
}

export function registerEsiaLogoutRoutes(router: Router, app: AppContext): void {
  // Where ESIA sends the browser back: on to what the logout had decided, once.
  router.get(ESIA_LOGOUT_RETURN_PATH, (ctx) => {
    const cookie = ctx.cookies.get(RETURN_COOKIE, { signed: true });
    ctx.cookies.set(RETURN_COOKIE, null, cookieOptions);
    const then = cookie && Buffer.from(cookie, 'base64url').toString('utf8');
    if (then) {
      ctx.status = 303;
      return ctx.redirect(then);
    }
    const t = tr(ctx);
    renderMessage(ctx, { title: t('logout.title'), paragraphs: [t('logout.done')] });
  });
}
