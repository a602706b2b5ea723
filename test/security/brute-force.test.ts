/**
 * Issue 7, bullet 1: brute-force defence, over real HTTP behind a trusted proxy (X-Forwarded-For
 * gives each attacker its address). Failures are counted per account, per (address, login) and
 * per address; a known device (its signed device cookie from an earlier login) only on its own
 * counter. Proven here: 1,000 wrong passwords from 50 addresses give the attackers no more than
 * the free tries of the account, its owner gets in at once on a known device and after the
 * temporary lockout on a new one; 50 parallel guesses get no more tries than the policy; every
 * refusal says the same words with 429 + Retry-After; lockouts reach the school's audit log;
 * invite codes, recovery requests and the ESIA callback are on the same throttle.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { startTestServer, addSchool, addAccount, testConfig, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin, continueToRp, login, oidc } from '../helpers/rp.js';
import { consoleLogin } from '../helpers/console.js';
import { recordCounts } from '../helpers/security-counts.js';
import { ConfigError } from '../../src/config/index.js';
import type { School } from '../../src/schools/queries.js';

const FILE = 'brute-force';
const INVALID = 'Неверное имя пользователя или пароль. Пожалуйста, попробуйте еще раз!';
/** Free tries per account, per (address, login) and per known device. */
const FREE = 5;
/**
 * The test's lockout: every wait is LOCK seconds (base = max), so the 1,000 guesses (about 7 s
 * here) all fall inside the first wait and the attackers' tries are exactly the free ones.
 */
const LOCK = 25;
/** Other flows' policies: three free tries, then a wait far longer than the test. */
const SMALL = { free: 3, baseDelaySeconds: 100, maxDelaySeconds: 100, forgetAfterSeconds: 3600 };

/** A browser behind the trusted proxy at `ip`; `extra` cookies ride along (a forged device cookie). */
class From extends Browser {
  extra: string[] = [];
  constructor(base: string, readonly ip: string) {
    super(base);
  }
  override cookieHeader(url: URL): string {
    return [super.cookieHeader(url), ...this.extra].filter(Boolean).join('; ');
  }
  override request(input: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-for', this.ip);
    return super.request(input, { ...init, headers });
  }
}

let srv: TestServer;
let school: School;
let rp: oidc.Configuration;
let redirectUri: string;
let curator: Awaited<ReturnType<typeof addAccount>>;

beforeAll(async () => {
  const env = {
    TRUST_PROXY: 'true',
    LOGIN_THROTTLE_FREE: String(FREE),
    LOGIN_THROTTLE_BASE_DELAY_SECONDS: String(LOCK),
    LOGIN_THROTTLE_MAX_DELAY_SECONDS: String(LOCK),
  };
  const base = testConfig(env).throttle;
  srv = await startTestServer({
    env,
    overrides: { throttle: { ...base, inviteAddress: SMALL, recoverEmail: SMALL, esiaAddress: SMALL } },
  });
  school = await addSchool(srv.db, { number: '2077', slug: '2077', name: 'Школа № 2077' });
  curator = await addAccount(srv.app, school, { login: 'kurator', kind: 'staff', roles: ['curator', 'teacher'] });
  rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  redirectUri = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
});
afterAll(async () => srv?.close());

// prompt=login: a known device has usually no session left, only its device cookie.
const loginPage = async (browser: Browser) => openLoginPage(browser, (await startLogin(rp, { redirect_uri: redirectUri, school: '2077', prompt: 'login' })).authUrl);
const errorOf = (html: string) => /<p class="error"[^>]*>([^<]*)<\/p>/.exec(html)?.[1]?.replace(/&quot;/g, '"') ?? '';

/** Password checks made for an account: each writes one login.failure or login.success row. */
async function checks(accountId: string): Promise<number> {
  const row = await srv.db('audit_log').whereIn('action', ['login.failure', 'login.success']).where({ target_id: accountId }).count({ n: '*' }).first();
  return Number(row!.n);
}
async function auditRows(action: string, accountId: string) {
  return srv.db('audit_log').where({ action, target_id: accountId }).orderBy('id');
}

/**
 * A successful login that makes `browser` a known device: the login form's POST, its device
 * cookie, then on to the relying party. `https` says the proxy got the request over TLS.
 */
