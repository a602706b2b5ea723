/**
 * The production signer: GOST R 34.10-2012 (256) with OpenSSL's GOST engine (Debian:
 * `libengine-gost-openssl`), key and certificate from files. One `openssl dgst -sign` per
 * signature (two per login). OpenSSL writes the signature as s‖r big-endian — the order ESIA
 * verifies; CryptoPro's CryptSignHash writes it little-endian, which is why CryptoPro-based
 * clients reverse their bytes (notes/esia.md §3b, §11) and this one does not.
 */
import fs from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SignerError, type EsiaSigner } from './signer.js';
import { run } from './run.js';

export const GOST_ENGINE_HINT = 'install the GOST engine for OpenSSL: apt-get install libengine-gost-openssl';

export interface OpensslGostOptions {
  keyFile: string;
  certFile: string;
  openssl?: string;
}

/** GOST R 34.11-2012 (256) of a certificate's DER, upper-case hex, computed by OpenSSL. */
export async function gostCertificateHash(certFile: string, openssl = 'openssl'): Promise<string> {
  const der = await run(openssl, ['x509', '-in', certFile, '-outform', 'DER']);
  const out = (await run(openssl, ['dgst', '-engine', 'gost', '-md_gost12_256', '-r'], der)).toString('utf8');
  const hex = /^([0-9a-f]{64})\b/i.exec(out.trim())?.[1];
  if (!hex) throw new Error(`unexpected output of openssl dgst: ${out.slice(0, 100)}`);
  return hex.toUpperCase();
}

export async function createOpensslGostSigner(o: OpensslGostOptions): Promise<EsiaSigner> {
  const openssl = o.openssl ?? 'openssl';
  for (const [name, file] of [['ESIA_KEY_FILE', o.keyFile], ['ESIA_CERT_FILE', o.certFile]] as const) {
    if (!file) throw new SignerError(`${name} is required for ESIA_SIGNER=openssl-gost`);
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch {
      throw new SignerError(`${name} cannot be read (${file})`);
    }
  }
  try {
    await run(openssl, ['engine', 'gost']);
  } catch (err) {
    throw new SignerError(`OpenSSL (${openssl}) has no GOST engine — ${GOST_ENGINE_HINT} (${(err as Error).message})`);
  }
  let certificateHash: string;
  try {
    certificateHash = await gostCertificateHash(o.certFile, openssl);
  } catch (err) {
    throw new SignerError(`ESIA_CERT_FILE is not a certificate OpenSSL can read: ${(err as Error).message}`);
  }
  return {
    kind: 'openssl-gost',
    certificateHash,
    async sign(message) {
      const sig = await run(openssl, ['dgst', '-engine', 'gost', '-md_gost12_256', '-sign', o.keyFile], message);
      if (sig.length !== 64) throw new SignerError(`openssl gave a ${sig.length}-byte signature; a GOST R 34.10-2012 (256) key gives 64`);
      return sig;
    },
  };
}

/** Checks a raw signature against the certificate's public key with OpenSSL (the start-up probe). */
export async function gostVerify(certFile: string, message: Buffer, signature: Buffer, openssl = 'openssl'): Promise<boolean> {
  try {
    return await gostVerifyWithKey(await gostPublicKey(await fs.promises.readFile(certFile), openssl), message, signature, openssl);
  } catch {
    return false;
  }
}

/** The PEM public key of a GOST certificate (Node's OpenSSL cannot decode it; the engine can). */
export async function gostPublicKey(certPem: Buffer | string, openssl = 'openssl'): Promise<string> {
  const pub = (await run(openssl, ['x509', '-engine', 'gost', '-pubkey', '-noout'], Buffer.from(certPem))).toString('utf8');
  if (!pub.includes('-----BEGIN PUBLIC KEY-----')) throw new Error('openssl gave no public key for the certificate');
  return pub;
}

/**
 * A raw GOST R 34.10-2012 (256) signature over `message` (Streebog-256), checked by OpenSSL
 * exactly as given. OpenSSL exits 1 both for a wrong signature and when it cannot check (no
 * engine); either way nothing is accepted. The engine is proved at start by reading the
 * certificates (gostPublicKey), so a false here is a wrong signature.
 */
export async function gostVerifyWithKey(publicKeyPem: string, message: Buffer, signature: Buffer, openssl = 'openssl'): Promise<boolean> {
  if (signature.length !== 64) return false;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'esia-verify-'));
  try {
    await writeFile(path.join(dir, 'pub.pem'), publicKeyPem, { mode: 0o600 });
    await writeFile(path.join(dir, 'sig.bin'), signature, { mode: 0o600 });
    const out = await run(openssl, ['dgst', '-engine', 'gost', '-md_gost12_256', '-verify', path.join(dir, 'pub.pem'), '-signature', path.join(dir, 'sig.bin')], message);
    return out.toString('utf8').includes('Verified OK');
  } catch {
    return false;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
