/**
 * Issue 7, bullet 4 — bad input everywhere. A property-based test (fast-check, fixed seed, fixed
 * number of runs) sends random, huge, malformed and hostile values — Unicode (RTL, combining
 * marks, emoji, lone surrogates), NUL and control characters, very long text, SQL, HTML/JS, path
 * traversal, JSON-looking text, numbers, repeated and bracketed fields, missing fields — to every
 * form field, query parameter, path parameter and JSON body of every route journal-id serves.
 *
 * The routes come from the router itself (the app's @koa/router stack and the admin API's router
 * mounted in it) and from the provider's discovery document: a route without a target here fails
 * the test. Pages behind a login are reached with real sessions (account page, curator console,
 * platform console, admin API token) and forms carry the valid CSRF token, so the handlers'
 * validation runs. Properties: never a 5xx, never a stack trace or internal text, a clear 4xx
 * (JSON with `error` from APIs, a page in Russian elsewhere) or a normal 2xx/3xx, never raw
 * hostile markup in a page. Afterwards: no NUL, broken Unicode or hostile text stored outside the
 * fields that keep what a person typed, and every main page still renders.
 *
 * test/e2e/hostile-input.test.ts keeps its fixed list of attacks on the login and registration
 * pages; this file is the generated sweep over all routes.
 */
import { cliAudit } from '../../src/audit/bound.js';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import fc from 'fast-check';
import type Router from '@koa/router';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin, login, oidc } from '../helpers/rp.js';
import { consoleLogin } from '../helpers/console.js';
import { addStudent, codeOf, issue } from '../helpers/school.js';
import { recordCounts } from '../helpers/security-counts.js';
import defaults from '../../config/default.js';
import { buildApp } from '../../src/server/app.js';
import { registerClient } from '../../src/clients/manage.js';
import { issueInitialAccessToken } from '../../src/clients/registration.js';
import { issueToken } from '../../src/email/tokens.js';
import { createFlow, recordCandidates, recordPasswordProven } from '../../src/esia/queries.js';
import { setPasswordHash } from '../../src/accounts/queries.js';
import type { School } from '../../src/schools/queries.js';

const FILE_KEY = 'bad-input';
/** Fixed: the same inputs on every run, so the figures in SECURITY.md are exact. */
const SEED = 20_260_704;
const RUNS = 32;
/** Targets fuzzed at the same time (each target's runs are sequential). */
const PARALLEL = 6;

// ——— hostile values ————————————————————————————————————————————————————————————————

const SQL = ["' or 1=1 --", "'; drop table users; --", "1' union select null, null --", '" or ""="', "x'); select pg_sleep(0); --"];
const HTML = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "'><svg/onload=alert(1)>",
  '</textarea><script>alert(1)</script>',
  'javascript:alert(1)',
  '#{7*7}{{7*7}}${7*7}',
];
const PATHS = ['../../../../etc/passwd', '..\\..\\..\\windows\\win.ini', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', 'file:///etc/passwd'];
const JSONISH = ['{"$ne":null}', '{"__proto__":{"polluted":true}}', '[1,2,3]', 'null', 'true', '{"a":', '{}'];
const UNICODE = [
  '\u202eвтсечилоп\u202c', 'שלום עולם', 'ا\u200fلعربية', 'е\u0301\u0308\u0301\u0308', 'Z\u0351\u0352\u0353\u0354\u0355\u0356\u0357',
  '😀👨‍👩‍👧‍👦🏳️‍🌈', '\ufeffБОМ', 'İıßﬁ', '\u200b\u200c\u200d\u2060', '𝕏𝔂𝓏',
];
const CONTROL = ['\u0000', 'a\u0000b', '\u0007\u0008\u001b[31m', '\r\nSet-Cookie: jid=1', '\t\v\f\u0085\u2028'];
const SURROGATES = ['\ud800', 'a\udfffb', '\udc00\ud800', '😀'.slice(0, 1)];
const NUMBERS = ['0', '-1', '1e309', 'NaN', 'Infinity', '9007199254740993', '0x1F', '1.5', '-0', '007'];
const FIXED = [...SQL, ...HTML, ...PATHS, ...JSONISH, ...UNICODE, ...CONTROL, ...SURROGATES, ...NUMBERS];

/** What a page must never contain unescaped: the markup above, live. */
const RAW_MARKUP = ['<script>alert(1)', '<img src=x onerror', '<svg/onload', '</textarea><script'];
/** What stored text must not contain, outside the fields that keep what a person typed. */
const STORED_MARKERS = ['<script', 'onerror=', 'onload=', 'or 1=1', 'drop table', 'union select', 'pg_sleep', '../', '..\\', '__proto__', '{"$ne"', 'set-cookie', 'file:///', 'javascript:', '{{7*7}}'];

/** Text no field of ours can store (NUL, lone surrogates) or carry (past the body and URL limits). */
const unstorable = (v: string) => v.includes('\u0000') || !v.isWellFormed() || v.length > 2000;
const ODD = ['\u202e', '\u0301', '😀', '<', '>', '"', "'", '&', '%', '\\', '/', '\n', '\u0007', 'я', ' '];
const fixed = fc.constantFrom(...FIXED.filter((v) => !unstorable(v)));

/** Hostile text that a field could still store: its handler's own validation must refuse or keep it. */
const hostile: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fixed, weight: 5 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).filter((v) => !unstorable(v)), weight: 2 },
  { arbitrary: fc.string({ unit: fc.constantFrom(...ODD), maxLength: 20 }), weight: 2 },
  { arbitrary: fc.tuple(fc.constantFrom(59, 60, 61, 99, 100, 101, 254, 255, 256, 1000, 1001), fc.constantFrom('a', 'я', '😀', '<', "'")).map(([n, c]) => c.repeat(n)), weight: 1 },
  { arbitrary: fc.oneof(fc.integer(), fc.double()).map(String), weight: 1 },
  { arbitrary: fc.tuple(fc.string({ maxLength: 8 }), fixed).map(([a, b]) => a + b), weight: 1 },
  // Shapes that pass a first glance: an address, a URL.
  { arbitrary: fixed.map((m) => `${m}@example.ru`), weight: 1 },
  { arbitrary: fixed.map((m) => `https://app.example.ru/${m}`), weight: 1 },
);
/** Text the edge must refuse: NUL, lone surrogates, far past every limit. */
const unfit: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...FIXED.filter(unstorable)),
  fc.tuple(fc.string({ maxLength: 8 }), fc.constantFrom('\u0000', '\ud800', '\udfff'), fc.string({ maxLength: 8 })).map(([a, b, c]) => a + b + c),
  fc.tuple(fc.constantFrom(5000, 40_000), fc.constantFrom('a', 'я', '😀', '<')).map(([n, c]) => c.repeat(n)),
);

/**
 * One field of a form or query: kept valid, left out, hostile, repeated (a=1&a=2), bracketed
 * (a[x]=1), or `bytes`: text followed by bytes that are not UTF-8 (raw in a body, percent-encoded
 * in a URL).
 */
type FieldValue = { k: 'keep' } | { k: 'missing' } | { k: 'text'; v: string } | { k: 'repeat'; v: string[] } | { k: 'nested'; v: string } | { k: 'bytes'; v: string };
/** Not UTF-8: stray bytes, an overlong «/», a surrogate's encoding. */
const BAD_BYTES = Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80]);
/**
 * `fields`: how many the target has; about two of them change per run, the rest stay valid.
 * `name`: an address field gets address-shaped hostile text more often.
 */
function fieldValueOf(fields: number, name: string): fc.Arbitrary<FieldValue> {
  const text = /mail/.test(name) ? fc.oneof(hostile, hostile.map((v) => `${v}@example.ru`)) : hostile;
  return fc.oneof(
    { arbitrary: fc.constant({ k: 'keep' as const }), weight: Math.max(2, fields - 2) * 4 },
    { arbitrary: fc.constant({ k: 'missing' as const }), weight: 1 },
    { arbitrary: text.map((v) => ({ k: 'text' as const, v })), weight: 5 },
    { arbitrary: fc.array(text, { minLength: 2, maxLength: 3 }).map((v) => ({ k: 'repeat' as const, v })), weight: 1 },
    { arbitrary: text.map((v) => ({ k: 'nested' as const, v })), weight: 1 },
  );
}

