/**
 * The platform's console over real HTTP (issue 6, roles and scope): a platform admin and support
 * log in through journal-id (their own login form, password + authenticator code); every page
 * answers its roles only (table-driven over roles × pages, curator pages included); no platform
 * page shows personal data (canaries in names, email, phone, SNILS, school logins, an audit
 * entry's details and a letter); an admin's role changes are audited, give a curator a second
 * school, and a revocation ends access at the curator's next request (the last school: their console
 * session too).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { addStudent } from '../helpers/school.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin } from '../helpers/rp.js';
import { consoleLogin } from '../helpers/console.js';
import type { School } from '../../src/schools/queries.js';
import { deleteAccount } from '../../src/accounts/delete.js';
import { boundAudit } from '../../src/audit/bound.js';
import { findAccountById } from '../../src/accounts/queries.js';

type Acc = Awaited<ReturnType<typeof addAccount>>;

// Personal data that must never reach a platform page.
const CANARIES = ['Канарейкин', 'Канарейка', 'Канаревна', 'Пеструшкин', 'canary-mail', '9990001122', '999 000', '16011318503', '160-113-185', 'kanareyka-login', 'pestrushka-login'];

let srv: TestServer;
let a: School;
let b: School;
let c: School;
const acc: Record<string, Acc> = {};
const browsers: Record<'admin' | 'support' | 'curator', Browser> = {} as never;

beforeAll(async () => {
  srv = await startTestServer();
  a = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
  b = await addSchool(srv.db, { number: '57', slug: '57', name: 'Школа № 57' });
  c = await addSchool(srv.db, { number: '3', slug: '3', name: 'Лицей № 3' });
  acc.admin = await addAccount(srv.app, null, { login: 'admin', roles: ['admin'] });
  acc.support = await addAccount(srv.app, null, { login: 'support', roles: ['support'] });
  acc.curator = await addAccount(srv.app, a, { login: 'kurator', kind: 'staff', roles: ['curator', 'teacher'] });
  acc.zavuch = await addAccount(srv.app, b, { login: 'zavuch', kind: 'staff', roles: ['teacher'] });
  acc.teacherC = await addAccount(srv.app, c, { login: 'uchitel', kind: 'staff', roles: ['teacher'] });
  for (const [key, school] of [['pupilA', a], ['pupilB', b], ['pupilC', c]] as const) {
    const person = await addStudent(srv.app, school, { lastName: 'Пеструшкин', firstName: 'Петя', className: '6А' });
    acc[key] = await addAccount(srv.app, school, { login: `uchenik-${school.number}`, kind: 'student', personId: person.id });
  }
  // A canary in every personal field of a school account, and in what follows it around.
  acc.canary = await addAccount(srv.app, a, {
    login: 'kanareyka-login', kind: 'parent', email: 'canary-mail@example.ru', phone: '+7 999 000-11-22', snils: '160-113-185 03',
  });
  await srv.db('users').where({ id: acc.canary.id }).update({ last_name: 'Канарейкин', first_name: 'Канарейка', middle_name: 'Канаревна' });
  await addAccount(srv.app, b, { login: 'pestrushka-login', kind: 'student' });
  await srv.db('mail_outbox').insert({ to_address: 'canary-mail@example.ru', from_address: 'no-reply@localhost', subject: 'Канарейкин', text_body: 'Канарейка', html_body: 'Канарейка', template: 'verify-email' });
  // A failed login keeps the typed login in the audit entry's details.
  const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  const redirectUri = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
  const stranger = new Browser(srv.url);
  const page = await openLoginPage(stranger, (await startLogin(rp, { redirect_uri: redirectUri, school: '1399' })).authUrl);
  expect((await submitLogin(stranger, page.html, 'kanareyka-login', 'wrong-password-1')).res.status).toBe(400);

  browsers.admin = await consoleLogin(srv.url, '', acc.admin, { platform: true });
  browsers.support = await consoleLogin(srv.url, '', acc.support, { platform: true });
  browsers.curator = await consoleLogin(srv.url, '1399', acc.curator);
});
afterAll(async () => srv?.close());

async function csrfOf(browser: Browser, page: string): Promise<string> {
  return formOf(await (await browser.follow(page)).res.text(), /\/console\/logout$/).fields._csrf!;
}
const adminCsrf = async () => formOf(await (await browsers.admin.follow('/console/platform/curators')).res.text(), /\/grant$/).fields._csrf!;

describe('logging in', () => {
  it('admin and support log in with password and authenticator code (support needs the second factor too)', async () => {
    expect(srv.config.mfa.requiredRoles).toEqual(expect.arrayContaining(['curator', 'admin', 'support']));
    for (const who of ['admin', 'support'] as const) {
      const home = await (await browsers[who].follow('/console/platform')).res.text();
      expect(home).toContain('Консоль платформы');
      expect(home).toContain(who);
    }
    expect(await srv.db('audit_log').where({ action: 'mfa.enrol', target_id: acc.support!.id }).first()).toBeDefined();
  });

  it('the platform form finds platform accounts only, and only for the console', async () => {
    const browser = new Browser(srv.url);
    const page = await browser.follow('/console/platform');
    const html = await page.res.text();
    expect(html).toContain('Вход для сотрудников платформы');
    // A school's account is not found without its school: the same words as any wrong password.
    const { res } = await submitLogin(browser, html, 'kurator', acc.curator!.password);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('Неверное имя пользователя или пароль');

    // Another app asking for the platform hint gets the ordinary school choice.
    const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    const other = await openLoginPage(new Browser(srv.url), (await startLogin(rp, { redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]!, school: 'platform' })).authUrl);
    expect(other.html).not.toContain('Вход для сотрудников платформы');
  });

  it('a platform account without a console role is refused after its login', async () => {
    const nobody = await addAccount(srv.app, null, { login: 'nobody', roles: [] });
    const browser = new Browser(srv.url);
    const html = await (await browser.follow('/console/platform')).res.text();
    const { res } = await submitLogin(browser, html, 'nobody', nobody.password);
    // No second factor for this account, so the console sees a password-only login.
    expect([400, 403]).toContain(res.status);
    expect((await browser.request('/console/platform')).status).toBe(302);
  });
});

describe('each page answers its roles only', () => {
  const pages: Array<[string, Array<'admin' | 'support' | 'curator'>]> = [
    ['/console/platform', ['admin', 'support']],
    ['/console/platform/health', ['admin', 'support']],
    ['/console/platform/counts', ['admin', 'support']],
    ['/console/platform/audit', ['admin', 'support']],
    ['/console/platform/schools', ['admin']],
    ['/console/platform/curators', ['admin']],
    ['/console/platform/clients', ['admin']],
    ['/console/audit', ['curator']],
    ['/console/invites', ['curator']],
    ['/console/users/<pupilA>', ['curator']],
  ];
  const cases = pages.flatMap(([page, allowed]) => (['admin', 'support', 'curator'] as const).map((who) => [page, who, allowed.includes(who)] as const));
  it.each(cases)('GET %s as %s → allowed: %s', async (page, who, allowed) => {
    const res = await browsers[who].request(page.replace('<pupilA>', acc.pupilA!.id));
    expect(res.status).toBe(allowed ? 200 : 403);
    if (!allowed) expect(await res.text()).toContain('Нет доступа');
  });

  it('the curator console sends platform staff to their own home; its forms refuse them and change nothing', async () => {
    for (const who of ['admin', 'support'] as const) {
      const home = await browsers[who].request('/console');
      expect(home.status).toBe(302);
      expect(home.headers.get('location')).toBe('/console/platform');
      const csrf = await csrfOf(browsers[who], '/console/platform');
      for (const path of [`/console/users/${acc.pupilA!.id}/password`, `/console/users/${acc.pupilA!.id}/disable`, '/console/invites', `/CONSOLE/users/${acc.pupilA!.id}/disable`]) {
        const res = await browsers[who].postForm(path, { _csrf: csrf, class: '6А' });
        expect([403, 404]).toContain(res.status);
      }
      expect((await browsers[who].request(`/Console/Users/${acc.pupilA!.id}`)).status).not.toBe(200);
    }
    const pupil = await srv.db('users').where({ id: acc.pupilA!.id }).first();
    expect(pupil).toMatchObject({ must_change_password: false, disabled_at: null });
    expect(await srv.db('invites').where({ school_id: a.id }).first()).toBeUndefined();
  });

  it('admin forms refuse support and curators, and change nothing', async () => {
    for (const who of ['support', 'curator'] as const) {
      const csrf = await csrfOf(browsers[who], who === 'support' ? '/console/platform' : '/console');
      const forms: Array<[string, Record<string, string>]> = [
        ['/console/platform/schools', { number: '777', name: 'Школа № 777', region: 'Москва' }],
        ['/console/platform/curators/grant', { school: b.id, login: 'zavuch' }],
        ['/console/platform/curators/school', { user: acc.curator!.id, school: b.id }],
        ['/console/platform/curators/revoke', { user: acc.curator!.id, school: a.id }],
      ];
      for (const [path, fields] of forms) expect((await browsers[who].postForm(path, { _csrf: csrf, ...fields })).status).toBe(403);
    }
    expect(await srv.db('schools').where({ number: '777' }).first()).toBeUndefined();
    expect(await srv.db('curator_schools').first()).toBeUndefined();
    expect((await srv.db('users').where({ id: acc.zavuch!.id }).first()).roles).not.toContain('curator');
    expect(await srv.db('audit_log').whereIn('action', ['role.grant', 'role.revoke']).first()).toBeUndefined();
  });
});

describe('no personal data on platform pages', () => {
  const platformPages = ['/console/platform', '/console/platform/health', '/console/platform/counts', '/console/platform/audit', '/console/platform/schools', '/console/platform/curators', '/console/platform/clients'];

  it('no page for admin or support contains a canary, while the pages do show their facts', async () => {
    // The canaries are really there: the curator sees them.
    const curatorView = await (await browsers.curator.follow(`/console/users/${acc.canary!.id}`)).res.text();
    expect(curatorView).toContain('Канарейкин');
    expect(await srv.db('audit_log').whereRaw(`details->>'login' = ?`, ['kanareyka-login']).first()).toBeDefined();

    const bodies: string[] = [];
    for (const who of ['admin', 'support'] as const) {
      for (const page of platformPages) {
        const res = await browsers[who].request(page);
        if (res.status === 200) bodies.push(`${who} ${page}\n${await res.text()}`);
      }
    }
    expect(bodies.length).toBe(platformPages.length + 4);
    const all = bodies.join('\n');
    expect(CANARIES.filter((canary) => all.includes(canary))).toEqual([]);
    // No account id of a school user either (the audit shows no target or actor id).
    expect(all).not.toContain(acc.canary!.id);
    // …and yet the pages say something.
    const counts = bodies.find((b) => b.startsWith('support /console/platform/counts'))!;
    expect(counts).toContain('Лицей № 3');
    expect(bodies.find((b) => b.startsWith('support /console/platform/audit'))).toContain('login.failure');
    expect(bodies.find((b) => b.startsWith('support /console/platform/health'))).toMatch(/отвечает[\s\S]*в очереди: \d/);
    const clients = bodies.find((b) => b.startsWith('admin /console/platform/clients'))!;
    expect(clients).toContain('journal-web');
    expect(clients).toContain(srv.config.firstPartyClients.journalWeb.redirectUris[0]!);
    expect(clients).not.toContain(srv.config.secrets.journalWebClientSecret);
  });
});

describe('an admin changes roles', () => {
  it('adds a school (the CLI\'s rule and audit): a bad field and a duplicate get a message, nothing half-written', async () => {
    const form = formOf(await (await browsers.admin.follow('/console/platform/schools')).res.text(), /\/schools$/);
    const bad = await browsers.admin.postForm(form.action, { ...form.fields, number: '12', name: 'Школа № 12', region: 'Тверь', slug: 'Не_Латиница' });
    expect(bad.status).toBe(400);
    const badHtml = await bad.text();
    expect(badHtml).toContain('Адресное имя: латинские');
    expect(badHtml).toContain('value="Школа № 12"'); // what was typed stays
    const ok = await browsers.admin.postForm(form.action, { ...form.fields, number: '12', name: 'Школа № 12', region: 'Тверь', slug: '' });
    expect(ok.status).toBe(303);
    const school = await srv.db('schools').where({ number: '12', region: 'Тверь' }).first();
    expect(school.slug).toBe('12');
    expect(await srv.db('audit_log').where({ action: 'school.create', target_id: school.id }).first()).toMatchObject({ actor_type: 'user', actor_id: acc.admin!.id });
    const dup = await browsers.admin.postForm(form.action, { ...form.fields, number: '12', name: 'Другая', region: 'Тверь', slug: 'tver-12' });
    expect(dup.status).toBe(409);
    expect(await srv.db('schools').where({ slug: 'tver-12' }).first()).toBeUndefined();
  });

  it('grants the curator role to a staff account and another school to a curator; every change is audited', async () => {
    const csrf = await adminCsrf();
    const grant = await browsers.admin.postForm('/console/platform/curators/grant', { _csrf: csrf, school: b.id, login: 'ZAVUCH' });
    expect(grant.status).toBe(303);
    expect((await srv.db('users').where({ id: acc.zavuch!.id }).first()).roles).toContain('curator');
    const more = await browsers.admin.postForm('/console/platform/curators/school', { _csrf: csrf, user: acc.curator!.id, school: c.id });
    expect(more.status).toBe(303);
    const rows = await srv.db('audit_log').where({ action: 'role.grant' }).orderBy('id');
    expect(rows.map((r) => [r.actor_id, r.target_id, r.school_id])).toEqual([[acc.admin!.id, acc.zavuch!.id, b.id], [acc.admin!.id, acc.curator!.id, c.id]]);
    for (const r of rows) expect(r.ip).toBeTruthy();
    expect(await srv.db('curator_schools').where({ user_id: acc.curator!.id, school_id: c.id }).first()).toMatchObject({ granted_by: acc.admin!.id });

    const list = await (await browsers.admin.follow('/console/platform/curators')).res.text();
    expect(list).toContain('zavuch');
    expect(list).toContain('kurator (№ 1399)');
  });

  it('refuses what makes no sense, with a message and no audit row', async () => {
    const csrf = await adminCsrf();
    const before = await srv.db('audit_log').whereIn('action', ['role.grant', 'role.revoke']).count<{ n: number }[]>({ n: '*' }).first();
    const tries: Array<[string, Record<string, string>, number, string]> = [
      ['/console/platform/curators/grant', { school: a.id, login: 'uchenik-1399' }, 400, 'только сотрудника'],
      ['/console/platform/curators/grant', { school: a.id, login: 'kurator' }, 409, 'уже куратор'],
      ['/console/platform/curators/grant', { school: a.id, login: 'nobody-here' }, 404, 'нет учётной записи'],
      ['/console/platform/curators/grant', { school: 'not-a-uuid', login: 'kurator' }, 404, 'Школа не найдена'],
      ['/console/platform/curators/school', { user: acc.teacherC!.id, school: a.id }, 400, 'не куратор'],
      ['/console/platform/curators/school', { user: acc.curator!.id, school: c.id }, 409, 'уже куратор'],
      ['/console/platform/curators/school', { user: acc.admin!.id, school: a.id }, 400, 'не куратор'],
      ['/console/platform/curators/revoke', { user: acc.curator!.id, school: b.id }, 400, 'не куратор'],
      ['/console/platform/curators/revoke', { user: "1' or '1'='1", school: a.id }, 404, 'нет учётной записи'],
    ];
    for (const [path, fields, status, words] of tries) {
      const res = await browsers.admin.postForm(path, { _csrf: csrf, ...fields });
      expect([path, res.status]).toEqual([path, status]);
      expect(await res.text()).toContain(words);
    }
    const after = await srv.db('audit_log').whereIn('action', ['role.grant', 'role.revoke']).count<{ n: number }[]>({ n: '*' }).first();
    expect(Number(after!.n)).toBe(Number(before!.n));
  });

  it('a curator of two schools finds users of both and nothing of a third; revoking ends access at the next request', async () => {
    const search = async () => (await (await browsers.curator.follow('/console?kind=student')).res.text());
    let html = await search();
    expect(html).toContain('uchenik-1399');
    expect(html).toContain('uchenik-3');
    expect(html).not.toContain('uchenik-57');
    expect((await browsers.curator.request(`/console/users/${acc.pupilC!.id}`)).status).toBe(200);
    expect((await browsers.curator.request(`/console/users/${acc.pupilB!.id}`)).status).toBe(404);

    const csrf = await adminCsrf();
    expect((await browsers.admin.postForm('/console/platform/curators/revoke', { _csrf: csrf, user: acc.curator!.id, school: c.id })).status).toBe(303);
    html = await search();
    expect(html).toContain('uchenik-1399');
    expect(html).not.toContain('uchenik-3');
    expect((await browsers.curator.request(`/console/users/${acc.pupilC!.id}`)).status).toBe(404);

    // The own school, the last one: the role goes, and with it the console session (issue 16.3).
    expect((await browsers.admin.postForm('/console/platform/curators/revoke', { _csrf: csrf, user: acc.curator!.id, school: a.id })).status).toBe(303);
    expect((await srv.db('users').where({ id: acc.curator!.id }).first()).roles).toEqual(['teacher']);
    expect(await srv.db('console_sessions').where({ user_id: acc.curator!.id }).first()).toBeUndefined();
    const gone = await browsers.curator.request(`/console/users/${acc.pupilA!.id}`);
    expect(gone.status).toBe(401);
    expect(await gone.text()).toContain('Сеанс консоли завершён');
    const revoked = await srv.db('audit_log').where({ action: 'role.revoke' }).orderBy('id');
    expect(revoked.map((r) => [r.actor_id, r.target_id, r.school_id, r.details.via])).toEqual([[acc.admin!.id, acc.curator!.id, c.id, 'granted'], [acc.admin!.id, acc.curator!.id, a.id, 'own']]);
  });

  it('deleting a curator\'s account takes their school grants with it', async () => {
    const csrf = await adminCsrf();
    expect((await browsers.admin.postForm('/console/platform/curators/school', { _csrf: csrf, user: acc.zavuch!.id, school: c.id })).status).toBe(303);
    await deleteAccount(srv.app, (await findAccountById(srv.db, acc.zavuch!.id))!, boundAudit(srv.db, { actor: { type: 'user', id: acc.curator!.id }, ip: '127.0.0.1' }));
    expect(await srv.db('curator_schools').where({ user_id: acc.zavuch!.id }).first()).toBeUndefined();
  });
});
