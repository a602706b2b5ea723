/**
 * What the callback asks of ESIA: the code exchanged at `/aas/oauth2/v3/te`, both tokens
 * verified (signature against ESIA's pinned certificates, `iss`, audience / `client_id`, times
 * with leeway), then the person (`/rs/prns/{oid}`) and the contacts (`/ctts?embed=(elements)`).
 * All of it within one deadline. Only what ESIA marks as verified comes out: SNILS of a trusted
 * (confirmed) account, contacts with vrfStu VERIFIED.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../config/index.js';
import { SignerError, type EsiaSigner } from './signers/signer.js';
import type { EsiaCertificates } from './certificates.js';
import { verifyEsiaJws, type SignatureForm } from './token-signature.js';
import type { Logger } from '../server/logger.js';
import { authorizationUrl, tokenForm } from './wire.js';
import { normalizePhone, readEmail, readField } from '../accounts/fields.js';

/**
 * unavailable: ESIA did not answer in time, or answered 5xx — «временно недоступны»;
 * or the signing service (ESIA_SIGNER=http) did not sign in time;
 * rejected: ESIA answered with an error (a code it refused);
 * scope: ESIA refused the person data (403): a scope in ESIA_SCOPE is not approved for the system
 * on ESIA's technical portal — the operator's to fix, not the person's;
 * untrusted: the answer failed verification (signature, issuer, audience, times, shape).
 */
export class EsiaError extends Error {
  override name = 'EsiaError';
  constructor(readonly kind: 'unavailable' | 'rejected' | 'scope' | 'untrusted', message: string, readonly esiaCode?: string) {
    super(message);
  }
}

export interface EsiaPerson {
  /** ESIA's oid (a number in ESIA's JSON), as text. */
  oid: string;
  trusted: boolean;
  /** 11 digits; only from a trusted account. */
  snils?: string;
  /** Verified emails, lower-case. */
  emails: string[];
  /** Verified mobile numbers, as +7 and ten digits. */
  phones: string[];
  /** How the person authenticated at ESIA (PWD, DS …), for the audit. */
  esiaAmr?: string;
}

const tokenResponse = z.object({
  access_token: z.string().min(10).max(20000),
  id_token: z.string().min(10).max(20000),
  state: z.string().optional(),
  token_type: z.string().optional(),
});
const oidValue = z.union([z.number().int().nonnegative(), z.string().regex(/^\d{1,20}$/)]).transform(String);
const personBody = z.object({ trusted: z.boolean().default(false), snils: z.string().max(20).optional() });
const contactsBody = z.object({
  elements: z.array(z.object({ type: z.string(), vrfStu: z.string().optional(), value: z.string().max(320) }).passthrough()).default([]),
});

export interface EsiaClient {
  /** The redirect to ESIA's login for `state` (a UUID), with the PKCE challenge if any. */
  authorizationUrl(state: string, codeChallenge?: string): Promise<string>;
  /** The callback's work: code → verified tokens → the person's verified data. */
  person(code: string, codeVerifier?: string): Promise<EsiaPerson>;
}

