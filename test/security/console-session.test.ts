/**
 * Issue 16, item 3: the console's session can be revoked. A copy of a curator's (or a platform
 * admin's) console cookies, taken while the session was live, must stop working — and must not
 * act — after «Выйти из консоли», after endSessions() of the account (`user logout`), after a
 * password reset (`user reset-password`; the school console no longer resets a curator), after the role is revoked (even once it is
 * granted again) and after the account is disabled by the leavers job (even once it is enabled again); after 30 idle
 * minutes and 8 hours after the login. Time is moved by editing the session's stored row. Black-box
 * over real HTTP; the CLI commands run as the real process, so the file keeps its database on the
 * machine's PostgreSQL in both CI passes (an embedded database cannot be opened by a second process),
 * and the real-command case never skips.
 */
import { cliAudit } from '../../src/audit/bound.js';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { consoleLogin } from '../helpers/console.js';
import { addStaff } from '../helpers/school.js';
import { disableLeavers } from '../../src/accounts/lifecycle.js';
import { cliCommand, ROOT } from '../helpers/cli.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import type { School } from '../../src/schools/queries.js';

type Acc = Awaited<ReturnType<typeof addAccount>>;

let srv: TestServer;
let school: School;
let student: Acc;
let admin: Acc;
let adminBrowser: Browser;
const LOCK_KEY = () => `login:acct:${school.id}:vanya`;

let pg: TestDb;
beforeAll(async () => {
  pg = await createTestDb({ postgres: true });
  srv = await startTestServer({ testDb: pg });
  school = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
  student = await addAccount(srv.app, school, { login: 'vanya', kind: 'student' });
  admin = await addAccount(srv.app, null, { login: 'admin', roles: ['admin'] });
  adminBrowser = await consoleLogin(srv.url, '', admin, { platform: true });
});
afterAll(async () => {
  await srv?.close();
  await pg?.close();
});

let n = 0;
/** A fresh curator logged in to the console, and a thief's copy of the console cookies. */
async function loggedInCurator(personId?: string) {
  const curator = await addAccount(srv.app, school, { login: `kurator${++n}`, kind: 'staff', roles: ['curator'], personId });
  const browser = await consoleLogin(srv.url, '1399', curator);
  // The thief copies the console's cookies (and has a CSRF cookie of their own, as anyone can).
  const copy = browser.copy(/^jid_console|^jid_csrf/);
  expect((await copy.request('/console')).status).toBe(200);
  return { curator, browser, copy };
}

async function csrfOf(browser: Browser, page = '/console'): Promise<string> {
  return formOf(await (await browser.follow(page)).res.text(), /\/console\/logout$/).fields._csrf!;
}

/** The pupil's login is locked by someone's guessing: a counter the unlock would delete. */
async function lockStudent(): Promise<void> {
  await srv.db('throttle').where({ key: LOCK_KEY() }).del();
  await srv.db.raw(`insert into throttle (key, count, last_at, blocked_until) values (?, 9, now(), now() + interval '15 minutes')`, [LOCK_KEY()]);
}

/** The copy is refused on a page (the console's «session ended» page) and on an action (unlock), which changes nothing. */
async function expectRefused(copy: Browser, csrf: string, home = '/console'): Promise<void> {
  // The refusal deletes the cookie in the browser; a thief keeps sending their copy regardless.
  const page = await copy.copy().request(home);
  expect(page.status).toBe(401);
  const html = await page.text();
  expect(html).toContain('Сеанс консоли завершён');
  expect(html).toContain('Войти снова');
  await lockStudent();
  const audits = async () => Number((await srv.db('audit_log').where({ action: 'login.unlock', target_id: student.id }).count({ n: '*' }).first())!.n);
  const before = await audits();
  const unlock = await copy.copy().postForm(`/console/users/${student.id}/unlock`, { _csrf: csrf });
  expect(unlock.status).toBe(401);
  expect(await srv.db('throttle').where({ key: LOCK_KEY() }).first()).toBeDefined();
  expect(await audits()).toBe(before);
}

