/**
 * Issue 16, item 1: a curator took over another account through Gosuslugi. Curator A of school
 * 1399 wrote their own SNILS onto curator B (who also curates school 57 and has a second factor);
 * matching treated a school-entered SNILS as strong, linked silently, and ESIA counted as the
 * console's second factor — so A logged in *as* B with A's own Gosuslugi, skipping B's password and
 * code. Black-box over real HTTP with the fake ESIA, as test/esia/esia-login.test.ts drives it:
 * - the console refuses to edit a privileged account's contacts/SNILS (403, a clear message);
 * - a SNILS someone else entered never links a guarded account: no session as B, no console;
 * - the holder links with the password *and* the code, and only that link opens the console;
 * - a pupil or parent still links at once from school data, and every new link is announced;
 * - unlinking by the holder (/account «Это не я — отвязать»), by the curator, and by removing the
 *   SNILS that made the link, each audited with its actor and announced;
 * - the audit names who did what: the edit as the curator, `esia.link` with the data's origin,
 *   the login as the holder's.
 */
import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import type { FakeEsia, FakePerson } from '../../fake-esia/server.js';
import { startWithFakeEsia } from '../helpers/esia.js';
import { addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { addStudent } from '../helpers/school.js';
import { discover, startLogin, openLoginPage, continueToRp, oidc, type StartedLogin } from '../helpers/rp.js';
import { consoleLogin } from '../helpers/console.js';
import { startEnrolment, useStep } from '../../src/accounts/second-factor.js';
import { stepAt, totp } from '../../src/mfa/totp.js';
import type { School } from '../../src/schools/queries.js';

const CLIENT_ID = 'JOURNALTEST';
const eml = (value: string) => ({ type: 'EML' as const, value, vrfStu: 'VERIFIED' as const });
const person = (oid: number, over: Partial<FakePerson>): FakePerson => ({
  oid, lastName: 'Петров', firstName: 'Иван', middleName: 'Сергеевич', birthDate: '26.05.1990', gender: 'M', trusted: true, contacts: [], ...over,
});

const SNILS = { attacker: '11223344595', pupil: '12345678964', pupil2: '16011318503', teacher: '14522739860' };
const OID = { attacker: 2000000001, pupil: 2000000002, curatorB: 2000000003, parent: 2000000004, pupil2: 2000000005, teacher: 2000000006, rostered: 2000000007 };

let fake: FakeEsia;
let srv: TestServer;
let rp: oidc.Configuration;
let redirectUri: string;
let s1: School;
let s2: School;
let secretB: string;
let consoleA: Browser;
const acc: Record<string, Awaited<ReturnType<typeof addAccount>>> = {};

beforeAll(async () => {
  ({ srv, fake } = await startWithFakeEsia({
    clientId: CLIENT_ID,
    people: [
      // Curator A's own Gosuslugi identity: A's SNILS.
      person(OID.attacker, { snils: '112-233-445 95', lastName: 'Атакова' }),
      person(OID.pupil, { snils: '123-456-789 64' }),
      person(OID.curatorB, { contacts: [eml('kurator.b@example.ru')] }),
      person(OID.parent, { contacts: [eml('roditel@example.ru')] }),
      person(OID.pupil2, { snils: '160-113-185 03' }),
      person(OID.teacher, { snils: '145-227-398 60' }),
      person(OID.rostered, { snils: '112-233-446 96' }),
    ],
  }));
  s1 = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399', region: 'Москва' });
  s2 = await addSchool(srv.db, { number: '57', slug: '57', name: 'Школа № 57', region: 'Москва' });
  acc.curatorA = await addAccount(srv.app, s1, { login: 'kurator.a', kind: 'staff', roles: ['curator', 'teacher'] });
  // Curator B: of school 1399 (so A sees B) and, by a grant, of school 57; B has a second factor.
  acc.curatorB = await addAccount(srv.app, s1, { login: 'kurator.b', kind: 'staff', roles: ['curator'], email: 'kurator.b@example.ru' });
  await srv.db('curator_schools').insert({ user_id: acc.curatorB.id, school_id: s2.id });
  secretB = (await startEnrolment(srv.db, srv.config.secrets.keyEncryptionKey, acc.curatorB.id))!;
  await useStep(srv.db, acc.curatorB.id, stepAt() - 2); // confirmed; the codes of now are still unused
  acc.pupil = await addAccount(srv.app, s1, { login: 'vanya', kind: 'student', email: 'vanya@example.ru' });
  acc.pupil2 = await addAccount(srv.app, s1, { login: 'petya', kind: 'student', email: 'petya@example.ru' });
  acc.parent = await addAccount(srv.app, s1, { login: 'roditel', kind: 'parent', email: 'roditel@example.ru' });
  // A teacher whose SNILS the school entered (CLI): linked by data alone, before any privileged role.
  acc.teacher = await addAccount(srv.app, s1, { login: 'uchitel', kind: 'staff', roles: ['teacher'], snils: '145-227-398 60' });
  // A pupil on the roster whose SNILS the school's list gives (the list's own id: R-77).
  const rostered = await addStudent(srv.app, s1, { snils: '11223344696', externalId: 'R-77', lastName: 'Сидоров', firstName: 'Коля' });
  acc.rostered = await addAccount(srv.app, s1, { login: 'kolya', kind: 'student', personId: rostered.id, email: 'kolya@example.ru' });
  rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  redirectUri = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
  consoleA = await consoleLogin(srv.url, '1399', acc.curatorA);
});
afterAll(async () => {
  await srv?.close();
  await fake?.close();
});
beforeEach(() => fake.loginAs(null));

/** On a journal-id login page: «Войти через Госуслуги», ESIA logs `oid` in, back to journal-id; where it ends. */
async function throughEsia(browser: Browser, loginPage: string, oid: number): Promise<{ res: Response; url: string }> {
  const form = formOf(loginPage, /\/esia$/);
  const toEsia = await browser.postForm(form.action, form.fields);
  expect(toEsia.status).toBe(303);
  fake.loginAs(oid);
  const atEsia = await fetch(toEsia.headers.get('location')!, { redirect: 'manual' });
  expect(atEsia.status).toBe(302);
  return browser.follow(atEsia.headers.get('location')!);
}

/** A Gosuslugi login to an app (journal-web). */
async function appLogin(oid: number, browser = new Browser(srv.url)): Promise<{ browser: Browser; started: StartedLogin; res: Response; url: string }> {
  const started = await startLogin(rp, { redirect_uri: redirectUri, school: '1399' });
  const page = await openLoginPage(browser, started.authUrl);
  return { browser, started, ...(await throughEsia(browser, page.html, oid)) };
}

async function subOf(l: { browser: Browser; started: StartedLogin }, res: Response, url: string): Promise<{ sub: string; amr: unknown }> {
  const cb = await continueToRp(l.browser, res, url);
  const tokens = await oidc.authorizationCodeGrant(rp, cb, { pkceCodeVerifier: l.started.verifier, expectedState: l.started.state, expectedNonce: l.started.nonce });
  return { sub: tokens.claims()!.sub, amr: tokens.claims()!.amr };
}

/** A Gosuslugi login to the console of school 1399; where it ends. */
async function consoleEsiaLogin(oid: number): Promise<{ browser: Browser; res: Response; url: string }> {
  const browser = new Browser(srv.url);
  let { res, url } = await browser.follow('/console');
  let html = await res.text();
  if (/action="[^"]*\/school"/.test(html)) {
    const choose = formOf(html, /\/school$/);
    const chosen = await browser.postForm(choose.action, { ...choose.fields, query: '1399' });
    ({ res, url } = await browser.follow(new URL(chosen.headers.get('location')!, srv.url).toString()));
    html = await res.text();
  }
  expect(url).toContain('/interaction/');
  return { browser, ...(await throughEsia(browser, html, oid)) };
}

