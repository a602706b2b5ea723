/**
 * Checking a client's `client_certificate_hash` and `client_secret` against the certificate
 * registered for it, as ESIA does with the certificate uploaded on its technology portal.
 *
 * - RSA or P-256 certificate (the development stand-in for GOST): hash = SHA-256 of the DER,
 *   signature = RSASSA-PKCS1-v1_5 / ECDSA over SHA-256, ECDSA raw r||s (64 bytes, GOST's size).
 * - GOST R 34.10-2012 certificate (Node's OpenSSL cannot decode its key): the OpenSSL CLI with
 *   Debian's GOST engine; hash = GOST R 34.11-2012 (256) of the DER, signature = the raw 64 bytes
 *   in the order `openssl dgst -engine gost -sign` writes them (CryptoPro output reversed).
 *
 * Implemented here, not borrowed from the connector, so a bug in the connector's wire logic
 * shows up as a rejected request instead of being mirrored.
 */
import { spawn } from 'node:child_process';
import { X509Certificate, createHash, verify, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface ClientKey {
  kind: 'rsa' | 'ec' | 'gost';
  /** The client_certificate_hash ESIA expects, upper-case hex. */
  hash: string;
  verify(message: Buffer, signature: Buffer): Promise<boolean>;
}

/** The registered certificate is unusable: ESIA's "no certificate for this system" (ESIA-007002). */
export class CertificateError extends Error {}

/** The fake itself cannot check GOST (no openssl or engine): its fault, not the client's. */
export class GostUnavailableError extends Error {}

const INSTALL_HINT = 'apt-get install libengine-gost-openssl';
const MAX_CACHED = 64;

export interface RunResult { code: number | null; stdout: string; stderr: string; /** stdout as bytes (a signature) */ bytes: Buffer }

export class ClientKeys {
  private readonly cache = new Map<string, Promise<ClientKey>>();
  private engineReady: Promise<void> | undefined;

  constructor(private readonly openssl = 'openssl') {}

  /** Parsed once per PEM text: a GOST certificate costs two openssl runs. */
  get(pem: string): Promise<ClientKey> {
    let key = this.cache.get(pem);
    if (!key) {
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
      key = this.load(pem);
      this.cache.set(pem, key);
      // Not cached when failed: the engine may be installed or the file fixed meanwhile.
      key.catch(() => this.cache.delete(pem));
    }
    return key;
  }

  private async load(pem: string): Promise<ClientKey> {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch (e) {
      throw new CertificateError(`the registered client certificate is not a PEM certificate (${(e as Error).message})`);
    }
    let publicKey: KeyObject | undefined;
    try {
      publicKey = cert.publicKey;
    } catch {
      // Node's OpenSSL has no GOST: decoding the key fails, the engine has to do it.
      return this.loadGost(cert);
    }
    const hash = createHash('sha256').update(cert.raw).digest('hex').toUpperCase();
    if (publicKey.asymmetricKeyType === 'rsa') {
      const key = publicKey;
      return { kind: 'rsa', hash, verify: async (m, s) => safeVerify(() => verify('sha256', m, key, s)) };
    }
    if (publicKey.asymmetricKeyType === 'ec' && publicKey.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
      const key = publicKey;
      return { kind: 'ec', hash, verify: async (m, s) => s.length === 64 && safeVerify(() => verify('sha256', m, { key, dsaEncoding: 'ieee-p1363' }, s)) };
    }
    const what = publicKey.asymmetricKeyType === 'ec' ? `EC ${publicKey.asymmetricKeyDetails?.namedCurve}` : publicKey.asymmetricKeyType;
    throw new CertificateError(`the registered client certificate has a ${what} key; expected GOST R 34.10-2012, RSA or P-256`);
  }

  private async loadGost(cert: X509Certificate): Promise<ClientKey> {
    await this.requireEngine();
    const digest = await this.run(['dgst', '-engine', 'gost', '-md_gost12_256', '-r'], cert.raw);
    const hash = /^([0-9a-f]{64})\b/i.exec(digest.stdout)?.[1];
    if (digest.code !== 0 || !hash) throw new GostUnavailableError(`openssl could not hash the certificate with GOST R 34.11-2012: ${firstLine(digest.stderr)}`);
    const pub = await this.run(['x509', '-engine', 'gost', '-pubkey', '-noout'], Buffer.from(cert.toString()));
    if (pub.code !== 0 || !pub.stdout.includes('-----BEGIN PUBLIC KEY-----')) {
      throw new CertificateError(`the registered client certificate's key is neither GOST R 34.10-2012, RSA nor P-256 (openssl: ${firstLine(pub.stderr)})`);
    }
    const publicKeyPem = pub.stdout;
    return { kind: 'gost', hash: hash.toUpperCase(), verify: (m, s) => this.verifyGost(publicKeyPem, m, s) };
  }

  private async verifyGost(publicKeyPem: string, message: Buffer, signature: Buffer): Promise<boolean> {
    if (signature.length !== 64) return false; // GOST R 34.10-2012 (256): r and s, 32 bytes each
    await this.requireEngine();
    const dir = await mkdtemp(path.join(tmpdir(), 'fake-esia-'));
    try {
      const pub = path.join(dir, 'pub.pem');
      const sig = path.join(dir, 'sig.bin');
      await Promise.all([writeFile(pub, publicKeyPem, { mode: 0o600 }), writeFile(sig, signature, { mode: 0o600 })]);
      const r = await this.run(['dgst', '-engine', 'gost', '-md_gost12_256', '-verify', pub, '-signature', sig], message);
      if (r.code === 0 && r.stdout.includes('Verified OK')) return true;
      if (r.code === 1 && r.stdout.includes('Verification failure')) return false;
      throw new GostUnavailableError(`openssl could not check a GOST signature: ${firstLine(r.stderr)}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Checked before each GOST operation until it once succeeds. */
  private requireEngine(): Promise<void> {
    if (!this.engineReady) {
      this.engineReady = this.run(['engine', 'gost'], Buffer.alloc(0)).then((r) => {
        if (r.code !== 0 || !r.stdout.includes('(gost)')) {
          throw new GostUnavailableError(`OpenSSL's GOST engine is not available to "${this.openssl}" (${firstLine(r.stderr) || `exit ${r.code}`}); install it: ${INSTALL_HINT}`);
        }
      });
      this.engineReady.catch(() => (this.engineReady = undefined));
    }
    return this.engineReady;
  }

  private run(args: string[], input: Buffer): Promise<RunResult> {
    return runOpenssl(this.openssl, args, input);
  }
}

/** Arguments as an array and input on stdin: nothing goes through a shell. */
export function runOpenssl(openssl: string, args: string[], input: Buffer): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(openssl, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: 15_000 });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.stdin.on('error', () => {}); // EPIPE when openssl exits before reading: its exit code tells
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(new GostUnavailableError(e.code === 'ENOENT'
        ? `"${openssl}" not found; GOST certificates need OpenSSL with its GOST engine: apt-get install openssl libengine-gost-openssl`
        : `cannot run "${openssl}": ${e.message}`));
    });
    child.on('close', (code) => {
      const bytes = Buffer.concat(out);
      resolve({ code, stdout: bytes.toString(), stderr: Buffer.concat(err).toString(), bytes });
    });
    child.stdin.end(input);
  });
}

function safeVerify(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return false; // a malformed signature is a wrong one
  }
}

/** The first line of OpenSSL's complaint, past its "Engine "gost" set." notices. */
function firstLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).find((l) => l !== '' && !/^Engine "gost" set\.$/.test(l)) ?? '';
}
