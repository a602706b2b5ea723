/**
 * Issue 21.4–21.5 over real HTTP against the fake ESIA: a full logout of a session begun with
 * Gosuslugi ends the ESIA session too (ESIA_LOGOUT on), or not (off); a scope not approved for
 * the system (ESIA's 403 on the person data) gives the person a clear page and the log the cause.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import type { FakeEsia, FakePerson } from '../../fake-esia/server.js';
import { addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { startWithFakeEsia } from '../helpers/esia.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, continueToRp, oidc } from '../helpers/rp.js';

const CLIENT_ID = 'JOURNALOUT';
const OID = 1000000021;
const people: FakePerson[] = [{ oid: OID, lastName: 'Петров', firstName: 'Иван', trusted: true, snils: '112-233-445 95', contacts: [] }];

interface Setup {
  srv: TestServer;
  fake: FakeEsia;
  rp: oidc.Configuration;
  logs: string[];
}

async function setUp(env: Record<string, string>, approvedScopes?: string[]): Promise<Setup> {
  const logs: string[] = [];
  const { srv, fake } = await startWithFakeEsia({ clientId: CLIENT_ID, people, env, logs, approvedScopes });
  const school = await addSchool(srv.db, { number: '21', slug: '21', name: 'Школа № 21', region: 'Москва' });
  const parent = await addAccount(srv.app, school, { login: 'linked.parent', kind: 'parent' });
  await srv.db('federated_identities').insert({ provider: 'esia', subject: String(OID), user_id: parent.id, linked_via: 'email' });
  const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  return { srv, fake, rp, logs };
}

/** «Войти через Госуслуги» up to journal-id's callback; returns the browser, the ESIA session cookie and the callback's answer. */
async function loginAtEsia(s: Setup, lang?: string) {
  const browser = new Browser(s.srv.url);
  const redirectUri = s.srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
  const started = await startLogin(s.rp, { redirect_uri: redirectUri, school: '21' });
  const page = await openLoginPage(browser, started.authUrl);
  const form = formOf(page.html, /\/esia$/);
  const toEsia = await browser.postForm(form.action, form.fields);
  expect(toEsia.status).toBe(303);
  s.fake.loginAs(OID);
  const atEsia = await fetch(toEsia.headers.get('location')!, { redirect: 'manual' });
  expect(atEsia.status).toBe(302);
  const esiaCookie = /esia_session=[^;]+/.exec(atEsia.headers.getSetCookie().join('\n'))![0];
  const callback = new URL(atEsia.headers.get('location')!);
  if (lang) callback.searchParams.set('lang', lang);
  const back = await browser.follow(callback.toString());
  return { browser, esiaCookie, back, started };
}

/** The relying party's logout: /session/end, then «Выйти» (logout=yes) on the confirmation page. */
async function logOut(s: Setup, browser: Browser): Promise<Response> {
  const confirm = await browser.request(`${s.srv.url}/session/end?client_id=journal-web`);
  expect(confirm.status).toBe(200);
  const form = formOf(await confirm.text(), /session\/end\/confirm/);
  return browser.postForm(form.action, { ...form.fields, logout: 'yes' });
}

