/**
 * The contacts rows of the side-effect table (accounts/effects-contacts.ts), observed over HTTP:
 * an email change by a curator and by the person asks the new address to confirm itself and tells
 * a confirmed old one (`email-changed`); the /verify link confirms it; who entered the address
 * (`email_entered_by`) and who acted (the audit actor, with the request id) are right.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf, openAccount } from '../helpers/browser.js';
import { consoleLogin } from '../helpers/console.js';
import type { School } from '../../src/schools/queries.js';

let srv: TestServer;
let school: School;
beforeAll(async () => {
  srv = await startTestServer();
  school = await addSchool(srv.db, { number: '1399', slug: '1399' });
});
afterAll(async () => srv?.close());

/** The letters written since `after` (the outbox row id), as "template → address". */
async function lettersSince(after: number): Promise<string[]> {
  const rows = await srv.db('mail_outbox').where('id', '>', after).orderBy('id').select('template', 'to_address');
  return rows.map((r) => `${r.template} → ${r.to_address}`);
}
const lastLetterId = async () => Number((await srv.db('mail_outbox').max({ id: 'id' }).first())?.id ?? 0);
const auditOf = (action: string, targetId: string) =>
  srv.db('audit_log').where({ action, target_id: targetId }).orderBy('id', 'desc').first();