export function createEsiaClient(config: Config, signer: EsiaSigner, certs: EsiaCertificates, logger?: Logger): EsiaClient {
  const e = config.esia;
  /** Signature forms seen so far: each is logged at info once, then at debug (two tokens a login). */
  const formsSeen = new Set<SignatureForm>();
  const base = e.url!;
  const clientId = e.clientId!;
  const redirectUri = e.redirectUri ?? `${config.issuer}/esia/callback`;
  const sameIssuer = (iss: unknown) => typeof iss === 'string' && iss.replace(/\/$/, '') === e.issuer!.replace(/\/$/, '');

  async function call(url: string, init: RequestInit, signal: AbortSignal): Promise<Response> {
    try {
      const res = await fetch(url, { ...init, signal, redirect: 'error' });
      if (res.status >= 500) throw new EsiaError('unavailable', `ESIA ${new URL(url).pathname} answered ${res.status}`, await esiaCode(res));
      return res;
    } catch (err) {
      if (err instanceof EsiaError) throw err;
      const name = (err as Error).name;
      throw new EsiaError('unavailable', name === 'TimeoutError' || name === 'AbortError' ? 'ESIA did not answer in time' : `ESIA unreachable: ${(err as Error).message}`);
    }
  }

  async function verifyJwt(token: string, what: string): Promise<Record<string, unknown>> {
    const keys = await certs.keys();
    if (!keys.length) throw new EsiaError('untrusted', 'no readable ESIA certificate to verify tokens with (ESIA_CERTS)');
    const checked = await verifyEsiaJws(token, keys, e.openssl);
    if (!checked.ok) throw new EsiaError('untrusted', `${what}: ${checked.reason}`);
    // Which encoding ESIA's GOST signatures use is not settled publicly: the log tells (docs/esia.md).
    const log = formsSeen.has(checked.form) ? logger?.debug : logger?.info;
    formsSeen.add(checked.form);
    log?.call(logger, 'ESIA token signature verified', { token: what, form: checked.form });
    let claims: unknown;
    try {
      claims = JSON.parse(checked.payload.toString('utf8'));
    } catch {
      throw new EsiaError('untrusted', `${what}: payload is not JSON`);
    }
    if (!claims || typeof claims !== 'object' || Array.isArray(claims)) throw new EsiaError('untrusted', `${what}: payload is not an object`);
    return claims as Record<string, unknown>;
  }

  function checkTimes(c: Record<string, unknown>, what: string): void {
    const now = Math.floor(Date.now() / 1000);
    const leeway = e.leewaySeconds;
    if (typeof c.exp !== 'number' || c.exp + leeway < now) throw new EsiaError('untrusted', `${what}: expired or without exp`);
    if (typeof c.nbf === 'number' && c.nbf - leeway > now) throw new EsiaError('untrusted', `${what}: not valid yet`);
    if (typeof c.iat === 'number' && c.iat - leeway > now) throw new EsiaError('untrusted', `${what}: issued in the future`);
    if (!sameIssuer(c.iss)) throw new EsiaError('untrusted', `${what}: unexpected issuer`);
  }

  return {
    authorizationUrl(state, codeChallenge) {
      return authorizationUrl(signer, { baseUrl: base, clientId, scope: e.scope, redirectUri, state, codeChallenge });
    },

    async person(code, codeVerifier) {
      const signal = AbortSignal.timeout(e.timeoutMs);
      const state = randomUUID();
      const form = await tokenForm(signer, { clientId, scope: e.scope, redirectUri, code, state, codeVerifier }).catch(signerDown);
      const res = await call(`${base}/aas/oauth2/v3/te`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form,
      }, signal);
      if (!res.ok) throw new EsiaError('rejected', `token exchange answered ${res.status}`, await esiaCode(res));
      const tokens = tokenResponse.safeParse(await res.json().catch(() => null));
      if (!tokens.success) throw new EsiaError('untrusted', 'token response is not ESIA-shaped');
      if (tokens.data.state !== undefined && tokens.data.state !== state) throw new EsiaError('untrusted', 'token response echoes another state');

      const id = await verifyJwt(tokens.data.id_token, 'id_token');
      checkTimes(id, 'id_token');
      const aud = Array.isArray(id.aud) ? id.aud : [id.aud];
      if (!aud.includes(clientId)) throw new EsiaError('untrusted', 'id_token: issued to another client');
      const sub = oidValue.safeParse(id.sub);
      if (!sub.success) throw new EsiaError('untrusted', 'id_token: no oid in sub');
      const access = await verifyJwt(tokens.data.access_token, 'access_token');
      checkTimes(access, 'access_token');
      if (access.client_id !== clientId) throw new EsiaError('untrusted', 'access_token: issued to another client');
      const sbj = oidValue.safeParse(access['urn:esia:sbj_id']);
      if (!sbj.success || sbj.data !== sub.data) throw new EsiaError('untrusted', 'access_token: another person than the id_token');
      const oid = sub.data;

      const auth = { authorization: `Bearer ${tokens.data.access_token}`, accept: 'application/json' };
      const [prn, ctts] = await Promise.all([
        call(`${base}/rs/prns/${oid}`, { headers: auth }, signal),
        call(`${base}/rs/prns/${oid}/ctts?embed=(elements)`, { headers: auth }, signal),
      ]);
      if (prn.status === 403) {
        throw new EsiaError('scope', `person data answered 403: a scope of ESIA_SCOPE (${e.scope}) is not approved for ${clientId} on ESIA's technical portal`, await esiaCode(prn));
      }
      if (!prn.ok) throw new EsiaError('rejected', `person data answered ${prn.status}`, await esiaCode(prn));
      const person = personBody.safeParse(await prn.json().catch(() => null));
      if (!person.success) throw new EsiaError('untrusted', 'person data is not ESIA-shaped');
      // Contacts may be refused (scope not granted) while the person is not: then there are none.
      const contacts = ctts.ok ? contactsBody.safeParse(await ctts.json().catch(() => null)) : undefined;
      if (contacts && !contacts.success) throw new EsiaError('untrusted', 'contacts are not ESIA-shaped');
      const verified = (type: string) =>
        (contacts?.data?.elements ?? []).filter((c) => c.type === type && c.vrfStu === 'VERIFIED').map((c) => c.value.trim());

      // The same SNILS and email rules as every other door (accounts/fields.ts).
      const snils = readField('snils', person.data.snils);
      return {
        oid,
        trusted: person.data.trusted,
        snils: person.data.trusted && snils.ok && snils.value ? snils.value : undefined,
        emails: [...new Set(verified('EML').map((v) => readEmail(v)).flatMap((r) => (r.ok && r.value ? [r.value.toLowerCase()] : [])))],
        phones: [...new Set(verified('MBT').map((v) => normalizePhone(v)).filter((v): v is string => Boolean(v)))],
        esiaAmr: typeof id.amr === 'string' ? id.amr.slice(0, 20) : undefined,
      };
    },
  };
}

/** A signer that fails mid-login (the signing service down or slow) is an outage, not a 500. */
function signerDown(err: unknown): never {
  if (err instanceof SignerError) throw new EsiaError('unavailable', `ESIA signer: ${err.message}`);
  throw err;
}

/** ESIA's code (ESIA-007011 …) from an error body, if any; never the rest of the body. */
async function esiaCode(res: Response): Promise<string | undefined> {
  const text = await res.text().catch(() => '');
  return /ESIA-\d{6}/.exec(text)?.[0];
}
