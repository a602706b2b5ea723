/**
 * The fake ESIA over real HTTP, checked against the protocol note (notes/esia.md): what a
 * connector sends is verified as ESIA would, and what it gets back has ESIA's shapes. The client
 * here signs with a P-256 key (the development stand-in); one test signs with GOST via openssl.
 */
import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { compactVerify, decodeProtectedHeader, importX509 } from 'jose';
import { selfSignedCertificate, sha256CertificateHash } from '../../src/crypto/self-signed-cert.js';
import { startFakeEsia, parseEsiaTimestamp, type FakeEsia } from '../../fake-esia/server.js';

const CLIENT = 'JOURNALID';
const REDIRECT = 'http://localhost:3999/esia/callback';
const SCOPE = 'openid fullname snils email mobile';
const PETROV = 1000000001;

type Fields = Record<string, string | undefined>;

function p256Client(cn: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const certificate = selfSignedCertificate({ privateKey, publicKey, commonName: cn });
  return { privateKey, certificate, hash: sha256CertificateHash(certificate) };
}
const client = p256Client(CLIENT);

/** `yyyy.MM.dd HH:mm:ss ±hhmm` of the instant `at`, written in the given offset. */
function esiaTimestamp(at = Date.now(), offsetMinutes = 180): string {
  const d = new Date(at + offsetMinutes * 60_000);
  const p = (n: number) => String(n).padStart(2, '0');
  const a = Math.abs(offsetMinutes);
  return `${d.getUTCFullYear()}.${p(d.getUTCMonth() + 1)}.${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${offsetMinutes < 0 ? '-' : '+'}${p(Math.floor(a / 60))}${p(a % 60)}`;
}

const p256Sign = (key: KeyObject) => (message: string) => sign('sha256', Buffer.from(message, 'utf8'), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');

const acMessage = (f: Fields) => ['client_id', 'scope', 'scope_org', 'timestamp', 'state', 'redirect_uri'].map((n) => f[n] ?? '').join('');

/** Fields without a client_secret get one signed over the v2/ac message (+ `extra`, te's code). */
function signed(f: Fields, signer: (m: string) => string, extra = ''): URLSearchParams {
  const all: Fields = { ...f };
  if (!('client_secret' in all)) all.client_secret = signer(acMessage(all) + extra);
  return new URLSearchParams(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined));
}

const acFields = (over: Fields = {}): Fields => ({
  client_id: CLIENT,
  client_secret: undefined,
  redirect_uri: REDIRECT,
  scope: SCOPE,
  scope_org: '',
  response_type: 'code',
  state: randomUUID(),
  timestamp: esiaTimestamp(),
  access_type: 'online',
  client_certificate_hash: client.hash,
  ...over,
});

function withoutSecret(f: Fields): Fields {
  const { client_secret, ...rest } = f;
  return client_secret === undefined ? rest : f;
}

let fake: FakeEsia;

async function ac(over: Fields = {}, signer = p256Sign(client.privateKey), base = fake.url): Promise<Response> {
  return fetch(`${base}/aas/oauth2/v2/ac?${signed(withoutSecret(acFields(over)), signer)}`, { redirect: 'manual' });
}

/** The callback's parameters, checking it goes to the registered redirect URI. */
function callback(res: Response): URLSearchParams {
  expect(res.status).toBe(302);
  const to = new URL(res.headers.get('location')!);
  expect(`${to.origin}${to.pathname}`).toBe(REDIRECT);
  return to.searchParams;
}

async function acError(over: Fields, signer?: (m: string) => string): Promise<{ error: string | null; description: string; state: string | null }> {
  const cb = callback(await ac(over, signer));
  expect(cb.get('code')).toBeNull();
  return { error: cb.get('error'), description: cb.get('error_description') ?? '', state: cb.get('state') };
}

async function code(over: Fields = {}): Promise<string> {
  fake.loginAs(PETROV);
  const cb = callback(await ac(over));
  expect(cb.get('error')).toBeNull();
  return cb.get('code')!;
}

const teFields = (c: string, over: Fields = {}): Fields => ({
  client_id: CLIENT,
  code: c,
  grant_type: 'authorization_code',
  client_certificate_hash: client.hash,
  state: randomUUID(),
  redirect_uri: REDIRECT,
  scope: SCOPE,
  scope_org: '',
  timestamp: esiaTimestamp(),
  token_type: 'Bearer',
  ...over,
});

