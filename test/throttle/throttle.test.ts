/** The shared throttle against a real database (PGlite, or PostgreSQL when DATABASE_URL is set). */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createTestDb, onPostgres, type TestDb } from '../helpers/db.js';
import type { Db } from '../../src/db/index.js';
import { createThrottle, loginKeys, type Policy, type Throttle } from '../../src/throttle/throttle.js';
import { addressPart } from '../../src/throttle/keys.js';

let t: TestDb;
let db: Db;
let throttle: Throttle;

// Long delays, so a slow test run never lets a wait run out by itself.
const policy: Policy = { free: 5, baseDelaySeconds: 100, maxDelaySeconds: 1000, forgetAfterSeconds: 3600 };
const key = () => `test:${randomUUID()}`;
const take = (k: string, p: Policy = policy) => throttle.take([{ key: k, policy: p }]);

/** Time passes for one key: its timestamps move into the past. */
async function travel(k: string, seconds: number) {
  await db('throttle')
    .where({ key: k })
    .update({
      last_at: db.raw('last_at - make_interval(secs => ?)', [seconds]),
      blocked_until: db.raw('blocked_until - make_interval(secs => ?)', [seconds]),
    });
}

async function takeN(k: string, n: number, p: Policy = policy) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await take(k, p));
  return out;
}

beforeAll(async () => {
  t = await createTestDb();
  db = t.db;
  throttle = createThrottle(db);
});
afterAll(async () => {
  await t?.close();
});

