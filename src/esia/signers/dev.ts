/**
 * The development signer, for the fake ESIA only (production refuses it): an RSA or P-256 key
 * signs with SHA-256 (ECDSA as raw r‖s, 64 bytes like GOST), and `client_certificate_hash` is
 * SHA-256 of the DER certificate, since Node has no GOST R 34.11-2012. With the local preset the
 * key and a self-signed certificate are made on first use in the data folder, where the fake
 * ESIA reads the certificate.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { selfSignedCertificate, sha256CertificateHash } from '../../crypto/self-signed-cert.js';
import { SignerError, type EsiaSigner } from './signer.js';

export interface DevSignerOptions {
  keyFile?: string;
  certFile?: string;
  /** Make the key and certificate when both files are missing (development). */
  generate: boolean;
}

function generate(keyFile: string, certFile: string): void {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  fs.mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.dirname(certFile), { recursive: true, mode: 0o700 });
  fs.writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  fs.writeFileSync(certFile, selfSignedCertificate({ privateKey, publicKey, commonName: 'journal-id development ESIA client' }));
}

export function createDevSigner(o: DevSignerOptions): EsiaSigner {
  if (!o.keyFile || !o.certFile) throw new SignerError('ESIA_KEY_FILE and ESIA_CERT_FILE are required for ESIA_SIGNER=dev');
  if (o.generate && !fs.existsSync(o.keyFile) && !fs.existsSync(o.certFile)) generate(o.keyFile, o.certFile);
  let key: KeyObject;
  let certPem: string;
  try {
    key = createPrivateKey(fs.readFileSync(o.keyFile));
    certPem = fs.readFileSync(o.certFile, 'utf8');
    const cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(key)) throw new Error('the key does not belong to the certificate');
  } catch (err) {
    throw new SignerError(`ESIA dev signer: ${(err as Error).message} (${o.keyFile}, ${o.certFile})`);
  }
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ec') throw new SignerError(`ESIA dev signer needs an RSA or P-256 key, not ${type}`);
  return {
    kind: 'dev',
    certificateHash: sha256CertificateHash(certPem),
    async sign(message) {
      return sign('sha256', message, type === 'ec' ? { key, dsaEncoding: 'ieee-p1363' } : key);
    },
  };
}

/** The public key of the dev certificate (for the start-up probe). */
export function devPublicKey(certFile: string): KeyObject {
  return createPublicKey(new X509Certificate(fs.readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'pem' }));
}
