/**
 * «Электронный журнал» as a relying party of journal-id: a small Koa app that
 *  - logs people in with the authorization code flow, PKCE (S256), state and nonce, the client
 *    authenticating with client_secret_basic (openid-client 6);
 *  - shows who they are: name, school, class, roles, children (ID token + userinfo);
 *  - refreshes its tokens (refresh_token grant; journal-id rotates the refresh token);
 *  - logs out: RP-initiated (end_session_endpoint) and back-channel (journal-id POSTs a signed
 *    logout token when the journal-id session ends elsewhere).
 * Sessions live in memory, keyed by a random id in an HttpOnly SameSite=Lax cookie: copy the
 * flow, not the store (a real app keeps sessions in Redis or a database shared by its nodes).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Koa, { type Context } from 'koa';
import Router from '@koa/router';
import { koaBody } from 'koa-body';
import pug from 'pug';
import * as oidc from 'openid-client';
import * as jose from 'jose';

export interface JournalWebOptions {
  /** journal-id, e.g. http://localhost:3000 (http only for development). */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Where this app is reached, e.g. http://localhost:8080: /callback and / are registered there. */
  baseUrl: string;
  /** The scopes asked for; the default is everything the journal's claims need. */
  scope?: string;
  /** Log lines (never a token): console by default. */
  log?: (line: string) => void;
}

/** name, school and class, roles, children; offline_access for a refresh token. */
export const DEFAULT_SCOPE = 'openid profile email school roles children offline_access';
const SESSION_COOKIE = 'journal_web_session';
const SESSION_TTL_MS = 8 * 3600 * 1000;
const LOGIN_TTL_MS = 10 * 60 * 1000;
const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

interface SignedIn {
  sub: string;
  /** journal-id's session id (the ID token's `sid`): what a back-channel logout names. */
  sid?: string;
  idToken: string;
  idClaims: oidc.IDToken;
  userinfo: oidc.UserInfoResponse;
  accessToken: string;
  accessExpiresAt?: number;
  refreshToken?: string;
  refreshedAt?: number;
}

export interface Session {
  id: string;
  /** Echoed by this app's forms (SameSite=Lax already keeps other sites' POSTs out). */
  csrf: string;
  expiresAt: number;
  /** A login under way: what the callback must see again. */
  login?: { state: string; nonce: string; verifier: string; startedAt: number };
  user?: SignedIn;
}

/** In-memory sessions; `endBy` is what a back-channel logout calls. */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  create(): Session {
    const s: Session = { id: randomBytes(32).toString('base64url'), csrf: randomBytes(16).toString('base64url'), expiresAt: Date.now() + SESSION_TTL_MS };
    this.sessions.set(s.id, s);
    return s;
  }

  get(id: string | undefined): Session | undefined {
    const s = id ? this.sessions.get(id) : undefined;
    if (s && s.expiresAt <= Date.now()) this.sessions.delete(s.id);
    return s && s.expiresAt > Date.now() ? s : undefined;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  /** Ends the signed-in sessions of journal-id's session `sid` (or, without one, of person `sub`). */
  endBy(who: { sid?: string; sub?: string }): number {
    let ended = 0;
    for (const s of this.sessions.values()) {
      const u = s.user;
      if (u && (who.sid ? u.sid === who.sid : u.sub === who.sub)) {
        this.sessions.delete(s.id);
        ended += 1;
      }
    }
    return ended;
  }

  signedIn(): number {
    return [...this.sessions.values()].filter((s) => s.user && s.expiresAt > Date.now()).length;
  }
}

const views = path.join(path.dirname(fileURLToPath(import.meta.url)), 'views');
const page = (name: string) => pug.compileFile(path.join(views, `${name}.pug`));
const homePage = page('home');
const messagePage = page('message');

const ROLE_NAMES: Record<string, string> = {
  student: 'ученик',
  parent: 'родитель',
  teacher: 'учитель',
  administration: 'администрация',
  curator: 'куратор журнала',
};

