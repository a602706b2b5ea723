/**
 * oidc-provider's storage for every model except Client (served from the `clients` table by
 * another module). One adapter instance per model name.
 */
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { isStorableText, type Db } from '../db/index.js';
import type { Logger } from '../server/logger.js';
import * as q from './adapter-queries.js';
import { ReadAhead } from './read-ahead.js';
import type { Account } from '../accounts/queries.js';

export interface AdapterOptions {
  /**
   * A refresh token consumed less than this many seconds ago is still reported as unconsumed, so
   * parallel tabs refreshing at once fork the token family instead of revoking the grant. 0–5.
   */
  refreshReuseGraceSeconds: number;
  logger?: Logger;
  /** Where the accounts read with their tokens wait for the provider's findAccount (claims.ts). */
  accounts?: ReadAhead<Account>;
}

/** Grant sources that must be redeemed once, even by parallel requests (refresh tokens have a grace window instead). */
const SINGLE_USE = new Set(['AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest']);

export function createAdapterFactory(db: Db, opts: AdapterOptions): (name: string) => Adapter {
  const grace = opts.refreshReuseGraceSeconds;
  if (!Number.isFinite(grace) || grace < 0 || grace > 5) {
    throw new RangeError(`refreshReuseGraceSeconds must be between 0 and 5, got ${grace}`);
  }
  const cache = new Map<string, Adapter>();
  const findRow = batchedFind(db);
  const shared: Shared = { findRow, grants: new ReadAhead(), accounts: opts.accounts, rotations: new Rotations(db, opts.logger) };
  return (name) => {
    if (name === 'Client') {
      throw new Error('oidc adapter: the Client model is not stored here; route it to the clients adapter');
    }
    let adapter = cache.get(name);
    if (!adapter) {
      adapter = modelAdapter(db, name, grace, shared, opts.logger);
      cache.set(name, adapter);
    }
    return adapter;
  };
}

type FindRow = (model: string, id: string) => Promise<q.ModelRow | undefined>;

interface Shared {
  findRow: FindRow;
  grants: ReadAhead<q.ModelRow>;
  accounts?: ReadAhead<Account>;
  rotations: Rotations;
}

/**
 * A rotating refresh: the provider consumes the old token, then saves its successor under the
 * same grant a few microtasks later. The consumption waits for that save and both go to the
 * database as one statement (adapter-queries' upsert with `consume`): one round trip less, and the
 * old token is never spent without its successor stored. Should no successor come (an error in
 * between), the consumption runs on its own before the next turn of the event loop.
 */
class Rotations {
  /** Refresh tokens found on this node, by id: their grant (to pair a consumption with its successor). */
  private grantOf = new Map<string, string>();
  private pending = new Map<string, { id: string; timer: NodeJS.Immediate }>();
  /**
   * Refresh tokens last found consumed but inside the grace window, by id: their grant. Only a
   * consumption of one of them is a second use (a fork); a find alone is an introspection or a
   * revocation reading the token, which must not raise the alarm.
   */
  private inGrace = new Map<string, string>();

  constructor(private db: Db, private logger?: Logger) {}

  found(id: string, grantId: unknown): void {
    if (typeof grantId !== 'string') return;
    if (this.grantOf.size > 10_000) this.grantOf.clear(); // only ever needed for a moment
    this.grantOf.set(id, grantId);
  }

  /** A consumed refresh token was found inside the grace window (not yet a re-use). */
  foundInGrace(id: string, grantId: unknown): void {
    if (this.inGrace.size > 10_000) this.inGrace.clear(); // only ever needed for a moment
    this.inGrace.set(id, typeof grantId === 'string' ? grantId : '');
  }

  /** The token is consumed again: when it was found inside the grace window, this is the fork. */
  consumedAgain(id: string): { grantId: string } | undefined {
    const grantId = this.inGrace.get(id);
    if (grantId === undefined) return undefined;
    this.inGrace.delete(id);
    return { grantId };
  }

  /** Defers the consumption of a refresh token whose grant is known; false: consume it now. */
  defer(id: string): boolean {
    const grantId = this.grantOf.get(id);
    this.grantOf.delete(id);
    if (!grantId || this.pending.has(grantId)) return false;
    const timer = setImmediate(() => {
      this.pending.delete(grantId);
      q.consume(this.db, 'RefreshToken', id).catch((err: unknown) => this.logger?.error('refresh token consumption failed', { err, grantId }));
    });
    this.pending.set(grantId, { id, timer });
    return true;
  }

  /** The deferred consumption under this grant, taken to go with its successor's insert. */
  take(grantId: unknown): string | undefined {
    if (typeof grantId !== 'string') return undefined;
    const p = this.pending.get(grantId);
    if (!p) return undefined;
    clearImmediate(p.timer);
    this.pending.delete(grantId);
    return p.id;
  }
}

/**
 * Finds of one value by several models in the same turn go to the database as one query:
 * introspection and revocation without a type hint look a token up as an access token, a
 * client_credentials token and a refresh token at once (three queries otherwise).
 */
