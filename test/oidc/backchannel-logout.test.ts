/**
 * Logout across apps: the journal web app and the diary web app, each a real HTTP server on
 * loopback with its own sessions and a back-channel logout endpoint, are signed in through one
 * browser session; logging out in the journal (RP-initiated, «выйти везде») sends each app a
 * logout token that it verifies against /jwks, and the diary ends its own session too.
 */
import { cliAudit } from '../../src/audit/bound.js';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as jose from 'jose';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { continueToRp, discover, login, startLogin, oidc } from '../helpers/rp.js';
import { registerClient } from '../../src/clients/manage.js';

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/**
 * A relying party's server: its sessions by OP session id (`sid`), and the back-channel endpoint
 * of OIDC Back-Channel Logout 1.0 §2.6, which ends the session a valid logout token names.
 */
class RelyingPartyServer {
  readonly sessions = new Map<string, string>();
  readonly received: string[] = [];
  readonly refused: string[] = [];
  clientId = '';
  issuer = '';
  private server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const token = new URLSearchParams(body).get('logout_token');
      if (req.method !== 'POST' || req.url !== '/backchannel' || !token) return res.writeHead(400).end();
      this.received.push(token);
      this.verify(token).then(
        (sid) => {
          this.sessions.delete(sid);
          res.writeHead(200, { 'cache-control': 'no-store' }).end();
        },
        (err: Error) => {
          this.refused.push(err.message);
          res.writeHead(400).end();
        },
      );
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/backchannel`;
  }

  stop(): void {
    this.server.close();
  }

  private async verify(token: string): Promise<string> {
    const jwks = jose.createRemoteJWKSet(new URL(`${this.issuer}/jwks`));
    const { payload } = await jose.jwtVerify(token, jwks, { issuer: this.issuer, audience: this.clientId, typ: 'logout+jwt', maxTokenAge: '2 minutes' });
    if (!payload.events || typeof payload.events !== 'object' || !(BACKCHANNEL_EVENT in payload.events)) throw new Error('no back-channel logout event');
    if ('nonce' in payload) throw new Error('a logout token must not carry a nonce');
    if (typeof payload.sid !== 'string' || !this.sessions.has(payload.sid)) throw new Error('unknown sid');
    return payload.sid;
  }
}

let srv: TestServer;
let person: Awaited<ReturnType<typeof addAccount>>;
const journal = new RelyingPartyServer();
const diary = new RelyingPartyServer();
let journalRp: oidc.Configuration;
let diaryRp: oidc.Configuration;
let journalRedirect: string;
const DIARY_REDIRECT = 'https://diary.example.ru/callback';
let journalIdToken: string;
let diaryBackchannel: string;

beforeAll(async () => {
  const journalBackchannel = await journal.start();
  srv = await startTestServer({ env: { JOURNAL_WEB_BACKCHANNEL_LOGOUT_URI: journalBackchannel } });
  journal.issuer = diary.issuer = srv.url;
  journal.clientId = 'journal-web';
  // The diary's web app: one of the journal's own apps, registered by the operator.
  diaryBackchannel = await diary.start();
  const { client, secret } = await registerClient(
    srv.app,
    { client_name: 'Дневник', redirect_uris: [DIARY_REDIRECT], backchannel_logout_uri: diaryBackchannel, first_party: true },
    cliAudit(srv.db),
  );
  diary.clientId = client.client_id;
  const school = await addSchool(srv.db);
  person = await addAccount(srv.app, school, { kind: 'parent' });
  journalRp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  diaryRp = await discover(srv.url, client.client_id, secret);
  journalRedirect = srv.config.firstPartyClients.journalWeb.redirectUris[0]!;
});
afterAll(async () => {
  await srv?.close();
  journal.stop();
  diary.stop();
});

/** The code exchange of an app; the app keeps a session under the ID token's sid. */
async function finish(rp: oidc.Configuration, app: RelyingPartyServer, callback: URL, started: Awaited<ReturnType<typeof startLogin>>) {
  const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
  const claims = tokens.claims()!;
  expect(claims.sid).toEqual(expect.any(String));
  app.sessions.set(claims.sid as string, claims.sub);
  return tokens;
}

describe('back-channel logout across the journal\'s apps', () => {
  let shared: Browser;
  const browser = () => shared;

  it('one browser signs in to the journal, then to the diary without a second login', async () => {
    shared = new Browser(srv.url);
    const j = await startLogin(journalRp, { redirect_uri: journalRedirect });
    const jCallback = await login(browser(), j, person.login, person.password);
    journalIdToken = (await finish(journalRp, journal, jCallback, j)).id_token!;

    const d = await startLogin(diaryRp, { redirect_uri: DIARY_REDIRECT });
    const { res, url } = await browser().follow(d.authUrl.toString());
    const dCallback = await continueToRp(browser(), res, url);
    expect(dCallback.origin + dCallback.pathname).toBe(DIARY_REDIRECT);
    await finish(diaryRp, diary, dCallback, d);
    expect(journal.sessions.size).toBe(1);
    expect(diary.sessions.size).toBe(1);
  });

  it('logging out in the journal sends both apps a valid logout token; the diary\'s session ends', async () => {
    const [journalSid] = [...journal.sessions.keys()];
    const [diarySid] = [...diary.sessions.keys()];
    const end = oidc.buildEndSessionUrl(journalRp, { id_token_hint: journalIdToken });
    const page = await browser().follow(end.toString());
    const form = formOf(await page.res.text());
    // «Выйти» on the logout page: out of journal-id and every app of this session.
    const res = await browser().postForm(form.action, { ...form.fields, logout: 'yes' });
    expect(res.status).toBeLessThan(400);

    // Delivered within the logout request itself: nothing to wait for.
    expect(journal.refused).toEqual([]);
    expect(diary.refused).toEqual([]);
    expect(journal.received).toHaveLength(1);
    expect(diary.received).toHaveLength(1);
    const jwks = jose.createRemoteJWKSet(new URL(`${srv.url}/jwks`));
    for (const [app, sid] of [[journal, journalSid], [diary, diarySid]] as const) {
      const { payload, protectedHeader } = await jose.jwtVerify(app.received[0]!, jwks, { issuer: srv.url, audience: app.clientId });
      expect(protectedHeader.typ).toBe('logout+jwt');
      expect(payload).toMatchObject({ sub: person.id, sid, aud: app.clientId, events: { [BACKCHANNEL_EVENT]: {} } });
      expect(payload.jti).toEqual(expect.any(String));
      expect(payload.nonce).toBeUndefined();
    }
    expect(journal.sessions.size).toBe(0);
    expect(diary.sessions.size).toBe(0);
  });

  it('journal-id\'s own session is gone too: the diary cannot sign in silently', async () => {
    const d = await startLogin(diaryRp, { redirect_uri: DIARY_REDIRECT, prompt: 'none' });
    const { url } = await browser().follow(d.authUrl.toString());
    expect(new URL(url).searchParams.get('error')).toBe('login_required');
  });

  it('a forged logout token is refused by the app (its check is real)', async () => {
    diary.sessions.set('forged-sid', person.id);
    const key = await jose.generateKeyPair('ES256');
    const forged = await new jose.SignJWT({ sid: 'forged-sid', events: { [BACKCHANNEL_EVENT]: {} } })
      .setProtectedHeader({ alg: 'ES256', typ: 'logout+jwt' })
      .setIssuer(srv.url)
      .setAudience(diary.clientId)
      .setSubject(person.id)
      .setIssuedAt()
      .setJti('x')
      .sign(key.privateKey);
    const res = await fetch(diaryBackchannel, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ logout_token: forged }).toString() });
    expect(res.status).toBe(400);
    expect(diary.sessions.has('forged-sid')).toBe(true);
  });
});
