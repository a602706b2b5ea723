/**
 * Issue 16 (the outside security review), items 7, 9, 11 and 12, black-box over real HTTP:
 * - 7: forged ESIA callbacks from a school's address lock out nobody's Gosuslugi login;
 * - 9: behind TRUST_PROXY a made-up Host / X-Forwarded-Host (or an absolute request target) never
 *   reaches an absolute URL the provider builds: discovery and redirects are under ISSUER only;
 * - 11: JWKS and discovery carry Cache-Control (max-age well under the key publish delay) and a
 *   strong ETag, with 304 for If-None-Match, and a new ETag when the keys change;
 * - 12: introspecting a refresh token inside the re-use grace window raises no fork alarm; a real
 *   second refresh with it still does.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { FakeEsia } from '../../fake-esia/server.js';
import { startWithFakeEsia } from '../helpers/esia.js';
import { addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { addStudent } from '../helpers/school.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, login, oidc } from '../helpers/rp.js';
import { rotateKeys } from '../../src/oidc/keys.js';
import type { School } from '../../src/schools/queries.js';

const CLIENT_ID = 'JOURNALREVIEW';
const SCHOOL_NAT = '198.51.100.77';

/** A browser behind the school's NAT, as the trusted proxy reports it, with extra headers of its own. */
class From extends Browser {
  constructor(base: string, readonly ip: string, readonly extra: Record<string, string> = {}) {
    super(base);
  }
  override request(input: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-for', this.ip);
    for (const [k, v] of Object.entries(this.extra)) headers.set(k, v);
    return super.request(input, { ...init, headers });
  }
}

let fake: FakeEsia;
let srv: TestServer;
let school: School;
let rp: oidc.Configuration;
let redirectUri: string;
const logs: string[] = [];

beforeAll(async () => {
  ({ srv, fake } = await startWithFakeEsia({ clientId: CLIENT_ID, logs, env: { TRUST_PROXY: 'true' }, people: [{ oid: 1000000101, lastName: 'Орлов', firstName: 'Дима', middleName: 'Петрович', birthDate: '01.09.2012', gender: 'M', trusted: true, snils: '112-233-445 95', contacts: [] }] }));
  school = await addSchool(srv.db, { number: '1616', slug: '1616', name: 'Школа № 1616' });
  rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  redirectUri = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
});
afterAll(async () => {
  await srv?.close();
  await fake?.close();
});

