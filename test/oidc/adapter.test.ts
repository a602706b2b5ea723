/** The oidc-provider adapter against a real database (PGlite, or PostgreSQL when DATABASE_URL is set). */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { Adapter } from 'oidc-provider';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { rawRows, type Db } from '../../src/db/index.js';
import { createLogger } from '../../src/server/logger.js';
import { createAdapterFactory } from '../../src/oidc/adapter.js';
import * as q from '../../src/oidc/adapter-queries.js';
import { purgeOnce, startPurge } from '../../src/oidc/purge.js';
import { findAccountById, insertAccount, type Account } from '../../src/accounts/queries.js';
import { ReadAhead } from '../../src/oidc/read-ahead.js';

let t: TestDb;
let db: Db;
let logs: Array<Record<string, unknown>>;
let adapters: (name: string) => Adapter;

const id = () => randomUUID();
const nowSec = () => Date.now() / 1000;

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('debug', {}, (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  return { lines, logger };
}

async function row(model: string, rowId: string) {
  const rows = await rawRows<Record<string, unknown>>(
    db,
    `select grant_id, user_code, uid, account_id, consumed_at,
            extract(epoch from expires_at - now())::float8 as expires_in
       from oidc_models where model = ? and id = ?`,
    [model, rowId],
  );
  return rows[0];
}

async function expire(model: string, rowId: string, secondsAgo = 10) {
  await db('oidc_models')
    .where({ model, id: rowId })
    .update({ expires_at: db.raw('now() - make_interval(secs => ?)', [secondsAgo]) });
}

async function backdateConsumed(model: string, rowId: string, secondsAgo: number) {
  await db('oidc_models')
    .where({ model, id: rowId })
    .update({ consumed_at: db.raw('now() - make_interval(secs => ?)', [secondsAgo]) });
}

async function count(where: Record<string, unknown>): Promise<number> {
  const r = await db('oidc_models').where(where).count<{ n: number }[]>({ n: '*' }).first();
  return Number(r?.n ?? 0);
}

beforeAll(async () => {
  t = await createTestDb();
  db = t.db;
  const c = capture();
  logs = c.lines;
  adapters = createAdapterFactory(db, { refreshReuseGraceSeconds: 3, logger: c.logger });
});

afterAll(async () => {
  await t?.close();
});

describe('createAdapterFactory', () => {
  it('caches one adapter per model name', () => {
    expect(adapters('Session')).toBe(adapters('Session'));
    expect(adapters('Session')).not.toBe(adapters('Grant'));
  });

  it('refuses the Client model', () => {
    expect(() => adapters('Client')).toThrow(/Client/);
  });

  it('refuses a grace window above 5 seconds', () => {
    expect(() => createAdapterFactory(db, { refreshReuseGraceSeconds: 10 })).toThrow(RangeError);
    expect(() => createAdapterFactory(db, { refreshReuseGraceSeconds: -1 })).toThrow(RangeError);
  });
});

describe('Session', () => {
  it('stores the payload, denormalises uid and accountId, and finds by id and uid', async () => {
    const s = adapters('Session');
    const jti = id();
    const uid = id();
    const payload = { jti, uid, accountId: 'acc-s1', kind: 'Session', exp: Math.floor(nowSec()) + 3600, nested: { a: [1, 2] } };
    await s.upsert(jti, payload, 3600);

    expect(await s.find(jti)).toEqual(payload);
    expect(await s.findByUid(uid)).toEqual(payload);
    const r = await row('Session', jti);
    expect(r).toMatchObject({ uid, account_id: 'acc-s1', grant_id: null, user_code: null, consumed_at: null });
    expect(r.expires_in as number).toBeGreaterThan(3590);
    expect(r.expires_in as number).toBeLessThanOrEqual(3600);
  });

  it('returns undefined for a missing row, never throws', async () => {
    const s = adapters('Session');
    await expect(s.find(id())).resolves.toBeUndefined();
    await expect(s.findByUid(id())).resolves.toBeUndefined();
    await expect(s.findByUserCode(id())).resolves.toBeUndefined();
  });

  it('follows a jti rotation: destroy(old) then upsert(new) with the same uid', async () => {
    const s = adapters('Session');
    const uid = id();
    const [oldJti, newJti] = [id(), id()];
    await s.upsert(oldJti, { jti: oldJti, uid, accountId: 'acc-rot' }, 600);
    await s.destroy(oldJti);
    await s.upsert(newJti, { jti: newJti, uid, accountId: 'acc-rot', loginTs: 1 }, 600);
    expect(await s.find(oldJti)).toBeUndefined();
    expect(await s.findByUid(uid)).toMatchObject({ jti: newJti, loginTs: 1 });
  });

  it('upsert replaces payload and lookup columns', async () => {
    const s = adapters('Session');
    const jti = id();
    await s.upsert(jti, { uid: 'u-before', accountId: 'a1' }, 60);
    await s.upsert(jti, { uid: 'u-after' }, 7200);
    expect(await s.find(jti)).toEqual({ uid: 'u-after' });
    const r = await row('Session', jti);
    expect(r).toMatchObject({ uid: 'u-after', account_id: null });
    expect(r.expires_in as number).toBeGreaterThan(7000);
  });

  it('duplicate uid: returns undefined and deletes every duplicate', async () => {
    const uid = id();
    await q.upsert(db, 'Session', 'dup-1-' + uid, { uid }, 600);
    await q.upsert(db, 'Session', 'dup-2-' + uid, { uid }, 600);
    expect(await adapters('Session').findByUid(uid)).toBeUndefined();
    expect(await count({ model: 'Session', uid })).toBe(0);
  });

  it('an expired duplicate does not make a live uid ambiguous', async () => {
    const uid = id();
    await q.upsert(db, 'Session', 'old-' + uid, { uid, v: 'old' }, 1);
    await expire('Session', 'old-' + uid);
    await q.upsert(db, 'Session', 'new-' + uid, { uid, v: 'new' }, 600);
    expect(await adapters('Session').findByUid(uid)).toEqual({ uid, v: 'new' });
  });
});

describe('DeviceCode', () => {
  it('finds by userCode, and reports consumption there too', async () => {
    const d = adapters('DeviceCode');
    const jti = id();
    const userCode = 'ABCD-' + jti.slice(0, 4);
    await d.upsert(jti, { jti, userCode, clientId: 'c1', grantId: 'g-dc' }, 600);
    expect(await d.findByUserCode(userCode)).toEqual({ jti, userCode, clientId: 'c1', grantId: 'g-dc' });
    await d.consume(jti);
    expect((await d.findByUserCode(userCode))?.consumed).toEqual(expect.any(Number));
    expect((await d.find(jti))?.consumed).toEqual(expect.any(Number));
  });

  it('duplicate userCode: returns undefined and deletes both', async () => {
    const userCode = 'DUP-' + id();
    await q.upsert(db, 'DeviceCode', id(), { userCode }, 600);
    await q.upsert(db, 'DeviceCode', id(), { userCode }, 600);
    expect(await adapters('DeviceCode').findByUserCode(userCode)).toBeUndefined();
    expect(await count({ model: 'DeviceCode', user_code: userCode })).toBe(0);
  });
});

describe('Grant', () => {
  it('has no expiry when expiresIn is undefined', async () => {
    const g = adapters('Grant');
    const jti = id();
    await g.upsert(jti, { jti, accountId: 'acc-g', clientId: 'c1' });
    expect(await g.find(jti)).toEqual({ jti, accountId: 'acc-g', clientId: 'c1' });
    const r = await row('Grant', jti);
    expect(r.expires_in).toBeNull();
  });
});

describe('AuthorizationCode', () => {
  it('consume marks it consumed with epoch seconds', async () => {
    const c = adapters('AuthorizationCode');
    const jti = id();
    await c.upsert(jti, { jti, grantId: 'g-ac', accountId: 'acc-ac' }, 60);
    expect(await c.find(jti)).not.toHaveProperty('consumed');
    await c.consume(jti);
    const found = await c.find(jti);
    expect(Number.isInteger(found?.consumed)).toBe(true);
    expect(Math.abs((found?.consumed as number) - nowSec())).toBeLessThan(60);
  });

  it('upsert keeps consumed_at', async () => {
    const c = adapters('AuthorizationCode');
    const jti = id();
    await c.upsert(jti, { jti, v: 1 }, 60);
    await c.consume(jti);
    await c.upsert(jti, { jti, v: 2 }, 60);
    expect(await c.find(jti)).toMatchObject({ jti, v: 2, consumed: expect.any(Number) });
  });

  it('a second consume keeps the first time', async () => {
    const c = adapters('AuthorizationCode');
    const jti = id();
    await c.upsert(jti, { jti }, 60);
    await c.consume(jti);
    await backdateConsumed('AuthorizationCode', jti, 100);
    const first = (await c.find(jti))?.consumed as number;
    // A code is redeemed once: the second consumption is refused (parallel redemptions), and the time stands.
    await expect(c.consume(jti)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await c.find(jti))?.consumed).toBe(first);
    expect(nowSec() - first).toBeGreaterThan(90);
  });

  it('the consumed column is the only source of truth, not a `consumed` key in the payload', async () => {
    const c = adapters('AuthorizationCode');
    const jti = id();
    await c.upsert(jti, { jti, consumed: true } as never, 60);
    expect(await c.find(jti)).toEqual({ jti });
  });
});