/** One member of a JSON body: kept, left out, any JSON value where text is expected, or not UTF-8. */
type JsonField = { k: 'keep' } | { k: 'missing' } | { k: 'json'; v: unknown } | { k: 'bytes'; v: string };
const deep = (v: unknown, n: number): unknown => (n === 0 ? v : { a: deep(v, n - 1) });
function jsonFieldOf(fields: number): fc.Arbitrary<JsonField> {
  const value: fc.Arbitrary<unknown> = fc.oneof(
    { arbitrary: hostile, weight: 6 },
    { arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null)), weight: 2 },
    { arbitrary: fc.array(hostile, { maxLength: 3 }), weight: 2 },
    { arbitrary: fc.dictionary(hostile, hostile, { maxKeys: 2 }), weight: 1 },
    { arbitrary: hostile.map((v) => deep(v, 12)), weight: 1 },
    { arbitrary: fc.constant(Array.from({ length: 30 }, (_, i) => `https://a.example.ru/${i}`)), weight: 1 },
  );
  return fc.oneof(
    { arbitrary: fc.constant({ k: 'keep' as const }), weight: Math.max(2, fields - 2) * 4 },
    { arbitrary: fc.constant({ k: 'missing' as const }), weight: 1 },
    { arbitrary: value.map((v) => ({ k: 'json' as const, v })), weight: 6 },
  );
}
/** Whole bodies that are not the object an API expects. */
const rawJson = fc.constantFrom('', '{', '[]', '"text"', '42', 'null', '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}', '{"a":1,"a":2}', `{"x":"${'я'.repeat(70_000)}"}`, '\u0000');
/** Field names no form has: prototype pollution, deep brackets, a very long name. */
const extraName = fc.constantFrom('__proto__[polluted]', 'constructor[prototype][polluted]', 'a[b][c][d][e][f][g][h][i]', 'x'.repeat(300), '_csrf[]', 'login[]');

// ——— sending ——————————————————————————————————————————————————————————————————————

/** Percent-encoding that also carries lone surrogates (as their WTF-8 bytes, like a broken client). */
function pct(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) {
      out += [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else out += encodeURIComponent(ch);
  }
  return out;
}

type Values = Record<string, string>;

/** A query string (`raw` false) or an urlencoded body (`raw`: broken bytes go as they are). */
function encodeFields(base: Values, names: string[], fuzz: Record<string, FieldValue>, extra: [string, string] | null, raw: boolean): Buffer {
  const parts: Buffer[] = [];
  const add = (k: string, v: string) => parts.push(Buffer.from(`${pct(k)}=${pct(v)}`));
  const all = new Set([...Object.keys(base), ...names]);
  for (const name of all) {
    const f = fuzz[name] ?? { k: 'keep' };
    if (f.k === 'keep') {
      if (base[name] !== undefined) add(name, base[name]!);
    } else if (f.k === 'text') add(name, f.v);
    else if (f.k === 'repeat') f.v.forEach((v) => add(name, v));
    else if (f.k === 'nested') add(`${name}[x]`, f.v);
    else if (f.k === 'bytes') {
      const bad = raw ? BAD_BYTES : Buffer.from([...BAD_BYTES].map((b) => `%${b.toString(16).toUpperCase()}`).join(''));
      parts.push(Buffer.concat([Buffer.from(`${pct(name)}=${pct(f.v)}`), bad]));
    }
  }
  if (extra) add(extra[0], extra[1]);
  return Buffer.concat(parts.flatMap((b, i) => (i ? [Buffer.from('&'), b] : [b])));
}

const BYTES_HERE = '\u{F0000}bytes\u{F0000}';
function jsonBody(base: Record<string, unknown>, names: string[], fuzz: Record<string, JsonField>): Buffer {
  const body: Record<string, unknown> = { ...base };
  for (const name of names) {
    const f = fuzz[name] ?? { k: 'keep' };
    if (f.k === 'missing') delete body[name];
    else if (f.k === 'json') body[name] = f.v;
    else if (f.k === 'bytes') body[name] = `${f.v}${BYTES_HERE}`;
  }
  const pieces = JSON.stringify(body).split(BYTES_HERE);
  return Buffer.concat(pieces.flatMap((p, i) => (i ? [BAD_BYTES, Buffer.from(p)] : [Buffer.from(p)])));
}

/** What a target needs to reach its handler: a browser with the session, valid values, headers. */
interface Prepared {
  browser: Browser;
  params?: Values;
  query?: Values;
  body?: Values;
  json?: Record<string, unknown>;
  headers?: Record<string, string>;
}

interface Target {
  /** `METHOD /path` as the router (or the provider's discovery) names it. */
  route: string;
  query?: string[];
  /** Form fields (urlencoded, or multipart with `multipart`). */
  form?: string[];
  /** Members of a JSON body. */
  json?: string[];
  multipart?: boolean;
  /** A header whose value is fuzzed too (only what a header can carry). */
  header?: { name: string; prefix: string };
  /** An API: its refusals are JSON with `error`. */
  api?: boolean;
  /** The handler uses its state up (consent, sign-out, a link): prepare again for every run. */
  fresh?: boolean;
  /** Behind a login: the session must reach the handler (no redirect to log in). */
  session?: boolean;
  prepare(): Promise<Prepared>;
}

interface Input {
  params: Record<string, string | null>;
  query: Record<string, FieldValue>;
  form: Record<string, FieldValue>;
  json: Record<string, JsonField>;
  raw: string | null;
  extra: [string, string] | null;
  header: string | null;
}

interface Answer {
  status: number;
  type: string;
  location: string;
  body: string;
}

function pathParams(route: string): string[] {
  return [...route.matchAll(/:(\w+)/g)].map((m) => m[1]!);
}

/**
 * Three runs in four send what a person could type (hostile, but storable) so the handlers' own
 * validation runs; one in four breaks exactly one field, parameter or body with what the edge
 * must refuse (NUL, lone surrogates, bytes that are not UTF-8, past the limits), the rest valid.
 */
function inputOf(t: Target): fc.Arbitrary<Input> {
  const n = (t.query?.length ?? 0) + (t.form?.length ?? 0) + (t.json?.length ?? 0);
  const fields = <V>(names: string[] | undefined, arb: (name: string) => fc.Arbitrary<V>) =>
    fc.record(Object.fromEntries((names ?? []).map((name) => [name, arb(name)])) as Record<string, fc.Arbitrary<V>>);
  const fit: fc.Arbitrary<Input> = fc.record({
    // Mostly the valid value, so the handler runs; sometimes a hostile one.
    params: fields(pathParams(t.route), () => fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: hostile, weight: 1 })),
    query: fields(t.query, (name) => fieldValueOf(n, name)),
    form: fields(t.form, (name) => fieldValueOf(n, name)),
    json: fields(t.json, () => jsonFieldOf(n)),
    raw: fc.constant(null),
    extra: t.json ? fc.constant(null) : fc.oneof({ arbitrary: fc.constant(null), weight: 5 }, { arbitrary: fc.tuple(extraName, hostile), weight: 1 }),
    header: t.header ? fc.option(hostile, { freq: 2, nil: null }) : fc.constant(null),
  });
  type Slot = ['params' | 'query' | 'form' | 'json' | 'raw', string];
  const slots: Slot[] = [
    ...pathParams(t.route).map((p): Slot => ['params', p]),
    ...(t.query ?? []).map((f): Slot => ['query', f]),
    ...(t.form ?? []).map((f): Slot => ['form', f]),
    ...(t.json ?? []).map((f): Slot => ['json', f]),
    ...(t.json ? [['raw', ''] as Slot] : []),
  ];
  if (!slots.length) return fit;
  const broken = fc
    .tuple(fit, fc.constantFrom(...slots), unfit, fc.string({ maxLength: 5 }), fc.boolean(), rawJson)
    .map(([input, [where, name], text, prefix, asBytes, raw]): Input => {
      const out = { ...input, params: { ...input.params }, query: { ...input.query }, form: { ...input.form }, json: { ...input.json } };
      if (where === 'params') out.params[name] = text;
      else if (where === 'raw') out.raw = raw;
      else if (where === 'json') out.json[name] = asBytes ? { k: 'bytes', v: prefix } : { k: 'json', v: text };
      else out[where][name] = asBytes ? { k: 'bytes', v: prefix } : { k: 'text', v: text };
      return out;
    });
  return fc.oneof({ arbitrary: fit, weight: 3 }, { arbitrary: broken, weight: 1 });
}