describe('throttle', () => {
  it('lets the free attempts pass, then refuses with waits that double up to the maximum', async () => {
    const k = key();
    expect((await takeN(k, 5)).every((r) => r.allowed)).toBe(true);

    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await take(k);
      if (r.allowed) throw new Error('expected a refusal');
      expect(r.key).toBe(k);
      waits.push(r.retryAfterSeconds);
      // Refused attempts cost nothing and do not extend the wait.
      const again = await take(k);
      expect(again).toMatchObject({ allowed: false });
      await travel(k, r.retryAfterSeconds);
      expect(await take(k)).toMatchObject({ allowed: true });
    }
    // 100, 200, 400, 800, then capped at 1000 (±1 s for the clock between statements).
    const expected = [100, 200, 400, 800, 1000, 1000];
    waits.forEach((w, i) => {
      expect(w).toBeLessThanOrEqual(expected[i]!);
      expect(w).toBeGreaterThanOrEqual(expected[i]! - 1);
    });
    expect((await throttle.peek(k, policy)).count).toBe(11);
  });

  it('is never permanent: after the longest wait the next attempt passes', async () => {
    const k = key();
    const p: Policy = { free: 0, baseDelaySeconds: 10, maxDelaySeconds: 25, forgetAfterSeconds: 3600 };
    for (let i = 0; i < 20; i++) {
      expect(await take(k, p)).toMatchObject({ allowed: true });
      const r = await take(k, p);
      expect(r.allowed).toBe(false);
      if (!r.allowed) expect(r.retryAfterSeconds).toBeLessThanOrEqual(25);
      await travel(k, 25);
    }
  });

  it('an attempt reports the wait it started (every one past the free ones), and only that', async () => {
    const k = key();
    const passed = await takeN(k, 4);
    expect(passed.every((r) => r.allowed && r.waits === undefined)).toBe(true);
    expect(await take(k)).toEqual({ allowed: true, waits: [{ key: k, seconds: 100, count: 5 }] });
    await travel(k, 100);
    expect(await take(k)).toEqual({ allowed: true, waits: [{ key: k, seconds: 200, count: 6 }] });
    // Of several keys, only those whose wait started; none when the take is refused.
    const other = key();
    const r = await throttle.take([{ key: other, policy }, { key: key(), policy: { ...policy, free: 0 } }]);
    expect(r.allowed && r.waits?.map((w) => w.count)).toEqual([1]);
    expect(await throttle.take([{ key: other, policy }, { key: k, policy }])).toMatchObject({ allowed: false, key: k });
  });

  it('marks the first refusal of each wait, once per key even in parallel (what callers audit)', async () => {
    const k = key();
    await takeN(k, 5); // the 5th starts a wait
    const refusals = await Promise.all(Array.from({ length: 20 }, () => take(k)));
    expect(refusals.every((r) => !r.allowed)).toBe(true);
    expect(refusals.filter((r) => !r.allowed && r.first)).toHaveLength(1);
    expect(await take(k)).toMatchObject({ allowed: false, key: k, first: false });
    // The next wait has its own first refusal.
    await travel(k, 100);
    expect(await take(k)).toMatchObject({ allowed: true });
    expect(await take(k)).toMatchObject({ allowed: false, first: true });
    expect(await take(k)).toMatchObject({ allowed: false, first: false });
    // A wait started inside the parallel takes themselves (refused under the row lock): still one.
    const p = key();
    const results = await Promise.all(Array.from({ length: 50 }, () => take(p)));
    expect(results.filter((r) => !r.allowed && r.first)).toHaveLength(1);
    // The marker is not a counter of the key.
    expect((await throttle.peek(p, policy)).count).toBe(5);
  });

  it('peek reports the count and the running wait', async () => {
    const k = key();
    expect(await throttle.peek(k, policy)).toEqual({ count: 0, blockedUntil: null });
    await takeN(k, 4);
    expect(await throttle.peek(k, policy)).toEqual({ count: 4, blockedUntil: null });
    await take(k);
    const s = await throttle.peek(k, policy);
    expect(s.count).toBe(5);
    expect(s.blockedUntil).toBeInstanceOf(Date);
    const ahead = (s.blockedUntil!.getTime() - Date.now()) / 1000;
    expect(ahead).toBeGreaterThan(90);
    expect(ahead).toBeLessThanOrEqual(101);
  });

  it('a success resets the key', async () => {
    const k = key();
    await takeN(k, 5);
    expect((await take(k)).allowed).toBe(false);
    await throttle.succeed(k);
    expect(await throttle.peek(k, policy)).toEqual({ count: 0, blockedUntil: null });
    expect((await takeN(k, 5)).every((r) => r.allowed)).toBe(true);
    expect((await take(k)).allowed).toBe(false);
  });

  it('refund gives one attempt back; with the policy the wait is recomputed', async () => {
    const k = key();
    await takeN(k, 5);
    await throttle.refund(k, policy); // 4 of 5 used: no wait any more
    expect(await throttle.peek(k, policy)).toEqual({ count: 4, blockedUntil: null });
    expect(await take(k)).toMatchObject({ allowed: true });
    expect((await take(k)).allowed).toBe(false);

    // Deep in the waits: the refund shortens the wait to the one of the lower count.
    await travel(k, 100);
    await take(k); // count 6: waits 200 from now
    await throttle.refund(k, policy); // count 5: waits 100 from the last attempt
    const r = await take(k);
    expect(r.allowed).toBe(false);
    if (!r.allowed) expect(r.retryAfterSeconds).toBeLessThanOrEqual(100);
  });

  it('refund without the policy lowers the count and clears the wait only at zero', async () => {
    const k = key();
    const p: Policy = { free: 0, baseDelaySeconds: 100, maxDelaySeconds: 1000, forgetAfterSeconds: 3600 };
    await take(k, p);
    await throttle.refund(k);
    expect(await throttle.peek(k, p)).toEqual({ count: 0, blockedUntil: null });
    expect(await take(k, p)).toMatchObject({ allowed: true });

    const k2 = key();
    await takeN(k2, 6); // the 6th is refused
    await throttle.refund(k2);
    const s = await throttle.peek(k2, policy);
    expect(s.count).toBe(4);
    expect(s.blockedUntil).not.toBeNull();
    await throttle.refund(key()); // unknown key: nothing to do
  });

  it('forgets a counter after forgetAfterSeconds without attempts', async () => {
    const k = key();
    await takeN(k, 5);
    expect((await take(k)).allowed).toBe(false);
    await travel(k, 3599);
    expect((await throttle.peek(k, policy)).count).toBe(5);
    await travel(k, 1);
    expect(await throttle.peek(k, policy)).toEqual({ count: 0, blockedUntil: null });
    expect(await take(k)).toMatchObject({ allowed: true });
    expect((await throttle.peek(k, policy)).count).toBe(1);
  });

  it('does not forget a counter while its wait is still running', async () => {
    const k = key();
    const p: Policy = { free: 0, baseDelaySeconds: 500, maxDelaySeconds: 500, forgetAfterSeconds: 100 };
    await take(k, p);
    await travel(k, 200); // idle beyond forgetAfter, but 300 s of the wait remain
    expect((await take(k, p)).allowed).toBe(false);
    await travel(k, 300);
    expect(await take(k, p)).toMatchObject({ allowed: true });
    expect((await throttle.peek(k, p)).count).toBe(1); // forgotten, counting afresh
  });

  it('unlock removes the counter', async () => {
    const k = key();
    await takeN(k, 6);
    expect(await throttle.unlock(k)).toBe(true);
    expect(await take(k)).toMatchObject({ allowed: true });
    expect(await throttle.unlock(key())).toBe(false);
  });

  it('several keys: all or nothing, and the longest wait is reported', async () => {
    const [a, b, c] = [key(), key(), key()];
    await takeN(a, 5);
    await takeN(c, 5);
    await travel(c, 50); // c waits ~50 more, a ~100
    const r = await throttle.take([
      { key: c, policy },
      { key: b, policy },
      { key: a, policy },
    ]);
    expect(r).toMatchObject({ allowed: false, key: a });
    expect(await throttle.peek(b, policy)).toEqual({ count: 0, blockedUntil: null });
    expect((await throttle.peek(a, policy)).count).toBe(5);
    expect((await throttle.peek(c, policy)).count).toBe(5);

    expect(await throttle.take([{ key: b, policy }, { key: key(), policy }])).toMatchObject({ allowed: true });
    expect((await throttle.peek(b, policy)).count).toBe(1);
    await expect(throttle.take([{ key: b, policy }, { key: b, policy }])).rejects.toThrow(/twice/);
    expect(await throttle.take([])).toMatchObject({ allowed: true });
  });

  it('rejects a broken policy', async () => {
    await expect(take(key(), { ...policy, free: 1.5 })).rejects.toThrow(RangeError);
    await expect(take(key(), { ...policy, baseDelaySeconds: 0 })).rejects.toThrow(RangeError);
  });

  it(`50 parallel attempts on one key with free=5: exactly 5 pass (${onPostgres ? 'PostgreSQL, pool of 10' : 'PGlite'})`, async () => {
    const k = key();
    const results = await Promise.all(Array.from({ length: 50 }, () => take(k)));
    expect(results.filter((r) => r.allowed)).toHaveLength(5);
    expect((await throttle.peek(k, policy)).count).toBe(5);
  });

  it('50 parallel multi-key attempts in mixed key order: no deadlock, the shared key holds', async () => {
    const shared = key();
    const addresses = [key(), key(), key()];
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const checks = [
          { key: shared, policy },
          { key: addresses[i % 3]!, policy: { ...policy, free: 100 } },
        ];
        return throttle.take(i % 2 ? checks : checks.reverse());
      }),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(5);
    expect((await throttle.peek(shared, policy)).count).toBe(5);
    // Refused takes reserved nothing on the address keys.
    let total = 0;
    for (const a of addresses) total += (await throttle.peek(a, policy)).count;
    expect(total).toBe(5);
  });

  if (onPostgres) {
    it('is truly concurrent on PostgreSQL: two nodes (separate pools) share the counters', async () => {
      const { createDb } = await import('../../src/db/index.js');
      const other = createDb({ databaseUrl: t.url!, poolMax: 10 });
      try {
        const k = key();
        const nodes = [throttle, createThrottle(other)];
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => nodes[i % 2]!.take([{ key: k, policy }])));
        expect(results.filter((r) => r.allowed)).toHaveLength(5);
      } finally {
        await other.destroy();
      }
    });
  }
});

