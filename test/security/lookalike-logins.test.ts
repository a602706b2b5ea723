/**
 * Outside review, issue 16 item 5: look-alike logins. `studеnt` with a Cyrillic «е» registered
 * beside `student`. Now logins are unique per school by their confusable skeleton (Unicode TS #39)
 * and a login's letters come from one alphabet — on every path that names a login: registration
 * by invite code (over HTTP), the CLI's `user add` (the real command), the curator's transfer of
 * a pupil (over HTTP), and the migration that back-fills the skeletons of existing accounts.
 * Signing in still matches the login exactly (case aside): a look-alike opens nothing.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin } from '../helpers/rp.js';
import { addStudent, codeOf, issue } from '../helpers/school.js';
import { consoleLogin } from '../helpers/console.js';
import { cliCommand, ROOT } from '../helpers/cli.js';
import { createTestDb, onPostgres, type TestDb } from '../helpers/db.js';
import { migrations } from '../../migrations/index.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { loginSkeleton } from '../../src/accounts/login-skeleton.js';
import type { School } from '../../src/schools/queries.js';

const CYR_E = '\u0435'; // «е», CYRILLIC SMALL LETTER IE
const LOOKALIKE = `stud${CYR_E}nt`;
const REDIRECT = 'http://127.0.0.1:9/callback';
const GOOD = { password: 'Sirius2024x', password2: 'Sirius2024x', consent: '1' };
const TAKEN = 'Этот логин уже занят в вашей школе';
const MIXED = 'Логин должен быть написан буквами одного алфавита';
const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/&quot;/g, '"').replace(/&laquo;/g, '«').replace(/&raquo;/g, '»').replace(/\s+/g, ' ');

let srv: TestServer;
let school: School;

beforeAll(async () => {
  srv = await startTestServer({ env: { JOURNAL_WEB_REDIRECT_URIS: REDIRECT } });
  school = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
});
afterAll(async () => srv?.close());

/** The registration pages for a new pupil of `s` with a code of their own; the details page. */
async function detailsPage(s: School, lang?: 'en'): Promise<{ b: Browser; html: string }> {
  const pupil = await addStudent(srv.app, s);
  const issued = await issue(srv.app, s, [pupil], { parents: 0 });
  const b = new Browser(srv.url);
  const page = formOf(await (await b.request(lang ? '/register?lang=en' : '/register')).text(), /register$/);
  const res = await b.postForm(page.action, { ...page.fields, code: codeOf(issued, pupil, 'student') });
  return { b, html: await res.text() };
}

async function register(loginName: string, s: School = school, lang?: 'en'): Promise<{ status: number; text: string }> {
  const { b, html } = await detailsPage(s, lang);
  const form = formOf(html, /register\/details$/);
  const res = await b.postForm(form.action, { ...form.fields, login: loginName, ...GOOD });
  return { status: res.status, text: text(await res.text()) };
}

describe('registration by invite code', () => {
  it('refuses `studеnt` (one Cyrillic е among Latin letters) beside `student`: a login mixes no alphabets', async () => {
    expect((await register('student')).status).toBe(200);
    const r = await register(LOOKALIKE);
    expect(r.status).toBe(400);
    expect(r.text).toContain(MIXED);
    expect(await srv.db('users').where({ login: LOOKALIKE }).first()).toBeUndefined();
  });

  it('refuses single-script look-alikes with the same «taken» message as an exact duplicate: `ВОХ`, `сосо` (all Cyrillic) beside `box`, `coco`; `l0gin` beside `login`; `rnasha` beside `masha`', async () => {
    for (const [first, second] of [['box', 'ВОХ'], ['coco', 'сосо'], ['login', 'l0gin'], ['masha', 'rnasha']] as const) {
      expect((await register(first)).status).toBe(200);
      const r = await register(second);
      expect([second, r.status]).toEqual([second, 409]);
      expect(r.text).toContain(TAKEN);
    }
  });

  it('a look-alike in another school is no business of this one', async () => {
    const other = await addSchool(srv.db);
    expect((await register('ВОХ', other)).status).toBe(200);
  });

  it('refuses a login mixing Latin and Cyrillic letters, in Russian and in English', async () => {
    const mixed = `iv${'\u0430'}nov`; // «а» Cyrillic among Latin letters, nothing like it registered
    const ru = await register(mixed);
    expect(ru.status).toBe(400);
    expect(ru.text).toContain(MIXED);
    const en = await register(mixed, school, 'en');
    expect(en.status).toBe(400);
    expect(en.text).toContain('A login is written in one alphabet');
    expect(await srv.db('users').where({ login: mixed }).first()).toBeUndefined();
    // Either alphabet alone, with digits and signs, is fine.
    expect((await register('иванов.2012')).status).toBe(200);
  });

  it('signing in with the look-alike of a login opens nothing (skeletons decide uniqueness only)', async () => {
    const owner = await addAccount(srv.app, school, { login: 'petrova' });
    const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    const started = await startLogin(rp, { redirect_uri: REDIRECT, scope: 'openid', school: school.slug });
    const b = new Browser(srv.url);
    const page = await openLoginPage(b, started.authUrl);
    const { res } = await submitLogin(b, page.html, `p${CYR_E}trova`, owner.password);
    expect(text(await res.text())).toContain('Неверное имя пользователя или пароль');
  });
});

