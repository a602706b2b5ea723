/**
 * The minimal certificate builder: every certificate parses (a serial must be minimally encoded:
 * one in about 200 random serials once began with a zero byte and OpenSSL refused it), verifies
 * with its own key, and names its subject.
 */
import { describe, it, expect } from '@jest/globals';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { selfSignedCertificate, sha256CertificateHash } from '../../src/crypto/self-signed-cert.js';

describe('selfSignedCertificate', () => {
  it('1000 P-256 certificates all parse and verify', () => {
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (let i = 0; i < 1000; i++) {
      const cert = new X509Certificate(selfSignedCertificate({ ...kp, commonName: 'тест' }));
      expect(cert.publicKey.asymmetricKeyType).toBe('ec');
      expect(cert.verify(kp.publicKey)).toBe(true);
    }
  });

  it('an RSA certificate with a Cyrillic subject, and its SHA-256 hash as 64 upper-case hex', () => {
    const kp = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = selfSignedCertificate({ ...kp, commonName: 'Школа № 1399', days: 30 });
    const cert = new X509Certificate(pem);
    expect(cert.subject).toBe('CN=Школа № 1399');
    expect(cert.verify(kp.publicKey)).toBe(true);
    expect(new Date(cert.validTo).getTime() - Date.now()).toBeLessThan(31 * 86400_000);
    expect(sha256CertificateHash(pem)).toMatch(/^[0-9A-F]{64}$/);
  });
});
