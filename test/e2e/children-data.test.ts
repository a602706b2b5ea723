/**
 * Children's data (152-ФЗ) at real relying parties: `children`, `class` and `birthdate` reach the
 * journal's own apps and third-party apps the school approved — in the ID token (asked for with
 * the claims parameter) and at userinfo — and no other app; the consent page does not offer them.
 * A pupil never sees a consent page: an approved app gets them at once, any other ends in
 * access_denied after a «not approved» page; withdrawing an approval ends the pupils' grants.
 * A client registered by a school's IT comes approved for that school.
 */
import { cliAudit, systemAudit } from '../../src/audit/bound.js';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { addStudent } from '../helpers/school.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin, continueToRp, oidc } from '../helpers/rp.js';
import { insertClient } from '../../src/oidc/clients.js';
import { addGuardianships } from '../../src/accounts/guardianships.js';
import { approveClient, withdrawClient } from '../../src/clients/approvals.js';
import { issueInitialAccessToken } from '../../src/clients/registration.js';
import type { School } from '../../src/schools/queries.js';

let srv: TestServer;
let a: School;
let masha: Awaited<ReturnType<typeof addAccount>>;
let mama: Awaited<ReturnType<typeof addAccount>>;
let mashaPerson: Awaited<ReturnType<typeof addStudent>>;

const CB = 'http://localhost:9999/cb';
const SECRET = 'third-party-secret-0123456789-0123456789-abc';
const CHILD_CLAIMS = JSON.stringify({ id_token: { children: null, class: null, birthdate: null } });

