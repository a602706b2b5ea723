/**
 * The fake ESIA's token-signing key: ESIA signs its access and ID tokens with the algorithm the
 * information system chose on the technology portal, RS256 or GOST3410_2012_256 (notes/esia.md
 * §4). RS256 with node:crypto; GOST R 34.10-2012 (256) with the OpenSSL CLI and Debian's GOST
 * engine (Node's OpenSSL has no GOST), the key in a private temporary folder for the fake's life.
 *
 * The byte order of ESIA's GOST token signatures is not settled by the public sources, so the
 * fake (server.ts) writes either: `openssl` (as `openssl dgst -sign` writes it) or `reversed`
 * (CryptoPro's little-endian order). The connector must accept both.
 */
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { selfSignedCertificate } from '../src/crypto/self-signed-cert.js';
import { GostUnavailableError, runOpenssl } from './client-keys.js';

export type TokenAlg = 'RS256' | 'GOST3410_2012_256';
export const TOKEN_ALGS: readonly TokenAlg[] = ['RS256', 'GOST3410_2012_256'];
export type GostSignatureOrder = 'openssl' | 'reversed';

export interface TokenKey {
  alg: TokenAlg;
  /** PEM of the certificate a connector pins. */
  certificate: string;
  /** The JWS signature of `input` (the ASCII of header.payload). */
  sign(input: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

export function rsaTokenKey(privateKey: KeyObject, certificate?: string): TokenKey {
  if (privateKey.asymmetricKeyType !== 'rsa') throw new Error('fake ESIA: an RS256 token-signing key must be RSA');
  const publicKey = createPublicKey(privateKey);
  if (certificate) {
    const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
    if (!spki(createPublicKey(certificate)).equals(spki(publicKey))) throw new Error('fake ESIA: signingCertificate does not hold the signing key');
  }
  return {
    alg: 'RS256',
    certificate: certificate ?? selfSignedCertificate({ privateKey, publicKey, commonName: 'Fake ESIA token signing' }),
    sign: async (input) => sign('sha256', input, privateKey),
    close: async () => {},
  };
}

/** A GOST key: `keyPem`/`certificate` when given (kept across restarts by main.ts), else made now. */
export async function gostTokenKey(o: { openssl: string; keyPem?: string; certificate?: string }): Promise<TokenKey> {
  const ssl = async (args: string[], input: Buffer = Buffer.alloc(0)) => {
    const r = await runOpenssl(o.openssl, args, input);
    if (r.code !== 0) throw new GostUnavailableError(`fake ESIA: openssl ${args[0]} failed (GOST tokens need apt-get install libengine-gost-openssl): ${r.stderr.trim().split('\n').pop()}`);
    return r;
  };
  const dir = await mkdtemp(path.join(tmpdir(), 'fake-esia-token-'));
  const keyFile = path.join(dir, 'key.pem');
  try {
    if (o.keyPem) await writeFile(keyFile, o.keyPem, { mode: 0o600 });
    else await ssl(['genpkey', '-engine', 'gost', '-algorithm', 'gost2012_256', '-pkeyopt', 'paramset:A', '-out', keyFile]);
    let certificate = o.certificate;
    if (!certificate) {
      const certFile = path.join(dir, 'cert.pem');
      await ssl(['req', '-engine', 'gost', '-new', '-x509', '-key', keyFile, '-md_gost12_256', '-subj', '/CN=Fake ESIA token signing (GOST)', '-days', '3650', '-out', certFile]);
      certificate = await readFile(certFile, 'utf8');
    } else {
      const fromKey = (await ssl(['pkey', '-engine', 'gost', '-in', keyFile, '-pubout'])).stdout;
      const fromCert = (await ssl(['x509', '-engine', 'gost', '-pubkey', '-noout'], Buffer.from(certificate))).stdout;
      if (fromKey.trim() !== fromCert.trim()) throw new Error('fake ESIA: signingCertificate does not hold the signing key');
    }
    return {
      alg: 'GOST3410_2012_256',
      certificate,
      /** As OpenSSL writes it; the server reverses it for the `reversed` order. */
      sign: async (input) => (await ssl(['dgst', '-engine', 'gost', '-md_gost12_256', '-sign', keyFile], input)).bytes,
      close: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
