/**
 * Prometheus metrics (issue 9): after real flows over HTTP — a relying party (openid-client)
 * logging a person in with a password, a wrong password, a throttled guesser, a registration by
 * invite code, a password recovery — the named series of `GET /metrics` have moved by exactly
 * what happened; no label holds a login, an email, a code or a token; the access-log line of a
 * login names the request, the app, the school and the outcome, never the login or password.
 * /metrics answers only a loopback peer that did not come through the proxy, or the bearer of
 * METRICS_TOKEN; everyone else gets the 404 of any unknown path.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, addSchool, addAccount, testSecrets, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, login, openLoginPage, submitLogin, oidc } from '../helpers/rp.js';
import { addStudent, codeOf, issue } from '../helpers/school.js';
import { registerWithCode } from '../helpers/flows.js';
import { metricsText, scrape, valueOf } from '../helpers/metrics.js';
import { isLoopback, metricsAllowed } from '../../src/metrics/endpoint.js';
import { oneOf, throttleScope, LOGIN_OUTCOMES } from '../../src/metrics/registry.js';
import { insertClient } from '../../src/oidc/clients.js';
import { loadConfig, ConfigError } from '../../src/config/index.js';
import type { School } from '../../src/schools/queries.js';

const WEB = 'journal-web';
const logs: string[] = [];
let srv: TestServer;
let school: School;
let person: Awaited<ReturnType<typeof addAccount>>;
let config: oidc.Configuration;
/** Everything personal or secret the flows typed or received: none of it may reach /metrics. */
const secrets: string[] = [];

const logins = (outcome: string, method = 'password') => ({ name: 'logins_total', labels: { method, outcome } });

/** Runs `act` and returns how much each series moved meanwhile. */
async function deltas(series: { name: string; labels: Record<string, string> }[], act: () => Promise<void>): Promise<number[]> {
  const before = await metricsText(srv.url);
  await act();
  const after = await metricsText(srv.url);
  return series.map((s) => valueOf(after, s.name, s.labels) - valueOf(before, s.name, s.labels));
}

beforeAll(async () => {
  // No background workers: the recovery letter stays in the outbox for the gauges to see.
  srv = await startTestServer({ logs, env: { RUN_WORKERS: 'false', LOGIN_THROTTLE_FREE: '2' } });
  school = await addSchool(srv.db);
  person = await addAccount(srv.app, school, { login: 'Zhukova.Masha', kind: 'student', email: 'masha.zh@example.ru', password: 'Snegir2024zz' });
  secrets.push('Zhukova.Masha', 'zhukova.masha', 'masha.zh@example.ru', 'Snegir2024zz');
  config = await discover(srv.url, WEB, srv.config.secrets.journalWebClientSecret);
});
afterAll(async () => srv?.close());

