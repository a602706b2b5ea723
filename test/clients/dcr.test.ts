/**
 * Dynamic client registration (RFC 7591) and management (RFC 7592) over real HTTP: school IT
 * registers with an initial access token bound to its school; the client then logs people in.
 */
import { cliAudit } from '../../src/audit/bound.js';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser } from '../helpers/browser.js';
import { discover, startLogin, login, oidc } from '../helpers/rp.js';
import { issueInitialAccessToken } from '../../src/clients/registration.js';
import { listAudit } from '../../src/audit/audit.js';
import type { School } from '../../src/schools/queries.js';

let srv: TestServer;
let school: School;
let other: School;
let person: Awaited<ReturnType<typeof addAccount>>;
let endpoint: string;
let iat: string;

const CALLBACK = 'https://library.example.ru/callback';

interface Registered {
  client_id: string;
  client_secret?: string;
  registration_access_token: string;
  registration_client_uri: string;
  redirect_uris: string[];
  school_id?: string;
  first_party?: boolean;
  [k: string]: unknown;
}

async function call(method: string, url: string, token: string | undefined, body?: unknown) {
  const res = await fetch(url, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}), accept: 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> & Registered };
}
const register = (body: Record<string, unknown>, token?: string | null) => call('POST', endpoint, token === undefined ? iat : (token ?? undefined), body);