describe('email_change and email_confirm', () => {
  it("a curator's change, the link, then the pupil's own change: letters to both addresses, the right actor and who entered it", async () => {
    const curator = await addAccount(srv.app, school, { login: 'kurator', kind: 'staff', roles: ['curator'] });
    const pupil = await addAccount(srv.app, school, { login: 'vanya', kind: 'student', email: 'vanya.old@example.ru', emailVerified: true });

    // The curator replaces the pupil's confirmed address in the console.
    const console_ = await consoleLogin(srv.url, '1399', curator);
    const csrf = formOf(await (await console_.follow('/console')).res.text(), /\/console\/logout$/).fields._csrf!;
    let mark = await lastLetterId();
    const edit = await console_.postForm(`/console/users/${pupil.id}/contacts`, { _csrf: csrf, snils: '', email: 'vanya.new@example.ru', phone: '' });
    expect(edit.status).toBe(303);
    expect(await lettersSince(mark)).toEqual(['verify-email → vanya.new@example.ru', 'email-changed → vanya.old@example.ru']);
    expect(await srv.db('users').where({ id: pupil.id }).first()).toMatchObject({ email: 'vanya.new@example.ru', email_verified_at: null, email_entered_by: curator.id });
    const edited = await auditOf('user.contacts.edit', pupil.id);
    expect(edited).toMatchObject({ actor_type: 'user', actor_id: curator.id });
    expect(edited.request_id).toBeTruthy();
    expect(edited.details).toMatchObject({ email: true });

    // The same address saved again: nothing to confirm, nobody to tell.
    mark = await lastLetterId();
    await console_.postForm(`/console/users/${pupil.id}/contacts`, { _csrf: csrf, snils: '', email: 'Vanya.New@example.ru', phone: '' });
    expect(await lettersSince(mark)).toEqual([]);
    expect((await srv.db('users').where({ id: pupil.id }).first()).email_entered_by).toBe(curator.id);

    // The /verify link confirms it; the link's holder is the actor.
    const letter = await srv.db('mail_outbox').where({ to_address: 'vanya.new@example.ru', template: 'verify-email' }).orderBy('id', 'desc').first();
    const link = /\/verify\/[A-Za-z0-9_-]+/.exec(letter.text_body)![0];
    const browser = new Browser(srv.url);
    const page = await (await browser.follow(link)).res.text();
    const confirm = formOf(page, /\/verify\//);
    const done = await browser.postForm(confirm.action, confirm.fields);
    expect(done.status).toBe(200);
    expect((await srv.db('users').where({ id: pupil.id }).first()).email_verified_at).not.toBeNull();
    expect(await auditOf('email.confirmed', pupil.id)).toMatchObject({ actor_type: 'user', actor_id: pupil.id });
    // Used once.
    expect((await browser.postForm(confirm.action, confirm.fields)).status).not.toBe(200);

    // The pupil changes it on /account: the confirmed address is told; it is their own entry now.
    const mine = new Browser(srv.url);
    const accountPage = await openAccount(mine, pupil);
    mark = await lastLetterId();
    const own = await mine.postForm('/account/email', { _csrf: formOf(accountPage, /\/account\/email$/).fields._csrf!, email: 'vanya.own@example.ru', password: pupil.password });
    expect(own.status).toBe(303);
    expect(await lettersSince(mark)).toEqual(['verify-email → vanya.own@example.ru', 'email-changed → vanya.new@example.ru']);
    expect(await srv.db('users').where({ id: pupil.id }).first()).toMatchObject({ email: 'vanya.own@example.ru', email_verified_at: null, email_entered_by: null });
    const changed = await auditOf('email.change', pupil.id);
    expect(changed).toMatchObject({ actor_type: 'user', actor_id: pupil.id });
    expect(changed.request_id).toBeTruthy();

    // An unconfirmed old address is not told (it may be someone else's).
    mark = await lastLetterId();
    await mine.postForm('/account/email', { _csrf: formOf(accountPage, /\/account\/email$/).fields._csrf!, email: 'vanya.again@example.ru', password: pupil.password });
    expect(await lettersSince(mark)).toEqual(['verify-email → vanya.again@example.ru']);
  });
});

describe('esia_unlink', () => {
  /** A link as a SNILS entered by a curator makes it (Gosuslugi login by data, no password). */
  const linkOf = (userId: string, subject: string, origin = 'curator') =>
    srv.db('federated_identities').insert({ provider: 'esia', subject, user_id: userId, linked_via: 'snils_school', origin, proof: 'none' });

  it("by a curator, by the holder, and with the school's SNILS: removed, told to the confirmed address, recorded with who acted", async () => {
    const curator = await addAccount(srv.app, school, { login: 'kurator2', kind: 'staff', roles: ['curator'] });
    const parent = await addAccount(srv.app, school, { login: 'mama', kind: 'parent', email: 'mama@example.ru', emailVerified: true });
    const console_ = await consoleLogin(srv.url, '1399', curator);
    const csrf = formOf(await (await console_.follow('/console')).res.text(), /\/console\/logout$/).fields._csrf!;

    // The curator's unlink.
    await linkOf(parent.id, '5001');
    let mark = await lastLetterId();
    expect((await console_.postForm(`/console/users/${parent.id}/esia-unlink`, { _csrf: csrf })).status).toBe(303);
    expect(await srv.db('federated_identities').where({ user_id: parent.id }).first()).toBeUndefined();
    expect(await lettersSince(mark)).toEqual(['esia-unlinked → mama@example.ru']);
    const byCurator = await auditOf('esia.unlink', parent.id);
    expect(byCurator).toMatchObject({ actor_type: 'user', actor_id: curator.id, details: { by: 'curator', origin: 'curator' } });
    expect(byCurator.request_id).toBeTruthy();

    // The holder's, on /account.
    await linkOf(parent.id, '5002');
    const mine = new Browser(srv.url);
    const page = await openAccount(mine, parent);
    mark = await lastLetterId();
    expect((await mine.postForm('/account/esia/unlink', { _csrf: formOf(page, /\/account\/email$/).fields._csrf! })).status).toBe(303);
    expect(await srv.db('federated_identities').where({ user_id: parent.id }).first()).toBeUndefined();
    expect(await lettersSince(mark)).toEqual(['esia-unlinked → mama@example.ru']);
    expect(await auditOf('esia.unlink', parent.id)).toMatchObject({ actor_type: 'user', actor_id: parent.id, details: { by: 'holder' } });

    // A curator replaces the SNILS that made the link: the link goes with it, in the curator's name.
    await srv.db('users').where({ id: parent.id }).update({ snils: '11223344595', snils_source: 'school', snils_entered_by: curator.id });
    await linkOf(parent.id, '5003');
    mark = await lastLetterId();
    expect((await console_.postForm(`/console/users/${parent.id}/contacts`, { _csrf: csrf, snils: '', email: 'mama@example.ru', phone: '' })).status).toBe(303);
    expect(await srv.db('federated_identities').where({ user_id: parent.id }).first()).toBeUndefined();
    expect(await lettersSince(mark)).toEqual(['esia-unlinked → mama@example.ru']);
    expect(await auditOf('esia.unlink', parent.id)).toMatchObject({ actor_type: 'user', actor_id: curator.id, details: { by: 'snils_removed' } });
    expect(await srv.db('users').where({ id: parent.id }).first()).toMatchObject({ snils: null, snils_entered_by: null, email_verified_at: expect.anything() });
  });
});
