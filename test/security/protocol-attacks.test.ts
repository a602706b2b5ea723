/**
 * Issue 7, bullet 3 — protocol attacks (RFC 9700, ideas of the OpenID conformance suite) against
 * the real provider over HTTP, with real openid-client relying parties:
 * - A: the journal web app (confidential, first-party), registered https://journal.example.ru/callback;
 * - B: a third-party confidential app of the same school IT; D: the diary app (public, native).
 * Every attack must be refused: no redirect to an unregistered address (an error page instead),
 * no downgrade of PKCE, no second use of a code or refresh token (the family dies), no use of one
 * client's code or token by another, no logout redirect through a foreign id_token_hint.
 */
import { cliAudit } from '../../src/audit/bound.js';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import http from 'node:http';
import * as jose from 'jose';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, login, continueToRp, oidc, type StartedLogin } from '../helpers/rp.js';
import { recordCounts } from '../helpers/security-counts.js';
import { registerClient } from '../../src/clients/manage.js';

const FILE = 'protocol-attacks';
const counts: Record<string, number> = {};
const bump = (key: string, n: number) => (counts[`${FILE}.${key}`] = (counts[`${FILE}.${key}`] ?? 0) + n);
/** `n` attacks of a kind are about to be tried (counted before, whatever happens). */
const tried = (kind: string, n = 1) => {
  bump(kind, n);
  bump('attacks', n);
};
/** …and were refused: called only after the assertions that prove it passed. */
const refused = (n = 1) => bump('refused', n);

const A_REDIRECT = 'https://journal.example.ru/callback';
const A_REDIRECT_2 = 'https://journal.example.ru/callback2';
const A_LOGOUT = 'https://journal.example.ru/';
const B_REDIRECT = 'https://other.example.ru/cb';
const B_LOGOUT = 'https://other.example.ru/bye';
const D_REDIRECT = 'ru.journal.diary:/oauth2redirect';

let srv: TestServer;
let teacher: Awaited<ReturnType<typeof addAccount>>;
interface Rp {
  id: string;
  secret?: string;
  rp: oidc.Configuration;
  redirect: string;
}
let A: Rp;
let B: Rp;
let D: Rp;
/** A browser with a live session of the teacher (logged in once, consent to B given once). */
let session: Browser;

beforeAll(async () => {
  srv = await startTestServer({
    env: {
      JOURNAL_WEB_REDIRECT_URIS: `${A_REDIRECT},${A_REDIRECT_2}`,
      JOURNAL_WEB_POST_LOGOUT_REDIRECT_URIS: A_LOGOUT,
      SCHOOL_HOST_DOMAIN: 'eljur.test',
      RUN_WORKERS: 'false',
    },
  });
  const school = await addSchool(srv.db, { number: '1399', slug: '1399' });
  teacher = await addAccount(srv.app, school, { login: 'uchitel', kind: 'staff', roles: ['teacher'] });
  const b = await registerClient(srv.app, { client_name: 'Сторонний сервис', redirect_uris: [B_REDIRECT], post_logout_redirect_uris: [B_LOGOUT] }, cliAudit(srv.app.db));
  A = { id: 'journal-web', secret: srv.config.secrets.journalWebClientSecret, rp: await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret), redirect: A_REDIRECT };
  B = { id: b.client.client_id, secret: b.secret!, rp: await discover(srv.url, b.client.client_id, b.secret!), redirect: B_REDIRECT };
  D = { id: 'diary-app', rp: await discover(srv.url, 'diary-app'), redirect: D_REDIRECT };
  session = new Browser(srv.url);
  await login(session, await startLogin(A.rp, { redirect_uri: A_REDIRECT, school: '1399' }), teacher.login, teacher.password);
});
afterAll(async () => {
  await srv?.close();
  recordCounts(FILE, counts);
});

