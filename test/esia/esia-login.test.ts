/**
 * «Войти через Госуслуги» end to end over real HTTP: a relying party (openid-client) → journal-id
 * → the fake ESIA (which checks the signed requests as ESIA does) → back, table-driven over the
 * matching rules, then the error paths: ESIA refusing, failing, slow, forging; replayed and
 * foreign callbacks; and a password login right after each.
 */
import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeEsia, type FakeEsia, type FakePerson } from '../../fake-esia/server.js';
import { freePort, startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { addStudent } from '../helpers/school.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin, continueToRp, login, oidc, type StartedLogin } from '../helpers/rp.js';
import type { School } from '../../src/schools/queries.js';

const CLIENT_ID = 'JOURNALTEST';
const eml = (value: string, verified = true) => ({ type: 'EML' as const, value, vrfStu: verified ? ('VERIFIED' as const) : ('NOT_VERIFIED' as const) });
const mbt = (value: string, verified = true) => ({ type: 'MBT' as const, value, vrfStu: verified ? ('VERIFIED' as const) : ('NOT_VERIFIED' as const) });
const esiaPerson = (oid: number, over: Partial<FakePerson> = {}): FakePerson => ({
  oid, lastName: 'Петров', firstName: 'Иван', middleName: 'Сергеевич', birthDate: '26.05.1990', gender: 'M', trusted: true, contacts: [], ...over,
});

const people: FakePerson[] = [
  esiaPerson(1000000001, { snils: '112-233-445 95', contacts: [eml('someone-else@example.ru')] }),
  esiaPerson(1000000002, { contacts: [eml('Mama@Example.ru'), mbt('+7(900)0000001', false)] }),
  esiaPerson(1000000003, { contacts: [eml('papa@example.ru', false)] }),
  esiaPerson(1000000004, { contacts: [mbt('+7(999)1234567')] }),
  esiaPerson(1000000005, { contacts: [mbt('+79991112233')] }),
  esiaPerson(1000000006, { contacts: [eml('anna@example.ru')] }),
  esiaPerson(1000000007, { contacts: [eml('old@example.ru')] }),
  esiaPerson(1000000008, { trusted: false, snils: '123-456-789 64' }),
  esiaPerson(1000000009, { snils: '160-113-185 03' }),
  esiaPerson(1000000010, { contacts: [eml('unconf@example.ru')] }),
  esiaPerson(1000000011),
  esiaPerson(1000000012, { contacts: [mbt('+7(900)5555555', false)] }),
  esiaPerson(1000000013, { contacts: [mbt('+7(999)1234567', false)] }),
  esiaPerson(1000000014, { snils: '145-227-398 60' }),
];

let fake: FakeEsia;
let srv: TestServer;
let rp: oidc.Configuration;
let redirectUri: string;
let schoolA: School;
let schoolB: School;
const acc: Record<string, Awaited<ReturnType<typeof addAccount>>> = {};

beforeAll(async () => {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-esia-'));
  const keyFile = path.join(dir, 'client-key.pem');
  const certFile = path.join(dir, 'client-cert.pem');
  fake = await startFakeEsia({
    port: 0,
    people,
    slowMs: 5000,
    clients: [{ clientId: CLIENT_ID, redirectUris: [`http://localhost:${port}/esia/callback`], certificate: () => fs.readFileSync(certFile, 'utf8') }],
  });
  const esiaCert = path.join(dir, 'esia.pem');
  fs.writeFileSync(esiaCert, fake.certificate);
  srv = await startTestServer({
    port,
    env: {
      ESIA_CLIENT_ID: CLIENT_ID, ESIA_URL: fake.url, ESIA_CERTS: esiaCert,
      ESIA_SIGNER: 'dev', ESIA_KEY_FILE: keyFile, ESIA_CERT_FILE: certFile, ESIA_TIMEOUT_MS: '1500', ESIA_PKCE: 'true',
    },
  });
  schoolA = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399', region: 'Москва' });
  schoolB = await addSchool(srv.db, { number: '57', slug: '57', name: 'Школа № 57', region: 'Москва' });
  const vanya = await addStudent(srv.app, schoolA, { snils: '11223344595' });
  const petya = await addStudent(srv.app, schoolA, { snils: '12345678964' });
  acc.vanya = await addAccount(srv.app, schoolA, { login: 'vanya', kind: 'student', personId: vanya.id });
  acc.petya = await addAccount(srv.app, schoolA, { login: 'petya', kind: 'student', personId: petya.id });
  acc.mama = await addAccount(srv.app, schoolA, { login: 'mama', kind: 'parent', email: 'mama@example.ru' });
  acc.papa = await addAccount(srv.app, schoolA, { login: 'papa', kind: 'parent', email: 'papa@example.ru' });
  acc.babushka = await addAccount(srv.app, schoolA, { login: 'babushka', kind: 'parent', phone: '8 999 123-45-67' });
  acc.dedushka = await addAccount(srv.app, schoolA, { login: 'dedushka', kind: 'parent', phone: '+7 (999) 111-22-33' });
  acc.uchitel = await addAccount(srv.app, schoolA, { login: 'uchitel', kind: 'staff', roles: ['teacher'], email: 'anna@example.ru' });
  acc.annaParent = await addAccount(srv.app, schoolB, { login: 'anna.parent', kind: 'parent', email: 'ANNA@example.ru' });
  acc.old = await addAccount(srv.app, schoolA, { login: 'old', kind: 'parent', email: 'old@example.ru' });
  await srv.db('users').where({ id: acc.old.id }).update({ disabled_at: srv.db.fn.now() });
  acc.self = await addAccount(srv.app, schoolA, { login: 'self', kind: 'parent', snils: '160-113-185 03', snilsSource: 'self' });
  acc.unconf = await addAccount(srv.app, schoolA, { login: 'unconf', kind: 'parent', email: 'unconf@example.ru', emailVerified: false });
  acc.linked = await addAccount(srv.app, schoolB, { login: 'linked', kind: 'parent' });
  acc.typist = await addAccount(srv.app, schoolA, { login: 'typist', kind: 'parent' });
  await srv.db('federated_identities').insert({ provider: 'esia', subject: '1000000011', user_id: acc.linked.id, linked_via: 'email' });
  rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  redirectUri = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
});
afterAll(async () => {
  await srv?.close();
  await fake?.close();
});
beforeEach(() => {
  fake.fail(null);
  fake.loginAs(null);
});

interface AtEsia {
  browser: Browser;
  started: StartedLogin;
  /** The authorization request journal-id sent to ESIA. */
  esiaUrl: URL;
}

/** From the app to ESIA: the login page's «Войти через Госуслуги». */
async function toEsia(browser = new Browser(srv.url)): Promise<AtEsia> {
  const started = await startLogin(rp, { redirect_uri: redirectUri, school: '1399' });
  const page = await openLoginPage(browser, started.authUrl);
  expect(page.html).toContain('Войти через Госуслуги');
  const form = formOf(page.html, /\/esia$/);
  const res = await browser.postForm(form.action, form.fields);
  expect(res.status).toBe(303);
  const esiaUrl = new URL(res.headers.get('location')!);
  expect(esiaUrl.origin + esiaUrl.pathname).toBe(`${fake.url}/aas/oauth2/v2/ac`);
  return { browser, started, esiaUrl };
}

/** ESIA logs `oid` in (or fails as told) and sends the browser back; returns where it ends in journal-id. */
async function backFromEsia(at: AtEsia, oid: number): Promise<{ res: Response; url: string; callback: string }> {
  fake.loginAs(oid);
  const atEsia = await fetch(at.esiaUrl, { redirect: 'manual' });
  expect(atEsia.status).toBe(302);
  const callback = atEsia.headers.get('location')!;
  expect(callback.startsWith(`${srv.url}/esia/callback?`)).toBe(true);
  return { ...(await at.browser.follow(callback)), callback };
}

async function subAt(at: AtEsia, res: Response, url: string): Promise<{ sub: string; amr: unknown }> {
  const cb = await continueToRp(at.browser, res, url);
  const tokens = await oidc.authorizationCodeGrant(rp, cb, { pkceCodeVerifier: at.started.verifier, expectedState: at.started.state, expectedNonce: at.started.nonce });
  const claims = tokens.claims()!;
  return { sub: claims.sub, amr: claims.amr };
}

async function esiaLogin(oid: number) {
  const at = await toEsia();
  return { at, ...(await backFromEsia(at, oid)) };
}

describe('the request journal-id sends to ESIA', () => {
  it('is v2/ac with a UUID state, ESIA timestamp, certificate hash, PKCE and a signature the fake accepted', async () => {
    const at = await toEsia();
    const p = at.esiaUrl.searchParams;
    expect(p.get('client_id')).toBe(CLIENT_ID);
    expect(p.get('redirect_uri')).toBe(`${srv.url}/esia/callback`);
    expect(p.get('response_type')).toBe('code');
    expect(p.get('state')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(p.get('timestamp')).toMatch(/^\d{4}\.\d{2}\.\d{2} \d{2}:\d{2}:\d{2} \+0000$/);
    expect(p.get('client_certificate_hash')).toMatch(/^[0-9A-F]{64}$/);
    expect(p.get('client_secret')).toMatch(/^[A-Za-z0-9_-]{86}$/); // 64 raw bytes, base64url
    expect(p.get('code_challenge_method')).toBe('S256');
    expect(p.get('scope')).toBe('openid fullname snils email mobile');
    const { res } = await backFromEsia(at, 1000000002);
    expect(res.status).toBeLessThan(400);
  });
});

describe('matching rules', () => {
  const direct: Array<[string, number, string]> = [
    ['SNILS the school entered (roster)', 1000000001, 'vanya'],
    ['email confirmed on both sides (case-insensitive)', 1000000002, 'mama'],
    ['an existing link by oid, though no data matches', 1000000011, 'linked'],
  ];
  it.each(direct)('%s → logged in at once, amr esia, link stored', async (_name, oid, login) => {
    const { at, res, url } = await esiaLogin(oid);
    const { sub, amr } = await subAt(at, res, url);
    expect(sub).toBe(acc[login === 'anna.parent' ? 'annaParent' : login]!.id);
    expect(amr).toEqual(['esia']);
    const link = await srv.db('federated_identities').where({ user_id: sub }).first();
    expect(link.subject).toBe(String(oid));
    const audit = await srv.db('audit_log').where({ target_id: sub, action: 'login.success' }).orderBy('id', 'desc').first();
    expect(audit.details.method).toBe('esia');
  });

  const weak: Array<[string, number, string]> = [
    ['verified mobile «+7(999)1234567» = phone typed «8 999 123-45-67»', 1000000004, 'babushka'],
    ['verified mobile «+79991112233»', 1000000005, 'dedushka'],
    ['SNILS the person typed', 1000000009, 'self'],
  ];
  it.each(weak)('%s → the password once, then linked; the next time no password', async (_name, oid, login) => {
    const first = await esiaLogin(oid);
    const html = await first.res.text();
    expect(html).toContain('Подтвердите учётную запись');
    expect(html).toContain(login);
    const form = formOf(html, /\/esia\/confirm$/);
    // A wrong password: the same generic words, nothing linked.
    const wrong = await first.at.browser.postForm(form.action, { ...form.fields, password: 'not-it-123' });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('Неверное имя пользователя или пароль');
    expect(await srv.db('federated_identities').where({ user_id: acc[login]!.id }).first()).toBeUndefined();
    const right = await first.at.browser.postForm(form.action, { ...form.fields, password: acc[login]!.password });
    expect(right.status).toBe(303);
    const after = await first.at.browser.follow(new URL(right.headers.get('location')!, srv.url).toString());
    expect((await subAt(first.at, after.res, after.url)).sub).toBe(acc[login]!.id);
    expect((await srv.db('federated_identities').where({ user_id: acc[login]!.id }).first()).subject).toBe(String(oid));

    const again = await esiaLogin(oid);
    expect((await subAt(again.at, again.res, again.url)).sub).toBe(acc[login]!.id);
  });

  it('two matches (a teacher at one school, a parent at another) → the chooser → the chosen account', async () => {
    const { at, res } = await esiaLogin(1000000006);
    const html = await res.text();
    expect(html).toContain('Выберите учётную запись');
    for (const text of ['Школа № 1399', 'Школа № 57', 'uchitel', 'anna.parent', 'Сотрудник школы', 'Родитель']) expect(html).toContain(text);
    // Only ids the flow found: another account's id is refused.
    const form = formOf(html, /\/esia\/choose$/);
    const forged = await at.browser.postForm(form.action, { ...form.fields, account: acc.mama!.id });
    expect(forged.status).toBe(400);
    const chosen = await at.browser.postForm(form.action, { ...formOf(await forged.text(), /\/esia\/choose$/).fields, account: acc.annaParent!.id });
    expect(chosen.status).toBe(303);
    const after = await at.browser.follow(new URL(chosen.headers.get('location')!, srv.url).toString());
    expect((await subAt(at, after.res, after.url)).sub).toBe(acc.annaParent!.id);
  });

  const none: Array<[string, number]> = [
    ['an email ESIA has not verified', 1000000003],
    ['a disabled account', 1000000007],
    ['SNILS of an unconfirmed (untrusted) ESIA account', 1000000008],
    ['an email not confirmed in the journal', 1000000010],
    ['no data at all', 1000000012],
    ['a mobile ESIA has not verified', 1000000013],
  ];
  it.each(none)('%s → the FAQ message, nothing created', async (_name, oid) => {
    const users = (await srv.db('users').count({ n: '*' }))[0]!.n;
    const links = (await srv.db('federated_identities').count({ n: '*' }))[0]!.n;
    const { at, res } = await esiaLogin(oid);
    expect(res.status).toBe(404);
    const html = await res.text();
    expect(html).toContain('Не удалось найти возможного пользователя для авторизации');
    expect(html).toContain('СНИЛС, email, мобильный телефон');
    expect(html).toContain('куратору электронного журнала');
    expect((await srv.db('users').count({ n: '*' }))[0]!.n).toBe(users);
    expect((await srv.db('federated_identities').count({ n: '*' }))[0]!.n).toBe(links);
    // «Войти по логину и паролю» goes back to the same login form, which works.
    const back = /href="(\/interaction\/[^"]+)"/.exec(html)![1]!;
    const page = await at.browser.follow(back);
    const { url } = await submitLogin(at.browser, await page.res.text(), 'vanya', acc.vanya!.password);
    expect(url.startsWith(redirectUri)).toBe(true);
  });
});

