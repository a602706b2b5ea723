/**
 * The admin API over real HTTP: an operator's client gets a token with client_credentials and
 * the admin scope, manages a relying party that then logs a person in (code + PKCE through a real
 * openid-client RP), and issues initial access tokens; everything else is refused, and every
 * change is audited.
 */
import { cliAudit } from '../../src/audit/bound.js';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser } from '../helpers/browser.js';
import { discover, startLogin, login, oidc } from '../helpers/rp.js';
import { registerClient, removeClient, rotateClientSecret } from '../../src/clients/manage.js';
import { issueInitialAccessToken } from '../../src/clients/registration.js';
import { listAudit } from '../../src/audit/audit.js';
import type { School } from '../../src/schools/queries.js';

let srv: TestServer;
let school: School;
let teacher: Awaited<ReturnType<typeof addAccount>>;
let admin: { id: string; secret: string; token: string };

const CB1 = 'https://library.example.ru/callback';
const CB2 = 'https://library.example.ru/v2/callback';

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, any>;
}

async function call(method: string, path: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${srv.url}/admin/api/v1${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  expect(res.headers.get('content-type') ?? 'application/json').toMatch(/json/);
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
}
const api = (method: string, path: string, body?: unknown) => call(method, path, admin.token, body);

async function serviceToken(clientId: string, secret: string, scope?: string): Promise<string> {
  const rp = await discover(srv.url, clientId, secret);
  return (await oidc.clientCredentialsGrant(rp, scope ? { scope } : {})).access_token;
}

/** A refresh at /token with HTTP Basic client authentication; the raw answer. */
async function refresh(clientId: string, secret: string, refreshToken: string): Promise<{ status: number; body: Record<string, string> }> {
  const res = await fetch(`${srv.url}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

const clientRows = async () => Number((await srv.db('clients').count('* as n').first())!.n);

beforeAll(async () => {
  srv = await startTestServer();
  school = await addSchool(srv.db);
  teacher = await addAccount(srv.app, school, { kind: 'staff', roles: ['teacher'] });
  // What `journal-id client add --name … --type service --scope admin` does.
  const { client, secret } = await registerClient(srv.app, { client_name: 'Платформа', grant_types: ['client_credentials'], scope: 'admin' }, cliAudit(srv.app.db));
  admin = { id: client.client_id, secret: secret!, token: await serviceToken(client.client_id, secret!, 'admin') };
});
afterAll(async () => srv?.close());

describe('who may call it', () => {
  it('without a token, or with a malformed or unknown one: 401 invalid_token with a Bearer challenge', async () => {
    for (const header of [undefined, 'Bearer', 'Basic YWRtaW46YWRtaW4=', 'Bearer not-a-token', `Bearer ${admin.token}x`, `Bearer ${'a'.repeat(5000)}`]) {
      const r = await call('GET', '/clients', undefined, undefined, header ? { authorization: header } : {});
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('invalid_token');
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer realm="journal-id", error="invalid_token"/);
      expect(r.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('a person\'s access token is not an admin token: 401', async () => {
    const web = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    const started = await startLogin(web, { redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]!, school: school.slug });
    const callback = await login(new Browser(srv.url), started, teacher.login, teacher.password);
    const tokens = await oidc.authorizationCodeGrant(web, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    const r = await call('GET', '/clients', tokens.access_token);
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('invalid_token');
  });

  it('a person\'s login cannot ask for the admin scope', async () => {
    const web = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    const started = await startLogin(web, { redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]!, scope: 'openid admin' });
    const { url } = await new Browser(srv.url).follow(started.authUrl.toString());
    expect(new URL(url).searchParams.get('error')).toBe('invalid_scope');
  });

  it('a service client without the admin scope cannot get it, and its token is refused with 403 insufficient_scope', async () => {
    const { client, secret } = await registerClient(srv.app, { client_name: 'Отчёты', grant_types: ['client_credentials'] }, cliAudit(srv.app.db));
    await expect(serviceToken(client.client_id, secret!, 'admin')).rejects.toMatchObject({ error: 'invalid_scope' });
    const r = await call('GET', '/clients', await serviceToken(client.client_id, secret!));
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('insufficient_scope');
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer realm="journal-id", error="insufficient_scope",.* scope="admin"$/);
  });

  it('dynamic registration cannot obtain the admin scope', async () => {
    const iat = (await issueInitialAccessToken(srv.db, { schoolId: school.id, ttlDays: 1 , by: cliAudit(srv.db) })).token;
    const res = await fetch(`${srv.url}/reg`, {
      method: 'POST',
      headers: { authorization: `Bearer ${iat}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Хитрый', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'admin' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_client_metadata');
  });

  it('the API gives neither the admin scope nor first-party status, and does not touch such clients', async () => {
    const before = await clientRows();
    const adminScope = await api('POST', '/clients', { client_name: 'Ещё админ', grant_types: ['client_credentials'], scope: 'admin' });
    expect(adminScope.status).toBe(403);
    expect(adminScope.body.error).toBe('access_denied');
    const firstParty = await api('POST', '/clients', { client_name: 'Свой', redirect_uris: [CB1], first_party: true });
    expect(firstParty.status).toBe(403);
    for (const [method, path] of [['DELETE', `/clients/${admin.id}`], ['PATCH', `/clients/${admin.id}`], ['POST', `/clients/${admin.id}/secret`], ['DELETE', '/clients/journal-web'], ['PATCH', '/clients/journal-web']] as const) {
      const r = await api(method, path, method === 'PATCH' ? { client_name: 'Взлом' } : undefined);
      expect(r.status).toBe(403);
    }
    expect(await clientRows()).toBe(before);
  });
});