describe('RefreshToken grace window', () => {
  it('reused immediately with grace 3: not consumed; a find alone (introspection) logs nothing, a second consumption logs the fork', async () => {
    const r = adapters('RefreshToken');
    const jti = id();
    await r.upsert(jti, { jti, grantId: 'g-grace', accountId: 'acc-rt' }, 3600);
    await r.consume(jti);
    const before = logs.length;
    expect(await r.find(jti)).toEqual({ jti, grantId: 'g-grace', accountId: 'acc-rt' });
    expect(logs.slice(before)).toEqual([]);
    await r.consume(jti);
    const warned = logs.slice(before);
    expect(warned).toEqual([expect.objectContaining({ level: 'warn', msg: 'refresh token reused inside grace window', grantId: 'g-grace' })]);
  });

  it('consumed once the grace window has passed', async () => {
    const r = adapters('RefreshToken');
    const jti = id();
    await r.upsert(jti, { jti, grantId: 'g-late' }, 3600);
    await r.consume(jti);
    await backdateConsumed('RefreshToken', jti, 3.5);
    expect((await r.find(jti))?.consumed).toEqual(expect.any(Number));
  });

  it('consumed immediately with grace 0', async () => {
    const strict = createAdapterFactory(db, { refreshReuseGraceSeconds: 0 })('RefreshToken');
    const jti = id();
    await strict.upsert(jti, { jti, grantId: 'g-strict' }, 3600);
    await strict.consume(jti);
    expect((await strict.find(jti))?.consumed).toEqual(expect.any(Number));
  });

  it('applies to RefreshToken only', async () => {
    const a = adapters('AuthorizationCode');
    const jti = id();
    await a.upsert(jti, { jti }, 60);
    await a.consume(jti);
    expect((await a.find(jti))?.consumed).toEqual(expect.any(Number));
  });
});