function batchedFind(db: Db): FindRow {
  const batches = new Map<string, Map<string, Array<{ resolve: (r: q.ModelRow | undefined) => void; reject: (e: unknown) => void }>>>();
  const run = async (id: string, batch: NonNullable<ReturnType<typeof batches.get>>) => {
    try {
      const models = [...batch.keys()];
      const rows = models.length === 1 ? new Map([[models[0]!, await q.find(db, models[0]!, id)]]) : await q.findAmong(db, models, id);
      for (const [model, waiting] of batch) for (const w of waiting) w.resolve(rows.get(model));
    } catch (err) {
      for (const waiting of batch.values()) for (const w of waiting) w.reject(err);
    }
  };
  return (model, id) =>
    new Promise((resolve, reject) => {
      let batch = batches.get(id);
      if (!batch) {
        const created = (batch = new Map());
        batches.set(id, created);
        // The provider starts its parallel finds synchronously: a microtask later, all have asked.
        queueMicrotask(() => {
          batches.delete(id);
          void run(id, created);
        });
      }
      const waiting = batch.get(model) ?? [];
      waiting.push({ resolve, reject });
      batch.set(model, waiting);
    });
}

function modelAdapter(db: Db, model: string, grace: number, shared: Shared, logger?: Logger): Adapter {
  const { findRow, grants, accounts, rotations } = shared;
  const isRefreshToken = model === 'RefreshToken';
  const isGrant = model === 'Grant';

  const present = (row: q.ModelRow | undefined, id?: string): AdapterPayload | undefined => {
    if (!row) return undefined;
    // The provider stores `consumed` in some payloads; the column is the only source of truth.
    const { consumed: _ignored, ...payload } = row.payload as AdapterPayload;
    if (row.consumedAt === null) return payload;
    if (isRefreshToken && row.consumedAgeSeconds !== null && row.consumedAgeSeconds < grace) {
      // Not logged here: introspection reads the token too. consume() logs a real second use.
      if (id !== undefined) rotations.foundInGrace(id, payload.grantId);
      return payload;
    }
    return { ...payload, consumed: Math.floor(row.consumedAt) };
  };

  // Token values come straight from requests (e.g. a refresh_token with a NUL byte): such a value
  // matches no row, and must not reach PostgreSQL as an error.
  const usable = (key: string) => typeof key === 'string' && isStorableText(key);

  return {
    async upsert(id, payload, expiresIn) {
      if (isGrant) grants.forget(id);
      const consume = isRefreshToken ? rotations.take(payload.grantId) : undefined;
      await q.upsert(db, model, id, payload as q.OidcPayload, expiresIn, consume);
    },
    async find(id) {
      if (!usable(id)) return undefined;
      if (isGrant) {
        const ahead = grants.take(id);
        if (ahead) return present(ahead);
      }
      const row = await findRow(model, id);
      const grantId = row?.payload.grantId;
      if (row?.grant && typeof grantId === 'string') grants.put(grantId, row.grant);
      if (row?.account && accounts) accounts.put(row.account.id, row.account);
      if (row && isRefreshToken) rotations.found(id, grantId);
      return present(row, id);
    },
    async findByUid(uid) {
      return usable(uid) ? present(await q.findByUid(db, model, uid)) : undefined;
    },
    async findByUserCode(userCode) {
      return usable(userCode) ? present(await q.findByUserCode(db, model, userCode)) : undefined;
    },
    async consume(id) {
      if (!usable(id)) return;
      if (isRefreshToken) {
        // Consumed again inside the grace window: a second refresh with the old token (the fork).
        const again = rotations.consumedAgain(id);
        if (again) logger?.warn('refresh token reused inside grace window', { grantId: again.grantId || undefined });
      }
      // Refresh tokens are not single-use (a grace window instead): nobody waits for the answer.
      if (isRefreshToken && rotations.defer(id)) return;
      const first = await q.consume(db, model, id);
      // oidc-provider reads "unused", then consumes: parallel requests with one code all pass its
      // check. Only the one whose consumption lands first goes on (a code is used once).
      if (!first && SINGLE_USE.has(model)) {
        // A code redeemed twice may have been stolen: what the grant issued is revoked, the grant
        // itself included, so tokens the winner stores after this moment are dead too (RFC 6749 §4.1.2).
        if (model === 'AuthorizationCode') {
          const grantId = (await q.find(db, model, id))?.payload.grantId;
          if (typeof grantId === 'string') await q.revokeGrant(db, grantId);
        }
        throw new errors.InvalidGrant(`${model} already consumed`);
      }
    },
    async destroy(id) {
      if (isGrant) grants.forget(id);
      if (usable(id)) await q.destroy(db, model, id);
    },
    async revokeByGrantId(grantId) {
      grants.forget(grantId);
      await q.revokeByGrantId(db, model, grantId);
    },
  };
}