describe('login keys', () => {
  const school = randomUUID();

  it('name the account by school and lower-cased login, known or not', () => {
    const k = loginKeys(school, '  Ivanov.PETR ', '203.0.113.7');
    expect(k).toEqual({
      account: `login:acct:${school}:ivanov.petr`,
      addressLogin: `login:ipacct:203.0.113.7:${school}:ivanov.petr`,
      address: 'login:ip:203.0.113.7',
    });
    expect(loginKeys(school, 'ИВАНОВ', '203.0.113.7').account).toBe(loginKeys(school, 'иванов', '10.0.0.1').account);
    expect(loginKeys(null, 'admin', '10.0.0.1').account).toBe('login:acct::admin');
    expect(loginKeys(school, 'x'.repeat(5000), '10.0.0.1').account.length).toBeLessThan(150);
  });

  it('count an IPv6 client by its /64, and IPv4-mapped addresses as IPv4', () => {
    expect(addressPart('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressPart('2001:DB8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressPart('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressPart('::1')).toBe('0:0:0:0::/64');
    expect(addressPart('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressPart('64:ff9b::192.0.2.33')).toBe('64:ff9b:0:0::/64');
    expect(addressPart('::ffff:198.51.100.4')).toBe('198.51.100.4');
    expect(addressPart('198.51.100.4')).toBe('198.51.100.4');
    expect(addressPart('')).toBe('unknown');
  });
});