async function loginKnown(browser: Browser, who: { login: string; password: string }, https = false): Promise<{ setCookie: string }> {
  const page = await loginPage(browser);
  const form = formOf(page.html, /\/login$/);
  const res = await browser.request(form.action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(https ? { 'x-forwarded-proto': 'https' } : {}) },
    body: new URLSearchParams({ ...form.fields, login: who.login, password: who.password }).toString(),
  });
  expect(res.status).toBe(303);
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('jid_dev_') && !/^jid_dev_\w+\.sig=/.test(c));
  expect(setCookie).toBeDefined();
  const next = await browser.follow(new URL(res.headers.get('location')!, srv.url).toString());
  const callback = await continueToRp(browser, next.res, next.url);
  expect(callback.searchParams.get('code')).toBeTruthy();
  return { setCookie: setCookie! };
}

describe('settings', () => {
  it('come from the environment: free tries, waits, the per-address threshold, the cookie lifetime', () => {
    const c = testConfig({
      LOGIN_THROTTLE_FREE: '7', LOGIN_THROTTLE_BASE_DELAY_SECONDS: '3', LOGIN_THROTTLE_MAX_DELAY_SECONDS: '600',
      LOGIN_THROTTLE_ADDRESS_FREE: '5000', LOGIN_THROTTLE_ADDRESS_MAX_DELAY_SECONDS: '10', LOGIN_DEVICE_COOKIE_DAYS: '90',
    });
    for (const p of [c.throttle.account, c.throttle.addressLogin, c.throttle.device]) {
      expect(p).toMatchObject({ free: 7, baseDelaySeconds: 3, maxDelaySeconds: 600 });
    }
    expect(c.throttle.address).toMatchObject({ free: 5000, maxDelaySeconds: 10 });
    expect(c.deviceCookieDays).toBe(90);
    // Defaults: at most a 15-minute lockout; a school behind one NAT gets 300 free tries.
    const d = testConfig();
    expect(d.throttle.account.maxDelaySeconds).toBe(900);
    expect(d.throttle.address.free).toBe(300);
    expect(() => testConfig({ LOGIN_THROTTLE_MAX_DELAY_SECONDS: '86400' })).toThrow(ConfigError);
    expect(() => testConfig({ LOGIN_THROTTLE_BASE_DELAY_SECONDS: '60', LOGIN_THROTTLE_MAX_DELAY_SECONDS: '30' })).toThrow(/LOGIN_THROTTLE_BASE_DELAY_SECONDS/);
    expect(() => testConfig({ LOGIN_THROTTLE_FREE: 'many' })).toThrow(/LOGIN_THROTTLE_FREE/);
  });
});

describe('the known-device cookie', () => {
  it('is signed, HttpOnly, SameSite=Lax, for the login forms only, long-lived, and Secure over https', async () => {
    const who = await addAccount(srv.app, school, { login: 'cookie.owner', kind: 'staff', roles: ['teacher'] });
    const plain = (await loginKnown(new Browser(srv.url), who)).setCookie;
    expect(plain).toMatch(/;\s*httponly/i);
    expect(plain).toMatch(/;\s*samesite=lax/i);
    expect(plain).toMatch(/;\s*path=\/interaction(;|$)/i);
    expect(plain).not.toMatch(/;\s*secure/i);
    const expires = new Date(/expires=([^;]+)/i.exec(plain)![1]!).getTime();
    expect(expires - Date.now()).toBeGreaterThan(300 * 24 * 3600 * 1000);
    // The value names the account and carries a random nonce; the signature is its own cookie.
    expect(plain).toContain(who.id);
    expect((await loginKnown(new Browser(srv.url), who, true)).setCookie).toMatch(/;\s*secure/i);
  });
});

