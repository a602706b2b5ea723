/**
 * A password someone else set (the CLI, later a curator) must be replaced at the next login,
 * whichever app the person comes from, before the app gets a code.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin, login, oidc } from '../helpers/rp.js';
import { createAccount } from '../../src/accounts/create.js';
import { cliAudit } from '../../src/audit/bound.js';

let srv: TestServer;
let rp: oidc.Configuration;
let redirectUri: string;
let accountId: string;

beforeAll(async () => {
  srv = await startTestServer();
  const school = await addSchool(srv.db, { number: '21', slug: '21' });
  const account = await createAccount(
    srv.app.db,
    srv.app.passwords,
    { schoolId: school.id, login: 'sidorova', password: 'Temp2024abc', kind: 'staff', roles: ['teacher'], lastName: 'Сидорова', birthDate: '1980-05-17', mustChangePassword: true, email: 'sidorova@example.ru', emailVerified: true },
    cliAudit(srv.app.db),
  );
  accountId = account.id;
  rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  redirectUri = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
});
afterAll(async () => srv?.close());

describe('change_password prompt', () => {
  it('asks for a new password after login, explains what is wrong, then goes on to the app', async () => {
    const browser = new Browser(srv.url);
    const started = await startLogin(rp, { redirect_uri: redirectUri, school: '21' });
    const page = await openLoginPage(browser, started.authUrl);
    const { res } = await submitLogin(browser, page.html, 'sidorova', 'Temp2024abc');
    let html = await res.text();
    expect(html).toContain('Смена пароля');

    const attempt = async (password: string, repeat = password) => {
      const form = formOf(html, /\/password$/);
      const r = await browser.postForm(form.action, { ...form.fields, password, repeat });
      return r;
    };
    for (const [password, repeat, message] of [
      ['short1', 'short1', 'не менее 8 символов'],
      ['Novyi.parol1', 'Novyi.parol1', 'без специальных знаков'],
      ['Sidorova2024', 'Sidorova2024', 'не должен совпадать с логином'],
      ['Vesna17051980', 'Vesna17051980', 'не должен содержать дату или год вашего рождения'],
      ['Temp2024abc', 'Temp2024abc', 'должен отличаться от прежнего'],
      ['Vesna2024zima', 'Vesna2024leto', 'Пароли не совпадают'],
    ] as const) {
      const r = await attempt(password, repeat);
      expect(r.status).toBe(400);
      html = await r.text();
      expect(html).toContain(message);
      expect(html).not.toContain(password); // never echoed
    }
    const ok = await attempt('Vesna2024zima');
    expect(ok.status).toBe(303);
    const { url } = await browser.follow(new URL(ok.headers.get('location')!, srv.url).toString());
    expect(url.startsWith(`${redirectUri}?code=`)).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(rp, new URL(url), { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    expect(tokens.claims()!.sub).toBe(accountId);

    const row = await srv.db('users').where({ id: accountId }).first();
    expect(row.must_change_password).toBe(false);
    const audit = await srv.db('audit_log').where({ action: 'password.change', target_id: accountId });
    expect(audit).toHaveLength(1);
  });

  it('the new password works and the old one no longer does', async () => {
    const browser = new Browser(srv.url);
    const started = await startLogin(rp, { redirect_uri: redirectUri, school: '21' });
    const page = await openLoginPage(browser, started.authUrl);
    const { res } = await submitLogin(browser, page.html, 'sidorova', 'Temp2024abc');
    expect(res.status).toBe(400);
    const callback = await login(new Browser(srv.url), await startLogin(rp, { redirect_uri: redirectUri, school: '21' }), 'sidorova', 'Vesna2024zima');
    expect(callback.searchParams.get('code')).toBeTruthy();
  });
});
