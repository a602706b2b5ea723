/**
 * Deleting an account on request leaves nothing that names the person. A canary value sits in
 * every personal field (names, login, email, phone, SNILS); the person logs in, fails a login,
 * asks for recovery (a letter is written); the curator deletes the account; then every text and
 * jsonb column of every table, the .eml letters and the captured logs are searched for the
 * canaries. The audit trail remains, pointing to an id that leads to nobody.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin, login, oidc } from '../helpers/rp.js';
import { consoleLogin } from '../helpers/console.js';

const CANARIES = ['kanareykin', 'Канарейкин', 'Канарович', 'Канарей', 'canary-mail', '9990001122', '16011318503', '160-113-185'];

let srv: TestServer;
const logs: string[] = [];

beforeAll(async () => {
  srv = await startTestServer({ logs, env: { MAIL_POLL_SECONDS: '1' } });
});
afterAll(async () => srv?.close());

async function canaryHits(): Promise<string[]> {
  const columns = (await srv.db.raw(`
    select table_name, column_name from information_schema.columns
     where table_schema = current_schema() and data_type in ('text', 'character varying', 'jsonb', 'json', 'ARRAY')`)).rows as { table_name: string; column_name: string }[];
  expect(columns.length).toBeGreaterThan(20);
  const hits: string[] = [];
  for (const { table_name: t, column_name: c } of columns) {
    for (const canary of CANARIES) {
      const [row] = (await srv.db.raw(`select count(*)::int as n from "${t}" where "${c}"::text like ?`, [`%${canary}%`])).rows as { n: number }[];
      if (row!.n) hits.push(`${t}.${c} ∋ ${canary}`);
    }
  }
  return hits;
}

describe('deleting an account on request', () => {
  it('erases every trace of the person; the audit trail stays, pseudonymous', async () => {
    const school = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
    const curator = await addAccount(srv.app, school, { login: 'kurator', kind: 'staff', roles: ['curator'] });
    const person = await addAccount(srv.app, school, { login: 'kanareykin', kind: 'parent', email: 'canary-mail@example.ru', phone: '+7 999 000-11-22', snils: '160-113-185 03' });
    await srv.db('users').where({ id: person.id }).update({ last_name: 'Канарейкин', first_name: 'Канарей', middle_name: 'Канарович' });

    // Traces: a session, grant and tokens; a failed login (audit + throttle keyed by the login); a recovery letter.
    const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    const redirectUri = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
    const b = new Browser(srv.url);
    const started = await startLogin(rp, { redirect_uri: redirectUri, school: '1399', scope: 'openid offline_access profile email phone', prompt: 'consent' });
    const cb = await login(b, started, 'kanareykin', person.password);
    const tokens = await oidc.authorizationCodeGrant(rp, cb, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    const other = new Browser(srv.url);
    const page = await openLoginPage(other, (await startLogin(rp, { redirect_uri: redirectUri, school: '1399' })).authUrl);
    expect((await submitLogin(other, page.html, 'kanareykin', 'wrong-password-1')).res.status).toBe(400);
    const recover = await b.follow('/recover?school=1399');
    const form = formOf(await recover.res.text(), /\/recover/);
    await b.postForm(form.action, { ...form.fields, email: 'canary-mail@example.ru' });
    const mailDir = path.join(srv.config.dataDir, 'mail');
    for (let i = 0; i < 100 && !(fs.existsSync(mailDir) && fs.readdirSync(mailDir).some((n) => fs.readFileSync(path.join(mailDir, n), 'utf8').includes('canary-mail'))); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await canaryHits()).length).toBeGreaterThan(5); // the canaries are really there

    const console_ = await consoleLogin(srv.url, '1399', curator);
    const userPage = await (await console_.follow(`/console/users/${person.id}`)).res.text();
    const del = formOf(userPage, /\/delete$/);
    const wrong = await console_.postForm(del.action, { ...del.fields, confirm: 'someone-else' });
    expect(wrong.status).toBe(400);
    const done = await console_.postForm(del.action, { ...del.fields, confirm: 'KANAREYKIN' });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('удалена');

    expect(await canaryHits()).toEqual([]);
    const eml = fs.existsSync(mailDir) ? fs.readdirSync(mailDir).filter((n) => CANARIES.some((c) => fs.readFileSync(path.join(mailDir, n), 'utf8').includes(c))) : [];
    expect(eml).toEqual([]);
    expect(logs.filter((l) => CANARIES.some((c) => l.includes(c)))).toEqual([]);

    // The trail remains: who did what, pointing to an id that no longer leads to anybody.
    expect(await srv.db('users').where({ id: person.id }).first()).toBeUndefined();
    const trail = (await srv.db('audit_log').where({ target_id: person.id }).select('action')).map((r) => r.action);
    expect(trail).toEqual(expect.arrayContaining(['login.success', 'user.view', 'user.delete']));
    await expect(oidc.refreshTokenGrant(rp, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(srv.db('audit_log').where({ target_id: person.id }).del()).rejects.toThrow(/append-only/);
  });
});
