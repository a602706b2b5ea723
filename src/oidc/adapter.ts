/**
 * oidc-provider's storage for every model except Client (served from the `clients` table by
 * another module). One adapter instance per model name.
 */
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { isStorableText, type Db } from '../db/index.js';
import type { Logger } from '../server/logger.js';
import * as q from './adapter-queries.js';

export interface AdapterOptions {
  /**
   * A refresh token consumed less than this many seconds ago is still reported as unconsumed, so
   * parallel tabs refreshing at once fork the token family instead of revoking the grant. 0–5.
   */
  refreshReuseGraceSeconds: number;
  logger?: Logger;
}

/** Grant sources that must be redeemed once, even by parallel requests (refresh tokens have a grace window instead). */
const SINGLE_USE = new Set(['AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest']);

export function createAdapterFactory(db: Db, opts: AdapterOptions): (name: string) => Adapter {
  const grace = opts.refreshReuseGraceSeconds;
  if (!Number.isFinite(grace) || grace < 0 || grace > 5) {
    throw new RangeError(`refreshReuseGraceSeconds must be between 0 and 5, got ${grace}`);
  }
  const cache = new Map<string, Adapter>();
  return (name) => {
    if (name === 'Client') {
      throw new Error('oidc adapter: the Client model is not stored here; route it to the clients adapter');
    }
    let adapter = cache.get(name);
    if (!adapter) {
      adapter = modelAdapter(db, name, grace, opts.logger);
      cache.set(name, adapter);
    }
    return adapter;
  };
}

function modelAdapter(db: Db, model: string, grace: number, logger?: Logger): Adapter {
  const isRefreshToken = model === 'RefreshToken';

  const present = (row: q.ModelRow | undefined): AdapterPayload | undefined => {
    if (!row) return undefined;
    // The provider stores `consumed` in some payloads; the column is the only source of truth.
    const { consumed: _ignored, ...payload } = row.payload as AdapterPayload;
    if (row.consumedAt === null) return payload;
    if (isRefreshToken && row.consumedAgeSeconds !== null && row.consumedAgeSeconds < grace) {
      logger?.warn('refresh token reused inside grace window', { grantId: payload.grantId });
      return payload;
    }
    return { ...payload, consumed: Math.floor(row.consumedAt) };
  };

  // Token values come straight from requests (e.g. a refresh_token with a NUL byte): such a value
  // matches no row, and must not reach PostgreSQL as an error.
  const usable = (key: string) => typeof key === 'string' && isStorableText(key);

  return {
    async upsert(id, payload, expiresIn) {
      await q.upsert(db, model, id, payload as q.OidcPayload, expiresIn);
    },
    async find(id) {
      return usable(id) ? present(await q.find(db, model, id)) : undefined;
    },
    async findByUid(uid) {
      return usable(uid) ? present(await q.findByUid(db, model, uid)) : undefined;
    },
    async findByUserCode(userCode) {
      return usable(userCode) ? present(await q.findByUserCode(db, model, userCode)) : undefined;
    },
    async consume(id) {
      if (!usable(id)) return;
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
      if (usable(id)) await q.destroy(db, model, id);
    },
    async revokeByGrantId(grantId) {
      await q.revokeByGrantId(db, model, grantId);
    },
  };
}