describe('round trips of a token request (issue 8)', () => {
  /** Statements sent to the database while `fn` runs. */
  async function statements<T>(fn: () => Promise<T>): Promise<{ result: T; sql: string[] }> {
    const sql: string[] = [];
    const listener = (e: { sql: string }) => sql.push(e.sql);
    db.on('query', listener);
    try {
      return { result: await fn(), sql };
    } finally {
      db.off('query', listener);
    }
  }

  it("a token's grant comes in the same statement, handed out once", async () => {
    const g = adapters('Grant');
    const at = adapters('AccessToken');
    const grantId = id();
    const jti = id();
    await g.upsert(grantId, { jti: grantId, accountId: 'acc-ra', clientId: 'c1' }, 3600);
    await at.upsert(jti, { jti, grantId, accountId: 'acc-ra' }, 600);
    const found = await statements(async () => [await at.find(jti), await g.find(grantId)]);
    expect(found.result).toEqual([{ jti, grantId, accountId: 'acc-ra' }, { jti: grantId, accountId: 'acc-ra', clientId: 'c1' }]);
    expect(found.sql).toHaveLength(1);
    // Handed out once: the next find reads the database again.
    const again = await statements(() => g.find(grantId));
    expect(again.result).toEqual({ jti: grantId, accountId: 'acc-ra', clientId: 'c1' });
    expect(again.sql).toHaveLength(1);
  });

  it("a token's account comes in the same statement too, for the provider's findAccount", async () => {
    const accounts = new ReadAhead<Account>();
    const at = createAdapterFactory(db, { refreshReuseGraceSeconds: 3, accounts })('AccessToken');
    const person = await insertAccount(db, { school_id: null, login: `ra${Date.now()}`, password_hash: 'x', kind: 'platform', birth_date: '2011-03-09' });
    const jti = id();
    await at.upsert(jti, { jti, accountId: person.id }, 600);
    const found = await statements(() => at.find(jti));
    expect(found.sql).toHaveLength(1);
    expect(accounts.take(person.id)).toEqual(await findAccountById(db, person.id));
    expect(accounts.take(person.id)).toBeUndefined(); // once
    // An account id that is no UUID (a client's, for client_credentials) is not looked up, nor an error.
    const cc = id();
    await at.upsert(cc, { jti: cc, accountId: 'not-a-uuid' }, 600);
    expect(await at.find(cc)).toEqual({ jti: cc, accountId: 'not-a-uuid' });
  });

  it('a grant destroyed or revoked after its token was read is not handed out', async () => {
    const g = adapters('Grant');
    const at = adapters('AccessToken');
    for (const end of ['destroy', 'revoke'] as const) {
      const grantId = id();
      const jti = id();
      await g.upsert(grantId, { jti: grantId }, 3600);
      await at.upsert(jti, { jti, grantId }, 600);
      await at.find(jti);
      if (end === 'destroy') await g.destroy(grantId);
      else await at.revokeByGrantId(grantId);
      if (end === 'revoke') await db('oidc_models').where({ model: 'Grant', id: grantId }).del();
      expect(await g.find(grantId)).toBeUndefined();
    }
  });

  it('an expired grant does not come with its token', async () => {
    const g = adapters('Grant');
    const at = adapters('AccessToken');
    const grantId = id();
    const jti = id();
    await g.upsert(grantId, { jti: grantId }, 3600);
    await at.upsert(jti, { jti, grantId }, 600);
    await expire('Grant', grantId);
    await at.find(jti);
    expect(await g.find(grantId)).toBeUndefined();
  });

  it('a rotation consumes the old refresh token and stores its successor in one statement', async () => {
    const r = adapters('RefreshToken');
    const grantId = id();
    const [old, next] = [id(), id()];
    await r.upsert(old, { jti: old, grantId }, 3600);
    await r.find(old);
    const rotated = await statements(async () => {
      await r.consume(old);
      await r.upsert(next, { jti: next, grantId }, 3600);
    });
    expect(rotated.sql).toHaveLength(1);
    expect(rotated.sql[0]).toMatch(/^with consumed as \(update oidc_models set consumed_at/);
    expect((await row('RefreshToken', old))?.consumed_at).not.toBeNull();
    expect(await row('RefreshToken', next)).toMatchObject({ grant_id: grantId, consumed_at: null });
  });

  it('a consumption with no successor still lands, before the next turn of the event loop', async () => {
    const r = adapters('RefreshToken');
    const jti = id();
    const grantId = id();
    await r.upsert(jti, { jti, grantId }, 3600);
    await r.find(jti);
    await r.consume(jti);
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 50 && (await row('RefreshToken', jti))?.consumed_at == null; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await row('RefreshToken', jti))?.consumed_at).not.toBeNull();
  });

  it('a successor under another grant does not take the consumption', async () => {
    const r = adapters('RefreshToken');
    const [old, other] = [id(), id()];
    const grantId = id();
    await r.upsert(old, { jti: old, grantId }, 3600);
    await r.find(old);
    await r.consume(old);
    await r.upsert(other, { jti: other, grantId: id() }, 3600);
    for (let i = 0; i < 50 && (await row('RefreshToken', old))?.consumed_at == null; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await row('RefreshToken', old))?.consumed_at).not.toBeNull();
  });
});