describe('1,000 wrong passwords from 50 addresses', () => {
  it('give the attackers only the free tries; the owner gets in at once on a known device, after the lockout on a new one', async () => {
    const owner = await addAccount(srv.app, school, { login: 'Ivanova.MP', kind: 'staff', roles: ['teacher'] });
    const known = new From(srv.url, '192.0.2.10');
    await loginKnown(known, owner); // a day earlier, at home
    const before = await checks(owner.id);

    // 50 addresses (a class's phones, a botnet), 20 guesses each, all at once.
    const ADDRESSES = 50;
    const PER_ADDRESS = 20;
    const statuses: number[] = [];
    const texts = new Set<string>();
    await Promise.all(
      Array.from({ length: ADDRESSES }, async (_, a) => {
        const attacker = new From(srv.url, `198.51.100.${a + 1}`);
        const page = await loginPage(attacker);
        for (let i = 0; i < PER_ADDRESS; i++) {
          const { res } = await submitLogin(attacker, page.html, 'ivanova.mp', `Guess${a}x${i}`);
          statuses.push(res.status);
          if (res.status === 429) {
            expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
            expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(LOCK);
          }
          texts.add(errorOf(await res.text()).replace(/\d+/g, 'N'));
        }
      }),
    );
    expect(statuses).toHaveLength(ADDRESSES * PER_ADDRESS);
    const checked = (await checks(owner.id)) - before;
    expect(checked).toBeLessThanOrEqual(FREE);
    expect(statuses.filter((s) => s === 400)).toHaveLength(checked);
    expect(statuses.filter((s) => s === 429)).toHaveLength(ADDRESSES * PER_ADDRESS - checked);
    // Two texts: the FAQ's words, and the same words with the wait.
    expect([...texts].every((t) => t.startsWith(INVALID))).toBe(true);
    expect(texts.size).toBe(2);

    // The curators' audit log: one lockout of the account, in the school, with the login.
    const locked = await auditRows('login.locked', owner.id);
    expect(locked).toHaveLength(1);
    expect(locked[0]).toMatchObject({ school_id: school.id, outcome: 'denied' });
    expect(locked[0].details).toMatchObject({ login: 'ivanova.mp', failures: FREE, waitSeconds: LOCK });

    // The owner on the known device: in at the first try (one POST), while the account is locked.
    const ownerTries = 1;
    const { res, url } = await submitLogin(known, (await loginPage(known)).html, 'Ivanova.MP', owner.password);
    expect((await continueToRp(known, res, url)).searchParams.get('code')).toBeTruthy();
    const success = (await auditRows('login.success', owner.id)).at(-1);
    expect(success.details).toMatchObject({ knownDevice: true });

    // A forged device cookie (the owner's cookie name, another nonce, the old signature) is a new device.
    const forger = new From(srv.url, '198.51.100.77');
    const [name, value] = knownCookie(known, owner.id).split('=') as [string, string];
    const forged = value.replace(/\.[A-Za-z0-9_-]{22}$/, `.${randomBytes(16).toString('base64url')}`);
    forger.extra = [`${name}=${forged}`, `${name}.sig=${known.cookie(`${name}.sig`)}`];
    const forgedTry = await submitLogin(forger, (await loginPage(forger)).html, 'ivanova.mp', owner.password);
    expect(forgedTry.res.status).toBe(429);

    // The owner on a new device (the school's computer): waits out the temporary lockout.
    const fresh = new From(srv.url, '203.0.113.5');
    const freshPage = await loginPage(fresh);
    let outcome = await submitLogin(fresh, freshPage.html, 'ivanova.mp', owner.password);
    let waits = 0;
    while (outcome.res.status === 429 && waits < 5) {
      const retryAfter = Number(outcome.res.headers.get('retry-after'));
      expect(retryAfter).toBeLessThanOrEqual(LOCK); // never more than the longest wait
      expect(errorOf(await outcome.res.text())).toContain(INVALID);
      await new Promise((r) => setTimeout(r, retryAfter * 1000));
      waits += 1;
      outcome = await submitLogin(fresh, freshPage.html, 'ivanova.mp', owner.password);
    }
    expect(waits).toBeGreaterThanOrEqual(1); // it did meet the lockout
    expect((await continueToRp(fresh, outcome.res, outcome.url)).searchParams.get('code')).toBeTruthy();

    // A success on a new device resets the account's counter; the attackers got no more checks.
    expect(await srv.db('throttle').where('key', 'like', `login:acct:${school.id}:ivanova.mp`)).toHaveLength(0);
    expect((await auditRows('login.failure', owner.id)).length).toBe(checked);
    recordCounts(FILE, {
      'brute-force.wrong-passwords': ADDRESSES * PER_ADDRESS,
      'brute-force.addresses': ADDRESSES,
      'brute-force.checked-max': FREE,
      'brute-force.owner-known-device-tries': ownerTries,
    });
  });
});

