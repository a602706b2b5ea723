/**
 * The journal's APIs as resource servers: `resource` (RFC 8707) gets a JWT access token for that
 * API (RFC 9068) that it verifies with the JWKS alone; without `resource` nothing changes.
 */
import { cliAudit } from '../../src/audit/bound.js';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { addAccount, addSchool, startTestServer, testConfig, type TestServer } from '../helpers/app.js';
import { Browser } from '../helpers/browser.js';
import { discover, login, startLogin, oidc } from '../helpers/rp.js';
import { registerClient } from '../../src/clients/manage.js';
import { ConfigError } from '../../src/config/index.js';

const API = 'https://api.journal.test/';
const SERVERS = JSON.stringify([{ uri: API, scopes: ['grades:read', 'grades:write'], accessTokenTtl: 300 }]);

describe('RESOURCE_SERVERS', () => {
  it('is read with its defaults', () => {
    const c = testConfig({ RESOURCE_SERVERS: JSON.stringify([{ uri: API }]) });
    expect(c.resourceServers).toEqual([{ uri: API, scopes: [], accessTokenTtl: 600 }]);
    expect(testConfig().resourceServers).toEqual([]);
  });

  it.each([
    ['not JSON', '{uri', /RESOURCE_SERVERS must be a JSON array/],
    ['a fragment', JSON.stringify([{ uri: 'https://api.test/#x' }]), /without a fragment/],
    ['a relative uri', JSON.stringify([{ uri: '/api' }]), /absolute http\(s\) URI/],
    ['a uri twice', JSON.stringify([{ uri: API }, { uri: API }]), /twice/],
    ['an odd scope', JSON.stringify([{ uri: API, scopes: ['Grades Read'] }]), /scopes must be/],
    ['a long lifetime', JSON.stringify([{ uri: API, accessTokenTtl: 86400 }]), /RESOURCE_SERVERS/],
    ['an unknown field', JSON.stringify([{ uri: API, audience: 'x' }]), /RESOURCE_SERVERS/],
  ])('refuses %s with one line naming the variable', (_what, value, message) => {
    expect(() => testConfig({ RESOURCE_SERVERS: value })).toThrow(ConfigError);
    expect(() => testConfig({ RESOURCE_SERVERS: value })).toThrow(message);
  });
});

describe('JWT access tokens for a resource server', () => {
  let srv: TestServer;
  let service: { id: string; secret: string };
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    srv = await startTestServer({ env: { RESOURCE_SERVERS: SERVERS } });
    const { client, secret } = await registerClient(srv.app, { client_name: 'Школьная ИС', grant_types: ['client_credentials'], scope: 'grades:read' }, cliAudit(srv.app.db));
    service = { id: client.client_id, secret: secret! };
    jwks = createRemoteJWKSet(new URL(`${srv.url}/jwks`));
  });
  afterAll(async () => srv?.close());

  const token = async (body: Record<string, string>, who = service) => {
    const res = await fetch(`${srv.url}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${who.id}:${who.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  };

  it('client_credentials with `resource`: an ES256 at+jwt for that audience, verified with the JWKS alone', async () => {
    const stored = async () => Number((await srv.db('oidc_models').count({ n: '*' }).first())!.n);
    const before = await stored();
    const r = await token({ grant_type: 'client_credentials', resource: API, scope: 'grades:read' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ token_type: 'Bearer', expires_in: 300, scope: 'grades:read' });
    expect(decodeProtectedHeader(r.body.access_token!)).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) });
    const { payload } = await jwtVerify(r.body.access_token!, jwks, { issuer: srv.config.issuer, audience: API, typ: 'at+jwt' });
    expect(payload).toMatchObject({ client_id: service.id, scope: 'grades:read', sub: service.id });
    expect(payload.exp! - payload.iat!).toBe(300);
    // Nothing stored per token: the API needs no call back here.
    expect(await stored()).toBe(before);
  });

  it('without `resource` the token stays opaque, as before', async () => {
    const r = await token({ grant_type: 'client_credentials' });
    expect(r.status).toBe(200);
    expect(r.body.access_token).not.toContain('.');
  });

  it('an unknown resource is refused, not widened', async () => {
    for (const resource of ['https://evil.example/', 'https://api.journal.test/other', 'https://api.journal.test']) {
      const r = await token({ grant_type: 'client_credentials', resource });
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('invalid_target');
    }
  });

  it("a scope of the API the client was not given is refused", async () => {
    const r = await token({ grant_type: 'client_credentials', resource: API, scope: 'grades:write' });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_scope');
  });

  it('the admin API does not take a resource server token', async () => {
    const { client, secret } = await registerClient(srv.app, { client_name: 'Платформа', grant_types: ['client_credentials'], scope: 'admin grades:read' }, cliAudit(srv.app.db));
    const jwt = await token({ grant_type: 'client_credentials', resource: API, scope: 'grades:read' }, { id: client.client_id, secret: secret! });
    const res = await fetch(`${srv.url}/admin/api/v1/clients`, { headers: { authorization: `Bearer ${jwt.body.access_token}` } });
    expect(res.status).toBe(401);
  });

  it('clients may be given the APIs scopes; unknown ones are still refused; discovery lists them', async () => {
    await expect(registerClient(srv.app, { client_name: 'X', grant_types: ['client_credentials'], scope: 'grades:nosuch' }, cliAudit(srv.app.db))).rejects.toMatchObject({ code: 'invalid_client_metadata' });
    const meta = (await (await fetch(`${srv.url}/.well-known/openid-configuration`)).json()) as { scopes_supported: string[] };
    expect(meta.scopes_supported).toEqual(expect.arrayContaining(['grades:read', 'grades:write', 'openid']));
  });

  it("a person's app asking for the API at login gets a JWT for it with the person as sub, also after a refresh", async () => {
    const school = await addSchool(srv.db);
    const pupil = await addAccount(srv.app, school);
    const { client, secret } = await registerClient(
      srv.app,
      {
        client_name: 'Дневник+',
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: ['https://rp.journal.test/cb'],
        scope: 'openid offline_access grades:read',
        first_party: true,
      },
      cliAudit(srv.db),
    );
    const rp = await discover(srv.url, client.client_id, secret!);
    const started = await startLogin(rp, { redirect_uri: 'https://rp.journal.test/cb', school: school.slug, scope: 'openid offline_access grades:read', resource: API, prompt: 'consent' });
    const callback = await login(new Browser(srv.url), started, pupil.login, pupil.password);
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce }, { resource: API });
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: srv.config.issuer, audience: API, typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: pupil.id, client_id: client.client_id, scope: 'grades:read' });
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!, { resource: API });
    expect((await jwtVerify(refreshed.access_token, jwks, { audience: API })).payload.sub).toBe(pupil.id);
    // A token for the API is not a key to userinfo.
    const ui = await fetch(`${srv.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(ui.status).toBe(401);
  });
});
