/**
 * Guessing is throttled per account and per address without a server-side sleep, the owner
 * still sees the FAQ's words; and ending an account's sessions revokes its tokens and sends
 * back-channel logout to the apps it was signed in to, with retries.
 */
import { systemAudit } from '../../src/audit/bound.js';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as jose from 'jose';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin, login, oidc } from '../helpers/rp.js';

let srv: TestServer;
let person: Awaited<ReturnType<typeof addAccount>>;
let rp: oidc.Configuration;
let redirectUri: string;
const INVALID = 'Неверное имя пользователя или пароль. Пожалуйста, попробуйте еще раз!';

// A relying party's back-channel logout endpoint; it fails the first call to prove the retry.
const received: string[] = [];
let failNext = true;
const rpServer = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    if (failNext) {
      failNext = false;
      res.writeHead(500).end();
      return;
    }
    received.push(new URLSearchParams(body).get('logout_token')!);
    res.writeHead(200).end();
  });
});

beforeAll(async () => {
  await new Promise<void>((r) => rpServer.listen(0, '127.0.0.1', () => r()));
  const port = (rpServer.address() as AddressInfo).port;
  srv = await startTestServer({
    env: { JOURNAL_WEB_BACKCHANNEL_LOGOUT_URI: `http://127.0.0.1:${port}/backchannel` },
    overrides: { backchannel: { maxAttempts: 5, pollSeconds: 3600 } },
  });
  const school = await addSchool(srv.db, { number: '12', slug: '12' });
  person = await addAccount(srv.app, school, { login: 'teacher12', kind: 'staff', roles: ['teacher'] });
  rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  redirectUri = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
});
afterAll(async () => {
  await srv?.close();
  rpServer.close();
});

describe('brute-force defence on the login form', () => {
  it('after the free attempts further guesses are refused with 429 and Retry-After, with the same words', async () => {
    const browser = new Browser(srv.url);
    const started = await startLogin(rp, { redirect_uri: redirectUri, school: '12' });
    const page = await openLoginPage(browser, started.authUrl);
    const free = srv.config.throttle.account.free;
    for (let i = 0; i < free; i++) {
      const { res } = await submitLogin(browser, page.html, 'teacher12', `Wrong${i}pass`);
      expect(res.status).toBe(400);
      await res.text();
    }
    const { res } = await submitLogin(browser, page.html, 'teacher12', person.password);
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await res.text()).toContain(INVALID);
    const audit = await srv.db('audit_log').where({ action: 'login.throttled' }).count({ n: '*' }).first();
    expect(Number(audit!.n)).toBeGreaterThan(0);
  });

  it('the lockout is temporary, and a success resets the account counter', async () => {
    await srv.db('throttle').update({ blocked_until: srv.db.raw(`now() - interval '1 second'`), last_at: srv.db.raw(`now() - interval '1 hour'`) });
    const browser = new Browser(srv.url);
    const started = await startLogin(rp, { redirect_uri: redirectUri, school: '12' });
    const callback = await login(browser, started, 'teacher12', person.password);
    expect(callback.searchParams.get('code')).toBeTruthy();
    const rows = await srv.db('throttle').where('key', 'like', 'login:acct:%');
    expect(rows).toHaveLength(0);
  });
});

describe('operator unlock', () => {
  it('lifts a lockout of one login at once, wherever the guesses came from', async () => {
    const browser = new Browser(srv.url);
    const started = await startLogin(rp, { redirect_uri: redirectUri, school: '12' });
    const page = await openLoginPage(browser, started.authUrl);
    for (let i = 0; i <= srv.config.throttle.account.free; i++) await (await submitLogin(browser, page.html, 'Teacher12', `Bad${i}pass`)).res.text();
    const locked = await submitLogin(browser, page.html, 'teacher12', person.password);
    expect(locked.res.status).toBe(429);
    expect(await srv.app.throttle.unlockLogin(person.school_id, 'teacher12')).toBeGreaterThanOrEqual(2);
    const callback = await login(new Browser(srv.url), await startLogin(rp, { redirect_uri: redirectUri, school: '12' }), 'teacher12', person.password);
    expect(callback.searchParams.get('code')).toBeTruthy();
  });
});

describe('ending all sessions of an account', () => {
  it('revokes tokens and delivers back-channel logout, retrying after a failure', async () => {
    const browser = new Browser(srv.url);
    const started = await startLogin(rp, { redirect_uri: redirectUri, school: '12', scope: 'openid offline_access', prompt: 'consent' });
    const callback = await login(browser, started, 'teacher12', person.password);
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    const sid = tokens.claims()!.sid as string;

    const result = await srv.app.sessions.endSessions(person.id, { reason: 'test', by: systemAudit(srv.db, 'test') });
    expect(result.sessions).toBeGreaterThanOrEqual(1);
    expect(result.logoutsQueued).toBeGreaterThanOrEqual(1);
    expect((await oidc.tokenIntrospection(rp, tokens.access_token)).active).toBe(false);
    await expect(oidc.refreshTokenGrant(rp, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    // First delivery fails (the RP answers 500) and is rescheduled, not lost.
    expect(await srv.app.sessions.deliverDue()).toBeGreaterThanOrEqual(1);
    const pending = await srv.db('backchannel_logouts').where({ status: 'pending' });
    expect(pending.length).toBeGreaterThanOrEqual(1);
    expect(pending[0].last_error).toMatch(/500/);
    await srv.db('backchannel_logouts').update({ next_attempt_at: srv.db.fn.now() });
    await srv.app.sessions.deliverDue();
    expect(received.length).toBeGreaterThanOrEqual(1);

    const jwks = jose.createRemoteJWKSet(new URL(`${srv.url}/jwks`));
    const { payload } = await jose.jwtVerify(received[0]!, jwks, { issuer: srv.url, audience: 'journal-web' });
    expect(payload.sub).toBe(person.id);
    expect(payload.events).toHaveProperty(['http://schemas.openid.net/event/backchannel-logout']);
    expect(received.some((t) => jose.decodeJwt(t).sid === sid)).toBe(true);

    // The browser's session is gone too: the next authorization shows the login page.
    const again = await startLogin(rp, { redirect_uri: redirectUri, school: '12' });
    const page = await openLoginPage(browser, again.authUrl);
    expect(page.html).toContain('Вход в журнал');
  });

  it('RP-initiated logout also notifies the app over the back channel', async () => {
    const browser = new Browser(srv.url);
    const started = await startLogin(rp, { redirect_uri: redirectUri, school: '12' });
    const callback = await login(browser, started, 'teacher12', person.password);
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    const before = received.length;
    const end = oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token! });
    const page = await browser.follow(end.toString());
    const form = formOf(await page.res.text());
    const res = await browser.postForm(form.action, { ...form.fields, logout: 'yes' });
    expect(res.status).toBeLessThan(400);
    expect(received.length).toBe(before + 1);
    expect(jose.decodeJwt(received.at(-1)!).sid).toBe(tokens.claims()!.sid);
  });
});
