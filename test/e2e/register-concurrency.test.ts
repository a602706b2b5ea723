/**
 * One code, one account: 20 browsers submit the same code at once (with different logins) and
 * exactly one account comes out; the others are told the code is used. Runs on the machine's
 * PostgreSQL in both CI runs, since real concurrency needs a server with several connections.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, type TestServer } from '../helpers/app.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { Browser, formOf } from '../helpers/browser.js';
import { addStudent, codeOf, issue } from '../helpers/school.js';

let pg: TestDb;
let srv: TestServer;

beforeAll(async () => {
  pg = await createTestDb({ postgres: true });
  srv = await startTestServer({ testDb: pg });
});
afterAll(async () => {
  await srv?.close();
  await pg?.close();
});

describe('concurrent registrations', () => {
  it('20 concurrent submissions of one code create exactly one account', async () => {
    expect(pg.url).toBeDefined();
    const school = await addSchool(srv.db);
    const kid = await addStudent(srv.app, school);
    const issued = await issue(srv.app, school, [kid], { parents: 1 });
    const code = codeOf(issued, kid, 'parent');

    // Everyone reaches the details page first, then all submit together.
    const ready = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const b = new Browser(srv.url);
        const start = formOf(await (await b.request('/register')).text(), /register$/);
        const page = await (await b.postForm(start.action, { ...start.fields, code })).text();
        return { b, i, form: formOf(page, /details$/) };
      }),
    );
    // A submission the hashing line has no room for (503, on a loaded machine) is sent again
    // after its Retry-After, as a person would: the race is about the code, not the line.
    const submit = async ({ b, i, form }: (typeof ready)[number]): Promise<{ status: number; html: string }> => {
      for (;;) {
        const r = await b.postForm(form.action, {
          ...form.fields,
          last_name: 'Гонка',
          first_name: 'Родитель',
          login: `racer${i}`,
          email: `racer${i}@mail.ru`,
          password: 'Sirius2024x',
          password2: 'Sirius2024x',
          consent: '1',
        });
        const html = await r.text();
        if (r.status !== 503) return { status: r.status, html };
        await new Promise((done) => setTimeout(done, Number(r.headers.get('retry-after') ?? 1) * 1000));
      }
    };
    const results = await Promise.all(ready.map(submit));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    for (const r of results.filter((x) => x.status === 409)) expect(r.html).toContain('Этот код уже использован');

    const accounts = await srv.db('users').where('login', 'like', 'racer%');
    expect(accounts).toHaveLength(1);
    const invite = await srv.db('invites').where({ id: issued.find((i) => i.code === code)!.invite.id }).first();
    expect(invite.redeemed_by).toBe(accounts[0].id);
    expect(await srv.db('guardianships').where({ person_id: kid.id })).toHaveLength(1);
  });
});
