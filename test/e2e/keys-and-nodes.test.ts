/**
 * Signing keys live in the database: rotation publishes the next key before it signs, and tokens
 * signed before keep validating. Several nodes on one database (the same JWKS, a code issued by
 * one exchanged on another, a key rotated through one served by both) are
 * test/security/nodes.test.ts, with two node processes.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import * as jose from 'jose';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser } from '../helpers/browser.js';
import { discover, startLogin, login, oidc } from '../helpers/rp.js';
import { rotateKeys } from '../../src/oidc/keys.js';

let a: TestServer;
let person: Awaited<ReturnType<typeof addAccount>>;
let rp: oidc.Configuration;
let redirectUri: string;

async function newTokens() {
  const browser = new Browser(a.url);
  const started = await startLogin(rp, { redirect_uri: redirectUri, school: '77' });
  const callback = await login(browser, started, person.login, person.password);
  return { started, callback };
}

/** Logs in and exchanges the code: fresh tokens. */
async function issue() {
  const { started, callback } = await newTokens();
  return oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
}

const jwksOf = async (url: string) => (await (await fetch(`${url}/jwks`)).json()) as jose.JSONWebKeySet;
const kidOf = (jwt: string) => jose.decodeProtectedHeader(jwt).kid;

beforeAll(async () => {
  a = await startTestServer({ env: { KEYS_POLL_SECONDS: '1' } });
  const school = await addSchool(a.db, { number: '77', slug: '77' });
  person = await addAccount(a.app, school, { login: 'kolya' });
  rp = await discover(a.url, 'journal-web', a.config.secrets.journalWebClientSecret);
  redirectUri = a.config.firstPartyClients.journalWeb.redirectUris[0]!;
});
afterAll(async () => a?.close());

describe('key rotation', () => {
  it('publishes first, signs later, and keeps old tokens valid', async () => {
    const cachedBefore = jose.createLocalJWKSet(await jwksOf(a.url));
    const first = await issue();
    const oldKid = kidOf(first.id_token!);

    await rotateKeys(a.db, a.config.secrets.keyEncryptionKey, { alg: 'ES256', activateInSeconds: 2 });
    await a.app.oidc.refreshKeys();
    const published = await jwksOf(a.url);
    expect(published.keys.filter((k) => k.kty === 'EC')).toHaveLength(2);

    // During the publish delay the old key still signs: an RP with the JWKS cached before validates.
    const during = await issue();
    expect(kidOf(during.id_token!)).toBe(oldKid);
    await jose.jwtVerify(during.id_token!, cachedBefore, { issuer: a.url });

    // After activation the new key signs; the JWKS fetched during the delay already has it.
    const cachedDuring = jose.createLocalJWKSet(published);
    await new Promise((r) => setTimeout(r, 2100));
    await a.app.oidc.refreshKeys();
    const after = await issue();
    expect(kidOf(after.id_token!)).not.toBe(oldKid);
    await jose.jwtVerify(after.id_token!, cachedDuring, { issuer: a.url });

    // Tokens signed before the rotation still validate against the current JWKS.
    const current = jose.createLocalJWKSet(await jwksOf(a.url));
    await jose.jwtVerify(first.id_token!, current, { issuer: a.url });
    expect((await oidc.fetchUserInfo(rp, first.access_token, person.id)).sub).toBe(person.id);
  });
});
