/**
 * Issue 7, several nodes: two journal-id processes on one PostgreSQL, the same issuer (node A's
 * address) behind both, requests sent to either. A login started on one finishes on the other,
 * a code is exchanged and a token refreshed on the other, wrong passwords sent to both count
 * against one limit, and a key rotated on one is served by both (tokens it signs verify with
 * either node's JWKS). Two processes need a server with several connections, so this runs on
 * the machine's PostgreSQL in both CI runs (as register-concurrency does).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import * as jose from 'jose';
import { addAccount, addSchool, freePort, testConfig } from '../helpers/app.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { startNodeProcess, type NodeProcess } from '../helpers/process.js';
import { cliCommand, ROOT } from '../helpers/cli.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, oidc, type StartedLogin } from '../helpers/rp.js';
import { recordCounts } from '../helpers/security-counts.js';
import { listenerOf } from '../helpers/listener.js';
import { createAppContext } from '../../src/server/bootstrap.js';
import { createLogger } from '../../src/server/logger.js';
import { loginKeys } from '../../src/throttle/keys.js';
import type { Config } from '../../src/config/index.js';
import type { School } from '../../src/schools/queries.js';

/** Free wrong passwords per account in this test; the wait after them is long, so no clock is involved. */
const FREE = 4;
const THROTTLE_ENV = { LOGIN_THROTTLE_FREE: String(FREE), LOGIN_THROTTLE_BASE_DELAY_SECONDS: '600', LOGIN_THROTTLE_MAX_DELAY_SECONDS: '900' };

let pg: TestDb;
let config: Config;
let a: NodeProcess;
let b: NodeProcess;
let school: School;
let person: Awaited<ReturnType<typeof addAccount>>;
let victim: Awaited<ReturnType<typeof addAccount>>;
let rpA: oidc.Configuration;
let rpB: oidc.Configuration;
let redirectUri: string;
const counts = { crossNodeLogins: 0, crossNodeCodeExchanges: 0, crossNodeRefreshes: 0 };

const jwksOf = async (node: NodeProcess) => (await (await fetch(`${node.url}/jwks`)).json()) as jose.JSONWebKeySet;
const kidOf = (jwt: string) => jose.decodeProtectedHeader(jwt).kid;
/** The same request at another node (a load balancer's choice). */
const at = (node: NodeProcess, url: URL | string) => {
  const u = new URL(url);
  return new URL(`${u.pathname}${u.search}`, node.url).toString();
};

/**
 * The browser's way through a login whose pages come from `pages` and whose form is posted to
 * `post`; redirects are followed at whichever node they name, up to the app's callback.
 */
async function loginAcross(pages: NodeProcess, post: NodeProcess, started: StartedLogin, login: string, password: string): Promise<URL> {
  const browser = new Browser(pages.url);
  const { res, url } = await browser.follow(at(pages, started.authUrl));
  const html = await res.text();
  expect(url.startsWith(pages.url)).toBe(true);
  const form = formOf(html, /\/login$/);
  let r = await browser.request(at(post, new URL(form.action, pages.url)), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...form.fields, login, password }).toString(),
  });
  let where = at(post, new URL(form.action, pages.url));
  for (let i = 0; i < 10 && r.status >= 300 && r.status < 400; i++) {
    const next = new URL(r.headers.get('location')!, where);
    if (next.toString().startsWith(redirectUri)) return next;
    where = next.toString();
    r = await browser.request(where);
  }
  throw new Error(`the login did not reach the app (${r.status} at ${where}):\n${(await r.text()).slice(0, 1500)}`);
}

/** A wrong (or right) password typed on `node`'s login page by a new browser. */
async function typePassword(node: NodeProcess, login: string, password: string): Promise<{ status: number; retryAfter: string | null; html: string }> {
  const started = await startLogin(rpA, { redirect_uri: redirectUri, school: school.slug });
  const browser = new Browser(node.url);
  const page = await browser.follow(at(node, started.authUrl));
  const form = formOf(await page.res.text(), /\/login$/);
  const res = await browser.postForm(form.action, { ...form.fields, login, password });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), html: await res.text() };
}

const cli = promisify(execFile);

