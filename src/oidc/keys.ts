/**
 * Signing keys of the provider. Which key signs is derived from time alone, so every node
 * switches at the same moment without talking to the others:
 * - a key is published in JWKS from creation (RPs can fetch it before it is used);
 * - for each alg the signer is the newest key (by activate_at) whose activate_at has passed;
 * - an older key is retired when its successor activates and stays published for
 *   `retainSeconds` more (the longest life of anything it signed), then drops out.
 * Private JWKs are stored only sealed under the key-encryption key.
 */
import { createHash, generateKeyPair as generateKeyPairCb, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Db, Queryable } from '../db/index.js';
import { open, seal } from '../crypto/sealed.js';

export const SIGNING_ALGS = ['ES256', 'RS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];
export type KeyState = 'next' | 'active' | 'retired' | 'removed';

export interface KeyInfo {
  kid: string;
  alg: string;
  state: KeyState;
  createdAt: Date;
  activateAt: Date;
  /** When it stops (or stopped) signing: its successor's activation. */
  retireAt?: Date;
  /** When it leaves (or left) JWKS: retireAt + retainSeconds. */
  removeAfter?: Date;
  /** Set once the row is marked removed (housekeeping or by hand). */
  removedAt?: Date;
}

export interface KeySet {
  /** Private JWKs; per alg the signer first, then next keys, then retired ones. */
  jwks: { keys: JWK[] };
  /** Changes whenever the published set or a signer changes. */
  fingerprint: string;
  /** The next moment a state changes by time alone (activation or removal). */
  nextChangeAt: Date | null;
}

interface KeyRow {
  kid: string;
  alg: string;
  public_jwk: JWK;
  private_jwk_enc: string;
  created_at: Date;
  activate_at: Date;
  removed_at: Date | null;
}

// Arbitrary constant: serialises first-start key creation across nodes.
const ENSURE_LOCK = 7_402_117_001;

const generateKeyPair = promisify(generateKeyPairCb) as unknown as (
  type: string,
  options: object,
) => Promise<{ publicKey: KeyObject; privateKey: KeyObject }>;

async function newKeyRow(kek: Buffer, alg: SigningAlg, activateAt: Date): Promise<Omit<KeyRow, 'created_at' | 'removed_at'>> {
  const { publicKey, privateKey } = alg === 'ES256'
    ? await generateKeyPair('ec', { namedCurve: 'P-256' })
    : await generateKeyPair('rsa', { modulusLength: 2048 });
  const pub = publicKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(pub, 'sha256');
  const priv = { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' };
  return {
    kid,
    alg,
    public_jwk: { ...pub, kid, alg, use: 'sig' },
    private_jwk_enc: seal(kek, JSON.stringify(priv), `signing_key:${kid}`),
    activate_at: activateAt,
  };
}

async function readRows(db: Queryable): Promise<KeyRow[]> {
  const rows = await db<KeyRow>('signing_keys').select('*');
  return rows.map((r) => ({
    ...r,
    public_jwk: typeof r.public_jwk === 'string' ? JSON.parse(r.public_jwk) : r.public_jwk,
    created_at: new Date(r.created_at),
    activate_at: new Date(r.activate_at),
    removed_at: r.removed_at ? new Date(r.removed_at) : null,
  }));
}

interface Classified extends KeyInfo {
  row: KeyRow;
}

/** States at `now`. Rows removed by hand or housekeeping leave the succession chain. */
function classify(rows: KeyRow[], retainSeconds: number, now: Date): Classified[] {
  const t = now.getTime();
  const out: Classified[] = [];
  const live = rows.filter((r) => !(r.removed_at && r.removed_at.getTime() <= t));
  for (const r of rows) {
    if (live.includes(r)) continue;
    out.push({ ...info(r, 'removed'), removedAt: r.removed_at! });
  }
  const byAlg = new Map<string, KeyRow[]>();
  for (const r of live) byAlg.set(r.alg, [...(byAlg.get(r.alg) ?? []), r]);
  for (const chain of byAlg.values()) {
    chain.sort((a, b) => a.activate_at.getTime() - b.activate_at.getTime()
      || a.created_at.getTime() - b.created_at.getTime() || a.kid.localeCompare(b.kid));
    chain.forEach((r, i) => {
      const retireAt = chain[i + 1]?.activate_at;
      const removeAfter = retireAt && new Date(retireAt.getTime() + retainSeconds * 1000);
      let state: KeyState;
      if (r.activate_at.getTime() > t) state = 'next';
      else if (!retireAt || retireAt.getTime() > t) state = 'active';
      else if (removeAfter!.getTime() > t) state = 'retired';
      else state = 'removed';
      out.push({
        ...info(r, state),
        ...(retireAt && { retireAt, removeAfter }),
        ...(r.removed_at && { removedAt: r.removed_at }),
      });
    });
  }
  return out;
}

function info(row: KeyRow, state: KeyState): Classified {
  return { kid: row.kid, alg: row.alg, state, createdAt: row.created_at, activateAt: row.activate_at, row };
}

const STATE_ORDER: Record<KeyState, number> = { active: 0, next: 1, retired: 2, removed: 3 };

/** Published keys in JWKS order: algs in a fixed order; per alg active, next (soonest first), retired (newest first). */
function published(keys: Classified[]): Classified[] {
  const algRank = (alg: string) => {
    const i = (SIGNING_ALGS as readonly string[]).indexOf(alg);
    return i < 0 ? SIGNING_ALGS.length : i;
  };
  return keys
    .filter((k) => k.state !== 'removed')
    .sort((a, b) => algRank(a.alg) - algRank(b.alg) || a.alg.localeCompare(b.alg)
      || STATE_ORDER[a.state] - STATE_ORDER[b.state]
      || (a.state === 'retired' ? -1 : 1) * (a.activateAt.getTime() - b.activateAt.getTime())
      || a.kid.localeCompare(b.kid));
}

function nextChange(keys: Classified[], now: Date): Date | null {
  const t = now.getTime();
  const times = keys.flatMap((k) => [k.activateAt, k.removeAfter, k.removedAt])
    .filter((d): d is Date => d !== undefined && d.getTime() > t)
    .map((d) => d.getTime());
  return times.length ? new Date(Math.min(...times)) : null;
}

/** Whether some key of `alg` signs at `now` (a key only scheduled does not count). */
function hasSigner(keys: Classified[], alg: string): boolean {
  return keys.some((k) => k.alg === alg && k.state === 'active');
}

/**
 * At first start: one ES256 and one RS256 key, active at once, for each alg that has no
 * signer. Nodes starting together serialise on an advisory lock and re-check under it.
 */
export async function ensureSigningKeys(db: Db, kek: Buffer, { now = new Date() }: { now?: Date } = {}): Promise<string[]> {
  const missing = (rows: KeyRow[]) => {
    const keys = classify(rows, 0, now);
    return SIGNING_ALGS.filter((alg) => !hasSigner(keys, alg));
  };
  if (missing(await readRows(db)).length === 0) return [];
  // PGlite has one connection: inside the transaction use only trx.
  return db.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(?)', [ENSURE_LOCK]);
    const created: string[] = [];
    for (const alg of missing(await readRows(trx))) {
      const row = await newKeyRow(kek, alg, now);
      await trx('signing_keys').insert({ ...row, public_jwk: JSON.stringify(row.public_jwk) });
      created.push(row.kid);
    }
    return created;
  });
}