describe('logout at ESIA on (the default)', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp({});
  });
  afterAll(async () => {
    await s?.srv.close();
    await s?.fake.close();
  });

  it('the RP-initiated logout of a Gosuslugi session goes through /idp/ext/Logout, which ends the ESIA session, and back', async () => {
    const { browser, esiaCookie, back } = await loginAtEsia(s);
    await continueToRp(browser, back.res, back.url);
    const sessions = s.fake.sessions;
    const out = await logOut(s, browser);
    expect(out.status).toBe(303);
    const esiaLogout = new URL(out.headers.get('location')!);
    expect(esiaLogout.origin + esiaLogout.pathname).toBe(`${s.fake.url}/idp/ext/Logout`);
    expect(esiaLogout.searchParams.get('client_id')).toBe(CLIENT_ID);
    expect(esiaLogout.searchParams.get('redirect_url')).toBe(`${s.srv.url}/esia/logout`);

    const atEsia = await fetch(esiaLogout, { redirect: 'manual', headers: { cookie: esiaCookie } });
    expect(atEsia.status).toBe(302);
    expect(s.fake.sessions).toBe(sessions - 1);
    const done = await browser.follow(atEsia.headers.get('location')!);
    expect(done.res.status).toBe(200);
    expect(await done.res.text()).toContain('Вы вышли из электронного журнала.');
    // journal-id's session is gone: /account asks for a login again.
    const account = await browser.request(`${s.srv.url}/account`);
    expect(account.status).toBe(302);
  });

  it('/account «sign out everywhere» of a Gosuslugi session ends the ESIA session too', async () => {
    const { browser, esiaCookie, back } = await loginAtEsia(s);
    await continueToRp(browser, back.res, back.url);
    const page = await browser.follow(`${s.srv.url}/account`);
    expect(page.res.status).toBe(200);
    const form = formOf(await page.res.text(), /\/account\/signout$/);
    const out = await browser.postForm(form.action, { ...form.fields, all: '1' });
    expect(out.status).toBe(303);
    const esiaLogout = new URL(out.headers.get('location')!);
    expect(esiaLogout.pathname).toBe('/idp/ext/Logout');
    const atEsia = await fetch(esiaLogout, { redirect: 'manual', headers: { cookie: esiaCookie } });
    const done = await browser.follow(atEsia.headers.get('location')!);
    expect(await done.res.text()).toContain('Вы вышли из электронного журнала.');
  });

  it('the fake ESIA sends nobody to an address not registered for the system', async () => {
    const bad = new URL('/idp/ext/Logout', s.fake.url);
    bad.search = new URLSearchParams({ client_id: CLIENT_ID, redirect_url: 'https://evil.example/esia/logout' }).toString();
    const res = await fetch(bad, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });

  it('/esia/logout without the signed cookie goes nowhere but the «logged out» page', async () => {
    const res = await fetch(`${s.srv.url}/esia/logout`, { redirect: 'manual', headers: { cookie: 'jid_esia_out=aHR0cHM6Ly9ldmlsLmV4YW1wbGUv' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBeNull();
  });
});

describe('logout at ESIA off (ESIA_LOGOUT=false)', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp({ ESIA_LOGOUT: 'false' });
  });
  afterAll(async () => {
    await s?.srv.close();
    await s?.fake.close();
  });

  it('the logout ends journal-id\'s session only; the ESIA session stays', async () => {
    const { browser, back } = await loginAtEsia(s);
    await continueToRp(browser, back.res, back.url);
    const sessions = s.fake.sessions;
    const out = await logOut(s, browser);
    expect(out.status).toBe(303);
    expect(new URL(out.headers.get('location')!, s.srv.url).pathname).toBe('/session/end/success');
    expect(s.fake.sessions).toBe(sessions);
  });
});

describe('a scope not approved for the system (ESIA answers 403 on the person data)', () => {
  let s: Setup;
  beforeAll(async () => {
    // ESIA_SCOPE asks for snils; the technical portal approved everything else.
    s = await setUp({}, ['openid', 'fullname', 'email', 'mobile']);
  });
  afterAll(async () => {
    await s?.srv.close();
    await s?.fake.close();
  });

  it('the person sees a clear page (ru), the log names the cause; no 500', async () => {
    const { back } = await loginAtEsia(s);
    expect(back.res.status).toBe(502);
    const html = await back.res.text();
    expect(html).toContain('школьному журналу ещё не разрешён их запрос');
    expect(html).toContain('войдите по логину и паролю');
    const line = s.logs.find((l) => l.includes('ESIA login failed') && l.includes('not approved'));
    expect(line).toBeDefined();
    expect(line).toContain('ESIA-007019');
    expect(line).toContain('"level":"error"');
  });

  it('in English for an English browser', async () => {
    const { back } = await loginAtEsia(s, 'en');
    expect(back.res.status).toBe(502);
    expect(await back.res.text()).toContain('the school journal is not yet allowed to ask for it');
  });

});
