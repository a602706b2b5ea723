/**
 * The signature of ESIA's access and ID tokens (compact JWS). ESIA signs them with the algorithm
 * chosen for the system on its technology portal: RS256, or GOST3410_2012_256 — GOST R
 * 34.10-2012 (256) over Streebog-256, checked here with OpenSSL's GOST engine as the signer uses
 * it. A token is checked only against keys of the algorithm its header names, so an RSA key never
 * checks a "GOST" token nor the other way round; any other `alg` is refused.
 *
 * The byte order of ESIA's GOST token signatures is not settled by the public sources (its
 * `client_secret` convention is OpenSSL's order; CryptoPro writes the reverse). So a GOST
 * signature is checked as OpenSSL encodes it and, failing that, byte-reversed: both are checks
 * of the same bytes against the same public key, so neither accepts what the key did not sign.
 * The caller logs which form matched (docs/esia.md).
 */
import { compactVerify } from 'jose';
import type { EsiaTokenKey } from './certificates.js';
import { gostVerifyWithKey } from './signers/openssl-gost.js';

export const GOST_TOKEN_ALG = 'GOST3410_2012_256';

/** How the signature verified: RS256, GOST as OpenSSL encodes it, or GOST byte-reversed. */
export type SignatureForm = 'rs256' | 'gost-openssl' | 'gost-reversed';

export type JwsCheck =
  | { ok: true; payload: Buffer; form: SignatureForm }
  | { ok: false; reason: string };

export async function verifyEsiaJws(token: string, keys: readonly EsiaTokenKey[], openssl = 'openssl'): Promise<JwsCheck> {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) return { ok: false, reason: 'not a compact JWS' };
  let header: { alg?: unknown; crit?: unknown } | null;
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as { alg?: unknown; crit?: unknown } | null;
  } catch {
    return { ok: false, reason: 'the header is not JSON' };
  }
  // Extensions we would have to understand (RFC 7515 §4.1.11): ESIA uses none, so refuse them.
  if (!header || typeof header !== 'object' || header.crit !== undefined) return { ok: false, reason: 'the header is not an object, or names critical extensions' };
  const alg = header.alg;

  if (alg === 'RS256') {
    for (const k of keys) {
      if (k.kind !== 'rsa') continue;
      try {
        const { payload } = await compactVerify(token, k.key, { algorithms: ['RS256'] });
        return { ok: true, payload: Buffer.from(payload), form: 'rs256' };
      } catch {
        // the next certificate may be the one (rotation)
      }
    }
    return { ok: false, reason: 'the RS256 signature does not verify against any RSA certificate in ESIA_CERTS' };
  }

  if (alg === GOST_TOKEN_ALG) {
    const gost = keys.filter((k): k is Extract<EsiaTokenKey, { kind: 'gost' }> => k.kind === 'gost');
    if (!gost.length) return { ok: false, reason: `a ${GOST_TOKEN_ALG} token, and ESIA_CERTS lists no GOST certificate` };
    const input = Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii');
    const signature = Buffer.from(parts[2]!, 'base64url');
    if (signature.length !== 64) return { ok: false, reason: `a ${GOST_TOKEN_ALG} signature has 64 bytes, not ${signature.length}` };
    const forms: Array<[SignatureForm, Buffer]> = [['gost-openssl', signature], ['gost-reversed', Buffer.from(signature).reverse()]];
    for (const [form, sig] of forms) {
      for (const k of gost) {
        if (await gostVerifyWithKey(k.publicKeyPem, input, sig, openssl)) return { ok: true, payload: Buffer.from(parts[1]!, 'base64url'), form };
      }
    }
    return { ok: false, reason: `the ${GOST_TOKEN_ALG} signature does not verify against any GOST certificate in ESIA_CERTS, as OpenSSL encodes it or byte-reversed` };
  }

  return { ok: false, reason: `unsupported alg ${JSON.stringify(alg)?.slice(0, 40)} (ESIA signs with RS256 or ${GOST_TOKEN_ALG})` };
}