describe('ESIA failing', () => {
  const cases: Array<[string, Parameters<FakeEsia['fail']>[0], string, number]> = [
    ['the person refuses access', 'access_denied', 'Вход через Госуслуги отменён', 400],
    ['an unconfirmed ESIA account', 'unconfirmed', 'не подтверждена', 400],
    ['the code is refused (invalid_grant)', 'invalid_grant', 'Не удалось выполнить вход через Госуслуги', 502],
    ['ESIA is down (5xx)', 'server_error', 'Госуслуги временно недоступны, войдите по логину и паролю', 503],
    ['ESIA is slow (past the timeout)', 'slow', 'Госуслуги временно недоступны, войдите по логину и паролю', 503],
    ['tokens signed by another key', 'wrong_key', 'Не удалось выполнить вход через Госуслуги', 502],
    ['tokens of another issuer', 'wrong_issuer', 'Не удалось выполнить вход через Госуслуги', 502],
    ['expired tokens', 'expired_token', 'Не удалось выполнить вход через Госуслуги', 502],
    ['person data refused (403: a scope not approved)', 'rest_forbidden', 'школьному журналу ещё не разрешён их запрос', 502],
  ];
  it.each(cases)('%s → a clear page, and a password login right after works', async (_name, mode, text, status) => {
    const at = await toEsia();
    fake.fail(mode);
    const { res } = await backFromEsia(at, 1000000002);
    // Slow: the answer is ours, given while ESIA still holds the token request unanswered (its
    // wait, 5 s, is longer than ESIA_TIMEOUT_MS): the connector's timeout cut it, not ESIA.
    if (mode === 'slow') expect({ heldByEsia: fake.waiting, asked: fake.requests.some((q) => q.path === '/aas/oauth2/v3/te') }).toEqual({ heldByEsia: 1, asked: true });
    expect(res.status).toBe(status);
    const html = await res.text();
    expect(html).toContain(text);
    expect(html).not.toMatch(/eyJ|Error:|at \w+ \(/); // no tokens, no stack
    fake.fail(null);
    const back = /href="(\/interaction\/[^"]+)"/.exec(html)![1]!;
    const page = await at.browser.follow(back);
    const { url } = await submitLogin(at.browser, await page.res.text(), 'vanya', acc.vanya!.password);
    expect(url.startsWith(redirectUri)).toBe(true);
  });
});

