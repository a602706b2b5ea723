/**
 * Who calls the admin API: `Authorization: Bearer <access token>` from the client_credentials
 * grant with the `admin` scope. The token is looked up through oidc-provider itself (its expiry,
 * its scope); the client must still exist, still hold `admin`, and be operator-managed (never a
 * dynamically registered one). People's access tokens are another model and are never found here.
 */
import { actAs } from '../audit/bound.js';
import type { Context } from 'koa';
import type { AppContext } from '../server/context.js';
import { findClientRow } from '../oidc/clients.js';
import { ADMIN_SCOPE, scopeIncludes } from './scope.js';

export class AuthError extends Error {
  override name = 'AuthError';
  constructor(readonly status: 401 | 403, readonly code: 'invalid_token' | 'insufficient_scope', message: string) {
    super(message);
  }
}

// RFC 6750 §2.1: a token is b64token characters.
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/;

/** The admin client's id, or an AuthError. */
export async function adminClientOf(app: AppContext, ctx: Context): Promise<string> {
  const header = ctx.get('authorization');
  const value = BEARER.exec(header)?.[1];
  if (!value) throw new AuthError(401, 'invalid_token', header ? 'the Authorization header must be "Bearer <access token>"' : 'an access token is required');
  const { provider } = app.oidc;
  const token = value.length <= 512 ? await provider.ClientCredentials.find(value) : undefined;
  // Sender-constrained tokens (DPoP, mTLS) need a proof this API does not check: refused, not downgraded.
  const clientId = token?.clientId;
  if (!token || !clientId || token.isSenderConstrained()) throw new AuthError(401, 'invalid_token', 'the access token is not valid (unknown, expired or revoked)');
  const [client, row] = await Promise.all([provider.Client.find(clientId), findClientRow(app.db, clientId)]);
  if (!client || !row) throw new AuthError(401, 'invalid_token', 'the access token is not valid (its client was removed)');
  const allowed = row.registered_by === 'cli' && scopeIncludes(client.scope, ADMIN_SCOPE);
  if (!allowed || !scopeIncludes(token.scope, ADMIN_SCOPE)) {
    throw new AuthError(403, 'insufficient_scope', `the access token lacks the ${ADMIN_SCOPE} scope`);
  }
  actAs(ctx, { type: 'client', id: clientId }, { clientId });
  return clientId;
}

/** RFC 6750 §3: the challenge of a refusal. */
export function challenge(err: AuthError): string {
  const scope = err.code === 'insufficient_scope' ? `, scope="${ADMIN_SCOPE}"` : '';
  return `Bearer realm="journal-id", error="${err.code}", error_description="${err.message.replace(/["\\]/g, '')}"${scope}`;
}
