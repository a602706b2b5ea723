/**
 * Issue 16, item 1b (a follow-up of 16.1): the school console refused to edit a fellow curator's
 * contacts, but still let a curator reset their password (a curator with no authenticator yet
 * then enrols the attacker's phone: a takeover without Gosuslugi), send them a reset link or a
 * confirmation letter, disable, enable, delete, transfer, mark as a leaver, unlink their
 * Gosuslugi, change their guardianships, and rewrite their roster entry (SNILS, phone) by import —
 * on an account that may curate other schools too. Black-box over real HTTP:
 * - every such action on an account holding a curator (own school or granted), admin or support
 *   role answers 403 with a message naming the platform admin, the database stays as it was,
 *   and the attempt is audited as denied in the curator's name;
 * - the user page shows none of those buttons (and says why); «снять блокировку» stays;
 * - a roster import leaves a curator's entry as it was and says so, other rows are imported.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { addStaff, addStudent } from '../helpers/school.js';
import { consoleLogin } from '../helpers/console.js';
import type { School } from '../../src/schools/queries.js';

const REFUSED = 'консоль школы не меняет';
const PLATFORM = 'администратор платформы';

let srv: TestServer;
let s1: School;
let s2: School;
let consoleA: Browser;
const acc: Record<string, Awaited<ReturnType<typeof addAccount>>> = {};
const ids: Record<string, string> = {};

beforeAll(async () => {
  srv = await startTestServer();
  s1 = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399', region: 'Москва' });
  s2 = await addSchool(srv.db, { number: '57', slug: '57', name: 'Школа № 57', region: 'Москва' });
  acc.curatorA = await addAccount(srv.app, s1, { login: 'kurator.a', kind: 'staff', roles: ['curator', 'teacher'] });
  // Curator B: of school 1399 by role and of school 57 by a grant; no authenticator set up yet
  // (the reset-then-enrol takeover); on the roster (S-B); linked to Gosuslugi; a pupil's guardian.
  const personB = await addStaff(srv.app, s1, 'teacher', { lastName: 'Борисова', firstName: 'Вера', externalId: 'S-B', phone: '+79000000009' });
  acc.curatorB = await addAccount(srv.app, s1, { login: 'kurator.b', kind: 'staff', roles: ['curator'], email: 'kurator.b@example.ru', personId: personB.id });
  ids.personB = personB.id;
  await srv.db('curator_schools').insert({ user_id: acc.curatorB.id, school_id: s2.id });
  await srv.db('federated_identities').insert({ provider: 'esia', subject: '3000000001', user_id: acc.curatorB.id, linked_via: 'email', origin: 'holder', proof: 'password_otp' });
  const kid = await addStudent(srv.app, s1, { lastName: 'Борисов', firstName: 'Петя' });
  ids.kid = kid.id;
  acc.kid = await addAccount(srv.app, s1, { login: 'petya.b', kind: 'student', personId: kid.id });
  await srv.db('guardianships').insert({ user_id: acc.curatorB.id, person_id: kid.id });
  // Curator C: a teacher of 1399 who curates only school 57 (by a grant), address not confirmed yet.
  acc.curatorC = await addAccount(srv.app, s1, { login: 'kurator.c', kind: 'staff', roles: ['teacher'], email: 'kurator.c@example.ru', emailVerified: false });
  await srv.db('curator_schools').insert({ user_id: acc.curatorC.id, school_id: s2.id });
  // A curator a platform admin disabled: the school does not enable it again.
  acc.curatorD = await addAccount(srv.app, s1, { login: 'kurator.d', kind: 'staff', roles: ['curator'] });
  await srv.db('users').where({ id: acc.curatorD.id }).update({ disabled_at: new Date() });
  // However odd, a pupil's account holding a grant: transferStudent moves only pupils, so this is
  // the account the transfer route itself must refuse.
  const senior = await addStudent(srv.app, s1, { lastName: 'Старшов', firstName: 'Олег', className: '11А' });
  acc.senior = await addAccount(srv.app, s1, { login: 'oleg', kind: 'student', personId: senior.id });
  ids.senior = senior.id;
  await srv.db('curator_schools').insert({ user_id: acc.senior.id, school_id: s2.id });
  // An ordinary staff member on the roster: the import still updates them.
  ids.personO = (await addStaff(srv.app, s1, 'teacher', { lastName: 'Орлова', firstName: 'Нина', externalId: 'S-O' })).id;
  consoleA = await consoleLogin(srv.url, '1399', acc.curatorA);
});
afterAll(async () => srv?.close());

const privilegedIds = () => [acc.curatorB!.id, acc.curatorC!.id, acc.curatorD!.id, acc.senior!.id];

/** Everything a refused action could have changed: the accounts, their roster entries, links, letters. */
async function state(): Promise<unknown> {
  return {
    users: await srv.db('users').whereIn('id', privilegedIds()).orderBy('id').select('*'),
    people: await srv.db('people').whereIn('id', [ids.personB!, ids.senior!]).orderBy('id').select('*'),
    links: await srv.db('federated_identities').whereIn('user_id', privilegedIds()).select('*'),
    guardianships: await srv.db('guardianships').where({ user_id: acc.curatorB!.id }).select('*'),
    grants: await srv.db('curator_schools').orderBy(['user_id', 'school_id']).select('*'),
    letters: await srv.db('mail_outbox').orderBy('id').select('id', 'to_address', 'template'),
    recovery: await srv.db('recovery_requests').count({ n: '*' }).first(),
    invitesRevoked: await srv.db('invites').whereNotNull('revoked_at').count({ n: '*' }).first(),
  };
}

