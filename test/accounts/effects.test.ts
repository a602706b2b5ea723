/**
 * The side-effect table (src/accounts/effects.ts), one test per row, observed from outside: over
 * HTTP (an app's refresh token that works or not, /account still open or asking to log in again,
 * the login refused with 429 or let in), over a real SMTP server (the «пароль изменён» letter), over
 * the `journal-id` command as a process, and in the audit log (the event and who acted). Never by
 * reading the table.
 *
 * On PostgreSQL (the CLI, a separate process, must share the database with the server).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin, login, continueToRp, oidc } from '../helpers/rp.js';
import { startSmtp, type SmtpCatcher } from '../helpers/smtp.js';
import { consoleLogin } from '../helpers/console.js';
import { pupilsWithCodes, registerWithCode } from '../helpers/flows.js';
import { cliCommand, ROOT } from '../helpers/cli.js';
import { addStudent, codeOf, issue } from '../helpers/school.js';
import { totp } from '../../src/mfa/totp.js';
import type { ParsedMail } from 'mailparser';
import type { School } from '../../src/schools/queries.js';

const FREE = 3;
const LOCK = 900;
const CHANGED = 'Пароль в электронном журнале изменён';
const REDIRECT = 'http://127.0.0.1:9/callback';

let testDb: TestDb;
let srv: TestServer;
let smtp: SmtpCatcher;
let school: School;
let rp: oidc.Configuration;

beforeAll(async () => {
  smtp = await startSmtp();
  testDb = await createTestDb({ postgres: true });
  const env = {
    SMTP_URL: smtp.url,
    RUN_WORKERS: 'false',
    JOURNAL_WEB_REDIRECT_URIS: REDIRECT,
    LOGIN_THROTTLE_FREE: String(FREE),
    LOGIN_THROTTLE_BASE_DELAY_SECONDS: String(LOCK),
    LOGIN_THROTTLE_MAX_DELAY_SECONDS: String(LOCK),
  };
  srv = await startTestServer({ testDb, env });
  school = await addSchool(srv.db, { name: 'Школа № 3' });
  rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
});
afterAll(async () => {
  await srv?.close();
  await testDb?.close();
  await smtp?.close();
});

/** An app's refresh token from a login in a browser of its own. */
async function appToken(loginName: string, password: string): Promise<string> {
  const started = await startLogin(rp, { redirect_uri: REDIRECT, school: school.slug, scope: 'openid offline_access', prompt: 'consent' });
  const cb = await login(new Browser(srv.url), started, loginName, password);
  const tokens = await oidc.authorizationCodeGrant(rp, cb, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
  expect(tokens.refresh_token).toBeDefined();
  return tokens.refresh_token!;
}

const tokenWorks = (refresh: string) => oidc.refreshTokenGrant(rp, refresh).then(() => true, () => false);

/** Wrong passwords from a fresh browser until the login's lock. */
async function lockOut(loginName: string): Promise<void> {
  const attacker = new Browser(srv.url);
  const page = await openLoginPage(attacker, (await startLogin(rp, { redirect_uri: REDIRECT, school: school.slug })).authUrl);
  for (let i = 0; i < FREE; i++) await (await submitLogin(attacker, page.html, loginName, `Guess${i}x2024`)).res.text();
  expect(await loginStatus(loginName, 'Guess9x2024')).toBe(429);
}

/** The login form's answer to a password in a fresh browser (429: the lock holds). */
async function loginStatus(loginName: string, password: string): Promise<number> {
  const b = new Browser(srv.url);
  const page = await openLoginPage(b, (await startLogin(rp, { redirect_uri: REDIRECT, school: school.slug })).authUrl);
  const form = formOf(page.html, /\/login$/);
  const res = await b.postForm(form.action, { ...form.fields, login: loginName, password });
  await res.text();
  return res.status;
}

/** The «пароль изменён» letters that reached the address. */
async function changedLetters(address: string): Promise<ParsedMail[]> {
  await srv.app.mail.deliverDue();
  return smtp.messages.filter((m) => m.subject === CHANGED && JSON.stringify(m.to).toLowerCase().includes(`"${address.toLowerCase()}"`));
}

async function audited(action: string, targetId: string) {
  return srv.db('audit_log').where({ action, target_id: targetId }).orderBy('id', 'desc').first();
}

/** /account in a fresh browser, logged in on the way. */
async function openAccount(loginName: string, password: string): Promise<{ b: Browser; html: string }> {
  const b = new Browser(srv.url);
  const page = await (await b.follow(`/account?school=${school.slug}`)).res.text(); // the school's form: there are several
  const form = formOf(page, /\/login$/);
  const res = await b.postForm(form.action, { ...form.fields, login: loginName, password });
  const { res: end, url } = await b.follow(new URL(res.headers.get('location')!, srv.url).toString());
  expect(new URL(url).pathname).toBe('/account');
  return { b, html: await end.text() };
}
/** A curator's console in a fresh browser (second factor enrolled on the way) and its CSRF token. */
async function curatorConsole(curator: { login: string; password: string }): Promise<{ console_: Browser; csrf: string }> {
  const console_ = await consoleLogin(srv.url, school.slug, curator);
  const csrf = formOf(await (await console_.follow('/console')).res.text(), /\/console\/logout$/).fields._csrf!;
  return { console_, csrf };
}
const accountOpen = async (b: Browser) => !(await (await b.follow('/account')).res.text()).includes('Вход в журнал');

/** The `journal-id` command as a process, on the server's database and with its secrets. */
function cli(args: string[]) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-eff-cli-'));
  return spawnSync(cliCommand().command, [...cliCommand().args, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH, NODE_ENV: 'development', DATA_DIR: dataDir, DATABASE_URL: testDb.url!, ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1',
      // The server's secrets: the CLI reads the same signing keys.
      KEY_ENCRYPTION_KEY: srv.config.secrets.keyEncryptionKey.toString('hex'),
      COOKIE_KEYS: srv.config.secrets.cookieKeys.join(','),
      JOURNAL_WEB_CLIENT_SECRET: srv.config.secrets.journalWebClientSecret,
      INVITE_CODE_PEPPER: srv.config.secrets.invitePepper.toString('hex'),
    },
    timeout: 60_000,
  });
}

