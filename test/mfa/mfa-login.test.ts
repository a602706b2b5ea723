/**
 * Two-step verification over real HTTP: a curator must enrol at the first password login (QR code
 * and key), then gives a code at each login; codes work once and are throttled; the ID token's
 * amr shows ["pwd","otp"]. Anyone else may turn it on and off at /account; a curator may not turn
 * it off.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin, continueToRp, login, oidc, type StartedLogin } from '../helpers/rp.js';
import { totp } from '../../src/mfa/totp.js';

let srv: TestServer;
let rp: oidc.Configuration;
let redirectUri: string;
let curator: Awaited<ReturnType<typeof addAccount>>;
let teacher: Awaited<ReturnType<typeof addAccount>>;
let curatorSecret = '';
let enrolmentCode = '';

beforeAll(async () => {
  srv = await startTestServer();
  const school = await addSchool(srv.db, { number: '1399', slug: '1399' });
  curator = await addAccount(srv.app, school, { login: 'curator', kind: 'staff', roles: ['curator', 'teacher'] });
  teacher = await addAccount(srv.app, school, { login: 'teacher', kind: 'staff', roles: ['teacher'] });
  rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  redirectUri = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
});
afterAll(async () => srv?.close());

async function passwordStep(loginName: string, password: string) {
  const browser = new Browser(srv.url);
  const started = await startLogin(rp, { redirect_uri: redirectUri, school: '1399' });
  const page = await openLoginPage(browser, started.authUrl);
  const { res, url } = await submitLogin(browser, page.html, loginName, password);
  return { browser, started, res, url };
}

async function claimsAfter(browser: Browser, started: StartedLogin, res: Response, url: string) {
  const cb = await continueToRp(browser, res, url);
  const tokens = await oidc.authorizationCodeGrant(rp, cb, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
  return tokens.claims()!;
}

async function submitCode(browser: Browser, html: string, code: string) {
  const form = formOf(html, /\/mfa$/);
  const res = await browser.postForm(form.action, { ...form.fields, code });
  if (res.status >= 300 && res.status < 400) return browser.follow(new URL(res.headers.get('location')!, srv.url).toString());
  return { res, url: form.action };
}

describe('a curator', () => {
  it('enrols at the first password login: QR code and key, then a code; amr pwd+otp', async () => {
    const { browser, started, res } = await passwordStep('curator', curator.password);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Включите двухэтапную проверку');
    expect(html).toMatch(/<svg[^>]*>/);
    curatorSecret = /<code class="key">([A-Z2-7 ]+)<\/code>/.exec(html)![1]!.replace(/ /g, '');
    expect(curatorSecret).toMatch(/^[A-Z2-7]{32}$/);
    // No session yet: the password alone did not log in.
    expect(await srv.db('oidc_models').where({ model: 'Session', account_id: curator.id }).first()).toBeUndefined();
    const wrong = await submitCode(browser, html, '000000');
    expect(wrong.res.status).toBe(400);
    const again = await wrong.res.text();
    expect(again).toContain('Неверный или уже использованный код');
    enrolmentCode = totp(curatorSecret);
    const ok = await submitCode(browser, again, enrolmentCode);
    const claims = await claimsAfter(browser, started, ok.res, ok.url);
    expect(claims.sub).toBe(curator.id);
    expect(claims.amr).toEqual(['pwd', 'otp']);
    expect(claims.acr).toBe('urn:journal:mfa');
    const actions = (await srv.db('audit_log').where({ target_id: curator.id }).select('action')).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['mfa.failure', 'mfa.enrol', 'mfa.success']));
    const row = await srv.db('user_totp').where({ user_id: curator.id }).first();
    expect(row.secret_enc).not.toContain(curatorSecret); // sealed at rest
  });

  it('gives a code at the next login; the same code a second time is refused', async () => {
    const first = await passwordStep('curator', curator.password);
    const html = await first.res.text();
    expect(html).toContain('Код подтверждения');
    expect(html).not.toMatch(/<svg/);
    // The code of the enrolment was used already.
    const replay = await submitCode(first.browser, html, enrolmentCode);
    expect(replay.res.status).toBe(400);
    const next = await submitCode(first.browser, await replay.res.text(), totp(curatorSecret, Date.now() + 30_000));
    expect((await claimsAfter(first.browser, first.started, next.res, next.url)).amr).toEqual(['pwd', 'otp']);
  });

  it('wrong codes are throttled per account (429), with the same page; refusals are audited once per wait', async () => {
    const { browser, res } = await passwordStep('curator', curator.password);
    let html = await res.text();
    let status = 0;
    for (let i = 0; i <= srv.config.throttle.mfa.free; i++) {
      const r = await submitCode(browser, html, String(100000 + i));
      status = r.res.status;
      html = await r.res.text();
    }
    expect(status).toBe(429);
    expect(html).toContain('Слишком много неверных кодов');
    // Hammering the locked step adds no audit rows beyond the first refusal of the wait.
    const rows = async () => Number((await srv.db('audit_log').where({ action: 'mfa.failure', target_id: curator.id }).count({ n: '*' }).first())!.n);
    const before = await rows();
    for (let i = 0; i < 20; i++) html = await (await submitCode(browser, html, String(200000 + i))).res.text();
    expect(await rows()).toBe(before);
    await srv.app.throttle.unlock(`mfa:acct:${curator.id}`);
  });

  it('cannot turn it off on the account page', async () => {
    // The earlier tests used up the steps up to now+30 s; let this one start afresh.
    await srv.db('user_totp').where({ user_id: curator.id }).update({ last_step: null });
    const first = await passwordStep('curator', curator.password);
    const done = await submitCode(first.browser, await first.res.text(), totp(curatorSecret));
    await continueToRp(first.browser, done.res, done.url);
    const page = await (await first.browser.follow('/account')).res.text();
    expect(page).toContain('Для вашей роли она обязательна');
    expect(page).not.toContain('/account/mfa/disable');
    const form = formOf(page, /\/account\/email$/);
    const r = await first.browser.postForm('/account/mfa/disable', { _csrf: form.fields._csrf!, password: curator.password, code: '123456' });
    expect(r.status).toBe(403);
    expect(await srv.db('user_totp').where({ user_id: curator.id }).first()).toBeDefined();
  });
});

describe('anyone else', () => {
  it('logs in without a code, turns it on at /account, then needs it, and turns it off again', async () => {
    const browser = new Browser(srv.url);
    await login(browser, await startLogin(rp, { redirect_uri: redirectUri, school: '1399' }), 'teacher', teacher.password);
    let page = await (await browser.follow('/account')).res.text();
    expect(page).toContain('Двухэтапная проверка');
    const start = formOf(page, /\/account\/mfa\/start$/);
    const wrongPassword = await browser.postForm(start.action, { ...start.fields, password: 'nope-123' });
    expect(wrongPassword.status).toBe(400);
    const enrol = await browser.postForm(start.action, { ...start.fields, password: teacher.password });
    const enrolHtml = await enrol.text();
    const secret = /<code class="key">([A-Z2-7 ]+)<\/code>/.exec(enrolHtml)![1]!.replace(/ /g, '');
    const confirm = formOf(enrolHtml, /\/account\/mfa\/confirm$/);
    const done = await browser.postForm(confirm.action, { ...confirm.fields, code: totp(secret) });
    expect(done.status).toBe(303);
    page = await (await browser.follow('/account?done=mfa')).res.text();
    expect(page).toContain('Двухэтапная проверка включена');

    const next = await passwordStep('teacher', teacher.password);
    expect(await next.res.text()).toContain('Код подтверждения');

    const off = formOf(page, /\/account\/mfa\/disable$/);
    const r = await browser.postForm(off.action, { ...off.fields, password: teacher.password, code: totp(secret, Date.now() + 30_000) });
    expect(r.status).toBe(303);
    const after = await passwordStep('teacher', teacher.password);
    expect((await claimsAfter(after.browser, after.started, after.res, after.url)).amr).toEqual(['pwd']);
  });

  it('a curator of another school only (granted, without the role at home) must enrol too', async () => {
    const other = await addSchool(srv.db, { number: '57', slug: '57' });
    await srv.db('curator_schools').insert({ user_id: teacher.id, school_id: other.id });
    const step = await passwordStep('teacher', teacher.password);
    expect(await step.res.text()).toContain('Включите двухэтапную проверку');
    await srv.db('curator_schools').where({ user_id: teacher.id }).delete();
  });
});
