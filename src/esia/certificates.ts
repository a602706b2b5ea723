/**
 * ESIA's token-signing certificates. ESIA has no JWKS: it publishes certificates and rotates
 * them (notes/esia.md §1, ekapusta#27), so the operator lists PEM files in ESIA_CERTS, old and
 * new side by side during a rotation. Files are re-read when they change, so a new certificate
 * dropped in place needs no restart.
 *
 * ESIA signs its tokens with the algorithm chosen for the system on its technology portal:
 * RS256 (an RSA certificate) or GOST3410_2012_256 (a GOST R 34.10-2012 certificate, whose key
 * Node cannot decode: OpenSSL's GOST engine reads it, as the signer uses it). Both kinds may be
 * listed; a token is checked only against keys of its own algorithm.
 */
import fs from 'node:fs';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { gostPublicKey } from './signers/openssl-gost.js';

export type EsiaTokenKey =
  | { kind: 'rsa'; file: string; key: KeyObject }
  | { kind: 'gost'; file: string; publicKeyPem: string };

interface Loaded {
  mtimeMs: number;
  keys: Promise<EsiaTokenKey[]>;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export class EsiaCertificates {
  private cache = new Map<string, Loaded>();

  constructor(readonly files: readonly string[], private readonly openssl = 'openssl') {}

  /** Public keys of every listed certificate that can be read now. */
  async keys(): Promise<EsiaTokenKey[]> {
    const out: EsiaTokenKey[] = [];
    for (const file of this.files) {
      try {
        out.push(...(await this.load(file)));
      } catch {
        // reported by check(); a missing file must not stop the other certificates
      }
    }
    return out;
  }

  /** Problems of the configured files, for the start-up check (empty when all is well). */
  async check(): Promise<string[]> {
    if (!this.files.length) return ['ESIA_CERTS lists no certificate of ESIA (the files that sign its tokens)'];
    const problems: string[] = [];
    for (const file of this.files) {
      try {
        await this.load(file);
      } catch (err) {
        problems.push(`${file}: ${(err as Error).message}`);
      }
    }
    return problems;
  }

  private load(file: string): Promise<EsiaTokenKey[]> {
    const mtimeMs = fs.statSync(file).mtimeMs;
    const cached = this.cache.get(file);
    if (cached && cached.mtimeMs === mtimeMs) return cached.keys;
    const keys = Promise.all(certificateBlocks(fs.readFileSync(file, 'utf8')).map((pem) => this.keyOf(file, pem)));
    this.cache.set(file, { mtimeMs, keys });
    // Not kept when it failed: the engine may be installed or the file fixed meanwhile.
    keys.catch(() => this.cache.get(file)?.keys === keys && this.cache.delete(file));
    return keys;
  }

  private async keyOf(file: string, pem: string): Promise<EsiaTokenKey> {
    const cert = new X509Certificate(pem);
    let key: KeyObject;
    try {
      key = cert.publicKey;
    } catch {
      // Node's OpenSSL has no GOST; the engine decodes the key (and fails for anything else).
      try {
        return { kind: 'gost', file, publicKeyPem: await gostPublicKey(pem, this.openssl) };
      } catch (err) {
        throw new Error(`the certificate's key is neither RSA nor GOST R 34.10-2012 as OpenSSL's GOST engine reads it (libengine-gost-openssl): ${(err as Error).message}`);
      }
    }
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`the certificate's key is ${key.asymmetricKeyType}; ESIA signs tokens with RS256 (RSA) or GOST3410_2012_256`);
    return { kind: 'rsa', file, key };
  }
}

/** The PEM certificates in a file's text; throws when there is none. */
export function certificateBlocks(pem: string): string[] {
  const blocks = pem.match(PEM_BLOCK);
  if (!blocks) throw new Error('no PEM certificate in the file');
  return blocks;
}
