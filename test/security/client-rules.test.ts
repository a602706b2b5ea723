/**
 * Issue 16 (outside review), items 2, 4 and 8, over real HTTP and the real CLI process:
 *  2. journal-id is a code-flow-only provider: discovery says `code` only, no door makes an
 *     implicit or hybrid client, and a stored one from before is refused at load;
 *  4. one set of client rules at every door — `POST /reg`, RFC 7592 `PUT /reg/:id`, the admin API
 *     (POST and PATCH) and `journal-id client add` — with the same error and the same words; the
 *     consent page shows the app's host in its ASCII (punycode) form;
 *  8. BACKCHANNEL_ALLOWED_HOSTS (the test default lists localhost and 127.0.0.1) lets back-channel
 *     logout reach loopback, and nothing else: a client's jwks_uri on 127.0.0.1 is not fetched.
 */
import { cliAudit } from '../../src/audit/bound.js';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { domainToASCII } from 'node:url';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import * as jose from 'jose';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, login, openLoginPage, submitLogin, oidc } from '../helpers/rp.js';
import { cliCommand, ROOT } from '../helpers/cli.js';
import { createTestDb, onPostgres, type TestDb } from '../helpers/db.js';
import { registerClient } from '../../src/clients/manage.js';
import { issueInitialAccessToken } from '../../src/clients/registration.js';
import { insertClient } from '../../src/oidc/clients.js';
import type { School } from '../../src/schools/queries.js';

const CB = 'https://library.example.ru/callback';

/** A loopback listener: a relying party's back-channel endpoint and a JWKS, counting what reaches it. */
class Listener {
  readonly requests: { method: string; path: string; body: string }[] = [];
  jwks: object = { keys: [] };
  private server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      this.requests.push({ method: req.method ?? '', path: req.url ?? '', body });
      if (req.url === '/jwks') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.jwks));
      res.writeHead(200).end();
    });
  });
  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  stop(): void {
    this.server.close();
  }
  to(p: string) {
    return this.requests.filter((r) => r.path === p);
  }
}

let srv: TestServer;
let school: School;
let parent: Awaited<ReturnType<typeof addAccount>>;
let iat: string;
let adminToken: string;
const listener = new Listener();
let listenerUrl: string;

interface Answer {
  status: number;
  body: Record<string, any>;
}