async function csrf(): Promise<string> {
  return formOf(await (await consoleA.follow('/console')).res.text(), /\/console\/logout$/).fields._csrf!;
}

const denied = (target: string, action: string) =>
  srv.db('audit_log').where({ target_id: target, action, outcome: 'denied' }).orderBy('id').select('actor_type', 'actor_id', 'school_id', 'details');

async function expectRefused(res: Response, target: string, action: string): Promise<void> {
  expect(res.status).toBe(403);
  const html = await res.text();
  expect(html).toContain(REFUSED);
  expect(html).toContain(PLATFORM);
  const rows = await denied(target, action);
  expect(rows.length).toBeGreaterThan(0);
  expect(rows.at(-1)).toMatchObject({ actor_type: 'user', actor_id: acc.curatorA!.id, details: { reason: 'privileged_account' } });
}

describe('the console does not change an account holding a privileged role', () => {
  let before: unknown;
  beforeAll(async () => {
    before = await state();
  });

  it('password reset (on screen and as a sheet): 403, audited as denied; the password is not changed', async () => {
    await expectRefused(await consoleA.postForm(`/console/users/${acc.curatorB!.id}/password`, { _csrf: await csrf() }), acc.curatorB!.id, 'user.password.reset');
    await expectRefused(await consoleA.postForm(`/console/users/${acc.senior!.id}/password`, { _csrf: await csrf(), sheet: '1' }), acc.senior!.id, 'user.password.reset');
    expect(await state()).toEqual(before);
  });

  it('a reset link and a confirmation letter: 403, no letter', async () => {
    await expectRefused(await consoleA.postForm(`/console/users/${acc.curatorB!.id}/password-link`, { _csrf: await csrf() }), acc.curatorB!.id, 'user.password.link');
    await expectRefused(await consoleA.postForm(`/console/users/${acc.curatorC!.id}/resend`, { _csrf: await csrf() }), acc.curatorC!.id, 'user.email.resend');
    expect(await state()).toEqual(before);
  });

  it('disable, enable, delete: 403, the accounts as they were', async () => {
    await expectRefused(await consoleA.postForm(`/console/users/${acc.curatorB!.id}/disable`, { _csrf: await csrf() }), acc.curatorB!.id, 'user.disable');
    await expectRefused(await consoleA.postForm(`/console/users/${acc.curatorC!.id}/disable`, { _csrf: await csrf() }), acc.curatorC!.id, 'user.disable');
    await expectRefused(await consoleA.postForm(`/console/users/${acc.curatorD!.id}/enable`, { _csrf: await csrf() }), acc.curatorD!.id, 'user.enable');
    await expectRefused(await consoleA.postForm(`/console/users/${acc.curatorB!.id}/delete`, { _csrf: await csrf(), confirm: 'kurator.b' }), acc.curatorB!.id, 'user.delete');
    expect(await state()).toEqual(before);
  });

  it('transfer to another school, the leaver mark, «Отключить Госуслуги»: 403, nothing moved', async () => {
    const form = await consoleA.follow(`/console/users/${acc.senior!.id}/transfer`);
    expect(form.res.status).toBe(403);
    expect(await form.res.text()).not.toMatch(/action="[^"]*\/transfer"/);
    await expectRefused(await consoleA.postForm(`/console/users/${acc.senior!.id}/transfer`, { _csrf: await csrf(), school: '57', class: '', login: '' }), acc.senior!.id, 'user.transfer.out');
    await expectRefused(await consoleA.postForm(`/console/users/${acc.curatorB!.id}/left`, { _csrf: await csrf() }), acc.curatorB!.id, 'person.left');
    await expectRefused(await consoleA.postForm(`/console/users/${acc.curatorB!.id}/esia-unlink`, { _csrf: await csrf() }), acc.curatorB!.id, 'esia.unlink');
    expect(await state()).toEqual(before);
  });

  it('the guardianships of a curator who is a parent: restrict and remove are refused', async () => {
    for (const action of ['restrict', 'remove']) {
      const res = await consoleA.postForm(`/console/users/${acc.curatorB!.id}/guardianships/${ids.kid}/${action}`, { _csrf: await csrf(), back: 'child' });
      await expectRefused(res, acc.curatorB!.id, `guardianship.${action}`);
    }
    expect(await state()).toEqual(before);
  });

  it('the user page shows no button that changes the account, says who manages it, keeps «снять блокировку»', async () => {
    for (const id of privilegedIds()) {
      const html = await (await consoleA.follow(`/console/users/${id}`)).res.text();
      expect(html).toContain(REFUSED);
      for (const action of ['password', 'password-link', 'resend', 'disable', 'enable', 'delete', 'left', 'esia-unlink', 'contacts', 'guardianships']) {
        expect(html).not.toMatch(new RegExp(`action="/console/users/${id}/${action}`));
      }
      expect(html).not.toMatch(/href="[^"]*\/transfer"/);
      expect(html).toMatch(new RegExp(`action="/console/users/${id}/unlock"`));
    }
    // The pupil's page lists the curator as a guardian, without the buttons that change the link.
    const kidPage = await (await consoleA.follow(`/console/users/${acc.kid!.id}`)).res.text();
    expect(kidPage).toContain('kurator.b');
    expect(kidPage).not.toMatch(/\/guardianships\//);
  });

  it('unlocking a throttled login stays allowed: it only lets the owner try again', async () => {
    const res = await consoleA.postForm(`/console/users/${acc.curatorB!.id}/unlock`, { _csrf: await csrf() });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toContain('done=unlock');
    expect(await state()).toEqual(before);
  });
});

describe('a roster import leaves a privileged account\'s entry as it was', () => {
  it('the curator\'s row (new SNILS and phone) is kept, reported and audited as denied; the other row is imported', async () => {
    const before = await state();
    const form = new FormData();
    form.set('_csrf', formOf(await (await consoleA.follow('/console/roster')).res.text(), /\/console\/roster\/import$/).fields._csrf!);
    form.set('school', s1.id);
    const csv = 'Фамилия;Имя;Тип;СНИЛС;Телефон;ID\nБорисова;Вера;учитель;112-233-445 95;+7 900 000-00-01;S-B\nОрлова;Нина;учитель;;+7 900 000-00-02;S-O\n';
    form.set('file', new Blob([csv], { type: 'text/csv' }), 'staff.csv');
    const res = await consoleA.request('/console/roster/import', { method: 'POST', body: form });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('обновлено 1');
    expect(html).toContain('Не изменено записей кураторов и сотрудников платформы: 1');
    expect(await state()).toEqual(before);
    expect(await srv.db('people').where({ id: ids.personO }).first('phone')).toEqual({ phone: '+79000000002' });
    const rows = await denied(acc.curatorB!.id, 'roster.person.update');
    expect(rows).toEqual([expect.objectContaining({ actor_type: 'user', actor_id: acc.curatorA!.id, details: { reason: 'privileged_account', person: ids.personB } })]);
  });
});