async function csrfOf(browser: Browser): Promise<string> {
  return formOf(await (await browser.follow('/console')).res.text(), /\/console\/logout$/).fields._csrf!;
}

const contactsOf = (id: string) => srv.db('users').where({ id }).first('snils', 'snils_source', 'email', 'email_verified_at', 'phone');
const linkOf = (id: string) => srv.db('federated_identities').where({ provider: 'esia', user_id: id }).first();
const lettersTo = (to: string, template: string) => srv.db('mail_outbox').where({ to_address: to, template }).orderBy('id').select('subject', 'text_body');
const auditOf = (target: string, action: string) => srv.db('audit_log').where({ target_id: target, action }).orderBy('id').select('actor_type', 'actor_id', 'outcome', 'details');

describe('the console does not edit the contacts of a privileged account', () => {
  it('curator A writing a SNILS or an email onto curator B: 403 with a clear message, the database unchanged', async () => {
    const before = await contactsOf(acc.curatorB!.id);
    for (const fields of [{ snils: '112-233-445 95', email: 'kurator.b@example.ru', phone: '' }, { snils: '', email: 'kurator.a.drop@example.ru', phone: '+7 900 000-00-01' }]) {
      const res = await consoleA.postForm(`/console/users/${acc.curatorB!.id}/contacts`, { _csrf: await csrfOf(consoleA), ...fields });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('Контакты и СНИЛС куратора, администратора или сотрудника поддержки школа не меняет');
    }
    expect(await contactsOf(acc.curatorB!.id)).toEqual(before);
    const page = await (await consoleA.follow(`/console/users/${acc.curatorB!.id}`)).res.text();
    expect(page).not.toMatch(/action="[^"]*\/contacts"/); // and no form to fill in
    expect(await lettersTo('kurator.a.drop@example.ru', 'verify-email')).toEqual([]);
    const refused = await auditOf(acc.curatorB!.id, 'user.contacts.edit');
    expect(refused.map((r) => [r.actor_id, r.outcome])).toEqual([[acc.curatorA!.id, 'denied'], [acc.curatorA!.id, 'denied']]);
  });
});