describe('a client\'s life through the API', () => {
  let id: string;
  let secret: string;
  let refreshToken: string;

  it('is registered: the secret is shown once and sealed at rest', async () => {
    const r = await api('POST', '/clients', { client_name: 'Школьная библиотека', redirect_uris: [CB1], scope: 'openid profile school offline_access' });
    expect(r.status).toBe(201);
    ({ client_id: id, client_secret: secret } = r.body as { client_id: string; client_secret: string });
    expect(r.headers.get('location')).toBe(`/admin/api/v1/clients/${id}`);
    expect(r.body).toMatchObject({ client_name: 'Школьная библиотека', redirect_uris: [CB1], first_party: false, grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'client_secret_basic' });
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const read = await api('GET', `/clients/${id}`);
    expect(read.status).toBe(200);
    expect(read.body.client_secret).toBeUndefined();
    expect((await api('GET', '/clients')).body.clients.map((c: { client_id: string }) => c.client_id)).toContain(id);
    const row = await srv.db('clients').where({ client_id: id }).first();
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(row.registered_by).toBe('api');
  });

  it('logs a person in with the authorization code and PKCE (after consent)', async () => {
    const rp = await discover(srv.url, id, secret);
    const started = await startLogin(rp, { redirect_uri: CB1, scope: 'openid school offline_access', prompt: 'consent', school: school.slug });
    const callback = await login(new Browser(srv.url), started, teacher.login, teacher.password);
    expect(callback.origin + callback.pathname).toBe(CB1);
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    expect(tokens.claims()).toMatchObject({ sub: teacher.id, aud: id });
    refreshToken = tokens.refresh_token!;
    expect(refreshToken).toBeTruthy();
  });

  it('its redirect URIs are replaced: the old one is refused at once, the new one works', async () => {
    const r = await api('PATCH', `/clients/${id}`, { redirect_uris: [CB2] });
    expect(r.status).toBe(200);
    expect(r.body.redirect_uris).toEqual([CB2]);
    expect(r.body.client_secret).toBeUndefined();

    const rp = await discover(srv.url, id, secret);
    const old = await startLogin(rp, { redirect_uri: CB1, school: school.slug });
    const refused = await new Browser(srv.url).follow(old.authUrl.toString());
    expect(refused.res.status).toBe(400);
    expect(refused.url.startsWith(srv.url)).toBe(true);

    const started = await startLogin(rp, { redirect_uri: CB2, school: school.slug });
    const callback = await login(new Browser(srv.url), started, teacher.login, teacher.password);
    expect(callback.origin + callback.pathname).toBe(CB2);
  });

  it('its secret is rotated: the old one is refused at /token, the new one works', async () => {
    const r = await api('POST', `/clients/${id}/secret`);
    expect(r.status).toBe(200);
    const fresh = r.body.client_secret as string;
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(fresh).not.toBe(secret);
    expect(await refresh(id, secret, refreshToken)).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    const refreshed = await refresh(id, fresh, refreshToken);
    expect(refreshed.status).toBe(200);
    refreshToken = refreshed.body.refresh_token!;
    secret = fresh;
  });

  it('is removed: gone, and its refresh token no longer works', async () => {
    const r = await api('DELETE', `/clients/${id}`);
    expect(r.status).toBe(204);
    expect((await api('GET', `/clients/${id}`)).status).toBe(404);
    expect((await api('DELETE', `/clients/${id}`)).status).toBe(404);
    expect(await refresh(id, secret, refreshToken)).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    const left = await srv.db('oidc_models').whereRaw(`payload->>'clientId' = ?`, [id]).count('* as n').first();
    expect(Number(left!.n)).toBe(0);
  });

  it('every change is audited with the calling client and its address, never a secret', async () => {
    for (const action of ['client.create', 'client.update', 'client.secret.rotate', 'client.remove']) {
      const rows = await listAudit(srv.db, { action, targetId: id, limit: 10 });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ actor: { type: 'client', id: admin.id }, target: { type: 'client', id } });
      expect(rows[0]!.ip).toBeTruthy();
      expect(rows[0]!.requestId).toBeTruthy();
    }
    const all = JSON.stringify(await listAudit(srv.db, { limit: 1000 }));
    expect(all).not.toContain(secret);
    expect(all).not.toContain(admin.secret);
    expect(all).not.toContain(admin.token);
  });
});