describe('device rows of app sign-ins', () => {
  it('go with their grant, whatever deletes it: destroy, revocation, the expiry purge', async () => {
    const account = await insertAccount(db, { school_id: null, login: `dev${Date.now()}`, password_hash: 'x', kind: 'platform' });
    const g = adapters('Grant');
    const ends: Record<string, (grantId: string) => Promise<unknown>> = {
      destroy: (grantId) => g.destroy(grantId),
      revokeGrant: (grantId) => q.revokeGrant(db, grantId),
      purge: async (grantId) => {
        await expire('Grant', grantId, 2 * 24 * 3600);
        await purgeOnce(db);
      },
    };
    for (const [how, end] of Object.entries(ends)) {
      const grantId = id();
      await g.upsert(grantId, { jti: grantId, accountId: account.id }, 3600);
      await db('grant_devices').insert({ grant_id: grantId, account_id: account.id, device: 'Firefox, Linux' });
      await end(grantId);
      expect([how, await db('grant_devices').where({ grant_id: grantId }).first()]).toEqual([how, undefined]);
    }
  });

  it('cannot name a grant that does not exist', async () => {
    const account = await insertAccount(db, { school_id: null, login: `dev2${Date.now()}`, password_hash: 'x', kind: 'platform' });
    await expect(db('grant_devices').insert({ grant_id: id(), account_id: account.id, device: 'Safari, iOS' })).rejects.toThrow(/grant_devices_grant_fk/);
  });
});

