/**
 * The pages a person sees: which school's form, «Запомнить меня», languages, clear pages for
 * what is still to come, errors without internals, health endpoints and security headers.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import argon2 from 'argon2';
import http from 'node:http';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin, oidc } from '../helpers/rp.js';
import type { School } from '../../src/schools/queries.js';

let srv: TestServer;
let rp: oidc.Configuration;
let redirectUri: string;
let north: School;
let person: Awaited<ReturnType<typeof addAccount>>;

beforeAll(async () => {
  srv = await startTestServer({ env: { SCHOOL_HOST_DOMAIN: 'eljur.test' } });
  north = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399', region: 'Москва' });
  await addSchool(srv.db, { number: '7', slug: 'kazan-7', name: 'Гимназия № 7', region: 'Казань' });
  await addSchool(srv.db, { number: '7', slug: 'tver-7', name: 'Лицей № 7', region: 'Тверь' });
  person = await addAccount(srv.app, north, { login: 'olya' });
  rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  redirectUri = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
});
afterAll(async () => srv?.close());

describe('which school', () => {
  it('without a hint the page asks for the school; an ambiguous number lists the choices', async () => {
    const browser = new Browser(srv.url);
    const started = await startLogin(rp, { redirect_uri: redirectUri });
    const page = await openLoginPage(browser, started.authUrl);
    expect(page.html).toContain('Выберите школу');
    const form = formOf(page.html, /\/school$/);
    const many = await browser.postForm(form.action, { ...form.fields, query: '7' });
    const manyHtml = await many.text();
    expect(manyHtml).toContain('Найдено несколько школ');
    expect(manyHtml).toContain('Гимназия № 7 (Казань)');
    const none = await browser.postForm(form.action, { ...form.fields, query: 'нет такой' });
    expect(none.status).toBe(404);
    expect(await none.text()).toContain('Школа не найдена');
    const one = await browser.postForm(form.action, { ...form.fields, query: '1399' });
    expect(one.status).toBe(302);
    const { res } = await browser.follow(new URL(one.headers.get('location')!, srv.url).toString());
    const login = await res.text();
    expect(login).toContain('Вход в журнал');
    expect(login).toContain('Школа № 1399');
    // The choice is remembered for the next login in this browser.
    const again = await openLoginPage(browser, (await startLogin(rp, { redirect_uri: redirectUri })).authUrl);
    expect(again.html).toContain('Школа № 1399');
  });

  it('a school’s own address remembers it; a school host redirects to the issuer with school=', async () => {
    const browser = new Browser(srv.url);
    const res = await browser.request('/s/kazan-7');
    expect(res.status).toBe(302);
    expect(browser.cookie('jid_school')).toBe('kazan-7');
    const unknown = await browser.request('/s/nope');
    expect(unknown.status).toBe(404);
    // fetch does not let a test set Host; http.request does.
    const host = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http.get(`${srv.url}/hello?x=1`, { headers: { host: 'tver-7.eljur.test' } }, resolve).on('error', reject),
    );
    host.resume();
    expect(host.statusCode).toBe(302);
    expect(host.headers.location).toBe(`${srv.url}/hello?x=1&school=tver-7`);
  });
});

describe('login page', () => {
  it('«Запомнить меня» is unchecked by default: a browser-session cookie; checked: a persistent one', async () => {
    for (const remember of [false, true]) {
      const browser = new Browser(srv.url);
      const page = await openLoginPage(browser, (await startLogin(rp, { redirect_uri: redirectUri, school: '1399' })).authUrl);
      expect(page.html).toMatch(/<input type="checkbox" name="remember" value="1"\/?>/);
      const form = formOf(page.html, /\/login$/);
      const res = await browser.postForm(form.action, { ...form.fields, login: 'olya', password: person.password, ...(remember ? { remember: '1' } : {}) });
      let r = await browser.request(new URL(res.headers.get('location')!, srv.url).toString());
      const setCookies: string[] = [];
      for (let i = 0; i < 10 && r.status >= 300 && r.status < 400; i++) {
        setCookies.push(...r.headers.getSetCookie());
        const next = new URL(r.headers.get('location')!, srv.url);
        if (next.origin !== new URL(srv.url).origin) break;
        r = await browser.request(next.toString());
      }
      const session = setCookies.find((c) => c.startsWith('jid_session='))!;
      expect(session).toBeTruthy();
      expect(/expires=/i.test(session)).toBe(remember);
      expect(session).toMatch(/httponly/i);
      expect(session).toMatch(/samesite=lax/i);
    }
  });

  it('is available in English, and the choice is remembered', async () => {
    const browser = new Browser(srv.url);
    const started = await startLogin(rp, { redirect_uri: redirectUri, school: '1399' });
    const { url } = await browser.follow(started.authUrl.toString());
    const en = await browser.request(`${url}?lang=en`);
    const html = await en.text();
    expect(html).toContain('Sign in to the journal');
    expect(html).toContain('lang="en"');
    expect(await (await browser.request(url)).text()).toContain('Sign in to the journal');
    const ru = await (await browser.request(`${url}?lang=ru`)).text();
    expect(ru).toContain('Вход в журнал');
  });

  it('ui_locales=en from the app chooses English', async () => {
    const browser = new Browser(srv.url);
    const page = await openLoginPage(browser, (await startLogin(rp, { redirect_uri: redirectUri, school: '1399', ui_locales: 'en' })).authUrl);
    expect(page.html).toContain('Sign in to the journal');
  });

  it('links to recovery and invite codes lead to clear pages; no Gosuslugi button while ESIA is not configured', async () => {
    const browser = new Browser(srv.url);
    const page = await openLoginPage(browser, (await startLogin(rp, { redirect_uri: redirectUri, school: '1399' })).authUrl);
    expect(page.html).not.toContain('Войти через Госуслуги');
    for (const [label, text] of [['Забыли пароль?', 'куратору'], ['Пригласительный код', 'Введите приглашительный код']] as const) {
      const href = new RegExp(`href="([^"]+)"[^>]*>${label.replace('?', '\\?')}<`).exec(page.html)?.[1];
      expect(href).toBeTruthy();
      const res = await browser.request(href!.replace(/&amp;/g, '&'));
      expect(res.status).toBe(200);
      expect(await res.text()).toContain(text);
    }
  });

  it('a password hashed with old parameters is upgraded at login', async () => {
    const weak = await argon2.hash(person.password, { type: argon2.argon2id, memoryCost: 4096, timeCost: 1, parallelism: 1 });
    await srv.db('users').where({ id: person.id }).update({ password_hash: weak });
    const browser = new Browser(srv.url);
    const page = await openLoginPage(browser, (await startLogin(rp, { redirect_uri: redirectUri, school: '1399' })).authUrl);
    const { url } = await submitLogin(browser, page.html, 'olya', person.password);
    expect(url.startsWith(redirectUri)).toBe(true);
    const row = await srv.db('users').where({ id: person.id }).first();
    expect(row.password_hash).not.toBe(weak);
    expect(row.password_hash).toContain('m=8192,p=1,t=1');
  });
});

describe('plumbing', () => {
  it('health and readiness', async () => {
    expect(await (await fetch(`${srv.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${srv.url}/readyz`)).json()).toEqual({ status: 'ok', database: 'ok' });
  });

  it('unknown pages get the error page (HTML) or JSON, never a stack trace', async () => {
    const page = await fetch(`${srv.url}/nope`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(404);
    expect(await page.text()).toContain('Страница не найдена');
    const api = await fetch(`${srv.url}/nope`, { headers: { accept: 'application/json' } });
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ error: 'not_found' });
  });

  it('an oversized form body is refused with 413', async () => {
    const browser = new Browser(srv.url);
    const page = await openLoginPage(browser, (await startLogin(rp, { redirect_uri: redirectUri, school: '1399' })).authUrl);
    const form = formOf(page.html, /\/login$/);
    const res = await browser.postForm(form.action, { ...form.fields, login: 'x'.repeat(100_000), password: 'y' });
    expect(res.status).toBe(413);
  });

  it('pages carry security headers and a request id', async () => {
    const res = await fetch(`${srv.url}/`);
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