beforeAll(async () => {
  srv = await startTestServer();
  school = await addSchool(srv.db);
  other = await addSchool(srv.db);
  person = await addAccount(srv.app, school, { kind: 'student' });
  const meta = (await (await fetch(`${srv.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  endpoint = meta.registration_endpoint as string;
  iat = (await issueInitialAccessToken(srv.db, { schoolId: school.id, ttlDays: 1 , by: cliAudit(srv.db) })).token;
});
afterAll(async () => srv?.close());

describe('discovery', () => {
  it('announces the registration endpoint and no HS* signing of ID tokens or userinfo', async () => {
    const meta = (await (await fetch(`${srv.url}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
    expect(endpoint).toBe(`${srv.url}/reg`);
    expect(meta.id_token_signing_alg_values_supported!.some((a) => a.startsWith('HS'))).toBe(false);
    expect((meta.userinfo_signing_alg_values_supported ?? []).some((a) => a.startsWith('HS'))).toBe(false);
  });
});

describe('registration refusals', () => {
  const body = { client_name: 'Библиотека', redirect_uris: [CALLBACK] };

  it('without an initial access token, or with a wrong one: 401 invalid_token', async () => {
    for (const token of [null, 'not-a-token', `${iat}x`]) {
      const r = await register(body, token);
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('invalid_token');
    }
  });

  it.each([
    ['http://evil.example/cb', 'web'],
    [`${CALLBACK}#fragment`, 'web'],
    ['javascript:alert(1)', 'web'],
    ['javascript:alert(1)', 'native'],
    ['https://*.example.ru/callback', 'web'],
    ['http://127.0.0.1:8765/cb', 'web'],
    ['http://evil.example/cb', 'native'],
  ])('a bad redirect URI %s (%s): 400 invalid_redirect_uri', async (uri, type) => {
    const r = await register({ ...body, application_type: type, token_endpoint_auth_method: type === 'native' ? 'none' : undefined, redirect_uris: [CALLBACK, uri] });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_redirect_uri');
  });

  it('a client secret never becomes a key: client_secret_jwt and HS* algorithms are refused (request objects are off)', async () => {
    const meta = (await (await fetch(`${srv.url}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
    expect(meta.token_endpoint_auth_methods_supported).not.toContain('client_secret_jwt');
    expect((meta.token_endpoint_auth_signing_alg_values_supported ?? []).some((a) => a.startsWith('HS'))).toBe(false);
    expect((meta.request_object_signing_alg_values_supported ?? []).some((a) => a.startsWith('HS'))).toBe(false);
    for (const extra of [{ token_endpoint_auth_method: 'client_secret_jwt' }, { id_token_signed_response_alg: 'HS256' }]) {
      const r = await register({ ...body, ...extra });
      expect([JSON.stringify(extra), r.status]).toEqual([JSON.stringify(extra), 400]);
      expect(r.body.error).toBe('invalid_client_metadata');
    }
  });

  it('a client without a name is refused (people see it on the consent page)', async () => {
    const r = await register({ redirect_uris: [CALLBACK] });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_client_metadata');
  });

  it('a NUL character in the metadata is a client error, not a server error', async () => {
    const r = await register({ ...body, client_name: 'Библио\u0000тека' });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_client_metadata');
  });

  it('nothing of the refusals was stored', async () => {
    expect(Number((await srv.db('clients').count('* as n').first())!.n)).toBe(0);
  });
});

describe('a native app: loopback and a private-use scheme', () => {
  it('is accepted as a public client', async () => {
    const r = await register({
      client_name: 'Дневник школы',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1:8765/cb', 'http://[::1]/cb', 'http://localhost:8765/cb', 'ru.school.diary:/callback'],
    });
    expect(r.status).toBe(201);
    expect(r.body.client_secret).toBeUndefined();
    expect(r.body.school_id).toBe(school.id);
  });
});

describe('a web client registered with a school token', () => {
  let client: Registered;

  it('is registered: third-party, bound to the token\'s school whatever the request says', async () => {
    const r = await register({
      client_name: 'Школьная библиотека',
      redirect_uris: [CALLBACK],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      first_party: true,
      school_id: other.id,
    });
    expect(r.status).toBe(201);
    client = r.body;
    expect(client.client_id).toMatch(/^c_/);
    expect(client.client_secret).toEqual(expect.any(String));
    expect(client.registration_access_token).toEqual(expect.any(String));
    expect(client.registration_client_uri).toBe(`${srv.url}/reg/${client.client_id}`);
    expect(client.school_id).toBe(school.id);
    expect(client.first_party).toBe(false);

    const row = await srv.db('clients').where({ client_id: client.client_id }).first();
    expect(row).toMatchObject({ school_id: school.id, registered_by: 'dcr', first_party: false, name: 'Школьная библиотека' });
    // The secret is sealed at rest: not in any column in clear.
    expect(JSON.stringify(row)).not.toContain(client.client_secret!);
    expect(row.secret_enc).toEqual(expect.any(String));
  });

  it('logs a person in with the authorization code and PKCE (after consent)', async () => {
    const rp = await discover(srv.url, client.client_id, client.client_secret);
    const started = await startLogin(rp, { redirect_uri: CALLBACK, scope: 'openid school', school: school.slug });
    const callback = await login(new Browser(srv.url), started, person.login, person.password);
    expect(callback.origin + callback.pathname).toBe(CALLBACK);
    const tokens = await oidc.authorizationCodeGrant(rp, callback, {
      pkceCodeVerifier: started.verifier,
      expectedState: started.state,
      expectedNonce: started.nonce,
    });
    expect(tokens.claims()).toMatchObject({ sub: person.id, aud: client.client_id, iss: srv.url });
  });

  it('reads its registration with the registration access token (RFC 7592)', async () => {
    const r = await call('GET', client.registration_client_uri, client.registration_access_token);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ client_id: client.client_id, client_secret: client.client_secret, redirect_uris: [CALLBACK], school_id: school.id });
  });

  it('a registration access token does not open another client (and is destroyed for trying)', async () => {
    const own = await register({ client_name: 'Другая', redirect_uris: [CALLBACK] });
    const r = await call('GET', client.registration_client_uri, own.body.registration_access_token);
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('invalid_token');
    expect((await call('GET', own.body.registration_client_uri, own.body.registration_access_token)).status).toBe(401);
    expect((await call('GET', client.registration_client_uri, client.registration_access_token)).status).toBe(200);
  });

  it('updates it: redirect URIs checked, the school kept, the token rotated', async () => {
    const update = {
      client_id: client.client_id,
      client_name: 'Библиотека школы',
      redirect_uris: [CALLBACK, 'https://library.example.ru/callback2'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      school_id: other.id,
      first_party: true,
    };
    const bad = await call('PUT', client.registration_client_uri, client.registration_access_token, { ...update, redirect_uris: ['http://evil.example'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_redirect_uri');

    const r = await call('PUT', client.registration_client_uri, client.registration_access_token, update);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ client_name: 'Библиотека школы', redirect_uris: update.redirect_uris, school_id: school.id, first_party: false, client_secret: client.client_secret });
    expect(r.body.registration_access_token).not.toBe(client.registration_access_token);
    expect((await call('GET', client.registration_client_uri, client.registration_access_token)).status).toBe(401);
    client = { ...client, registration_access_token: r.body.registration_access_token };

    const row = await srv.db('clients').where({ client_id: client.client_id }).first();
    expect(row).toMatchObject({ name: 'Библиотека школы', school_id: school.id, first_party: false });
    expect(row.metadata.redirect_uris).toEqual(update.redirect_uris);
    expect(JSON.stringify(row)).not.toContain(client.client_secret!);
  });

  it('deletes it: gone from the table, its credentials no longer work', async () => {
    const r = await call('DELETE', client.registration_client_uri, client.registration_access_token);
    expect(r.status).toBe(204);
    expect(await srv.db('clients').where({ client_id: client.client_id }).first()).toBeUndefined();
    expect((await call('GET', client.registration_client_uri, client.registration_access_token)).status).toBe(401);
    const token = await fetch(`${srv.url}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    expect(((await token.json()) as { error: string }).error).toBe('invalid_client');
  });

  it('every step is audited, with the school and the caller\'s address, never a secret', async () => {
    const issued = await listAudit(srv.db, { action: 'client.token.issue', limit: 10 });
    expect(issued[0]).toMatchObject({ schoolId: school.id, actor: { type: 'cli' } });
    for (const action of ['client.create', 'client.update', 'client.remove']) {
      const rows = await listAudit(srv.db, { action, targetId: client.client_id, limit: 10 });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ schoolId: school.id, clientId: client.client_id, actor: { type: 'client', id: client.client_id } });
      expect(rows[0]!.ip).toBeTruthy();
      expect(rows[0]!.requestId).toBeTruthy();
    }
    const all = JSON.stringify(await listAudit(srv.db, { limit: 1000 }));
    expect(all).not.toContain(client.client_secret!);
    expect(all).not.toContain(iat);
  });
});

describe('a token of another school', () => {
  it('registers clients of that school', async () => {
    const token = (await issueInitialAccessToken(srv.db, { schoolId: other.id, ttlDays: 1 , by: cliAudit(srv.db) })).token;
    const r = await register({ client_name: 'Столовая', redirect_uris: ['https://food.example.ru/cb'] }, token);
    expect(r.status).toBe(201);
    expect(r.body.school_id).toBe(other.id);
    expect((await srv.db('clients').where({ client_id: r.body.client_id }).first()).school_id).toBe(other.id);
  });
});
