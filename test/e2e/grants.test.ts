/** client_credentials for services, and the refresh-token grace window for racing app instances. */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser } from '../helpers/browser.js';
import { discover, startLogin, login, oidc } from '../helpers/rp.js';
import { insertClient } from '../../src/oidc/clients.js';

let srv: TestServer;
const logs: string[] = [];

beforeAll(async () => {
  srv = await startTestServer({ env: { REFRESH_REUSE_GRACE_SECONDS: '2' }, logs });
  await insertClient(srv.db, srv.config.secrets.keyEncryptionKey, {
    clientId: 'reports',
    name: 'Отчёты',
    firstParty: false,
    secret: 'reports-secret-0123456789-0123456789-abcdef',
    metadata: { client_id: 'reports', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' },
  });
});
afterAll(async () => srv?.close());

describe('client_credentials', () => {
  it('a service client gets an access token it can introspect', async () => {
    const svc = await discover(srv.url, 'reports', 'reports-secret-0123456789-0123456789-abcdef');
    const t = await oidc.clientCredentialsGrant(svc);
    expect(t.access_token).toBeTruthy();
    expect(t.refresh_token).toBeUndefined();
    const intro = await oidc.tokenIntrospection(svc, t.access_token);
    expect(intro).toMatchObject({ active: true, client_id: 'reports' });
  });

  it('a client without that grant is refused', async () => {
    const web = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    await expect(oidc.clientCredentialsGrant(web)).rejects.toMatchObject({
      error: expect.stringMatching(/^(unauthorized_client|invalid_request)$/),
    });
  });
});

describe('refresh-token grace window', () => {
  it('re-use inside the window → 200 (logged as a fork); after it → invalid_grant and the successors stop working', async () => {
    const school = await addSchool(srv.db);
    const person = await addAccount(srv.app, school, { login: 'racer' });
    const app = await discover(srv.url, 'diary-app');
    const browser = new Browser(srv.url);
    const started = await startLogin(app, {
      redirect_uri: 'http://127.0.0.1/oauth2redirect', scope: 'openid offline_access', prompt: 'consent', school: school.slug,
    });
    const callback = await login(browser, started, 'racer', person.password);
    const t0 = await oidc.authorizationCodeGrant(app, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });

    const a = await oidc.refreshTokenGrant(app, t0.refresh_token!);
    const b = await oidc.refreshTokenGrant(app, t0.refresh_token!); // a second tab, at the same moment
    expect(a.refresh_token).not.toBe(b.refresh_token);
    expect(logs.some((l) => l.includes('refresh token reused inside grace window'))).toBe(true);

    await new Promise((r) => setTimeout(r, 2500));
    await expect(oidc.refreshTokenGrant(app, t0.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(app, a.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(app, b.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await oidc.tokenIntrospection(app, a.access_token)).active).toBe(false);
  });
});