async function call(method: string, url: string, token: string | undefined, body?: unknown): Promise<Answer> {
  const res = await fetch(url, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
}
const reg = (body: Record<string, unknown>) => call('POST', `${srv.url}/reg`, iat, body);
const admin = (method: string, p: string, body?: unknown) => call(method, `${srv.url}/admin/api/v1${p}`, adminToken, body);

// ——— the CLI, a separate process on its own database (as test/cli runs it) ———

let cliDataDir: string;
let cliDb: TestDb | undefined;
/** Runs the CLI without blocking this process (the server under test keeps serving meanwhile). */
function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(cliCommand().command, [...cliCommand().args, ...args], {
    cwd: ROOT,
    env: {
      PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`,
      NODE_ENV: 'development',
      DATA_DIR: cliDataDir,
      ARGON2_MEMORY_KIB: '8192',
      ARGON2_TIME_COST: '1',
      BACKCHANNEL_ALLOWED_HOSTS: 'localhost,127.0.0.1',
      ...(cliDb?.url ? { DATABASE_URL: cliDb.url } : {}),
    },
    timeout: 120_000,
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

beforeAll(async () => {
  listenerUrl = await listener.start();
  srv = await startTestServer({ env: { JOURNAL_WEB_BACKCHANNEL_LOGOUT_URI: `${listenerUrl}/backchannel` } });
  school = await addSchool(srv.db);
  parent = await addAccount(srv.app, school, { kind: 'parent' });
  iat = (await issueInitialAccessToken(srv.db, { schoolId: school.id, ttlDays: 1 , by: cliAudit(srv.db) })).token;
  // What `journal-id client add --type service --scope admin` does.
  const { client, secret } = await registerClient(srv.app, { client_name: 'Платформа', grant_types: ['client_credentials'], scope: 'admin' }, cliAudit(srv.app.db));
  const rp = await discover(srv.url, client.client_id, secret);
  adminToken = (await oidc.clientCredentialsGrant(rp, { scope: 'admin' })).access_token;

  cliDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-client-rules-'));
  if (onPostgres) cliDb = await createTestDb({ migrate: false });
  expect((await cli(['migrate'])).code).toBe(0);
}, 180_000);
afterAll(async () => {
  await srv?.close();
  await cliDb?.close();
  listener.stop();
});

describe('16.2: a code-flow-only provider', () => {
  it('discovery: response_types_supported is exactly ["code"], and no implicit grant', async () => {
    const meta = (await (await fetch(`${srv.url}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.grant_types_supported).not.toContain('implicit');
  });

  it.each([
    ['id_token', { response_types: ['id_token'], grant_types: ['implicit'] }],
    ['code id_token', { response_types: ['code id_token'], grant_types: ['authorization_code', 'implicit'] }],
    ['an implicit grant beside code', { grant_types: ['authorization_code', 'implicit'] }],
    ['id_token token', { response_types: ['id_token token'] }],
  ])('POST /reg refuses %s with invalid_client_metadata', async (_title, extra) => {
    const r = await reg({ client_name: 'Библиотека', redirect_uris: [CB], ...extra });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_client_metadata');
    expect(r.body.error_description).toMatch(/^(response_types|grant_types): .* not supported/);
  });

  it('PUT /reg/:id (RFC 7592) refuses to turn a code client into a hybrid one', async () => {
    const made = await reg({ client_name: 'Библиотека', redirect_uris: [CB] });
    expect(made.status).toBe(201);
    const r = await call('PUT', made.body.registration_client_uri, made.body.registration_access_token, {
      client_id: made.body.client_id, client_secret: made.body.client_secret, client_name: 'Библиотека', redirect_uris: [CB],
      response_types: ['code id_token'], grant_types: ['authorization_code', 'implicit'],
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_client_metadata');
  });

  it('the admin API refuses response types and the implicit grant too', async () => {
    const a = await admin('POST', '/clients', { client_name: 'Библиотека', redirect_uris: [CB], grant_types: ['implicit'] });
    expect([a.status, a.body.error]).toEqual([400, 'invalid_client_metadata']);
    const b = await admin('POST', '/clients', { client_name: 'Библиотека', redirect_uris: [CB], response_types: ['id_token'] });
    expect([b.status, b.body.error]).toEqual([400, 'invalid_client_metadata']);
  });

  it('no door stored a client with another response type', async () => {
    const rows = (await srv.db('clients').select('metadata')) as { metadata: { response_types?: string[]; grant_types?: string[] } }[];
    for (const { metadata } of rows) {
      expect((metadata.response_types ?? []).filter((t) => t !== 'code')).toEqual([]);
      expect(metadata.grant_types ?? []).not.toContain('implicit');
    }
  });

  it('a hybrid client stored before the rule is an unknown client (invalid_client), not a working one', async () => {
    const secret = 'x'.repeat(43);
    await insertClient(srv.db, srv.config.secrets.keyEncryptionKey, {
      clientId: 'old-hybrid', name: 'Старое приложение', secret, firstParty: false,
      metadata: { response_types: ['code id_token'], grant_types: ['authorization_code', 'implicit', 'client_credentials'], redirect_uris: [CB], token_endpoint_auth_method: 'client_secret_basic' } as never,
    });
    const res = await fetch(`${srv.url}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`old-hybrid:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
  });
});

// ——— 16.4: one set of rules at every door ———

interface Case {
  title: string;
  metadata: Record<string, unknown>;
  error: 'invalid_client_metadata' | 'invalid_redirect_uri';
  description: RegExp;
}
const base = { client_name: 'Школьная библиотека', redirect_uris: [CB] };
const cases: Case[] = [
  { title: 'a name with RLO (U+202E)', metadata: { client_name: 'Школа \u202eелиж' }, error: 'invalid_client_metadata', description: /^client_name: must not contain control, formatting or invisible characters$/ },
  { title: 'a name with a control character', metadata: { client_name: 'Библиотека\u0008' }, error: 'invalid_client_metadata', description: /^client_name: must not contain control/ },
  { title: 'a name with a format character (zero-width space)', metadata: { client_name: 'Офици\u200bальное приложение' }, error: 'invalid_client_metadata', description: /^client_name: must not contain control/ },
  { title: 'a name of 25,000 characters', metadata: { client_name: 'я'.repeat(25_000) }, error: 'invalid_client_metadata', description: /^client_name: must be at most 100 characters$/ },
  { title: 'back-channel logout over plain http to a host not allowed', metadata: { backchannel_logout_uri: 'http://169.254.169.254/latest/meta-data' }, error: 'invalid_client_metadata', description: /^backchannel_logout_uri: must use https$/ },
  { title: 'a redirect URI with a backslash', metadata: { redirect_uris: ['https://evil.example\\.library.example.ru/cb'] }, error: 'invalid_redirect_uri', description: /^redirect_uris: .* must not contain a backslash$/ },
  { title: 'a redirect URI with \\@', metadata: { redirect_uris: ['https://library.example.ru\\@evil.example/cb'] }, error: 'invalid_redirect_uri', description: /^redirect_uris: .* must not contain a backslash$/ },
  { title: 'a redirect URI with a percent-encoded delimiter in the authority', metadata: { redirect_uris: ['https://library.example.ru%2F@evil.example/cb'] }, error: 'invalid_redirect_uri', description: /^redirect_uris: .* must not percent-encode the host$/ },
  { title: 'a redirect URI with a percent-encoded dot in the host', metadata: { redirect_uris: ['https://evil.example%2Elibrary.example.ru/cb'] }, error: 'invalid_redirect_uri', description: /^redirect_uris: .* must not percent-encode the host$/ },
  { title: 'a native private-use scheme with an authority', metadata: { application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['ru.school.app://evil.example/cb'] }, error: 'invalid_redirect_uri', description: /^redirect_uris: .* without an authority/ },
];

/** The same change through `journal-id client add`: the flags the operator would type. */
function cliArgs(m: Record<string, unknown>): string[] {
  const args = ['client', 'add', '--name', String(m.client_name), '--type', m.application_type === 'native' ? 'native' : 'web'];
  for (const uri of m.redirect_uris as string[]) args.push('--redirect-uri', uri);
  if (m.backchannel_logout_uri) args.push('--backchannel-logout-uri', String(m.backchannel_logout_uri));
  return args;
}

describe('16.4: the same client rules, and the same error, at every door', () => {
  let dcr: Answer;
  let managed: string;
  let cliClient: string;

  beforeAll(async () => {
    dcr = await reg({ ...base });
    expect(dcr.status).toBe(201);
    const made = await admin('POST', '/clients', { ...base });
    expect(made.status).toBe(201);
    managed = made.body.client_id;
    const added = await cli(['client', 'add', '--name', base.client_name, '--redirect-uri', CB]);
    expect(added.code).toBe(0);
    cliClient = /client_id: (\S+)/.exec(added.out)![1]!;
  }, 120_000);

  it.each(cases)('$title', async ({ metadata, error, description }) => {
    const whole = { ...base, ...metadata };
    const answers: Record<string, Answer> = {
      'POST /reg': await reg(whole),
      'PUT /reg/:id': await call('PUT', dcr.body.registration_client_uri, dcr.body.registration_access_token, {
        ...whole, client_id: dcr.body.client_id, client_secret: dcr.body.client_secret,
      }),
      'POST /admin/api/v1/clients': await admin('POST', '/clients', whole),
      'PATCH /admin/api/v1/clients/:id': await admin('PATCH', `/clients/${managed}`, metadata),
    };
    for (const [door, a] of Object.entries(answers)) {
      expect({ door, status: a.status, error: a.body.error }).toEqual({ door, status: 400, error });
      expect({ door, description: a.body.error_description }).toEqual({ door, description: expect.stringMatching(description) });
      // The same words at every door, not merely the same code.
      expect(a.body.error_description).toBe(answers['POST /reg']!.body.error_description);
    }
    const words = answers['POST /reg']!.body.error_description as string;
    const add = await cli(cliArgs(whole));
    expect({ code: add.code, err: add.err.trim() }).toEqual({ code: 1, err: `journal-id: invalid client: ${words}` });
  }, 60_000);

  it('client update (CLI) refuses a disguised name with the same words', async () => {
    const r = await cli(['client', 'update', cliClient, '--name', 'Школа \u202eелиж']);
    expect({ code: r.code, err: r.err.trim() }).toEqual({ code: 1, err: 'journal-id: invalid client: client_name: must not contain control, formatting or invisible characters' });
  }, 60_000);

  it('nothing refused was stored; the good clients are unchanged', async () => {
    const names = ((await srv.db('clients').select('name')) as { name: string }[]).map((r) => r.name);
    expect(names.every((n) => n.length <= 100 && !/[\p{Cc}\p{Cf}]/u.test(n))).toBe(true);
    const stored = (await srv.db('clients').where({ client_id: dcr.body.client_id }).first()) as { metadata: { redirect_uris: string[]; backchannel_logout_uri?: string } };
    expect(stored.metadata.redirect_uris).toEqual([CB]);
    expect(stored.metadata.backchannel_logout_uri).toBeUndefined();
  });

  it('the consent page shows a non-ASCII host in its punycode form beside the name', async () => {
    const idn = 'https://библиотека.школа.рф/callback';
    const made = await reg({ client_name: 'Библиотека', redirect_uris: [idn], token_endpoint_auth_method: 'client_secret_basic' });
    expect(made.status).toBe(201);
    const rp = await discover(srv.url, made.body.client_id, made.body.client_secret);
    const started = await startLogin(rp, { redirect_uri: idn });
    const browser = new Browser(srv.url);
    const page = await openLoginPage(browser, started.authUrl);
    const { res } = await submitLogin(browser, page.html, parent.login, parent.password);
    const html = await res.text();
    expect(html).toContain('/consent"');
    const ascii = domainToASCII('библиотека.школа.рф');
    expect(ascii).toMatch(/^xn--/);
    expect(html).toContain(`Приложение «Библиотека» (${ascii}) запрашивает доступ`);
    expect(formOf(html, /\/consent$/).action).toContain('/consent');
  });
});

describe('16.8: the allow-list is for back-channel logout only', () => {
  it('a jwks_uri on 127.0.0.1 is not fetched: private_key_jwt authentication fails, no request reaches the listener', async () => {
    const { publicKey, privateKey } = await jose.generateKeyPair('ES256');
    listener.jwks = { keys: [{ ...(await jose.exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
    const made = await reg({
      client_name: 'Сервис', grant_types: ['client_credentials'], response_types: [], redirect_uris: [],
      token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks_uri: `${listenerUrl}/jwks`,
    });
    expect(made.status).toBe(201);
    const clientId = made.body.client_id as string;
    const assertion = await new jose.SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(clientId).setSubject(clientId).setAudience(srv.url).setJti(crypto.randomUUID()).setIssuedAt().setExpirationTime('1m')
      .sign(privateKey);
    const res = await fetch(`${srv.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials', client_id: clientId,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion,
      }).toString(),
    });
    const body = (await res.json()) as { error?: string; access_token?: string };
    expect(listener.to('/jwks')).toEqual([]);
    expect(res.status).toBe(401);
    expect(body.error).toBe('invalid_client');
    expect(body.access_token).toBeUndefined();
  });

  it('back-channel logout is still delivered to the allowed loopback host', async () => {
    const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    const redirect = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
    const started = await startLogin(rp, { redirect_uri: redirect });
    const browser = new Browser(srv.url);
    const callback = await login(browser, started, parent.login, parent.password);
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    const page = await browser.follow(oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token! }).toString());
    const form = formOf(await page.res.text());
    const res = await browser.postForm(form.action, { ...form.fields, logout: 'yes' });
    expect(res.status).toBeLessThan(400);
    const delivered = listener.to('/backchannel');
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.method).toBe('POST');
    expect(new URLSearchParams(delivered[0]!.body).get('logout_token')).toEqual(expect.any(String));
  });
});
