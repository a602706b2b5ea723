/**
 * ESIA's wire format for the current endpoints (notes/esia.md §2–4): the authorization URL of
 * `/aas/oauth2/v2/ac` and the form of `/aas/oauth2/v3/te`, each with its signed `client_secret`.
 * The signed message is the plain concatenation, in this order, of
 *   client_id + scope + scope_org + timestamp + state + redirect_uri [+ code]
 * — the same `scope` string in the request, the exchange and the message.
 */
import type { EsiaSigner } from './signers/signer.js';

/** `yyyy.MM.dd HH:mm:ss +0000` — ESIA's format; the offset has no colon. UTC, so no zone drift. */
export function esiaTimestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}.${p(d.getUTCMonth() + 1)}.${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

export interface SignedFields {
  client_id: string;
  scope: string;
  scope_org: string;
  timestamp: string;
  state: string;
  redirect_uri: string;
  code?: string;
}

export function signedMessage(f: SignedFields): Buffer {
  return Buffer.from(f.client_id + f.scope + f.scope_org + f.timestamp + f.state + f.redirect_uri + (f.code ?? ''), 'utf8');
}

async function clientAuth(signer: EsiaSigner, f: SignedFields) {
  const signature = await signer.sign(signedMessage(f));
  return { client_secret: signature.toString('base64url'), client_certificate_hash: signer.certificateHash };
}

export interface AuthorizationRequest {
  baseUrl: string;
  clientId: string;
  scope: string;
  redirectUri: string;
  state: string;
  codeChallenge?: string;
}

export async function authorizationUrl(signer: EsiaSigner, r: AuthorizationRequest, now = new Date()): Promise<string> {
  const fields: SignedFields = {
    client_id: r.clientId, scope: r.scope, scope_org: '', timestamp: esiaTimestamp(now), state: r.state, redirect_uri: r.redirectUri,
  };
  const params = new URLSearchParams({
    client_id: r.clientId,
    ...(await clientAuth(signer, fields)),
    redirect_uri: r.redirectUri,
    scope: r.scope,
    scope_org: '',
    response_type: 'code',
    state: r.state,
    timestamp: fields.timestamp,
    access_type: 'online', // no refresh token: journal-id needs ESIA once per login
    ...(r.codeChallenge ? { code_challenge: r.codeChallenge, code_challenge_method: 'S256' } : {}),
  });
  return `${r.baseUrl}/aas/oauth2/v2/ac?${params.toString()}`;
}

export interface TokenRequest {
  clientId: string;
  scope: string;
  redirectUri: string;
  code: string;
  /** A new UUID: ESIA echoes the exchange's own state (not the authorization's). */
  state: string;
  codeVerifier?: string;
}

export async function tokenForm(signer: EsiaSigner, r: TokenRequest, now = new Date()): Promise<URLSearchParams> {
  const fields: SignedFields = {
    client_id: r.clientId, scope: r.scope, scope_org: '', timestamp: esiaTimestamp(now), state: r.state, redirect_uri: r.redirectUri, code: r.code,
  };
  return new URLSearchParams({
    client_id: r.clientId,
    code: r.code,
    grant_type: 'authorization_code',
    ...(await clientAuth(signer, fields)),
    state: r.state,
    redirect_uri: r.redirectUri,
    scope: r.scope,
    scope_org: '',
    timestamp: fields.timestamp,
    token_type: 'Bearer',
    ...(r.codeVerifier ? { code_verifier: r.codeVerifier } : {}),
  });
}