/** This browser's device cookie for the account, as `name=value` (one cookie per account). */
function knownCookie(browser: Browser, accountId: string): string {
  const name = `jid_dev_${createHash('sha256').update(accountId).digest('hex').slice(0, 16)}`;
  const value = browser.cookie(name);
  expect(value).toBeDefined();
  return `${name}=${value}`;
}

describe('atomic counting', () => {
  it('50 parallel wrong attempts get exactly the free tries checked', async () => {
    const victim = await addAccount(srv.app, school, { login: 'parallel.victim', kind: 'staff', roles: ['teacher'] });
    const browser = new From(srv.url, '198.51.100.200');
    const page = await loginPage(browser);
    const PARALLEL = 50;
    const results = await Promise.all(
      Array.from({ length: PARALLEL }, async (_, i) => {
        const { res } = await submitLogin(browser, page.html, 'parallel.victim', `Parallel${i}x`);
        await res.text();
        return res.status;
      }),
    );
    const checked = await checks(victim.id);
    expect(checked).toBe(FREE);
    expect(results.filter((s) => s === 400)).toHaveLength(FREE);
    expect(results.filter((s) => s === 429)).toHaveLength(PARALLEL - FREE);
    expect(await auditRows('login.locked', victim.id)).toHaveLength(1);
    recordCounts(FILE, { 'brute-force.parallel-attempts': PARALLEL, 'brute-force.parallel-checked': checked });
  });
});

describe('the same answer for every login', () => {
  it('an existing and an unknown login get the same statuses and words, 429 with Retry-After after the free tries', async () => {
    await addAccount(srv.app, school, { login: 'exists.here', kind: 'staff', roles: ['teacher'] });
    const seen: Record<string, { status: number; error: string; retryAfter: boolean }[]> = {};
    for (const name of ['exists.here', 'nobody.here']) {
      const browser = new From(srv.url, '198.51.100.201');
      const page = await loginPage(browser);
      seen[name] = [];
      for (let i = 0; i <= FREE; i++) {
        const { res } = await submitLogin(browser, page.html, name, `Wrong${i}pass`);
        seen[name]!.push({ status: res.status, error: errorOf(await res.text()).replace(/\d+/g, 'N'), retryAfter: res.headers.has('retry-after') });
      }
    }
    expect(seen['nobody.here']).toEqual(seen['exists.here']);
    expect(seen['exists.here']!.map((s) => s.status)).toEqual([...Array<number>(FREE).fill(400), 429]);
    expect(seen['exists.here']!.at(-1)).toMatchObject({ retryAfter: true });
    expect(seen['exists.here']!.at(-1)!.error).toMatch(/^Неверное имя пользователя или пароль\. .+ Следующая попытка возможна через N с\.$/);
  });
});

