/**
 * The roster and invitations in the console: a CSV upload (all rows or none, a bad row reported
 * by its line in Russian), revoking a class's unused codes (each audited, the parents' limit freed
 * for a reprint), and a curator of two schools working on each through the school switch — never
 * on a third.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { addStudent, issue } from '../helpers/school.js';
import { Browser, formOf } from '../helpers/browser.js';
import { consoleLogin } from '../helpers/console.js';
import type { School } from '../../src/schools/queries.js';

let srv: TestServer;
let a: School;
let b: School;
let c: School;
let curator: Browser;

beforeAll(async () => {
  srv = await startTestServer();
  a = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
  b = await addSchool(srv.db, { number: '57', slug: '57', name: 'Школа № 57' });
  c = await addSchool(srv.db, { number: '239', slug: '239', name: 'Школа № 239' });
  const who = await addAccount(srv.app, a, { login: 'kurator', kind: 'staff', roles: ['curator'] });
  // The same curator also holds school B (granted by a platform admin).
  await srv.db('curator_schools').insert({ user_id: who.id, school_id: b.id });
  await addStudent(srv.app, c, { lastName: 'Чужой', firstName: 'Ученик', className: '5А' });
  curator = await consoleLogin(srv.url, '1399', who);
});
afterAll(async () => srv?.close());

const csrfOf = async (path = '/console/roster') => formOf(await (await curator.follow(path)).res.text(), /\/console\/roster\/import$/).fields._csrf!;

async function upload(csv: string, school: string, name = 'список.csv'): Promise<Response> {
  const form = new FormData();
  form.set('_csrf', await csrfOf());
  form.set('school', school);
  form.set('file', new Blob([csv], { type: 'text/csv' }), name);
  return curator.request('/console/roster/import', { method: 'POST', body: form });
}

describe('the roster from a CSV file', () => {
  it('a file with a bad row imports nothing and names the line', async () => {
    const res = await upload('Фамилия;Имя;Класс;Тип\nОрлов;Дима;7Б;ученик\nСоколова;Маша;7Ы;ученик\n', a.id);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('Файл не загружен');
    expect(html).toContain('Строка 3:');
    expect(await srv.db('people').where({ school_id: a.id })).toHaveLength(0);
  });

  it('a good file is imported into the chosen school of the curator, audited with the actor', async () => {
    const csv = '\uFEFFФамилия;Имя;Класс;Тип\nОрлов;Дима;7Б;ученик\nСоколова;Маша;7Б;ученик\n';
    const res = await upload(csv, b.id);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('добавлено 2');
    expect(await srv.db('people').where({ school_id: b.id })).toHaveLength(2);
    const row = await srv.db('audit_log').where({ action: 'roster.import', school_id: b.id }).first();
    expect(row.actor_type).toBe('user');
    expect(row.details).toMatchObject({ rows: 2, added: 2, file: 'список.csv' });
    // Again: the same people, unchanged.
    expect(await (await upload(csv, b.id)).text()).toContain('без изменений 2');
  });

  it('a school outside the curator\'s scope is never used: the upload goes to their own school', async () => {
    const res = await upload('Фамилия;Имя;Класс;Тип\nЛишний;Вася;5А;ученик\n', c.id);
    expect(res.status).toBe(200);
    expect(await srv.db('people').where({ school_id: c.id, last_name: 'Лишний' })).toHaveLength(0);
    expect(await srv.db('people').where({ school_id: a.id, last_name: 'Лишний' })).toHaveLength(1);
  });

  it('refuses an upload without a file, a binary file, one over 2 MB, and one without the CSRF token', async () => {
    const noFile = new FormData();
    noFile.set('_csrf', await csrfOf());
    expect((await curator.request('/console/roster/import', { method: 'POST', body: noFile })).status).toBe(400);
    const binary = await upload('PK\u0003\u0004\u0000\u0000xlsx', a.id, 'book.xlsx');
    expect(binary.status).toBe(400);
    expect(await binary.text()).toContain('нулевые байты');
    const huge = await upload('Фамилия;Имя;Класс;Тип\n' + 'Орлов;Дима;7Б;ученик\n'.repeat(120_000), a.id);
    expect(huge.status).toBe(413);
    const forged = new FormData();
    forged.set('file', new Blob(['Фамилия;Имя;Класс;Тип\nХакер;Вася;5А;ученик\n']), 'x.csv');
    expect((await curator.request('/console/roster/import', { method: 'POST', body: forged })).status).toBe(403);
    expect(await srv.db('people').where({ last_name: 'Хакер' })).toHaveLength(0);
  });

  it('the roster page shows the classes of the chosen school and a switch between the curator\'s schools only', async () => {
    const html = await (await curator.follow(`/console/roster?school=${b.id}`)).res.text();
    expect(html).toContain('7Б');
    expect(html).toContain(`href="?school=${a.id}"`);
    expect(html).not.toContain(c.id);
    expect(html).not.toContain('Школа № 239');
  });
});

describe('revoking a class\'s unused codes', () => {
  it('revokes every unused code of the class (audited); a reprint is then within the parents\' limit', async () => {
    const people = await srv.db('people').where({ school_id: b.id, class_name: '7Б' });
    await issue(srv.app, b, people, { students: 1, parents: 2 });
    const page = await (await curator.follow(`/console/invites?school=${b.id}`)).res.text();
    expect(page).toContain('неиспользованных кодов: 6');
    const print = formOf(page, /\/console\/invites$/);
    // Two more parents' codes each would pass the limit of the configured maximum.
    const refused = await curator.postForm(print.action, { ...print.fields, parents: '4' });
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain('Отзовите неиспользованные коды класса');

    const revoke = formOf(page, /\/console\/invites\/revoke$/);
    const res = await curator.postForm(revoke.action, revoke.fields);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toContain('revoked=6');
    expect(await srv.db('invites').where({ school_id: b.id }).whereNull('revoked_at')).toHaveLength(0);
    expect(await srv.db('audit_log').where({ action: 'invite.revoke', school_id: b.id })).toHaveLength(6);

    const sheet = await curator.postForm(print.action, { ...print.fields, parents: '2' });
    expect(sheet.status).toBe(200);
    expect((await sheet.text()).match(/pt[a-z2-9]{10}/g)).toHaveLength(4);
  });

  it('a class of another school is not touched', async () => {
    const [person] = await srv.db('people').where({ school_id: c.id });
    await issue(srv.app, c, [person], { students: 1, parents: 1 });
    const page = await (await curator.follow(`/console/invites?school=${a.id}`)).res.text();
    const revoke = { _csrf: formOf(page, /\/console\/invites$/).fields._csrf! };
    await curator.postForm('/console/invites/revoke', { ...revoke, school: c.id, class: '5А' });
    expect(await srv.db('invites').where({ school_id: c.id }).whereNull('revoked_at')).toHaveLength(2);
  });
});
