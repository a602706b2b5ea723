/**
 * Dynamic client registration (RFC 7591/7592) for school IT. An admin issues an initial access
 * token bound to one school (`client token`); the `school` registration policy records that
 * school on the client, keeps it on updates, makes the client third-party and applies the client
 * metadata rules every door shares (src/clients/metadata-rules.ts). The clients adapter
 * (src/oidc/clients.ts) stores the result.
 */
import type { AuditWriter } from '../audit/bound.js';
import { createHash, randomBytes } from 'node:crypto';
import als from 'oidc-provider/lib/helpers/als.js';
import { errors, type ClientMetadata, type KoaContextWithOIDC } from 'oidc-provider';
import { isStorableText, type Db, type Queryable } from '../db/index.js';
import * as q from '../oidc/adapter-queries.js';
import { clientMetadataProblem, type RuleOptions } from './metadata-rules.js';
import { ADMIN_SCOPE, scopeIncludes } from '../admin-api/scope.js';

/** The registration policy every initial access token carries (and registration tokens inherit). */
export const SCHOOL_POLICY = 'school';
/** Client metadata: the school a registered client belongs to (set by the policy only). */
export const SCHOOL_ID = 'school_id';
const FIRST_PARTY = 'first_party';
const IAT = 'InitialAccessToken';

export const DEFAULT_TOKEN_TTL_DAYS = 7;
export const MAX_TOKEN_TTL_DAYS = 90;

/** A short, non-secret reference to a token for the audit log (the token value is its id). */
export function tokenRef(value: string): string {
  return createHash('sha256').update(value).digest('base64url').slice(0, 12);
}

/**
 * Stores a new initial access token for `schoolId` and audits it; returns the token (shown once).
 * Written directly (not through the provider) so the school goes into the stored payload:
 * oidc-provider keeps only its own fields on the model, the policy reads the school back.
 */
export async function issueInitialAccessToken(
  db: Db,
  opts: { schoolId: string; ttlDays: number; by: AuditWriter },
): Promise<{ token: string; expiresAt: Date }> {
  if (!Number.isInteger(opts.ttlDays) || opts.ttlDays < 1 || opts.ttlDays > MAX_TOKEN_TTL_DAYS) {
    throw new RangeError(`ttlDays must be 1–${MAX_TOKEN_TTL_DAYS}`);
  }
  const token = randomBytes(32).toString('base64url');
  const ttl = opts.ttlDays * 86400;
  const iat = Math.floor(Date.now() / 1000);
  await db.transaction(async (trx) => {
    await q.upsert(trx, IAT, token, { iat, exp: iat + ttl, jti: token, kind: IAT, policies: [SCHOOL_POLICY], schoolId: opts.schoolId }, ttl);
    await opts.by.record({
      action: 'client.token.issue',
      schoolId: opts.schoolId,
      target: { type: 'school', id: opts.schoolId },
      details: { ref: tokenRef(token), ttlDays: opts.ttlDays },
    }, trx);
  });
  return { token, expiresAt: new Date((iat + ttl) * 1000) };
}

async function schoolOfToken(db: Queryable, jti: string): Promise<string | undefined> {
  const row = await q.find(db, IAT, jti);
  const id = row?.payload.schoolId;
  return typeof id === 'string' ? id : undefined;
}

async function schoolOfClient(db: Queryable, clientId: string): Promise<string | undefined> {
  const row = (await db('clients').where({ client_id: clientId, registered_by: 'dcr' }).first('school_id')) as { school_id: string | null } | undefined;
  return row?.school_id ?? undefined;
}

/** The `school` policy: runs on registration (initial access token) and on update (registration access token). */
export function schoolPolicy(db: Db, rules: RuleOptions) {
  return async (ctx: KoaContextWithOIDC, properties: ClientMetadata): Promise<void> => {
    const iat = ctx.oidc.entities.InitialAccessToken;
    const schoolId = iat?.jti
      ? await schoolOfToken(db, iat.jti)
      : ctx.oidc.client ? await schoolOfClient(db, ctx.oidc.client.clientId) : undefined;
    if (!schoolId || !(await db('schools').where({ id: schoolId }).first('id'))) {
      throw new errors.InvalidToken('the token is not bound to a school');
    }
    // PostgreSQL refuses NUL in jsonb and text: a 400 here, not a 500 at the insert.
    if (!isStorableText(properties)) throw new errors.InvalidClientMetadata('client metadata must not contain NUL characters');
    // The admin API is given by an operator only (src/clients/manage.ts), never self-registered.
    if (scopeIncludes(properties.scope, ADMIN_SCOPE)) throw new errors.InvalidClientMetadata('scope must not include admin');
    // People see the name on the consent page: stored as the CLI and the admin API store it, trimmed.
    if (typeof properties.client_name === 'string') properties.client_name = properties.client_name.trim();
    // The same rules, and the same words, as the CLI and the admin API (oidc-provider answers
    // invalid_redirect_uri for a message that starts with redirect_uris).
    const problem = clientMetadataProblem(properties as Record<string, unknown>, rules);
    if (problem) throw new errors.InvalidClientMetadata(problem);
    // Whatever the request said: the token decides the school, and registered clients are never first-party.
    properties[SCHOOL_ID] = schoolId;
    properties[FIRST_PARTY] = false;
  };
}

/** Who is registering: the request oidc-provider is serving now, if any (for the audit log). */
export function currentRegistrationRequest(): { ip?: string; requestId?: string; ref?: string } {
  const ctx = als.getStore() as KoaContextWithOIDC | undefined;
  if (!ctx || typeof ctx !== 'object' || !('oidc' in ctx)) return {};
  const iat = ctx.oidc?.entities?.InitialAccessToken?.jti;
  return {
    ip: ctx.ip,
    requestId: typeof ctx.state?.requestId === 'string' ? ctx.state.requestId : undefined,
    ref: iat ? tokenRef(iat) : undefined,
  };
}
