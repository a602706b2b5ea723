/**
 * Issue 16, item 6: the second factor must not lock its owner out. Someone who knows a curator's
 * password burns the code tries from many browsers and addresses; the curator, in their own
 * browser (where a login with the code succeeded before) and with the right code, still gets in.
 * From a new browser during the attack the throttle refuses — always 429 with Retry-After and the
 * wait in words, never a bare 429. A password-device cookie, which anyone with the password
 * earns, gives no fresh code counter. Over real HTTP behind a trusted proxy (X-Forwarded-For gives
 * each attacker its own address); the code lockout is the default maximum (15 min), far longer
 * than the test, so nothing waits.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, testConfig, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin, oidc } from '../helpers/rp.js';
import { totp } from '../../src/mfa/totp.js';

const FREE = 5;
const LOCK = 900;
const WAIT_WORDS = /Слишком много неверных кодов\. Следующая попытка возможна через \d+ (с|мин)\./;

/** A browser behind the trusted proxy at `ip`. */
class From extends Browser {
  constructor(base: string, readonly ip: string) {
    super(base);
  }
  override request(input: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-for', this.ip);
    return super.request(input, { ...init, headers });
  }
}

let srv: TestServer;
let rp: oidc.Configuration;
let redirectUri: string;
let curator: Awaited<ReturnType<typeof addAccount>>;
let secret = '';
let owner: From;

beforeAll(async () => {
  const env = { TRUST_PROXY: 'true' };
  const base = testConfig(env).throttle;
  srv = await startTestServer({ env, overrides: { throttle: { ...base, mfa: { free: FREE, baseDelaySeconds: LOCK, maxDelaySeconds: LOCK, forgetAfterSeconds: 3600 } } } });
  const school = await addSchool(srv.db, { number: '2077', slug: '2077', name: 'Школа № 2077' });
  curator = await addAccount(srv.app, school, { login: 'kurator', kind: 'staff', roles: ['curator', 'teacher'] });
  rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  redirectUri = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;

  // The owner enrols in their own browser: password, QR code, code — a whole login.
  owner = new From(srv.url, '198.51.100.7');
  const first = await passwordStep(owner);
  const html = await first.text();
  secret = /<code class="key">([A-Z2-7 ]+)<\/code>/.exec(html)![1]!.replace(/ /g, '');
  const done = await submitCode(owner, html, totp(secret));
  expect(done.url.startsWith(redirectUri)).toBe(true);
});
afterAll(async () => srv?.close());

/** A new login up to the code page (prompt=login: a returning browser types the password again). */
async function passwordStep(browser: Browser): Promise<Response> {
  const page = await openLoginPage(browser, (await startLogin(rp, { redirect_uri: redirectUri, school: '2077', prompt: 'login' })).authUrl);
  const { res } = await submitLogin(browser, page.html, 'kurator', curator.password);
  expect(res.status).toBe(200);
  return res;
}

async function submitCode(browser: Browser, html: string, code: string): Promise<{ res: Response; url: string }> {
  const form = formOf(html, /\/mfa$/);
  const res = await browser.postForm(form.action, { ...form.fields, code });
  if (res.status >= 300 && res.status < 400) return browser.follow(new URL(res.headers.get('location')!, srv.url).toString());
  return { res, url: form.action };
}

/** A refused code step: 429 always with Retry-After and the wait in words. */
async function expectThrottled(res: Response): Promise<string> {
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(LOCK);
  const html = await res.text();
  expect(html).toMatch(WAIT_WORDS);
  return html;
}

describe('an attacker who knows the password', () => {
  it('burns the code tries from 20 browsers at 20 addresses: only the free tries, then 429 with Retry-After and the wait', async () => {
    let wrong = 0;
    let throttled = 0;
    for (let i = 0; i < 20; i++) {
      const attacker = new From(srv.url, `203.0.113.${i + 1}`);
      let html = await (await passwordStep(attacker)).text();
      for (let j = 0; j < 3; j++) {
        const { res } = await submitCode(attacker, html, String(100000 + i * 10 + j));
        if (res.status === 400) {
          wrong++;
          html = await res.text();
        } else {
          throttled++;
          html = await expectThrottled(res);
        }
      }
    }
    expect(wrong).toBe(FREE);
    expect(throttled).toBe(60 - FREE);
  });

  it('gets no fresh counter from the password-device cookie their own password login earned', async () => {
    const attacker = new From(srv.url, '203.0.113.200');
    await passwordStep(attacker);
    const html = await (await passwordStep(attacker)).text(); // now a «known device» for the password
    const { res } = await submitCode(attacker, html, '000000');
    await expectThrottled(res);
  });
});

describe('the owner during the attack', () => {
  it('gets in from their own browser with the right code', async () => {
    const html = await (await passwordStep(owner)).text();
    expect(html).toContain('Код подтверждения');
    const done = await submitCode(owner, html, totp(secret, Date.now() + 30_000));
    expect(done.url.startsWith(redirectUri)).toBe(true);
    const cb = new URL(done.url);
    expect(cb.searchParams.get('code')).toBeTruthy();
  });

  it('from a new browser is told how long to wait: 429 with Retry-After, never without', async () => {
    const elsewhere = new From(srv.url, '198.51.100.8');
    const html = await (await passwordStep(elsewhere)).text();
    const { res } = await submitCode(elsewhere, html, totp(secret, Date.now() + 60_000));
    await expectThrottled(res);
  });

  it('a wrong code on their own browser counts only against that browser', async () => {
    const html = await (await passwordStep(owner)).text();
    const { res } = await submitCode(owner, html, '000001');
    expect(res.status).toBe(400);
    const keys = (await srv.db('throttle').where('key', 'like', 'mfa:%').pluck('key')) as string[];
    expect(keys.filter((k) => k.startsWith('mfa:device:'))).toHaveLength(1);
  });
});