describe('revokeByGrantId', () => {
  it("deletes only this model's rows of that grant", async () => {
    const grant = 'g-' + id();
    const other = 'g-' + id();
    const rt = adapters('RefreshToken');
    const at = adapters('AccessToken');
    const rts = [id(), id(), id()];
    for (const j of rts) await rt.upsert(j, { jti: j, grantId: grant }, 600);
    const keepRt = id();
    await rt.upsert(keepRt, { jti: keepRt, grantId: other }, 600);
    const keepAt = id();
    await at.upsert(keepAt, { jti: keepAt, grantId: grant }, 600);

    await rt.revokeByGrantId(grant);
    for (const j of rts) expect(await rt.find(j)).toBeUndefined();
    expect(await rt.find(keepRt)).toBeDefined();
    expect(await at.find(keepAt)).toBeDefined();
  });

  it('deletes more than one batch', async () => {
    const grant = 'g-big-' + id();
    const rows = Array.from({ length: 1201 }, (_, i) => ({
      model: 'AccessToken',
      id: `${grant}-${i}`,
      payload: JSON.stringify({ grantId: grant }),
      grant_id: grant,
    }));
    await db.batchInsert('oidc_models', rows, 400);
    expect(await q.revokeByGrantId(db, 'AccessToken', grant)).toBe(1201);
    expect(await count({ model: 'AccessToken', grant_id: grant })).toBe(0);
  });
});

describe('expiry on read', () => {
  it('find, findByUid and findByUserCode ignore expired rows', async () => {
    const jti = id();
    const uid = id();
    const userCode = 'EXP-' + jti;
    await adapters('Session').upsert(jti, { uid, accountId: 'acc-exp' }, 1);
    await adapters('DeviceCode').upsert(jti, { userCode }, 1);
    await expire('Session', jti);
    await expire('DeviceCode', jti);
    expect(await adapters('Session').find(jti)).toBeUndefined();
    expect(await adapters('Session').findByUid(uid)).toBeUndefined();
    expect(await adapters('DeviceCode').findByUserCode(userCode)).toBeUndefined();
    expect(await q.findByAccountId(db, 'Session', 'acc-exp')).toEqual([]);
    expect(await count({ model: 'Session', id: jti })).toBe(1); // left for the purge
  });
});

describe('account queries', () => {
  it('findByAccountId returns that model only', async () => {
    const acc = 'acc-' + id();
    await q.upsert(db, 'Session', 's-' + acc, { accountId: acc, uid: 'u-' + acc }, 600);
    await q.upsert(db, 'Grant', 'g-' + acc, { accountId: acc });
    expect(await q.findByAccountId(db, 'Session', acc)).toEqual([
      { id: 's-' + acc, payload: { accountId: acc, uid: 'u-' + acc } },
    ]);
  });

  it('destroyByAccountId deletes every model of that account and returns the rows', async () => {
    const acc = 'acc-' + id();
    const otherAcc = 'acc-' + id();
    await q.upsert(db, 'Session', 's-' + acc, { accountId: acc, uid: 'u1' }, 600);
    await q.upsert(db, 'Grant', 'g-' + acc, { accountId: acc });
    await q.upsert(db, 'AccessToken', 'at-' + acc, { accountId: acc, grantId: 'g-' + acc }, 600);
    await q.upsert(db, 'Session', 's-' + otherAcc, { accountId: otherAcc }, 600);

    const deleted = await q.destroyByAccountId(db, acc);
    expect(deleted.sort((a, b) => a.model.localeCompare(b.model))).toEqual([
      { model: 'AccessToken', id: 'at-' + acc, payload: { accountId: acc, grantId: 'g-' + acc } },
      { model: 'Grant', id: 'g-' + acc, payload: { accountId: acc } },
      { model: 'Session', id: 's-' + acc, payload: { accountId: acc, uid: 'u1' } },
    ]);
    expect(await count({ account_id: acc })).toBe(0);
    expect(await count({ account_id: otherAcc })).toBe(1);
  });
});

