/**
 * `/account` over real HTTP: it logs in through journal-id itself, shows the person's data, adds
 * another child's parent code, changes the email (letter to the new address, notice to the old),
 * lists the apps signed in and signs out of one or all, and changes the password (every session
 * ends).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, login, oidc } from '../helpers/rp.js';
import { startSmtp, type SmtpCatcher } from '../helpers/smtp.js';
import { addStudent, codeOf, issue } from '../helpers/school.js';
import type { School } from '../../src/schools/queries.js';

let srv: TestServer;
let smtp: SmtpCatcher;
let school: School;
const REDIRECT = 'http://127.0.0.1:9/callback';

beforeAll(async () => {
  smtp = await startSmtp();
  srv = await startTestServer({ env: { SMTP_URL: smtp.url, JOURNAL_WEB_REDIRECT_URIS: REDIRECT } });
  school = await addSchool(srv.db, { name: 'Школа № 7' });
});
afterAll(async () => {
  await srv?.close();
  await smtp?.close();
});

/** Opens /account in a fresh browser and logs in on the way. */
async function openAccount(loginName: string, password: string): Promise<{ b: Browser; html: string }> {
  const b = new Browser(srv.url);
  const first = await b.follow('/account');
  const page = await first.res.text();
  expect(page).toContain('Вход в журнал');
  const form = formOf(page, /\/login$/);
  const res = await b.postForm(form.action, { ...form.fields, login: loginName, password });
  const { res: end, url } = await b.follow(new URL(res.headers.get('location')!, srv.url).toString());
  expect(new URL(url).pathname).toBe('/account');
  return { b, html: await end.text() };
}

async function post(b: Browser, html: string, action: RegExp, fields: Record<string, string>) {
  const form = formOf(html, action);
  const res = await b.postForm(form.action, { ...form.fields, ...fields });
  if (res.status === 303) {
    const r = await b.request(res.headers.get('location')!);
    return { status: r.status, html: await r.text() };
  }
  return { status: res.status, html: await res.text() };
}