describe('the attack: a school-entered SNILS on curator B and A\'s own Gosuslugi', () => {
  beforeAll(async () => {
    // However the SNILS got there (an old edit, a roster import, the CLI): school-entered, by A.
    await srv.db('users').where({ id: acc.curatorB!.id }).update({ snils: SNILS.attacker, snils_source: 'school' });
  });

  it('gives no session as B in an app: the password page of B, nothing linked, no login', async () => {
    const l = await appLogin(OID.attacker);
    expect(l.url.startsWith(srv.url)).toBe(true); // not at the app
    expect(l.res.status).toBe(200);
    const html = await l.res.text();
    expect(html).toContain('Подтвердите учётную запись');
    expect(html).toContain('только владелец');
    // The code step cannot be reached without B's password.
    const form = formOf(html, /\/esia\/confirm$/);
    const skip = await l.browser.postForm(form.action.replace(/confirm$/, 'code'), { _csrf: form.fields._csrf!, code: totp(secretB) });
    expect(skip.status).toBe(302);
    const wrong = await l.browser.postForm(form.action, { ...form.fields, password: 'Ugadayka2024' });
    expect(wrong.status).toBe(400);
    expect(await linkOf(acc.curatorB!.id)).toBeUndefined();
    expect(await auditOf(acc.curatorB!.id, 'login.success')).toEqual([]);
  });

  it('does not reach the console either', async () => {
    const c = await consoleEsiaLogin(OID.attacker);
    expect(c.url).not.toBe(`${srv.url}/console`);
    expect(await c.res.text()).toContain('Подтвердите учётную запись');
    const again = await c.browser.follow('/console');
    expect(again.url).toContain('/interaction/'); // no console session: the login starts over
    expect(await linkOf(acc.curatorB!.id)).toBeUndefined();
  });

  afterAll(async () => {
    await srv.db('users').where({ id: acc.curatorB!.id }).update({ snils: null, snils_source: null });
  });
});

describe('the holder links a privileged account with the password and the second factor', () => {
  it('curator B: password, then code; linked as B\'s own act, announced; then Gosuslugi opens B\'s console', async () => {
    const l = await appLogin(OID.curatorB);
    const html = await l.res.text();
    expect(html).toContain('Подтвердите учётную запись'); // a confirmed email alone does not link a curator
    const form = formOf(html, /\/esia\/confirm$/);
    const pwd = await l.browser.postForm(form.action, { ...form.fields, password: acc.curatorB!.password });
    expect(pwd.status).toBe(200);
    const codePage = await pwd.text();
    expect(codePage).toContain('kurator.b');
    expect(await linkOf(acc.curatorB!.id)).toBeUndefined(); // the password alone links nothing
    const codeForm = formOf(codePage, /\/esia\/code$/);
    const bad = await l.browser.postForm(codeForm.action, { ...codeForm.fields, code: '000000' });
    expect(bad.status).toBe(400);
    const good = await l.browser.postForm(codeForm.action, { ...formOf(await bad.text(), /\/esia\/code$/).fields, code: totp(secretB) });
    expect(good.status).toBe(303);
    const after = await l.browser.follow(new URL(good.headers.get('location')!, srv.url).toString());
    const { sub, amr } = await subOf(l, after.res, after.url);
    expect(sub).toBe(acc.curatorB!.id);
    expect(amr).toEqual(['esia', 'pwd', 'otp']);
    expect(await linkOf(acc.curatorB!.id)).toMatchObject({ subject: String(OID.curatorB), proof: 'password_otp', origin: 'holder' });
    const [link] = await auditOf(acc.curatorB!.id, 'esia.link');
    expect(link).toMatchObject({ actor_type: 'user', actor_id: acc.curatorB!.id, details: expect.objectContaining({ origin: 'holder', proof: 'password_otp' }) });
    const letters = await lettersTo('kurator.b@example.ru', 'esia-linked');
    expect(letters).toHaveLength(1);
    expect(letters[0]!.text_body).toContain('kurator.b');
    expect(letters[0]!.text_body).toContain('Это не я — отвязать');

    // B's own confirmed link: Gosuslugi is B's second factor at the console.
    const c = await consoleEsiaLogin(OID.curatorB);
    expect(c.url).toBe(`${srv.url}/console`);
    expect(c.res.status).toBe(200);
  });
});

