/**
 * The external signer: a signing service next to the provider (typically a CryptoPro sidecar
 * holding the key in its container). The one adapter, documented in docs/esia.md:
 *
 *   POST <ESIA_SIGNER_URL>   Content-Type: application/octet-stream   body: the message bytes
 *   → 200, application/octet-stream: the 64-byte raw GOST R 34.10-2012 (256) signature in ESIA's
 *     order (s‖r big-endian — CryptoPro's own output reversed), or text/plain base64 of it.
 *
 * `client_certificate_hash` is configured (ESIA_CERT_HASH): the service's certificate does not
 * change between requests, and computing GOST hashes here would need the GOST engine after all.
 */
import { SignerError, type EsiaSigner } from './signer.js';

export interface HttpSignerOptions {
  url?: string;
  certificateHash?: string;
  timeoutMs: number;
}

export function createHttpSigner(o: HttpSignerOptions): EsiaSigner {
  if (!o.url) throw new SignerError('ESIA_SIGNER_URL is required for ESIA_SIGNER=http');
  if (!o.certificateHash) throw new SignerError('ESIA_CERT_HASH is required for ESIA_SIGNER=http (GOST R 34.11-2012 of the DER certificate, 64 hex)');
  const url = o.url;
  return {
    kind: 'http',
    certificateHash: o.certificateHash.toUpperCase(),
    async sign(message) {
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream', accept: 'application/octet-stream, text/plain' },
          body: new Uint8Array(message),
          signal: AbortSignal.timeout(o.timeoutMs),
        });
      } catch (err) {
        // fetch says only «fetch failed»; the cause says why (ECONNREFUSED, a timeout …).
        const e = err as Error & { cause?: { code?: string } };
        const why = e.name === 'TimeoutError' ? `no answer within ${o.timeoutMs} ms` : e.cause?.code ?? e.message;
        throw new SignerError(`the signing service ${new URL(url).origin} did not answer: ${why}`);
      }
      // The body of an error answer is not read: a service may say more than a log should keep.
      if (!res.ok) {
        await res.body?.cancel();
        throw new SignerError(`the signing service answered ${res.status}`);
      }
      const body = Buffer.from(await res.arrayBuffer());
      const sig = /^text\//.test(res.headers.get('content-type') ?? '') ? Buffer.from(body.toString('ascii').trim(), 'base64') : body;
      if (sig.length !== 64) throw new SignerError(`the signing service gave ${sig.length} bytes; a GOST R 34.10-2012 (256) signature has 64`);
      return sig;
    },
  };
}
