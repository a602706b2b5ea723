/**
 * Logging in to the console: a real authorization-code flow with PKCE against journal-id's own
 * endpoints, like any relying party. The login state (state, nonce, verifier) waits in a signed
 * cookie; the code is exchanged at /token with the console's secret; the ID token is checked
 * (iss, aud, nonce, exp) and its `amr` must show a second factor or Gosuslugi (precision of
 * issue 6). The console's own session is a signed cookie `<sub>.<expires ms>`, re-checked
 * against the account (still a curator, not disabled) on every request.
 */
import type { Context } from 'koa';
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { AppContext } from '../server/context.js';
import { findAccountById } from '../accounts/queries.js';
import { safeEqual } from '../crypto/sealed.js';
import { CONSOLE_CLIENT_ID, consoleClientSecret } from './console-client.js';
import { actorOf, type Actor } from './scope.js';

const LOGIN_COOKIE = 'jid_console_login';
const SESSION_COOKIE = 'jid_console';
const SESSION_MS = 60 * 60 * 1000;
/** What counts as a strong login for the console. */
const STRONG_AMR = ['otp', 'esia'];

const cookieOptions = (app: AppContext) => ({ signed: true, httpOnly: true, sameSite: 'lax' as const, path: '/console', secure: app.config.issuer.startsWith('https://'), overwrite: true });

export async function consoleActor(app: AppContext, ctx: Context): Promise<Actor | undefined> {
  const raw = ctx.cookies.get(SESSION_COOKIE, { signed: true });
  const [sub, until] = raw?.split('.') ?? [];
  if (!sub || !(Number(until) > Date.now())) return undefined;
  const user = await findAccountById(app.db, sub);
  return user ? actorOf(user) : undefined;
}

export function startConsoleLogin(app: AppContext, ctx: Context, fresh = false): void {
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const verifier = randomBytes(32).toString('base64url');
  ctx.cookies.set(LOGIN_COOKIE, [state, nonce, verifier].join('.'), { ...cookieOptions(app), maxAge: 15 * 60 * 1000 });
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
    ...(fresh ? { prompt: 'login' } : {}),
  }).toString();
  ctx.redirect(url.toString());
}

export type CallbackOutcome = { ok: true } | { ok: false; reason: 'state' | 'exchange' | 'weak' | 'not_curator' };

export async function finishConsoleLogin(app: AppContext, ctx: Context): Promise<CallbackOutcome> {
  const saved = ctx.cookies.get(LOGIN_COOKIE, { signed: true })?.split('.') ?? [];
  ctx.cookies.set(LOGIN_COOKIE, null, cookieOptions(app));
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
  const amr = Array.isArray(claims.amr) ? claims.amr : [];
  if (!amr.some((m) => STRONG_AMR.includes(String(m)))) return { ok: false, reason: 'weak' };
  const user = await findAccountById(app.db, String(claims.sub));
  if (!user || !actorOf(user)) return { ok: false, reason: 'not_curator' };
  ctx.cookies.set(SESSION_COOKIE, `${user.id}.${Date.now() + SESSION_MS}`, { ...cookieOptions(app), maxAge: SESSION_MS });
  return { ok: true };
}

export function endConsoleSession(app: AppContext, ctx: Context): void {
  ctx.cookies.set(SESSION_COOKIE, null, cookieOptions(app));
}
