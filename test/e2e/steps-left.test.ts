/**
 * «Does this session have steps left?» over plain HTTP, on every surface that trusts the SSO
 * session (issue 17.3): after the password (and the code) of a one-time password the session
 * exists, but /account (its page, its download, its forms), /console and /console/platform send
 * the person to «Смена пароля» first and act on nothing; after the change they are where they
 * were going. The amr/acr of each identification come from completeLogin (login/steps.ts).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin } from '../helpers/rp.js';
import { systemAudit } from '../../src/audit/bound.js';
import { createAccount } from '../../src/accounts/create.js';
import { totp } from '../../src/mfa/totp.js';
import { decideAcr, firstStepLeft, STEPS } from '../../src/login/steps.js';
import type { School } from '../../src/schools/queries.js';

const ONE_TIME = 'Vremya2024x';
const NEW = 'Podsolnuh77';
let srv: TestServer;
let school: School;

beforeAll(async () => {
  srv = await startTestServer();
  school = await addSchool(srv.db, { number: '1418', slug: '1418' });
});
afterAll(async () => srv?.close());

function oneTime(login: string, over: { kind?: 'student' | 'staff' | 'platform'; roles?: string[] } = {}) {
  const kind = over.kind ?? 'student';
  return createAccount(srv.db, srv.app.passwords, {
    schoolId: kind === 'platform' ? null : school.id, login, password: ONE_TIME, kind, roles: over.roles ?? [],
    lastName: 'Белова', firstName: 'Анна', birthDate: '1985-02-11',
    email: kind === 'student' ? undefined : `${login}@example.ru`, emailVerified: kind !== 'student', mustChangePassword: true,
  }, systemAudit(srv.db, 'test set-up'));
}

const isChangePage = (html: string) => html.includes('Смена пароля') && /action="\/interaction\/[^"]+\/password"/.test(html);

/** Password, then (for console roles) the enrolment code: the page the login stops at. */
async function logIn(browser: Browser, start: string, login: string): Promise<string> {
  const page = await browser.follow(start);
  let html = await page.res.text();
  const { res } = await submitLogin(browser, html, login, ONE_TIME);
  html = await res.text();
  const secret = /<code class="key">([A-Z2-7 ]+)<\/code>/.exec(html)?.[1]?.replace(/ /g, '');
  if (!secret) return html;
  const form = formOf(html, /\/mfa$/);
  const r = await browser.postForm(form.action, { ...form.fields, code: totp(secret) });
  return (await (await browser.follow(new URL(r.headers.get('location')!, srv.url).toString())).res.text());
}

async function changePassword(browser: Browser, html: string): Promise<string> {
  const form = formOf(html, /\/password$/);
  const r = await browser.postForm(form.action, { ...form.fields, password: NEW, repeat: NEW });
  expect(r.status).toBe(303);
  return (await browser.follow(new URL(r.headers.get('location')!, srv.url).toString())).url;
}