describe('16.7: forged ESIA callbacks', () => {
  it('100 forged callbacks from a school\'s address: each a clear page at once, no 429; then a pupil there logs in with Gosuslugi', async () => {
    const forger = new From(srv.url, SCHOOL_NAT);
    const statuses = new Set<number>();
    // More than the address policy's free tries (60): the old callback answered 429 from here on.
    const forgeries = srv.config.throttle.esiaAddress.free + 40;
    for (let i = 0; i < forgeries; i++) {
      const q = [`state=${randomUUID()}&code=forged-${i}`, 'code=x', 'state=not-a-uuid', 'error=access_denied'][i % 4];
      const res = await forger.request(`/esia/callback?${q}`);
      statuses.add(res.status);
      const html = await res.text();
      if (i === 0) {
        expect(html).toContain('начните вход заново');
        expect(res.headers.get('retry-after')).toBeNull();
      }
    }
    expect([...statuses]).toEqual([400]);
    // Counted against no one: the address has no counter.
    expect(await srv.app.throttle.peek(`esia:ip:${SCHOOL_NAT}`, srv.config.throttle.esiaAddress)).toEqual({ count: 0, blockedUntil: null });

    // A pupil behind the same NAT: Gosuslugi login goes through.
    const person = await addStudent(srv.app, school, { snils: '11223344595' }); // the SNILS the school entered
    const vanya = await addAccount(srv.app, school, { login: 'dima', kind: 'student', personId: person.id });
    const pupil = new From(srv.url, SCHOOL_NAT);
    const started = await startLogin(rp, { redirect_uri: redirectUri, school: '1616' });
    const page = await openLoginPage(pupil, started.authUrl);
    const start = formOf(page.html, /\/esia$/);
    const toEsia = await pupil.postForm(start.action, start.fields);
    expect(toEsia.status).toBe(303);
    fake.loginAs(1000000101);
    const atEsia = await fetch(toEsia.headers.get('location')!, { redirect: 'manual' });
    const { url } = await pupil.follow(atEsia.headers.get('location')!);
    expect(url.startsWith(redirectUri)).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(rp, new URL(url), { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    expect(tokens.claims()!.sub).toBe(vanya.id);
  });

  it('a replayed callback (this browser\'s own state, used) is the same clear page and costs nothing', async () => {
    const pupil = new From(srv.url, '198.51.100.78');
    const started = await startLogin(rp, { redirect_uri: redirectUri, school: '1616' });
    const page = await openLoginPage(pupil, started.authUrl);
    const start = formOf(page.html, /\/esia$/);
    const toEsia = await pupil.postForm(start.action, start.fields);
    fake.loginAs(1000000101);
    const callback = (await fetch(toEsia.headers.get('location')!, { redirect: 'manual' })).headers.get('location')!;
    const cookie = pupil.cookie('jid_esia')!;
    await pupil.follow(callback);
    const replayer = new From(srv.url, '198.51.100.78');
    for (let i = 0; i < 5; i++) {
      const res = await replayer.request(callback, { headers: { cookie: `jid_esia=${cookie}; jid_esia.sig=${pupil.cookie('jid_esia.sig') ?? ''}` } });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('начните вход заново');
    }
    expect((await srv.app.throttle.peek('esia:ip:198.51.100.78', srv.config.throttle.esiaAddress)).count).toBe(0);
  });
});

/** A raw request, so Host and the request target are whatever this test says. */
function raw(target: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const port = new URL(srv.url).port;
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: target, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

describe('16.9: absolute URLs from ISSUER only', () => {
  const FORGED: Array<Record<string, string>> = [
    { host: 'evil.example' },
    { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
    { 'x-forwarded-host': 'evil.example:8443', 'x-forwarded-proto': 'http' },
  ];

  it.each(FORGED)('discovery names ISSUER\'s endpoints whatever the request says (%j)', async (headers) => {
    const res = await raw('/.well-known/openid-configuration', headers);
    expect(res.status).toBe(200);
    expect(res.body).not.toContain('evil.example');
    const doc = JSON.parse(res.body) as Record<string, unknown>;
    expect(doc.issuer).toBe(srv.config.issuer);
    for (const name of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint', 'end_session_endpoint', 'introspection_endpoint']) {
      expect([name, String(doc[name]).startsWith(`${srv.config.issuer}/`)]).toEqual([name, true]);
    }
  });

  it('an absolute request target (GET http://evil.example/…) changes nothing either', async () => {
    const res = await raw('http://evil.example/.well-known/openid-configuration', { host: 'evil.example' });
    expect(res.status).toBe(200);
    expect(res.body).not.toContain('evil.example');
  });

  it('the redirect after the login goes to ISSUER, though the login started with a forged X-Forwarded-Host', async () => {
    await addAccount(srv.app, school, { login: 'hostile-host', password: 'Kolobok2024x' });
    const browser = new From(srv.url, '198.51.100.90', { 'x-forwarded-host': 'evil.example' });
    const started = await startLogin(rp, { redirect_uri: redirectUri, school: '1616' });
    const page = await openLoginPage(browser, started.authUrl);
    const form = formOf(page.html, /\/login$/);
    const res = await browser.postForm(form.action, { ...form.fields, login: 'hostile-host', password: 'Kolobok2024x' });
    expect(res.status).toBeGreaterThanOrEqual(300);
    expect(res.status).toBeLessThan(400);
    const location = new URL(res.headers.get('location')!, srv.config.issuer);
    expect(location.origin).toBe(new URL(srv.config.issuer).origin);
    const { url } = await browser.follow(location.toString());
    expect(url.startsWith(redirectUri)).toBe(true);
  });

  it('the logout page\'s form posts to ISSUER', async () => {
    const res = await raw('/session/end', { host: 'evil.example', 'x-forwarded-host': 'evil.example', accept: 'text/html' });
    expect(res.status).toBeLessThan(500);
    expect(res.body).not.toContain('evil.example');
  });
});

describe('16.11: JWKS and discovery caching', () => {
  // config/default.ts: keys are published an hour before they sign; the test server keeps that.
  const PUBLISH_DELAY = 3600;
  // A quarter of it, at most 5 minutes (src/oidc/cached-documents.ts).
  const maxAge = Math.min(300, PUBLISH_DELAY / 4);

  it.each(['/jwks', '/.well-known/openid-configuration'])('%s: Cache-Control well under the publish delay, a strong ETag, 304 for If-None-Match', async (p) => {
    expect(srv.config.keys.publishDelaySeconds).toBe(PUBLISH_DELAY);
    const first = await fetch(srv.url + p);
    const body = await first.text();
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe(`public, max-age=${maxAge}`);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge * 4).toBeLessThanOrEqual(srv.config.keys.publishDelaySeconds);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[^"]+"$/); // strong: no W/
    // The same tag for the same bytes (every node agrees).
    const again = await fetch(srv.url + p);
    expect(again.headers.get('etag')).toBe(etag);
    expect(await again.text()).toBe(body);
    const revalidated = await fetch(srv.url + p, { headers: { 'if-none-match': etag! } });
    expect(revalidated.status).toBe(304);
    expect(await revalidated.text()).toBe('');
    expect(revalidated.headers.get('etag')).toBe(etag);
    const other = await fetch(srv.url + p, { headers: { 'if-none-match': '"something-else"' } });
    expect(other.status).toBe(200);
  });

  it('a new key changes the JWKS ETag: a relying party revalidating gets the new set', async () => {
    const before = await fetch(`${srv.url}/jwks`);
    const etag = before.headers.get('etag')!;
    const kids = (JSON.parse(await before.text()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
    await rotateKeys(srv.db, srv.config.secrets.keyEncryptionKey, { activateInSeconds: srv.config.keys.publishDelaySeconds });
    await srv.app.oidc.refreshKeys();
    const after = await fetch(`${srv.url}/jwks`, { headers: { 'if-none-match': etag } });
    expect(after.status).toBe(200);
    expect(after.headers.get('etag')).not.toBe(etag);
    // Published now, signing only after the publish delay: well after any cache of the old set expired.
    const now = (JSON.parse(await after.text()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
    expect(now).toEqual(expect.arrayContaining(kids));
    expect(now.length).toBeGreaterThan(kids.length);
  });
});

describe('16.12: refresh-token re-use alarm', () => {
  const ALARM = 'refresh token reused inside grace window';
  it('introspection of a refresh token inside the grace window logs nothing; a second refresh with it does', async () => {
    await addAccount(srv.app, school, { login: 'refresher', password: 'Kolobok2024x' });
    const app = await discover(srv.url, 'diary-app');
    const browser = new Browser(srv.url);
    const started = await startLogin(app, { redirect_uri: 'http://127.0.0.1/oauth2redirect', scope: 'openid offline_access', prompt: 'consent', school: '1616' });
    const callback = await login(browser, started, 'refresher', 'Kolobok2024x');
    const t0 = await oidc.authorizationCodeGrant(app, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    await oidc.refreshTokenGrant(app, t0.refresh_token!); // t0's refresh token is consumed now
    const before = logs.length;
    for (let i = 0; i < 3; i++) {
      const intro = await oidc.tokenIntrospection(app, t0.refresh_token!, { token_type_hint: 'refresh_token' });
      expect(intro.active).toBe(true); // inside the window it still answers as unconsumed
      await oidc.tokenIntrospection(app, t0.refresh_token!); // and without the hint
    }
    expect(logs.slice(before).filter((l) => l.includes(ALARM))).toEqual([]);
    // The real second use: a fork, logged once.
    await oidc.refreshTokenGrant(app, t0.refresh_token!);
    expect(logs.slice(before).filter((l) => l.includes(ALARM))).toHaveLength(1);
  });
});
