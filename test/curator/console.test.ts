/**
 * The curator console over real HTTP: it logs in through journal-id as its own OIDC client (code
 * + PKCE, with the second factor), finds users of its school, sees a login (audited), resets a
 * password (shown once, change forced, sessions and refresh tokens ended), disables, unlocks,
 * edits the data Gosuslugi matching uses — and gets «not found» for every user of another school
 * on every route (table-driven).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { addStudent } from '../helpers/school.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin, login, oidc } from '../helpers/rp.js';
import { consoleLogin as consoleLoginAt } from '../helpers/console.js';
import type { School } from '../../src/schools/queries.js';

let srv: TestServer;
let rp: oidc.Configuration;
let redirectUri: string;
let a: School;
let b: School;
const acc: Record<string, Awaited<ReturnType<typeof addAccount>>> = {};
let console_: Browser;

beforeAll(async () => {
  srv = await startTestServer();
  a = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
  b = await addSchool(srv.db, { number: '57', slug: '57', name: 'Школа № 57' });
  const vanya = await addStudent(srv.app, a, { lastName: 'Николаев', firstName: 'Ваня', className: '6А' });
  const other = await addStudent(srv.app, b, { lastName: 'Николаев', firstName: 'Петя', className: '6А' });
  acc.curatorA = await addAccount(srv.app, a, { login: 'kurator', kind: 'staff', roles: ['curator', 'teacher'] });
  acc.curatorB = await addAccount(srv.app, b, { login: 'kurator', kind: 'staff', roles: ['curator'] });
  acc.teacher = await addAccount(srv.app, a, { login: 'uchitel', kind: 'staff', roles: ['teacher'] });
  acc.studentA = await addAccount(srv.app, a, { login: 'vanya', kind: 'student', personId: vanya.id });
  acc.studentB = await addAccount(srv.app, b, { login: 'petya', kind: 'student', personId: other.id });
  rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  redirectUri = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
  console_ = await consoleLogin('1399', acc.curatorA!);
});
afterAll(async () => srv?.close());

const consoleLogin = (school: string, who: { login: string; password: string }) => consoleLoginAt(srv.url, school, who);

async function csrfOf(browser: Browser): Promise<string> {
  return formOf(await (await browser.follow('/console')).res.text(), /\/console\/logout$/).fields._csrf!;
}

describe('logging in to the console', () => {
  it('a password-only login (no second factor) is not enough', async () => {
    const browser = new Browser(srv.url);
    const start = await browser.follow('/console');
    const choose = formOf(await start.res.text(), /\/school$/);
    const chosen = await browser.postForm(choose.action, { ...choose.fields, query: '1399' });
    const page = await browser.follow(new URL(chosen.headers.get('location')!, srv.url).toString());
    const { res } = await submitLogin(browser, await page.res.text(), 'uchitel', acc.teacher!.password);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('двухэтапная проверка');
  });

  it('without a console session, pages start the login and forms do nothing', async () => {
    const browser = new Browser(srv.url);
    const r = await browser.request(`/console/users/${acc.studentA!.id}`);
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toContain('/auth?client_id=journal-console');
  });
});

describe('the curator of school A', () => {
  it('finds users of the school by name, class and role — never another school\'s', async () => {
    for (const q of ['?q=николаев', '?class=6А', '?kind=student', '?q=VANYA']) {
      const html = await (await console_.follow(`/console${q}`)).res.text();
      expect(html).toContain('vanya');
      expect(html).not.toContain('petya');
    }
  });

  it('sees a login; the view is in the audit log with actor, school and address', async () => {
    const html = await (await console_.follow(`/console/users/${acc.studentA!.id}`)).res.text();
    expect(html).toContain('<dd id="login">vanya</dd>');
    const row = await srv.db('audit_log').where({ action: 'user.view', target_id: acc.studentA!.id }).first();
    expect(row).toMatchObject({ actor_id: acc.curatorA!.id, school_id: a.id });
    expect(row.ip).toBeTruthy();
  });

  it('resets a password: shown once, change forced, old sessions and refresh tokens end', async () => {
    // The student is logged in to an app with a refresh token.
    const student = new Browser(srv.url);
    const started = await startLogin(rp, { redirect_uri: redirectUri, school: '1399', scope: 'openid offline_access', prompt: 'consent' });
    const cb = await login(student, started, 'vanya', acc.studentA!.password);
    const tokens = await oidc.authorizationCodeGrant(rp, cb, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    expect(tokens.refresh_token).toBeTruthy();

    const csrf = await csrfOf(console_);
    const res = await console_.postForm(`/console/users/${acc.studentA!.id}/password`, { _csrf: csrf });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('no-store');
    const newPassword = /<code class="key" id="new-password">([^<]+)<\/code>/.exec(await res.text())![1]!;
    expect((await srv.db('users').where({ id: acc.studentA!.id }).first()).must_change_password).toBe(true);
    expect(await srv.db('audit_log').where({ action: 'user.password.reset', target_id: acc.studentA!.id }).first()).toBeDefined();
    await expect(oidc.refreshTokenGrant(rp, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    // The old password no longer works; the new one leads to «Смена пароля».
    const again = new Browser(srv.url);
    const page = await openLoginPage(again, (await startLogin(rp, { redirect_uri: redirectUri, school: '1399' })).authUrl);
    const old = await submitLogin(again, page.html, 'vanya', acc.studentA!.password);
    expect(old.res.status).toBe(400);
    const page2 = await openLoginPage(again, (await startLogin(rp, { redirect_uri: redirectUri, school: '1399' })).authUrl);
    const fresh = await submitLogin(again, page2.html, 'vanya', newPassword);
    expect(await fresh.res.text()).toMatch(/Смена пароля|password/i);
    acc.studentA!.password = newPassword;
  });

  it('disables and enables an account; unlocks a login; edits SNILS, email and phone', async () => {
    const csrf = await csrfOf(console_);
    const id = acc.studentA!.id;
    expect((await console_.postForm(`/console/users/${id}/disable`, { _csrf: csrf })).status).toBe(303);
    expect((await srv.db('users').where({ id }).first()).disabled_at).not.toBeNull();
    expect((await console_.postForm(`/console/users/${id}/enable`, { _csrf: csrf })).status).toBe(303);
    expect((await srv.db('users').where({ id }).first()).disabled_at).toBeNull();
    expect((await console_.postForm(`/console/users/${id}/unlock`, { _csrf: csrf })).status).toBe(303);

    const bad = await console_.postForm(`/console/users/${id}/contacts`, { _csrf: csrf, snils: '112-233-445 96', email: '', phone: '' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('Неверный СНИЛС: не сходится контрольное число.');
    const ok = await console_.postForm(`/console/users/${id}/contacts`, { _csrf: csrf, snils: '112-233-445 95', email: 'vanya@example.ru', phone: '8 (912) 345-67-89' });
    expect(ok.status).toBe(303);
    const row = await srv.db('users').where({ id }).first();
    expect(row).toMatchObject({ snils: '11223344595', snils_source: 'school', phone: '+79123456789', email: 'vanya@example.ru', email_verified_at: null });
    expect((await srv.db('mail_outbox').where({ to_address: 'vanya@example.ru' }).first()).template).toBe('verify-email');
    const actions = (await srv.db('audit_log').where({ target_id: id, actor_id: acc.curatorA!.id }).select('action')).map((r) => r.action);
    expect(actions).toEqual(expect.arrayContaining(['user.disable', 'user.enable', 'login.unlock', 'user.contacts.edit']));
  });

  const routes: Array<[string, string]> = [
    ['GET', ''], ['POST', '/password'], ['POST', '/disable'], ['POST', '/enable'], ['POST', '/unlock'], ['POST', '/contacts'], ['POST', '/esia-unlink'], ['POST', '/resend'], ['POST', '/password-link'], ['GET', '/transfer'], ['POST', '/transfer'],
    ...['remove', 'restrict', 'unrestrict'].map((x): [string, string] => ['POST', `/guardianships/5f0c1b1e-7d1a-4c53-9a5e-2f6c1e0b7a11/${x}`]),
  ];
  it.each(routes)('%s /console/users/<school B user>%s → 404, nothing changed', async (method, suffix) => {
    const before = await srv.db('users').where({ id: acc.studentB!.id }).first();
    const url = `/console/users/${acc.studentB!.id}${suffix}`;
    const res = method === 'GET' ? await console_.request(url) : await console_.postForm(url, { _csrf: await csrfOf(console_), snils: '112-233-445 95', email: 'x@example.ru', phone: '' });
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('Пользователь не найден');
    expect(await srv.db('users').where({ id: acc.studentB!.id }).first()).toEqual(before);
    expect(await srv.db('audit_log').where({ target_id: acc.studentB!.id, actor_id: acc.curatorA!.id }).first()).toBeUndefined();
  });

  it('a platform account or a malformed id is not found either', async () => {
    for (const id of ['not-a-uuid', '00000000-0000-0000-0000-000000000000', "1' or '1'='1"]) {
      expect((await console_.request(`/console/users/${encodeURIComponent(id)}`)).status).toBe(404);
    }
  });

  it('prints a class\'s invitations: its own pupils only, codes in the page only, audited', async () => {
    const list = await (await console_.follow('/console/invites')).res.text();
    expect(list).toContain('Напечатать приглашения 6А');
    const form = formOf(list, /\/console\/invites$/);
    const res = await console_.postForm(form.action, { ...form.fields, parents: '1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('no-store');
    const sheet = await res.text();
    expect(sheet).toContain('Николаев Ваня');
    expect(sheet).not.toContain('Петя'); // school B's 6А
    expect(sheet).toMatch(/st[a-z2-9]{10}/);
    expect(sheet.match(/pt[a-z2-9]{10}/g)).toHaveLength(1);
    const issued = await srv.db('invites').where({ school_id: a.id, issued_by: acc.curatorA!.id });
    expect(issued).toHaveLength(2);
    expect(await srv.db('audit_log').where({ action: 'invite.issue', actor_id: acc.curatorA!.id }).first()).toBeDefined();
    const none = await console_.postForm(form.action, { ...form.fields, class: '11Я' });
    expect(none.status).toBe(404);
  });

  it('reads its school\'s audit log only', async () => {
    const otherCurator = await consoleLogin('57', acc.curatorB!);
    await otherCurator.follow(`/console/users/${acc.studentB!.id}`); // a school B audit row
    const html = await (await console_.follow('/console/audit')).res.text();
    expect(html).toContain('user.view');
    expect(html).not.toContain(acc.studentB!.id.slice(0, 8));
    expect(html).not.toContain(acc.curatorB!.id.slice(0, 8));
  });
});
