/**
 * The confirm_email prompt (FAQ «Обновление информации о пользователе») for every relying party:
 * shown to parents and staff without a confirmed address, never on prompt=none, «Позже» rests
 * for a day; «Сохранить» with the current password sends a letter whose link confirms once.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin, login, oidc } from '../helpers/rp.js';
import { startSmtp, type SmtpCatcher } from '../helpers/smtp.js';
import type { School } from '../../src/schools/queries.js';

let srv: TestServer;
let smtp: SmtpCatcher;
let school: School;
let rp: oidc.Configuration;
const REDIRECT = 'http://127.0.0.1:9/callback';

beforeAll(async () => {
  smtp = await startSmtp();
  srv = await startTestServer({ env: { SMTP_URL: smtp.url, JOURNAL_WEB_REDIRECT_URIS: REDIRECT } });
  school = await addSchool(srv.db);
  rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
});
afterAll(async () => {
  await srv?.close();
  await smtp?.close();
});

async function loginPage(b: Browser, loginName: string, password: string, params: Record<string, string> = {}) {
  const started = await startLogin(rp, { redirect_uri: REDIRECT, school: school.slug, ...params });
  const page = await openLoginPage(b, started.authUrl);
  const { res, url } = await submitLogin(b, page.html, loginName, password);
  return { started, url, html: url.startsWith(srv.url) ? await res.text() : '' };
}

describe('confirm_email prompt', () => {
  it('asks a parent without a confirmed address; «Позже» goes on and rests for a day; prompt=none is never stopped', async () => {
    const parent = await addAccount(srv.app, school, { login: 'later.mama', kind: 'parent', email: 'later@mail.ru', emailVerified: false });
    const b = new Browser(srv.url);
    const first = await loginPage(b, 'later.mama', parent.password);
    expect(first.html).toContain('Обновление информации о пользователе');
    expect(first.html).toContain('В целях повышения безопасности просим Вас подтвердить адрес вашей электронной почты.');
    expect(first.html).toContain('Текущий пароль');
    expect(first.html).toContain('value="later@mail.ru"');
    expect(first.html).toContain('в течение получаса');
    const form = formOf(first.html, /\/email$/);
    const later = await b.postForm(form.action, { ...form.fields, action: 'later' });
    const { url } = await b.follow(new URL(later.headers.get('location')!, srv.url).toString());
    expect(url.startsWith(`${REDIRECT}?code=`)).toBe(true);

    // Silent login (prompt=none) with the session: straight to the app.
    const silent = await startLogin(rp, { redirect_uri: REDIRECT, prompt: 'none' });
    const s = await b.follow(silent.authUrl.toString());
    expect(s.url.startsWith(`${REDIRECT}?code=`)).toBe(true);
    // A new login the same day: no prompt.
    const again = await loginPage(b, 'later.mama', parent.password, { prompt: 'login' });
    expect(again.url.startsWith(REDIRECT)).toBe(true);
    // Students are never asked (their email is optional).
    const student = await addAccount(srv.app, school, { login: 'no.mail.kid', kind: 'student' });
    expect((await loginPage(new Browser(srv.url), 'no.mail.kid', student.password)).url.startsWith(REDIRECT)).toBe(true);
  });

  it('«Сохранить» needs the current password, sends a letter, and its link confirms the address once', async () => {
    const teacher = await addAccount(srv.app, school, { login: 'uchitel', kind: 'staff', roles: ['teacher'], email: null });
    const b = new Browser(srv.url);
    const page = await loginPage(b, 'uchitel', teacher.password);
    expect(page.html).toContain('Обновление информации о пользователе');
    const form = formOf(page.html, /\/email$/);
    const wrong = await b.postForm(form.action, { ...form.fields, action: 'save', password: 'nope', email: 'uchitel@school.ru' });
    expect(wrong.status).toBe(400);
    const wrongHtml = await wrong.text();
    expect(wrongHtml).toContain('Неверный пароль');
    expect(wrongHtml).toContain('value="uchitel@school.ru"');
    const bad = await b.postForm(form.action, { ...form.fields, action: 'save', password: teacher.password, email: 'not-an-address' });
    expect(bad.status).toBe(400);

    const saved = await b.postForm(form.action, { ...form.fields, action: 'save', password: teacher.password, email: 'uchitel@school.ru' });
    expect(saved.status).toBe(303);
    const { url } = await b.follow(new URL(saved.headers.get('location')!, srv.url).toString());
    expect(url.startsWith(`${REDIRECT}?code=`)).toBe(true); // browsing before the letter arrives

    const letter = await smtp.waitFor((m) => JSON.stringify(m.to).includes('uchitel@school.ru'));
    expect(letter.subject).toBe('Подтвердите адрес электронной почты');
    const link = /(http:\/\/\S+\/verify\/[A-Za-z0-9_-]{43})/.exec(letter.text ?? '')![1]!;
    const confirmPage = await b.request(link);
    const html = await confirmPage.text();
    expect(html).toContain('uchitel@school.ru');
    // GET changes nothing (mail scanners open links).
    expect((await srv.db('users').where({ login: 'uchitel' }).first()).email_verified_at).toBeNull();
    const confirm = formOf(html, /\/verify\//);
    const done = await b.postForm(confirm.action, confirm.fields);
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Адрес подтверждён');
    const user = await srv.db('users').where({ login: 'uchitel' }).first();
    expect(user.email).toBe('uchitel@school.ru');
    expect(user.email_verified_at).not.toBeNull();
    expect((await b.request(link)).status).toBe(410);
    expect((await b.postForm(confirm.action, confirm.fields)).status).toBe(410);

    // From now on no prompt, in any browser; the RP sees the confirmed address.
    const started = await startLogin(rp, { redirect_uri: REDIRECT, school: school.slug, scope: 'openid email' });
    const cb = await login(new Browser(srv.url), started, 'uchitel', teacher.password);
    const tokens = await oidc.authorizationCodeGrant(rp, cb, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    const claims = await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub);
    expect(claims).toMatchObject({ email: 'uchitel@school.ru', email_verified: true });
  });

  it('a link for an address that was changed since confirms nothing', async () => {
    const parent = await addAccount(srv.app, school, { login: 'changer', kind: 'parent', email: 'first@mail.ru', emailVerified: false });
    const send = async (b: Browser, email: string) => {
      const page = await loginPage(b, 'changer', parent.password, { prompt: 'login' });
      const form = formOf(page.html, /\/email$/);
      expect((await b.postForm(form.action, { ...form.fields, action: 'save', password: parent.password, email })).status).toBe(303);
      const letter = await smtp.waitFor((m) => JSON.stringify(m.to).includes(email));
      return /(http:\/\/\S+\/verify\/[A-Za-z0-9_-]{43})/.exec(letter.text ?? '')![1]!;
    };
    const old = await send(new Browser(srv.url), 'first@mail.ru');
    const newer = await send(new Browser(srv.url), 'second@mail.ru');
    const b = new Browser(srv.url);
    expect((await b.request(old)).status).toBe(410); // superseded by the newer letter
    const form = formOf(await (await b.request(newer)).text(), /\/verify\//);
    expect((await b.postForm(form.action, form.fields)).status).toBe(200);
    expect(await srv.db('users').where({ login: 'changer' }).first()).toMatchObject({ email: 'second@mail.ru' });
  });
});
