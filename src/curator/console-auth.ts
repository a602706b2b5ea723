/**
 * Logging in to the console: a real authorization-code flow with PKCE against journal-id's own
 * endpoints, like any relying party. The login state (state, nonce, verifier) waits in a signed
 * cookie; the code is exchanged at /token with the console's secret; the ID token is checked
 * (iss, aud, nonce, exp, auth_time within the idle timeout: max_age) and its `amr` must show a
 * second factor, or Gosuslugi over a link the holder confirmed with their password and second
 * factor (issue 6; issue 16.1: a link made from data someone else entered never opens the
 * console). The console's own session lives server-side (console-sessions.ts; issue 16, item 3):
 * the cookie carries a random id only, the row ends with «Выйти из консоли», with endSessions()
 * of the account, with a role revocation, after 30 idle minutes and after 8 hours at the latest
 * (settings). Every request also re-checks the account (still a curator, admin or support, not
 * disabled), so a revoked role ends access at the next request even on another node.
 *
 * Curators log in with their school's login form; platform staff (no school) start from
 * `/console/platform`, whose login carries the platform hint (src/platform/login.ts).
 */
import { actAs } from '../audit/bound.js';
import type { Context, Next } from 'koa';
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { AppContext } from '../server/context.js';
import { findAccountById, type Account } from '../accounts/queries.js';
import { linkOf } from '../esia/queries.js';
import { safeEqual } from '../crypto/sealed.js';
import { CONSOLE_CLIENT_ID, consoleClientSecret } from './console-client.js';
import { actorOf, CURATOR, type Actor } from './scope.js';
import { renderMessage, tr } from '../server/views.js';
import { firstStepLeft, signedInHere } from '../login/steps.js';
import { createConsoleSession, endConsoleSession as endSessionRow, useConsoleSession } from './console-sessions.js';

/** Where platform staff's console starts; the hint that shows their login form. */
export const PLATFORM_HOME = '/console/platform';
export const PLATFORM_HINT = 'platform';
const PLATFORM_AREA = /^\/console\/platform(\/|$)/i;
/** Console paths of every role: logging in and out. */
const OPEN_PATHS = new Set(['/console/login', '/console/callback', '/console/logout']);

const LOGIN_COOKIE = 'jid_console_login';
const SESSION_COOKIE = 'jid_console';
/** Clock skew tolerated on the ID token's auth_time (one service, but several nodes). */
const AUTH_TIME_SKEW_MS = 60_000;
/** A second factor in the login itself. */
const SECOND_FACTOR_AMR = 'otp';
const ESIA_AMR = 'esia';

// Secure follows the connection (TLS, or a trusted proxy's https), like oidc-provider's cookies:
// forcing it on a plain-HTTP request makes the cookie library throw (a 500 on /console).
const cookieOptions = { signed: true, httpOnly: true, sameSite: 'lax' as const, path: '/console', overwrite: true };

/** The actor of this request's console session, any role (once per request). */
export async function consoleActor(app: AppContext, ctx: Context): Promise<Actor | undefined> {
  if (ctx.state.consoleActor !== undefined) return (ctx.state.consoleActor as Actor | null) ?? undefined;
  const id = ctx.cookies.get(SESSION_COOKIE, { signed: true });
  const sub = id ? await useConsoleSession(app.db, id, app.config.console) : undefined;
  const user = sub ? await findAccountById(app.db, sub) : undefined;
  if (user && firstStepLeft(signedInHere(ctx, user))) {
    // A step of the login is left (a one-time password set since): the console's login, which
    // oidc-provider resumes at that step, comes first; the session row stays for the way back.
    ctx.state.consoleActor = null;
    return undefined;
  }
  const actor = user ? await actorOf(app.db, user) : undefined;
  ctx.state.consoleActor = actor ?? null;
  if (actor) actAs(ctx, { type: 'user', id: actor.user.id }); // curators and platform staff act as themselves
  if (id && !actor) {
    // A session that ended (logged out, timed out, revoked): the cookie goes, and the person is
    // told why they must log in again instead of being sent into a login without a word.
    ctx.state.consoleSessionEnded = true;
    ctx.cookies.set(SESSION_COOKIE, null, cookieOptions);
    await endSessionRow(app.db, id); // timed out or no longer allowed: the row is dead either way
  }
  return actor;
}

/**
 * No console session on this request: a session that ended gets the console's «session ended»
 * page (401, a button to log in again with a fresh login); otherwise a page starts the login and
 * a form goes back to `home` — neither acts.
 */
export function consoleLoginNeeded(app: AppContext, ctx: Context, home = '/console'): void {
  if (ctx.state.consoleSessionEnded) {
    const t = tr(ctx);
    const login = PLATFORM_AREA.test(ctx.path) ? `${PLATFORM_HOME}/login` : '/console/login';
    return renderMessage(ctx, { title: t('console.session_ended.title'), paragraphs: [t('console.session_ended.text', { idle: app.config.console.idleMinutes, hours: app.config.console.absoluteHours })], backUrl: login, backText: t('console.session_ended.login') }, 401);
  }
  if (ctx.method === 'GET') return startConsoleLogin(app, ctx);
  ctx.redirect(home);
}

/** The console's 403 page: this area is not for the actor's role. */
export function refuseConsoleArea(ctx: Context): void {
  const t = tr(ctx);
  renderMessage(ctx, { title: t('platform.forbidden.title'), paragraphs: [t('platform.forbidden.text')] }, 403);
}

