/**
 * The ESIA signers against the fake ESIA, which verifies as ESIA does: the production path
 * (OpenSSL + GOST engine, key and certificate made here) signs a v2/ac request and a v3/te
 * exchange, and a whole journal-id login runs on it; the HTTP signing-service adapter; and the
 * start-up checks that stop a broken signer before the first login. Without the GOST engine
 * these tests fail and say what to install (never a silent skip).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { randomUUID, generateKeyPairSync, sign } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { startFakeEsia, type FakeEsia } from '../../fake-esia/server.js';
import { run } from '../../src/esia/signers/run.js';
import { createOpensslGostSigner, GOST_ENGINE_HINT } from '../../src/esia/signers/openssl-gost.js';
import { createHttpSigner } from '../../src/esia/signers/http.js';
import type { EsiaSigner } from '../../src/esia/signers/signer.js';
import { authorizationUrl, tokenForm } from '../../src/esia/wire.js';
import { selfSignedCertificate, sha256CertificateHash } from '../../src/crypto/self-signed-cert.js';
import { createEsia } from '../../src/esia/service.js';
import { createLogger } from '../../src/server/logger.js';
import { freePort, startTestServer, addSchool, addAccount, testConfig } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, continueToRp, oidc } from '../helpers/rp.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-gost-'));
const gostKey = path.join(dir, 'key.pem');
const gostCert = path.join(dir, 'cert.pem');
const CLIENT_ID = 'GOSTTEST';
const REDIRECT = 'http://localhost:1/esia/callback';
const SCOPE = 'openid fullname snils email mobile';
let fake: FakeEsia;

beforeAll(async () => {
  try {
    await run('openssl', ['engine', 'gost']);
  } catch (err) {
    throw new Error(`OpenSSL's GOST engine is missing — ${GOST_ENGINE_HINT} (.ci/run installs it). ${(err as Error).message}`);
  }
  await run('openssl', ['genpkey', '-engine', 'gost', '-algorithm', 'gost2012_256', '-pkeyopt', 'paramset:A', '-out', gostKey]);
  await run('openssl', ['req', '-engine', 'gost', '-new', '-x509', '-key', gostKey, '-md_gost12_256', '-subj', '/CN=journal-id GOST test', '-days', '30', '-out', gostCert]);
  fake = await startFakeEsia({ port: 0, clients: [{ clientId: CLIENT_ID, redirectUris: [REDIRECT], certificate: () => fs.readFileSync(gostCert, 'utf8') }] });
});
afterAll(async () => fake?.close());

/** v2/ac signed by `signer` through the fake (which logs the person in at once), then v3/te. */
async function roundTrip(signer: EsiaSigner): Promise<Response> {
  fake.loginAs(1000000001);
  const state = randomUUID();
  const ac = await fetch(await authorizationUrl(signer, { baseUrl: fake.url, clientId: CLIENT_ID, scope: SCOPE, redirectUri: REDIRECT, state }), { redirect: 'manual' });
  expect(ac.status).toBe(302);
  const back = new URL(ac.headers.get('location')!);
  expect(back.searchParams.get('error_description')).toBeNull();
  expect(back.searchParams.get('state')).toBe(state);
  const code = back.searchParams.get('code')!;
  const form = await tokenForm(signer, { clientId: CLIENT_ID, scope: SCOPE, redirectUri: REDIRECT, code, state: randomUUID() });
  return fetch(`${fake.url}/aas/oauth2/v3/te`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
}

describe('OpenSSL GOST signer (production path)', () => {
  it('signs v2/ac and v3/te; the fake verifies signature and GOST certificate hash', async () => {
    const signer = await createOpensslGostSigner({ keyFile: gostKey, certFile: gostCert });
    expect(signer.certificateHash).toMatch(/^[0-9A-F]{64}$/);
    const te = await roundTrip(signer);
    expect(te.status).toBe(200);
    const body = (await te.json()) as Record<string, unknown>;
    expect(body.token_type).toBe('Bearer');
    expect(typeof body.id_token).toBe('string');
  });

  it('a signature with one flipped byte, or another certificate hash, is refused by the fake (ESIA-007053)', async () => {
    const real = await createOpensslGostSigner({ keyFile: gostKey, certFile: gostCert });
    const flipped: EsiaSigner = { ...real, sign: async (m) => { const s = await real.sign(m); s[10]! ^= 1; return s; } };
    const wrongHash: EsiaSigner = { ...real, certificateHash: 'A'.repeat(64) };
    for (const signer of [flipped, wrongHash]) {
      const ac = await fetch(await authorizationUrl(signer, { baseUrl: fake.url, clientId: CLIENT_ID, scope: SCOPE, redirectUri: REDIRECT, state: randomUUID() }), { redirect: 'manual' });
      expect(new URL(ac.headers.get('location')!).searchParams.get('error_description')).toMatch(/^ESIA-007053/);
    }
  });

  it('a whole journal-id login runs on the GOST signer', async () => {
    const port = await freePort();
    const own = await startFakeEsia({ port: 0, clients: [{ clientId: CLIENT_ID, redirectUris: [`http://localhost:${port}/esia/callback`], certificate: () => fs.readFileSync(gostCert, 'utf8') }],
      people: [{ oid: 1000000777, lastName: 'Смирнова', firstName: 'Ольга', trusted: true, contacts: [{ type: 'EML', value: 'olga@example.ru', vrfStu: 'VERIFIED' }] }] });
    const esiaCert = path.join(dir, 'esia-own.pem');
    fs.writeFileSync(esiaCert, own.certificate);
    const srv = await startTestServer({ port, env: { ESIA_CLIENT_ID: CLIENT_ID, ESIA_URL: own.url, ESIA_CERTS: esiaCert, ESIA_SIGNER: 'openssl-gost', ESIA_KEY_FILE: gostKey, ESIA_CERT_FILE: gostCert } });
    try {
      const school = await addSchool(srv.db, { number: '1399', slug: '1399' });
      const olga = await addAccount(srv.app, school, { login: 'olga', kind: 'parent', email: 'olga@example.ru' });
      const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
      const browser = new Browser(srv.url);
      const started = await startLogin(rp, { redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]!, school: '1399' });
      const page = await openLoginPage(browser, started.authUrl);
      const form = formOf(page.html, /\/esia$/);
      const toEsia = await browser.postForm(form.action, form.fields);
      own.loginAs(1000000777);
      const atEsia = await fetch(toEsia.headers.get('location')!, { redirect: 'manual' });
      const { res, url } = await browser.follow(atEsia.headers.get('location')!);
      const cb = await continueToRp(browser, res, url);
      const tokens = await oidc.authorizationCodeGrant(rp, cb, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
      expect(tokens.claims()!.sub).toBe(olga.id);
    } finally {
      await srv.close();
      await own.close();
    }
  });
});

describe('HTTP signing service (the external signer adapter)', () => {
  it('posts the message, takes the raw signature (binary or base64 text)', async () => {
    // A stand-in service with a P-256 key; the fake knows its certificate.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cert = selfSignedCertificate({ privateKey, publicKey, commonName: 'sidecar' });
    let asText = false;
    const service = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (b: Buffer) => parts.push(b));
      req.on('end', () => {
        const sig = sign('sha256', Buffer.concat(parts), { key: privateKey, dsaEncoding: 'ieee-p1363' });
        res.setHeader('content-type', asText ? 'text/plain' : 'application/octet-stream');
        res.end(asText ? sig.toString('base64') : sig);
      });
    });
    await new Promise<void>((r) => service.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(service.address() as AddressInfo).port}/sign`;
    const sidecarFake = await startFakeEsia({ port: 0, clients: [{ clientId: CLIENT_ID, redirectUris: [REDIRECT], certificate: cert }] });
    try {
      const signer = createHttpSigner({ url, certificateHash: sha256CertificateHash(cert), timeoutMs: 2000 });
      for (const text of [false, true]) {
        asText = text;
        sidecarFake.loginAs(1000000001);
        const ac = await fetch(await authorizationUrl(signer, { baseUrl: sidecarFake.url, clientId: CLIENT_ID, scope: SCOPE, redirectUri: REDIRECT, state: randomUUID() }), { redirect: 'manual' });
        expect(new URL(ac.headers.get('location')!).searchParams.get('code')).toBeTruthy();
      }
    } finally {
      await sidecarFake.close();
      await new Promise<void>((r) => service.close(() => r()));
    }
  });
});

describe('a broken signer stops the start with a clear message', () => {
  const logger = createLogger('silent');
  const esiaEnv = (env: Record<string, string>) => testConfig({ ESIA_CLIENT_ID: CLIENT_ID, ESIA_CERTS: gostCert, ...env });
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['no key file', { ESIA_SIGNER: 'openssl-gost', ESIA_CERT_FILE: gostCert }, /ESIA_KEY_FILE is required/],
    ['an unreadable key file', { ESIA_SIGNER: 'openssl-gost', ESIA_KEY_FILE: '/nonexistent/key.pem', ESIA_CERT_FILE: gostCert }, /ESIA_KEY_FILE cannot be read/],
    ['OpenSSL without the GOST engine', { ESIA_SIGNER: 'openssl-gost', ESIA_KEY_FILE: gostKey, ESIA_CERT_FILE: gostCert, ESIA_OPENSSL: '/bin/false' }, /apt-get install libengine-gost-openssl/],
    ['a certificate that is not the key\'s', { ESIA_SIGNER: 'openssl-gost', ESIA_KEY_FILE: gostKey, ESIA_CERT_FILE: path.join(dir, 'other-cert.pem') }, /does not belong to ESIA_CERT_FILE/],
    ['the http signer without the certificate hash', { ESIA_SIGNER: 'http', ESIA_SIGNER_URL: 'http://127.0.0.1:9/sign' }, /ESIA_CERT_HASH is required/],
  ];
  beforeAll(async () => {
    const otherKey = path.join(dir, 'other-key.pem');
    await run('openssl', ['genpkey', '-engine', 'gost', '-algorithm', 'gost2012_256', '-pkeyopt', 'paramset:A', '-out', otherKey]);
    await run('openssl', ['req', '-engine', 'gost', '-new', '-x509', '-key', otherKey, '-md_gost12_256', '-subj', '/CN=other', '-days', '30', '-out', path.join(dir, 'other-cert.pem')]);
  });
  it.each(cases)('%s', async (_name, env, message) => {
    await expect(createEsia(esiaEnv(env), logger)).rejects.toThrow(message);
  });

  it('ESIA certificates that cannot be read stop a production start', async () => {
    const config = esiaEnv({ ESIA_SIGNER: 'openssl-gost', ESIA_KEY_FILE: gostKey, ESIA_CERT_FILE: gostCert, ESIA_CERTS: '/nonexistent/esia.pem' });
    await expect(createEsia({ ...config, dev: false }, logger)).rejects.toThrow(/ESIA_CERTS: \/nonexistent\/esia.pem/);
  });
});
