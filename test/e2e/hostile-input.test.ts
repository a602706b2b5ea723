/**
 * Bad input never crashes and never leaks: hostile values in every field and parameter of the
 * pages built so far get a 4xx or a normal page — never a 500, never a stack trace.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, oidc } from '../helpers/rp.js';
import { addStudent, codeOf, issue } from '../helpers/school.js';

const HOSTILE = [
  '',
  ' ',
  'a\u0000b',
  '\u0000',
  "' OR 1=1 --",
  '"; drop table users; --',
  '<script>alert(1)</script>',
  '%00%27%22',
  '𝕏😀ß\u202e\u200b',
  'x'.repeat(5000),
  '../../etc/passwd',
  '\ud800', // lone surrogate
  '{"$ne":null}',
];

let srv: TestServer;
let rp: oidc.Configuration;
let redirectUri: string;

beforeAll(async () => {
  srv = await startTestServer();
  await addSchool(srv.db, { number: '3', slug: '3' });
  await addSchool(srv.db, { number: '4', slug: '4' });
  rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  redirectUri = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
});
afterAll(async () => srv?.close());

function clean(status: number, body: string) {
  expect(status).toBeLessThan(500);
  expect(body).not.toMatch(/\bat [\w.<>]+ \(|node_modules|stack|TypeError|SyntaxError/);
  expect(body).not.toContain('<script>alert(1)</script>');
}

describe('hostile input', () => {
  it('login form fields', async () => {
    const browser = new Browser(srv.url);
    const page = await openLoginPage(browser, (await startLogin(rp, { redirect_uri: redirectUri, school: '3' })).authUrl);
    const form = formOf(page.html, /\/login$/);
    for (const value of HOSTILE) {
      const res = await browser.postForm(form.action, { ...form.fields, login: value, password: value, remember: value });
      clean(res.status, await res.text());
    }
    const users = await srv.db('users').count({ n: '*' }).first();
    expect(Number(users!.n)).toBe(0);
  });

  it('school search field', async () => {
    const browser = new Browser(srv.url);
    const page = await openLoginPage(browser, (await startLogin(rp, { redirect_uri: redirectUri })).authUrl);
    const form = formOf(page.html, /\/school$/);
    for (const value of HOSTILE) {
      const res = await browser.postForm(form.action, { ...form.fields, query: value, school: value });
      clean(res.status, await res.text());
    }
  });

  it('registration: the code field and every field of the details page', async () => {
    const school = await addSchool(srv.db, { number: '5', slug: '5' });
    const kid = await addStudent(srv.app, school);
    const issued = await issue(srv.app, school, [kid], { parents: 1 });
    const browser = new Browser(srv.url);
    const start = formOf(await (await browser.request('/register')).text(), /register$/);
    for (const value of HOSTILE) {
      const res = await browser.postForm(start.action, { ...start.fields, code: value });
      clean(res.status, await res.text());
    }
    const page = await (await browser.postForm(start.action, { ...start.fields, code: codeOf(issued, kid, 'parent') })).text();
    const details = formOf(page, /details$/);
    const usersBefore = await srv.db('users').count({ n: '*' }).first();
    for (const value of HOSTILE) {
      const fields = ['last_name', 'first_name', 'middle_name', 'login', 'email', 'phone', 'child1', 'child2', 'consent', 'password', 'password2'];
      const res = await browser.postForm(details.action, { ...details.fields, ...Object.fromEntries(fields.map((f) => [f, value])) });
      clean(res.status, await res.text());
      // A hostile code in the hidden field too.
      const res2 = await browser.postForm(details.action, { ...details.fields, code: value });
      clean(res2.status, await res2.text());
    }
    expect(await srv.db('users').count({ n: '*' }).first()).toEqual(usersBefore);
  });

  it('query parameters and paths', async () => {
    for (const value of HOSTILE) {
      const v = encodeURIComponent(value.toWellFormed());
      for (const path of [`/s/${v}`, `/?lang=${v}`, `/interaction/${v}`, `/auth?client_id=${v}&school=${v}&redirect_uri=${v}`, `/recover?school=${v}`, `/register?school=${v}`, `/interaction/${v}/register`]) {
        const res = await fetch(`${srv.url}${path}`, { headers: { accept: 'text/html', 'accept-language': value.replace(/[^\x20-\x7e]/g, '') } });
        clean(res.status, await res.text());
      }
    }
  });

  it('an address over the 16 kB header limit gets a short page of ours, not a bare status line', async () => {
    const res = await fetch(`${srv.url}/?q=${'x'.repeat(20_000)}`);
    expect(res.status).toBe(431);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('Слишком длинный или неверный адрес');
    // The server is fine afterwards.
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
  });

  it('broken percent-encoding in paths and queries', async () => {
    for (const raw of ['%FF', '%ED%A0%80', '%C0%AF', '%', '%00', 'a%00b']) {
      for (const path of [`/s/${raw}`, `/?lang=${raw}`, `/interaction/${raw}`, `/auth?client_id=${raw}`, `/jwks?x=${raw}`]) {
        const res = await fetch(`${srv.url}${path}`, { headers: { accept: 'text/html' } });
        clean(res.status, await res.text());
      }
    }
  });

  it('NUL bytes in token-endpoint parameters', async () => {
    const auth = `Basic ${Buffer.from(`journal-web:${srv.config.secrets.journalWebClientSecret}`).toString('base64')}`;
    for (const body of ['grant_type=refresh_token&refresh_token=a%00b', 'grant_type=authorization_code&code=%00&redirect_uri=x&code_verifier=y']) {
      const res = await fetch(`${srv.url}/token`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body });
      clean(res.status, await res.text());
    }
    const intro = await fetch(`${srv.url}/token/introspection`, {
      method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=%00',
    });
    clean(intro.status, await intro.text());
  });

  it('malformed bodies and methods', async () => {
    const browser = new Browser(srv.url);
    const page = await openLoginPage(browser, (await startLogin(rp, { redirect_uri: redirectUri, school: '3' })).authUrl);
    const form = formOf(page.html, /\/login$/);
    for (const [type, body] of [
      ['application/json', '{"login": ["a"], "password": {"x": 1}}'],
      ['application/x-www-form-urlencoded', 'login[]=a&login[]=b&password[x]=1&_csrf[]=z'],
      ['application/x-www-form-urlencoded', '%%%'],
      ['text/plain', 'hello'],
    ]) {
      const res = await browser.request(form.action, { method: 'POST', headers: { 'content-type': type! }, body });
      clean(res.status, await res.text());
    }
    const token = await fetch(`${srv.url}/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    clean(token.status, await token.text());
  });
});
