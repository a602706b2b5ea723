/**
 * Signing keys live in the database: rotation publishes the next key before it signs, tokens
 * signed before keep validating, and another node on the same database serves the same JWKS and
 * accepts a code issued by the first. On PostgreSQL the second node is a separate OS process;
 * on PGlite (one in-process connection) it is a second app instance on the same database.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import * as jose from 'jose';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { onPostgres } from '../helpers/db.js';
import { startNodeProcess, type NodeProcess } from '../helpers/process.js';
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

describe('a second node on the same database', () => {
  let b: { url: string; stop(): Promise<unknown> } | undefined;
  let proc: NodeProcess | undefined;

  beforeAll(async () => {
    if (onPostgres) {
      proc = await startNodeProcess(a.config, a.testDb.url!);
      b = proc;
    } else {
      const second = await startTestServer({ testDb: a.testDb, overrides: { secrets: a.config.secrets, issuer: a.config.issuer } });
      b = { url: second.url, stop: () => second.running.server.close() as unknown as Promise<unknown> };
    }
  });
  afterAll(async () => {
    const code = await b?.stop();
    if (proc) expect(code).toBe(0); // graceful shutdown on SIGTERM
  });

  it('serves the same JWKS', async () => {
    expect(await jwksOf(b!.url)).toEqual(await jwksOf(a.url));
  });

  it('accepts a code issued by the first node, and its tokens work on both', async () => {
    const { started, callback } = await newTokens();
    const code = callback.searchParams.get('code')!;
    const res = await fetch(`${b!.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`journal-web:${a.config.secrets.journalWebClientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: started.verifier }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id_token: string; access_token: string };
    const { payload } = await jose.jwtVerify(body.id_token, jose.createLocalJWKSet(await jwksOf(a.url)), { issuer: a.url, audience: 'journal-web' });
    expect(payload.sub).toBe(person.id);
    const me = await fetch(`${a.url}/me`, { headers: { authorization: `Bearer ${body.access_token}` } });
    expect(me.status).toBe(200);
  });
});