/** A fresh code for `c` through the live session (consent page answered when one shows). */
async function codeFor(c: Rp, extra: Record<string, string> = {}): Promise<{ started: StartedLogin; callback: URL; code: string }> {
  const started = await startLogin(c.rp, { redirect_uri: c.redirect, ...extra });
  const { res, url } = await session.follow(started.authUrl.toString());
  const callback = await continueToRp(session, res, url);
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code: ${callback}`);
  return { started, callback, code };
}

async function tokensFor(c: Rp, extra: Record<string, string> = {}) {
  const { started, callback } = await codeFor(c, extra);
  return oidc.authorizationCodeGrant(c.rp, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
}

/** A raw call of a client-authenticated endpoint (/token, /token/introspection, /token/revocation). */
async function call(c: Pick<Rp, 'id' | 'secret'>, endpoint: string, body: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const form = new URLSearchParams(body);
  if (c.secret) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(c.id)}:${encodeURIComponent(c.secret)}`).toString('base64')}`;
  else form.set('client_id', c.id);
  const res = await fetch(`${srv.url}${endpoint}`, { method: 'POST', headers, body: form.toString() });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
const active = async (c: Rp, token: string) => (await call(c, '/token/introspection', { token })).body.active === true;

/** A request to the provider's front channel from a fresh browser (no redirects followed). */
async function front(path: string, params: Record<string, string | string[]> = {}): Promise<Response> {
  const url = new URL(path, srv.url);
  for (const [k, v] of Object.entries(params)) for (const one of [v].flat()) url.searchParams.append(k, one);
  return new Browser(srv.url).request(url.toString());
}

/** Addresses a page links or posts to that are not journal-id's own (its language link is). */
function foreignTargets(html: string): string[] {
  return [...html.matchAll(/\b(?:action|href)="([^"]*)"/g)]
    .map((m) => m[1]!.replace(/&amp;/g, '&'))
    .filter((target) => new URL(target, srv.url).origin !== srv.url);
}

/** The response neither redirects nor links or posts the browser anywhere but journal-id itself. */
async function staysHome(res: Response): Promise<void> {
  const location = res.headers.get('location');
  if (location) expect(new URL(location, srv.url).origin).toBe(srv.url);
  expect(foreignTargets(await res.text())).toEqual([]);
  expect(res.status).toBeLessThan(500);
}

const pkce = async () => {
  const verifier = oidc.randomPKCECodeVerifier();
  return { verifier, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' };
};
const authParams = async (over: Record<string, string> = {}) => {
  const { code_challenge, code_challenge_method } = await pkce();
  return { client_id: A.id, response_type: 'code', scope: 'openid', redirect_uri: A_REDIRECT, state: 'st-1', nonce: 'n-1', code_challenge, code_challenge_method, ...over };
};

// ---------------------------------------------------------------------------------------------

describe('redirect_uri: only the exact registered string', () => {
  const VARIANTS: [string, string][] = [
    ['path case', 'https://journal.example.ru/Callback'],
    ['host case', 'https://JOURNAL.example.ru/callback'],
    ['scheme case', 'HTTPS://journal.example.ru/callback'],
    ['trailing slash', 'https://journal.example.ru/callback/'],
    ['extra path', 'https://journal.example.ru/callback/evil'],
    ['dot segments', 'https://journal.example.ru/callback/../evil'],
    ['encoded dot segments', 'https://journal.example.ru/callback%2F..%2Fevil'],
    ['dot segments back to it', 'https://journal.example.ru/evil/../callback'],
    ['percent-encoded path', 'https://journal.example.ru/%63allback'],
    ['userinfo', 'https://evil@journal.example.ru/callback'],
    ['host as userinfo', 'https://journal.example.ru@evil.example/callback'],
    ['host and port as userinfo', 'https://journal.example.ru:443@evil.example/callback'],
    ['backslash', 'https://journal.example.ru\\@evil.example/callback'],
    ['fragment', 'https://journal.example.ru/callback#evil'],
    ['empty fragment', 'https://journal.example.ru/callback#'],
    ['query added', 'https://journal.example.ru/callback?next=https://evil.example'],
    ['empty query', 'https://journal.example.ru/callback?'],
    ['other port', 'https://journal.example.ru:8443/callback'],
    ['default port spelled out', 'https://journal.example.ru:443/callback'],
    ['http downgrade', 'http://journal.example.ru/callback'],
    ['other host', 'https://evil.example/callback'],
    ['sub-domain', 'https://evil.journal.example.ru/callback'],
    ['suffix domain', 'https://journal.example.ru.evil.example/callback'],
    ['trailing dot host', 'https://journal.example.ru./callback'],
    ['scheme-relative', '//evil.example/callback'],
    ['relative', '/callback'],
    ['leading space', ' https://journal.example.ru/callback'],
    ['trailing space', 'https://journal.example.ru/callback '],
    ['encoded space', 'https://journal.example.ru/callback%20'],
    ['tab inside', 'https://journal.example.ru/call\tback'],
    ['javascript', 'javascript:alert(1)//https://journal.example.ru/callback'],
    ['data', 'data:text/html,<script>alert(1)</script>'],
    ['another client\'s URI', B_REDIRECT],
    ['the native app\'s URI', D_REDIRECT],
  ];
  const NATIVE_VARIANTS: [string, string][] = [
    ['extra path', 'ru.journal.diary:/oauth2redirect/evil'],
    ['authority added', 'ru.journal.diary://evil.example/oauth2redirect'],
    ['scheme suffix', 'ru.journal.diary.evil:/oauth2redirect'],
    ['loopback name instead of address', 'http://localhost/oauth2redirect'],
    ['loopback look-alike host', 'http://127.0.0.1.evil.example/oauth2redirect'],
    ['loopback with another path', 'http://127.0.0.1/evil'],
    ['https instead of loopback http', 'https://127.0.0.1/oauth2redirect'],
  ];

  it('every variant for the confidential web app gets an error page, never a redirect', async () => {
    const wrong: string[] = [];
    for (const [name, uri] of VARIANTS) {
      tried('redirect-uri-variants');
      const res = await front('/auth', await authParams({ redirect_uri: uri }));
      const html = await res.text();
      if (res.status !== 400 || res.headers.get('location') || !/invalid_redirect_uri|invalid_request/.test(html) || foreignTargets(html).length) wrong.push(`${name}: ${res.status} ${res.headers.get('location') ?? ''}`);
      else refused();
    }
    expect(wrong).toEqual([]);
  });

  it('every variant for the public native app gets an error page, never a redirect', async () => {
    const wrong: string[] = [];
    for (const [name, uri] of NATIVE_VARIANTS) {
      tried('redirect-uri-variants');
      const res = await front('/auth', await authParams({ client_id: D.id, redirect_uri: uri }));
      if (res.status !== 400 || res.headers.get('location')) wrong.push(`${name}: ${res.status} ${res.headers.get('location') ?? ''}`);
      else refused();
    }
    expect(wrong).toEqual([]);
  });

  it('the registered URIs themselves work (the refusals above are not a broken client)', async () => {
    for (const uri of [A_REDIRECT, A_REDIRECT_2]) {
      const res = await front('/auth', await authParams({ redirect_uri: uri, prompt: 'none' }));
      // No session in a fresh browser: login_required, sent to the registered URI with state and iss.
      const location = new URL(res.headers.get('location')!);
      expect(`${location.origin}${location.pathname}`).toBe(uri);
      expect(Object.fromEntries(location.searchParams)).toMatchObject({ error: 'login_required', state: 'st-1', iss: srv.url });
    }
  });
});

describe('open redirect through error responses', () => {
  const EVIL = 'https://evil.example/cb';
  it('an unregistered redirect_uri with any other error still gets an error page', async () => {
    const cases: [string, Record<string, string | string[]>][] = [
      ['unknown client', await authParams({ client_id: 'no-such-client', redirect_uri: EVIL })],
      ['no client_id', { ...(await authParams({ redirect_uri: EVIL })), client_id: [] }],
      ['unsupported response_type', await authParams({ redirect_uri: EVIL, response_type: 'token' })],
      ['invalid scope', await authParams({ redirect_uri: EVIL, scope: 'openid admin' })],
      ['prompt=none without a session', await authParams({ redirect_uri: EVIL, prompt: 'none' })],
      ['PKCE plain', await authParams({ redirect_uri: EVIL, code_challenge_method: 'plain' })],
      ['no PKCE', { ...(await authParams({ redirect_uri: EVIL })), code_challenge: [], code_challenge_method: [] }],
      ['garbage request object', await authParams({ redirect_uri: EVIL, request: 'not.a.jwt' })],
      ['form_post response mode', await authParams({ redirect_uri: EVIL, response_mode: 'form_post', scope: 'openid admin' })],
      ['duplicated redirect_uri', { ...(await authParams()), redirect_uri: [A_REDIRECT, EVIL] }],
      ['malformed school hint', await authParams({ redirect_uri: EVIL, school: '<script>' })],
    ];
    for (const [name, params] of cases) {
      tried('open-redirects');
      const res = await front('/auth', params);
      expect([name, res.status, res.headers.get('location')]).toEqual([name, 400, null]);
      await staysHome(res);
      refused();
    }
    // With a session too: the provider must not hand out a code to that address either.
    tried('open-redirects');
    const withSession = await session.request(`/auth?${new URLSearchParams(await authParams({ redirect_uri: EVIL }))}`);
    expect([withSession.status, withSession.headers.get('location')]).toEqual([400, null]);
    refused();
  });

  it('logout: an unregistered post_logout_redirect_uri is never followed', async () => {
    const tokens = await tokensFor(A);
    const cases: [string, Record<string, string>][] = [
      ['with the client and a valid hint', { id_token_hint: tokens.id_token!, post_logout_redirect_uri: EVIL }],
      ['with the client only', { client_id: A.id, post_logout_redirect_uri: EVIL }],
      ['a registered one of another client', { id_token_hint: tokens.id_token!, post_logout_redirect_uri: B_LOGOUT }],
    ];
    for (const [name, params] of cases) {
      tried('open-redirects');
      const res = await session.request(`/session/end?${new URLSearchParams(params)}`);
      expect([name, res.status]).toEqual([name, 400]);
      await staysHome(res);
      refused();
    }
    // Without any client: the address is dropped; confirming ends on journal-id's own page.
    tried('open-redirects');
    const res = await front('/session/end', { post_logout_redirect_uri: EVIL });
    const html = await res.clone().text();
    await staysHome(res);
    const form = formOf(html);
    expect(new URL(form.action).origin).toBe(srv.url);
    const out = await new Browser(srv.url).postForm(form.action, form.fields);
    await staysHome(out);
    refused();
  });

  it('a school\'s own host sends every path to the issuer, never to another host', async () => {
    for (const path of ['//evil.example/x', '/\\evil.example/x', '//evil.example/%2e%2e']) {
      tried('open-redirects');
      const location = await new Promise<string | undefined>((resolve, reject) => {
        const req = http.request(`${srv.url}${path}`, { headers: { host: '1399.eljur.test' } }, (res) => {
          res.resume();
          resolve(res.headers.location);
        });
        req.on('error', reject);
        req.end();
      });
      expect(location).toBeDefined();
      expect(new URL(location!).origin).toBe(srv.url);
      refused();
    }
  });
});

describe('PKCE cannot be downgraded', () => {
  it('the authorization request needs S256 for every client, public or confidential', async () => {
    const cases: [string, Rp, Record<string, string | string[]>][] = [
      ['confidential, plain', A, { code_challenge_method: 'plain', code_challenge: 'a'.repeat(43) }],
      ['confidential, no challenge', A, { code_challenge: [], code_challenge_method: [] }],
      ['confidential, challenge without method', A, { code_challenge_method: [] }],
      ['confidential, short challenge', A, { code_challenge: 'abc' }],
      ['third-party, no challenge', B, { code_challenge: [], code_challenge_method: [] }],
      ['public, plain', D, { code_challenge_method: 'plain', code_challenge: 'a'.repeat(43) }],
      ['public, no challenge', D, { code_challenge: [], code_challenge_method: [] }],
      ['public, unknown method', D, { code_challenge_method: 'S512' }],
    ];
    for (const [name, c, over] of cases) {
      tried('pkce-downgrades');
      const params: Record<string, string | string[]> = { ...(await authParams({ client_id: c.id, redirect_uri: c.redirect })), ...over };
      const res = await front('/auth', params);
      const location = new URL(res.headers.get('location') ?? 'about:blank');
      // An error for the client at its registered address (it is that client's own request).
      expect([name, location.searchParams.get('error'), location.searchParams.get('iss')]).toEqual([name, 'invalid_request', srv.url]);
      refused();
    }
  });

  it('the token request needs the verifier of the challenge: missing, wrong, the challenge itself', async () => {
    for (const c of [A, D]) {
      const { started, code } = await codeFor(c);
      const challenge = await oidc.calculatePKCECodeChallenge(started.verifier);
      const attempts: [string, Record<string, string>][] = [
        ['no verifier', {}],
        ['another verifier', { code_verifier: oidc.randomPKCECodeVerifier() }],
        ['the challenge as verifier (plain)', { code_verifier: challenge }],
        ['a short verifier', { code_verifier: 'abc' }],
        ['the verifier in upper case', { code_verifier: started.verifier.toUpperCase() }],
      ];
      for (const [name, extra] of attempts) {
        tried('pkce-downgrades');
        const r = await call(c, '/token', { grant_type: 'authorization_code', code, redirect_uri: c.redirect, ...extra });
        expect([c.id, name, r.status, r.body.error]).toEqual([c.id, name, 400, expect.stringMatching(/^invalid_(grant|request)$/)]);
        refused();
      }
    }
  });
});

describe('authorization code replay', () => {
  it('a second use fails and revokes what the first use issued', async () => {
    const { started, callback } = await codeFor(A, { scope: 'openid offline_access', prompt: 'consent' });
    const first = await oidc.authorizationCodeGrant(A.rp, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    expect(first.refresh_token).toBeTruthy();
    expect(await active(A, first.access_token)).toBe(true);
    tried('code-replays');
    await expect(oidc.authorizationCodeGrant(A.rp, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce }))
      .rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await active(A, first.access_token)).toBe(false);
    await expect(oidc.refreshTokenGrant(A.rp, first.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.fetchUserInfo(A.rp, first.access_token, first.claims()!.sub)).rejects.toMatchObject({ status: 401, cause: [expect.objectContaining({ scheme: 'bearer', parameters: expect.objectContaining({ error: 'invalid_token' }) })] });
    refused();
  });

  it('parallel uses of one code: at most one gets tokens, and the replays revoke them', async () => {
    for (const c of [A, D]) {
      const { started, code } = await codeFor(c);
      // Four at once: the three that do not win are the replays.
      tried('code-replays', 3);
      const results = await Promise.all(
        Array.from({ length: 4 }, () => call(c, '/token', { grant_type: 'authorization_code', code, redirect_uri: c.redirect, code_verifier: started.verifier })),
      );
      const issued = results.filter((r) => r.status === 200);
      expect([c.id, issued.length <= 1]).toEqual([c.id, true]);
      for (const r of results.filter((x) => x.status !== 200)) expect(r.body.error).toBe('invalid_grant');
      // The replays revoked the grant: what the winner got is dead too (RFC 6749 §4.1.2).
      for (const r of issued) expect([c.id, await active(c, r.body.access_token as string)]).toEqual([c.id, false]);
      refused(3);
    }
  });
});

describe('state, nonce and iss', () => {
  it('state comes back exactly, nonce is in the ID token, iss is in every authorization response (RFC 9207)', async () => {
    const meta = A.rp.serverMetadata();
    expect(meta.authorization_response_iss_parameter_supported).toBe(true);
    const state = 'é a&b=c/ä?#%';
    const { started, callback } = await codeFor(A, { state });
    expect(callback.searchParams.get('state')).toBe(state);
    expect(callback.searchParams.get('iss')).toBe(srv.url);
    const tokens = await oidc.authorizationCodeGrant(A.rp, callback, { pkceCodeVerifier: started.verifier, expectedState: state, expectedNonce: started.nonce });
    expect(tokens.claims()!.nonce).toBe(started.nonce);
    // An error response carries state and iss as well.
    const err = await session.request(`/auth?${new URLSearchParams(await authParams({ scope: 'openid admin', state }))}`);
    const location = new URL(err.headers.get('location')!);
    expect(Object.fromEntries(location.searchParams)).toMatchObject({ error: 'invalid_scope', state, iss: srv.url });
    // openid-client refuses a response from another issuer (the mix-up defence iss enables).
    const mixed = new URL(callback);
    mixed.searchParams.set('iss', 'https://evil.example');
    // RFC 9207 §2.4: the client compares iss with the issuer it talks to and stops before any token request.
    await expect(oidc.authorizationCodeGrant(A.rp, mixed, { pkceCodeVerifier: started.verifier, expectedState: state }))
      .rejects.toMatchObject({ code: 'OAUTH_INVALID_RESPONSE', cause: expect.objectContaining({ message: 'unexpected "iss" (issuer) response parameter value', cause: expect.objectContaining({ expected: srv.url }) }) });
  });
});

describe('refresh-token rotation and reuse detection', () => {
  it('an old refresh token reused after the grace window revokes the whole family', async () => {
    const t0 = await tokensFor(A, { scope: 'openid offline_access', prompt: 'consent' });
    const t1 = await oidc.refreshTokenGrant(A.rp, t0.refresh_token!);
    const t2 = await oidc.refreshTokenGrant(A.rp, t1.refresh_token!);
    expect(await active(A, t2.access_token)).toBe(true);
    // The grace window (REFRESH_REUSE_GRACE_SECONDS) is over for the used tokens: moved back in time
    // rather than waited for.
    const grace = srv.config.refreshReuseGraceSeconds;
    await srv.db('oidc_models').where({ model: 'RefreshToken' }).whereNotNull('consumed_at')
      .update({ consumed_at: srv.db.raw('consumed_at - make_interval(secs => ?)', [grace + 1]) });
    tried('refresh-reuses');
    await expect(oidc.refreshTokenGrant(A.rp, t0.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // The thief's reuse killed the legitimate holder's tokens too: both must log in again.
    await expect(oidc.refreshTokenGrant(A.rp, t2.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    for (const t of [t0, t1, t2]) expect(await active(A, t.access_token)).toBe(false);
    refused();
  });

  it('the same for a public app, and for the middle of the chain', async () => {
    const t0 = await tokensFor(D, { scope: 'openid offline_access', prompt: 'consent' });
    const t1 = await oidc.refreshTokenGrant(D.rp, t0.refresh_token!);
    const t2 = await oidc.refreshTokenGrant(D.rp, t1.refresh_token!);
    await srv.db('oidc_models').where({ model: 'RefreshToken' }).whereNotNull('consumed_at')
      .update({ consumed_at: srv.db.raw('consumed_at - make_interval(secs => ?)', [srv.config.refreshReuseGraceSeconds + 1]) });
    tried('refresh-reuses');
    await expect(oidc.refreshTokenGrant(D.rp, t1.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(D.rp, t2.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await active(A, t2.access_token)).toBe(false);
    refused();
  });
});

describe('token substitution between clients', () => {
  it('B cannot redeem A\'s code, in any way; A still can', async () => {
    const { started, code } = await codeFor(A);
    const attempts: [string, Rp, Record<string, string>][] = [
      ['B with A\'s redirect_uri', B, { redirect_uri: A_REDIRECT }],
      ['B with its own redirect_uri', B, { redirect_uri: B_REDIRECT }],
      ['the public app', D, { redirect_uri: A_REDIRECT }],
      ['A with its other registered redirect_uri', A, { redirect_uri: A_REDIRECT_2 }],
    ];
    for (const [name, c, extra] of attempts) {
      tried('token-substitutions');
      const r = await call(c, '/token', { grant_type: 'authorization_code', code, code_verifier: started.verifier, ...extra });
      expect([name, r.status, r.body.error]).toEqual([name, 400, 'invalid_grant']);
      refused();
    }
    // Without A's secret: A's client_id alone is no client authentication.
    tried('token-substitutions');
    const anon = await call({ id: A.id }, '/token', { grant_type: 'authorization_code', code, code_verifier: started.verifier, redirect_uri: A_REDIRECT });
    expect([anon.status, anon.body.error]).toEqual([401, 'invalid_client']);
    refused();
    const ok = await call(A, '/token', { grant_type: 'authorization_code', code, code_verifier: started.verifier, redirect_uri: A_REDIRECT });
    expect(ok.status).toBe(200);
  });

  it('B cannot use, introspect or revoke A\'s tokens', async () => {
    const a = await tokensFor(A, { scope: 'openid offline_access', prompt: 'consent' });
    for (const c of [B, D]) {
      tried('token-substitutions');
      const r = await call(c, '/token', { grant_type: 'refresh_token', refresh_token: a.refresh_token! });
      expect([c.id, r.status, r.body.error]).toEqual([c.id, 400, 'invalid_grant']);
      refused();
      for (const token of [a.access_token, a.refresh_token!]) {
        tried('token-substitutions');
        const intro = await call(c, '/token/introspection', { token });
        expect([c.id, intro.body.active]).toEqual([c.id, false]);
        refused();
        tried('token-substitutions');
        await call(c, '/token/revocation', { token });
      }
    }
    // A's tokens survived every attempt to revoke them.
    expect(await active(A, a.access_token)).toBe(true);
    expect(await active(A, a.refresh_token!)).toBe(true);
    refused(4);
    const again = await oidc.refreshTokenGrant(A.rp, a.refresh_token!);
    expect(again.access_token).toBeTruthy();
    // Nor can A redeem B's code.
    const b = await codeFor(B);
    tried('token-substitutions');
    const r = await call(A, '/token', { grant_type: 'authorization_code', code: b.code, code_verifier: b.started.verifier, redirect_uri: B_REDIRECT });
    expect([r.status, r.body.error]).toEqual([400, 'invalid_grant']);
    refused();
  });
});

describe('logout with a foreign id_token_hint', () => {
  it('no redirect to a client\'s addresses on a hint issued to another client or signed by someone else', async () => {
    const a = await tokensFor(A);
    const b = await tokensFor(B);
    const claims = a.claims()!;
    // Signed by a key of the attacker, with every claim right.
    const { privateKey } = await jose.generateKeyPair('ES256');
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: srv.url, aud: A.id, sub: claims.sub, sid: claims.sid, iat: now, exp: now + 600 };
    const forged = await new jose.SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: jose.decodeProtectedHeader(a.id_token!).kid }).sign(privateKey);
    const unsigned = new jose.UnsecuredJWT(payload).encode();
    const [h, , s] = a.id_token!.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...jose.decodeJwt(a.id_token!), aud: B.id })).toString('base64url')}.${s}`;
    const otherIssuer = await new jose.SignJWT({ ...payload, iss: 'https://evil.example' }).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);

    const cases: [string, Record<string, string>][] = [
      ['B\'s ID token, client A named, A\'s address', { id_token_hint: b.id_token!, client_id: A.id, post_logout_redirect_uri: A_LOGOUT }],
      ['B\'s ID token, A\'s address', { id_token_hint: b.id_token!, post_logout_redirect_uri: A_LOGOUT }],
      ['A\'s ID token, B named, B\'s address', { id_token_hint: a.id_token!, client_id: B.id, post_logout_redirect_uri: B_LOGOUT }],
      ['signed by another key', { id_token_hint: forged, post_logout_redirect_uri: A_LOGOUT }],
      ['alg none', { id_token_hint: unsigned, post_logout_redirect_uri: A_LOGOUT }],
      ['A\'s ID token with its audience changed', { id_token_hint: tampered, post_logout_redirect_uri: B_LOGOUT }],
      ['another issuer', { id_token_hint: otherIssuer, post_logout_redirect_uri: A_LOGOUT }],
      ['not a JWT', { id_token_hint: 'garbage', post_logout_redirect_uri: A_LOGOUT }],
    ];
    for (const [name, params] of cases) {
      tried('foreign-logouts');
      const res = await session.request(`/session/end?${new URLSearchParams({ ...params, state: 'bye' })}`);
      expect([name, res.status, res.headers.get('location')]).toEqual([name, 400, null]);
      await staysHome(res);
      refused();
    }
    // The session is untouched: a new authorization gets a code at once.
    expect((await codeFor(A)).code).toBeTruthy();
    // And the real thing works: A's own hint and address.
    const page = await session.follow(`/session/end?${new URLSearchParams({ id_token_hint: a.id_token!, post_logout_redirect_uri: A_LOGOUT, state: 'bye' })}`);
    const form = formOf(await page.res.text());
    const out = await session.postForm(form.action, { ...form.fields, logout: 'yes' });
    expect(out.headers.get('location')).toBe(`${A_LOGOUT}?state=bye`);
  });
});

describe('figures', () => {
  it('every attack tried was refused', () => {
    expect(counts[`${FILE}.refused`]).toBe(counts[`${FILE}.attacks`]);
    expect(counts[`${FILE}.redirect-uri-variants`]).toBeGreaterThanOrEqual(40);
  });
});
