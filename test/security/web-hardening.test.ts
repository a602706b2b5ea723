/**
 * Issue 7, bullet 2 — web hardening, over real HTTP against two real servers:
 * - `tls`: behind a TLS-terminating proxy (TRUST_PROXY=true; requests carry X-Forwarded-Proto);
 * - `plain`: an https issuer but no trusted proxy (forwarded headers must change nothing).
 * Security headers on every kind of response (our pages and errors, oidc-provider's pages and
 * JSON, static files, the admin API, health); cookies Secure (behind TLS) / HttpOnly / SameSite;
 * CSRF on every POST route of ours, the list taken from the router itself; body size limits; the
 * client address of throttling and audit with and without TRUST_PROXY.
 */
import { cliAudit } from '../../src/audit/bound.js';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { consoleLogin } from '../helpers/console.js';
import { addStudent } from '../helpers/school.js';
import { discover, openLoginPage, submitLogin, continueToRp, oidc } from '../helpers/rp.js';
import { recordCounts } from '../helpers/security-counts.js';
import { buildApp } from '../../src/server/app.js';
import { registerClient } from '../../src/clients/manage.js';
import { rawRows } from '../../src/db/index.js';
import type { School } from '../../src/schools/queries.js';

const FILE = 'web-hardening';
const counts: Record<string, number> = {};
const count = (key: string, n = 1) => (counts[`${FILE}.${key}`] = (counts[`${FILE}.${key}`] ?? 0) + n);

let tls: TestServer;
let plain: TestServer;
let school: School;
let plainSchool: School;
type Acc = Awaited<ReturnType<typeof addAccount>>;
let pupil: Acc;
let noEmail: Acc;
/** A curator per console login (the first login enrols the authenticator the helper reads). */
const curators: Acc[] = [];
let adminAcc: Acc;
let plainPupil: Acc;
const PKCE = { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };

/** What the proxy in front says about every request it passes on. */
const VIA_TLS = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.7' };

/**
 * A browser behind the TLS proxy: every request carries the proxy's headers, and absolute URLs
 * the server builds from them (https://localhost:port/…) are fetched over the test's plain HTTP.
 * Every Set-Cookie it receives is kept for the cookie checks.
 */
class BehindTls extends Browser {
  readonly setCookies: string[] = [];
  constructor(base: string, private readonly forwarded: Record<string, string> = VIA_TLS) {
    super(base);
  }
  private local(url: string): string {
    return url.replace(/^https:\/\/localhost:/, 'http://localhost:');
  }
  override async request(input: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    for (const [k, v] of Object.entries(this.forwarded)) headers.set(k, v);
    const res = await super.request(this.local(new URL(input, this.base).toString()), { ...init, headers });
    this.setCookies.push(...res.headers.getSetCookie());
    return res;
  }
  override async follow(input: string, init: RequestInit = {}): Promise<{ res: Response; url: string }> {
    let url = this.local(new URL(input, this.base).toString());
    let res = await this.request(url, init);
    for (let i = 0; i < 20 && res.status >= 300 && res.status < 400; i++) {
      const next = this.local(new URL(res.headers.get('location')!, url).toString());
      if (!next.startsWith(this.base)) return { res, url: next };
      url = next;
      res = await this.request(url);
    }
    return { res, url };
  }
}

function authUrl(base: string, over: Record<string, string> = {}): URL {
  const url = new URL('/auth', base);
  const params = { client_id: 'journal-web', response_type: 'code', scope: 'openid', redirect_uri: 'http://localhost:8080/callback', state: 'st', nonce: 'nn', ...PKCE, ...over };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url;
}

/** A valid CSRF token of this browser, from a page of ours with a form. */
async function csrfOf(browser: Browser): Promise<string> {
  return formOf(await (await browser.follow('/recover')).res.text(), /\/recover(\?|$)/).fields._csrf!;
}

/** Every table's content, hashed: "changes nothing" means this is equal before and after. */
async function fingerprint(srv: TestServer): Promise<Record<string, string>> {
  const tables = await rawRows<{ name: string }>(srv.db, 'select tablename as name from pg_tables where schemaname = current_schema() order by 1');
  const out: Record<string, string> = {};
  for (const { name } of tables) {
    // A console request, even a refused one, records the session's use (its idle clock): not a change.
    const rows = name === 'console_sessions' ? `(select id_hash, user_id, created_at, expires_at from "${name}")` : `"${name}"`;
    const [row] = await rawRows<{ h: string }>(srv.db, `select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as h from ${rows} t`);
    out[name] = row!.h;
  }
  return out;
}