const NO_INPUT: Input = { params: {}, query: {}, form: {}, json: {}, raw: null, extra: null, header: null };

async function send(t: Target, p: Prepared, input: Input): Promise<Answer> {
  const [method, pattern] = t.route.split(' ') as [string, string];
  const path = pattern.replace(/:(\w+)/g, (_, name: string) => pct(input.params[name] ?? p.params?.[name] ?? ''));
  const query = encodeFields(p.query ?? {}, t.query ?? [], input.query, method === 'GET' ? input.extra : null, false).toString('latin1');
  const headers: Record<string, string> = { ...p.headers };
  if (t.api) headers.accept = 'application/json';
  if (t.header && input.header !== null) headers[t.header.name] = `${t.header.prefix}${input.header}`.replace(/[^\x20-\x7e]/g, '?');
  let body: Buffer | string | FormData | undefined;
  if (t.multipart) {
    const form = new FormData();
    for (const [k, v] of Object.entries(p.body ?? {})) if (!(t.form ?? []).includes(k)) form.append(k, v);
    for (const name of t.form ?? []) {
      const f = input.form[name] ?? { k: 'keep' };
      if (f.k === 'keep' && p.body?.[name] !== undefined) form.append(name, p.body[name]!);
      else if (f.k === 'text' || f.k === 'nested') form.append(f.k === 'nested' ? `${name}[x]` : name, f.v);
      else if (f.k === 'repeat') f.v.forEach((v) => form.append(name, v));
    }
    // The file: a roster whose cells are the hostile values.
    const cells = Object.values(input.form).flatMap((f) => (f.k === 'text' || f.k === 'nested' ? [f.v] : f.k === 'repeat' ? f.v : []));
    const csv = `Фамилия;Имя;Тип;Класс\n${cells.map((c) => `${c};${c};ученик;${c}`).join('\n')}\nИванов;Иван;ученик;6А\n`;
    const broken = Object.values(input.form).some((f) => f.k === 'bytes');
    const file = broken ? Buffer.concat([Buffer.from(csv), Buffer.from('Петров;Пётр'), BAD_BYTES, Buffer.from(';ученик;6А\n')]) : Buffer.from(csv);
    form.append('file', new Blob([file], { type: 'text/csv' }), cells[0] ?? 'roster.csv');
    body = form;
  } else if (t.json) {
    headers['content-type'] = 'application/json';
    body = input.raw ?? jsonBody(p.json ?? {}, t.json, input.json);
  } else if (method !== 'GET' && method !== 'DELETE') {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = encodeFields(p.body ?? {}, t.form ?? [], input.form, input.extra, true);
  }
  const res = await p.browser.request(`${path}${query ? `?${query}` : ''}`, { method, headers, body });
  return { status: res.status, type: res.headers.get('content-type') ?? '', location: res.headers.get('location') ?? '', body: await res.text() };
}

// ——— the properties ————————————————————————————————————————————————————————————————

const LEAK = /\n\s+at \S|\bat (async )?[\w.$<>]+ \([^)]*:\d+:\d+\)|node_modules|\b(TypeError|ReferenceError|SyntaxError|RangeError|AssertionError)\b|\/work\/|\.ts:\d+/;
const SQL_TEXT = /syntax error at or near|relation "|column "|violates (not-null|foreign key|unique|check)|duplicate key|SQLSTATE|invalid byte sequence|unterminated quoted|knex:|PGlite|invalid input syntax for/i;

/** Why this answer breaks a property, or undefined. */
function problemOf(t: Target, a: Answer): string | undefined {
  if (a.status >= 500) return `status ${a.status}`;
  // Node's HTTP parser refuses a request line past its header limit (16 kB) before the app runs;
  // the server's clientError handler still answers with a short page of ours.
  if (a.status === 431) return a.body.includes('Слишком длинный') ? undefined : `431 without our page`;
  if (LEAK.test(a.body)) return `internal text in the body: ${LEAK.exec(a.body)![0]}`;
  if (SQL_TEXT.test(a.body)) return `SQL text in the body: ${SQL_TEXT.exec(a.body)![0]}`;
  const html = /html/.test(a.type);
  if (html) {
    const raw = RAW_MARKUP.find((m) => a.body.includes(m));
    if (raw) return `raw markup in the page: ${raw}`;
  }
  if (a.status >= 400) {
    if (t.api) {
      if (!/json/.test(a.type)) return `an API refusal that is not JSON (${a.type})`;
      let error: unknown;
      try {
        error = (JSON.parse(a.body) as { error?: unknown }).error;
      } catch {
        return 'an API refusal whose body is not JSON';
      }
      if (typeof error !== 'string') return 'an API refusal without `error`';
    } else {
      if (!html) return `a page refusal that is not HTML (${a.type})`;
      const lang = /<html lang="(ru|en)"/.exec(a.body)?.[1];
      if (!lang) return 'a refusal page without a language';
      if (lang === 'ru' && !/[а-яё]{3}/i.test(a.body)) return 'a Russian refusal page without Russian text';
    }
  }
  return undefined;
}

/** The session, CSRF token and interaction were right: the handler itself answered. */
function notReached(t: Target, a: Answer): string | undefined {
  if (a.status === 403 && /\bcsrf\b/.test(a.body)) return 'refused for CSRF';
  if (/session_not_found/.test(a.body)) return 'the interaction was not found';
  if (t.session && a.status >= 300 && a.status < 400 && /\/auth\?/.test(a.location)) return 'sent to log in';
  return undefined;
}

// ——— the routes ———————————————————————————————————————————————————————————————————

interface RouteEntry {
  key: string;
  /** A RegExp route (the form parsers): covered by any target whose path it matches. */
  pattern?: { method: string; match(path: string): boolean };
}

/** Every route of a @koa/router router, mounted routers included (their `.router`). */
function routesOf(router: Router, out: RouteEntry[] = []): RouteEntry[] {
  for (const layer of router.stack) {
    const methods = layer.methods.filter((m) => m !== 'HEAD');
    if (!methods.length) continue; // router.use: middleware, not a route
    const nested = layer.stack.map((fn) => (fn as { router?: Router }).router).find(Boolean);
    if (nested) {
      routesOf(nested, out);
      continue;
    }
    for (const method of methods) {
      if (typeof layer.path === 'string') out.push({ key: `${method} ${layer.path}` });
      else out.push({ key: `${method} ${String(layer.path)}`, pattern: { method, match: (p) => layer.match(p) } });
    }
  }
  return out;
}

// ——— the server and its people ———————————————————————————————————————————————————

type Acc = Awaited<ReturnType<typeof addAccount>>;
/** The server's log: a failure message carries its last error. */
const LOGS: string[] = [];
let srv: TestServer;
let rp: oidc.Configuration;
let thirdParty: oidc.Configuration;
let redirectUri: string;
let schoolA: School;
let schoolB: School;
const acc: Record<string, Acc> = {};
let kidId = '';
let codes: { register: string; child: string };
let libraryId = '';
let apiClientId = '';
let adminToken = '';
let iat = '';
let userToken = '';
let recoverToken = '';
const sessions: Record<'curator' | 'admin' | 'account', { browser: Browser; csrf: string }> = {} as never;

/** Every throttle far away: the handlers' validation must run, not the brute-force defence. */
const relaxed = Object.fromEntries(
  Object.entries(defaults.throttle).map(([k, p]) => [k, typeof p === 'object' && p && 'free' in p ? { ...p, free: 1_000_000 } : p]),
) as typeof defaults.throttle;

async function withCsrf(page = '/recover', form?: RegExp): Promise<{ browser: Browser; csrf: string }> {
  const browser = new Browser(srv.url);
  const html = await (await browser.follow(page)).res.text();
  return { browser, csrf: formOf(html, form).fields._csrf! };
}