async function addThirdParty(clientId: string, name: string): Promise<void> {
  await insertClient(srv.db, srv.config.secrets.keyEncryptionKey, {
    clientId,
    name,
    firstParty: false,
    secret: SECRET,
    metadata: {
      client_id: clientId,
      redirect_uris: [CB],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  });
}

const approve = (clientId: string, school: School) =>
  srv.db.transaction((trx) => approveClient(trx, { schoolId: school.id, clientId, approvedBy: 'test', by: systemAudit(trx) }));

interface SignIn {
  /** The page shown after the password (consent, «not approved»), if any. */
  page?: { status: number; html: string };
  tokens?: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
  info?: oidc.UserInfoResponse;
  callback?: URL;
}

/** Logs `who` in to an app; «Разрешить» on a consent page. Stops at any other page. */
async function signIn(clientId: string, who: { login: string; password: string; id: string }, o: { scope?: string; redirect?: string; offline?: boolean } = {}): Promise<SignIn> {
  const firstParty = clientId === 'journal-web';
  const rp = await discover(srv.url, clientId, firstParty ? srv.config.secrets.journalWebClientSecret : SECRET);
  const browser = new Browser(srv.url);
  const started = await startLogin(rp, {
    redirect_uri: o.redirect ?? CB,
    scope: o.scope ?? `openid profile school roles children${o.offline ? ' offline_access' : ''}`,
    claims: CHILD_CLAIMS,
    school: '1399',
    ...(o.offline ? { prompt: 'consent' } : {}),
  });
  const login = await openLoginPage(browser, started.authUrl);
  let { res, url } = await submitLogin(browser, login.html, who.login, who.password);
  const out: SignIn = {};
  if (url.startsWith(srv.url)) {
    const html = await res.clone().text();
    out.page = { status: res.status, html };
    if (!/value="allow"/.test(html)) return out;
    url = (await continueToRp(browser, res, url)).toString();
  }
  out.callback = new URL(url);
  if (out.callback.searchParams.get('error')) return out;
  out.tokens = await oidc.authorizationCodeGrant(rp, out.callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
  out.info = await oidc.fetchUserInfo(rp, out.tokens.access_token, who.id);
  return out;
}

beforeAll(async () => {
  srv = await startTestServer();
  a = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
  mashaPerson = await addStudent(srv.app, a, { lastName: 'Соколова', firstName: 'Маша', middleName: null, className: '6А' });
  masha = await addAccount(srv.app, a, { login: 'masha', kind: 'student', personId: mashaPerson.id });
  mama = await addAccount(srv.app, a, { login: 'mama', kind: 'parent' });
  await srv.db('users').whereIn('id', [masha.id, mama.id]).update({ birth_date: srv.db.raw(`case when kind = 'student' then date '2013-04-05' else date '1985-02-03' end`) });
  await addGuardianships(srv.db, mama.id, [{ personId: mashaPerson.id, inviteId: null }]);
  await addThirdParty('approved-app', 'Школьная библиотека');
  await addThirdParty('plain-app', 'Чужое приложение');
  await approve('approved-app', a);
});
afterAll(async () => srv?.close());

const child = () => ({ id: mashaPerson.id, sub: masha.id, name: 'Соколова Маша', class: '6А' });

describe('a parent', () => {
  it('at the journal\'s own app gets the children in the ID token and at userinfo, without a consent page', async () => {
    const r = await signIn('journal-web', mama, { redirect: srv.config.firstPartyClients.journalWeb.redirectUris[0]! });
    expect(r.page).toBeUndefined();
    expect(r.tokens!.claims()).toMatchObject({ children: [child()], birthdate: '1985-02-03' });
    expect(r.info).toMatchObject({ children: [child()], birthdate: '1985-02-03', roles: ['parent'] });
  });

  it('at an approved third-party app: the consent page offers the children, the tokens carry them', async () => {
    const r = await signIn('approved-app', mama);
    expect(r.page!.html).toContain('ваши дети: имя и класс');
    expect(r.page!.html).toContain('имя, фамилия, дата рождения');
    expect(r.tokens!.claims()).toMatchObject({ children: [child()], birthdate: '1985-02-03' });
    expect(r.info).toMatchObject({ children: [child()], birthdate: '1985-02-03' });
  });

  it('at an app the school has not approved: the consent page does not offer them, no token carries them', async () => {
    const r = await signIn('plain-app', mama);
    expect(r.page!.html).toContain('Доступ к вашим данным');
    expect(r.page!.html).not.toContain('ваши дети');
    expect(r.page!.html).not.toContain('дата рождения');
    expect(r.page!.html).toContain('имя и фамилия');
    const id = r.tokens!.claims()!;
    for (const claims of [id, r.info!] as Record<string, unknown>[]) {
      expect(claims.children).toBeUndefined();
      expect(claims.birthdate).toBeUndefined();
      expect(claims.class).toBeUndefined();
    }
    // What is not children's data still flows: the name, the school, being a parent.
    expect(r.info).toMatchObject({ family_name: 'Тестов', school: { number: '1399' }, roles: ['parent'] });
  });
});

describe('a pupil', () => {
  it('at the journal\'s own app gets the class and birth date', async () => {
    const r = await signIn('journal-web', masha, { redirect: srv.config.firstPartyClients.journalWeb.redirectUris[0]! });
    expect(r.tokens!.claims()).toMatchObject({ class: '6А', birthdate: '2013-04-05' });
    expect(r.info).toMatchObject({ class: '6А', birthdate: '2013-04-05', roles: ['student'] });
  });

  it('at an app the school approved: no consent page, the class and birth date', async () => {
    const r = await signIn('approved-app', masha);
    expect(r.page).toBeUndefined();
    expect(r.callback!.searchParams.get('code')).toBeTruthy();
    expect(r.tokens!.claims()).toMatchObject({ class: '6А', birthdate: '2013-04-05' });
    expect(r.info).toMatchObject({ class: '6А', birthdate: '2013-04-05', school: { number: '1399' } });
  });

  it('at an app the school has not approved: a clear page instead of consent, then access_denied', async () => {
    const r = await signIn('plain-app', masha);
    expect(r.page!.status).toBe(403);
    expect(r.page!.html).toContain('Это приложение не одобрено вашей школой');
    expect(r.page!.html).toContain('Чужое приложение');
    expect(r.page!.html).not.toContain('value="allow"');
    expect(r.page!.html).not.toContain('Доступ к вашим данным');
  });

  it('«Вернуться в приложение» — or a forged «allow» — gives the app access_denied', async () => {
    for (const decision of ['back', 'allow']) {
      const rp = await discover(srv.url, 'plain-app', SECRET);
      const browser = new Browser(srv.url);
      const started = await startLogin(rp, { redirect_uri: CB, scope: 'openid profile', school: '1399' });
      const login = await openLoginPage(browser, started.authUrl);
      const { res } = await submitLogin(browser, login.html, 'masha', masha.password);
      const form = formOf(await res.text(), /\/consent$/);
      const posted = await browser.postForm(form.action, { ...form.fields, decision });
      const { url } = await browser.follow(new URL(posted.headers.get('location')!, srv.url).toString());
      const cb = new URL(url);
      expect(cb.origin + cb.pathname).toBe(CB);
      expect(cb.searchParams.get('error')).toBe('access_denied');
      expect(cb.searchParams.get('error_description')).toMatch(/not approved/);
      expect(cb.searchParams.get('state')).toBe(started.state);
      expect(cb.searchParams.get('code')).toBeNull();
    }
  });

  it('loses an app whose approval the school withdraws: the refresh token fails, the next login is refused', async () => {
    await addThirdParty('withdrawn-app', 'Кружки');
    await approve('withdrawn-app', a);
    const r = await signIn('withdrawn-app', masha, { offline: true });
    expect(r.tokens!.refresh_token).toBeTruthy();
    const parent = await signIn('withdrawn-app', mama, { offline: true });
    expect(parent.tokens!.refresh_token).toBeTruthy();

    expect(await srv.db.transaction((trx) => withdrawClient(trx, { schoolId: a.id, clientId: 'withdrawn-app', by: systemAudit(trx) }))).toBe(true);
    const rp = await discover(srv.url, 'withdrawn-app', SECRET);
    await expect(oidc.refreshTokenGrant(rp, r.tokens!.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // The parent keeps the app, now without the children.
    const refreshed = await oidc.refreshTokenGrant(rp, parent.tokens!.refresh_token!);
    const info = await oidc.fetchUserInfo(rp, refreshed.access_token, mama.id);
    expect(info.children).toBeUndefined();
    expect(info.roles).toEqual(['parent']);

    const again = await signIn('withdrawn-app', masha);
    expect(again.page!.html).toContain('Это приложение не одобрено вашей школой');
    const row = await srv.db('audit_log').where({ action: 'client.withdraw', client_id: 'withdrawn-app' }).first();
    expect(row).toMatchObject({ school_id: a.id, target_type: 'client', target_id: 'withdrawn-app' });
  });
});

describe('dynamic client registration by a school\'s IT', () => {
  it('approves the new client for that school (audited), so its pupils sign in without consent', async () => {
    const { token } = await issueInitialAccessToken(srv.db, { schoolId: a.id, ttlDays: 1, by: cliAudit(srv.db) });
    const res = await fetch(`${srv.url}/reg`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Электронная библиотека', redirect_uris: ['https://library.example.ru/cb'] }),
    });
    expect(res.status).toBe(201);
    const { client_id: clientId } = (await res.json()) as { client_id: string };
    expect(await srv.db('school_clients').where({ client_id: clientId }).first()).toMatchObject({ school_id: a.id, approved_by: 'registration' });
    expect(await srv.db('audit_log').where({ action: 'client.approve', client_id: clientId }).first()).toMatchObject({ school_id: a.id, actor_type: 'client' });
  });
});