async function te(c: string, over: Fields = {}, signer = p256Sign(client.privateKey), base = fake.url): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const f = teFields(c, over);
  const started = Date.now();
  const res = await fetch(`${base}/aas/oauth2/v3/te`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: signed(f, signer, f.code ?? ''),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, ms: Date.now() - started };
}

async function tokens(over: Fields = {}): Promise<{ access: string; id: string; body: Record<string, unknown> }> {
  const r = await te(await code(over), over.scope ? { scope: over.scope } : {});
  expect(r.status).toBe(200);
  return { access: r.body.access_token as string, id: r.body.id_token as string, body: r.body };
}

async function rs(pathname: string, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${fake.url}${pathname}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.json() };
}

async function verified(jwt: string, certificate = fake.certificate): Promise<{ header: Record<string, unknown>; payload: Record<string, any> }> {
  const { payload } = await compactVerify(jwt, await importX509(certificate, 'RS256'));
  return { header: decodeProtectedHeader(jwt), payload: JSON.parse(new TextDecoder().decode(payload)) };
}

beforeAll(async () => {
  fake = await startFakeEsia({ port: 0, clients: [{ clientId: CLIENT, redirectUris: [REDIRECT, 'http://school.test/esia/callback'], certificate: client.certificate }], slowMs: 400 });
});
afterAll(async () => fake?.close());
beforeEach(() => {
  fake.loginAs(null);
  fake.fail(null);
  fake.requests.length = 0;
});