/** A login interaction of the journal's web app, at its login form. */
async function interaction(over: { rp?: oidc.Configuration; redirect?: string } = {}): Promise<{ browser: Browser; uid: string; html: string; csrf: string }> {
  const browser = new Browser(srv.url);
  const page = await openLoginPage(browser, (await startLogin(over.rp ?? rp, { redirect_uri: over.redirect ?? redirectUri, school: schoolA.slug })).authUrl);
  const uid = /\/interaction\/([^/?#]+)/.exec(page.url)![1]!;
  return { browser, uid, html: page.html, csrf: formOf(page.html).fields._csrf! };
}

/** An interaction past the password, at the page of the next prompt (consent, new password, email, code). */
async function promptPage(who: Acc, over: { rp?: oidc.Configuration; redirect?: string } = {}): Promise<{ browser: Browser; uid: string; html: string }> {
  const i = await interaction(over);
  const { res, url } = await submitLogin(i.browser, i.html, who.login, who.password);
  // The password step ends with a page of the same interaction or (after the login) of a new one.
  const uid = /\/interaction\/([^/?#]+)/.exec(url)?.[1];
  expect(uid).toBeDefined();
  return { browser: i.browser, uid: uid!, html: await res.text() };
}

async function promptOf(who: Acc, over: { rp?: oidc.Configuration; redirect?: string } = {}): Promise<Prepared> {
  const { browser, uid, html } = await promptPage(who, over);
  return { browser, params: { uid }, body: { _csrf: formOf(html).fields._csrf! } };
}

/** The account page's session (the provider's SSO cookie) of a person. */
async function accountSession(who: Acc): Promise<{ browser: Browser; csrf: string }> {
  const browser = new Browser(srv.url);
  const page = await (await browser.follow(`/account?school=${schoolA.slug}`)).res.text();
  const form = formOf(page, /\/login$/);
  const res = await browser.postForm(form.action, { ...form.fields, login: who.login, password: who.password });
  const end = await browser.follow(new URL(res.headers.get('location')!, srv.url).toString());
  expect(new URL(end.url).pathname).toBe('/account');
  return { browser, csrf: formOf(await end.res.text(), /\/account\/email$/).fields._csrf! };
}

const WRONG = 'wrong-password-1';
/** A registration that is right but for the repeated password: the fuzzed field decides the rest. */
const DETAILS_BASE = () => ({
  code: codes.register, last_name: 'Смирнов', first_name: 'Иван', login: 'smirnov-papa', password: 'Kolobok2024x', password2: 'Kolobok2024y', email: 'smirnov@example.ru', consent: '1',
});
const DETAILS = ['code', 'last_name', 'first_name', 'middle_name', 'login', 'password', 'password2', 'email', 'phone', 'consent', 'child1', 'child2', 'child9'];
/** The admin API's client fields (and one it does not know). */
const API_CLIENT = ['client_id', 'client_name', 'application_type', 'grant_types', 'token_endpoint_auth_method', 'redirect_uris', 'post_logout_redirect_uris', 'backchannel_logout_uri', 'scope', 'first_party', 'contacts'];
/** RFC 7591 metadata at /reg (and journal-id's own members). */
const DCR_METADATA = ['client_name', 'redirect_uris', 'grant_types', 'response_types', 'token_endpoint_auth_method', 'scope', 'application_type', 'post_logout_redirect_uris', 'backchannel_logout_uri', 'logo_uri', 'contacts', 'jwks', 'school_id', 'first_party'];
const AUTH_PARAMS = ['client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'prompt', 'login_hint', 'ui_locales', 'school', 'max_age', 'claims', 'acr_values', 'response_mode', 'id_token_hint', 'request', 'display'];

function targets(): Target[] {
  const anon = (page = '/recover') => async (): Promise<Prepared> => {
    const { browser, csrf } = await withCsrf(page);
    return { browser, body: { _csrf: csrf } };
  };
  /** The same session, with more valid values (its own CSRF token kept). */
  const plus = (prepare: () => Promise<Prepared>, more: () => { params?: Values; body?: Values }) => async (): Promise<Prepared> => {
    const p = await prepare();
    const m = more();
    return { ...p, params: { ...p.params, ...m.params }, body: { ...p.body, ...m.body } };
  };
  const curator = async (): Promise<Prepared> => ({ browser: sessions.curator.browser, body: { _csrf: sessions.curator.csrf } });
  const admin = async (): Promise<Prepared> => ({ browser: sessions.admin.browser, body: { _csrf: sessions.admin.csrf } });
  const account = async (): Promise<Prepared> => ({ browser: sessions.account.browser, body: { _csrf: sessions.account.csrf } });
  const atLogin = async (): Promise<Prepared> => {
    const i = await interaction();
    return { browser: i.browser, params: { uid: i.uid }, body: { _csrf: i.csrf } };
  };
  /** A login interaction whose Gosuslugi step found two accounts (the weak one asks for its password). */
  const atEsiaChoice = async (): Promise<Prepared> => {
    const p = await atLogin();
    const state = await createFlow(srv.db, { interactionUid: p.params!.uid!, ip: '127.0.0.1', expiresAt: new Date(Date.now() + 600_000) });
    await recordCandidates(srv.db, state, '1000000001', [
      { userId: acc.pupil!.id, strength: 'strong', via: ['snils_school'] },
      { userId: acc.guardian!.id, strength: 'weak', via: ['phone'] },
    ]);
    return { ...p, body: { ...p.body, account: acc.guardian!.id } };
  };
  /** A Gosuslugi login that proved a curator's password: the second-factor step (issue 16.1). */
  const atEsiaCode = async (): Promise<Prepared> => {
    const p = await atLogin();
    const state = await createFlow(srv.db, { interactionUid: p.params!.uid!, ip: '127.0.0.1', expiresAt: new Date(Date.now() + 600_000) });
    await recordCandidates(srv.db, state, '1000000001', [{ userId: acc.mfaCurator!.id, strength: 'strong', via: ['snils_school'] }]);
    await recordPasswordProven(srv.db, state, acc.mfaCurator!.id);
    return p;
  };
  const pupil = plus(curator, () => ({ params: { id: acc.pupil!.id } }));
  /** A confirmation link of the letter the person would have got. */
  const verifyLink = (who: () => Acc) => async (): Promise<Prepared> => {
    const p = await anon()();
    const a = who();
    return { ...p, params: { token: await issueToken(srv.db, { userId: a.id, purpose: 'verify', email: a.email!, ttlSeconds: 3600 }) } };
  };
  const bearer = async (): Promise<Prepared> => ({ browser: new Browser(srv.url), headers: { authorization: `Bearer ${adminToken}` } });
  const basic = async (): Promise<Prepared> => ({
    browser: new Browser(srv.url),
    headers: { authorization: `Basic ${Buffer.from(`journal-web:${srv.config.secrets.journalWebClientSecret}`).toString('base64')}` },
  });
  /** The guardian–pupil link, made again if a run removed it. */
  const guardianship = async (): Promise<Prepared> => {
    await srv.db('guardianships').insert({ user_id: acc.guardian!.id, person_id: kidId }).onConflict(['user_id', 'person_id']).ignore();
    return { ...(await curator()), params: { id: acc.guardian!.id, personId: kidId } };
  };
  const app = plus(curator, () => ({ params: { clientId: libraryId }, body: { school: schoolA.id } }));
  const apiClient = async (): Promise<Prepared> => ({ ...(await bearer()), params: { id: apiClientId, school: schoolA.id } });
  const consoleUser = [
    'password', 'disable', 'enable', 'unlock', 'esia-unlink', 'password-link', 'resend', 'left',
  ].map((action): Target => ({ route: `POST /console/users/:id/${action}`, form: action === 'password' ? ['sheet'] : [], session: true, prepare: pupil }));

  return [
    // Plumbing and public pages.
    { route: 'GET /healthz', query: ['lang'], prepare: anon() },
    { route: 'GET /readyz', query: ['lang'], prepare: anon() },
    { route: 'GET /', query: ['lang', 'school'], prepare: anon() },
    { route: 'GET /s/:school', query: ['lang'], prepare: plus(anon(), () => ({ params: { school: schoolA.slug } })) },
    { route: 'GET /privacy', query: ['lang'], prepare: anon() },
    { route: 'GET /hello', query: ['q', 'school', 'lang'], prepare: anon() },
    { route: 'GET /hello/:school', query: ['lang'], prepare: plus(anon(), () => ({ params: { school: schoolA.number } })) },
    // Recovery, confirmation links, registration.
    { route: 'GET /recover', query: ['school', 'lang'], prepare: anon() },
    { route: 'POST /recover', query: ['school'], form: ['email'], prepare: plus(anon(), () => ({ body: { email: acc.guardian!.email! } })) },
    { route: 'GET /recover/:token', query: ['lang'], prepare: plus(anon(), () => ({ params: { token: recoverToken } })) },
    { route: 'POST /recover/:token', form: ['password', 'repeat'], prepare: plus(anon(), () => ({ params: { token: recoverToken } })) },
    { route: 'GET /verify/:token', query: ['lang'], prepare: verifyLink(() => acc.account!) },
    { route: 'POST /verify/:token', fresh: true, prepare: verifyLink(() => acc.pupil!) },
    { route: 'GET /register', query: ['school', 'lang'], prepare: anon() },
    { route: 'POST /register', query: ['school'], form: ['code'], prepare: plus(anon(), () => ({ body: { code: codes.register } })) },
    { route: 'POST /register/details', query: ['school'], form: DETAILS, prepare: plus(anon(), () => ({ body: DETAILS_BASE() })) },
    // The interaction pages.
    { route: 'GET /interaction/:uid', query: ['lang'], prepare: atLogin },
    { route: 'GET /interaction/:uid/school', prepare: atLogin },
    { route: 'POST /interaction/:uid/school', form: ['query', 'school'], prepare: atLogin },
    { route: 'POST /interaction/:uid/login', form: ['login', 'password', 'remember', 'school'], prepare: plus(atLogin, () => ({ body: { login: acc.pupil!.login, password: WRONG } })) },
    { route: 'GET /interaction/:uid/abort', fresh: true, prepare: atLogin },
    { route: 'GET /interaction/:uid/register', query: ['school'], prepare: atLogin },
    { route: 'POST /interaction/:uid/register', form: ['code'], prepare: plus(atLogin, () => ({ body: { code: codes.register } })) },
    { route: 'POST /interaction/:uid/register/details', form: DETAILS, prepare: plus(atLogin, () => ({ body: DETAILS_BASE() })) },
    { route: 'POST /interaction/:uid/esia', form: [], prepare: atLogin },
    { route: 'GET /interaction/:uid/esia', prepare: atLogin },
    { route: 'GET /esia/callback', query: ['state', 'code', 'error', 'error_description'], prepare: anon() },
    { route: 'GET /esia/logout', prepare: anon() },
    { route: 'GET /interaction/:uid/esia/result', prepare: atEsiaChoice },
    { route: 'POST /interaction/:uid/esia/choose', form: ['account'], prepare: atEsiaChoice },
    { route: 'POST /interaction/:uid/esia/confirm', form: ['account', 'password'], prepare: plus(atEsiaChoice, () => ({ body: { password: WRONG } })) },
    { route: 'POST /interaction/:uid/esia/code', form: ['code'], prepare: atEsiaCode },
    {
      route: 'POST /interaction/:uid/platform/login', form: ['login', 'password'],
      prepare: async () => {
        const browser = new Browser(srv.url);
        const { res, url } = await browser.follow('/console/platform/login');
        return { browser, params: { uid: /\/interaction\/([^/?#]+)/.exec(url)![1]! }, body: { _csrf: formOf(await res.text()).fields._csrf!, login: 'admin', password: WRONG } };
      },
    },
    { route: 'POST /interaction/:uid/mfa', form: ['code'], prepare: () => promptOf(acc.mfaCurator!) },
    { route: 'POST /interaction/:uid/password', form: ['password', 'repeat'], prepare: () => promptOf(acc.mustChange!) },
    { route: 'POST /interaction/:uid/email', form: ['password', 'email', 'action'], prepare: plus(() => promptOf(acc.noEmail!), () => ({ body: { email: 'bezpochty@example.ru', password: WRONG } })) },
    { route: 'POST /interaction/:uid/consent', form: ['decision'], fresh: true, prepare: () => promptOf(acc.consent!, { rp: thirdParty, redirect: 'https://library.example.ru/cb' }) },
    // The account page.
    { route: 'GET /account', query: ['done', 'school'], session: true, prepare: account },
    { route: 'GET /account/data.json', query: ['lang'], session: true, prepare: account },
    { route: 'GET /account/callback', query: ['code', 'state', 'error', 'iss'], prepare: anon() },
    { route: 'POST /account/child', form: ['code'], session: true, prepare: plus(account, () => ({ body: { code: codes.child } })) },
    { route: 'POST /account/email', form: ['password', 'email'], session: true, prepare: plus(account, () => ({ body: { email: 'mama2@example.ru', password: WRONG } })) },
    { route: 'POST /account/password', form: ['current', 'password', 'repeat'], session: true, prepare: plus(account, () => ({ body: { current: WRONG, password: 'Kolobok2025y', repeat: 'Kolobok2025y' } })) },
    { route: 'POST /account/snils', form: ['password', 'snils'], session: true, prepare: plus(account, () => ({ body: { snils: '112-233-445 95', password: WRONG } })) },
    { route: 'POST /account/mfa/start', form: ['password', 'code'], session: true, prepare: plus(account, () => ({ body: { password: WRONG } })) },
    { route: 'POST /account/mfa/confirm', form: ['password', 'code'], session: true, prepare: plus(account, () => ({ body: { code: '000000' } })) },
    { route: 'POST /account/mfa/disable', form: ['password', 'code'], session: true, prepare: plus(account, () => ({ body: { password: WRONG, code: '000000' } })) },
    { route: 'POST /account/esia/unlink', form: [], session: true, prepare: account },
    {
      route: 'POST /account/signout', form: ['grant', 'all'], session: true, fresh: true,
      prepare: async () => {
        const s = await accountSession(acc.signout!);
        return { browser: s.browser, body: { _csrf: s.csrf } };
      },
    },
    // The curator's console.
    { route: 'GET /console', query: ['q', 'class', 'kind'], session: true, prepare: curator },
    { route: 'GET /console/login', query: ['lang'], prepare: anon() },
    { route: 'GET /console/callback', query: ['code', 'state', 'error', 'iss'], prepare: anon() },
    { route: 'POST /console/logout', form: [], prepare: anon() },
    { route: 'GET /console/users/:id', query: ['done'], session: true, prepare: pupil },
    ...consoleUser,
    { route: 'POST /console/users/:id/contacts', form: ['snils', 'email', 'phone'], session: true, prepare: plus(pupil, () => ({ body: { email: acc.pupil!.email!, phone: '+7 900 000-00-02' } })) },
    { route: 'GET /console/users/:id/transfer', query: ['lang'], session: true, prepare: pupil },
    { route: 'POST /console/users/:id/transfer', form: ['school', 'class', 'login'], session: true, prepare: pupil },
    { route: 'POST /console/users/:id/delete', form: ['confirm'], session: true, prepare: pupil },
    { route: 'GET /console/audit', query: ['before', 'school'], session: true, prepare: curator },
    { route: 'GET /console/roster', query: ['school'], session: true, prepare: curator },
    { route: 'POST /console/roster/import', form: ['school'], multipart: true, session: true, prepare: curator },
    { route: 'GET /console/invites', query: ['school', 'revoked'], session: true, prepare: curator },
    { route: 'POST /console/invites', form: ['class', 'school', 'parents'], session: true, prepare: plus(curator, () => ({ body: { class: '6А' } })) },
    { route: 'POST /console/invites/revoke', form: ['class', 'school'], session: true, prepare: curator },
    { route: 'GET /console/apps', query: ['done'], session: true, prepare: curator },
    { route: 'POST /console/apps/:clientId/approve', form: ['school'], session: true, prepare: app },
    { route: 'POST /console/apps/:clientId/withdraw', form: ['school'], session: true, prepare: app },
    ...['remove', 'restrict', 'unrestrict'].map((a): Target => ({ route: `POST /console/users/:id/guardianships/:personId/${a}`, form: ['back'], session: true, fresh: true, prepare: guardianship })),
    // The platform's console.
    { route: 'GET /console/platform', query: ['lang'], session: true, prepare: admin },
    { route: 'GET /console/platform/login', query: ['lang'], prepare: anon() },
    { route: 'GET /console/platform/health', query: ['lang'], session: true, prepare: admin },
    { route: 'GET /console/platform/counts', query: ['lang'], session: true, prepare: admin },
    { route: 'GET /console/platform/audit', query: ['before'], session: true, prepare: admin },
    { route: 'GET /console/platform/schools', query: ['done'], session: true, prepare: admin },
    {
      route: 'POST /console/platform/schools', form: ['number', 'name', 'region', 'slug'], session: true,
      prepare: plus(admin, () => ({ body: { number: '48300', name: 'Гимназия № 48300', region: 'Москва', slug: 'bad-input-c' } })),
    },
    { route: 'GET /console/platform/curators', query: ['done'], session: true, prepare: admin },
    { route: 'POST /console/platform/curators/grant', form: ['school', 'login'], session: true, prepare: plus(admin, () => ({ body: { school: schoolB.id } })) },
    { route: 'POST /console/platform/curators/school', form: ['user', 'school'], session: true, prepare: plus(admin, () => ({ body: { user: acc.curator!.id } })) },
    { route: 'POST /console/platform/curators/revoke', form: ['user', 'school'], session: true, prepare: plus(admin, () => ({ body: { school: schoolB.id } })) },
    { route: 'GET /console/platform/clients', query: ['lang'], session: true, prepare: admin },
    // The admin API.
    { route: 'GET /admin/api/v1/clients', query: ['school_id'], api: true, prepare: bearer },
    {
      route: 'POST /admin/api/v1/clients', json: API_CLIENT, api: true,
      prepare: async () => ({ ...(await bearer()), json: { client_name: 'Библиотека', redirect_uris: ['https://library.example.ru/cb'] } }),
    },
    { route: 'GET /admin/api/v1/clients/:id', query: ['lang'], api: true, prepare: apiClient },
    { route: 'PATCH /admin/api/v1/clients/:id', json: API_CLIENT, api: true, prepare: async () => ({ ...(await apiClient()), json: { client_name: 'Библиотека 2' } }) },
    {
      route: 'DELETE /admin/api/v1/clients/:id', api: true, fresh: true,
      prepare: async () => {
        const { client } = await registerClient(srv.app, { client_name: 'Удаляемое', redirect_uris: ['https://gone.example.ru/cb'] }, cliAudit(srv.app.db));
        return { ...(await bearer()), params: { id: client.client_id } };
      },
    },
    { route: 'POST /admin/api/v1/clients/:id/secret', json: [], api: true, prepare: apiClient },
    { route: 'POST /admin/api/v1/initial-access-tokens', json: ['school_id', 'ttl_days'], api: true, prepare: async () => ({ ...(await bearer()), json: { school_id: schoolA.id, ttl_days: 1 } }) },
    { route: 'GET /admin/api/v1/schools/:school/clients', query: ['lang'], api: true, prepare: apiClient },
    { route: 'PUT /admin/api/v1/schools/:school/clients/:id', json: [], api: true, prepare: apiClient },
    { route: 'DELETE /admin/api/v1/schools/:school/clients/:id', api: true, prepare: apiClient },
    { route: 'GET /admin/api/v1/schools', query: ['q', 'limit', 'offset'], api: true, prepare: bearer },
    { route: 'GET /admin/api/v1/openapi.json', query: ['lang'], api: true, prepare: async () => ({ browser: new Browser(srv.url) }) },
    // oidc-provider's endpoints (the discovery document lists them).
    {
      route: 'GET /auth', query: AUTH_PARAMS,
      prepare: async () => {
        const url = (await startLogin(rp, { redirect_uri: redirectUri, school: schoolA.slug })).authUrl;
        return { browser: new Browser(srv.url), query: Object.fromEntries(url.searchParams) };
      },
    },
    {
      route: 'POST /token', form: ['grant_type', 'code', 'redirect_uri', 'code_verifier', 'refresh_token', 'scope', 'client_id', 'client_secret', 'resource'], api: true,
      prepare: async () => ({ ...(await basic()), body: { grant_type: 'authorization_code', code: 'c'.repeat(43), redirect_uri: redirectUri, code_verifier: 'v'.repeat(43) } }),
    },
    {
      route: 'POST /request', form: AUTH_PARAMS, api: true,
      prepare: async () => {
        const url = (await startLogin(rp, { redirect_uri: redirectUri, school: schoolA.slug })).authUrl;
        return { ...(await basic()), body: Object.fromEntries(url.searchParams) };
      },
    },
    {
      route: 'POST /reg', json: DCR_METADATA, api: true,
      prepare: async () => ({
        browser: new Browser(srv.url), headers: { authorization: `Bearer ${iat}` },
        json: { client_name: 'Кружок', redirect_uris: ['https://club.example.ru/cb'], grant_types: ['authorization_code'], response_types: ['code'] },
      }),
    },
    { route: 'GET /session/end', query: ['id_token_hint', 'post_logout_redirect_uri', 'state', 'client_id', 'logout_hint', 'ui_locales'], prepare: anon() },
    {
      route: 'GET /me', query: ['access_token', 'claims'], api: true, header: { name: 'authorization', prefix: 'Bearer ' },
      prepare: async () => ({ browser: new Browser(srv.url), headers: { authorization: `Bearer ${userToken}` } }),
    },
    { route: 'POST /token/introspection', form: ['token', 'token_type_hint', 'client_id'], api: true, prepare: async () => ({ ...(await basic()), body: { token: userToken } }) },
    { route: 'POST /token/revocation', form: ['token', 'token_type_hint', 'client_id'], api: true, prepare: async () => ({ ...(await basic()), body: { token: 'r'.repeat(43) } }) },
    { route: 'GET /jwks', query: ['lang'], api: true, prepare: async () => ({ browser: new Browser(srv.url) }) },
  ];
}

/** An input as JSON with long text cut short, for failure messages. */
function brief(input: Input): string {
  return JSON.stringify(input, (_, v: unknown) => (typeof v === 'string' && v.length > 80 ? `${v.slice(0, 40)}…(${v.length} chars)` : v));
}

/** A stable seed per target: adding a route changes no other route's inputs. */
function seedOf(route: string): number {
  let h = SEED;
  for (const ch of route) h = (Math.imul(h, 31) + ch.charCodeAt(0)) | 0;
  return h;
}

// ——— the test ——————————————————————————————————————————————————————————————————————

beforeAll(async () => {
  srv = await startTestServer({ overrides: { throttle: relaxed }, logs: LOGS });
  schoolA = await addSchool(srv.db, { number: '48213', slug: 'bad-input-a', name: 'Школа № 48213' });
  schoolB = await addSchool(srv.db, { number: '48219', slug: 'bad-input-b', name: 'Школа № 48219' });
  rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  redirectUri = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;

  const kid = await addStudent(srv.app, schoolA, { lastName: 'Смирнов', firstName: 'Коля', className: '6А' });
  const kid2 = await addStudent(srv.app, schoolA, { lastName: 'Смирнова', firstName: 'Оля', className: '6А' });
  const kid3 = await addStudent(srv.app, schoolA, { lastName: 'Смирнов', firstName: 'Петя', className: '7Б' });
  kidId = kid.id;
  const issued = await issue(srv.app, schoolA, [kid2, kid3], { parents: 2, students: 0 });
  codes = { register: codeOf(issued, kid2, 'parent'), child: codeOf(issued, kid3, 'parent') };

  acc.curator = await addAccount(srv.app, schoolA, { login: 'kurator', kind: 'staff', roles: ['curator', 'teacher'] });
  acc.mfaCurator = await addAccount(srv.app, schoolA, { login: 'kurator2', kind: 'staff', roles: ['curator'] });
  acc.pupil = await addAccount(srv.app, schoolA, { login: 'kolya', kind: 'student', personId: kid.id, email: 'kolya@example.ru' });
  acc.guardian = await addAccount(srv.app, schoolA, { login: 'papa', kind: 'parent', phone: '+7 900 000-00-01' });
  await srv.db('guardianships').insert({ user_id: acc.guardian.id, person_id: kid.id });
  acc.account = await addAccount(srv.app, schoolA, { login: 'mama', kind: 'parent' });
  acc.signout = await addAccount(srv.app, schoolA, { login: 'babushka', kind: 'parent' });
  acc.consent = await addAccount(srv.app, schoolA, { login: 'dedushka', kind: 'parent' });
  acc.mustChange = await addAccount(srv.app, schoolA, { login: 'novenkiy', kind: 'student' });
  await setPasswordHash(srv.db, acc.mustChange.id, await srv.app.passwords.hash(acc.mustChange.password), true);
  acc.noEmail = await addAccount(srv.app, schoolA, { login: 'bezpochty', kind: 'parent', email: null });
  acc.admin = await addAccount(srv.app, null, { login: 'admin', roles: ['admin'] });

  const library = await registerClient(srv.app, { client_name: 'Школьная библиотека', redirect_uris: ['https://library.example.ru/cb'] }, cliAudit(srv.app.db));
  libraryId = library.client.client_id;
  thirdParty = await discover(srv.url, libraryId, library.secret);
  apiClientId = (await registerClient(srv.app, { client_name: 'Кружки', redirect_uris: ['https://clubs.example.ru/cb'] }, cliAudit(srv.app.db))).client.client_id;
  const service = await registerClient(srv.app, { client_name: 'Платформа', grant_types: ['client_credentials'], scope: 'admin' }, cliAudit(srv.app.db));
  adminToken = (await oidc.clientCredentialsGrant(await discover(srv.url, service.client.client_id, service.secret), { scope: 'admin' })).access_token;
  iat = (await issueInitialAccessToken(srv.db, { schoolId: schoolA.id, ttlDays: 1 , by: cliAudit(srv.db) })).token;
  const started = await startLogin(rp, { redirect_uri: redirectUri, school: schoolA.slug });
  const callback = await login(new Browser(srv.url), started, acc.pupil.login, acc.pupil.password);
  userToken = (await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce })).access_token;
  recoverToken = await issueToken(srv.db, { userId: acc.guardian.id, purpose: 'recover', email: acc.guardian.email!, ttlSeconds: 3600 });

  const curatorBrowser = await consoleLogin(srv.url, schoolA.number, acc.curator);
  sessions.curator = { browser: curatorBrowser, csrf: formOf(await (await curatorBrowser.follow('/console')).res.text(), /\/console\/logout$/).fields._csrf! };
  const adminBrowser = await consoleLogin(srv.url, '', acc.admin, { platform: true });
  sessions.admin = { browser: adminBrowser, csrf: formOf(await (await adminBrowser.follow('/console/platform/curators')).res.text(), /\/grant$/).fields._csrf! };
  sessions.account = await accountSession(acc.account);
}, 60_000);
afterAll(async () => srv?.close());

describe('bad input everywhere', () => {
  const all = () => targets();
  let sent = 0;
  let serverErrors = 0;
  let routeCount = 0;

  it('every route of the router and every endpoint of the provider has a target', async () => {
    const koa = buildApp(srv.app);
    const router = koa.middleware.map((mw) => (mw as { router?: Router }).router).find(Boolean);
    expect(router).toBeDefined();
    const ours = routesOf(router!);
    const list = all();
    const declared = new Set(list.map((t) => t.route));
    expect(declared.size).toBe(list.length); // one target per route

    const discovery = (await (await fetch(`${srv.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    const provider = Object.entries(discovery)
      .filter(([k, v]) => (k.endsWith('_endpoint') || k === 'jwks_uri') && typeof v === 'string')
      .map(([, v]) => new URL(v as string).pathname);
    const missing = [
      ...ours.filter((r) => !r.pattern && !declared.has(r.key)).map((r) => r.key),
      ...ours.filter((r) => r.pattern && !list.some((t) => t.route.startsWith(`${r.pattern!.method} `) && r.pattern!.match(t.route.split(' ')[1]!.replace(/:\w+/g, 'x')))).map((r) => r.key),
      ...provider.filter((p) => !list.some((t) => t.route.endsWith(` ${p}`))).map((p) => `provider ${p}`),
    ];
    expect(missing).toEqual([]);
    // And no target for a route that does not exist (a renamed route would leave it testing a 404).
    const known = new Set([...ours.map((r) => r.key), ...provider.map((p) => p)]);
    expect(list.filter((t) => !known.has(t.route) && !known.has(t.route.split(' ')[1]!)).map((t) => t.route)).toEqual([]);
    routeCount = list.length;
  });

  it('hostile values to every field, parameter and body: never a 5xx, never internals, a clear 4xx or a normal answer', async () => {
    const list = all();
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        const t = list[next++]!;
        let failed: { input: Input; problem: string } | undefined;
        try {
          let shared = t.fresh ? undefined : await t.prepare();
          // The valid request first: the session, token and interaction reach the handler.
          const baseline = await send(t, shared ?? (await t.prepare()), NO_INPUT);
          const why = problemOf(t, baseline) ?? notReached(t, baseline);
          if (why) throw new Error(`the valid request: ${why} (${baseline.status} ${baseline.location})`);
          await fc.assert(
            fc.asyncProperty(inputOf(t), async (input) => {
              const p = t.fresh ? await t.prepare() : (shared ??= await t.prepare());
              const a = await send(t, p, input);
              sent += 1;
              if (a.status >= 500) serverErrors += 1;
              const problem = problemOf(t, a);
              if (problem) {
                const logged = LOGS.filter((l) => /"level":"error"/.test(l)).at(-1)?.slice(0, 1500) ?? '';
                failed = { input, problem: `${problem}\n${a.status} ${a.type}\n${a.body.slice(0, 600)}\n${logged}` };
                throw new Error(problem);
              }
            }),
            { seed: seedOf(t.route), numRuns: RUNS, endOnFailure: true },
          );
        } catch (err) {
          failures.push(`${t.route}: ${failed ? `${failed.problem}\ninput: ${brief(failed.input)}` : (err as Error).message.slice(0, 1500)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    expect(failures).toEqual([]);
    expect(serverErrors).toBe(0);
    expect(sent).toBe(list.length * RUNS);
    // Nothing reached Object.prototype through a field name.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }, 300_000); // 3,500+ requests with argon2 behind some: ~100 s on a loaded two-core machine; the limit only stops a hang

  it('a name that may keep what was typed keeps it, and every page shows it escaped', async () => {
    const TYPED = '"><img src=x onerror=alert(1)><script>alert(1)</script>';
    const escaped = (html: string) => {
      expect(RAW_MARKUP.filter((m) => html.includes(m))).toEqual([]);
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    };
    const json = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    // A client of the platform's tooling, named with markup, approved for the school.
    const made = await fetch(`${srv.url}/admin/api/v1/clients`, { method: 'POST', headers: json, body: JSON.stringify({ client_name: `Библиотека ${TYPED}`, redirect_uris: ['https://xss.example.ru/cb'] }) });
    expect(made.status).toBe(201);
    const apiClient = (await made.json()) as { client_id: string };
    expect((await fetch(`${srv.url}/admin/api/v1/schools/${schoolA.id}/clients/${apiClient.client_id}`, { method: 'PUT', headers: json })).status).toBe(201);
    // A school's own app through dynamic registration, named the same way.
    const reg = await fetch(`${srv.url}/reg`, {
      method: 'POST', headers: { authorization: `Bearer ${iat}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: `Кружок ${TYPED}`, redirect_uris: ['https://club-xss.example.ru/cb'], grant_types: ['authorization_code'], response_types: ['code'] }),
    });
    expect(reg.status).toBe(201);
    const dcr = (await reg.json()) as { client_id: string; client_secret: string };
    // Its consent page names it.
    escaped((await promptPage(acc.consent!, { rp: await discover(srv.url, dcr.client_id, dcr.client_secret), redirect: 'https://club-xss.example.ru/cb' })).html);
    // The console's and the platform's lists of apps.
    escaped(await (await sessions.curator.browser.request('/console/apps')).text());
    escaped(await (await sessions.admin.browser.request('/console/platform/clients')).text());
    // A school named with markup is shown escaped wherever schools are listed.
    const added = await sessions.admin.browser.postForm('/console/platform/schools', { _csrf: sessions.admin.csrf, number: '48301', name: `Школа ${TYPED}`, region: 'Москва', slug: 'bad-input-xss' });
    expect(added.status).toBe(303);
    for (const [browser, page] of [[sessions.admin.browser, '/console/platform/schools'], [sessions.admin.browser, '/console/platform/counts'], [new Browser(srv.url), '/hello?q=48301']] as const) {
      escaped(await (await browser.request(page)).text());
    }
  });

  it('nothing broken is stored, and hostile text only where a person\'s exact words belong', async () => {
    // Where keeping what was typed is right: a client's name and metadata and a school's name
    // (shown escaped, see above), an address that is one, and the audit log's details (a failed
    // login keeps the typed login, for the record).
    const MAY_KEEP_TEXT = new Set(['clients.name', 'clients.metadata', 'schools.name', 'schools.region', 'audit_log.details', 'users.email', 'mail_outbox.to_address', 'email_tokens.email']);
    const ADDRESSES = new Set(['users.email', 'mail_outbox.to_address', 'email_tokens.email']);
    /** What no address holds unquoted (RFC 5322), and what no stored text should hold: controls, bidi overrides. */
    const NOT_AN_ADDRESS = /[\s<>()[\]\\,;:"\p{Cc}\p{Cf}]|\.\./u;
    const INVISIBLE = /[\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e\u2066-\u2069]/;
    const ONLY: Record<string, string[]> = { mail_outbox: ['to_address'], email_tokens: ['email'] };
    const garbage: string[] = [];
    let scanned = 0;
    for (const table of ['users', 'people', 'clients', 'audit_log', 'schools', 'school_clients', 'guardianships', 'invites', 'mail_outbox', 'email_tokens']) {
      const columns = ((await srv.db('information_schema.columns')
        .where({ table_name: table, table_schema: srv.db.raw('current_schema()') })
        .whereIn('data_type', ['text', 'character varying', 'jsonb', 'json'])
        .pluck('column_name')) as string[]).filter((c) => !ONLY[table] || ONLY[table]!.includes(c));
      for (const row of (await srv.db(table).select(columns)) as Record<string, unknown>[]) {
        for (const column of columns) {
          const v = row[column];
          if (v === null || v === undefined) continue;
          const text = typeof v === 'string' ? v : JSON.stringify(v);
          scanned += 1;
          const where = `${table}.${column}`;
          const show = JSON.stringify(text.slice(0, 120));
          if (text.includes('\u0000') || /\\u0000/.test(text)) garbage.push(`${where}: NUL`);
          if (!text.isWellFormed() || text.includes('\ufffd')) garbage.push(`${where}: broken Unicode in ${show}`);
          if (ADDRESSES.has(where) && NOT_AN_ADDRESS.test(text)) garbage.push(`${where}: not an address: ${show}`);
          if (where !== 'audit_log.details' && INVISIBLE.test(text)) garbage.push(`${where}: control or bidi characters in ${show}`);
          if (!MAY_KEEP_TEXT.has(where)) {
            const marker = STORED_MARKERS.find((m) => text.toLowerCase().includes(m));
            if (marker) garbage.push(`${where}: ${marker} in ${show}`);
          }
        }
      }
    }
    expect(scanned).toBeGreaterThan(100);
    expect(garbage).toEqual([]);
    recordCounts(FILE_KEY, { 'bad-input.stored-garbage': garbage.length });
  });

  it('what the sweep found stays fixed', async () => {
    const json = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    // 1. Bytes that are not UTF-8 became U+FFFD and were stored (a school's name, a client's).
    const school = Buffer.concat([Buffer.from(`_csrf=${sessions.admin.csrf}&number=48302&region=${pct('Москва')}&name=${pct('Школа ')}`), BAD_BYTES]);
    const page = await sessions.admin.browser.request('/console/platform/schools', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: school });
    expect(page.status).toBe(400);
    expect(await page.text()).toContain('<html lang="ru"');
    expect(await srv.db('schools').where({ number: '48302' }).first()).toBeUndefined();
    const client = Buffer.concat([Buffer.from('{"client_name":"Кружок '), BAD_BYTES, Buffer.from('","redirect_uris":["https://bytes.example.ru/cb"]}')]);
    const api = await fetch(`${srv.url}/admin/api/v1/clients`, { method: 'POST', headers: json, body: client });
    expect([api.status, ((await api.json()) as { error: string }).error]).toEqual([400, 'invalid_client_metadata']);
    // 2. An «address» with markup or a bidi override was taken as an email, and a letter queued to it.
    for (const email of ['"><script>alert(1)</script>@example.ru', 'https://app.example.ru/\u202eвтсечилоп\u202c@example.ru', 'a..b@example.ru']) {
      const r = await sessions.curator.browser.postForm(`/console/users/${acc.pupil!.id}/contacts`, { _csrf: sessions.curator.csrf, email, phone: '', snils: '' });
      expect([email, r.status]).toEqual([email, 400]);
      expect(await srv.db('mail_outbox').where({ to_address: email }).first()).toBeUndefined();
    }
    // 2b. A school's name with a bidi override (shown on its login pages, it would read as another
    // school's) was taken; an app's name never was.
    const bidi = await sessions.admin.browser.postForm('/console/platform/schools', { _csrf: sessions.admin.csrf, number: '48303', name: 'Школа № \u202e3031', region: 'Москва', slug: 'bad-input-bidi' });
    expect(bidi.status).toBe(400);
    expect(await srv.db('schools').where({ number: '48303' }).first()).toBeUndefined();
    // 3. A GET of a path that only a form posts to got Koa's bare English «Method Not Allowed».
    const get = await new Browser(srv.url).request('/console/logout');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toContain('POST');
    expect(await get.text()).toMatch(/<html lang="ru"[\s\S]*Не удалось выполнить запрос/);
    // 4. An app the platform's tooling approved for the school (an audit entry whose actor is a
    // client, not an account) made the curator's audit page a 500.
    const approved = await fetch(`${srv.url}/admin/api/v1/schools/${schoolA.id}/clients/${libraryId}`, { method: 'PUT', headers: json });
    expect(approved.status).toBeLessThan(300);
    expect(await srv.db('audit_log').where({ action: 'client.approve', actor_type: 'client', school_id: schoolA.id }).first()).toBeDefined();
    expect((await sessions.curator.browser.request('/console/audit')).status).toBe(200);
  });

  it('every page still renders afterwards, with whatever was stored shown escaped', async () => {
    const pages: [Browser, string][] = [
      ...['/', '/privacy', '/hello', `/hello?q=${schoolA.number}`, '/recover', '/register', '/healthz', '/readyz'].map((p): [Browser, string] => [new Browser(srv.url), p]),
      ...['/console', `/console?q=${encodeURIComponent('Смирнов')}`, `/console/users/${acc.pupil!.id}`, `/console/users/${acc.guardian!.id}`, '/console/audit', '/console/roster', '/console/invites', '/console/apps'].map((p): [Browser, string] => [sessions.curator.browser, p]),
      ...['/console/platform', '/console/platform/health', '/console/platform/counts', '/console/platform/audit', '/console/platform/schools', '/console/platform/curators', '/console/platform/clients'].map((p): [Browser, string] => [sessions.admin.browser, p]),
      [sessions.account.browser, '/account'],
    ];
    let rendered = 0; // pages answered 200 with nothing raw or leaked, counted as they pass
    for (const [browser, page] of pages) {
      const res = await browser.request(page);
      const body = await res.text();
      expect([page, res.status]).toEqual([page, 200]);
      expect(RAW_MARKUP.filter((m) => body.includes(m))).toEqual([]);
      expect(LEAK.test(body) || SQL_TEXT.test(body)).toBe(false);
      rendered += 1;
    }
    // A fresh login still reaches its form.
    const i = await interaction();
    expect(i.html).toContain('/login"');
    rendered += 1;
    recordCounts(FILE_KEY, {
      'bad-input.routes-covered': routeCount,
      'bad-input.inputs-sent': sent,
      'bad-input.server-errors': serverErrors,
      'bad-input.pages-rendered-after': rendered,
    });
  });
});