beforeAll(async () => {
  [tls, plain] = await Promise.all([
    startTestServer({ env: { TRUST_PROXY: 'true', RUN_WORKERS: 'false' } }),
    startTestServer({ env: { ISSUER: 'https://id.example.ru', RUN_WORKERS: 'false' } }),
  ]);
  school = await addSchool(tls.db, { number: '1399', slug: '1399' });
  pupil = await addAccount(tls.app, school, { login: 'pupil', kind: 'student' });
  noEmail = await addAccount(tls.app, school, { login: 'uchitel', kind: 'staff', roles: ['teacher'], email: null });
  for (let i = 0; i < 3; i++) curators.push(await addAccount(tls.app, school, { login: `kurator${i}`, kind: 'staff', roles: ['curator'] }));
  adminAcc = await addAccount(tls.app, null, { login: 'admin', roles: ['admin'] });
  plainSchool = await addSchool(plain.db, { number: '57', slug: '57' });
  plainPupil = await addAccount(plain.app, plainSchool, { login: 'pupil', kind: 'student' });
});
afterAll(async () => {
  await tls?.close();
  await plain?.close();
  recordCounts(FILE, counts);
});

// ---------------------------------------------------------------------------------------------
// Security headers
// ---------------------------------------------------------------------------------------------

/** What is wrong with the security headers of `res` (an empty list when nothing is). */
function headerProblems(res: Response, { hsts }: { hsts: boolean }): string[] {
  const problems: string[] = [];
  const csp = res.headers.get('content-security-policy') ?? '';
  const directives = new Map(
    csp.split(';').map((d) => d.trim()).filter(Boolean).map((d) => {
      const [name, ...values] = d.split(/\s+/);
      return [name!.toLowerCase(), values] as const;
    }),
  );
  const has = (name: string, value: string) => directives.get(name)?.includes(value);
  if (!csp) problems.push('no CSP');
  if (!has('default-src', "'self'")) problems.push("CSP default-src is not 'self'");
  const scripts = directives.get('script-src') ?? directives.get('default-src') ?? [];
  if (scripts.some((v) => ["'unsafe-inline'", "'unsafe-eval'", '*', 'data:', 'http:', 'https:'].includes(v))) problems.push(`CSP allows inline or foreign scripts: ${scripts.join(' ')}`);
  if (!has('frame-ancestors', "'none'")) problems.push("CSP frame-ancestors is not 'none'");
  if (!has('object-src', "'none'")) problems.push("CSP object-src is not 'none'");
  if (!has('base-uri', "'none'")) problems.push("CSP base-uri is not 'none'");
  // Precision of issue 7: form-action would break form_post responses and logout redirects.
  if (directives.has('form-action')) problems.push('CSP has form-action');
  if (res.headers.get('x-content-type-options') !== 'nosniff') problems.push('no nosniff');
  if (!/^(no-referrer|same-origin|strict-origin|strict-origin-when-cross-origin)$/.test(res.headers.get('referrer-policy') ?? '')) problems.push('no strict Referrer-Policy');
  if (res.headers.get('x-frame-options') !== 'DENY') problems.push('no X-Frame-Options DENY');
  const sts = res.headers.get('strict-transport-security');
  if (hsts && !/max-age=\d{7,}/.test(sts ?? '')) problems.push('no HSTS behind TLS');
  if (!hsts && sts) problems.push('HSTS without TLS');
  return problems;
}

/**
 * Inline script in an HTML page that its CSP would not run: event-handler attributes and
 * javascript: URLs never; a <script> block only when the CSP names its hash (oidc-provider's
 * auto-submitting form_post page, whose hash it adds to script-src itself).
 */
function inlineScript(html: string, csp: string): string | undefined {
  for (const m of html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/gi)) {
    const hash = `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`;
    if (!csp.split(';').some((d) => d.trim().startsWith('script-src') && d.split(/\s+/).includes(hash))) return m[0].slice(0, 80);
  }
  return /<[^>]+\son[a-z]+\s*=/i.exec(html)?.[0] ?? /(href|src|action)\s*=\s*["']?\s*javascript:/i.exec(html)?.[0];
}

