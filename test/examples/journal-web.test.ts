/**
 * The sample relying party (examples/journal-web) against a real journal-id, in Chromium: a parent
 * logs in on journal-id's pages and the app shows the school, the roles and the child; the
 * refresh button gets new tokens; «Выйти» ends the app's session and journal-id's
 * (RP-initiated); a logout at journal-id itself, and the end of every session of a person (a
 * password reset, `user logout`), reach the app by back-channel and end its session; the app's
 * back-channel endpoint refuses tokens that fail a check of the spec. Screenshots go to test-artifacts/.
 */
import { systemAudit } from '../../src/audit/bound.js';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import type http from 'node:http';
import * as jose from 'jose';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { startTestServer, addSchool, addAccount, freePort, type TestServer } from '../helpers/app.js';
import { addStudent } from '../helpers/school.js';
import { launchChromium, artifact } from '../helpers/chromium.js';
import { insertClient, newClientSecret } from '../../src/oidc/clients.js';
import { approveClient } from '../../src/clients/approvals.js';
import { addGuardianships } from '../../src/accounts/guardianships.js';
import { loadKeySet } from '../../src/oidc/keys.js';
import { keyRetainSeconds } from '../../src/oidc/provider.js';
import { createJournalWeb, type SessionStore } from '../../examples/journal-web/app.js';

let srv: TestServer;
let chromium: Chromium;
let exampleUrl: string;
let exampleServer: http.Server;
let sessions: SessionStore;
let clientId: string;
const logs: string[] = [];
let parent: Awaited<ReturnType<typeof addAccount>>;
let pupil: Awaited<ReturnType<typeof addAccount>>;

beforeAll(async () => {
  const port = await freePort();
  exampleUrl = `http://localhost:${port}`;
  srv = await startTestServer();
  const school = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
  const vanya = await addStudent(srv.app, school, { lastName: 'Николаев', firstName: 'Ваня', middleName: null, className: '6А' });
  pupil = await addAccount(srv.app, school, { login: 'vanya', kind: 'student', personId: vanya.id });
  parent = await addAccount(srv.app, school, { login: 'nikolaeva', kind: 'parent' });
  await addGuardianships(srv.db, parent.id, [{ personId: vanya.id, inviteId: null }]);
  // The demo client of `npm run dev` (src/demo/seed.ts) on this port: web clients registered with
  // the CLI or the admin API need https redirect URIs, so it is written as the seed writes it.
  clientId = 'journal-web-example';
  const secret = newClientSecret();
  await insertClient(srv.db, srv.config.secrets.keyEncryptionKey, {
    clientId,
    name: 'Электронный журнал (пример)',
    firstParty: false,
    secret,
    metadata: {
      client_id: clientId,
      redirect_uris: [`${exampleUrl}/callback`],
      post_logout_redirect_uris: [`${exampleUrl}/`],
      backchannel_logout_uri: `${exampleUrl}/backchannel-logout`,
      backchannel_logout_session_required: true,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid offline_access profile email phone school roles children',
    },
  });
  await srv.db.transaction((trx) => approveClient(trx, { schoolId: school.id, clientId, approvedBy: 'test', by: systemAudit(trx) }));
  const example = createJournalWeb({ issuer: srv.url, clientId, clientSecret: secret, baseUrl: exampleUrl, log: (l) => logs.push(l) });
  sessions = example.sessions;
  exampleServer = example.app.listen(port, '127.0.0.1');
  chromium = await launchChromium();
});
afterAll(async () => {
  await chromium?.close();
  exampleServer?.close();
  await srv?.close();
});

