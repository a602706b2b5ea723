/**
 * The same person field gets the same verdict at every door (issue 17.5): the forms (registration,
 * /account, the console's contacts), the CLI (`user add`, `roster add`) and the roster's CSV
 * upload refuse a wrong SNILS, email or phone with the one message of src/accounts/fields.ts —
 * in Russian on pages, in English on the command line — and store nothing. And the CLI's given
 * password (`user add --password-stdin`) meets the one password rule.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { addStudent, codeOf, issue } from '../helpers/school.js';
import { Browser, formOf } from '../helpers/browser.js';
import { consoleLogin } from '../helpers/console.js';
import { discover, startLogin, login } from '../helpers/rp.js';
import { runCli } from '../helpers/cli.js';
import { createTestDb, onPostgres, type TestDb } from '../helpers/db.js';
import { fieldTexts } from '../../src/accounts/fields.js';
import type { MessageKey } from '../../src/i18n/index.js';
import type { School } from '../../src/schools/queries.js';

/** Wrong values and the one problem each must give, wherever it is typed. */
const WRONG: { field: 'snils' | 'email' | 'phone'; value: string; key: MessageKey }[] = [
  { field: 'snils', value: '112-233-445 96', key: 'field.snils.checksum' },
  { field: 'snils', value: '000-000-000 00', key: 'field.snils.zeros' },
  { field: 'snils', value: 'abc 112-233-445 95', key: 'field.snils.format' },
  { field: 'email', value: 'anna@mail', key: 'field.email.invalid' },
  { field: 'email', value: 'anna..k@mail.ru', key: 'field.email.invalid' },
  { field: 'phone', value: '8 495 123-45-67', key: 'field.phone.landline' },
  { field: 'phone', value: '+44 20 7946 0958', key: 'field.phone.foreign' },
];
const ru = (key: MessageKey) => fieldTexts({ key }).message;
const en = (key: MessageKey) => fieldTexts({ key }).messageEn;
/** A page's text as a person reads it. */
const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/\s+/g, ' ');

let srv: TestServer;
let school: School;
const REDIRECT = 'http://127.0.0.1:9/callback';

beforeAll(async () => {
  srv = await startTestServer({ env: { JOURNAL_WEB_REDIRECT_URIS: REDIRECT } });
  school = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
});
afterAll(async () => srv?.close());

