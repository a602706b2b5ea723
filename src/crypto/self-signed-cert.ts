/**
 * A self-signed X.509 certificate for an RSA or P-256 key, built with node:crypto alone. Used
 * where only a certificate's shape matters: the development ESIA signer's client certificate and
 * the fake ESIA's token-signing certificate. (Node can parse certificates but not make them, and
 * a certificate library would pull in a dependency-injection framework for these few bytes.)
 */
import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const tlv = (tag: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
};
const seq = (...items: Buffer[]) => tlv(0x30, ...items);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const out = [40 * a + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function utcTime(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}

const name = (cn: string) => seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn, 'utf8')))));

export interface SelfSignedOptions {
  privateKey: KeyObject;
  publicKey: KeyObject;
  commonName: string;
  days?: number;
  /** Chosen validity dates (tests of certificate lifetimes); default from an hour ago for `days`. */
  notBefore?: Date;
  notAfter?: Date;
}

/** PEM of a certificate valid from an hour ago for `days` (default 3650), or between the dates given. */
export function selfSignedCertificate(o: SelfSignedOptions): string {
  const type = o.privateKey.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ec') throw new Error(`self-signed certificates are made for RSA or EC keys, not ${type}`);
  const alg = type === 'rsa' ? seq(oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00])) : seq(oid('1.2.840.10045.4.3.2'));
  const serial = randomBytes(16);
  // Positive and minimally encoded (DER refuses a leading zero byte; OpenSSL says «illegal padding»).
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  const from = o.notBefore ?? new Date(Date.now() - 3600_000);
  const to = o.notAfter ?? new Date(from.getTime() + (o.days ?? 3650) * 86400_000);
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // v3
    tlv(0x02, serial),
    alg,
    name(o.commonName),
    seq(utcTime(from), utcTime(to)),
    name(o.commonName),
    o.publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, o.privateKey);
  const der = seq(tbs, alg, tlv(0x03, Buffer.from([0]), signature));
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** SHA-256 of a certificate's DER, upper-case hex (the development stand-in for ESIA's GOST hash). */
export function sha256CertificateHash(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return createHash('sha256').update(der).digest('hex').toUpperCase();
}
