import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { SignJWT, createLocalJWKSet, importJWK, jwtVerify, type JWK } from 'jose';
import Provider from 'oidc-provider';
import request from 'supertest';
import { createTestDb, onPostgres, type TestDb } from '../helpers/db.js';
import { rawRows } from '../../src/db/index.js';
import { ensureSigningKeys, listKeys, loadKeySet, removeRetiredKeys, rotateKeys } from '../../src/oidc/keys.js';

const kek = randomBytes(32);
const retainSeconds = 86_400;
const t0 = new Date(Math.floor(Date.now() / 1000) * 1000);
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const PRIVATE = ['d', 'p', 'q', 'dp', 'dq', 'qi'];
const publicOf = (k: JWK): JWK => Object.fromEntries(Object.entries(k).filter(([n]) => !PRIVATE.includes(n))) as JWK;
const firstOf = (keys: JWK[], alg: string) => keys.find((k) => k.alg === alg)!.kid;

let t: TestDb;
beforeAll(async () => { t = await createTestDb(); });
afterAll(async () => { await t.close(); });

describe(`signing keys (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let es1: string;
  let rs1: string;

  it('ensureSigningKeys creates one ES256 and one RS256 key once, even when called concurrently', async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => ensureSigningKeys(t.db, kek, { now: t0 })));
    expect(results.flat()).toHaveLength(2);
    const rows = await t.db('signing_keys').select('kid', 'alg').orderBy('alg');
    expect(rows.map((r) => r.alg)).toEqual(['ES256', 'RS256']);
    expect(await ensureSigningKeys(t.db, kek, { now: at(5) })).toEqual([]);
    [es1, rs1] = rows.map((r) => r.kid as string);
    const list = await listKeys(t.db, { retainSeconds, now: at(1) });
    expect(list.map((k) => [k.kid, k.state])).toEqual([[es1, 'active'], [rs1, 'active']]);
  });

  it('stores the private key only sealed', async () => {
    const { jwks } = await loadKeySet(t.db, kek, { retainSeconds, now: at(1) });
    expect(jwks.keys).toHaveLength(2);
    const rows = await rawRows<{ text: string }>(t.db, 'select s::text as text from signing_keys s');
    for (const k of jwks.keys) {
      expect(k.d).toBeTruthy();
      expect(k.use).toBe('sig');
      for (const r of rows) expect(r.text).not.toContain(k.d);
    }
    const pub = await t.db('signing_keys').select('public_jwk');
    for (const { public_jwk } of pub) expect(public_jwk).not.toHaveProperty('d');
  });

  it('fails clearly with a wrong key-encryption key', async () => {
    await expect(loadKeySet(t.db, randomBytes(32), { retainSeconds, now: at(1) }))
      .rejects.toThrow(/cannot be decrypted: wrong KEY_ENCRYPTION_KEY/);
  });

  it('signs and verifies JWTs with the loaded keys', async () => {
    const { jwks } = await loadKeySet(t.db, kek, { retainSeconds, now: at(1) });
    const verifySet = createLocalJWKSet({ keys: jwks.keys.map(publicOf) });
    for (const jwk of jwks.keys) {
      const jwt = await new SignJWT({ sub: 'u1' }).setProtectedHeader({ alg: jwk.alg!, kid: jwk.kid })
        .setIssuedAt().setExpirationTime('5m').sign(await importJWK(jwk, jwk.alg));
      const { payload, protectedHeader } = await jwtVerify(jwt, verifySet);
      expect(payload.sub).toBe('u1');
      expect(protectedHeader.kid).toBe(jwk.kid);
    }
  });

  it('oidc-provider accepts the set and publishes only public parts', async () => {
    const { jwks } = await loadKeySet(t.db, kek, { retainSeconds, now: at(1) });
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {}); // dev-only adapter notices
    const provider = new Provider('http://localhost:3000', { jwks });
    warn.mockRestore();
    const res = await request(provider.callback()).get('/jwks').expect(200);
    expect(res.body.keys.map((k: JWK) => k.kid)).toEqual(jwks.keys.map((k) => k.kid));
    for (const k of res.body.keys) for (const p of PRIVATE) expect(k).not.toHaveProperty(p);
  });

  it('rotation: published first, signs at activate_at, dropped after retention', async () => {
    const before = await loadKeySet(t.db, kek, { retainSeconds, now: at(10) });
    expect(before.nextChangeAt).toBeNull();

    const created = await rotateKeys(t.db, kek, { alg: 'ES256', activateInSeconds: 3600, now: at(10) });
    expect(created).toHaveLength(1);
    const es2 = created[0];
    const activate = at(3610);
    const removeAt = at(3610 + retainSeconds);

    // Published, but the signer is unchanged.
    const s1 = await loadKeySet(t.db, kek, { retainSeconds, now: at(11) });
    expect(s1.jwks.keys.map((k) => k.kid)).toEqual([es1, es2, rs1]);
    expect(firstOf(s1.jwks.keys, 'ES256')).toBe(es1);
    expect(s1.fingerprint).not.toBe(before.fingerprint);
    expect(s1.nextChangeAt).toEqual(activate);
    const l1 = await listKeys(t.db, { retainSeconds, now: at(11) });
    expect(l1.find((k) => k.kid === es1)).toMatchObject({ state: 'active', retireAt: activate, removeAfter: removeAt });
    expect(l1.find((k) => k.kid === es2)).toMatchObject({ state: 'next', activateAt: activate });
    // Nothing changes by time alone until the activation.
    expect((await loadKeySet(t.db, kek, { retainSeconds, now: at(3609) })).fingerprint).toBe(s1.fingerprint);

    // At activate_at the new key signs; the old one is retired but still published.
    const s2 = await loadKeySet(t.db, kek, { retainSeconds, now: activate });
    expect(s2.jwks.keys.map((k) => k.kid)).toEqual([es2, es1, rs1]);
    expect(s2.fingerprint).not.toBe(s1.fingerprint);
    expect(s2.nextChangeAt).toEqual(removeAt);
    const l2 = await listKeys(t.db, { retainSeconds, now: activate });
    expect(l2.map((k) => [k.kid, k.state])).toEqual([[es2, 'active'], [es1, 'retired'], [rs1, 'active']]);
    // A token signed by the old key just before the switch still verifies against the new set.
    const old = s1.jwks.keys[0];
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: es1 }).sign(await importJWK(old, 'ES256'));
    await expect(jwtVerify(jwt, createLocalJWKSet({ keys: s2.jwks.keys.map(publicOf) }))).resolves.toBeTruthy();

    // Housekeeping does nothing before the retention has passed.
    expect(await removeRetiredKeys(t.db, { retainSeconds, now: at(3610 + retainSeconds - 1) })).toEqual([]);

    // After retention the old key is no longer published.
    const s3 = await loadKeySet(t.db, kek, { retainSeconds, now: removeAt });
    expect(s3.jwks.keys.map((k) => k.kid)).toEqual([es2, rs1]);
    expect(s3.fingerprint).not.toBe(s2.fingerprint);
    expect(s3.nextChangeAt).toBeNull();
    expect((await listKeys(t.db, { retainSeconds, now: removeAt })).find((k) => k.kid === es1)!.state).toBe('removed');

    // Housekeeping marks it removed at the moment it left JWKS; the published set is unchanged.
    expect(await removeRetiredKeys(t.db, { retainSeconds, now: at(3610 + retainSeconds + 100) })).toEqual([es1]);
    expect(await removeRetiredKeys(t.db, { retainSeconds, now: at(3610 + retainSeconds + 100) })).toEqual([]);
    const l4 = await listKeys(t.db, { retainSeconds, now: at(3610 + retainSeconds + 100) });
    expect(l4.find((k) => k.kid === es1)).toMatchObject({ state: 'removed', removedAt: removeAt });
    expect((await loadKeySet(t.db, kek, { retainSeconds, now: removeAt })).fingerprint).toBe(s3.fingerprint);
  });

  it('rotating both algs at once; nextChangeAt is the earliest pending change', async () => {
    const base = 3610 + retainSeconds + 200;
    const [es3, rs2] = await rotateKeys(t.db, kek, { activateInSeconds: 60, now: at(base) });
    const s = await loadKeySet(t.db, kek, { retainSeconds: 30, now: at(base + 1) });
    expect(s.nextChangeAt).toEqual(at(base + 60));
    const after = await loadKeySet(t.db, kek, { retainSeconds: 30, now: at(base + 60) });
    expect(firstOf(after.jwks.keys, 'ES256')).toBe(es3);
    expect(firstOf(after.jwks.keys, 'RS256')).toBe(rs2);
    expect(after.nextChangeAt).toEqual(at(base + 90));
    expect(after.jwks.keys).toHaveLength(4);
  });

  it('rejects a negative activation delay', async () => {
    await expect(rotateKeys(t.db, kek, { activateInSeconds: -1 })).rejects.toThrow(/activateInSeconds/);
  });
});