describe('a known device that fails', () => {
  it('locks only itself: the account and new devices are untouched', async () => {
    const who = await addAccount(srv.app, school, { login: 'device.fails', kind: 'staff', roles: ['teacher'] });
    const device = new From(srv.url, '192.0.2.20');
    await loginKnown(device, who);
    const page = await loginPage(device);
    for (let i = 0; i < FREE; i++) {
      const { res } = await submitLogin(device, page.html, 'device.fails', `Typo${i}pass`);
      expect(res.status).toBe(400);
      await res.text();
    }
    const locked = await submitLogin(device, page.html, 'device.fails', who.password);
    expect(locked.res.status).toBe(429);
    expect(Number(locked.res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(errorOf(await locked.res.text())).toContain(INVALID);
    const failures = await auditRows('login.failure', who.id);
    expect(failures.every((f) => f.details.knownDevice === true)).toBe(true);
    expect(await auditRows('login.locked', who.id)).toHaveLength(0); // the account is not locked
    // The same person on another browser: in at once.
    const callback = await login(new From(srv.url, '192.0.2.20'), await startLogin(rp, { redirect_uri: redirectUri, school: '2077' }), 'device.fails', who.password);
    expect(callback.searchParams.get('code')).toBeTruthy();
    recordCounts(FILE, { 'brute-force.known-device-failures-to-lock': FREE });
  });
});

describe('curators', () => {
  let console_: Browser;
  /** The curator sets a new password (shown once; to be changed at the next login). */
  async function resetPassword(accountId: string): Promise<string> {
    console_ ??= await consoleLogin(srv.url, '2077', curator);
    const csrf = formOf(await (await console_.follow('/console')).res.text(), /\/console\/logout$/).fields._csrf!;
    const reset = await console_.postForm(`/console/users/${accountId}/password`, { _csrf: csrf });
    return /<code class="key" id="new-password">([^<]+)<\/code>/.exec(await reset.text())![1]!;
  }
  async function lockOut(loginName: string, ip: string) {
    const attacker = new From(srv.url, ip);
    const page = await loginPage(attacker);
    for (let i = 0; i < FREE; i++) await (await submitLogin(attacker, page.html, loginName, `Guess${i}x`)).res.text();
  }

  it('see the lockout in the school audit log; a password reset voids the device cookies', async () => {
    const who = await addAccount(srv.app, school, { login: 'reset.me', kind: 'student' });
    const device = new From(srv.url, '192.0.2.30');
    await loginKnown(device, who);
    const newPassword = await resetPassword(who.id);

    // Someone locks the account; the old known device no longer gets past the lockout.
    await lockOut('reset.me', '198.51.100.202');
    const stale = await submitLogin(device, (await loginPage(device)).html, 'reset.me', newPassword);
    expect(stale.res.status).toBe(429);

    const auditPage = await (await console_.follow('/console/audit')).res.text();
    const row = /<tr>(?:(?!<\/tr>)[\s\S])*login\.locked(?:(?!<\/tr>)[\s\S])*<\/tr>/.exec(auditPage)?.[0] ?? '';
    expect(row).toContain('reset.me');
  });

  it('the password the owner chooses at the forced change keeps the browser a known device', async () => {
    const who = await addAccount(srv.app, school, { login: 'changes.it', kind: 'student' });
    const temporary = await resetPassword(who.id);
    const device = new From(srv.url, '192.0.2.40');
    const { res } = await submitLogin(device, (await loginPage(device)).html, 'changes.it', temporary);
    const form = formOf(await res.text(), /\/password$/);
    const chosen = 'Zvezda2077q';
    const changed = await device.postForm(form.action, { ...form.fields, password: chosen, repeat: chosen });
    const next = await device.follow(new URL(changed.headers.get('location')!, srv.url).toString());
    expect((await continueToRp(device, next.res, next.url)).searchParams.get('code')).toBeTruthy();

    await lockOut('changes.it', '198.51.100.203');
    const again = await submitLogin(device, (await loginPage(device)).html, 'changes.it', chosen);
    expect((await continueToRp(device, again.res, again.url)).searchParams.get('code')).toBeTruthy();
  });
});

describe('the same throttle guards the other doors', () => {
  it('invite codes: wrong codes from one address, then 429 with the wait', async () => {
    const browser = new From(srv.url, '198.51.100.210');
    const form = formOf(await (await browser.follow('/register')).res.text());
    const statuses: number[] = [];
    let retryAfter = 0;
    for (let i = 0; i <= SMALL.free; i++) {
      const code = `st${randomBytes(8).toString('hex').replace(/[01]/g, 'k').slice(0, 10)}`;
      const res = await browser.postForm(form.action, { ...form.fields, code });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = Number(res.headers.get('retry-after'));
      await res.text();
    }
    expect(statuses).toEqual([400, 400, 400, 429]);
    // The throttle's own wait (not a fixed minute).
    expect(retryAfter).toBeGreaterThan(60);
    expect(retryAfter).toBeLessThanOrEqual(SMALL.maxDelaySeconds);
  });

  it('recovery requests: one address asked for from four addresses, the fourth waits', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i <= SMALL.free; i++) {
      const browser = new From(srv.url, `198.51.100.${220 + i}`);
      const form = formOf(await (await browser.follow('/recover')).res.text());
      const res = await browser.postForm(form.action, { ...form.fields, email: 'Target.Person@example.ru' });
      statuses.push(res.status);
      retryAfter = res.headers.get('retry-after');
      await res.text();
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
  });

  it('the ESIA callback: forged callbacks from one address, then 429 with the wait', async () => {
    const browser = new From(srv.url, '198.51.100.230');
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i <= SMALL.free; i++) {
      const res = await browser.request(`/esia/callback?state=${randomUUID()}&code=forged`);
      statuses.push(res.status);
      retryAfter = res.headers.get('retry-after');
      await res.text();
    }
    expect(statuses).toEqual([400, 400, 400, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    recordCounts(FILE, { 'brute-force.other-doors': 3 });
  });
});