describe('the side effects of setting a password, per cause', () => {
  it('registration: the new account is the actor of user.register; no letter, nothing ends', async () => {
    const [, parent] = await pupilsWithCodes(srv.app, school, 1, 'effreg');
    const result = await registerWithCode(srv.url, parent!);
    expect(result.outcome).toBe('registered');
    const account = await srv.db('users').where({ login: parent!.login, school_id: school.id }).first();
    const row = await audited('user.register', account.id);
    expect(row).toMatchObject({ actor_type: 'user', actor_id: account.id });
    expect(row.request_id).toBeTruthy();
    expect(await changedLetters(parent!.parent!.email)).toHaveLength(0);
    expect(await srv.db('audit_log').where({ action: 'sessions.ended', target_id: account.id })).toHaveLength(0);
  });

  it('recovery_link: every session ends, «пароль изменён» to the confirmed address, the lock is lifted, the person is the actor', async () => {
    const who = await addAccount(srv.app, school, { login: 'eff.recover', kind: 'parent', email: 'eff.recover@mail.ru' });
    const refresh = await appToken(who.login, who.password);
    const signedIn = await openAccount(who.login, who.password);
    await lockOut(who.login);

    const b = new Browser(srv.url);
    const ask = formOf(await (await b.request('/recover')).text(), /\/recover/);
    expect((await b.postForm(ask.action, { ...ask.fields, email: 'eff.recover@mail.ru' })).status).toBe(200);
    await srv.app.recovery.processDue();
    await srv.app.mail.deliverDue();
    const letter = await smtp.waitFor((m) => JSON.stringify(m.to).includes('eff.recover@mail.ru') && /\/recover\//.test(m.text ?? ''));
    const link = /(http:\/\/\S+\/recover\/[A-Za-z0-9_-]{43})/.exec(letter.text ?? '')![1]!;
    const form = formOf(await (await b.request(link)).text(), /\/recover\//);
    const done = await b.postForm(form.action, { ...form.fields, password: 'Vesna2031rec', repeat: 'Vesna2031rec' });
    expect(done.status).toBe(200);

    expect(await tokenWorks(refresh)).toBe(false);
    expect(await accountOpen(signedIn.b)).toBe(false);
    expect(await changedLetters('eff.recover@mail.ru')).toHaveLength(1);
    expect(await loginStatus(who.login, 'Vesna2031rec')).toBe(303); // the lock is gone
    expect(await audited('password.recover', who.id)).toMatchObject({ actor_type: 'user', actor_id: who.id });
  });

  it('own_change (/account): the other sessions end, this browser stays, «пароль изменён», the lock stays', async () => {
    const who = await addAccount(srv.app, school, { login: 'eff.own', kind: 'parent', email: 'eff.own@mail.ru' });
    const refresh = await appToken(who.login, who.password);
    const elsewhere = await openAccount(who.login, who.password);
    const here = await openAccount(who.login, who.password);
    await lockOut(who.login);

    const form = formOf(here.html, /\/account\/password$/);
    const res = await here.b.postForm(form.action, { ...form.fields, current: who.password, password: 'Vesna2031own', repeat: 'Vesna2031own' });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('все остальные входы');

    expect(await tokenWorks(refresh)).toBe(false);
    expect(await accountOpen(elsewhere.b)).toBe(false);
    expect(await accountOpen(here.b)).toBe(true);
    expect(await changedLetters('eff.own@mail.ru')).toHaveLength(1);
    // Not lifted: the person is signed in here and needs no new try; the guessers stay locked out.
    expect(await loginStatus(who.login, 'Vesna2031own')).toBe(429);
    expect(await audited('password.change', who.id)).toMatchObject({ actor_type: 'user', actor_id: who.id });
    await srv.app.throttle.unlockLogin(school.id, who.login);
  });

  it('forced_change («Смена пароля»): the login in progress goes on to the app, other sessions end, «пароль изменён»', async () => {
    const who = await addAccount(srv.app, school, { login: 'eff.forced', kind: 'parent', email: 'eff.forced@mail.ru' });
    const refresh = await appToken(who.login, who.password);
    await srv.db('users').where({ id: who.id }).update({ must_change_password: true });

    const b = new Browser(srv.url);
    const started = await startLogin(rp, { redirect_uri: REDIRECT, school: school.slug, scope: 'openid' });
    const page = await openLoginPage(b, started.authUrl);
    const { res } = await submitLogin(b, page.html, who.login, who.password);
    const html = await res.text();
    expect(html).toContain('Смена пароля');
    const form = formOf(html, /\/password$/);
    const changed = await b.postForm(form.action, { ...form.fields, password: 'Vesna2031frc', repeat: 'Vesna2031frc' });
    expect(changed.status).toBe(303);
    const { res: next, url } = await b.follow(new URL(changed.headers.get('location')!, srv.url).toString());
    expect((await continueToRp(b, next, url)).searchParams.get('code')).toBeTruthy();

    expect(await tokenWorks(refresh)).toBe(false);
    expect(await changedLetters('eff.forced@mail.ru')).toHaveLength(1);
    expect(await audited('password.change', who.id)).toMatchObject({ actor_type: 'user', actor_id: who.id });
  });

  it('curator_reset: every session ends, must change at the next login, the lock is lifted, «пароль изменён», the curator is the actor', async () => {
    const curator = await addAccount(srv.app, school, { login: 'eff.kurator', kind: 'staff', roles: ['curator', 'teacher'] });
    const who = await addAccount(srv.app, school, { login: 'eff.pupil', kind: 'student', email: 'eff.pupil@mail.ru' });
    const refresh = await appToken(who.login, who.password);
    await lockOut(who.login);

    const { console_, csrf } = await curatorConsole(curator);
    const res = await console_.postForm(`/console/users/${who.id}/password`, { _csrf: csrf });
    expect(res.status).toBe(200);
    const password = /<code class="key" id="new-password">([^<]+)<\/code>/.exec(await res.text())![1]!;

    expect(await tokenWorks(refresh)).toBe(false);
    expect(await changedLetters('eff.pupil@mail.ru')).toHaveLength(1);
    expect(await loginStatus(who.login, password)).toBe(303); // let in (to «Смена пароля»)
    expect((await srv.db('users').where({ id: who.id }).first()).must_change_password).toBe(true);
    const row = await audited('user.password.reset', who.id);
    expect(row).toMatchObject({ actor_type: 'user', actor_id: curator.id });
    expect(row.request_id).toBeTruthy();
  });

  it('cli (journal-id user reset-password): every session ends, must change, the lock is lifted, «пароль изменён», the operator is the actor', async () => {
    const who = await addAccount(srv.app, school, { login: 'eff.cli', kind: 'parent', email: 'eff.cli@mail.ru' });
    const refresh = await appToken(who.login, who.password);
    await lockOut(who.login);

    const r = cli(['user', 'reset-password', '--school', school.slug, '--login', who.login]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const password = /: ([A-Za-z0-9]{12})$/m.exec(r.stdout)![1]!;

    expect(await tokenWorks(refresh)).toBe(false);
    expect(await changedLetters('eff.cli@mail.ru')).toHaveLength(1);
    expect(await loginStatus(who.login, password)).toBe(303);
    expect((await srv.db('users').where({ id: who.id }).first()).must_change_password).toBe(true);
    expect(await audited('password.reset', who.id)).toMatchObject({ actor_type: 'cli' });
  });
});

describe('the side effects of a status change', () => {
  it('disable: every session ends, the curator is the actor; enable: the lock is lifted', async () => {
    const curator = await addAccount(srv.app, school, { login: 'eff.kurator2', kind: 'staff', roles: ['curator', 'teacher'] });
    const who = await addAccount(srv.app, school, { login: 'eff.status', kind: 'parent' });
    const refresh = await appToken(who.login, who.password);
    const { console_, csrf } = await curatorConsole(curator);

    expect((await console_.postForm(`/console/users/${who.id}/disable`, { _csrf: csrf })).status).toBe(303);
    expect(await tokenWorks(refresh)).toBe(false);
    expect(await audited('user.disable', who.id)).toMatchObject({ actor_type: 'user', actor_id: curator.id });

    await lockOut(who.login);
    expect((await console_.postForm(`/console/users/${who.id}/enable`, { _csrf: csrf })).status).toBe(303);
    expect(await audited('user.enable', who.id)).toMatchObject({ actor_type: 'user', actor_id: curator.id });
    expect(await loginStatus(who.login, who.password)).toBe(303);
  });

  it('delete (on request, by a curator): every session ends, the curator is the actor', async () => {
    const curator = await addAccount(srv.app, school, { login: 'eff.kurator3', kind: 'staff', roles: ['curator', 'teacher'] });
    const who = await addAccount(srv.app, school, { login: 'eff.leaving', kind: 'parent' });
    const refresh = await appToken(who.login, who.password);
    const signedIn = await openAccount(who.login, who.password);
    const { console_, csrf } = await curatorConsole(curator);
    expect((await console_.postForm(`/console/users/${who.id}/delete`, { _csrf: csrf, confirm: who.login })).status).toBe(200);
    expect(await tokenWorks(refresh)).toBe(false);
    expect(await accountOpen(signedIn.b)).toBe(false);
    expect(await audited('user.delete', who.id)).toMatchObject({ actor_type: 'user', actor_id: curator.id });
  });
});


/** Two-step verification turned on from /account: the password, the QR code's key, a code. */
async function enrol(b: Browser, html: string, password: string): Promise<string> {
  const start = formOf(html, /\/account\/mfa\/start$/);
  const page = await (await b.postForm(start.action, { ...start.fields, password })).text();
  const secret = /<code class="key">([A-Z2-7 ]+)<\/code>/.exec(page)![1]!.replace(/ /g, '');
  const confirm = formOf(page, /\/account\/mfa\/confirm$/);
  expect((await b.postForm(confirm.action, { ...confirm.fields, code: totp(secret) })).status).toBe(303);
  return secret;
}

describe('the side effects of second-factor changes', () => {
  it('mfa_enrol and mfa_disable on /account: recorded with the person as actor, nothing ends; mfa_reset by the CLI: every session ends', async () => {
    const who = await addAccount(srv.app, school, { login: 'eff.mfa', kind: 'parent' });
    const refresh = await appToken(who.login, who.password);
    const { b, html } = await openAccount(who.login, who.password);

    const secret = await enrol(b, html, who.password);
    expect(await audited('mfa.enrol', who.id)).toMatchObject({ actor_type: 'user', actor_id: who.id });

    const page = await (await b.follow('/account')).res.text();
    const off = formOf(page, /\/account\/mfa\/disable$/);
    // A later step than the one that confirmed (a used step is refused).
    expect((await b.postForm(off.action, { ...off.fields, password: who.password, code: totp(secret, Date.now() + 30_000) })).status).toBe(303);
    expect(await audited('mfa.disable', who.id)).toMatchObject({ actor_type: 'user', actor_id: who.id });
    expect(await tokenWorks(refresh)).toBe(true);
    expect(await accountOpen(b)).toBe(true);

    // Enrolled again, then reset by an operator: the lost phone's sign-ins end.
    await enrol(b, await (await b.follow('/account')).res.text(), who.password);
    const r = cli(['user', 'reset-mfa', '--school', school.slug, '--login', who.login]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('two-step verification removed');
    expect(await srv.db('user_totp').where({ user_id: who.id })).toHaveLength(0);
    expect(await accountOpen(b)).toBe(false);
    expect(await audited('mfa.reset', who.id)).toMatchObject({ actor_type: 'cli' });
  });
});

describe('the side effects of role changes', () => {
  it('role_grant and role_revoke by a platform admin: recorded with the admin as actor; revoking the last school ends the console sessions only', async () => {
    const admin = await addAccount(srv.app, null, { login: 'eff.admin', roles: ['admin'] });
    const staff = await addAccount(srv.app, school, { login: 'eff.zavuch', kind: 'staff', roles: ['teacher'] });
    const platform = await consoleLogin(srv.url, '', admin, { platform: true });
    const csrf = formOf(await (await platform.follow('/console/platform/curators')).res.text(), /\/grant$/).fields._csrf!;
    const refresh = await appToken(staff.login, staff.password); // before the role: a curator's login needs the second factor

    expect((await platform.postForm('/console/platform/curators/grant', { _csrf: csrf, school: school.id, login: staff.login })).status).toBe(303);
    expect(await audited('role.grant', staff.id)).toMatchObject({ actor_type: 'user', actor_id: admin.id, school_id: school.id });

    const curatorConsole = await consoleLogin(srv.url, school.slug, staff);
    expect((await curatorConsole.follow('/console')).url).toBe(`${srv.url}/console`);
    expect(await srv.db('console_sessions').where({ user_id: staff.id })).toHaveLength(1);
    expect((await platform.postForm('/console/platform/curators/revoke', { _csrf: csrf, user: staff.id, school: school.id })).status).toBe(303);
    expect(await audited('role.revoke', staff.id)).toMatchObject({ actor_type: 'user', actor_id: admin.id, school_id: school.id });
    expect(await srv.db('console_sessions').where({ user_id: staff.id })).toHaveLength(0);
    expect(await (await curatorConsole.follow('/console')).res.text()).not.toMatch(/\/console\/logout/);
    expect(await tokenWorks(refresh)).toBe(true); // the apps keep the person: only the console's role went
  });
});

describe('the side effects of a transfer', () => {
  it('transfer (a curator moves a pupil to another school): every session ends, the curator is the actor in both schools', async () => {
    const other = await addSchool(srv.db, { name: 'Школа № 4' });
    const curator = await addAccount(srv.app, school, { login: 'eff.kurator4', kind: 'staff', roles: ['curator', 'teacher'] });
    const pupil = await addStudent(srv.app, school, { lastName: 'Переездов', firstName: 'Коля', className: '6А' });
    const who = await addAccount(srv.app, school, { login: 'eff.moving', kind: 'student', personId: pupil.id });
    const refresh = await appToken(who.login, who.password);
    const { console_, csrf } = await curatorConsole(curator);
    const res = await console_.postForm(`/console/users/${who.id}/transfer`, { _csrf: csrf, school: other.slug, class: '7А', login: '' });
    expect(res.status).toBe(200);
    expect(await tokenWorks(refresh)).toBe(false);
    expect(await audited('user.transfer.out', who.id)).toMatchObject({ actor_type: 'user', actor_id: curator.id, school_id: school.id });
    expect(await audited('user.transfer.in', who.id)).toMatchObject({ actor_type: 'user', actor_id: curator.id, school_id: other.id });
  });
});

describe('the side effects of guardianship changes', () => {
  it('guardian_link (a parent code on /account): the parent is the actor, the earlier parent is told; unlink/restrict/unrestrict by a curator: the curator is the actor', async () => {
    const kid = await addStudent(srv.app, school, { lastName: 'Детков', firstName: 'Миша', className: '2А' });
    const codes = await issue(srv.app, school, [kid], { students: 1, parents: 2 });
    // The first parent registers with the first code; the second links the child from /account.
    const mama = await registerWithCode(srv.url, { code: codeOf(codes, kid, 'parent', 0), login: 'eff.mama', password: 'Vega7x2024y', parent: { lastName: 'Деткова', firstName: 'Анна', email: 'eff.mama@mail.ru' } });
    expect(mama.outcome).toBe('registered');
    await srv.db('users').where({ login: 'eff.mama', school_id: school.id }).update({ email_verified_at: new Date() });
    const papa = await addAccount(srv.app, school, { login: 'eff.papa', kind: 'parent' });
    const { b, html } = await openAccount(papa.login, papa.password);
    const form = formOf(html, /\/account\/child$/);
    expect((await b.postForm(form.action, { ...form.fields, code: codeOf(codes, kid, 'parent', 1) })).status).toBe(303);
    expect(await audited('guardian.link', kid.id)).toMatchObject({ actor_type: 'user', actor_id: papa.id });
    await srv.app.mail.deliverDue();
    expect(smtp.messages.filter((m) => m.subject === 'К дневнику вашего ребёнка получил доступ ещё один родитель' && JSON.stringify(m.to).includes('eff.mama@mail.ru'))).toHaveLength(1);

    const curator = await addAccount(srv.app, school, { login: 'eff.kurator5', kind: 'staff', roles: ['curator', 'teacher'] });
    const { console_, csrf } = await curatorConsole(curator);
    for (const action of ['restrict', 'unrestrict', 'remove'] as const) {
      expect((await console_.postForm(`/console/users/${papa.id}/guardianships/${kid.id}/${action}`, { _csrf: csrf, back: 'guardian' })).status).toBe(303);
      expect(await audited(`guardianship.${action}`, kid.id)).toMatchObject({ actor_type: 'user', actor_id: curator.id, school_id: school.id });
    }
    expect(await srv.db('guardianships').where({ user_id: papa.id, person_id: kid.id })).toHaveLength(0);
  });
});