interface Probe {
  kind: string;
  method?: string;
  path: string | ((srv: TestServer) => string);
  body?: string;
  headers?: Record<string, string>;
  status: number | RegExp;
}

/** One request of every kind of response the service gives. */
const PROBES: Probe[] = [
  { kind: 'our page', path: '/', status: 200 },
  { kind: 'our page', path: '/hello', status: 200 },
  { kind: 'our page', path: '/privacy', status: 200 },
  { kind: 'our page', path: '/register', status: 200 },
  { kind: 'our page', path: '/recover', status: 200 },
  { kind: 'our page (HEAD)', method: 'HEAD', path: '/privacy', status: 200 },
  { kind: 'our error 404', path: '/no-such-page', status: 404 },
  { kind: 'our error 404 (JSON)', path: '/no-such-page', headers: { accept: 'application/json' }, status: 404 },
  { kind: 'our error 400 (bad URL)', path: '/hello/%ff', status: 400 },
  { kind: 'our error 403 (CSRF)', method: 'POST', path: '/recover', body: 'email=a%40b.ru', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 403 },
  { kind: 'our error 413', method: 'POST', path: '/recover', body: `pad=${'x'.repeat(40_000)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 413 },
  { kind: 'our error 405', method: 'PUT', path: '/recover', status: 405 },
  { kind: 'provider redirect', path: (s) => authUrl(s.url).toString(), status: 303 },
  { kind: 'provider error page', path: (s) => authUrl(s.url, { client_id: 'nobody' }).toString(), status: 400 },
  { kind: 'provider logout page', path: '/session/end', status: 200 },
  { kind: 'provider JSON', path: '/.well-known/openid-configuration', status: 200 },
  { kind: 'provider JSON', path: '/jwks', status: 200 },
  { kind: 'provider JSON error', method: 'POST', path: '/token', body: 'grant_type=authorization_code&code=x', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: /^40[01]$/ },
  { kind: 'provider JSON error', path: '/me', status: 401 },
  { kind: 'provider CORS preflight', method: 'OPTIONS', path: '/token', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' }, status: /^20[04]$/ },
  { kind: 'static file', path: '/static/style.css', status: 200 },
  { kind: 'admin API', path: '/admin/api/v1/clients', status: 401 },
  { kind: 'admin API', method: 'POST', path: '/admin/api/v1/clients', body: '{}', headers: { 'content-type': 'application/json' }, status: 401 },
  { kind: 'health', path: '/healthz', status: 200 },
  { kind: 'health', path: '/readyz', status: 200 },
];

describe('security headers on every kind of response', () => {
  const cases: [string, () => TestServer, Record<string, string>, boolean][] = [
    ['behind the TLS proxy', () => tls, VIA_TLS, true],
    ['behind the proxy over plain HTTP', () => tls, { 'x-forwarded-proto': 'http' }, false],
    ['without a trusted proxy, forwarded headers forged', () => plain, { ...VIA_TLS, 'x-forwarded-host': 'evil.example' }, false],
  ];
  it.each(cases)('%s', async (_name, server, forwarded, hsts) => {
    const srv = server();
    const failures: string[] = [];
    for (const p of PROBES) {
      const target = typeof p.path === 'string' ? `${srv.url}${p.path}` : p.path(srv);
      const res = await fetch(target, { method: p.method ?? 'GET', body: p.body, headers: { accept: 'text/html', ...p.headers, ...forwarded }, redirect: 'manual' });
      const status = String(res.status);
      if (typeof p.status === 'number' ? res.status !== p.status : !p.status.test(status)) failures.push(`${p.kind} ${p.path}: status ${status}`);
      for (const problem of headerProblems(res, { hsts })) failures.push(`${p.kind} ${typeof p.path === 'string' ? p.path : '(url)'}: ${problem}`);
      const body = p.method === 'HEAD' ? '' : await res.text();
      if ((res.headers.get('content-type') ?? '').startsWith('text/html')) {
        const script = inlineScript(body, res.headers.get('content-security-policy') ?? '');
        if (script) failures.push(`${p.kind}: inline script ${script}`);
        if (/\bat [\w.<>]+ \(|node_modules/.test(body)) failures.push(`${p.kind}: stack trace`);
      }
      count('responses-checked');
    }
    expect(failures).toEqual([]);
  });

  it('form_post: the provider\'s one inline script is allowed by its hash only; no form-action', async () => {
    const browser = new BehindTls(tls.url);
    const url = authUrl(tls.url, { response_mode: 'form_post', school: '1399' });
    const page = await openLoginPage(browser, url);
    const { res } = await submitLogin(browser, page.html, pupil.login, pupil.password);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('action="http://localhost:8080/callback"');
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
    const hash = `'sha256-${createHash('sha256').update(script).digest('base64')}'`;
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toMatch(new RegExp(`script-src 'self' ${hash.replace(/[+/]/g, '\\$&')}`));
    expect(headerProblems(res, { hsts: true })).toEqual([]);
    count('responses-checked');
  });
});

// ---------------------------------------------------------------------------------------------
// Cookies
// ---------------------------------------------------------------------------------------------

/** Name → attributes of each Set-Cookie line (the last one seen per name). */
function cookieAttributes(lines: string[]): Map<string, { secure: boolean; httpOnly: boolean; sameSite: string | undefined }> {
  const out = new Map<string, { secure: boolean; httpOnly: boolean; sameSite: string | undefined }>();
  for (const line of lines) {
    const [pair, ...attrs] = line.split(';').map((s) => s.trim());
    const name = pair!.slice(0, pair!.indexOf('='));
    const lower = attrs.map((a) => a.toLowerCase());
    out.set(name, {
      secure: lower.includes('secure'),
      httpOnly: lower.includes('httponly'),
      sameSite: lower.find((a) => a.startsWith('samesite='))?.slice('samesite='.length),
    });
  }
  return out;
}

describe('cookies', () => {
  // The cookies this service sets on the way through its flows (oidc-provider's and ours).
  // Over TLS the CSRF cookie carries the __Host- prefix (src/server/csrf.ts): no sibling host can plant it.
  const EXPECTED = ['jid_lang', '__Host-jid_csrf', 'jid_school', 'jid_interaction', 'jid_resume', 'jid_session', 'jid_email_later', 'jid_console_login', 'jid_console'];

  it('behind TLS every cookie is Secure, HttpOnly and SameSite=Lax (provider\'s and ours)', async () => {
    const browser = new BehindTls(tls.url);
    await browser.follow('/?lang=en');
    await browser.follow('/s/1399');
    const page = await openLoginPage(browser, authUrl(tls.url, { school: '1399' }));
    const { url } = await submitLogin(browser, page.html, pupil.login, pupil.password);
    expect(url).toMatch(/^http:\/\/localhost:8080\/callback\?code=/);
    // A teacher without an email: «Позже» on the email prompt is remembered in a cookie.
    const later = new BehindTls(tls.url);
    const page2 = await openLoginPage(later, authUrl(tls.url, { school: '1399' }));
    const step = await submitLogin(later, page2.html, noEmail.login, noEmail.password);
    expect((await continueToRp(later, step.res, step.url)).toString()).toMatch(/^http:\/\/localhost:8080\/callback\?code=/);
    // The console: its login state and its session (a real login with the second factor).
    const consoleBrowser = new BehindTls(tls.url);
    await consoleLogin(tls.url, '1399', curators[0]!, { browser: consoleBrowser });
    const seen = cookieAttributes([...browser.setCookies, ...later.setCookies, ...consoleBrowser.setCookies]);
    for (const name of EXPECTED) expect([name, seen.has(name)]).toEqual([name, true]);
    const bad = [...seen].filter(([, a]) => !a.secure || !a.httpOnly || a.sameSite !== 'lax').map(([n, a]) => `${n} ${JSON.stringify(a)}`);
    expect(bad).toEqual([]);
    // Kinds of cookie: a signature cookie and a per-account device cookie are the same kind.
    count('cookie-kinds', new Set([...seen.keys()].map((n) => n.replace(/\.sig$/, '').replace(/_[0-9a-f]{16}$/, ''))).size);
  });

  it('without TLS, cookies are HttpOnly and SameSite=Lax; an https issuer without a trusted proxy does not break the console', async () => {
    const lines: string[] = [];
    for (const p of ['/?lang=en', '/s/57', '/recover', '/console', authUrl(plain.url, { school: '57' }).toString()]) {
      const res = await fetch(new URL(p, plain.url), { headers: { accept: 'text/html', ...VIA_TLS }, redirect: 'manual' });
      expect([p, res.status < 500]).toEqual([p, true]);
      lines.push(...res.headers.getSetCookie());
    }
    const seen = cookieAttributes(lines);
    expect(seen.has('jid_console_login')).toBe(true);
    const bad = [...seen].filter(([, a]) => a.secure || !a.httpOnly || a.sameSite !== 'lax').map(([n, a]) => `${n} ${JSON.stringify(a)}`);
    expect(bad).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// CSRF: every POST route of ours, from the router
// ---------------------------------------------------------------------------------------------

type Layer = Router['stack'][number];

/** The app's router, as buildApp makes it: the source of truth for "every POST route". */
function routerOf(srv: TestServer): Router {
  const koa = buildApp(srv.app);
  const dispatch = koa.middleware.find((m) => (m as { router?: Router }).router);
  return (dispatch as unknown as { router: Router }).router;
}

describe('CSRF on every POST form of ours', () => {
  let routes: Layer[];

  it('the router\'s POST routes all run the CSRF check before their handler', () => {
    const stack = routerOf(tls).stack.filter((l) => l.methods.includes('POST'));
    // Not routes: the body parsers of our forms (they end in guardBody), and the JSON admin API
    // (a bearer token, no cookies), the one pattern route.
    const parsers = stack.filter((l) => l.stack.at(-1)!.name === 'guardBody');
    const patterns = stack.filter((l) => typeof l.path !== 'string' && !parsers.includes(l));
    expect(patterns.map((l) => String(l.path))).toEqual(['/^\\/admin\\/api(\\/|$)/']);
    routes = stack.filter((l) => typeof l.path === 'string' && !parsers.includes(l));
    expect(routes.length).toBeGreaterThan(40);
    const verify = tls.app.csrf.verify;
    const unchecked = routes.filter((l) => {
      const at = l.stack.indexOf(verify);
      // At most the multipart upload's body parser runs before the check; the handler never does.
      return at < 0 || at > 1 || at === l.stack.length - 1;
    });
    expect(unchecked.map((l) => l.path)).toEqual([]);
    count('post-routes', routes.length);
  });

  it('each refuses a missing, foreign or misplaced token with 403 and changes nothing', async () => {
    const curator = await consoleLogin(tls.url, '1399', curators[1]!);
    const admin = await consoleLogin(tls.url, '', adminAcc, { platform: true });
    const attacker = new Browser(tls.url);
    const foreignToken = await csrfOf(attacker);
    // Real targets for the path parameters: each request would act if the token were right.
    const person = await addStudent(tls.app, school);
    const target = await addAccount(tls.app, school, { kind: 'student', personId: person.id });
    const { client } = await registerClient(tls.app, { client_name: 'Чужое приложение', redirect_uris: ['https://app.example.ru/cb'] }, cliAudit(tls.app.db));
    const started = await curator.request(authUrl(tls.url, { prompt: 'login', school: '1399' }).toString());
    const uid = /\/interaction\/([^/?]+)/.exec(started.headers.get('location')!)![1]!;
    const params: Record<string, string> = { uid, id: target.id, personId: person.id, clientId: client.client_id, token: randomBytes(32).toString('base64url') };
    const fields = { login: target.login, password: 'Kolobok2025new', repeat: 'Kolobok2025new', code: '000000', email: 'x@example.ru', decision: 'allow', action: 'later', school: school.id };

    const tokens = new Map<Browser, string>([[curator, await csrfOf(curator)], [admin, await csrfOf(admin)]]);
    const before = await fingerprint(tls);
    const failures: string[] = [];
    for (const layer of routes) {
      const path = (layer.path as string).replace(/:(\w+)/g, (_m, name: string) => encodeURIComponent(params[name] ?? 'x'));
      const browser = path.startsWith('/console/platform') ? admin : curator;
      const own = tokens.get(browser)!;
      const multipart = layer.stack.indexOf(tls.app.csrf.verify) > 0;
      const send = (body: Record<string, string>, query = '') => {
        if (!multipart) return browser.postForm(`${path}${query}`, body);
        // The upload takes at most 5 fields: the school and, when sent, the token.
        const form = new FormData();
        for (const [k, v] of Object.entries(body)) if (k === 'school' || k === '_csrf') form.set(k, v);
        form.set('file', new Blob(['Фамилия;Имя\nИванов;Иван\n'], { type: 'text/csv' }), 'roster.csv');
        return browser.request(`${path}${query}`, { method: 'POST', body: form });
      };
      const variants: [string, () => Promise<Response>][] = [
        ['no token', () => send(fields)],
        ['another browser\'s token', () => send({ ...fields, _csrf: foreignToken })],
        ['own token in the URL only', () => send(fields, `?_csrf=${encodeURIComponent(own)}`)],
      ];
      for (const [name, attempt] of variants) {
        const res = await attempt();
        const html = await res.text();
        if (res.status !== 403 || !html.includes('Обновите страницу')) failures.push(`${path} (${name}): ${res.status}`);
        count('csrf-refusals');
      }
    }
    expect(failures).toEqual([]);
    expect(await fingerprint(tls)).toEqual(before);
    // The sessions were live: with its own token the same browser gets past the check.
    const out = await curator.postForm('/console/logout', { _csrf: tokens.get(curator)! });
    expect(out.status).toBe(200);
    expect(await out.text()).not.toContain('Обновите страницу');
  });
});

// ---------------------------------------------------------------------------------------------
// Body size limits
// ---------------------------------------------------------------------------------------------

/** Files in the temporary folder whose first bytes carry `marker` (left-over uploads). */
function leftOverUploads(marker: string): string[] {
  const dir = os.tmpdir();
  return fs.readdirSync(dir).filter((name) => {
    const file = path.join(dir, name);
    try {
      const st = fs.statSync(file);
      if (!st.isFile() || Date.now() - st.mtimeMs > 10 * 60_000) return false;
      const fd = fs.openSync(file, 'r');
      const head = Buffer.alloc(64);
      fs.readSync(fd, head, 0, 64, 0);
      fs.closeSync(fd);
      return head.toString('latin1').includes(marker);
    } catch {
      return false;
    }
  });
}

describe('request body size limits', () => {
  let curator: Browser;
  beforeAll(async () => {
    curator = await consoleLogin(tls.url, '1399', curators[2]!);
  });

  it('forms: over 32 kB is 413 (declared or streamed), under it is handled', async () => {
    const token = await csrfOf(curator);
    const over = await curator.postForm('/recover', { _csrf: token, email: 'a@example.ru', pad: 'x'.repeat(33 * 1024) });
    expect(over.status).toBe(413);
    expect(await over.text()).toContain('Слишком большой запрос');
    // No Content-Length: the parser counts what arrives.
    const chunks = new ReadableStream({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode(`${i ? '&' : ''}f${i}=${'y'.repeat(5000)}`));
        c.close();
      },
    });
    const streamed = await curator.request('/recover', { method: 'POST', body: chunks, headers: { 'content-type': 'application/x-www-form-urlencoded' }, duplex: 'half' } as RequestInit);
    expect(streamed.status).toBe(413);
    const under = await curator.postForm('/recover', { _csrf: token, email: 'not-an-address', pad: 'x'.repeat(30 * 1024) });
    expect(under.status).toBe(400);
    count('oversized-bodies', [over, streamed].filter((r) => r.status === 413).length);
  });

  it('JSON: the admin API refuses a body over 64 kB with 413 JSON; oidc-provider its own over 56 kB with 400 JSON', async () => {
    const { client, secret } = await registerClient(tls.app, { client_name: 'Платформа', grant_types: ['client_credentials'], scope: 'admin' }, cliAudit(tls.app.db));
    const rp = await discover(tls.url, client.client_id, secret);
    const { access_token } = await oidc.clientCredentialsGrant(rp, { scope: 'admin' });
    const post = (body: string) => fetch(`${tls.url}/admin/api/v1/clients`, { method: 'POST', headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' }, body });
    const big = await post(JSON.stringify({ client_name: 'x', pad: 'y'.repeat(65 * 1024) }));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: 'invalid_request' });
    const small = await post(JSON.stringify({ client_name: 'x', pad: 'y'.repeat(60 * 1024) }));
    expect(small.status).toBe(400);
    const token = await fetch(`${tls.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.client_id}:${secret}`).toString('base64')}` },
      body: `grant_type=client_credentials&pad=${'z'.repeat(60 * 1024)}`,
    });
    expect(token.status).toBe(400);
    expect(await token.json()).toMatchObject({ error: 'invalid_request' });
    count('oversized-bodies', Number(big.status === 413) + Number(token.status === 400));
  });

  it('multipart: an upload over the file limit is 413, and no uploaded file is left behind, refused or not', async () => {
    const marker = `leak-${randomBytes(8).toString('hex')}`;
    const upload = async (bytes: number, withToken: boolean) => {
      const form = new FormData();
      if (withToken) form.set('_csrf', await csrfOf(curator));
      form.set('file', new Blob([marker, 'x'.repeat(bytes)], { type: 'text/csv' }), 'roster.csv');
      return curator.request('/console/roster/import', { method: 'POST', body: form });
    };
    const tooBig = await upload(3 * 1024 * 1024, true);
    expect(tooBig.status).toBe(413);
    expect((await upload(1024, false)).status).toBe(403);
    expect((await upload(1024, true)).status).toBe(400); // not a roster
    // Anonymous: an upload that can never be accepted leaves nothing on disk either.
    const anon = new FormData();
    anon.set('file', new Blob([marker, 'x'.repeat(1024)], { type: 'text/csv' }), 'roster.csv');
    expect((await fetch(`${tls.url}/console/roster/import`, { method: 'POST', body: anon, redirect: 'manual' })).status).toBeLessThan(500);
    expect(leftOverUploads(marker)).toEqual([]);
    count('oversized-bodies', Number(tooBig.status === 413));
    expect((await fetch(`${tls.url}/healthz`)).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
// TRUST_PROXY
// ---------------------------------------------------------------------------------------------

describe('TRUST_PROXY and the client address of throttling and audit', () => {
  async function failLogin(srv: TestServer, slug: string, login: string, headers: Record<string, string>) {
    const browser = new BehindTls(srv.url, headers);
    const page = await openLoginPage(browser, authUrl(srv.url, { school: slug }));
    const { res } = await submitLogin(browser, page.html, login, 'WrongPass123');
    expect(res.status).toBe(400);
  }
  const throttleKeys = async (srv: TestServer) => ((await srv.db('throttle').select('key')) as { key: string }[]).map((r) => r.key);
  const auditIps = async (srv: TestServer, login: string) =>
    ((await srv.db('audit_log').where({ action: 'login.failure' }).select('ip', 'details')) as { ip: string; details: { login?: string } }[])
      .filter((r) => r.details.login === login)
      .map((r) => r.ip);

  it('on: the address the proxy adds is used; one forged by the client in front of it is not', async () => {
    await failLogin(tls, '1399', 'proxied1', { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.7' });
    expect(await auditIps(tls, 'proxied1')).toEqual(['198.51.100.7']);
    // The client sent "X-Forwarded-For: 203.0.113.66"; the proxy appended the real address.
    await failLogin(tls, '1399', 'proxied2', { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.66, 198.51.100.8' });
    expect(await auditIps(tls, 'proxied2')).toEqual(['198.51.100.8']);
    const keys = await throttleKeys(tls);
    expect(keys).toEqual(expect.arrayContaining(['login:ip:198.51.100.7', 'login:ip:198.51.100.8']));
    expect(keys.filter((k) => k.includes('203.0.113.66'))).toEqual([]);
    // Cases whose address the server recorded as the proxy's, read back from its audit log.
    count('proxy-cases', [...(await auditIps(tls, 'proxied1')), ...(await auditIps(tls, 'proxied2'))].filter((ip) => ip.startsWith('198.51.100.')).length);
  });

  it('off: X-Forwarded-For changes nothing (throttling and audit see the connection\'s address)', async () => {
    await failLogin(plain, '57', plainPupil.login, { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.9', 'x-real-ip': '198.51.100.10', forwarded: 'for=198.51.100.11' });
    const ips = await auditIps(plain, plainPupil.login);
    expect(ips).toHaveLength(1);
    expect(ips[0]).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    const keys = await throttleKeys(plain);
    expect(keys).toContain('login:ip:127.0.0.1');
    expect(keys.filter((k) => /198\.51\.100\./.test(k))).toEqual([]);
    count('proxy-cases', ips.filter((ip) => /^(::ffff:)?127\.0\.0\.1$/.test(ip)).length);
  });
});
