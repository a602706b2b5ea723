/**
 * Issue 8, part 4: overload behaves. Password hashes go through one bounded line
 * (src/accounts/hash-pool.ts); past its capacity a request gets a fast 503 with Retry-After and a
 * page in the person's language — before it costs a query or counts as an attempt — and nothing is
 * half-written. How fast it stays is the bench's business (`npm run bench -- --scenarios storm`),
 * never asserted here.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createHashPool, HashingBusy, type HashSlot } from '../../src/accounts/hash-pool.js';
import { addAccount, addSchool, startTestServer, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, openLoginPage, startLogin, submitLogin, type oidc } from '../helpers/rp.js';
import { pupilsWithCodes, registerWithCode, startRegistration } from '../helpers/flows.js';
import type { School } from '../../src/schools/queries.js';

/** A hash the test finishes when it wants. */
function deferredHash() {
  let finish!: () => void;
  const done = new Promise<string>((resolve) => (finish = () => resolve('hash')));
  return { hash: () => done, finish };
}

describe('the hashing line', () => {
  it('runs at most `concurrency` hashes at once, the others in order', async () => {
    const pool = createHashPool({ concurrency: 2, maxWaitMs: 1000, initialHashMs: 50 });
    const hashes = Array.from({ length: 5 }, deferredHash);
    const started: number[] = [];
    const runs = hashes.map((h, i) => pool.run(() => (started.push(i), h.hash())));
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    expect(pool.stats()).toMatchObject({ running: 2, held: 5 });
    hashes[1]!.finish();
    await runs[1];
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    for (const h of hashes) h.finish();
    await Promise.all(runs);
    expect(pool.stats()).toMatchObject({ running: 0, held: 0, refused: 0 });
  });

  it('refuses at once past what the cores hash within maxWaitMs, with the wait in whole seconds', () => {
    // 2 cores × (1 running + 100 ms ÷ 50 ms waiting) = 6 places.
    const pool = createHashPool({ concurrency: 2, maxWaitMs: 100, initialHashMs: 50 });
    const slots: HashSlot[] = Array.from({ length: 6 }, () => pool.reserve());
    expect(pool.stats().capacity).toBe(6);
    let refusal: unknown;
    try {
      pool.reserve();
    } catch (err) {
      refusal = err;
    }
    expect(refusal).toBeInstanceOf(HashingBusy);
    expect((refusal as HashingBusy).status).toBe(503);
    expect((refusal as HashingBusy).retryAfterSeconds).toBe(1);
    expect(pool.stats().refused).toBe(1);
    slots[0]!.release();
    slots[0]!.release(); // twice gives back one place, not two
    expect(pool.stats().held).toBe(5);
    const again = pool.reserve();
    expect(() => pool.reserve()).toThrow(HashingBusy);
    for (const s of [...slots, again]) s.release();
    expect(pool.stats().held).toBe(0);
  });

  it('a slot runs several hashes (a login and its rehash) and none after its release', async () => {
    const pool = createHashPool({ concurrency: 1, maxWaitMs: 100 });
    const slot = pool.reserve();
    expect(await slot.run(async () => 1)).toBe(1);
    expect(await slot.run(async () => 2)).toBe(2);
    slot.release();
    expect(() => slot.run(async () => 3)).toThrow(/after release/);
  });

  it('a failing hash gives its turn back', async () => {
    const pool = createHashPool({ concurrency: 1, maxWaitMs: 1000 });
    await expect(pool.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await pool.run(async () => 'next')).toBe('next');
    expect(pool.stats()).toMatchObject({ running: 0, held: 0 });
  });
});

