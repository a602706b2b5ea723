/**
 * What must be refused, and refused cleanly: each case gets the right error and stores nothing
 * (no user, code, token, grant or session rows appear).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin, oidc } from '../helpers/rp.js';

let srv: TestServer;
let person: Awaited<ReturnType<typeof addAccount>>;
let web: oidc.Configuration;
let redirectUri: string;
const INVALID = 'Неверное имя пользователя или пароль. Пожалуйста, попробуйте еще раз!';

async function counts() {
  const rows = (await srv.db('oidc_models').select('model').count({ n: '*' }).groupBy('model')) as { model: string; n: number }[];
  const by = Object.fromEntries(rows.map((r) => [r.model, Number(r.n)]));
  const users = await srv.db('users').count({ n: '*' }).first();
  return {
    users: Number(users!.n),
    AuthorizationCode: by.AuthorizationCode ?? 0,
    AccessToken: by.AccessToken ?? 0,
    RefreshToken: by.RefreshToken ?? 0,
    Grant: by.Grant ?? 0,
    Session: by.Session ?? 0,
  };
}

beforeAll(async () => {
  srv = await startTestServer();
  const school = await addSchool(srv.db, { number: '57', slug: '57' });
  person = await addAccount(srv.app, school, { login: 'masha', kind: 'student' });
  web = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  redirectUri = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
});
afterAll(async () => srv?.close());

describe('login form', () => {
  it.each([
    ['a wrong password', 'masha', 'WrongPass123'],
    ['an unknown login', 'nobody', 'WrongPass123'],
    ['the login in capitals with a wrong password', 'MASHA ', 'x'],
  ])('%s gets exactly the FAQ message and stores nothing', async (_case, login, password) => {
    const before = await counts();
    const browser = new Browser(srv.url);
    const started = await startLogin(web, { redirect_uri: redirectUri, school: '57' });
    const page = await openLoginPage(browser, started.authUrl);
    const { res } = await submitLogin(browser, page.html, login, password);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain(INVALID);
    expect(html).toContain(`value="${login.trim()}"`); // what was typed is kept…
    expect(html).not.toContain(password === 'x' ? 'value="x"' : password); // …except the password
    const after = await counts();
    expect(after).toEqual(before);
  });

  it('a login and password of one school do not open another school’s form', async () => {
    await addSchool(srv.db, { number: '58', slug: '58' });
    const browser = new Browser(srv.url);
    const page = await openLoginPage(browser, (await startLogin(web, { redirect_uri: redirectUri, school: '58' })).authUrl);
    const { res } = await submitLogin(browser, page.html, person.login, person.password);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain(INVALID);
  });

  it('a form without the CSRF token is refused (403) and stores nothing', async () => {
    const before = await counts();
    const browser = new Browser(srv.url);
    const started = await startLogin(web, { redirect_uri: redirectUri, school: '57' });
    const page = await openLoginPage(browser, started.authUrl);
    const form = formOf(page.html, /\/login$/);
    const res = await browser.postForm(form.action, { login: person.login, password: person.password });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('Обновите страницу');
    const forged = await browser.postForm(form.action, { _csrf: 'forged', login: person.login, password: person.password });
    expect(forged.status).toBe(403);
    expect(await counts()).toEqual(before);
  });

  it('an expired or unknown interaction gets a clear page, not a stack trace', async () => {
    const browser = new Browser(srv.url);
    const res = await browser.request('/interaction/doesnotexist');
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('Страница входа устарела');
    expect(html).not.toMatch(/at \w+ \(|node_modules|Error:/);
  });
});

describe('authorization requests', () => {
  const authorize = async (params: Record<string, string>) => {
    const browser = new Browser(srv.url);
    const url = new URL(`${srv.url}/auth`);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return browser.request(url.toString());
  };
  const pkce = { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };

  it('an unknown client is refused with an error page (no redirect)', async () => {
    const before = await counts();
    const res = await authorize({ client_id: 'nope', response_type: 'code', scope: 'openid', redirect_uri: redirectUri, ...pkce });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('invalid_client');
    expect(await counts()).toEqual(before);
  });

  it.each([
    ['a trailing slash', (u: string) => `${u}/`],
    ['another case', (u: string) => u.toUpperCase().replace('HTTP://', 'http://')],
    ['an extra path', (u: string) => `${u}/evil`],
    ['another host', () => 'http://evil.example/callback'],
  ])('a redirect_uri with %s is refused without redirecting', async (_c, mutate) => {
    const before = await counts();
    const res = await authorize({ client_id: 'journal-web', response_type: 'code', scope: 'openid', redirect_uri: mutate(redirectUri), ...pkce });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('invalid_redirect_uri');
    expect(await counts()).toEqual(before);
  });

  it('a public native app without PKCE gets invalid_request at its redirect URI', async () => {
    const before = await counts();
    const appRedirect = srv.config.firstPartyClients.diaryApp.redirectUris[0]!;
    const res = await authorize({ client_id: 'diary-app', response_type: 'code', scope: 'openid', redirect_uri: appRedirect, state: 's1' });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.protocol}${location.pathname}`).toBe(appRedirect);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('state')).toBe('s1');
    expect(await counts()).toEqual(before);
  });

  it('PKCE "plain" is refused (S256 only)', async () => {
    const res = await authorize({
      client_id: 'journal-web', response_type: 'code', scope: 'openid', redirect_uri: redirectUri,
      code_challenge: 'a'.repeat(43), code_challenge_method: 'plain',
    });
    const location = new URL(res.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('invalid_request');
  });

  it('a malformed school hint is refused', async () => {
    const res = await authorize({ client_id: 'journal-web', response_type: 'code', scope: 'openid', redirect_uri: redirectUri, school: '<script>', ...pkce });
    const location = new URL(res.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('invalid_request');
  });
});

describe('token endpoint', () => {
  it('a wrong client secret is refused with invalid_client', async () => {
    const res = await fetch(`${srv.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`journal-web:${'x'.repeat(43)}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'whatever' }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('a code cannot be used twice, and its tokens die when it is', async () => {
    const browser = new Browser(srv.url);
    const started = await startLogin(web, { redirect_uri: redirectUri, school: '57' });
    const page = await openLoginPage(browser, started.authUrl);
    const { url } = await submitLogin(browser, page.html, person.login, person.password);
    const callback = new URL(url);
    const first = await oidc.authorizationCodeGrant(web, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    await expect(
      oidc.authorizationCodeGrant(web, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await oidc.tokenIntrospection(web, first.access_token)).active).toBe(false);
  });

  it('a wrong PKCE verifier is refused', async () => {
    const browser = new Browser(srv.url);
    const started = await startLogin(web, { redirect_uri: redirectUri, school: '57' });
    const page = await openLoginPage(browser, started.authUrl);
    const { url } = await submitLogin(browser, page.html, person.login, person.password);
    await expect(
      oidc.authorizationCodeGrant(web, new URL(url), { pkceCodeVerifier: oidc.randomPKCECodeVerifier(), expectedState: started.state, expectedNonce: started.nonce }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
