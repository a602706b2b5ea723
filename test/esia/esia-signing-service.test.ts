/**
 * ESIA_SIGNER=http, the documented production path (issue 21.4), end to end over real HTTP:
 * journal-id → the signing service's test double (OpenSSL GOST) → the fake ESIA, which verifies
 * the GOST signatures against the certificate registered for the system. Then the service's bad
 * days: an error, a wrong answer, a timeout — a clear log line, the person sees «Госуслуги
 * временно недоступны» (503), never a 500, and nothing of the service's answer leaks.
 */
import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import type { FakeEsia, FakePerson } from '../../fake-esia/server.js';
import { addSchool, addAccount, startTestServer, type TestServer } from '../helpers/app.js';
import { startWithFakeEsia } from '../helpers/esia.js';
import { startSigningService, SIGNING_SERVICE_SECRET, type SigningService } from '../helpers/signing-service.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, continueToRp, oidc } from '../helpers/rp.js';

const CLIENT_ID = 'JOURNALSIGN';
const OID = 1000000031;
const people: FakePerson[] = [{ oid: OID, lastName: 'Сидорова', firstName: 'Анна', trusted: true, contacts: [] }];
const UNAVAILABLE = 'Госуслуги временно недоступны';

let service: SigningService;
let srv: TestServer;
let fake: FakeEsia;
let rp: oidc.Configuration;
let userId: string;
const logs: string[] = [];

beforeAll(async () => {
  service = await startSigningService({ slowMs: 5000 });
  ({ srv, fake } = await startWithFakeEsia({
    clientId: CLIENT_ID,
    people,
    logs,
    clientCertificate: service.certificate,
    env: { ESIA_SIGNER: 'http', ESIA_SIGNER_URL: service.url, ESIA_CERT_HASH: service.certificateHash, ESIA_SIGNER_TIMEOUT_MS: '800' },
  }));
  const school = await addSchool(srv.db, { number: '31', slug: '31', name: 'Школа № 31', region: 'Москва' });
  const parent = await addAccount(srv.app, school, { login: 'anna.sign', kind: 'parent' });
  userId = parent.id;
  await srv.db('federated_identities').insert({ provider: 'esia', subject: String(OID), user_id: parent.id, linked_via: 'email' });
  rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
});
afterAll(async () => {
  await srv?.close();
  await fake?.close();
  await service?.close();
});
beforeEach(() => {
  service.mode = 'binary';
  logs.length = 0;
  fake.loginAs(OID);
});

async function pressGosuslugi(browser: Browser) {
  const started = await startLogin(rp, { redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]!, school: '31' });
  const page = await openLoginPage(browser, started.authUrl);
  const form = formOf(page.html, /\/esia$/);
  return { started, res: await browser.postForm(form.action, form.fields) };
}

const signerLine = () => logs.find((l) => /signing service|ESIA signer/.test(l));

describe('the http signer through its test double', () => {
  it.each(['binary', 'text'] as const)('a whole Gosuslugi login, the service answering %s; the fake ESIA verifies its GOST signatures', async (mode) => {
    service.mode = mode;
    const signedBefore = service.signed.length;
    const browser = new Browser(srv.url);
    const { started, res } = await pressGosuslugi(browser);
    expect(res.status).toBe(303);
    const atEsia = await fetch(res.headers.get('location')!, { redirect: 'manual' });
    const callback = new URL(atEsia.headers.get('location')!);
    expect(callback.searchParams.get('error_description')).toBeNull();
    const back = await browser.follow(callback.toString());
    const cb = await continueToRp(browser, back.res, back.url);
    const tokens = await oidc.authorizationCodeGrant(rp, cb, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    expect(tokens.claims()!.sub).toBe(userId);
    // One signature for v2/ac, one for v3/te: the messages of notes/esia.md §3b.
    const messages = service.signed.slice(signedBefore).map((m) => m.toString('utf8'));
    expect(messages).toHaveLength(2);
    expect(messages[0]!.startsWith(`${CLIENT_ID}openid`)).toBe(true);
  });

  it.each([
    ['answers 500', 'error' as const, /signing service answered 500/],
    ['answers 32 bytes', 'short' as const, /gave 32 bytes/],
  ])('the service %s at the button: the unavailable page (503), one log line, nothing of its body', async (_name, mode, reason) => {
    service.mode = mode;
    const { res } = await pressGosuslugi(new Browser(srv.url));
    expect(res.status).toBe(503);
    const html = await res.text();
    expect(html).toContain(UNAVAILABLE);
    expect(html).not.toContain('container-pin');
    expect(signerLine()).toMatch(reason);
    expect(logs.join('\n')).not.toContain(SIGNING_SERVICE_SECRET);
  });

  it('the service times out at the callback (the token exchange): the unavailable page, not a 500', async () => {
    const browser = new Browser(srv.url);
    const { res } = await pressGosuslugi(browser);
    const atEsia = await fetch(res.headers.get('location')!, { redirect: 'manual' });
    service.mode = 'slow';
    const t0 = Date.now();
    const back = await browser.follow(atEsia.headers.get('location')!);
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(back.res.status).toBe(503);
    expect(await back.res.text()).toContain(UNAVAILABLE);
    const line = logs.find((l) => l.includes('ESIA login failed'));
    expect(line).toContain('"kind":"unavailable"');
    expect(line).toMatch(/signing service http:\/\/127\.0\.0\.1:\d+ did not answer/);
  });
});

describe('the signing service down at start', () => {
  it('the provider starts (password logins unaffected) with a warning, not a crash loop', async () => {
    const own: string[] = [];
    const down = await startTestServer({
      logs: own,
      env: {
        ESIA_CLIENT_ID: CLIENT_ID, ESIA_URL: fake.url, ESIA_CERTS: srv.config.esia.certFiles.join(','),
        ESIA_SIGNER: 'http', ESIA_SIGNER_URL: 'http://127.0.0.1:9/sign', ESIA_CERT_HASH: service.certificateHash, ESIA_SIGNER_TIMEOUT_MS: '500',
      },
    });
    try {
      expect(own.some((l) => l.includes('ESIA signing service does not sign yet') && l.includes('"level":"warn"'))).toBe(true);
      const health = await fetch(`${down.url}/healthz`);
      expect(health.status).toBeLessThan(500);
    } finally {
      await down.close();
    }
  });
});