beforeAll(async () => {
  pg = await createTestDb({ postgres: true });
  const portA = await freePort();
  config = testConfig({ ISSUER: `http://127.0.0.1:${portA}` });
  const app = await createAppContext(config, { db: pg.db, migrate: false, logger: createLogger('silent') });
  app.oidc.stop();
  school = await addSchool(pg.db);
  person = await addAccount(app, school, { login: 'kolya' });
  victim = await addAccount(app, school, { login: 'uchitelnica', kind: 'staff', roles: ['teacher'] });
  [a, b] = await Promise.all([
    startNodeProcess(config, pg.url!, THROTTLE_ENV, { port: portA }),
    startNodeProcess(config, pg.url!, THROTTLE_ENV),
  ]);
  redirectUri = config.firstPartyClients.journalWeb.redirectUris[0]!;
  rpA = await discover(a.url, 'journal-web', config.secrets.journalWebClientSecret);
  // The same relying party sending its back-channel requests to node B.
  const { supportsPKCE: _, ...meta } = rpA.serverMetadata();
  rpB = new oidc.Configuration(
    { ...meta, token_endpoint: at(b, meta.token_endpoint!), userinfo_endpoint: at(b, meta.userinfo_endpoint!), jwks_uri: at(b, meta.jwks_uri!), introspection_endpoint: at(b, meta.introspection_endpoint!) },
    'journal-web',
    { client_secret: config.secrets.journalWebClientSecret },
    oidc.ClientSecretBasic(config.secrets.journalWebClientSecret),
  );
  oidc.allowInsecureRequests(rpB);
}, 90_000);

afterAll(async () => {
  // Both stop gracefully on SIGTERM.
  const codes = await Promise.all([a?.stop(), b?.stop()]);
  await pg?.close();
  expect(codes).toEqual([0, 0]);
});

let firstIdToken: string;