/** «Войти» in the example, the login form of journal-id, «Разрешить» if asked: back on the example. */
async function logIn(page: Page, who: { login: string; password: string }, shot?: string): Promise<void> {
  await page.goto(exampleUrl);
  await page.getByRole('link', { name: 'Войти' }).click();
  await page.waitForURL((u) => u.toString().startsWith(srv.url));
  expect(await page.locator('h1').textContent()).toBe('Вход в журнал');
  await page.getByLabel('Логин').fill(who.login);
  await page.getByLabel('Пароль').fill(who.password);
  await page.getByRole('button', { name: 'Войти', exact: true }).click();
  await page.waitForURL((u) => u.toString().startsWith(exampleUrl) || /\/interaction\//.test(u.pathname));
  if (!page.url().startsWith(exampleUrl)) {
    expect(await page.locator('h1').textContent()).toBe('Доступ к вашим данным');
    if (shot) await page.screenshot({ path: artifact(`${shot}-consent.png`), fullPage: true });
    await page.getByRole('button', { name: 'Разрешить' }).click();
  }
  await page.waitForURL(`${exampleUrl}/`);
}

const signedOutPage = async (page: Page) => (await page.getByRole('link', { name: 'Войти' }).count()) === 1;

async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the sample journal web app (examples/journal-web) in Chromium', () => {
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    context = await chromium.newContext({ locale: 'ru-RU', viewport: { width: 1024, height: 900 } });
    page = await context.newPage();
  });
  afterAll(async () => context?.close());

  it('a parent logs in through journal-id; the app shows the school, the roles and the child', async () => {
    await logIn(page, parent, 'example');
    expect(await page.locator('h1').textContent()).toBe('Тестов Тест');
    expect(await page.locator('#school').textContent()).toBe('Школа № 1399');
    expect(await page.locator('#roles').textContent()).toBe('родитель');
    expect(await page.locator('#children li').allTextContents()).toEqual(['Николаев Ваня, 6А']);
    // The ID token says who and how (sid for back-channel logout); userinfo carries the journal's claims.
    const idToken = JSON.parse((await page.locator('#id-token').textContent())!);
    expect(idToken).toMatchObject({ iss: srv.url, aud: clientId, sub: parent.id, amr: ['pwd'], sid: expect.any(String) });
    const userinfo = JSON.parse((await page.locator('#userinfo').textContent())!);
    expect(userinfo).toMatchObject({ sub: parent.id, roles: ['parent'], school: { number: '1399' }, children: [{ name: 'Николаев Ваня', class: '6А', sub: pupil.id }] });
    expect(sessions.signedIn()).toBe(1);
    await page.screenshot({ path: artifact('example-signed-in.png'), fullPage: true });
  });

  it('«Обновить токены»: a refresh_token grant, the new expiry shown', async () => {
    const before = await page.locator('#access-expires').textContent();
    await new Promise((r) => setTimeout(r, 1100)); // the page shows seconds
    await page.getByRole('button', { name: 'Обновить токены' }).click();
    await page.waitForURL(`${exampleUrl}/`);
    expect(await page.locator('#refreshed-at').count()).toBe(1);
    expect(await page.locator('#access-expires').textContent()).not.toBe(before);
    expect(await page.locator('#roles').textContent()).toBe('родитель');
  });

  it('«Выйти» (RP-initiated): journal-id asks, then both sessions are over', async () => {
    await page.getByRole('button', { name: 'Выйти' }).click();
    await page.waitForURL((u) => u.toString().startsWith(srv.url));
    expect(await page.locator('h1').textContent()).toBe('Выход из журнала');
    await page.screenshot({ path: artifact('example-logout.png'), fullPage: true });
    await page.getByRole('button', { name: 'Выйти', exact: true }).click();
    await page.waitForURL(`${exampleUrl}/`);
    expect(await signedOutPage(page)).toBe(true);
    expect(sessions.signedIn()).toBe(0);
    // journal-id's session is gone too: «Войти» shows its login form again, not the consent page.
    await page.getByRole('link', { name: 'Войти' }).click();
    await page.waitForURL((u) => u.toString().startsWith(srv.url));
    expect(await page.locator('h1').textContent()).toBe('Вход в журнал');
  });

  it('a logout at journal-id itself reaches the app by back-channel: its session ends', async () => {
    await logIn(page, parent);
    expect(sessions.signedIn()).toBe(1);
    // journal-id's own logout (no app named): «Выйти» ends its session and tells every app of it.
    await page.goto(`${srv.url}/session/end`);
    await page.getByRole('button', { name: 'Выйти', exact: true }).click();
    await page.waitForURL((u) => u.toString().startsWith(`${srv.url}/session/end/success`));
    expect(sessions.signedIn()).toBe(0); // delivered within that request
    expect(logs).toContain('journal-web: back-channel logout: 1 session(s) ended');
    await page.goto(exampleUrl);
    expect(await signedOutPage(page)).toBe(true);
  });

  it('the end of all of a person\'s sessions (password reset, `user logout`) reaches the app through the queue', async () => {
    await logIn(page, pupil); // the school approved the app: a pupil sees no consent page
    expect(await page.locator('#class').textContent()).toBe('6А');
    expect(await page.locator('#roles').textContent()).toBe('ученик');
    expect(sessions.signedIn()).toBe(1);
    const ended = await srv.app.sessions.endSessions(pupil.id, { reason: 'test', by: systemAudit(srv.db, 'test') });
    expect(ended.logoutsQueued).toBe(1);
    await srv.app.sessions.deliverDue();
    await until(() => sessions.signedIn() === 0);
    await page.reload();
    expect(await signedOutPage(page)).toBe(true);
    expect(logs.filter((l) => l.includes('refused'))).toEqual([]);
  });
});

