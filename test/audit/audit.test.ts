/** The audit writer against a real database (PGlite, or PostgreSQL when DATABASE_URL is set). */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { rawRows, type Db } from '../../src/db/index.js';
import { isSecretKey, listAudit, writeAudit } from '../../src/audit/audit.js';

let t: TestDb;
let db: Db;

beforeAll(async () => {
  t = await createTestDb();
  db = t.db;
});
afterAll(async () => {
  await t?.close();
});

const count = async () => (await rawRows<{ n: number }>(db, 'select count(*) as n from audit_log'))[0]!.n;

describe('audit', () => {
  it('writes an event and reads it back', async () => {
    const school = randomUUID();
    const user = randomUUID();
    await writeAudit(db, {
      action: 'login.failure',
      outcome: 'failure',
      actor: { type: 'anonymous' },
      schoolId: school,
      target: { type: 'user', id: user },
      clientId: 'journal-web',
      ip: '203.0.113.7',
      requestId: 'req-1',
      details: { login: 'ivanov', reason: 'wrong_password', list: [1, 'a'] },
    });
    await writeAudit(db, { action: 'keys.rotate', actor: { type: 'cli' }, details: { kids: ['k1', 'k2'] } });

    const [e] = await listAudit(db, { schoolId: school, limit: 10 });
    expect(e).toMatchObject({
      action: 'login.failure',
      outcome: 'failure',
      actor: { type: 'anonymous', id: null },
      schoolId: school,
      target: { type: 'user', id: user },
      clientId: 'journal-web',
      ip: '203.0.113.7',
      requestId: 'req-1',
      details: { login: 'ivanov', reason: 'wrong_password', list: [1, 'a'] },
    });
    expect(typeof e!.id).toBe('number');
    expect(e!.at).toBeInstanceOf(Date);
    expect(Math.abs(e!.at.getTime() - Date.now())).toBeLessThan(60_000);

    const [k] = await listAudit(db, { action: 'keys.rotate', limit: 10 });
    expect(k).toMatchObject({ outcome: 'success', actor: { type: 'cli', id: null }, schoolId: null, target: null, details: { kids: ['k1', 'k2'] } });
    expect(await listAudit(db, { targetId: user, limit: 10 })).toHaveLength(1);
  });

  it('lists newest first, limited, with paging by id', async () => {
    const school = randomUUID();
    for (let i = 0; i < 5; i++) await writeAudit(db, { action: 'page.test', actor: { type: 'system' }, schoolId: school, details: { i } });
    const first = await listAudit(db, { schoolId: school, limit: 3 });
    expect(first.map((e) => e.details.i)).toEqual([4, 3, 2]);
    const next = await listAudit(db, { schoolId: school, limit: 3, beforeId: first[2]!.id });
    expect(next.map((e) => e.details.i)).toEqual([1, 0]);
  });

  it('drops secret-looking fields from details, at any depth', async () => {
    const target = randomUUID();
    await writeAudit(db, {
      action: 'secret.test',
      actor: { type: 'system' },
      target: { type: 'user', id: target },
      details: {
        login: 'ivanov',
        password: 'p4ssw0rd',
        newPassword: 'x',
        password_hash: '$argon2id$…',
        client_secret: 's',
        clientsecret: 's',
        refreshToken: 't',
        id_token: 't',
        code: '123456',
        code_verifier: 'v',
        tokens: 3, // a count of revoked tokens, not a token
        nested: { ok: 1, secret: 's', deeper: [{ accessToken: 't', kept: true }] },
        skipped: undefined,
      },
    });
    const [e] = await listAudit(db, { targetId: target, limit: 1 });
    expect(e!.details).toEqual({ login: 'ivanov', tokens: 3, nested: { ok: 1, deeper: [{ kept: true }] } });
    const raw = JSON.stringify((await rawRows(db, 'select details from audit_log where target_id = ?', [target]))[0]);
    for (const s of ['p4ssw0rd', 'argon2', '123456']) expect(raw).not.toContain(s);
  });

  it('recognises secret key names by word', () => {
    for (const k of ['password', 'Password', 'pwd', 'apiSecret', 'x-auth-token', 'authorization', 'otp', 'authCode'])
      expect([k, isSecretKey(k)]).toEqual([k, true]);
    for (const k of ['login', 'tokens', 'reason', 'method', 'kids', 'grants', 'key', 'barcode'])
      expect([k, isSecretKey(k)]).toEqual([k, false]);
  });

  it('the database refuses to change or delete audit rows', async () => {
    await writeAudit(db, { action: 'immutable.test', actor: { type: 'system' } });
    await expect(db('audit_log').where({ action: 'immutable.test' }).update({ outcome: 'failure' })).rejects.toThrow(/append-only/);
    await expect(db('audit_log').where({ action: 'immutable.test' }).del()).rejects.toThrow(/append-only/);
    const [e] = await listAudit(db, { action: 'immutable.test', limit: 5 });
    expect(e!.outcome).toBe('success');
  });

  it('an audit record written in a rolled-back transaction leaves no row', async () => {
    const before = await count();
    await expect(
      db.transaction(async (trx) => {
        await writeAudit(trx, { action: 'rollback.test', actor: { type: 'cli' } });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await count()).toBe(before);
    expect(await listAudit(db, { action: 'rollback.test', limit: 5 })).toHaveLength(0);

    await db.transaction(async (trx) => {
      await writeAudit(trx, { action: 'commit.test', actor: { type: 'cli' } });
    });
    expect(await listAudit(db, { action: 'commit.test', limit: 5 })).toHaveLength(1);
  });
});