describe('pupils and parents still link at once, and every new link is announced', () => {
  let pupilBrowser: Browser;

  it('a SNILS curator A entered on a pupil links at once; the audit names A for the edit, the data\'s origin for the link, the pupil for the login', async () => {
    const res = await consoleA.postForm(`/console/users/${acc.pupil!.id}/contacts`, { _csrf: await csrfOf(consoleA), snils: '123-456-789 64', email: 'vanya@example.ru', phone: '' });
    expect(res.status).toBe(303);
    const l = await appLogin(OID.pupil);
    pupilBrowser = l.browser;
    const { sub, amr } = await subOf(l, l.res, l.url);
    expect(sub).toBe(acc.pupil!.id);
    expect(amr).toEqual(['esia']);
    const [edit] = await auditOf(acc.pupil!.id, 'user.contacts.edit');
    expect(edit).toMatchObject({ actor_type: 'user', actor_id: acc.curatorA!.id });
    const [link] = await auditOf(acc.pupil!.id, 'esia.link');
    expect(link!.actor_id).not.toBe(acc.pupil!.id); // the pupil did not make it
    expect(link!.details).toMatchObject({ origin: 'curator', originUserId: acc.curatorA!.id, proof: 'none' });
    const logins = await auditOf(acc.pupil!.id, 'login.success');
    expect(logins.at(-1)).toMatchObject({ actor_type: 'user', actor_id: acc.pupil!.id });
    const letters = await lettersTo('vanya@example.ru', 'esia-linked');
    expect(letters).toHaveLength(1);
    expect(letters[0]!.text_body).toContain('куратор школы (kurator.a)');
  });

  it('a parent linked by a confirmed email gets the letter too', async () => {
    const l = await appLogin(OID.parent);
    expect((await subOf(l, l.res, l.url)).sub).toBe(acc.parent!.id);
    const letters = await lettersTo('roditel@example.ru', 'esia-linked');
    expect(letters).toHaveLength(1);
    expect(letters[0]!.text_body).toContain('подтверждённому адресу электронной почты');
  });

  it('/account shows how the link was made; «Это не я — отвязать» removes it, audited as the holder and announced', async () => {
    const page = await (await pupilBrowser.follow('/account')).res.text();
    expect(page).toContain('Это не я — отвязать');
    expect(page).toContain('куратор школы (kurator.a)');
    const form = formOf(page, /\/account\/esia\/unlink$/);
    const r = await pupilBrowser.postForm(form.action, form.fields);
    expect(r.status).toBe(303);
    expect(await linkOf(acc.pupil!.id)).toBeUndefined();
    const [unlink] = await auditOf(acc.pupil!.id, 'esia.unlink');
    expect(unlink).toMatchObject({ actor_type: 'user', actor_id: acc.pupil!.id, details: expect.objectContaining({ by: 'holder', origin: 'curator' }) });
    expect(await lettersTo('vanya@example.ru', 'esia-unlinked')).toHaveLength(1);
  });

  it('the curator\'s «Отключить Госуслуги» removes the link, audited as the curator and announced', async () => {
    expect(await linkOf(acc.parent!.id)).toBeTruthy();
    const r = await consoleA.postForm(`/console/users/${acc.parent!.id}/esia-unlink`, { _csrf: await csrfOf(consoleA) });
    expect(r.status).toBe(303);
    expect(await linkOf(acc.parent!.id)).toBeUndefined();
    const [unlink] = await auditOf(acc.parent!.id, 'esia.unlink');
    expect(unlink).toMatchObject({ actor_type: 'user', actor_id: acc.curatorA!.id, details: expect.objectContaining({ by: 'curator' }) });
    const letters = await lettersTo('roditel@example.ru', 'esia-unlinked');
    expect(letters).toHaveLength(1);
    expect(letters[0]!.text_body).toContain('куратор');
  });

  it('removing the SNILS that made a link removes the link too (audited as the curator, announced)', async () => {
    const set = await consoleA.postForm(`/console/users/${acc.pupil2!.id}/contacts`, { _csrf: await csrfOf(consoleA), snils: '160-113-185 03', email: 'petya@example.ru', phone: '' });
    expect(set.status).toBe(303);
    const l = await appLogin(OID.pupil2);
    expect((await subOf(l, l.res, l.url)).sub).toBe(acc.pupil2!.id);
    expect(await linkOf(acc.pupil2!.id)).toBeTruthy();
    const cleared = await consoleA.postForm(`/console/users/${acc.pupil2!.id}/contacts`, { _csrf: await csrfOf(consoleA), snils: '', email: 'petya@example.ru', phone: '' });
    expect(cleared.status).toBe(303);
    expect(await linkOf(acc.pupil2!.id)).toBeUndefined();
    const [unlink] = await auditOf(acc.pupil2!.id, 'esia.unlink');
    expect(unlink).toMatchObject({ actor_type: 'user', actor_id: acc.curatorA!.id, details: expect.objectContaining({ by: 'snils_removed' }) });
    expect(await lettersTo('petya@example.ru', 'esia-unlinked')).toHaveLength(1);
  });

  it('a roster import that replaces the SNILS which made a link removes the link (audited as the importer, announced)', async () => {
    const l = await appLogin(OID.rostered);
    expect((await subOf(l, l.res, l.url)).sub).toBe(acc.rostered!.id);
    expect(await linkOf(acc.rostered!.id)).toMatchObject({ origin: 'roster', proof: 'none' });
    const form = new FormData();
    form.set('_csrf', formOf(await (await consoleA.follow('/console/roster')).res.text(), /\/console\/roster\/import$/).fields._csrf!);
    form.set('school', s1.id);
    form.set('file', new Blob(['ID;Фамилия;Имя;Класс;Тип;СНИЛС\nR-77;Сидоров;Коля;6А;ученик;200-300-400 48\n'], { type: 'text/csv' }), 'список.csv');
    const res = await consoleA.request('/console/roster/import', { method: 'POST', body: form });
    expect(res.status).toBe(200);
    expect(await linkOf(acc.rostered!.id)).toBeUndefined();
    const [unlink] = await auditOf(acc.rostered!.id, 'esia.unlink');
    expect(unlink).toMatchObject({ actor_type: 'user', actor_id: acc.curatorA!.id, details: expect.objectContaining({ by: 'snils_removed', origin: 'roster' }) });
    expect(await lettersTo('kolya@example.ru', 'esia-unlinked')).toHaveLength(1);
  });
});