describe('a full line over HTTP', () => {
  let srv: TestServer;
  let school: School;
  let rp: oidc.Configuration;
  let redirectUri: string;

  beforeAll(async () => {
    // One hash at a time and a short line: a handful of parallel logins fill it.
    srv = await startTestServer({ env: { PASSWORD_HASH_CONCURRENCY: '1', PASSWORD_HASH_MAX_WAIT_MS: '100', ARGON2_MEMORY_KIB: '32768', ARGON2_TIME_COST: '3' } });
    school = await addSchool(srv.db, { number: '3088', slug: '3088', name: 'Школа № 3088' });
    rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    redirectUri = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
  });
  afterAll(async () => srv?.close());

  /** Takes every place in the line, as a storm of logins would; returns them to give back. */
  function fillLine(): HashSlot[] {
    const held: HashSlot[] = [];
    for (;;) {
      try {
        held.push(srv.app.passwords.reserve());
      } catch (err) {
        if (err instanceof HashingBusy) return held;
        throw err;
      }
    }
  }
  const errorOf = (html: string) => /<p class="error"[^>]*>([^<]*)<\/p>/.exec(html)?.[1] ?? '';
  const loginPage = async (b: Browser) => openLoginPage(b, (await startLogin(rp, { redirect_uri: redirectUri, school: '3088', prompt: 'login' })).authUrl);
  const auditCount = async (accountId: string) =>
    Number((await srv.db('audit_log').where({ target_id: accountId }).whereIn('action', ['login.success', 'login.failure']).count({ n: '*' }).first())!.n);

  it('a login past capacity gets 503, Retry-After and the login form with the wait, and is not counted', async () => {
    const pupil = await addAccount(srv.app, school, { login: 'polnaya.ochered' });
    const b = new Browser(srv.url);
    const page = await loginPage(b);
    const held = fillLine();
    let res: Response;
    try {
      ({ res } = await submitLogin(b, page.html, pupil.login, 'WrongGuess1'));
    } finally {
      for (const s of held) s.release();
    }
    const html = await res.text();
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(errorOf(html)).toMatch(/^Сейчас входит очень много людей, и пароль не успели проверить\. Повторите попытку через \d+ с\.$/);
    expect(html).toContain('name="login"'); // the form again, the login kept
    expect(html).toContain('value="polnaya.ochered"');
    // Nothing counted: no audit row, no throttle counter for the account.
    expect(await auditCount(pupil.id)).toBe(0);
    expect(await srv.db('throttle').whereLike('key', '%:polnaya.ochered').first()).toBeUndefined();

    // The same form, the line free again: the person gets in.
    const again = await submitLogin(b, (await loginPage(b)).html, pupil.login, pupil.password);
    expect(again.url.startsWith(redirectUri)).toBe(true);
    expect(await auditCount(pupil.id)).toBe(1);
  });

  it('in English for an English browser', async () => {
    const pupil = await addAccount(srv.app, school);
    const b = new Browser(srv.url);
    const request = b.request.bind(b);
    b.request = (input, init = {}) => request(input, { ...init, headers: { ...(init.headers as Record<string, string>), 'accept-language': 'en' } });
    const page = await loginPage(b);
    const held = fillLine();
    try {
      const { res } = await submitLogin(b, page.html, pupil.login, pupil.password);
      expect(res.status).toBe(503);
      expect(errorOf(await res.text())).toMatch(/^Very many people are signing in right now .* Please try again in \d+ s\.$/);
    } finally {
      for (const s of held) s.release();
    }
  });

  it('a registration past capacity gets the busy page and leaves nothing behind; the same code works after', async () => {
    const [student] = await pupilsWithCodes(srv.app, school, 1, 'ovl');
    const started = await startRegistration(srv.url, student!);
    if (!('submit' in started)) throw new Error('the code page did not lead to the details form');
    const held = fillLine();
    let refused;
    try {
      refused = await started.submit();
    } finally {
      for (const s of held) s.release();
    }
    const last = refused.steps.at(-1)!;
    expect(last.status).toBe(503);
    expect(last.body).toContain('Сейчас сервис очень загружен');
    expect(await srv.db('users').where({ login: student!.login }).first()).toBeUndefined();
    expect((await registerWithCode(srv.url, student!)).outcome).toBe('registered');
  });

  it('a storm of parallel logins: each one served or told to come back, none lost, the line empty after', async () => {
    const people = [];
    for (let i = 0; i < 16; i++) people.push(await addAccount(srv.app, school, { login: `shtorm${i}` }));
    const pages = await Promise.all(people.map(async () => {
      const b = new Browser(srv.url);
      return { b, page: await loginPage(b) };
    }));
    const results = await Promise.all(people.map(async (p, i) => {
      const { b, page } = pages[i]!;
      const form = formOf(page.html, /\/login$/);
      const res = await b.postForm(form.action, { ...form.fields, login: p.login, password: p.password });
      await res.text();
      return { status: res.status, retryAfter: res.headers.get('retry-after'), p };
    }));
    const served = results.filter((r) => r.status === 303 || r.status === 302);
    const busy = results.filter((r) => r.status === 503);
    expect(served.length + busy.length).toBe(people.length);
    expect(served.length).toBeGreaterThan(0);
    expect(busy.length).toBeGreaterThan(0);
    expect(busy.every((r) => Number(r.retryAfter) >= 1)).toBe(true);
    for (const r of served) expect(await auditCount(r.p.id)).toBe(1);
    for (const r of busy) expect(await auditCount(r.p.id)).toBe(0);
    expect(srv.app.passwords.hashing()).toMatchObject({ running: 0, held: 0 });
  });
});