/** The command as a process, asynchronously: the server under test runs in this very process. */
function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const secrets = srv.config.secrets;
  return new Promise((resolve) => execFile(cliCommand().command, [...cliCommand().args, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: {
      PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`, NODE_ENV: 'development', DATA_DIR: srv.config.dataDir, DATABASE_URL: srv.testDb.url!,
      ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', LOG_LEVEL: 'silent',
      // The server's secrets: the command reads the signing keys sealed with its key-encryption key.
      COOKIE_KEYS: secrets.cookieKeys.join(','), KEY_ENCRYPTION_KEY: secrets.keyEncryptionKey.toString('hex'),
      JOURNAL_WEB_CLIENT_SECRET: secrets.journalWebClientSecret, INVITE_CODE_PEPPER: secrets.invitePepper.toString('hex'),
    },
    timeout: 120_000,
  }, (error, out, err) => resolve({ code: error ? Number(error.code ?? 1) : 0, out, err })));
}

describe('a copied console cookie', () => {
  it('holds no account id: the server keeps only a hash of its random id', async () => {
    const { curator, browser } = await loggedInCurator();
    const value = browser.cookie('jid_console')!;
    expect(value).not.toContain(curator.id);
    const rows = await srv.db('console_sessions').where({ user_id: curator.id });
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(value);
  });

  it('stops working after «Выйти из консоли»; an unlock with it is refused and changes nothing', async () => {
    const { browser, copy } = await loggedInCurator();
    const csrf = await csrfOf(browser);
    const out = await browser.postForm('/console/logout', { _csrf: csrf });
    expect(out.status).toBe(200);
    expect(await out.text()).toContain('Вы вышли из консоли');
    await expectRefused(copy, csrf);
  });

  it('stops working after endSessions() of the account («выйти везде», `user logout`)', async () => {
    const { curator, browser, copy } = await loggedInCurator();
    const csrf = await csrfOf(browser);
    const ended = await srv.app.sessions.endSessions(curator.id, { reason: 'cli', by: cliAudit(srv.db) });
    expect(ended.consoleSessions).toBe(1);
    await expectRefused(copy, csrf);
    // The owner's own browser is told too, and its login starts afresh.
    const own = await browser.request('/console');
    expect(own.status).toBe(401);
    expect(await own.text()).toContain('href="/console/login"');
  });

  // A fellow curator can no longer reset a curator's password in the school console (issue 16.1b:
  // console-privileged.test.ts); the password resets that remain — `user reset-password` and the
  // recovery link — end the session through endSessions(), proven by the real command below.

  it('stops working after `user logout` and after `user reset-password` (the real command)', async () => {
    const first = await loggedInCurator();
    const csrf = await csrfOf(first.browser);
    const logout = await cli(['user', 'logout', '--school', '1399', '--login', first.curator.login]);
    expect(logout.err).toBe('');
    await expectRefused(first.copy, csrf);
    expect(logout.out).toContain('1 console session(s) ended');

    const second = await loggedInCurator();
    const csrf2 = await csrfOf(second.browser);
    const reset = await cli(['user', 'reset-password', '--school', '1399', '--login', second.curator.login]);
    expect(reset.code).toBe(0);
    await expectRefused(second.copy, csrf2);
  }, 240_000);

  it('stops working after the role is revoked — and stays dead when it is granted again', async () => {
    const { curator, browser, copy } = await loggedInCurator();
    const csrf = await csrfOf(browser);
    const adminCsrf = await csrfOf(adminBrowser, '/console/platform');
    const revoke = await adminBrowser.postForm('/console/platform/curators/revoke', { _csrf: adminCsrf, user: curator.id, school: school.id });
    expect(revoke.status).toBe(303);
    const grant = await adminBrowser.postForm('/console/platform/curators/grant', { _csrf: adminCsrf, school: school.id, login: curator.login });
    expect(grant.status).toBe(303);
    expect((await srv.db('users').where({ id: curator.id }).first()).roles).toContain('curator');
    await expectRefused(copy, csrf);
  });

  it('stops working after the account is disabled (the leavers job) — and stays dead when it is enabled again', async () => {
    // The school console no longer disables a curator (issue 16.1b); the lifecycle job still
    // disables any account whose roster entry left the school, curators included.
    const person = await addStaff(srv.app, school);
    const { curator, browser, copy } = await loggedInCurator(person.id);
    const csrf = await csrfOf(browser);
    await srv.db('people').where({ id: person.id }).update({ left_at: srv.db.raw(`now() - interval '400 days'`) });
    expect(await disableLeavers(srv.app)).toBe(1);
    expect((await srv.db('users').where({ id: curator.id }).first()).disabled_at).not.toBeNull();
    await srv.db('people').where({ id: person.id }).update({ left_at: null });
    await srv.db('users').where({ id: curator.id }).update({ disabled_at: null });
    await expectRefused(copy, csrf);
  });

  it('works for the platform console too: an admin\'s copy stops after «Выйти из консоли»', async () => {
    const other = await addAccount(srv.app, null, { login: `admin${++n}`, roles: ['admin'] });
    const browser = await consoleLogin(srv.url, '', other, { platform: true });
    const copy = browser.copy(/^jid_console|^jid_csrf/);
    expect((await copy.request('/console/platform')).status).toBe(200);
    const csrf = await csrfOf(browser, '/console/platform');
    expect((await browser.postForm('/console/logout', { _csrf: csrf })).status).toBe(200);
    const page = await copy.copy().request('/console/platform');
    expect(page.status).toBe(401);
    const html = await page.text();
    expect(html).toContain('Сеанс консоли завершён');
    expect(html).toContain('href="/console/platform/login"');
    const grant = await copy.copy().postForm('/console/platform/curators/grant', { _csrf: csrf, school: school.id, login: student.login });
    expect(grant.status).toBe(401);
    expect(await srv.db('audit_log').where({ action: 'role.grant', actor_id: other.id }).first()).toBeUndefined();
  });
});

describe('the console session times out', () => {
  const setRow = (userId: string, sql: string) => srv.db.raw(`update console_sessions set ${sql} where user_id = ?`, [userId]);

  it('stays while used: 29 idle minutes are fine, and each request starts the idle clock again', async () => {
    const { curator, copy } = await loggedInCurator();
    await setRow(curator.id, `last_seen_at = now() - interval '29 minutes'`);
    expect((await copy.request('/console')).status).toBe(200);
    const row = await srv.db('console_sessions').where({ user_id: curator.id }).first();
    expect(Date.now() - new Date(row.last_seen_at).getTime()).toBeLessThan(60_000);
  });

  it('ends after 30 idle minutes, with the console\'s words; nothing acts', async () => {
    const { curator, browser, copy } = await loggedInCurator();
    const csrf = await csrfOf(browser);
    await setRow(curator.id, `last_seen_at = now() - interval '31 minutes'`);
    await expectRefused(copy, csrf);
    expect((await browser.request('/console')).status).toBe(401);
  });

  it('after the idle end, the console asks for the password again even while the single sign-on session lives', async () => {
    const { curator, browser } = await loggedInCurator();
    await setRow(curator.id, `last_seen_at = now() - interval '31 minutes'`);
    // The sign-on session's authentication is as old as the console's last use.
    await srv.db.raw(
      `update oidc_models set payload = jsonb_set(payload, '{loginTs}', to_jsonb((payload->>'loginTs')::bigint - 31 * 60))
        where model = 'Session' and payload->>'accountId' = ?`,
      [curator.id],
    );
    expect((await browser.request('/console')).status).toBe(401);
    const { res, url } = await browser.follow('/console');
    expect(url).toContain('/interaction/');
    expect(await res.text()).toMatch(/name="password"|action="[^"]*\/school"/);
    expect(await srv.db('console_sessions').where({ user_id: curator.id }).first()).toBeUndefined();
  });

  it('ends 8 hours after the login, however busy', async () => {
    const { curator, browser, copy } = await loggedInCurator();
    const csrf = await csrfOf(browser);
    await setRow(curator.id, `created_at = now() - interval '8 hours 1 minute', expires_at = now() - interval '1 minute'`);
    await expectRefused(copy, csrf);
  });
});