describe('purge', () => {
  it('purgeExpired deletes rows expired longer ago than asked', async () => {
    const tag = id();
    await q.upsert(db, 'AccessToken', 'old-' + tag, {}, 1);
    await q.upsert(db, 'AccessToken', 'recent-' + tag, {}, 1);
    await q.upsert(db, 'Grant', 'forever-' + tag, {});
    await q.upsert(db, 'AccessToken', 'live-' + tag, {}, 600);
    await expire('AccessToken', 'old-' + tag, 2 * 86400);
    await expire('AccessToken', 'recent-' + tag, 3600);

    expect(await q.purgeExpired(db, 86400)).toBeGreaterThanOrEqual(1);
    expect(await count({ id: 'old-' + tag })).toBe(0);
    expect(await count({ id: 'recent-' + tag })).toBe(1);
    await q.purgeExpired(db, 0);
    expect(await count({ id: 'recent-' + tag })).toBe(0);
    expect(await count({ id: 'forever-' + tag })).toBe(1);
    expect(await count({ id: 'live-' + tag })).toBe(1);
  });

  it('purgeOnce also clears stale, unblocked throttle rows', async () => {
    const ago = (s: number) => db.raw('now() - make_interval(secs => ?)', [s]);
    const ahead = (s: number) => db.raw('now() + make_interval(secs => ?)', [s]);
    await db('throttle').insert([
      { key: 'stale', count: 3, last_at: ago(2 * 86400), blocked_until: null },
      { key: 'stale-unblocked', count: 9, last_at: ago(2 * 86400), blocked_until: ago(86400) },
      { key: 'stale-still-blocked', count: 9, last_at: ago(2 * 86400), blocked_until: ahead(3600) },
      { key: 'recent', count: 1, last_at: ago(60), blocked_until: null },
    ]);
    const res = await purgeOnce(db);
    expect(res.throttle).toBe(2);
    const left = (await db('throttle').select('key').orderBy('key')).map((r: { key: string }) => r.key);
    expect(left).toEqual(['recent', 'stale-still-blocked']);
  });

  it('startPurge runs on its timer and stops', async () => {
    const tag = id();
    await q.upsert(db, 'AccessToken', 'timer-' + tag, {}, 1);
    await expire('AccessToken', 'timer-' + tag, 2 * 86400);
    const { logger, lines } = capture();
    const p = startPurge(db, { intervalSeconds: 0.05, logger });
    try {
      // The log line follows the whole round (row deleted first): wait for both.
      const purged = () => lines.some((l) => l.msg === 'purged expired rows');
      for (let i = 0; i < 250 && ((await count({ id: 'timer-' + tag })) > 0 || !purged()); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(await count({ id: 'timer-' + tag })).toBe(0);
      expect(lines.some((l) => l.msg === 'purged expired rows')).toBe(true);
    } finally {
      p.stop();
    }
  });

  it('startPurge logs failures instead of throwing', async () => {
    const bare = await createTestDb({ migrate: false });
    const { logger, lines } = capture();
    const p = startPurge(bare.db, { intervalSeconds: 0.05, logger });
    try {
      // Generous bound: an in-memory PGlite boots lazily on its first query.
      for (let i = 0; i < 500 && !lines.some((l) => l.level === 'error'); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(lines.find((l) => l.level === 'error')).toMatchObject({ msg: 'purge failed', err: expect.any(Object) });
    } finally {
      p.stop();
      await new Promise((r) => setTimeout(r, 100)); // let a run in flight finish before closing
      await bare.close();
    }
  });
});