describe('two nodes on one database', () => {
  it('serve one provider: the same issuer and the same JWKS', async () => {
    // Two nodes indeed: two distinct processes hold the two ports (as the OS sees them).
    expect(new Set([a, b].map((node) => listenerOf(Number(new URL(node.url).port)).pid)).size).toBe(2);
    for (const node of [a, b]) {
      const disco = (await (await fetch(`${node.url}/.well-known/openid-configuration`)).json()) as { issuer: string };
      expect(disco.issuer).toBe(a.url);
    }
    expect(await jwksOf(b)).toEqual(await jwksOf(a));
  });

  it('a login started on one finishes on the other; the code is exchanged on the other; refresh works on either; the tokens on both', async () => {
    for (const [pages, post, token, refresh] of [[a, b, rpB, rpA], [b, a, rpA, rpB]] as const) {
      const started = await startLogin(rpA, { redirect_uri: redirectUri, scope: 'openid offline_access', prompt: 'consent', school: school.slug });
      const callback = await loginAcross(pages, post, started, person.login, person.password);
      counts.crossNodeLogins += 1;
      expect(callback.searchParams.get('iss')).toBe(a.url);
      const tokens = await oidc.authorizationCodeGrant(token, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
      counts.crossNodeCodeExchanges += 1;
      expect(tokens.claims()!.sub).toBe(person.id);
      firstIdToken ??= tokens.id_token!;
      for (const node of [a, b]) {
        await jose.jwtVerify(tokens.id_token!, jose.createLocalJWKSet(await jwksOf(node)), { issuer: a.url, audience: 'journal-web' });
        const me = await fetch(`${node.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
        expect(me.status).toBe(200);
      }
      // The refresh token is used on the other node, and its successor on the first again.
      const once = await oidc.refreshTokenGrant(refresh, tokens.refresh_token!);
      const twice = await oidc.refreshTokenGrant(token, once.refresh_token!);
      counts.crossNodeRefreshes += 2;
      expect(twice.claims()!.sub).toBe(person.id);
      expect((await oidc.fetchUserInfo(refresh, twice.access_token, person.id)).sub).toBe(person.id);
    }
  });

  it('wrong passwords sent to both nodes count against one limit, and the lock holds on both', async () => {
    // Alternately to A and B: each node sees only half of them.
    for (let i = 0; i < FREE; i++) {
      const r = await typePassword(i % 2 === 0 ? a : b, victim.login, `Wrong${i}guess`);
      expect(r.status).toBe(400);
      expect(r.html).toContain('Неверное имя пользователя или пароль');
    }
    const { account } = loginKeys(school.id, victim.login, '127.0.0.1');
    const countedOnOneLimit = (await pg.db('throttle').where({ key: account }).first())?.count as number;
    expect(countedOnOneLimit).toBe(FREE);
    // The next guess is refused on either node, and so is the right password from a new device.
    const refusals = [
      await typePassword(a, victim.login, 'Wrong5guess'),
      await typePassword(b, victim.login, 'Wrong6guess'),
      await typePassword(b, victim.login, victim.password),
      await typePassword(a, victim.login, victim.password),
    ];
    for (const r of refusals) {
      expect(r.status).toBe(429);
      expect(Number(r.retryAfter)).toBeGreaterThan(0);
      expect(r.html).toContain('Неверное имя пользователя или пароль');
    }
    expect((await pg.db('throttle').where({ key: account }).first())?.count).toBe(FREE); // refusals do not count
    recordCounts('nodes', {
      'nodes.throttle.wrong-passwords-split': countedOnOneLimit, // as the shared limit counted them
      'nodes.throttle.refusals-after-the-limit': refusals.length,
    });
  });

  it('a key rotated on one node is served by both, and tokens it signs verify with either JWKS', async () => {
    const before = new Set((await jwksOf(a)).keys.map((k) => k.kid));
    // `keys rotate` as an operator runs it, on the database of the nodes, signing at once.
    const { command, args } = cliCommand();
    const { stdout } = await cli(command, [...args, 'keys', 'rotate', '--alg', 'ES256', '--activate-in', '0'], {
      cwd: ROOT,
      env: {
        PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`,
        NODE_ENV: 'test',
        DATABASE_URL: pg.url!,
        DATA_DIR: config.dataDir,
        KEY_ENCRYPTION_KEY: config.secrets.keyEncryptionKey.toString('hex'),
        COOKIE_KEYS: config.secrets.cookieKeys.join(','),
        JOURNAL_WEB_CLIENT_SECRET: config.secrets.journalWebClientSecret,
        INVITE_CODE_PEPPER: config.secrets.invitePepper.toString('hex'),
        LOG_LEVEL: 'warn',
      },
      timeout: 60_000,
    });
    const kid = /signing in 0 s: (\S+)/.exec(stdout)?.[1];
    expect(kid).toBeDefined();
    expect(before.has(kid!)).toBe(false);

    // The rotation as the database holds it: the signing keys that were not there before.
    const rotated = (await pg.db('signing_keys').select('kid')).filter((k: { kid: string }) => !before.has(k.kid)).length;
    // Each node follows the database by itself (KEYS_POLL_SECONDS=1 for test nodes).
    let servingTheNewKey = 0;
    for (const node of [a, b]) {
      const deadline = Date.now() + 30_000;
      while (!(await jwksOf(node)).keys.some((k) => k.kid === kid)) {
        if (Date.now() > deadline) throw new Error(`${node.url} never served the new key ${kid}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      servingTheNewKey += 1;
    }
    expect(await jwksOf(b)).toEqual(await jwksOf(a));

    // A login on B with the code exchanged on A: signed by the new key, valid with either node's JWKS.
    const started = await startLogin(rpA, { redirect_uri: redirectUri, school: school.slug });
    const callback = await loginAcross(b, b, started, person.login, person.password);
    const tokens = await oidc.authorizationCodeGrant(rpA, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    expect(kidOf(tokens.id_token!)).toBe(kid);
    for (const node of [a, b]) {
      const jwks = jose.createLocalJWKSet(await jwksOf(node));
      await jose.jwtVerify(tokens.id_token!, jwks, { issuer: a.url, audience: 'journal-web' });
      await jose.jwtVerify(firstIdToken, jwks, { issuer: a.url, audience: 'journal-web' }); // signed before the rotation
    }
    // The processes that served the two ports, as the OS sees them: two, neither the test's own.
    const servers = new Set([a, b].map((node) => listenerOf(Number(new URL(node.url).port)).pid));
    expect(servers.has(process.pid)).toBe(false);
    recordCounts('nodes', {
      'nodes.processes': servers.size,
      'nodes.cross-node-logins': counts.crossNodeLogins,
      'nodes.cross-node-code-exchanges': counts.crossNodeCodeExchanges,
      'nodes.cross-node-refreshes': counts.crossNodeRefreshes,
      'nodes.keys-rotated': rotated,
      'nodes.jwks-serving-the-new-key': servingTheNewKey,
    });
  }, 90_000);
});
