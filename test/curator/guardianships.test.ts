/**
 * Guardianships and the school's apps in the curator console, over real HTTP: a pupil's page
 * shows the parents and a parent's page the children; removing or restricting a link is audited
 * and the parent's next token no longer lists the child; a curator of another school gets
 * «not found» and changes nothing; «Приложения школы» approves and withdraws third-party apps.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { addStudent } from '../helpers/school.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, login, oidc } from '../helpers/rp.js';
import { consoleLogin } from '../helpers/console.js';
import { addGuardianships } from '../../src/accounts/guardianships.js';
import { insertClient } from '../../src/oidc/clients.js';
import type { School } from '../../src/schools/queries.js';

let srv: TestServer;
let a: School;
let b: School;
let curatorA: Browser;
let curatorB: Browser;
const acc: Record<string, Awaited<ReturnType<typeof addAccount>>> = {};
const pupil: Record<string, Awaited<ReturnType<typeof addStudent>>> = {};

beforeAll(async () => {
  srv = await startTestServer();
  a = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
  b = await addSchool(srv.db, { number: '57', slug: '57', name: 'Школа № 57' });
  pupil.masha = await addStudent(srv.app, a, { lastName: 'Соколова', firstName: 'Маша', middleName: null, className: '6А' });
  pupil.petya = await addStudent(srv.app, a, { lastName: 'Соколов', firstName: 'Петя', middleName: null, className: '2Б' });
  pupil.other = await addStudent(srv.app, b, { lastName: 'Орлова', firstName: 'Оля', middleName: null, className: '6А' });
  acc.masha = await addAccount(srv.app, a, { login: 'masha', kind: 'student', personId: pupil.masha.id });
  acc.mama = await addAccount(srv.app, a, { login: 'mama', kind: 'parent' });
  acc.papa = await addAccount(srv.app, a, { login: 'papa', kind: 'parent' });
  acc.olgaMama = await addAccount(srv.app, b, { login: 'olgamama', kind: 'parent' });
  acc.curatorA = await addAccount(srv.app, a, { login: 'kurator', kind: 'staff', roles: ['curator'] });
  acc.curatorB = await addAccount(srv.app, b, { login: 'kurator', kind: 'staff', roles: ['curator'] });
  await addGuardianships(srv.db, acc.mama.id, [{ personId: pupil.masha.id, inviteId: null }, { personId: pupil.petya.id, inviteId: null }]);
  await addGuardianships(srv.db, acc.papa.id, [{ personId: pupil.masha.id, inviteId: null }]);
  await addGuardianships(srv.db, acc.olgaMama.id, [{ personId: pupil.other.id, inviteId: null }]);
  await insertClient(srv.db, srv.config.secrets.keyEncryptionKey, {
    clientId: 'library-app', name: 'Школьная библиотека', firstParty: false, secret: 'library-secret-0123456789-0123456789-abcdef',
    metadata: { client_id: 'library-app', redirect_uris: ['http://localhost:9999/cb'], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', scope: 'openid profile school' },
  });
  curatorA = await consoleLogin(srv.url, '1399', acc.curatorA);
  curatorB = await consoleLogin(srv.url, '57', acc.curatorB);
});
afterAll(async () => srv?.close());

async function csrfOf(browser: Browser): Promise<string> {
  return formOf(await (await browser.follow('/console')).res.text(), /\/console\/logout$/).fields._csrf!;
}

/** The names in a parent's `children` claim at the journal web app, from a fresh login. */
async function childrenClaim(who: { login: string; password: string; id: string }): Promise<string[]> {
  const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  const started = await startLogin(rp, { redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]!, scope: 'openid children roles', school: '1399' });
  const cb = await login(new Browser(srv.url), started, who.login, who.password);
  const tokens = await oidc.authorizationCodeGrant(rp, cb, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
  const info = await oidc.fetchUserInfo(rp, tokens.access_token, who.id);
  return ((info.children ?? []) as { name: string }[]).map((c) => c.name).sort();
}

const link = (guardian: string, person: string, action: string) => `/console/users/${guardian}/guardianships/${person}/${action}`;