describe('the back-channel endpoint checks the logout token (OIDC Back-Channel Logout §2.6)', () => {
  const post = (token?: string) =>
    fetch(`${exampleUrl}/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: token === undefined ? '' : new URLSearchParams({ logout_token: token }).toString(),
    });
  const EVENT = { 'http://schemas.openid.net/event/backchannel-logout': {} };
  let opKey: { key: jose.CryptoKey; kid: string };

  beforeAll(async () => {
    // journal-id's own signing key: a token the app refuses is refused for its claims, not its signature.
    const { jwks } = await loadKeySet(srv.db, srv.config.secrets.keyEncryptionKey, { retainSeconds: keyRetainSeconds(srv.config) });
    const jwk = jwks.keys.find((k) => k.alg === 'ES256')!;
    opKey = { key: (await jose.importJWK(jwk, 'ES256')) as jose.CryptoKey, kid: jwk.kid! };
  });

  /** A logout token as journal-id signs it, changed by `claims` (undefined removes a claim). */
  async function token(claims: Record<string, unknown> = {}, o: { key?: jose.CryptoKey; typ?: string } = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const payload = Object.fromEntries(
      Object.entries({ iss: srv.url, aud: clientId, iat: now, exp: now + 120, jti: jose.base64url.encode(crypto.getRandomValues(new Uint8Array(12))), sub: pupil.id, sid: 'some-sid', events: EVENT, ...claims })
        .filter(([, v]) => v !== undefined),
    );
    return new jose.SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: opKey.kid, typ: o.typ ?? 'logout+jwt' }).sign(o.key ?? opKey.key);
  }

  it('200 for a valid token (also when its session is already gone), once per jti', async () => {
    const valid = await token();
    const res = await post(valid);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect((await post(valid)).status).toBe(400); // replayed
  });

  it.each<[string, () => Promise<string | undefined>]>([
    ['no token', async () => undefined],
    ['not a JWT', async () => 'abc'],
    ['signed by someone else', async () => token({}, { key: (await jose.generateKeyPair('ES256')).privateKey as jose.CryptoKey })],
    ['another issuer', () => token({ iss: 'https://evil.example' })],
    ['another audience', () => token({ aud: 'another-app' })],
    ['an ID token (typ JWT)', () => token({}, { typ: 'JWT' })],
    ['no iat', () => token({ iat: undefined })],
    ['expired', () => token({ iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 300 })],
    ['no events claim', () => token({ events: undefined })],
    ['another event', () => token({ events: { 'https://example.com/other': {} } })],
    ['the event is not an object', () => token({ events: { 'http://schemas.openid.net/event/backchannel-logout': 'yes' } })],
    ['a nonce', () => token({ nonce: 'n' })],
    ['neither sid nor sub', () => token({ sid: undefined, sub: undefined })],
  ])('400 for %s', async (_what, make) => {
    const res = await post(await make());
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });
});