describe('forged and replayed callbacks', () => {
  it('a replayed callback (the same state and code again) is refused', async () => {
    const { at, callback, res, url } = await esiaLogin(1000000002);
    await subAt(at, res, url);
    const replay = await at.browser.request(callback);
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('недействительна или уже использована');
  });

  it('a callback in another browser (state not of this browser) is refused and does not use up the state', async () => {
    const at = await toEsia();
    fake.loginAs(1000000002);
    const atEsia = await fetch(at.esiaUrl, { redirect: 'manual' });
    const callback = atEsia.headers.get('location')!;
    const other = new Browser(srv.url);
    const res = await other.request(callback);
    expect(res.status).toBe(400);
    // The rightful browser still completes.
    const mine = await at.browser.follow(callback);
    expect((await subAt(at, mine.res, mine.url)).sub).toBe(acc.mama!.id);
  });

  it('an unknown state, a non-UUID state and a missing state are refused', async () => {
    const browser = new Browser(srv.url);
    for (const q of ['state=8f9c6a0e-1d2b-4c3d-9e8f-0a1b2c3d4e5f&code=x', 'state=abc&code=x', 'code=x', 'state[]=1&code=x']) {
      const res = await browser.request(`/esia/callback?${q}`);
      expect(res.status).toBe(400);
    }
  });

  it('the chooser of one interaction cannot be used from another browser', async () => {
    const { at, res } = await esiaLogin(1000000006);
    const form = formOf(await res.text(), /\/esia\/choose$/);
    const other = new Browser(srv.url);
    const r = await other.postForm(form.action, { ...form.fields, account: acc.uchitel!.id });
    expect([400, 403]).toContain(r.status);
    expect(at.browser.cookie('jid_interaction')).toBeTruthy();
  });

  it('forged callbacks are on no throttle: never 429, the address\'s counter stays at zero (issue 16.7)', async () => {
    await srv.app.throttle.unlock('esia:ip:127.0.0.1'); // the failures above (tokens that fail verification) counted
    const browser = new Browser(srv.url);
    for (let i = 0; i < srv.config.throttle.esiaAddress.free + 2; i++) {
      const res = await browser.request(`/esia/callback?state=8f9c6a0e-1d2b-4c3d-9e8f-0a1b2c3d4e5${i % 10}&code=x`);
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('начните вход заново');
    }
    expect((await srv.app.throttle.peek('esia:ip:127.0.0.1', srv.config.throttle.esiaAddress)).count).toBe(0);
  });

  it('a pending login\'s callback: an answer that fails verification counts on the address, ESIA\'s refusal does not', async () => {
    await srv.app.throttle.unlock('esia:ip:127.0.0.1');
    const count = async () => (await srv.app.throttle.peek('esia:ip:127.0.0.1', srv.config.throttle.esiaAddress)).count;
    const forgedTokens = await toEsia();
    fake.fail('wrong_key');
    expect((await backFromEsia(forgedTokens, 1000000002)).res.status).toBe(502);
    expect(await count()).toBe(1);
    const refused = await toEsia();
    fake.fail('invalid_grant');
    expect((await backFromEsia(refused, 1000000002)).res.status).toBe(502);
    expect(await count()).toBe(1);
    await srv.app.throttle.unlock('esia:ip:127.0.0.1');
  });
});