describe('a link made by data alone never opens the console', () => {
  it('a teacher linked by a school-entered SNILS who later becomes a curator must confirm with the password and code first', async () => {
    const l = await appLogin(OID.teacher);
    expect((await subOf(l, l.res, l.url)).sub).toBe(acc.teacher!.id);
    expect(await linkOf(acc.teacher!.id)).toMatchObject({ proof: 'none' });
    await srv.db('users').where({ id: acc.teacher!.id }).update({ roles: ['teacher', 'curator'] });
    const c = await consoleEsiaLogin(OID.teacher);
    expect(c.url).not.toBe(`${srv.url}/console`);
    expect(await c.res.text()).toContain('Подтвердите учётную запись');
    expect((await c.browser.follow('/console')).url).toContain('/interaction/');
  });

  it('its code step refuses like the password login\'s: 429 with Retry-After and the wait in words once the tries are spent', async () => {
    const l = await appLogin(OID.teacher);
    const form = formOf(await l.res.text(), /\/esia\/confirm$/);
    const pwd = await l.browser.postForm(form.action, { ...form.fields, password: acc.teacher!.password });
    let page = await pwd.text();
    let res: Response | undefined;
    for (let i = 0; i < 20 && res?.status !== 429; i++) {
      res = await l.browser.postForm(formOf(page, /\/esia\/code$/).action, { ...formOf(page, /\/esia\/code$/).fields, code: '000000' });
      page = await res.text();
    }
    expect(res!.status).toBe(429);
    expect(Number(res!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(page).toContain('Следующая попытка возможна через');
    expect(page).not.toContain('{wait}');
    expect(await linkOf(acc.teacher!.id)).toMatchObject({ proof: 'none' });
  });
});
