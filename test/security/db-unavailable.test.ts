/**
 * Outside review, issue 16 item 10: with PostgreSQL refusing connections, logins and `/auth`
 * answered 500 and refreshes `server_error`. Now the database away is a 503 with Retry-After
 * everywhere: a page in Russian for people (the login page, the login form, `/auth` — a page, not
 * a redirect with `server_error`), `{"error":"temporarily_unavailable"}` for the token, userinfo
 * and introspection endpoints; and everything works again as soon as the database does.
 *
 * The outage: the server's pool reaches PostgreSQL through a TCP proxy in this process. Taking
 * the proxy down cuts every open connection and refuses new ones (the kernel's ECONNREFUSED), as
 * a database that stopped does; bringing it up on the same port is the database back. Cheaper
 * than a private cluster (no initdb, no migrations from scratch) and the same errors reach the
 * pool. Runs on the machine's PostgreSQL in both runs (CI has it).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import net from 'node:net';
import { startTestServer, addSchool, addAccount, freePort, type TestServer } from '../helpers/app.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, login, oidc } from '../helpers/rp.js';
import type { School } from '../../src/schools/queries.js';

const WEB = 'journal-web';
const UNAVAILABLE_RU = 'Сервис временно недоступен';

/** A TCP forwarder to PostgreSQL that can be taken down (connections cut, new ones refused) and brought back. */
class DbProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  constructor(readonly port: number, private readonly target: { host: string; port: number }) {}

  async up(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      const cut = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', cut);
      upstream.on('close', cut);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

let pg: TestDb;
let proxy: DbProxy;
let srv: TestServer;
let school: School;
let person: Awaited<ReturnType<typeof addAccount>>;
let rp: oidc.Configuration;
let redirectUri: string;
const basic = () => `Basic ${Buffer.from(`${WEB}:${encodeURIComponent(srv.config.secrets.journalWebClientSecret)}`).toString('base64')}`;

beforeAll(async () => {
  pg = await createTestDb({ postgres: true });
  const url = new URL(pg.url!);
  proxy = new DbProxy(await freePort(), { host: url.hostname, port: Number(url.port || 5432) });
  await proxy.up();
  url.port = String(proxy.port);
  // The server's own pool goes through the proxy; `pg.db` (direct) sets the scene.
  srv = await startTestServer({ testDb: { db: pg.db, url: url.toString(), close: async () => undefined } });
  school = await addSchool(pg.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
  person = await addAccount(srv.app, school, { login: 'ivanov.petya', kind: 'student' });
  rp = await discover(srv.url, WEB, srv.config.secrets.journalWebClientSecret);
  redirectUri = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
}, 60_000);

afterAll(async () => {
  await srv?.close();
  await proxy?.down();
  await pg?.close();
});

async function tokensNow() {
  const started = await startLogin(rp, { redirect_uri: redirectUri, scope: 'openid offline_access', prompt: 'consent', school: school.slug });
  const callback = await login(new Browser(srv.url), started, person.login, person.password);
  return oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
}

/** What a person or an app was told: status, Retry-After present, and the answer's kind. */
async function answer(what: string, res: Response): Promise<{ what: string; status: number; retryAfter: boolean; body: string }> {
  const type = res.headers.get('content-type') ?? '';
  const text = await res.text();
  let body = text.slice(0, 80);
  if (type.includes('text/html')) {
    body = text.includes(UNAVAILABLE_RU) ? 'page: unavailable (ru)' : text.includes('server_error') ? 'page: server_error' : 'page: other';
  } else if (type.includes('json')) {
    body = `json: ${(JSON.parse(text) as { error?: string }).error}`;
  }
  return { what, status: res.status, retryAfter: /^\d+$/.test(res.headers.get('retry-after') ?? ''), body };
}

const PAGE = { status: 503, retryAfter: true, body: 'page: unavailable (ru)' };
const JSON_503 = { status: 503, retryAfter: true, body: 'json: temporarily_unavailable' };

describe('PostgreSQL refusing connections', () => {
  it('pages answer 503 + Retry-After in Russian, the OAuth endpoints 503 temporarily_unavailable; all work again once it is back', async () => {
    const meta = rp.serverMetadata();
    const tokens = await tokensNow();
    // A login page opened before the outage, its form sent during it.
    const browser = new Browser(srv.url);
    const started = await startLogin(rp, { redirect_uri: redirectUri, school: school.slug });
    const page = await openLoginPage(browser, started.authUrl);
    expect(page.status).toBe(200);
    const form = formOf(page.html, /\/login$/);

    await proxy.down();
    const told: Awaited<ReturnType<typeof answer>>[] = [];
    try {
      told.push(await answer('login page', await browser.request(page.url)));
      told.push(await answer('login POST', await browser.postForm(form.action, { ...form.fields, login: person.login, password: person.password })));
      // /auth: a page, not a redirect carrying server_error back to the app.
      const auth = await new Browser(srv.url).request((await startLogin(rp, { redirect_uri: redirectUri, school: school.slug })).authUrl.toString());
      told.push({ ...(await answer('/auth', auth)), ...(auth.headers.get('location') ? { redirect: auth.headers.get('location') } : {}) });
      const refresh = await fetch(meta.token_endpoint!, {
        method: 'POST',
        headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }),
      });
      told.push(await answer('refresh', refresh));
      told.push(await answer('userinfo', await fetch(meta.userinfo_endpoint!, { headers: { authorization: `Bearer ${tokens.access_token}`, accept: 'application/json' } })));
      const introspection = await fetch(meta.introspection_endpoint!, {
        method: 'POST',
        headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token: tokens.access_token }),
      });
      told.push(await answer('introspection', introspection));
      // Ready says so too (it did before this issue).
      expect((await fetch(`${srv.url}/readyz`)).status).toBe(503);
    } finally {
      await proxy.up();
    }
    expect(told).toEqual([
      { what: 'login page', ...PAGE },
      { what: 'login POST', ...PAGE },
      { what: '/auth', ...PAGE },
      { what: 'refresh', ...JSON_503 },
      { what: 'userinfo', ...JSON_503 },
      { what: 'introspection', ...JSON_503 },
    ]);

    // Back: the same server, the same pool, no restart.
    const again = await browser.postForm(form.action, { ...form.fields, login: person.login, password: person.password });
    expect(again.status).toBe(303);
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    expect((await oidc.fetchUserInfo(rp, refreshed.access_token, person.id)).sub).toBe(person.id);
    expect((await oidc.tokenIntrospection(rp, refreshed.access_token)).active).toBe(true);
    const auth = await new Browser(srv.url).request((await startLogin(rp, { redirect_uri: redirectUri, school: school.slug })).authUrl.toString());
    expect(auth.status).toBe(303);
    expect(auth.headers.get('location')).toMatch(/\/interaction\//);
  }, 120_000);
});
