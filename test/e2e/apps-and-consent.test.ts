/**
 * The journal's native apps (public, PKCE, loopback and custom-scheme redirects) never see a
 * consent page, and get refresh tokens; a third-party app shows one and respects "deny".
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin, oidc } from '../helpers/rp.js';
import { insertClient } from '../../src/oidc/clients.js';

let srv: TestServer;
let person: Awaited<ReturnType<typeof addAccount>>;

beforeAll(async () => {
  srv = await startTestServer();
  const school = await addSchool(srv.db, { number: '5', slug: '5' });
  person = await addAccount(srv.app, school, { login: 'parent1', kind: 'parent' });
  await insertClient(srv.db, srv.config.secrets.keyEncryptionKey, {
    clientId: 'library-app',
    name: 'Школьная библиотека',
    firstParty: false,
    secret: 'library-secret-0123456789-0123456789-abcdef',
    metadata: {
      client_id: 'library-app',
      redirect_uris: ['http://localhost:9999/cb'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  });
});
afterAll(async () => srv?.close());

describe('registered clients', () => {
  it('keep their secret only sealed in the database', async () => {
    const row = await srv.db('clients').where({ client_id: 'library-app' }).first();
    expect(JSON.stringify(row)).not.toContain('library-secret-0123456789');
    expect(row.secret_enc).toMatch(/^v1\./);
  });
});

describe('the diary app (first-party, public, native)', () => {
  it('with prompt=consent and offline_access it gets a refresh token and sees no consent page', async () => {
    const app = await discover(srv.url, 'diary-app');
    const browser = new Browser(srv.url);
    // Loopback redirect with any port (RFC 8252 §7.3).
    const started = await startLogin(app, {
      redirect_uri: 'http://127.0.0.1:53412/oauth2redirect',
      scope: 'openid offline_access school roles',
      prompt: 'consent',
      school: '5',
    });
    const page = await openLoginPage(browser, started.authUrl);
    const { url } = await submitLogin(browser, page.html, 'parent1', person.password);
    expect(url.startsWith('http://127.0.0.1:53412/oauth2redirect?')).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(app, new URL(url), {
      pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce,
    });
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.scope).toContain('offline_access');
    const info = await oidc.fetchUserInfo(app, tokens.access_token, person.id);
    expect(info.roles).toEqual(['parent']);
    const refreshed = await oidc.refreshTokenGrant(app, tokens.refresh_token!);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
  });

  it('its custom-scheme redirect URI works', async () => {
    const app = await discover(srv.url, 'diary-app');
    const browser = new Browser(srv.url);
    const started = await startLogin(app, { redirect_uri: 'ru.journal.diary:/oauth2redirect', school: '5' });
    const page = await openLoginPage(browser, started.authUrl);
    const { url } = await submitLogin(browser, page.html, 'parent1', person.password);
    expect(url.startsWith('ru.journal.diary:/oauth2redirect?code=')).toBe(true);
  });
});

describe('a third-party app', () => {
  it('shows a consent page listing what it asks for; "allow" completes the login', async () => {
    const app = await discover(srv.url, 'library-app', 'library-secret-0123456789-0123456789-abcdef');
    const browser = new Browser(srv.url);
    const started = await startLogin(app, { redirect_uri: 'http://localhost:9999/cb', scope: 'openid profile school', school: '5' });
    const page = await openLoginPage(browser, started.authUrl);
    const { res } = await submitLogin(browser, page.html, 'parent1', person.password);
    const html = await res.text();
    expect(html).toContain('Доступ к вашим данным');
    expect(html).toContain('Школьная библиотека');
    expect(html).toContain('ваша школа');
    const form = formOf(html, /\/consent$/);
    const r = await browser.postForm(form.action, { ...form.fields, decision: 'allow' });
    const { url } = await browser.follow(new URL(r.headers.get('location')!, srv.url).toString());
    expect(url.startsWith('http://localhost:9999/cb?code=')).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(app, new URL(url), { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    expect(tokens.claims()!.sub).toBe(person.id);
  });

  it('"deny" sends access_denied back to the app', async () => {
    const app = await discover(srv.url, 'library-app', 'library-secret-0123456789-0123456789-abcdef');
    const browser = new Browser(srv.url);
    const started = await startLogin(app, { redirect_uri: 'http://localhost:9999/cb', scope: 'openid email', school: '5' });
    const page = await openLoginPage(browser, started.authUrl);
    const { res } = await submitLogin(browser, page.html, 'parent1', person.password);
    const form = formOf(await res.text(), /\/consent$/);
    const r = await browser.postForm(form.action, { ...form.fields, decision: 'deny' });
    const { url } = await browser.follow(new URL(r.headers.get('location')!, srv.url).toString());
    const cb = new URL(url);
    expect(cb.searchParams.get('error')).toBe('access_denied');
    expect(cb.searchParams.get('state')).toBe(started.state);
  });
});