/** Builds the app; `main.ts` listens, the test starts it on a free port against a test server. */
export function createJournalWeb(opts: JournalWebOptions): { app: Koa; sessions: SessionStore } {
  const log = opts.log ?? ((line: string) => console.log(line));
  const base = opts.baseUrl.replace(/\/$/, '');
  const redirectUri = `${base}/callback`;
  const secure = base.startsWith('https:');
  const sessions = new SessionStore();

  // Discovery on first use (and again after a failure), so the app may start before journal-id.
  let discovered: Promise<oidc.Configuration> | undefined;
  const op = () =>
    (discovered ??= oidc
      .discovery(new URL(opts.issuer), opts.clientId, undefined, oidc.ClientSecretBasic(opts.clientSecret), {
        // Development only: journal-id in production is https.
        execute: new URL(opts.issuer).protocol === 'http:' ? [oidc.allowInsecureRequests] : [],
      })
      .catch((err: unknown) => {
        discovered = undefined;
        throw err;
      }));
  let jwks: ReturnType<typeof jose.createRemoteJWKSet> | undefined;
  const seenLogoutTokens = new Map<string, number>(); // jti → exp (ms): a replayed token is refused

  const cookie = (ctx: Context) => sessions.get(ctx.cookies.get(SESSION_COOKIE));
  const setCookie = (ctx: Context, s: Session | null) =>
    ctx.cookies.set(SESSION_COOKIE, s?.id ?? null, { httpOnly: true, sameSite: 'lax', secure, path: '/', overwrite: true });
  const render = (ctx: Context, status: number, title: string, text: string) => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = messagePage({ title, text });
  };
  const checkCsrf = (ctx: Context, s: Session) => {
    const sent = Buffer.from(String((ctx.request.body as Record<string, unknown> | undefined)?.csrf ?? ''));
    const want = Buffer.from(s.csrf);
    if (sent.length !== want.length || !timingSafeEqual(sent, want)) ctx.throw(403, 'Форма устарела: откройте страницу заново.');
  };

  const app = new Koa();
  const router = new Router();
  const forms = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '16kb' });

  app.use(async (ctx, next) => {
    ctx.set('cache-control', 'no-store');
    ctx.set('x-frame-options', 'DENY');
    ctx.set('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' " + new URL(opts.issuer).origin);
    try {
      await next();
    } catch (err) {
      const e = err as { status?: number; expose?: boolean; message: string };
      if (e.status && e.status < 500 && e.expose) return render(ctx, e.status, 'Ошибка', e.message);
      log(`journal-web: ${ctx.method} ${ctx.path}: ${(err as Error).name}: ${e.message}`);
      render(ctx, 502, 'Журнал недоступен', 'Не удалось связаться со службой входа. Попробуйте ещё раз через минуту.');
    }
  });

  router.get('/', async (ctx) => {
    const s = cookie(ctx);
    ctx.type = 'html';
    ctx.body = homePage({ title: '', user: s?.user ? profileOf(s.user) : undefined, csrf: s?.csrf });
  });

  // 1. To journal-id: PKCE verifier, state and nonce are kept in the (new) session.
  router.get('/login', async (ctx) => {
    const config = await op();
    const s = cookie(ctx) ?? sessions.create();
    const login = { verifier: oidc.randomPKCECodeVerifier(), state: oidc.randomState(), nonce: oidc.randomNonce(), startedAt: Date.now() };
    s.login = login;
    setCookie(ctx, s);
    ctx.redirect(
      oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: opts.scope ?? DEFAULT_SCOPE,
        code_challenge: await oidc.calculatePKCECodeChallenge(login.verifier),
        code_challenge_method: 'S256',
        state: login.state,
        nonce: login.nonce,
        // oidc-provider issues a refresh token (offline_access) only when consent was asked for.
        prompt: 'consent',
        ui_locales: 'ru',
      }).href,
    );
  });

  // 2. Back from journal-id: the code for tokens, then userinfo; a fresh session id (no fixation).
  router.get('/callback', async (ctx) => {
    const config = await op();
    const s = cookie(ctx);
    const login = s?.login;
    if (!s || !login || Date.now() - login.startedAt > LOGIN_TTL_MS) {
      return render(ctx, 400, 'Вход не начат', 'Эта ссылка входа устарела или открыта в другом браузере. Нажмите «Войти» ещё раз.');
    }
    s.login = undefined;
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, new URL(ctx.originalUrl, base), {
        pkceCodeVerifier: login.verifier,
        expectedState: login.state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      // The person refused («Отказать»), or the answer does not belong to this login.
      if (err instanceof oidc.AuthorizationResponseError && err.error === 'access_denied') {
        return render(ctx, 403, 'Вход отменён', 'Вы не разрешили журналу доступ к данным. Войти можно снова в любой момент.');
      }
      if (err instanceof oidc.AuthorizationResponseError || err instanceof oidc.ResponseBodyError) {
        log(`journal-web: login failed: ${err.error}`);
        return render(ctx, 400, 'Не удалось войти', 'Служба входа отказала. Нажмите «Войти» ещё раз.');
      }
      throw err;
    }
    const idClaims = tokens.claims()!;
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
    sessions.delete(s.id);
    const fresh = sessions.create();
    fresh.user = {
      sub: idClaims.sub,
      sid: typeof idClaims.sid === 'string' ? idClaims.sid : undefined,
      idToken: tokens.id_token!,
      idClaims,
      userinfo,
      accessToken: tokens.access_token,
      accessExpiresAt: tokens.expires_in ? Date.now() + tokens.expires_in * 1000 : undefined,
      refreshToken: tokens.refresh_token,
    };
    setCookie(ctx, fresh);
    ctx.redirect('/');
  });

  // 3. New tokens with the refresh token; journal-id rotates it, so the new one replaces it.
  router.post('/refresh', forms, async (ctx) => {
    const s = cookie(ctx);
    if (!s?.user) return ctx.redirect('/');
    checkCsrf(ctx, s);
    const u = s.user;
    if (!u.refreshToken) return render(ctx, 400, 'Нет refresh-токена', 'Журнал не выдал refresh-токен при входе (нужен scope offline_access).');
    const config = await op();
    let tokens: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;
    try {
      tokens = await oidc.refreshTokenGrant(config, u.refreshToken);
    } catch (err) {
      // invalid_grant: the grant is gone (logout everywhere, password reset, a reused token).
      if (err instanceof oidc.ResponseBodyError && err.error === 'invalid_grant') {
        sessions.delete(s.id);
        setCookie(ctx, null);
        return render(ctx, 401, 'Сеанс завершён', 'Журнал завершил этот сеанс. Войдите снова.');
      }
      throw err;
    }
    const idClaims = tokens.claims();
    s.user = {
      ...u,
      ...(tokens.id_token && idClaims ? { idToken: tokens.id_token, idClaims } : {}),
      userinfo: await oidc.fetchUserInfo(config, tokens.access_token, u.sub),
      accessToken: tokens.access_token,
      accessExpiresAt: tokens.expires_in ? Date.now() + tokens.expires_in * 1000 : undefined,
      refreshToken: tokens.refresh_token ?? u.refreshToken,
      refreshedAt: Date.now(),
    };
    ctx.redirect('/');
  });

  // 4a. RP-initiated logout: our session ends here, journal-id asks whether to leave it too.
  router.post('/logout', forms, async (ctx) => {
    const s = cookie(ctx);
    if (!s?.user) return ctx.redirect('/');
    checkCsrf(ctx, s);
    const config = await op();
    sessions.delete(s.id);
    setCookie(ctx, null);
    ctx.redirect(oidc.buildEndSessionUrl(config, { id_token_hint: s.user.idToken, post_logout_redirect_uri: `${base}/` }).href);
  });

  // 4b. Back-channel logout (OpenID Connect Back-Channel Logout 1.0, §2.5–2.8): journal-id's
  // session ended elsewhere; end ours. 200 when done (also when nothing was left), 400 otherwise.
  router.post('/backchannel-logout', forms, async (ctx) => {
    ctx.set('cache-control', 'no-store');
    const refuse = (description: string) => {
      log(`journal-web: back-channel logout refused: ${description}`);
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: description };
    };
    const token = (ctx.request.body as Record<string, unknown> | undefined)?.logout_token;
    if (typeof token !== 'string' || !token) return refuse('logout_token is missing');
    const config = await op();
    const server = config.serverMetadata();
    jwks ??= jose.createRemoteJWKSet(new URL(server.jwks_uri!));
    let claims: jose.JWTPayload;
    try {
      ({ payload: claims } = await jose.jwtVerify(token, jwks, {
        issuer: server.issuer,
        audience: opts.clientId,
        typ: 'logout+jwt',
        algorithms: server.id_token_signing_alg_values_supported ?? ['ES256', 'RS256'],
        requiredClaims: ['iat', 'exp', 'jti'],
        clockTolerance: 30,
      }));
    } catch (err) {
      return refuse(`the logout token is not valid: ${(err as Error).message}`);
    }
    const events = claims.events as Record<string, unknown> | undefined;
    const event = events?.[BACKCHANNEL_LOGOUT_EVENT];
    if (!event || typeof event !== 'object' || Array.isArray(event)) return refuse('events has no back-channel logout event');
    if ('nonce' in claims) return refuse('a logout token must not carry a nonce');
    const sid = typeof claims.sid === 'string' ? claims.sid : undefined;
    if (!sid && !claims.sub) return refuse('the logout token names neither sid nor sub');
    const now = Date.now();
    for (const [jti, exp] of seenLogoutTokens) if (exp < now) seenLogoutTokens.delete(jti);
    if (seenLogoutTokens.has(claims.jti!)) return refuse('this logout token was already used');
    seenLogoutTokens.set(claims.jti!, (claims.exp! + 30) * 1000);
    const ended = sessions.endBy({ sid, sub: claims.sub });
    log(`journal-web: back-channel logout: ${ended} session(s) ended`);
    ctx.status = 200;
    ctx.body = '';
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
  return { app, sessions };
}