describe('forms', () => {
  it('registration (a parent\'s details): email and phone', async () => {
    const pupil = await addStudent(srv.app, school, { lastName: 'Орлова', firstName: 'Вера', className: '6А' });
    const issued = await issue(srv.app, school, [pupil]);
    const browser = new Browser(srv.url);
    const codeForm = formOf(await (await browser.request('/register?school=1399')).text(), /register$/);
    const details = await (await browser.postForm(codeForm.action, { ...codeForm.fields, code: codeOf(issued, pupil, 'parent') })).text();
    for (const w of WRONG.filter((x) => x.field !== 'snils')) {
      const form = formOf(details, /register\/details$/);
      const good = { last_name: 'Орлова', first_name: 'Анна', login: 'orlova.a', email: 'anna@mail.ru', phone: '', password: 'Sirius2024x', password2: 'Sirius2024x', consent: '1' };
      const res = await browser.postForm(form.action, { ...form.fields, ...good, [w.field]: w.value });
      expect([w.value, res.status]).toEqual([w.value, 400]);
      expect(text(await res.text())).toContain(ru(w.key));
    }
    expect(await srv.db('users').where({ login: 'orlova.a' }).first()).toBeUndefined();
  });

  // Its SNILS form shows (with its messages) where Gosuslugi is configured: test/esia/esia-login.test.ts.
  it('/account: email', async () => {
    const parent = await addAccount(srv.app, school, { login: 'roditel', kind: 'parent' });
    const browser = new Browser(srv.url);
    const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    await login(browser, await startLogin(rp, { redirect_uri: REDIRECT, school: '1399' }), 'roditel', parent.password);
    const page = await (await browser.follow('/account')).res.text();
    for (const w of WRONG.filter((x) => x.field === 'email')) {
      const form = formOf(page, /\/account\/email$/);
      const res = await browser.postForm(form.action, { ...form.fields, email: w.value, password: parent.password });
      expect([w.value, res.status]).toEqual([w.value, 400]);
      expect(text(await res.text())).toContain(ru(w.key));
    }
    expect(await srv.db('users').where({ id: parent.id }).first()).toMatchObject({ email: parent.email });
  });

  it('the console\'s contacts of a user: SNILS, email and phone', async () => {
    const curator = await addAccount(srv.app, school, { login: 'kurator', kind: 'staff', roles: ['curator'] });
    const pupil = await addAccount(srv.app, school, { login: 'uchenik', kind: 'student' });
    const console_ = await consoleLogin(srv.url, '1399', curator);
    const page = await (await console_.follow(`/console/users/${pupil.id}`)).res.text();
    const form = formOf(page, /\/contacts$/);
    for (const w of WRONG) {
      const res = await console_.postForm(form.action, { ...form.fields, snils: '', email: '', phone: '', [w.field]: w.value });
      expect([w.value, res.status]).toEqual([w.value, 400]);
      expect(text(await res.text())).toContain(ru(w.key));
    }
    expect(await srv.db('users').where({ id: pupil.id }).first()).toMatchObject({ snils: null, phone: null });
  });

  it('the roster\'s CSV upload in the console: SNILS and phone', async () => {
    const curator = await addAccount(srv.app, school, { login: 'kurator2', kind: 'staff', roles: ['curator'] });
    const console_ = await consoleLogin(srv.url, '1399', curator);
    for (const w of WRONG.filter((x) => x.field !== 'email')) {
      const csrf = formOf(await (await console_.follow('/console/roster')).res.text(), /\/console\/roster\/import$/).fields._csrf!;
      const form = new FormData();
      form.set('_csrf', csrf);
      form.set('school', school.id);
      form.set('file', new Blob([`Фамилия;Имя;Класс;Тип;${w.field === 'snils' ? 'СНИЛС' : 'Телефон'}\nСоколова;Маша;7Б;ученик;${w.value}\n`], { type: 'text/csv' }), 'список.csv');
      const res = await console_.request('/console/roster/import', { method: 'POST', body: form });
      expect([w.value, res.status]).toEqual([w.value, 400]);
      // The report puts the message after the line and column, lower-cased: «Строка 2, «СНИЛС»: неверный СНИЛС: …».
      expect(text(await res.text())).toContain(ru(w.key).slice(1));
    }
    expect(await srv.db('people').where({ school_id: school.id, last_name: 'Соколова' })).toHaveLength(0);
  });
});

describe('the command line', () => {
  let dataDir: string;
  let testDb: TestDb | undefined;
  const cli = (args: string[]) => runCli(args, { dataDir, databaseUrl: testDb?.url });
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-fields-'));
    if (onPostgres) testDb = await createTestDb({ migrate: false });
  });
  afterAll(async () => testDb?.close());

  it('user add (createAccount) and roster add (the roster\'s schema) give the same English message', () => {
    expect(cli(['migrate']).code).toBe(0);
    expect(cli(['school', 'add', '--number', '1399', '--name', 'Школа № 1399', '--region', 'Москва', '--slug', '1399']).code).toBe(0);
    for (const w of WRONG) {
      const user = cli(['user', 'add', '--school', '1399', '--login', 'orlov', '--kind', 'student', `--${w.field}`, w.value]);
      expect([w.value, user.code, user.err]).toEqual([w.value, expect.any(Number), expect.stringContaining(en(w.key))]);
      expect(user.code).not.toBe(0);
      if (w.field === 'email') continue; // the roster keeps no email
      const person = cli(['roster', 'add', '--school', '1399', '--kind', 'student', '--last-name', 'Орлов', '--first-name', 'Дима', '--class', '7Б', `--${w.field}`, w.value]);
      expect([w.value, person.code]).toEqual([w.value, 2]);
      expect(person.err).toContain(en(w.key));
    }
    expect(cli(['user', 'list', '--school', '1399']).out).not.toContain('orlov');
  });

  it('user add --password-stdin applies the one password rule: the name in Latin letters is refused', () => {
    const args = ['user', 'add', '--school', '1399', '--login', 'pupil9', '--kind', 'student', '--last-name', 'Соколова', '--first-name', 'Мария', '--password-stdin'];
    const r = runCli(args, { dataDir, databaseUrl: testDb?.url, input: 'Sokolova2024\n' });
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('The password must not contain your last, first or middle name');
  });
});