describe('the curator transfers a pupil', () => {
  it('refuses a new login that looks like one of the new school, and a mixed one', async () => {
    const from = await addSchool(srv.db);
    const to = await addSchool(srv.db);
    const pupil = await addStudent(srv.app, from);
    const moving = await addAccount(srv.app, from, { login: 'kolya', kind: 'student', personId: pupil.id });
    await addAccount(srv.app, to, { login: 'coco' });
    const curator = await addAccount(srv.app, from, { login: 'kurator', kind: 'staff', roles: ['curator'] });
    const console_ = await consoleLogin(srv.url, from.slug, curator);
    const transfer = async (loginName: string) => {
      const form = formOf(await (await console_.follow(`/console/users/${moving.id}/transfer`)).res.text(), /\/transfer$/);
      const res = await console_.postForm(form.action, { ...form.fields, school: to.slug, login: loginName });
      return { status: res.status, text: text(await res.text()) };
    };
    const lookalike = await transfer('сосо'); // Cyrillic
    expect(lookalike.status).toBe(409);
    expect(lookalike.text).toContain('Логин занят в новой школе');
    const mixed = await transfer(`k${'\u043E'}lya2`);
    expect(mixed.status).toBe(400);
    expect(mixed.text).toContain('буквы одного алфавита');
    expect((await srv.db('users').where({ id: moving.id }).first()).school_id).toBe(from.id);
    // A login of its own is accepted, and its skeleton moves with it.
    expect((await transfer('kolya.novy')).status).toBe(200);
    expect(await srv.db('users').where({ id: moving.id }).first('school_id', 'login_skeleton')).toEqual({ school_id: to.id, login_skeleton: 'kolya.novy' });
  });
});

describe('journal-id user add (the CLI)', () => {
  let dataDir: string;
  let cliDb: TestDb | undefined;
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-lookalike-'));
    if (onPostgres) cliDb = await createTestDb({ migrate: false });
  });
  afterAll(async () => {
    await cliDb?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const cli = (args: string[], input?: string) => {
    const r = spawnSync(cliCommand().command, [...cliCommand().args, ...args], {
      cwd: ROOT,
      input,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, NODE_ENV: 'development', DATA_DIR: dataDir, ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', ...(cliDb?.url ? { DATABASE_URL: cliDb.url } : {}) },
      timeout: 90_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it('refuses a look-alike of an existing login and a mixed-script login; nothing stored', () => {
    expect(cli(['migrate']).code).toBe(0);
    expect(cli(['school', 'add', '--number', '1399', '--name', 'Школа № 1399', '--region', 'Москва']).code).toBe(0);
    expect(cli(['user', 'add', '--school', '1399', '--login', 'coco', '--kind', 'student', '--password-stdin'], 'Kolobok2024x\n').code).toBe(0);
    const lookalike = cli(['user', 'add', '--school', '1399', '--login', 'сосо', '--kind', 'student', '--password-stdin'], 'Kolobok2024x\n');
    expect(lookalike.code).not.toBe(0);
    expect(lookalike.err).toContain('this login is already taken in this school');
    const mixed = cli(['user', 'add', '--school', '1399', '--login', LOOKALIKE, '--kind', 'student', '--password-stdin'], 'Kolobok2024x\n');
    expect(mixed.code).not.toBe(0);
    expect(mixed.err).toContain('one alphabet');
  }, 300_000);
});

describe('the migration over existing accounts', () => {
  it('back-fills skeletons; look-alikes already there keep working, the oldest holds the skeleton, the pair is audited', async () => {
    const t = await createTestDb({ migrate: false });
    try {
      const before = Object.keys(migrations).filter((name) => name < '017_login_skeleton');
      const source = (names: string[]): Knex.MigrationSource<string> => ({
        getMigrations: async () => names,
        getMigrationName: (name) => name,
        getMigration: async (name) => migrations[name]!,
      });
      await t.db.migrate.latest({ migrationSource: source(before) });
      const [s] = await t.db('schools').insert({ number: '1', name: 'Школа № 1', region: 'Москва', slug: 'one' }).returning('id');
      const user = (login: string, at: string) => ({ school_id: s.id, login, password_hash: 'x', kind: 'student', created_at: at });
      await t.db('users').insert([user('student', '2024-01-01T00:00:00Z'), user(LOOKALIKE, '2024-02-01T00:00:00Z'), user('ivan', '2024-03-01T00:00:00Z')]);
      await migrateLatest(t.db);
      const rows = await t.db('users').select('login', 'login_skeleton').orderBy('created_at');
      expect(rows).toEqual([
        { login: 'student', login_skeleton: 'student' },
        { login: LOOKALIKE, login_skeleton: null },
        { login: 'ivan', login_skeleton: loginSkeleton('ivan') },
      ]);
      const audit = await t.db('audit_log').where({ action: 'user.login_lookalike' }).select('school_id', 'details');
      expect(audit).toEqual([{ school_id: s.id, details: expect.objectContaining({ login: LOOKALIKE, lookalikeOf: expect.objectContaining({ login: 'student' }) }) }]);
      // The index holds from now on, whoever writes.
      await expect(t.db('users').insert({ ...user('Student', '2024-04-01T00:00:00Z'), login: 'stud3nt', login_skeleton: 'student' })).rejects.toMatchObject({ code: '23505' });
    } finally {
      await t.close();
    }
  });
});