describe('a session with steps left is sent to the first one', () => {
  it('the table: one step holds the surfaces today — the forced change', () => {
    expect(STEPS.map((s) => s.name)).toEqual(['identify', 'second_factor', 'change_password', 'confirm_email', 'consent']);
    const s = (must: boolean) => ({ account: { id: 'x', kind: 'staff' as const, must_change_password: must, email_verified_at: null }, cookie: () => undefined });
    expect(firstStepLeft(s(true))?.name).toBe('change_password');
    expect(firstStepLeft(s(false))).toBeUndefined(); // the email prompt can be put off: not on /account
    expect([decideAcr(['pwd']), decideAcr(['pwd', 'otp']), decideAcr(['esia']), decideAcr(['esia', 'pwd']), decideAcr(['esia', 'pwd', 'otp'])])
      .toEqual(['urn:journal:pwd', 'urn:journal:mfa', 'urn:journal:esia', 'urn:journal:esia', 'urn:journal:mfa']);
  });

  it('/account: the page, the download and a form answer with «Смена пароля»; after it, /account', async () => {
    const pupil = await oneTime('belova11');
    const browser = new Browser(srv.url);
    const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    const started = await startLogin(rp, { redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]!, school: '1418' });
    const page = await openLoginPage(browser, started.authUrl);
    const { res } = await submitLogin(browser, page.html, 'belova11', ONE_TIME);
    const changeHtml = await res.text();
    expect(isChangePage(changeHtml)).toBe(true);

    for (const path of ['/account', '/account/data.json']) {
      const { res: r, url } = await browser.follow(path);
      expect(url).toContain('/interaction/');
      expect(isChangePage(await r.text())).toBe(true);
    }
    // A form of /account acts on nothing: the person is sent to log in (and so to the change).
    const token = formOf(changeHtml, /\/password$/).fields._csrf ?? '';
    const posted = await browser.postForm('/account/snils', { _csrf: token, password: ONE_TIME, snils: '112-233-445 95' });
    expect(posted.status).toBe(302);
    expect(new URL(posted.headers.get('location')!).pathname).toBe('/auth');
    expect((await srv.db('users').where({ id: pupil.id }).first()).snils).toBeNull();

    const { res: held, url } = await browser.follow('/account');
    const back = await changePassword(browser, await held.text());
    expect(url).toContain('/interaction/');
    expect(new URL(back).pathname).toBe('/account');
    const account = await browser.follow('/account');
    expect(account.url).toBe(`${srv.url}/account`);
    expect(await account.res.text()).toContain('Личный кабинет');
    // The login that came back carries the amr completeLogin decided.
    const row = await srv.db('oidc_models').where({ model: 'Session', account_id: pupil.id }).first();
    expect(row.payload.amr).toEqual(['pwd']);
    expect(row.payload.acr).toBe('urn:journal:pwd');
  });

  it('/console: a curator after the password and the code is held at «Смена пароля», then gets the console', async () => {
    const curator = await oneTime('belova12', { kind: 'staff', roles: ['curator', 'teacher'] });
    const browser = new Browser(srv.url);
    expect(isChangePage(await logIn(browser, '/console', 'belova12'))).toBe(true);
    for (const path of ['/console', '/console/invites', '/account']) {
      const { res, url } = await browser.follow(path);
      expect([path, url.includes('/interaction/'), isChangePage(await res.text())]).toEqual([path, true, true]);
    }
    const { res } = await browser.follow('/console');
    expect(new URL(await changePassword(browser, await res.text())).pathname).toBe('/console');
    const consolePage = await browser.follow('/console');
    expect(consolePage.url).toBe(`${srv.url}/console`);
    expect(await consolePage.res.text()).toContain('Консоль куратора');
    const session = await srv.db('oidc_models').where({ model: 'Session', account_id: curator.id }).first();
    expect(session.payload.amr).toEqual(['pwd', 'otp']);
    expect(session.payload.acr).toBe('urn:journal:mfa');
    // Recorded from the request: the person once identified, the address, the request id, the console's client.
    const rows = await srv.db('audit_log').where({ target_id: curator.id }).whereIn('action', ['login.success', 'mfa.enrol', 'mfa.success']).orderBy('id');
    expect(rows.map((r) => r.action)).toEqual(['login.success', 'mfa.enrol', 'mfa.success']);
    for (const r of rows) {
      expect([r.action, r.actor_type, r.actor_id, r.client_id, Boolean(r.request_id), Boolean(r.ip)]).toEqual([r.action, 'user', curator.id, 'journal-console', true, true]);
    }
  });

  it('/console/platform: an admin with a one-time password is held at «Смена пароля», then gets the platform pages', async () => {
    await oneTime('belova-admin', { kind: 'platform', roles: ['admin'] });
    const browser = new Browser(srv.url);
    expect(isChangePage(await logIn(browser, '/console/platform', 'belova-admin'))).toBe(true);
    const { res, url } = await browser.follow('/console/platform');
    expect(url).toContain('/interaction/');
    expect(new URL(await changePassword(browser, await res.text())).pathname).toBe('/console/platform');
    const platform = await browser.follow('/console/platform');
    expect(platform.url).toBe(`${srv.url}/console/platform`);
    expect(platform.res.status).toBe(200);
  });

  it('an app: no code before «Смена пароля» (the OIDC flow asks the same table)', async () => {
    await oneTime('belova13');
    const browser = new Browser(srv.url);
    const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    const started = await startLogin(rp, { redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]!, school: '1418' });
    const page = await openLoginPage(browser, started.authUrl);
    const { res } = await submitLogin(browser, page.html, 'belova13', ONE_TIME);
    expect(isChangePage(await res.text())).toBe(true);
    // The same authorization request again (a reload, another tab): still the change, no code.
    const again = await browser.follow(started.authUrl.toString());
    expect(again.url.startsWith(srv.url)).toBe(true);
    expect(isChangePage(await again.res.text())).toBe(true);
  });
});
