/**
 * The foundation's promise, end to end over real HTTP: a relying party (openid-client) sends a
 * person to journal-id, the person logs in with login and password, the RP gets verified tokens,
 * uses and refreshes them, and logs out.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import * as jose from 'jose';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, login, oidc } from '../helpers/rp.js';
import type { School } from '../../src/schools/queries.js';

let srv: TestServer;
let school: School;
let person: Awaited<ReturnType<typeof addAccount>>;
const WEB = 'journal-web';

beforeAll(async () => {
  srv = await startTestServer({ env: { REFRESH_REUSE_GRACE_SECONDS: '0' } });
  school = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
  person = await addAccount(srv.app, school, { login: 'Ivanov.Petya', kind: 'student', email: 'petya@example.ru' });
});
afterAll(async () => srv?.close());

describe('authorization code + PKCE with the journal web app (first-party, confidential)', () => {
  let config: oidc.Configuration;
  let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;

  it('discovery and JWKS are served', async () => {
    config = await discover(srv.url, WEB, srv.config.secrets.journalWebClientSecret);
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(srv.url);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.scopes_supported).toEqual(expect.arrayContaining(['openid', 'offline_access', 'school', 'roles']));
    const jwks = (await (await fetch(meta.jwks_uri!)).json()) as { keys: { kty: string }[] };
    expect(jwks.keys.map((k: { kty: string }) => k.kty).sort()).toEqual(['EC', 'RSA']);
    expect(JSON.stringify(jwks)).not.toMatch(/"d":/);
  });

  it('logs in with login (any case) and password and gets verified tokens without a consent page', async () => {
    const browser = new Browser(srv.url);
    const started = await startLogin(config, {
      redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]!,
      scope: 'openid profile email school roles offline_access',
      prompt: 'consent',
      school: '1399',
    });
    const callback = await login(browser, started, 'ivanov.petya', person.password);
    expect(callback.searchParams.get('iss')).toBe(srv.url); // RFC 9207
    tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: started.verifier,
      expectedState: started.state,
      expectedNonce: started.nonce,
    });
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(person.id);
    expect(claims.iss).toBe(srv.url);
    expect(claims.aud).toBe(WEB);
    expect(tokens.refresh_token).toBeTruthy();
    // The ID token is ES256 and verifies against the published JWKS.
    const jwks = jose.createRemoteJWKSet(new URL(`${srv.url}/jwks`));
    const { protectedHeader } = await jose.jwtVerify(tokens.id_token!, jwks, { issuer: srv.url, audience: WEB });
    expect(protectedHeader.alg).toBe('ES256');
  });

  it('userinfo returns the journal claims', async () => {
    const info = await oidc.fetchUserInfo(config, tokens.access_token, person.id);
    expect(info).toMatchObject({
      sub: person.id,
      family_name: 'Тестов',
      given_name: 'Тест',
      email: 'petya@example.ru',
      email_verified: true,
      school: { id: school.id, number: '1399', name: 'Школа № 1399' },
      roles: ['student'],
    });
  });

  it('introspection knows the access token', async () => {
    const intro = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(intro.active).toBe(true);
    expect(intro.sub).toBe(person.id);
    expect(intro.client_id).toBe(WEB);
  });

  it('refresh rotates the token; the used one is then rejected and the grant revoked', async () => {
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.claims()!.sub).toBe(person.id);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // Re-use means theft: the successor dies too.
    await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const intro = await oidc.tokenIntrospection(config, refreshed.access_token);
    expect(intro.active).toBe(false);
  });

  it('revocation ends an access token', async () => {
    const browser = new Browser(srv.url);
    const started = await startLogin(config, { redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]!, school: '1399' });
    const callback = await login(browser, started, person.login, person.password);
    const t = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    expect((await oidc.tokenIntrospection(config, t.access_token)).active).toBe(true);
    await oidc.tokenRevocation(config, t.access_token);
    expect((await oidc.tokenIntrospection(config, t.access_token)).active).toBe(false);
    // RFC 6750 §3.1: a revoked token is refused with 401 and the Bearer challenge error="invalid_token".
    await expect(oidc.fetchUserInfo(config, t.access_token, person.id)).rejects.toMatchObject({ status: 401, cause: [expect.objectContaining({ scheme: 'bearer', parameters: expect.objectContaining({ error: 'invalid_token' }) })] });
  });

  it('RP-initiated logout asks, ends the session and returns to the registered address', async () => {
    const browser = new Browser(srv.url);
    const started = await startLogin(config, { redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]!, school: '1399' });
    const callback = await login(browser, started, person.login, person.password);
    const t = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    const postLogout = srv.config.firstPartyClients.journalWeb.postLogoutRedirectUris[0]!;
    const endUrl = oidc.buildEndSessionUrl(config, { id_token_hint: t.id_token!, post_logout_redirect_uri: postLogout, state: 'bye' });
    const page = await browser.follow(endUrl.toString());
    const html = await page.res.text();
    expect(html).toContain('Выход из журнала');
    const form = formOf(html);
    const res = await browser.postForm(form.action, { ...form.fields, logout: 'yes' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${postLogout}?state=bye`);
    // The session is gone: a new authorization shows the login page again.
    const again = await startLogin(config, { redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]!, school: '1399' });
    const { res: loginPage } = await browser.follow(again.authUrl.toString());
    expect(await loginPage.text()).toContain('Вход в журнал');
  });
});