describe('the counters move by what happened', () => {
  it('a password login through openid-client: logins_total success +1, tokens by grant, the route in the histogram', async () => {
    const loginRoute = { method: 'POST', route: '/interaction/:uid/login', status_class: '3xx' };
    const [ok, code, refresh, loginRequests, tokenRequests] = await deltas(
      [
        logins('success'),
        { name: 'tokens_issued_total', labels: { grant_type: 'authorization_code' } },
        { name: 'tokens_issued_total', labels: { grant_type: 'refresh_token' } },
        { name: 'http_request_duration_seconds_count', labels: loginRoute },
        { name: 'http_request_duration_seconds_count', labels: { method: 'POST', route: 'token', status_class: '2xx' } },
      ],
      async () => {
        const browser = new Browser(srv.url);
        const started = await startLogin(config, {
          redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]!,
          scope: 'openid profile school offline_access',
          prompt: 'consent',
          school: school.slug,
        });
        const callback = await login(browser, started, person.login, person.password);
        secrets.push(callback.searchParams.get('code')!);
        const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
        expect(tokens.claims()!.sub).toBe(person.id);
        const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
        secrets.push(tokens.access_token, tokens.refresh_token!, refreshed.access_token, refreshed.refresh_token!);
      },
    );
    expect({ ok, code, refresh, loginRequests, tokenRequests }).toEqual({ ok: 1, code: 1, refresh: 1, loginRequests: 1, tokenRequests: 2 });
  });

  it('client_credentials: tokens_issued_total{grant_type="client_credentials"} +1; a refused grant moves nothing', async () => {
    const secret = 'reports-secret-0123456789-0123456789-abcdef';
    secrets.push(secret);
    await insertClient(srv.db, srv.config.secrets.keyEncryptionKey, {
      clientId: 'reports',
      name: 'Отчёты',
      firstParty: false,
      secret,
      metadata: { client_id: 'reports', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' },
    });
    const series = ['client_credentials', 'authorization_code', 'refresh_token', 'other'].map((g) => ({ name: 'tokens_issued_total', labels: { grant_type: g } }));
    const moved = await deltas(series, async () => {
      const t = await oidc.clientCredentialsGrant(await discover(srv.url, 'reports', secret));
      secrets.push(t.access_token);
      await expect(oidc.clientCredentialsGrant(await discover(srv.url, 'reports', `${secret}x`))).rejects.toThrow(/challenge|invalid_client/);
    });
    expect(moved).toEqual([1, 0, 0, 0]);
    const refused = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request' && l.route === 'token' && l.outcome === 'invalid_client');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ event: 'token.client_credentials', status: 401 });
  });

  it('a wrong password moves bad_credentials, not success', async () => {
    const [bad, ok] = await deltas([logins('bad_credentials'), logins('success')], async () => {
      const browser = new Browser(srv.url);
      const started = await startLogin(config, { redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]!, school: school.slug });
      const page = await openLoginPage(browser, started.authUrl);
      const { res } = await submitLogin(browser, page.html, person.login, 'Wrong2024password');
      expect(res.status).toBe(400);
    });
    secrets.push('Wrong2024password');
    expect({ bad, ok }).toEqual({ bad: 1, ok: 0 });
  });

  it('a guesser past the free attempts: locked, then throttled (logins_total and throttled_requests_total)', async () => {
    const loginScopes = ['login_account', 'login_address_login', 'login_address'];
    const series = [logins('bad_credentials'), logins('locked'), logins('throttled'), ...loginScopes.map((scope) => ({ name: 'throttled_requests_total', labels: { scope } }))];
    const statuses: number[] = [];
    const [bad, locked, throttled, ...refusals] = await deltas(series, async () => {
      const browser = new Browser(srv.url);
      const started = await startLogin(config, { redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]!, school: school.slug });
      let { html } = await openLoginPage(browser, started.authUrl);
      // LOGIN_THROTTLE_FREE=2: the first wrong password is free, the second starts the wait, the third meets it.
      for (let i = 0; i < 3; i++) {
        const { res } = await submitLogin(browser, html, 'ghost.guesser', `Guess${i}2024x`);
        statuses.push(res.status);
        html = await res.text();
      }
    });
    secrets.push('ghost.guesser');
    expect(statuses).toEqual([400, 400, 429]);
    expect({ bad, locked, throttled }).toEqual({ bad: 1, locked: 1, throttled: 1 });
    expect(refusals.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('a registration by invite code: success +1; an unknown code: invalid_code +1', async () => {
    const child = await addStudent(srv.app, school);
    const code = codeOf(await issue(srv.app, school, [child], { students: 1, parents: 0 }), child, 'student');
    secrets.push(code, 'Vanya.Reg', 'Lastochka2024x');
    const [ok, invalid] = await deltas(
      [{ name: 'registrations_total', labels: { method: 'invite', outcome: 'success' } }, { name: 'registrations_total', labels: { method: 'invite', outcome: 'invalid_code' } }],
      async () => {
        expect((await registerWithCode(srv.url, { code, login: 'Vanya.Reg', password: 'Lastochka2024x' })).outcome).toBe('registered');
        const b = new Browser(srv.url);
        const form = formOf(await (await b.request('/register')).text(), /register$/);
        expect((await b.postForm(form.action, { ...form.fields, code: 'st2345678abc' })).status).toBe(400);
      },
    );
    expect({ ok, invalid }).toEqual({ ok: 1, invalid: 1 });
  });

  it('a recovery: requested, the letter (and the outbox gauges), the new password', async () => {
    const owner = await addAccount(srv.app, school, { login: 'Orlov.Recover', kind: 'student', email: 'orlov.rec@example.ru' });
    secrets.push('Orlov.Recover', 'orlov.recover', 'orlov.rec@example.ru', owner.password, 'Zhuravl2024new');
    const before = await metricsText(srv.url);
    const b = new Browser(srv.url);
    const form = formOf(await (await b.request('/recover')).text(), /recover/);
    expect((await b.postForm(form.action, { ...form.fields, email: 'orlov.rec@example.ru' })).status).toBe(200);
    expect(await srv.app.recovery.processDue()).toBe(1);
    const queued = await metricsText(srv.url);

    const step = (text: string, s: string, outcome: string) => valueOf(text, 'recoveries_total', { step: s, outcome });
    expect(step(queued, 'requested', 'accepted') - step(before, 'requested', 'accepted')).toBe(1);
    expect(step(queued, 'letter', 'sent') - step(before, 'letter', 'sent')).toBe(1);
    // The letter waits in the outbox (no mail worker here): the backlog counts it, its age is known.
    expect(valueOf(queued, 'outbox_backlog') - valueOf(before, 'outbox_backlog')).toBe(1);
    expect(valueOf(queued, 'outbox_oldest_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(valueOf(queued, 'outbox_oldest_age_seconds')).toBeLessThan(60);
    expect(queued).toMatch(/^outbox_oldest_age_seconds \d/m);

    const letter = (await srv.db('mail_outbox').where({ to_address: 'orlov.rec@example.ru', template: 'recovery' }).first('text_body')) as { text_body: string };
    const token = /\/recover\/([\w-]+)/.exec(letter.text_body)![1]!;
    secrets.push(token);
    const page = formOf(await (await b.request(`/recover/${token}`)).text(), /recover\//);
    const done = await b.postForm(page.action, { ...page.fields, password: 'Zhuravl2024new', repeat: 'Zhuravl2024new' });
    expect(done.status).toBe(200);
    const after = await metricsText(srv.url);
    expect(step(after, 'completed', 'success') - step(queued, 'completed', 'success')).toBe(1);
    // The link's token is a secret: the access log shows the route's pattern, not the path.
    expect(logs.some((l) => l.includes(token))).toBe(false);
    expect(logs.map((l) => JSON.parse(l) as Record<string, unknown>).some((l) => l.msg === 'request' && l.path === '/recover/:token' && l.outcome === 'success')).toBe(true);
  });
});

describe('what /metrics shows and never shows', () => {
  it('has the process, pool and latency series, and no login, email, code or token anywhere', async () => {
    const { status, text, type } = await scrape(srv.url);
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    // PGlite: one connection, reported as it is.
    expect(valueOf(text, 'db_pool_connections', { state: 'used' }) + valueOf(text, 'db_pool_connections', { state: 'free' })).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^db_pool_connections\{state="pending"\} \d/m);
    expect(text).toMatch(/^# TYPE http_request_duration_seconds histogram$/m);
    // Series that can happen exist from the start at 0 (rates and alerts work before the first event).
    expect(text).toMatch(/^logins_total\{method="esia",outcome="no_match"\} 0$/m);
    expect(text).toMatch(/^throttled_requests_total\{scope="mfa_account"\} 0$/m);
    expect(valueOf(text, 'http_request_duration_seconds_count', { method: 'GET', route: '/interaction/:uid', status_class: '2xx' })).toBeGreaterThanOrEqual(3);
    expect(valueOf(text, 'http_request_duration_seconds_count', { method: 'GET', route: 'authorization', status_class: '3xx' })).toBeGreaterThanOrEqual(3);
    for (const s of secrets) expect(text.toLowerCase()).not.toContain(s.toLowerCase());
    expect(text).not.toContain(school.id);
    // Routes are patterns: no interaction id, no /recover/<token>.
    for (const m of text.matchAll(/route="([^"]*)"/g)) expect(m[1]).toMatch(/^(\/[\w.:-]*)+$|^[a-z_]+$/);
    expect(text).not.toMatch(/route="\/interaction\/[^:]/);
  });

  it('the access-log line of a login: request id, client id, school and outcome; never the login or the password', () => {
    const lines = logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const success = lines.filter((l) => l.msg === 'request' && l.route === '/interaction/:uid/login' && l.outcome === 'success');
    expect(success).toHaveLength(1);
    expect(success[0]).toMatchObject({ method: 'POST', status: 303, clientId: WEB, school: school.id, event: 'login.password', outcome: 'success' });
    expect(success[0]!.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const wrong = lines.find((l) => l.msg === 'request' && l.route === '/interaction/:uid/login' && l.outcome === 'bad_credentials')!;
    expect(wrong).toMatchObject({ status: 400, clientId: WEB, school: school.id });
    const token = lines.find((l) => l.msg === 'request' && l.route === 'token' && l.event === 'token.authorization_code')!;
    expect(token).toMatchObject({ clientId: WEB, outcome: 'success' });
    for (const l of logs) {
      for (const s of ['Snegir2024zz', 'Wrong2024password', 'Zhukova.Masha', 'zhukova.masha', 'masha.zh@example.ru', 'Zhuravl2024new']) expect(l).not.toContain(s);
    }
  });

  it('labels come from closed sets: anything else is "other"', () => {
    expect(oneOf(LOGIN_OUTCOMES, 'success')).toBe('success');
    expect(oneOf(LOGIN_OUTCOMES, 'zhukova.masha')).toBe('other');
    expect(oneOf(LOGIN_OUTCOMES, undefined)).toBe('other');
    expect(throttleScope('login:acct:school:zhukova.masha')).toBe('login_account');
    expect(throttleScope('recover:email:0123')).toBe('recover_email');
    expect(throttleScope('someone@example.ru')).toBe('other');
  });
});

describe('who may read /metrics', () => {
  it('a loopback peer through the proxy (X-Forwarded-For, Forwarded, X-Real-IP) gets the 404 of any unknown path', async () => {
    const unknown = await fetch(`${srv.url}/no-such-page`);
    // The same page, but for its language switch, which links to the address asked for.
    const unknownBody = (await unknown.text()).replaceAll('/no-such-page', '/metrics');
    const proxied: Record<string, string>[] = [{ 'x-forwarded-for': '203.0.113.7' }, { forwarded: 'for=203.0.113.7' }, { 'x-real-ip': '203.0.113.7' }];
    for (const header of proxied) {
      const { status, text, type } = await scrape(srv.url, header);
      expect(status).toBe(404);
      expect(type).toBe(unknown.headers.get('content-type'));
      expect(text.replace(/[\da-f-]{36}/g, '')).toBe(unknownBody.replace(/[\da-f-]{36}/g, ''));
    }
    expect((await fetch(`${srv.url}/metrics`, { method: 'POST' })).status).toBe(404);
  });

  it('without a token: loopback only; another address is refused', () => {
    const peer = (remoteAddress: string, headers = {}) => ({ remoteAddress, headers });
    expect(metricsAllowed(peer('127.0.0.1'), undefined)).toBe(true);
    expect(metricsAllowed(peer('::1'), undefined)).toBe(true);
    expect(metricsAllowed(peer('::ffff:127.0.0.1'), undefined)).toBe(true);
    expect(metricsAllowed(peer('10.0.0.5'), undefined)).toBe(false);
    expect(metricsAllowed(peer('192.168.1.10'), undefined)).toBe(false);
    expect(metricsAllowed(peer('::ffff:10.0.0.5'), undefined)).toBe(false);
    expect(metricsAllowed(peer('2001:db8::1'), undefined)).toBe(false);
    expect(metricsAllowed(peer('127.0.0.1', { 'x-forwarded-for': '127.0.0.1' }), undefined)).toBe(false);
    expect(isLoopback(undefined)).toBe(false);
  });

  it('METRICS_TOKEN is checked at start (never echoed) and may come from a file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-metrics-'));
    const load = (env: Record<string, string>) => loadConfig({ NODE_ENV: 'test', DATA_DIR: dir, ...env }, { secrets: testSecrets() });
    expect(load({}).metricsToken).toBeUndefined();
    expect(() => load({ METRICS_TOKEN: 'short-secret' })).toThrow(ConfigError);
    expect(() => load({ METRICS_TOKEN: 'short-secret' })).toThrow(/^config: METRICS_TOKEN must be at least 32 characters[^"]*$/);
    expect(() => load({ METRICS_TOKEN: 'has spaces in it but is long enough 0123456789' })).toThrow(/METRICS_TOKEN/);
    fs.writeFileSync(path.join(dir, 'token'), 'f'.repeat(64) + '\n');
    expect(load({ METRICS_TOKEN_FILE: path.join(dir, 'token') }).metricsToken).toBe('f'.repeat(64));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('with METRICS_TOKEN: only the bearer of the token, from anywhere', async () => {
    const token = 'k7Qm2v9XwT4pL8sN3rB6yH1cF5gJ0dZe';
    const guarded = await startTestServer({ env: { METRICS_TOKEN: token } });
    try {
      expect((await scrape(guarded.url)).status).toBe(404);
      expect((await scrape(guarded.url, { authorization: `Bearer ${token.slice(0, -1)}x` })).status).toBe(404);
      expect((await scrape(guarded.url, { authorization: `Basic ${token}` })).status).toBe(404);
      expect((await scrape(guarded.url, { authorization: `Bearer ${token}` })).status).toBe(200);
      expect((await scrape(guarded.url, { authorization: `Bearer ${token}`, 'x-forwarded-for': '203.0.113.7' })).status).toBe(200);
      expect(metricsAllowed({ remoteAddress: '10.0.0.5', headers: { authorization: `Bearer ${token}` } }, token)).toBe(true);
    } finally {
      await guarded.close();
    }
  });
});
