/**
 * ESIA's token-signing certificates. ESIA has no JWKS: it publishes certificates and rotates
 * them (notes/esia.md §1, ekapusta#27), so the operator lists PEM files in ESIA_CERTS, old and
 * new side by side during a rotation. Files are re-read when they change, so a new certificate
 * dropped in place needs no restart.
 */
import fs from 'node:fs';
import { X509Certificate, type KeyObject } from 'node:crypto';

interface Loaded {
  mtimeMs: number;
  keys: KeyObject[];
}

export class EsiaCertificates {
  private cache = new Map<string, Loaded>();

  constructor(readonly files: readonly string[]) {}

  /** Public keys of every listed certificate that can be read now. */
  keys(): KeyObject[] {
    const out: KeyObject[] = [];
    for (const file of this.files) {
      try {
        out.push(...this.load(file));
      } catch {
        // reported by check(); a missing file must not stop the other certificates
      }
    }
    return out;
  }

  /** Problems of the configured files, for the start-up check (empty when all is well). */
  check(): string[] {
    if (!this.files.length) return ['ESIA_CERTS lists no certificate of ESIA (the files that sign its tokens)'];
    const problems: string[] = [];
    for (const file of this.files) {
      try {
        this.load(file);
      } catch (err) {
        problems.push(`${file}: ${(err as Error).message}`);
      }
    }
    return problems;
  }

  private load(file: string): KeyObject[] {
    const mtimeMs = fs.statSync(file).mtimeMs;
    const cached = this.cache.get(file);
    if (cached && cached.mtimeMs === mtimeMs) return cached.keys;
    const pem = fs.readFileSync(file, 'utf8');
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    if (!blocks) throw new Error('no PEM certificate in the file');
    const keys = blocks.map((b) => {
      const key = new X509Certificate(b).publicKey;
      // ESIA signs tokens with RS256 or GOST; only RS256 is supported (choose it on the tech portal).
      if (key.asymmetricKeyType !== 'rsa') throw new Error(`the certificate's key is ${key.asymmetricKeyType}; choose RS256 for tokens on ESIA's tech portal`);
      return key;
    });
    this.cache.set(file, { mtimeMs, keys });
    return keys;
  }
}
