/**
 * The fake ESIA refuses a request signed with a client certificate outside its validity dates,
 * as ESIA does once the certificate registered on its technology portal has expired (ESIA-007053),
 * and issues tokens with the algorithm chosen for the system (RS256 or GOST3410_2012_256).
 */
import { describe, it, expect, afterEach } from '@jest/globals';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { selfSignedCertificate, sha256CertificateHash } from '../../src/crypto/self-signed-cert.js';
import { startFakeEsia, type FakeEsia } from '../../fake-esia/server.js';

const CLIENT = 'VALIDITY';
const REDIRECT = 'http://localhost:3999/esia/callback';
const SCOPE = 'openid fullname';
const DAY = 86_400_000;

function timestamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}.${p(d.getUTCMonth() + 1)}.${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

let fake: FakeEsia | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

/** An authorization request signed with a P-256 certificate valid between the dates; ESIA's answer on the redirect. */
async function authorize(notBefore: Date, notAfter: Date): Promise<URLSearchParams> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const certificate = selfSignedCertificate({ privateKey, publicKey, commonName: CLIENT, notBefore, notAfter });
  fake = await startFakeEsia({ port: 0, clients: [{ clientId: CLIENT, redirectUris: [REDIRECT], certificate }] });
  fake.loginAs(1000000001);
  const f: Record<string, string> = {
    client_id: CLIENT, scope: SCOPE, scope_org: '', timestamp: timestamp(), state: randomUUID(), redirect_uri: REDIRECT,
    response_type: 'code', client_certificate_hash: sha256CertificateHash(certificate),
  };
  const message = ['client_id', 'scope', 'scope_org', 'timestamp', 'state', 'redirect_uri'].map((n) => f[n]).join('');
  f.client_secret = sign('sha256', Buffer.from(message), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  const res = await fetch(`${fake.url}/aas/oauth2/v2/ac?${new URLSearchParams(f)}`, { redirect: 'manual' });
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location')!).searchParams;
}

describe('the client certificate validity dates', () => {
  it('an expired client certificate: ESIA-007053', async () => {
    const back = await authorize(new Date(Date.now() - 400 * DAY), new Date(Date.now() - DAY));
    expect(back.get('error')).toBe('access_denied');
    expect(back.get('error_description')).toMatch(/^ESIA-007053: OAuthErrorEnum\.clientSecretWrong .*expired/);
  });

  it('a client certificate not valid yet: ESIA-007053', async () => {
    const back = await authorize(new Date(Date.now() + DAY), new Date(Date.now() + 400 * DAY));
    expect(back.get('error_description')).toMatch(/^ESIA-007053: .*not valid before/);
  });

  it('a certificate within its dates: a code', async () => {
    const back = await authorize(new Date(Date.now() - DAY), new Date(Date.now() + 20 * DAY));
    expect(back.get('code')).toBeTruthy();
  });
});

describe('the token algorithm', () => {
  it('GOST3410_2012_256: a GOST certificate to pin; an unknown algorithm is refused at start', async () => {
    fake = await startFakeEsia({ port: 0, tokenAlg: 'GOST3410_2012_256', clients: [{ clientId: CLIENT, redirectUris: [REDIRECT], certificate: 'unused' }] });
    expect(fake.certificate).toMatch(/^-----BEGIN CERTIFICATE-----/);
    await expect(startFakeEsia({ port: 0, tokenAlg: 'ES256' as never, clients: [{ clientId: CLIENT, redirectUris: [REDIRECT], certificate: 'unused' }] })).rejects.toThrow(/tokenAlg must be one of/);
  });
});