describe('the user page', () => {
  it('of a pupil lists the parents (login, name), of a parent the children', async () => {
    const html = await (await curatorA.follow(`/console/users/${acc.masha!.id}`)).res.text();
    expect(html).toContain('id="guardians"');
    expect(html).toContain('mama');
    expect(html).toContain('papa');
    expect(html).toContain(link(acc.mama!.id, pupil.masha!.id, 'remove'));
    expect(html).not.toContain('ограничен<');
    const parent = await (await curatorA.follow(`/console/users/${acc.mama!.id}`)).res.text();
    expect(parent).toContain('id="children"');
    expect(parent).toContain('Соколова Маша');
    expect(parent).toContain('Соколов Петя');
    expect(parent).toContain(`/console/users/${acc.masha!.id}`);
  });
});

describe('restricting a guardian', () => {
  it('drops the child from the parent\'s children claim until lifted; audited both ways', async () => {
    expect(await childrenClaim(acc.papa!)).toEqual(['Соколова Маша']);
    const csrf = await csrfOf(curatorA);
    const res = await curatorA.postForm(link(acc.papa!.id, pupil.masha!.id, 'restrict'), { _csrf: csrf, back: 'child' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/console/users/${acc.masha!.id}?done=guardian_restrict`);
    const page = await (await curatorA.follow(res.headers.get('location')!)).res.text();
    expect(page).toContain('ограничен');
    expect(page).toContain(link(acc.papa!.id, pupil.masha!.id, 'unrestrict'));
    expect(await childrenClaim(acc.papa!)).toEqual([]);
    // The link itself stays (a restricted parent still counts, and the curator still sees it).
    expect((await srv.db('guardianships').where({ user_id: acc.papa!.id, person_id: pupil.masha!.id }).first()).restricted_at).not.toBeNull();

    const lift = await curatorA.postForm(link(acc.papa!.id, pupil.masha!.id, 'unrestrict'), { _csrf: csrf, back: 'guardian' });
    expect(lift.headers.get('location')).toBe(`/console/users/${acc.papa!.id}?done=guardian_unrestrict`);
    expect(await childrenClaim(acc.papa!)).toEqual(['Соколова Маша']);
    const rows = await srv.db('audit_log').where({ target_id: pupil.masha!.id }).whereIn('action', ['guardianship.restrict', 'guardianship.unrestrict']).orderBy('id');
    expect(rows.map((r) => r.action)).toEqual(['guardianship.restrict', 'guardianship.unrestrict']);
    for (const r of rows) {
      expect(r).toMatchObject({ actor_id: acc.curatorA!.id, school_id: a.id, target_type: 'person' });
      expect(r.details).toMatchObject({ guardian: acc.papa!.id });
      expect(r.ip).toBeTruthy();
    }
  });
});

describe('removing a guardianship', () => {
  it('takes the child out of the parent\'s next token; the other child stays; audited', async () => {
    expect(await childrenClaim(acc.mama!)).toEqual(['Соколов Петя', 'Соколова Маша']);
    const res = await curatorA.postForm(link(acc.mama!.id, pupil.masha!.id, 'remove'), { _csrf: await csrfOf(curatorA), back: 'guardian' });
    expect(res.status).toBe(303);
    expect(await srv.db('guardianships').where({ user_id: acc.mama!.id, person_id: pupil.masha!.id }).first()).toBeUndefined();
    expect(await childrenClaim(acc.mama!)).toEqual(['Соколов Петя']);
    const row = await srv.db('audit_log').where({ action: 'guardianship.remove', target_id: pupil.masha!.id }).first();
    expect(row).toMatchObject({ actor_id: acc.curatorA!.id, school_id: a.id });
    expect(row.details).toMatchObject({ guardian: acc.mama!.id });
    // Removing again: the link is gone, so it is not found.
    expect((await curatorA.postForm(link(acc.mama!.id, pupil.masha!.id, 'remove'), { _csrf: await csrfOf(curatorA) })).status).toBe(404);
  });
});

describe('another school\'s curator', () => {
  it.each(['remove', 'restrict', 'unrestrict'])('cannot %s school A\'s guardianship: 404, nothing changed, nothing audited', async (action) => {
    const before = await srv.db('guardianships').where({ user_id: acc.mama!.id, person_id: pupil.petya!.id }).first();
    const res = await curatorB.postForm(link(acc.mama!.id, pupil.petya!.id, action), { _csrf: await csrfOf(curatorB) });
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('Пользователь не найден');
    expect(await srv.db('guardianships').where({ user_id: acc.mama!.id, person_id: pupil.petya!.id }).first()).toEqual(before);
    expect(await srv.db('audit_log').where({ actor_id: acc.curatorB!.id }).where('action', 'like', 'guardianship.%').first()).toBeUndefined();
  });

  it('sees none of school A\'s links, and school A\'s curator none of school B\'s', async () => {
    expect((await curatorB.request(`/console/users/${acc.masha!.id}`)).status).toBe(404);
    const own = await (await curatorB.follow(`/console/users/${acc.olgaMama!.id}`)).res.text();
    expect(own).toContain('Орлова Оля');
    const res = await curatorA.postForm(link(acc.olgaMama!.id, pupil.other!.id, 'restrict'), { _csrf: await csrfOf(curatorA) });
    expect(res.status).toBe(404);
    expect((await srv.db('guardianships').where({ user_id: acc.olgaMama!.id }).first()).restricted_at).toBeNull();
  });

  it('malformed ids and forms without CSRF change nothing', async () => {
    for (const [g, p] of [['not-a-uuid', pupil.petya!.id], [acc.mama!.id, "1' or '1'='1"]]) {
      expect((await curatorA.postForm(link(g!, encodeURIComponent(p!), 'remove'), { _csrf: await csrfOf(curatorA) })).status).toBe(404);
    }
    const res = await curatorA.postForm(link(acc.mama!.id, pupil.petya!.id, 'remove'), {});
    expect(res.status).toBe(403);
    expect(await srv.db('guardianships').where({ user_id: acc.mama!.id, person_id: pupil.petya!.id }).first()).toBeDefined();
  });
});

describe('«Приложения школы»', () => {
  it('lists third-party apps; approve and withdraw are audited; another school is not touched', async () => {
    const nav = await (await curatorA.follow('/console')).res.text();
    expect(nav).toContain('href="/console/apps"');
    let html = await (await curatorA.follow('/console/apps')).res.text();
    expect(html).toContain('Школьная библиотека');
    expect(html).toContain('не одобрено');
    expect(html).not.toContain('journal-web');
    const form = formOf(html, /\/console\/apps\/library-app\/approve$/);
    expect(form.fields.school).toBe(a.id);
    const res = await curatorA.postForm(form.action, form.fields);
    expect(res.status).toBe(303);
    expect(await srv.db('school_clients').where({ client_id: 'library-app' }).select('school_id', 'approved_by')).toEqual([{ school_id: a.id, approved_by: acc.curatorA!.id }]);
    html = await (await curatorA.follow(res.headers.get('location')!)).res.text();
    expect(html).toContain('Приложение одобрено');
    expect(html).toContain('/console/apps/library-app/withdraw');

    // School B's curator sees it unapproved for school B and cannot act for school A.
    const forB = await (await curatorB.follow('/console/apps')).res.text();
    expect(forB).toContain('/console/apps/library-app/approve');
    const csrfB = await csrfOf(curatorB);
    expect((await curatorB.postForm('/console/apps/library-app/withdraw', { _csrf: csrfB, school: a.id })).status).toBe(404);
    expect((await curatorB.postForm('/console/apps/no-such-app/approve', { _csrf: csrfB })).status).toBe(404);
    expect(await srv.db('school_clients').where({ client_id: 'library-app', school_id: a.id }).first()).toBeDefined();

    const withdraw = formOf(html, /\/console\/apps\/library-app\/withdraw$/);
    expect((await curatorA.postForm(withdraw.action, withdraw.fields)).status).toBe(303);
    expect(await srv.db('school_clients').where({ client_id: 'library-app' }).first()).toBeUndefined();
    const rows = await srv.db('audit_log').where({ client_id: 'library-app' }).whereIn('action', ['client.approve', 'client.withdraw']).orderBy('id');
    expect(rows.map((r) => [r.action, r.actor_id, r.school_id])).toEqual([
      ['client.approve', acc.curatorA!.id, a.id],
      ['client.withdraw', acc.curatorA!.id, a.id],
    ]);
  });
});