describe('school approvals for the operator\'s tooling', () => {
  it('approves a third-party client for a school, lists it, withdraws it — audited; refusals are 4xx JSON', async () => {
    const created = await api('POST', '/clients', { client_name: 'Электронная библиотека', redirect_uris: [CB1] });
    const id = created.body.client_id as string;
    const put = await api('PUT', `/schools/${school.id}/clients/${encodeURIComponent(id)}`);
    expect(put.status).toBe(201);
    expect((await api('PUT', `/schools/${school.id}/clients/${encodeURIComponent(id)}`)).status).toBe(200);
    expect((await api('GET', `/schools/${school.id}/clients`)).body.clients).toEqual([expect.objectContaining({ client_id: id })]);
    expect((await srv.db('school_clients').where({ school_id: school.id, client_id: id }).first()).approved_by).toBe(`client:${admin.id}`);
    expect((await api('DELETE', `/schools/${school.id}/clients/${encodeURIComponent(id)}`)).status).toBe(204);
    expect((await api('DELETE', `/schools/${school.id}/clients/${encodeURIComponent(id)}`)).status).toBe(404);
    for (const action of ['client.approve', 'client.withdraw']) {
      expect(await listAudit(srv.db, { action, targetId: id, limit: 10 })).toEqual([expect.objectContaining({ schoolId: school.id, actor: { type: 'client', id: admin.id } })]);
    }
    for (const [path, status] of [
      [`/schools/${'-'.repeat(36)}/clients/${id}`, 404],
      [`/schools/00000000-0000-0000-0000-000000000000/clients/${id}`, 404],
      [`/schools/${school.id}/clients/no-such-client`, 404],
      [`/schools/${school.id}/clients/journal-web`, 404], // the journal's own apps are not managed here
    ] as const) {
      const r = await api('PUT', path);
      expect([path, r.status]).toEqual([path, status]);
      expect(r.body.error).toBeTruthy();
    }
  });
});