describe('hostile input', () => {
  const HOSTILE = ['', 'a\u0000b', "' OR 1=1 --", '<script>alert(1)</script>', '𝕏😀\u202e', 'x'.repeat(5000), '../../etc/passwd', '{"$ne":null}', '00000000-0000-0000-0000-000000000000'];
  const clean = (status: number, body: string) => {
    expect(status).toBeLessThan(500);
    expect(body).not.toMatch(/\bat [\w.<>]+ \(|node_modules|TypeError|SyntaxError/);
    expect(body).not.toContain('<script>alert(1)</script>');
  };

  it('in every callback parameter, and in the chooser and password forms: never a 500, nothing linked', async () => {
    const links = (await srv.db('federated_identities').count({ n: '*' }))[0]!.n;
    const browser = new Browser(srv.url);
    for (const value of HOSTILE) {
      const v = encodeURIComponent(value);
      for (const q of [`state=${v}&code=${v}`, `error=${v}&error_description=${v}&state=${v}`, `code=${v}&code=${v}&state=${v}&state=x`]) {
        const res = await browser.request(`/esia/callback?${q}`);
        clean(res.status, await res.text());
      }
    }
    await srv.app.throttle.unlock('esia:ip:127.0.0.1');
    const { at, res } = await esiaLogin(1000000006);
    const form = formOf(await res.text(), /\/esia\/choose$/);
    for (const value of HOSTILE) {
      const chosen = await at.browser.postForm(form.action, { ...form.fields, account: value });
      clean(chosen.status, await chosen.text());
      const confirm = await at.browser.postForm(form.action.replace(/choose$/, 'confirm'), { ...form.fields, account: value, password: value });
      clean(confirm.status, await confirm.text());
    }
    expect((await srv.db('federated_identities').count({ n: '*' }))[0]!.n).toBe(links);
  });
});

describe('the account page', () => {
  it('shows «Госуслуги подключены» and unlinks; the audit has link, login and unlink', async () => {
    const { at, res, url } = await esiaLogin(1000000001);
    await subAt(at, res, url);
    const page = await at.browser.follow('/account');
    const html = await page.res.text();
    expect(html).toContain('Госуслуги подключены');
    const form = formOf(html, /\/account\/esia\/unlink$/);
    const r = await at.browser.postForm(form.action, form.fields);
    expect(r.status).toBe(303);
    const after = await (await at.browser.follow('/account?done=esia')).res.text();
    expect(after).toContain('Госуслуги не подключены');
    expect(await srv.db('federated_identities').where({ user_id: acc.vanya!.id }).first()).toBeUndefined();
    const actions = (await srv.db('audit_log').where({ target_id: acc.vanya!.id }).select('action')).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['esia.link', 'login.success', 'esia.unlink']));
  });

  it('a person adds their SNILS (checksum checked, password required); Gosuslugi then finds them by it after the password once', async () => {
    const browser = new Browser(srv.url);
    await login(browser, await startLogin(rp, { redirect_uri: redirectUri, school: '1399' }), 'typist', acc.typist!.password);
    const page = await (await browser.follow('/account')).res.text();
    expect(page).toContain('Госуслуги не подключены');
    const form = formOf(page, /\/account\/snils$/);
    const bad = await browser.postForm(form.action, { ...form.fields, snils: '145-227-398 61', password: acc.typist!.password });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('Неверный СНИЛС: не сходится контрольное число.');
    const noPassword = await browser.postForm(form.action, { ...form.fields, snils: '145-227-398 60', password: 'wrong-one-1' });
    expect(noPassword.status).toBe(400);
    const ok = await browser.postForm(form.action, { ...form.fields, snils: '145 227 398 60', password: acc.typist!.password });
    expect(ok.status).toBe(303);
    const row = await srv.db('users').where({ id: acc.typist!.id }).first('snils', 'snils_source');
    expect(row).toEqual({ snils: '14522739860', snils_source: 'self' });

    const { res } = await esiaLogin(1000000014);
    const html = await res.text();
    expect(html).toContain('Подтвердите учётную запись');
    expect(html).toContain('СНИЛС, указанному в журнале');
  });

  it('stores nothing of ESIA person data and logs no SNILS, token or contact', async () => {
    const flows = await srv.db('esia_flows').select('*');
    const dump = JSON.stringify(flows) + JSON.stringify(await srv.db('federated_identities').select('*')) + JSON.stringify(await srv.db('audit_log').select('details'));
    for (const secret of ['11223344595', '112-233-445', 'Mama@Example', '+7(999)']) expect(dump).not.toContain(secret);
    // No JWT (ESIA's tokens): a header and a payload, each base64url JSON. Not the bare «eyJ», which a
    // random interaction id or state may hold by chance (one CI run in a few hundred did).
    expect(dump).not.toMatch(/eyJ[\w-]{10,}\.eyJ[\w-]{10,}/);
  });
});