/**
 * The curator's pages refuse platform staff, in one place before every curator route runs, so no
 * curator page (present or future) can forget it; `/console` sends them to their own home. The
 * platform pages check their roles themselves (src/platform/routes.ts). Paths are compared
 * case-insensitively, as the router matches them.
 */
export function curatorAreaGuard(app: AppContext) {
  return async function curatorArea(ctx: Context, next: Next): Promise<void> {
    const path = ctx.path.toLowerCase();
    const curatorArea = (path === '/console' || path.startsWith('/console/')) && !PLATFORM_AREA.test(path) && !OPEN_PATHS.has(path.replace(/\/$/, ''));
    if (!curatorArea) return next();
    const actor = await consoleActor(app, ctx);
    if (!actor || actor.role === CURATOR) return next();
    if (ctx.method === 'GET' && path.replace(/\/$/, '') === '/console') return ctx.redirect(PLATFORM_HOME);
    refuseConsoleArea(ctx);
  };
}

/** Starts the console's OIDC login; from the platform pages, with the platform staff's login form. */
export function startConsoleLogin(app: AppContext, ctx: Context, fresh = false): void {
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const verifier = randomBytes(32).toString('base64url');
  ctx.cookies.set(LOGIN_COOKIE, [state, nonce, verifier].join('.'), { ...cookieOptions, maxAge: 15 * 60 * 1000 });
  const url = new URL('/auth', app.config.issuer);
  url.search = new URLSearchParams({
    client_id: CONSOLE_CLIENT_ID,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: `${app.config.issuer}/console/callback`,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...(PLATFORM_AREA.test(ctx.path) ? { school: PLATFORM_HINT } : {}),
    ...(fresh ? { prompt: 'login' } : {}),
    // The single sign-on session lives for days: without this, a browser left alone past the
    // console's idle end would get a new console session silently. An authentication older than
    // the idle timeout is asked for again (OIDC max_age; auth_time is checked on return).
    max_age: String(app.config.console.idleMinutes * 60),
  }).toString();
  ctx.redirect(url.toString());
}

export type CallbackOutcome = { ok: true } | { ok: false; reason: 'state' | 'exchange' | 'weak' | 'not_curator' };

export async function finishConsoleLogin(app: AppContext, ctx: Context): Promise<CallbackOutcome> {
  const saved = ctx.cookies.get(LOGIN_COOKIE, { signed: true })?.split('.') ?? [];
  ctx.cookies.set(LOGIN_COOKIE, null, cookieOptions);
  const [state, nonce, verifier] = saved;
  const code = typeof ctx.query.code === 'string' ? ctx.query.code : '';
  if (!state || !nonce || !verifier || typeof ctx.query.state !== 'string' || !safeEqual(ctx.query.state, state) || !code) return { ok: false, reason: 'state' };
  const res = await fetch(new URL('/token', app.config.issuer), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${CONSOLE_CLIENT_ID}:${consoleClientSecret(app.config)}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: `${app.config.issuer}/console/callback`, code_verifier: verifier }),
    signal: AbortSignal.timeout(10_000),
  }).catch(() => undefined);
  if (!res?.ok) return { ok: false, reason: 'exchange' };
  const body = (await res.json().catch(() => ({}))) as { id_token?: string };
  // Straight from our own token endpoint with client authentication (OIDC Core 3.1.3.7): the
  // claims are checked, the signature need not be.
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(body.id_token ?? '');
  } catch {
    return { ok: false, reason: 'exchange' };
  }
  if (claims.iss !== app.config.issuer || claims.aud !== CONSOLE_CLIENT_ID || claims.nonce !== nonce || !(Number(claims.exp) * 1000 > Date.now())) {
    return { ok: false, reason: 'exchange' };
  }
  if (!(Number(claims.auth_time) * 1000 >= Date.now() - app.config.console.idleMinutes * 60_000 - AUTH_TIME_SKEW_MS)) return { ok: false, reason: 'exchange' };
  const amr = (Array.isArray(claims.amr) ? claims.amr : []).map(String);
  const user = await findAccountById(app.db, String(claims.sub));
  if (!(await strongEnough(app, amr, user))) return { ok: false, reason: 'weak' };
  if (!user || !(await actorOf(app.db, user))) return { ok: false, reason: 'not_curator' };
  const previous = ctx.cookies.get(SESSION_COOKIE, { signed: true });
  if (previous) await endSessionRow(app.db, previous); // a new login replaces the browser's old session
  const id = await createConsoleSession(app.db, user.id, app.config.console);
  ctx.cookies.set(SESSION_COOKIE, id, { ...cookieOptions, maxAge: app.config.console.absoluteHours * 3600 * 1000 });
  return { ok: true };
}

/**
 * A code in this login, or Gosuslugi over a link its holder confirmed with the password and the
 * code (esia/guard.ts): a link made by a SNILS or email someone else entered proves nothing of
 * the holder, so it never opens the console.
 */
async function strongEnough(app: AppContext, amr: string[], user: Account | undefined): Promise<boolean> {
  if (amr.includes(SECOND_FACTOR_AMR)) return true;
  if (!amr.includes(ESIA_AMR) || !user) return false;
  return (await linkOf(app.db, user.id))?.proof === 'password_otp';
}

/** «Выйти из консоли»: the session's row goes, so a copy of the cookie is worth nothing too. */
export async function endConsoleSession(app: AppContext, ctx: Context): Promise<void> {
  const id = ctx.cookies.get(SESSION_COOKIE, { signed: true });
  if (id) await endSessionRow(app.db, id);
  ctx.cookies.set(SESSION_COOKIE, null, cookieOptions);
}