describe('bad input: a 4xx JSON answer and nothing written', () => {
  const web = { client_name: 'Библиотека', redirect_uris: [CB1] };

  it.each([
    ['http://library.example.ru/callback', 'web'],
    [`${CB1}#fragment`, 'web'],
    ['javascript:alert(1)', 'web'],
    ['https://*.example.ru/callback', 'web'],
    ['http://127.0.0.1:8765/cb', 'web'],
    ['http://evil.example/cb', 'native'],
    ['not a url', 'web'],
  ])('redirect URI %s (%s): 400 invalid_redirect_uri', async (uri, type) => {
    const before = await clientRows();
    const r = await api('POST', '/clients', { ...web, application_type: type, redirect_uris: [CB1, uri] });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_redirect_uri');
    expect(await clientRows()).toBe(before);
  });

  it.each([
    ['no name', { redirect_uris: [CB1] }],
    ['an unknown field', { ...web, jwks_uri: 'https://evil.example/jwks' }],
    ['a NUL in the name', { ...web, client_name: 'Библио\u0000тека' }],
    ['a bidi override in the name', { ...web, client_name: 'Библиотека\u202Egnp.exe' }],
    ['a broken surrogate', { ...web, client_name: 'Библиотека\ud800' }],
    ['a very long name', { ...web, client_name: 'Я'.repeat(101) }],
    ['an unknown scope', { ...web, scope: 'openid root' }],
    ['a public client with client_credentials', { ...web, grant_types: ['client_credentials'], token_endpoint_auth_method: 'none', redirect_uris: [] }],
    ['an http back-channel address outside the allowed hosts', { ...web, backchannel_logout_uri: 'http://evil.example/bc' }],
    ['client_secret_jwt', { ...web, token_endpoint_auth_method: 'client_secret_jwt' }],
    ['redirect URIs that are not a list', { ...web, redirect_uris: CB1 }],
    ['a first-party id', { ...web, client_id: 'journal-web' }],
  ])('%s: 4xx', async (_what, body) => {
    const before = await clientRows();
    const r = await api('POST', '/clients', body);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.body.error).toMatch(/^invalid_(client_metadata|redirect_uri)$/);
    expect(await clientRows()).toBe(before);
  });

  it('bodies that are not a JSON object, or too large', async () => {
    expect((await call('POST', '/clients', admin.token, '{"client_name":', { 'content-type': 'application/json' })).status).toBe(400);
    expect((await call('POST', '/clients', admin.token, '[1,2]')).status).toBe(400);
    expect((await call('POST', '/clients', admin.token, 'client_name=x', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    const big = await call('POST', '/clients', admin.token, { ...web, client_name: 'x', padding: 'я'.repeat(70_000) });
    expect(big.status).toBe(413);
    expect(big.body.error).toBe('invalid_request');
  });

  it('markup and SQL in a name are kept as text, not run', async () => {
    const name = `<script>alert(1)</script>'; drop table clients;--`;
    const r = await api('POST', '/clients', { ...web, client_name: name });
    expect(r.status).toBe(201);
    expect((await api('GET', `/clients/${r.body.client_id}`)).body.client_name).toBe(name);
    expect((await api('DELETE', `/clients/${r.body.client_id}`)).status).toBe(204);
  });

  it('unknown clients and endpoints: 404; hostile ids never reach the database as such', async () => {
    for (const path of ['/clients/c_nope', `/clients/${'x'.repeat(300)}`, '/clients/..%2F..%2Fschools', '/nothing-here']) {
      const r = await api('GET', path);
      expect(r.status).toBe(404);
      expect(r.body.error).toBe('not_found');
    }
    expect((await api('PATCH', '/clients/c_nope', { client_name: 'x' })).status).toBe(404);
    expect((await api('POST', '/clients/c_nope/secret')).status).toBe(404);
    expect((await api('PUT', '/clients/c_nope', { client_name: 'x' })).status).toBe(404);
    const nul = await api('GET', '/clients/c_%00');
    expect(nul.status).toBe(400);
  });

  it('an empty change, or a change that breaks the client, is refused and nothing is changed', async () => {
    const { body } = await api('POST', '/clients', web);
    for (const patch of [{}, { redirect_uris: [] }, { redirect_uris: ['http://evil.example/cb'] }, { grant_types: ['refresh_token'] }, { client_name: '' }]) {
      const r = await api('PATCH', `/clients/${body.client_id}`, patch);
      expect(r.status).toBe(400);
    }
    expect((await api('GET', `/clients/${body.client_id}`)).body).toMatchObject({ client_name: 'Библиотека', redirect_uris: [CB1] });
  });
});

describe('schools and initial access tokens', () => {
  it('lists schools without personal data', async () => {
    const r = await api('GET', '/schools');
    expect(r.status).toBe(200);
    const found = r.body.schools.find((s: { id: string }) => s.id === school.id);
    expect(found).toEqual({ id: school.id, number: school.number, name: school.name, region: school.region, slug: school.slug });
    expect((await api('GET', `/schools?q=${encodeURIComponent(school.number)}`)).body.schools[0].id).toBe(school.id);
    expect((await api('GET', '/schools?limit=0')).status).toBe(400);
  });

  it('issues a token for one school; a registration with it belongs to that school', async () => {
    const r = await api('POST', '/initial-access-tokens', { school_id: school.id, ttl_days: 2 });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ school_id: school.id, registration_endpoint: `${srv.url}/reg` });
    const reg = await fetch(r.body.registration_endpoint, {
      method: 'POST',
      headers: { authorization: `Bearer ${r.body.initial_access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Столовая', redirect_uris: ['https://food.example.ru/cb'] }),
    });
    expect(reg.status).toBe(201);
    expect(((await reg.json()) as { school_id: string }).school_id).toBe(school.id);

    const [issued] = await listAudit(srv.db, { action: 'client.token.issue', limit: 1 });
    expect(issued).toMatchObject({ actor: { type: 'client', id: admin.id }, schoolId: school.id });
    expect(issued!.ip).toBeTruthy();
    expect(JSON.stringify(issued)).not.toContain(r.body.initial_access_token);
  });

  it('refuses an unknown school and a bad lifetime', async () => {
    for (const body of [{ school_id: '00000000-0000-0000-0000-000000000000' }, { school_id: school.id, ttl_days: 1000 }, { school_id: school.id, ttl_days: '7' }, {}]) {
      const r = await api('POST', '/initial-access-tokens', body);
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('invalid_request');
    }
  });
});

describe('an admin client\'s access ends with it', () => {
  it('rotating its secret revokes its tokens; removing it refuses them', async () => {
    const { client, secret } = await registerClient(srv.app, { client_name: 'Второй админ', grant_types: ['client_credentials'], scope: 'admin' }, cliAudit(srv.app.db));
    const token = await serviceToken(client.client_id, secret!, 'admin');
    expect((await call('GET', '/schools', token)).status).toBe(200);
    const { secret: fresh } = await rotateClientSecret(srv.app, client.client_id, cliAudit(srv.app.db));
    expect((await call('GET', '/schools', token)).status).toBe(401);
    const second = await serviceToken(client.client_id, fresh, 'admin');
    expect((await call('GET', '/schools', second)).status).toBe(200);
    await removeClient(srv.app, client.client_id, cliAudit(srv.app.db));
    expect((await call('GET', '/schools', second)).status).toBe(401);
  });
});