describe('fake ESIA: authorization, token exchange and REST', () => {
  it('ac → te → /rs: ESIA-shaped tokens, person and contacts in link-list and embed modes', async () => {
    const state = randomUUID();
    fake.loginAs(PETROV);
    const cb = callback(await ac({ state, access_type: 'offline' }));
    expect(cb.get('state')).toBe(state);
    const teState = randomUUID();
    const r = await te(cb.get('code')!, { state: teState });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body)).toEqual(['access_token', 'id_token', 'refresh_token', 'state', 'token_type', 'expires_in']);
    expect(r.body).toMatchObject({ state: teState, token_type: 'Bearer', expires_in: 3600 });

    const access = await verified(r.body.access_token as string);
    expect(access.header).toEqual({ ver: 1, typ: 'JWT', sbt: 'access', alg: 'RS256' });
    expect(Object.keys(access.payload)).toEqual(['nbf', 'scope', 'iss', 'urn:esia:sid', 'urn:esia:sbj_id', 'exp', 'iat', 'client_id']);
    expect(access.payload).toMatchObject({
      scope: `openid fullname?oid=${PETROV} snils?oid=${PETROV} email?oid=${PETROV} mobile?oid=${PETROV}`,
      iss: fake.issuer,
      'urn:esia:sbj_id': PETROV,
      client_id: CLIENT,
    });
    expect(fake.issuer).toBe(`${fake.url}/`);
    expect(access.payload.exp - access.payload.iat).toBe(3600);

    const id = await verified(r.body.id_token as string);
    expect(id.header).toEqual({ ver: 0, typ: 'JWT', sbt: 'id', alg: 'RS256' });
    expect(id.payload).toMatchObject({
      aud: CLIENT,
      sub: PETROV,
      amr: 'PWD',
      'urn:esia:amd': 'PWD',
      iss: fake.issuer,
      'urn:esia:sid': access.payload['urn:esia:sid'],
      'urn:esia:sbj': { 'urn:esia:sbj:typ': 'P', 'urn:esia:sbj:is_tru': true, 'urn:esia:sbj:oid': PETROV, 'urn:esia:sbj:nam': `OID.${PETROV}` },
    });
    expect(id.payload.nonce).toBeUndefined();

    const token = r.body.access_token as string;
    const person = await rs(`/rs/prns/${PETROV}`, token);
    expect(person.status).toBe(200);
    expect(person.body).toMatchObject({ stateFacts: ['EntityRoot'], firstName: 'Иван', lastName: 'Петров', middleName: 'Сергеевич', trusted: true, snils: '112-233-445 95', status: 'REGISTERED' });
    expect(person.body.eTag).toMatch(/^[0-9A-F]{40}$/);
    expect(person.body.birthDate).toBeUndefined(); // no birthdate scope

    const links = await rs(`/rs/prns/${PETROV}/ctts`, token);
    expect(links.status).toBe(200);
    expect(links.body).toMatchObject({ stateFacts: ['hasSize'], size: 2 });
    for (const l of links.body.elements) expect(l).toMatch(new RegExp(`^${fake.url}/rs/prns/${PETROV}/ctts/\\d+$`));
    const one = await rs(new URL(links.body.elements[1]).pathname, token);
    expect(one.body).toEqual({ stateFacts: ['Identifiable'], id: expect.any(Number), type: 'MBT', vrfStu: 'VERIFIED', value: '+7(999)1234567' });

    const embedded = await rs(`/rs/prns/${PETROV}/ctts?embed=(elements)`, token);
    expect(embedded.body.elements).toEqual([
      { stateFacts: ['Identifiable'], id: expect.any(Number), type: 'EML', vrfStu: 'VERIFIED', value: 'ivan.petrov@example.ru' },
      { stateFacts: ['Identifiable'], id: one.body.id, type: 'MBT', vrfStu: 'VERIFIED', value: '+7(999)1234567' },
    ]);
    // What it received is kept for assertions, client_secret included.
    const got = fake.requests.find((q) => q.path === '/aas/oauth2/v3/te')!;
    expect(got).toMatchObject({ method: 'POST', params: { state: teState, grant_type: 'authorization_code', client_secret: expect.stringMatching(/^[\w-]{86}$/) } });
  });

  it('the picker page logs in the chosen person or refuses; the form carries only an opaque id', async () => {
    const state = randomUUID();
    const res = await ac({ state, scope: 'openid fullname birthdate gender' });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Госуслуги');
    expect(html).toContain('тестовая среда');
    expect(html).toContain('Петров Иван Сергеевич');
    expect(html).toContain('СНИЛС 112-233-445 95');
    expect(html).toContain('упрощённая учётная запись');
    expect(html).toContain('Отказать в доступе');
    expect(html).not.toContain(REDIRECT);
    const id = /name="request" value="([^"]+)"/.exec(html)![1]!;
    const post = (body: Record<string, string>) => fetch(`${fake.url}/aas/oauth2/v2/ac/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams(body) });

    const cb = callback(await post({ request: id, oid: '1000000004' }));
    expect(cb.get('state')).toBe(state);
    const r = await te(cb.get('code')!, { scope: 'openid fullname birthdate gender' });
    const person = await rs('/rs/prns/1000000004', r.body.access_token as string);
    expect(person.body).toMatchObject({ lastName: 'Васильева', birthDate: '21.07.1988', gender: 'F' });
    expect(person.body.snils).toBeUndefined();

    expect((await post({ request: id, oid: '1000000004' })).status).toBe(400); // single use
    const id2 = /name="request" value="([^"]+)"/.exec(await (await ac()).text())![1]!;
    const denied = callback(await post({ request: id2, action: 'deny' }));
    expect(denied.get('error')).toBe('access_denied');
    expect(denied.get('error_description')).toMatch(/^ESIA-007004/);
    expect((await post({ request: 'forged', oid: String(PETROV) })).status).toBe(400);
  });

  it('shows only what the scopes grant: no contact scope, email only, contacts', async () => {
    const noContacts = await tokens({ scope: 'openid fullname' });
    const person = await rs(`/rs/prns/${PETROV}`, noContacts.access);
    expect(person.body.snils).toBeUndefined();
    expect(person.body.firstName).toBe('Иван');
    expect((await rs(`/rs/prns/${PETROV}/ctts`, noContacts.access)).status).toBe(403);

    const email = await tokens({ scope: 'openid email' });
    const list = await rs(`/rs/prns/${PETROV}/ctts?embed=(elements)`, email.access);
    expect(list.body.elements.map((c: { type: string }) => c.type)).toEqual(['EML']);
    expect((await rs(`/rs/prns/${PETROV}`, email.access)).body.firstName).toBeUndefined();
    const all = await rs(`/rs/prns/${PETROV}/ctts`, email.access);
    expect(all.body.size).toBe(1);

    fake.loginAs(1000000002);
    const parent = await te(callback(await ac({ scope: 'openid contacts' })).get('code')!, { scope: 'openid contacts' });
    const contacts = await rs('/rs/prns/1000000002/ctts?embed=(elements)', parent.body.access_token as string);
    expect(contacts.body.elements.map((c: { type: string; vrfStu: string }) => `${c.type}:${c.vrfStu}`)).toEqual(['EML:VERIFIED', 'MBT:VERIFIED', 'PHN:NOT_VERIFIED']);
  });
});

describe('fake ESIA: authorization request checks', () => {
  it('unknown client or unregistered redirect_uri: an error page, never a redirect', async () => {
    const unknown = await ac({ client_id: 'NOBODY' });
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('location')).toBeNull();
    expect(await unknown.text()).toContain('ESIA-007002');
    const elsewhere = await ac({ redirect_uri: 'https://evil.example/cb' });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.headers.get('location')).toBeNull();
    expect(await elsewhere.text()).toContain('ESIA-007023');
    const prefix = await ac({ redirect_uri: `${REDIRECT}/../x` });
    expect(prefix.headers.get('location')).toBeNull();
  });

  it('refuses on the redirect with ESIA codes, echoing state', async () => {
    const state = randomUUID();
    expect(await acError({ state, client_certificate_hash: undefined })).toEqual({ error: 'invalid_request', description: expect.stringMatching(/^ESIA-007014.*client_certificate_hash/), state });
    expect((await acError({ timestamp: undefined })).description).toMatch(/^ESIA-007014/);
    expect(await acError({ response_type: 'token' })).toMatchObject({ error: 'unsupported_response_type', description: expect.stringMatching(/^ESIA-007009/) });
    for (const bad of ['not-a-uuid', 'ABCDEF12-3456-7890-ABCD-EF1234567890x', randomBytes(16).toString('hex')]) {
      expect(await acError({ state: bad })).toMatchObject({ error: 'invalid_request', description: expect.stringMatching(/^ESIA-007003/), state: bad });
    }
    // Any UUID version, either case.
    fake.loginAs(PETROV);
    expect(callback(await ac({ state: 'ABCDEF12-3456-1890-ABCD-EF1234567890' })).get('code')).toBeTruthy();
    fake.loginAs(null);
    expect((await acError({ scope: 'openid telepathy' })).error).toBe('invalid_scope');
  });

  it('checks the timestamp format and window, honouring its offset', async () => {
    fake.loginAs(PETROV);
    for (const offset of [180, 0, -330]) expect(callback(await ac({ timestamp: esiaTimestamp(Date.now(), offset) })).get('code')).toBeTruthy();
    const stale = esiaTimestamp(Date.now() - 10 * 60_000);
    const wrongOffset = esiaTimestamp(Date.now(), 180).replace('+0300', '+0000'); // the wall clock of Moscow, claimed as UTC
    for (const timestamp of [stale, esiaTimestamp(Date.now() + 10 * 60_000), wrongOffset, '2025-09-02T13:00:29+03:00', esiaTimestamp().replace(/ ([+-])(\d\d)(\d\d)$/, ' $1$2:$3'), '2025.02.31 10:00:00 +0300']) {
      expect(await acError({ timestamp })).toMatchObject({ error: 'invalid_request', description: expect.stringMatching(/^ESIA-007015/) });
    }
    expect(parseEsiaTimestamp('2025.09.02 13:00:29 +0300')).toBe(Date.UTC(2025, 8, 2, 10, 0, 29));
  });

  it('checks client_certificate_hash and the signature (ESIA-007053), padded or not', async () => {
    fake.loginAs(PETROV);
    expect(callback(await ac({ client_certificate_hash: client.hash.toLowerCase() })).get('code')).toBeTruthy();
    const pemHash = createHash('sha256').update(client.certificate).digest('hex');
    expect(await acError({ client_certificate_hash: pemHash })).toMatchObject({ error: 'access_denied', description: expect.stringMatching(/^ESIA-007053: OAuthErrorEnum\.clientSecretWrong/) });

    const other = p256Client('someone else');
    expect((await acError({}, p256Sign(other.privateKey))).description).toMatch(/^ESIA-007053/);
    // The legacy message order is a wrong signature too.
    const f = acFields();
    const legacy = p256Sign(client.privateKey)(`${f.scope}${f.timestamp}${f.client_id}${f.state}`);
    expect((await acError({ ...f, client_secret: legacy })).description).toMatch(/^ESIA-007053/);
    expect((await acError({ client_secret: 'not base64url!' })).description).toMatch(/^ESIA-007053/);

    const g = acFields();
    const secret = p256Sign(client.privateKey)(acMessage(g));
    expect(secret).toMatch(/^[\w-]{86}$/);
    expect(callback(await ac({ ...g, client_secret: `${secret}==` })).get('code')).toBeTruthy();
    // scope_org is part of the message.
    const h = acFields({ scope_org: 'org_emps' });
    expect(callback(await ac(h)).get('code')).toBeTruthy();
    expect((await acError({ ...h, client_secret: p256Sign(client.privateKey)(acMessage({ ...h, scope_org: '' })) })).description).toMatch(/^ESIA-007053/);
  });
});

describe('fake ESIA: token exchange checks', () => {
  it('a code is single use, bound to redirect_uri, and te is checked like ac', async () => {
    const c = await code();
    const sig = await te(c, {}, (m) => p256Sign(client.privateKey)(m.slice(0, -1))); // message without the code's last char
    expect(sig).toMatchObject({ status: 400, body: { error: 'access_denied', error_description: expect.stringMatching(/^ESIA-007053/) } });
    const stale = await te(c, { timestamp: esiaTimestamp(Date.now() - 3600_000) });
    expect(stale.body.error_description).toMatch(/^ESIA-007015/);
    const noState = await te(c, { state: 'x' });
    expect(noState.body).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/^ESIA-007003/), state: 'x' });
    const missing = await te(c, { token_type: undefined });
    expect(missing.body.error_description).toMatch(/^ESIA-007014.*token_type/);
    expect((await te(c, { grant_type: 'password' })).body.error).toBe('unsupported_grant_type');

    const ok = await te(c);
    expect(ok.status).toBe(200);
    expect(ok.body.refresh_token).toBeUndefined(); // online
    const again = await te(c);
    expect(again).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: expect.stringMatching(/^ESIA-007011/) } });
    expect((await te('no-such-code')).body.error_description).toMatch(/^ESIA-007011/);

    const c2 = await code();
    expect((await te(c2, { redirect_uri: 'http://school.test/esia/callback' })).body.error_description).toMatch(/^ESIA-007011/);
    expect((await te(c2)).body.error_description).toMatch(/^ESIA-007011/); // spent by the failed try

    const form = await fetch(`${fake.url}/aas/oauth2/v3/te`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(form.status).toBe(400);
  });

  it('PKCE S256: verifier checked, required when a challenge was given', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const pkce = { code_challenge: challenge, code_challenge_method: 'S256' };
    expect((await te(await code(pkce), { code_verifier: randomBytes(32).toString('base64url') })).body).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/^ESIA-007040/) });
    expect((await te(await code(pkce))).body.error_description).toMatch(/^ESIA-007014.*code_verifier/);
    expect((await te(await code(), { code_verifier: verifier })).body.error_description).toMatch(/^ESIA-007039/);
    expect((await te(await code(pkce), { code_verifier: verifier })).status).toBe(200);
    fake.loginAs(null);
    expect((await acError({ ...pkce, code_challenge_method: 'plain' })).description).toMatch(/^ESIA-007003/);
  });
});

describe('fake ESIA: REST access and failure modes', () => {
  it('REST answers 401 without a valid token and 403 for another person', async () => {
    const { access } = await tokens();
    expect((await rs(`/rs/prns/${PETROV}`)).status).toBe(401);
    expect((await rs(`/rs/prns/${PETROV}`, `${access}x`)).status).toBe(401);
    expect((await rs('/rs/prns/1000000002', access)).status).toBe(403);
    expect((await rs('/rs/prns/1000000002/ctts', access)).status).toBe(403);
    expect((await rs(`/rs/prns/${PETROV}/ctts/1`, access)).status).toBe(404);
    const res = await fetch(`${fake.url}/nothing/here`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
  });

  it('access_denied and unconfirmed come back on the redirect', async () => {
    fake.loginAs(PETROV);
    fake.fail('access_denied');
    expect(await acError({})).toMatchObject({ error: 'access_denied', description: expect.stringMatching(/^ESIA-007004/) });
    fake.fail('unconfirmed');
    expect(await acError({})).toMatchObject({ error: 'access_denied', description: expect.stringMatching(/^ESIA-007055/) });
  });

  it('te failures: invalid_grant, server_error, slow', async () => {
    const c = await code();
    fake.fail('invalid_grant');
    expect(await te(c)).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: expect.stringMatching(/^ESIA-007011/) } });
    fake.fail('server_error');
    expect(await te(c)).toMatchObject({ status: 503, body: { error_description: expect.stringMatching(/^ESIA-007008/) } });
    fake.fail('slow');
    const slow = await te(c);
    expect(slow.status).toBe(200);
    expect(slow.ms).toBeGreaterThanOrEqual(350);
  });

  it('token failures: wrong_key, wrong_issuer, expired_token (REST refuses the expired one)', async () => {
    fake.fail('wrong_key');
    const wrongKey = await tokens();
    await expect(verified(wrongKey.access)).rejects.toThrow();
    await expect(verified(wrongKey.id)).rejects.toThrow();
    fake.fail('wrong_issuer');
    const wrongIssuer = await tokens();
    expect((await verified(wrongIssuer.id)).payload.iss).not.toBe(fake.issuer);
    fake.fail('expired_token');
    const expired = await tokens();
    const { payload } = await verified(expired.access);
    const now = Date.now() / 1000;
    expect(payload.exp).toBeLessThan(now - 60);
    expect(payload.iat).toBeLessThan(now - 3000);
    expect(payload.nbf).toBe(payload.iat);
    fake.fail(null);
    expect((await rs(`/rs/prns/${PETROV}`, expired.access)).status).toBe(401);
  });

  it('REST failures: rest_forbidden, server_error', async () => {
    const { access } = await tokens();
    fake.fail('rest_forbidden');
    expect((await rs(`/rs/prns/${PETROV}`, access)).status).toBe(403);
    fake.fail('server_error');
    expect((await rs(`/rs/prns/${PETROV}/ctts`, access)).status).toBe(503);
    fake.fail(null);
    expect((await rs(`/rs/prns/${PETROV}`, access)).status).toBe(200);
  });

  it('Logout redirects only to an origin of a registered redirect URI', async () => {
    const logout = (q: Record<string, string>) => fetch(`${fake.url}/idp/ext/Logout?${new URLSearchParams(q)}`, { redirect: 'manual' });
    const ok = await logout({ client_id: CLIENT, redirect_url: 'http://school.test/after-logout' });
    expect(ok.status).toBe(302);
    expect(ok.headers.get('location')).toBe('http://school.test/after-logout');
    const evil = await logout({ client_id: CLIENT, redirect_url: 'https://evil.example/' });
    expect(evil.status).toBe(400);
    expect(evil.headers.get('location')).toBeNull();
    expect((await logout({ client_id: 'NOBODY', redirect_url: 'http://school.test/' })).headers.get('location')).toBeNull();
  });

  it('reads a certificate given as a function per request, and survives hostile input', async () => {
    let pem: string | undefined;
    let closed = false;
    const lazy = await startFakeEsia({
      clients: [{ clientId: CLIENT, redirectUris: [REDIRECT], certificate: () => pem ?? readFileSync('/nonexistent/client-cert.pem', 'utf8') }],
      people: [{ oid: 42, lastName: 'Тестов', firstName: 'Тест', trusted: true, contacts: [] }],
      slowMs: 60_000,
      codeTtlSeconds: 0.2,
    });
    try {
      lazy.loginAs(42);
      const before = callback(await ac({}, undefined, lazy.url));
      expect(before.get('error')).toBe('unauthorized_client');
      expect(before.get('error_description')).toMatch(/^ESIA-007002.*nonexistent/);
      pem = client.certificate;
      const late = callback(await ac({}, undefined, lazy.url)).get('code')!;
      await new Promise((r) => setTimeout(r, 300));
      expect((await te(late, {}, undefined, lazy.url)).body.error_description).toMatch(/^ESIA-007011.*expired/);
      lazy.requests = [];

      for (const junk of ['/aas/oauth2/v2/ac?%E0%A4%A', '/aas/oauth2/v2/ac?client_id=a&client_id=b&redirect_uri=x', '/rs/prns/%00', '//evil.example/rs']) {
        expect((await fetch(`${lazy.url}${junk}`, { redirect: 'manual' })).status).toBeGreaterThanOrEqual(400);
      }
      const big = await fetch(`${lazy.url}/aas/oauth2/v3/te`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'a='.padEnd(200_000, 'x') });
      expect(big.status).toBe(413);
      expect(lazy.requests.map((q) => q.path)).toContain('/rs/prns/%00');
      // A `slow` wait (a minute here) does not hold up close(): the held request is released and
      // its connection cut, and nothing listens any more.
      lazy.fail('slow');
      const hanging = fetch(`${lazy.url}/aas/oauth2/v3/te`, { method: 'POST' }).then((r) => `answered ${r.status}`, () => 'cut');
      for (let i = 0; lazy.waiting === 0 && i < 200; i++) await new Promise((r) => setTimeout(r, 10));
      expect(lazy.waiting).toBe(1);
      await lazy.close();
      closed = true;
      expect(lazy.waiting).toBe(0);
      expect(await hanging).toBe('cut');
      expect(await fetch(`${lazy.url}/aas/oauth2/v3/te`, { method: 'POST' }).then(() => 'answered', () => 'refused')).toBe('refused');
    } finally {
      if (!closed) await lazy.close(); // after a failure above: only cleanup, the failure stays the test's
    }
  });
});

describe('fake ESIA: GOST R 34.10-2012 client', () => {
  it('accepts an ac request signed by openssl with the GOST engine and rejects a flipped byte', async () => {
    const engine = spawnSync('openssl', ['engine', 'gost'], { encoding: 'utf8' });
    if (engine.status !== 0 || !engine.stdout.includes('(gost)')) {
      throw new Error(`OpenSSL's GOST engine is not available (${engine.error?.message ?? engine.stderr.trim()}): apt-get install libengine-gost-openssl`);
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'fake-esia-gost-test-'));
    const openssl = (args: string[], input?: Buffer) => execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    let gost: FakeEsia | undefined;
    let broken: FakeEsia | undefined;
    try {
      openssl(['genpkey', '-engine', 'gost', '-algorithm', 'gost2012_256', '-pkeyopt', 'paramset:A', '-out', key]);
      openssl(['req', '-engine', 'gost', '-new', '-x509', '-key', key, '-md_gost12_256', '-subj', '/CN=test', '-days', '30', '-out', cert]);
      const der = openssl(['x509', '-in', cert, '-outform', 'DER']);
      const hash = /^[0-9a-f]{64}/.exec(openssl(['dgst', '-engine', 'gost', '-md_gost12_256', '-r'], der).toString())![0].toUpperCase();
      const gostSign = (m: string) => {
        const raw = openssl(['dgst', '-engine', 'gost', '-md_gost12_256', '-sign', key], Buffer.from(m, 'utf8'));
        expect(raw.length).toBe(64);
        return raw;
      };
      gost = await startFakeEsia({ clients: [{ clientId: 'GOSTIS', redirectUris: [REDIRECT], certificate: readFileSync(cert, 'utf8') }] });
      gost.loginAs(PETROV);
      const over = { client_id: 'GOSTIS', client_certificate_hash: hash };

      const cb = callback(await ac(over, (m) => gostSign(m).toString('base64url'), gost.url));
      expect(cb.get('error_description')).toBeNull();
      const r = await te(cb.get('code')!, over, (m) => gostSign(m).toString('base64url'), gost.url);
      expect(r.status).toBe(200);

      const flipped = callback(await ac(over, (m) => {
        const s = gostSign(m);
        s[10] = s[10]! ^ 0x01;
        return s.toString('base64url');
      }, gost.url));
      expect(flipped.get('error_description')).toMatch(/^ESIA-007053/);
      const reversed = callback(await ac(over, (m) => gostSign(m).reverse().toString('base64url'), gost.url));
      expect(reversed.get('error_description')).toMatch(/^ESIA-007053/); // CryptoPro's order is not OpenSSL's
      const sha = callback(await ac({ ...over, client_certificate_hash: sha256CertificateHash(readFileSync(cert, 'utf8')) }, (m) => gostSign(m).toString('base64url'), gost.url));
      expect(sha.get('error_description')).toMatch(/^ESIA-007053/);

      // Without the engine the fake says what to install instead of calling the signature wrong.
      const noEngine = path.join(dir, 'openssl-without-gost');
      writeFileSync(noEngine, '#!/bin/sh\nOPENSSL_ENGINES=/nonexistent exec openssl "$@"\n', { mode: 0o700 });
      broken = await startFakeEsia({ openssl: noEngine, clients: [{ clientId: 'GOSTIS', redirectUris: [REDIRECT], certificate: readFileSync(cert, 'utf8') }] });
      const unavailable = callback(await ac(over, (m) => gostSign(m).toString('base64url'), broken.url));
      expect(unavailable.get('error')).toBe('server_error');
      expect(unavailable.get('error_description')).toMatch(/^ESIA-007007.*apt-get install libengine-gost-openssl/);
    } finally {
      await broken?.close();
      await gost?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
