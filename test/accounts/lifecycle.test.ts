/**
 * The accounts' life after school: a pupil marked as left in the console keeps the account for
 * the grace period, then the lifecycle job disables it (audited, sessions ended); old audit
 * entries get a keyed pseudonym instead of the address, recent ones keep it.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { addStudent } from '../helpers/school.js';
import { formOf } from '../helpers/browser.js';
import { consoleLogin } from '../helpers/console.js';
import { addressPseudonym, disableLeavers, pseudonymizeAuditAddresses } from '../../src/accounts/lifecycle.js';
import { writeAudit } from '../../src/audit/audit.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ env: { LEAVER_GRACE_DAYS: '30', AUDIT_ADDRESS_DAYS: '180' } });
});
afterAll(async () => srv?.close());

describe('leavers', () => {
  it('marked in the console; disabled only after the grace period; the curator can undo the mark', async () => {
    const school = await addSchool(srv.db, { number: '1399', slug: '1399' });
    const curator = await addAccount(srv.app, school, { login: 'kurator', kind: 'staff', roles: ['curator'] });
    const p1 = await addStudent(srv.app, school, { className: '11А' });
    const p2 = await addStudent(srv.app, school, { className: '11А' });
    const graduate = await addAccount(srv.app, school, { login: 'graduate', kind: 'student', personId: p1.id });
    const fresh = await addAccount(srv.app, school, { login: 'fresh', kind: 'student', personId: p2.id });

    const console_ = await consoleLogin(srv.url, '1399', curator);
    for (const id of [graduate.id, fresh.id]) {
      const page = await (await console_.follow(`/console/users/${id}`)).res.text();
      expect(page).toContain('Выбыл(а) из школы');
      const form = formOf(page, /\/left$/);
      expect((await console_.postForm(form.action, form.fields)).status).toBe(303);
    }
    expect((await srv.db('people').where({ id: p1.id }).first()).left_at).not.toBeNull();
    // The graduate left 31 days ago; the other one just now.
    await srv.db('people').where({ id: p1.id }).update({ left_at: srv.db.raw(`now() - interval '31 days'`) });

    expect(await disableLeavers(srv.app)).toBe(1);
    expect((await srv.db('users').where({ id: graduate.id }).first()).disabled_at).not.toBeNull();
    expect((await srv.db('users').where({ id: fresh.id }).first()).disabled_at).toBeNull();
    const row = await srv.db('audit_log').where({ action: 'user.disable', target_id: graduate.id }).first();
    expect(row).toMatchObject({ actor_type: 'system' });
    expect(await disableLeavers(srv.app)).toBe(0);

    // Undoing the mark (he stays after all).
    const page = await (await console_.follow(`/console/users/${fresh.id}`)).res.text();
    expect(page).toContain('Отменить выбытие');
    await console_.postForm(formOf(page, /\/left$/).action, formOf(page, /\/left$/).fields);
    expect((await srv.db('people').where({ id: p2.id }).first()).left_at).toBeNull();
  });
});

describe('audit addresses', () => {
  it('old entries get a keyed pseudonym (the same address, the same pseudonym); recent ones keep the address', async () => {
    await writeAudit(srv.db, { action: 'test.old', actor: { type: 'system' }, ip: '10.1.2.3' });
    await writeAudit(srv.db, { action: 'test.old2', actor: { type: 'system' }, ip: '10.1.2.3' });
    await writeAudit(srv.db, { action: 'test.recent', actor: { type: 'system' }, ip: '10.9.9.9' });
    // Old entries: inserted with an old time (inserting is what append-only allows).
    await srv.db.raw(`insert into audit_log (at, action, actor_type, ip) values (now() - interval '200 days', 'test.ancient', 'system', '10.1.2.3')`);
    await srv.db.raw(`insert into audit_log (at, action, actor_type, ip) values (now() - interval '200 days', 'test.ancient2', 'system', '10.1.2.3')`);
    expect(await pseudonymizeAuditAddresses(srv.app)).toBeGreaterThanOrEqual(2);
    const ancient = await srv.db('audit_log').whereIn('action', ['test.ancient', 'test.ancient2']).select('ip');
    expect(ancient[0]!.ip).toMatch(/^anon-[0-9a-f]{16}$/);
    expect(ancient[0]!.ip).toBe(ancient[1]!.ip);
    expect(ancient[0]!.ip).not.toBe(addressPseudonym(Buffer.alloc(32), '10.1.2.3')); // keyed
    expect((await srv.db('audit_log').where({ action: 'test.recent' }).first()).ip).toBe('10.9.9.9');
    expect(await pseudonymizeAuditAddresses(srv.app)).toBe(0);
    // Outside the job, the log is still append-only.
    await expect(srv.db('audit_log').where({ action: 'test.recent' }).update({ ip: 'x' })).rejects.toThrow(/append-only/);
  });
});