/** New keys, published now and signing `activateInSeconds` from now (give RPs time to refetch JWKS). */
export async function rotateKeys(
  db: Db,
  kek: Buffer,
  { alg, activateInSeconds, now = new Date() }: { alg?: SigningAlg; activateInSeconds: number; now?: Date },
): Promise<string[]> {
  if (!Number.isFinite(activateInSeconds) || activateInSeconds < 0) throw new Error('rotateKeys: activateInSeconds must be >= 0');
  if (alg && !SIGNING_ALGS.includes(alg)) throw new Error(`rotateKeys: unsupported alg ${alg}`);
  const activateAt = new Date(now.getTime() + activateInSeconds * 1000);
  const created: string[] = [];
  for (const a of alg ? [alg] : SIGNING_ALGS) {
    const row = await newKeyRow(kek, a, activateAt);
    await db('signing_keys').insert({ ...row, public_jwk: JSON.stringify(row.public_jwk) });
    created.push(row.kid);
  }
  return created;
}

export interface TimeOptions {
  /** The longest life of anything a key signed (tokens, logout tokens…), in seconds. */
  retainSeconds: number;
  now?: Date;
}

/** Every key with its state at `now`, for display; published ones in JWKS order first. */
export async function listKeys(db: Queryable, { retainSeconds, now = new Date() }: TimeOptions): Promise<KeyInfo[]> {
  const keys = classify(await readRows(db), retainSeconds, now);
  const removed = keys.filter((k) => k.state === 'removed')
    .sort((a, b) => b.activateAt.getTime() - a.activateAt.getTime());
  return [...published(keys), ...removed].map(({ row: _row, ...k }) => k);
}

/** The key set for oidc-provider's `jwks` option; reload it at `nextChangeAt` or when keys are added. */
export async function loadKeySet(db: Queryable, kek: Buffer, { retainSeconds, now = new Date() }: TimeOptions): Promise<KeySet> {
  const keys = published(classify(await readRows(db), retainSeconds, now));
  const jwks = keys.map(({ row }) => {
    let priv: JWK;
    try {
      priv = JSON.parse(open(kek, row.private_jwk_enc, `signing_key:${row.kid}`)) as JWK;
    } catch (err) {
      throw new Error(`signing key ${row.kid} cannot be decrypted: wrong KEY_ENCRYPTION_KEY or damaged row`, { cause: err });
    }
    return { ...priv, kid: row.kid, alg: row.alg, use: 'sig' };
  });
  const fingerprint = createHash('sha256')
    .update(JSON.stringify(keys.map((k) => [k.kid, k.state])))
    .digest('base64url')
    .slice(0, 22);
  return { jwks: { keys: jwks }, fingerprint, nextChangeAt: nextChange(keys, now) };
}

/** Housekeeping: marks keys past retention removed, at the moment they left JWKS. */
export async function removeRetiredKeys(db: Queryable, { retainSeconds, now = new Date() }: TimeOptions): Promise<string[]> {
  const due = classify(await readRows(db), retainSeconds, now).filter((k) => k.state === 'removed' && !k.removedAt);
  for (const k of due) {
    await db('signing_keys').where({ kid: k.kid }).whereNull('removed_at').update({ removed_at: k.removeAfter! });
  }
  return due.map((k) => k.kid);
}