describe('/account', () => {
  it('logs in through journal-id and shows the person; a parent adds another child by code', async () => {
    const kid1 = await addStudent(srv.app, school, { lastName: 'Орлова', firstName: 'Таня', className: '4Б' });
    const kid2 = await addStudent(srv.app, school, { lastName: 'Орлов', firstName: 'Миша', className: '1А' });
    const codes = await issue(srv.app, school, [kid1, kid2], { parents: 1, students: 0 });
    const parent = await addAccount(srv.app, school, { login: 'orlova', kind: 'parent' });
    await srv.db('guardianships').insert({ user_id: parent.id, person_id: kid1.id });

    const { b, html } = await openAccount('orlova', parent.password);
    expect(html).toContain('Личный кабинет');
    expect(html).toContain('orlova');
    expect(html).toContain('Школа № 7');
    expect(html).toContain('(подтверждён)');
    expect(html).toContain('Орлова Таня');

    const wrong = await post(b, html, /\/account\/child$/, { code: codeOf(codes, kid1, 'parent') });
    expect(wrong.status).toBe(400);
    expect(wrong.html).toContain('уже указан');
    const added = await post(b, html, /\/account\/child$/, { code: codeOf(codes, kid2, 'parent').toUpperCase() });
    expect(added.status).toBe(200);
    expect(added.html).toContain('Ребёнок добавлен.');
    expect(added.html).toContain('Орлов Миша');
  });

  it('a child\'s other parents learn of a new link by letter — a restricted one does not', async () => {
    const kid = await addStudent(srv.app, school, { lastName: 'Белова', firstName: 'Аня', className: '3В' });
    const codes = await issue(srv.app, school, [kid], { parents: 1, students: 0 });
    const told = await addAccount(srv.app, school, { login: 'belova', kind: 'parent', email: 'belova@mail.ru' });
    const restricted = await addAccount(srv.app, school, { login: 'belov', kind: 'parent', email: 'belov@mail.ru' });
    await srv.db('guardianships').insert([{ user_id: told.id, person_id: kid.id }, { user_id: restricted.id, person_id: kid.id, restricted_at: new Date() }]);
    const newcomer = await addAccount(srv.app, school, { login: 'babushka', kind: 'parent' });
    const { b, html } = await openAccount('babushka', newcomer.password);
    expect((await post(b, html, /\/account\/child$/, { code: codeOf(codes, kid, 'parent') })).status).toBe(200);
    const letters = await srv.db('mail_outbox').where({ template: 'guardian-linked' }).whereIn('to_address', ['belova@mail.ru', 'belov@mail.ru']).pluck('to_address');
    expect(letters).toEqual(['belova@mail.ru']);
  });

  it('changing the email sends a confirmation to the new address and a notice to the old', async () => {
    const parent = await addAccount(srv.app, school, { login: 'mover', kind: 'parent', email: 'old@mail.ru' });
    const { b, html } = await openAccount('mover', parent.password);
    const bad = await post(b, html, /\/account\/email$/, { email: 'new@mail.ru', password: 'wrong' });
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('Неверный пароль');
    const ok = await post(b, html, /\/account\/email$/, { email: 'new@mail.ru', password: parent.password });
    expect(ok.html).toContain('Письмо для подтверждения отправлено');
    expect(ok.html).toContain('new@mail.ru');
    expect(ok.html).toContain('(не подтверждён');
    await srv.app.mail.deliverDue();
    const confirm = await smtp.waitFor((m) => JSON.stringify(m.to).includes('new@mail.ru'));
    expect(confirm.subject).toBe('Подтвердите адрес электронной почты');
    const notice = await smtp.waitFor((m) => JSON.stringify(m.to).includes('old@mail.ru'));
    expect(notice.subject).toBe('Адрес электронной почты изменён');
    expect(notice.text).toContain('new@mail.ru');
  });

  it('lists the apps signed in; signing out of one ends its tokens; signing out everywhere ends all', async () => {
    const teacher = await addAccount(srv.app, school, { login: 'apps.user', kind: 'staff', roles: ['teacher'] });
    const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    const started = await startLogin(rp, { redirect_uri: REDIRECT, school: school.slug, scope: 'openid offline_access', prompt: 'consent' });
    const cb = await login(new Browser(srv.url), started, 'apps.user', teacher.password);
    const tokens = await oidc.authorizationCodeGrant(rp, cb, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });

    const { b, html } = await openAccount('apps.user', teacher.password);
    expect(html).toContain('Электронный журнал');
    expect(html).toMatch(/Электронный журнал<\/strong> — [^<]+/); // the device of the sign-in
    expect(html).not.toContain('Личный кабинет</strong>'); // the account page itself is not listed
    const out = await post(b, html, /\/account\/signout$/, {});
    expect(out.html).toContain('Приложение больше не имеет доступа.');
    await expect(oidc.refreshTokenGrant(rp, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await srv.db('backchannel_logouts').where({ account_id: teacher.id, client_id: 'journal-web' })).toHaveLength(1);

    const all = await post(b, out.html, /\/account\/signout$/, { all: '1' });
    expect(all.html).toContain('Все входы завершены');
    // This browser's session ended too: /account asks to log in again.
    expect(await (await b.follow('/account')).res.text()).toContain('Вход в журнал');
  });

  it('changing the password needs the current one, follows the rule and ends every other session (this browser stays)', async () => {
    const parent = await addAccount(srv.app, school, { login: 'newpass', kind: 'parent' });
    const elsewhere = await openAccount('newpass', parent.password);
    const { b, html } = await openAccount('newpass', parent.password);
    expect((await post(b, html, /\/account\/password$/, { current: 'nope', password: 'Zima2027snow', repeat: 'Zima2027snow' })).html).toContain('Неверный пароль');
    expect((await post(b, html, /\/account\/password$/, { current: parent.password, password: 'qwerty123', repeat: 'qwerty123' })).html).toContain('слишком распространён');
    const done = await post(b, html, /\/account\/password$/, { current: parent.password, password: 'Zima2027snow', repeat: 'Zima2027snow' });
    expect(done.html).toContain('все остальные входы');
    expect(await (await b.follow('/account')).res.text()).not.toContain('Вход в журнал');
    expect(await (await elsewhere.b.follow('/account')).res.text()).toContain('Вход в журнал');
    await openAccount('newpass', 'Zima2027snow');
  });
  it('«Скачать мои данные»: the person\'s data as JSON, without hashes or secrets, and the export is audited', async () => {
    const person = await addAccount(srv.app, school, { login: 'datahaver', kind: 'parent', email: 'data@example.ru' });
    const { b, html } = await openAccount('datahaver', person.password);
    expect(html).toContain('Скачать мои данные');
    const res = await b.request('/account/data.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(res.headers.get('content-disposition')).toContain('attachment');
    const text = await res.text();
    const data = JSON.parse(text) as { account: { login: string; email: string }; audit: { action: string }[] };
    expect(data.account).toMatchObject({ login: 'datahaver', email: 'data@example.ru' });
    expect(data.audit.map((a) => a.action)).toContain('login.success');
    expect(text).not.toMatch(/argon2|password_hash|secret/);
    expect(await srv.db('audit_log').where({ action: 'user.data.export', target_id: person.id }).first()).toBeDefined();
  });
});