/** What the page shows: the person from userinfo, the ID token's own claims, the tokens' times. */
function profileOf(u: SignedIn) {
  const info = u.userinfo as Record<string, unknown>;
  const school = info.school as { name?: string; number?: string } | undefined;
  const children = Array.isArray(info.children) ? (info.children as { name?: string; class?: string }[]) : [];
  const roles = Array.isArray(info.roles) ? (info.roles as string[]) : [];
  const time = (ms?: number) => (ms ? new Date(ms).toLocaleString('ru-RU', { timeZone: 'Europe/Moscow' }) + ' (МСК)' : '—');
  return {
    name: String(info.name ?? info.preferred_username ?? u.sub),
    school: school?.name,
    className: typeof info.class === 'string' ? info.class : undefined,
    roles: roles.map((r) => ROLE_NAMES[r] ?? r),
    children: children.map((c) => ({ name: String(c.name ?? ''), className: c.class ? String(c.class) : undefined })),
    email: typeof info.email === 'string' ? info.email : undefined,
    accessExpires: time(u.accessExpiresAt),
    idTokenExpires: time(u.idClaims.exp * 1000),
    refreshedAt: u.refreshedAt ? time(u.refreshedAt) : undefined,
    hasRefreshToken: Boolean(u.refreshToken),
    idClaims: JSON.stringify(u.idClaims, null, 2),
    userinfo: JSON.stringify(u.userinfo, null, 2),
  };
}
