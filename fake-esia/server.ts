/**
 * A fake ESIA (Gosuslugi): the outside system a connector talks to, as a test double over real
 * HTTP. It checks requests the way ESIA does (docs: /work/shared/notes/esia.md §2–6, 10–11) —
 * signed `client_secret`, certificate hash, timestamp window, UUID state, registered redirect
 * URIs, single-use codes, PKCE — and answers in ESIA's shapes: errors on the redirect or as JSON
 * with ESIA-0070xx codes, RS256 tokens with `sbt`/`ver` headers and numeric oids, the `/rs/prns`
 * REST API with link lists and `?embed=(elements)`.
 *
 * It shares no code with the connector (src/esia): a fake that reused the product's wire logic
 * would agree with its bugs.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, createPrivateKey, generateKeyPair, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import { ClientKeys, CertificateError, GostUnavailableError } from './client-keys.js';
import { gostTokenKey, rsaTokenKey, TOKEN_ALGS, type GostSignatureOrder, type TokenAlg, type TokenKey } from './token-keys.js';
import { loadPeople, checkPeople, type FakePerson, type FakeContact, type ContactType } from './people.js';
import { errorPage, logoutPage, pickerPage } from './pages.js';

export type { FakePerson, FakeContact } from './people.js';

export interface FakeEsiaClient {
  /** The information system's mnemonic. */
  clientId: string;
  redirectUris: string[];
  /** PEM of the client's certificate, or a function read per request (a file that may appear later). */
  certificate: string | (() => string);
  /**
   * The scopes approved for the system on ESIA's technical portal (default: all). As at ESIA, a
   * scope asked but not approved still gets a login and tokens; the person data it guards answers
   * 403 (ESIA-007019).
   */
  approvedScopes?: string[];
}

export type FakeFailure =
  | 'access_denied' // the person refuses: redirect error=access_denied, ESIA-007004
  | 'unconfirmed' // redirect error=access_denied, ESIA-007055 (unconfirmed account)
  | 'invalid_grant' // te answers 400 invalid_grant, ESIA-007011
  | 'server_error' // te and /rs answer 503, ESIA-007008 (maintenance)
  | 'slow' // te and /rs wait `slowMs` before answering
  | 'wrong_key' // tokens signed by a key that is not the published certificate's
  | 'wrong_issuer' // tokens with another iss
  | 'expired_token' // tokens with exp in the past (iat/nbf an hour ago)
  | 'rest_forbidden'; // /rs/* answers 403

const FAILURES: readonly FakeFailure[] = ['access_denied', 'unconfirmed', 'invalid_grant', 'server_error', 'slow', 'wrong_key', 'wrong_issuer', 'expired_token', 'rest_forbidden'];

export interface FakeEsiaOptions {
  /** 0: a free port. */
  port?: number;
  /** 127.0.0.1; 0.0.0.0 in a container. */
  host?: string;
  /** The base URL others reach it at (in `url`, `issuer`, contact links); default http://host:port. */
  publicUrl?: string;
  clients: FakeEsiaClient[];
  /** Default: fake-esia/people.json. */
  people?: FakePerson[];
  /** How far a request's `timestamp` may be from now, either way (default 300). */
  timestampWindowSeconds?: number;
  codeTtlSeconds?: number;
  tokenTtlSeconds?: number;
  /** The OpenSSL binary used for GOST certificates. */
  openssl?: string;
  /** The wait of the `slow` failure mode (default 30000). */
  slowMs?: number;
  /**
   * The algorithm of its tokens, as chosen per system on ESIA's technology portal: RS256 (default)
   * or GOST3410_2012_256 (needs OpenSSL's GOST engine).
   */
  tokenAlg?: TokenAlg;
  /** GOST tokens only: the signature as OpenSSL writes it (default) or byte-reversed (CryptoPro's order). */
  gostSignatureOrder?: GostSignatureOrder;
  /** PKCS#8 PEM of the token-signing key, RSA or GOST per tokenAlg (default: a new key), kept across restarts by main.ts. */
  signingKey?: string;
  /** Its certificate (default: a new self-signed one); must hold the signing key's public key. */
  signingCertificate?: string;
}

export interface FakeEsia {
  /** http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  /** `${url}/`: ESIA's iss is http:// with a trailing slash. */
  issuer: string;
  /** PEM of its token-signing certificate, RSA or GOST (what a connector pins). */
  certificate: string;
  /** GOST tokens: the byte order of the following tokens' signatures. */
  gostSignatureOrder(order: GostSignatureOrder): void;
  /** The next authorizations log in this person at once (no picker page); null: show the picker. */
  loginAs(oid: number | null): void;
  /**
   * Live ESIA sessions: each login sets the cookie `esia_session` with the redirect back;
   * /idp/ext/Logout with that cookie ends it.
   */
  readonly sessions: number;
  /** A failure mode for the following requests until cleared with null. */
  fail(mode: FakeFailure | null): void;
  /** What it received (method, path, query/form fields with client_secret etc.), for assertions; clearable. */
  requests: Array<{ method: string; path: string; params: Record<string, string> }>;
  /**
   * Requests held right now in the `slow` wait, not yet answered: a test asserts with it that an
   * answer came before ESIA's (the connector's timeout), or that close() released them.
   */
  readonly waiting: number;
  close(): Promise<void>;
}

/** The issuer of tokens in the `wrong_issuer` mode: production ESIA's, a plausible misconfiguration. */
const OTHER_ISSUER = 'http://esia.gosuslugi.ru/';
const PENDING_TTL_MS = 15 * 60_000;
const SESSION_COOKIE = 'esia_session';
const MAX_BODY = 64 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIMESTAMP = /^(\d{4})\.(\d{2})\.(\d{2}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;
/** First person contact id: ESIA's contact ids are 8-digit numbers. */
const FIRST_CONTACT_ID = 14244501;
/** Fixed so eTags stay the same from run to run. */
const UPDATED_ON = 1735689600;

/** Person scopes of ESIA; anything else is ESIA-007006, as for a scope not approved for the system. */
const KNOWN_SCOPES = new Set([
  'openid', 'fullname', 'birthdate', 'gender', 'snils', 'inn', 'id_doc', 'birthplace', 'medical_doc', 'military_doc',
  'foreign_passport_doc', 'drivers_licence_doc', 'birth_cert_doc', 'residence_doc', 'temporary_residence_doc',
  'vehicles', 'email', 'mobile', 'contacts', 'addresses', 'usr_org', 'usr_avt', 'self_employed',
  'kid_fullname', 'kid_birthdate', 'kid_gender', 'kid_snils', 'kid_inn', 'kid_birth_cert_doc', 'kid_medical_doc',
]);
const CONTACT_SCOPES: Record<string, readonly ContactType[]> = { email: ['EML'], mobile: ['MBT'], contacts: ['EML', 'MBT', 'PHN'] };

const AC_REQUIRED = ['client_id', 'client_secret', 'client_certificate_hash', 'redirect_uri', 'scope', 'response_type', 'state', 'timestamp'];
const TE_REQUIRED = ['client_id', 'code', 'grant_type', 'client_certificate_hash', 'client_secret', 'state', 'redirect_uri', 'scope', 'timestamp', 'token_type'];

/** ESIA's error descriptions: the code first, as clients match on it. */
const E = {
  missing: (name: string) => `ESIA-007014: The request doesn't contain the mandatory parameter [${name}]`,
  invalid: (name: string) => `ESIA-007003: The request contains an invalid value of the parameter [${name}]`,
  repeated: (name: string) => `ESIA-007003: The request contains the parameter [${name}] more than once`,
  noCertificate: (why: string) => `ESIA-007002: The certificate does not match the mnemonic of the information system or there is no certificate for it (fake ESIA: ${why})`,
  unknownClient: (id: string) => `ESIA-007002: There is no information system with the mnemonic [${id}]`,
  redirectUri: 'ESIA-007023: The redirect_uri given in the request is not among those allowed for the information system',
  responseType: 'ESIA-007009: The authorization service does not support obtaining an access token by this method',
  grantType: 'ESIA-007012: The authorization grant type is not supported by the authorization service',
  noScope: 'ESIA-007013: The request does not specify the scope',
  scope: (name: string) => `ESIA-007006: The requested scope is invalid, unknown or malformed [${name}]`,
  time: 'ESIA-007015: Wrong request time',
  secret: (why: string) => `ESIA-007053: OAuthErrorEnum.clientSecretWrong (fake ESIA: ${why})`,
  denied: 'ESIA-007004: The resource owner or the authorization service denied the request',
  unconfirmed: 'ESIA-007055: Login with an unconfirmed account',
  grant: (why: string) => `ESIA-007011: The authorization code is invalid, expired, revoked, does not match the redirect_uri of the authorization request or was issued to another client (fake ESIA: ${why})`,
  noChallenge: 'ESIA-007039: code_challenge was not given in the initial /v2/ac request',
  pkce: 'ESIA-007040: The check of the code_verifier against the code_challenge failed',
  unparsable: (why: string) => `ESIA-007038: Cannot read the parameters of the request (fake ESIA: ${why})`,
  maintenance: 'ESIA-007008: The authorization service cannot handle the request now because of overload or maintenance',
  internal: (why: string) => `ESIA-007007: An unexpected error in the authorization service (fake ESIA: ${why})`,
};

interface Refusal {
  error: string;
  description: string;
  /** For the token endpoint; the authorization endpoint redirects. */
  status?: number;
}

interface Client {
  clientId: string;
  redirectUris: string[];
  origins: Set<string>;
  certificate: () => string;
  approved?: Set<string>;
}

/** An authorization request waiting on the picker page; the form carries only its id. */
interface Pending {
  client: Client;
  redirectUri: string;
  scope: string;
  scopes: string[];
  state: string;
  challenge?: string;
  offline: boolean;
  expiresAt: number;
}

interface Grant {
  clientId: string;
  redirectUri: string;
  scope: string;
  scopes: string[];
  oid: number;
  challenge?: string;
  offline: boolean;
  /** The login (seconds), and its session id shared by both tokens. */
  authTime: number;
  sid: string;
  expiresAt: number;
  used: boolean;
}

interface IssuedToken {
  oid: number;
  scopes: string[];
  /** Asked for but not approved for the system: the data they guard answers 403. */
  unapproved: string[];
  expiresAt: number;
}

interface Person extends FakePerson {
  contactIds: number[];
}

type Params = URLSearchParams;

/** Milliseconds since the epoch, honouring the offset; undefined for anything not ESIA's format or not a real time. */
export function parseEsiaTimestamp(s: string): number | undefined {
  const m = TIMESTAMP.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se, oh, om] = [1, 2, 3, 4, 5, 6, 8, 9].map((i) => Number(m[i]));
  const sign = m[7] === '+' ? 1 : -1;
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59 || oh > 14 || om > 59) return undefined;
  const local = Date.UTC(y, mo - 1, d, h, mi, se);
  if (new Date(local).getUTCDate() !== d) return undefined; // 31.02 and the like
  return local - sign * (oh * 60 + om) * 60_000;
}

/** base64url, padded or not (some clients keep the `=`). */
function decodeSecret(s: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(s)) return undefined;
  const bare = s.replace(/=+$/, '');
  if (bare.length % 4 === 1) return undefined;
  return Buffer.from(bare, 'base64url');
}

/** The first parameter given more than once: ESIA refuses those (ESIA-007003). */
function repeated(p: Params): string | undefined {
  const seen = new Set<string>();
  for (const k of p.keys()) {
    if (seen.has(k)) return k;
    seen.add(k);
  }
  return undefined;
}

const missing = (p: Params, names: string[]) => names.find((n) => !p.get(n));

const s256 = (verifier: string) => createHash('sha256').update(verifier, 'ascii').digest('base64url');

export async function startFakeEsia(o: FakeEsiaOptions): Promise<FakeEsia> {
  const fake = new FakeEsiaServer(o);
  await fake.start();
  return fake.api();
}

class FakeEsiaServer {
  private readonly clients = new Map<string, Client>();
  private readonly people = new Map<number, Person>();
  private readonly keys: ClientKeys;
  private readonly pending = new Map<string, Pending>();
  private readonly grants = new Map<string, Grant>();
  private readonly tokens = new Map<string, IssuedToken>();
  /** esia_session cookie → oid. */
  private readonly sessions = new Map<string, number>();
  private readonly sleepers = new Set<() => void>();
  private readonly server = createServer((req, res) => void this.handle(req, res));
  private requests: FakeEsia['requests'] = [];
  private signingKey!: TokenKey;
  private wrongKey!: TokenKey;
  private gostOrder: GostSignatureOrder;
  private url = '';
  private login: number | null = null;
  private failure: FakeFailure | null = null;
  private readonly window: number;
  private readonly codeTtl: number;
  private readonly tokenTtl: number;
  private readonly slowMs: number;

  constructor(private readonly o: FakeEsiaOptions) {
    if (!o.clients?.length) throw new Error('fake ESIA: at least one client is needed');
    for (const c of o.clients) {
      if (this.clients.has(c.clientId)) throw new Error(`fake ESIA: client ${c.clientId} is given twice`);
      if (!c.redirectUris.length) throw new Error(`fake ESIA: client ${c.clientId} has no redirect URIs`);
      const origins = new Set<string>();
      for (const uri of c.redirectUris) {
        if (!URL.canParse(uri) || !/^https?:$/.test(new URL(uri).protocol)) throw new Error(`fake ESIA: redirect URI ${uri} of ${c.clientId} is not an http(s) URL`);
        origins.add(new URL(uri).origin);
      }
      const cert = c.certificate;
      const unknown = c.approvedScopes?.find((s) => !KNOWN_SCOPES.has(s));
      if (unknown) throw new Error(`fake ESIA: approved scope ${unknown} of ${c.clientId} is not an ESIA scope`);
      this.clients.set(c.clientId, {
        clientId: c.clientId, redirectUris: [...c.redirectUris], origins, certificate: typeof cert === 'function' ? cert : () => cert,
        ...(c.approvedScopes && { approved: new Set(c.approvedScopes) }),
      });
    }
    this.keys = new ClientKeys(o.openssl ?? 'openssl');
    this.window = (o.timestampWindowSeconds ?? 300) * 1000;
    this.codeTtl = (o.codeTtlSeconds ?? 60) * 1000;
    this.tokenTtl = o.tokenTtlSeconds ?? 3600;
    this.slowMs = o.slowMs ?? 30_000;
    if (o.tokenAlg && !TOKEN_ALGS.includes(o.tokenAlg)) throw new Error(`fake ESIA: tokenAlg must be one of ${TOKEN_ALGS.join(', ')}`);
    this.gostOrder = o.gostSignatureOrder ?? 'openssl';
    this.server.requestTimeout = 60_000;
  }

  async start(): Promise<void> {
    const people = this.o.people ? checkPeople(this.o.people) : await loadPeople();
    let contactId = FIRST_CONTACT_ID;
    for (const p of people) this.people.set(p.oid, { ...p, contactIds: p.contacts.map(() => contactId++) });

    if (this.o.tokenAlg === 'GOST3410_2012_256') {
      const gost = (keyPem?: string, certificate?: string) => gostTokenKey({
        openssl: this.o.openssl ?? 'openssl',
        ...(keyPem && { keyPem }),
        ...(certificate && { certificate }),
      });
      [this.signingKey, this.wrongKey] = await Promise.all([gost(this.o.signingKey, this.o.signingCertificate), gost()]);
    } else {
      const rsa = () => promisify(generateKeyPair)('rsa', { modulusLength: 2048 }).then((k) => k.privateKey);
      const [key, wrong] = await Promise.all([this.o.signingKey ? Promise.resolve(createPrivateKey(this.o.signingKey)) : rsa(), rsa()]);
      this.signingKey = rsaTokenKey(key, this.o.signingCertificate);
      this.wrongKey = rsaTokenKey(wrong);
    }

    const host = this.o.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port ?? 0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const { port } = this.server.address() as AddressInfo;
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    this.url = (this.o.publicUrl ?? `http://${shown}:${port}`).replace(/\/+$/, '');
  }

  api(): FakeEsia {
    const self = this;
    return {
      url: this.url,
      issuer: `${this.url}/`,
      certificate: this.signingKey.certificate,
      gostSignatureOrder: (order) => {
        if (order !== 'openssl' && order !== 'reversed') throw new Error(`fake ESIA: unknown GOST signature order ${String(order)}`);
        this.gostOrder = order;
      },
      // Cleared with `requests.length = 0` or by assigning a new array: both keep recording.
      get requests() {
        return self.requests;
      },
      set requests(list) {
        self.requests = list;
      },
      get waiting() {
        return self.sleepers.size;
      },
      get sessions() {
        return self.sessions.size;
      },
      loginAs: (oid) => {
        if (oid !== null && !this.people.has(oid)) throw new Error(`fake ESIA: no person with oid ${oid}`);
        this.login = oid;
      },
      fail: (mode) => {
        if (mode !== null && !FAILURES.includes(mode)) throw new Error(`fake ESIA: unknown failure mode ${String(mode)}`);
        this.failure = mode;
      },
      close: () => this.close(),
    };
  }

  private async close(): Promise<void> {
    for (const wake of this.sleepers) wake(); // `slow` waits must not hold the close up
    this.sleepers.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await Promise.all([this.signingKey.close(), this.wrongKey.close()]);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const raw = req.url ?? '/';
      const q = raw.indexOf('?');
      const path = q < 0 ? raw : raw.slice(0, q);
      const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
      const method = req.method ?? 'GET';
      let form = new URLSearchParams();
      let formOk = true;
      if (method === 'POST') {
        const body = await readBody(req);
        if (body === undefined) {
          this.record(method, path, query, form);
          return json(res, 413, { error: 'invalid_request', error_description: E.unparsable(`the body is over ${MAX_BODY} bytes`) });
        }
        formOk = /^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '');
        if (formOk) form = new URLSearchParams(body.toString('utf8'));
      }
      this.record(method, path, query, form);

      if (method === 'GET' && path === '/aas/oauth2/v2/ac') return await this.authorize(query, res);
      if (method === 'POST' && path === '/aas/oauth2/v2/ac/login') return await this.pick(form, res);
      if (method === 'POST' && path === '/aas/oauth2/v3/te') return await this.token(formOk ? form : undefined, res);
      if (method === 'GET' && path === '/idp/ext/Logout') return this.logout(query, req, res);
      const rest = /^\/rs\/prns\/([^/]+)(?:\/(ctts)(?:\/([^/]+))?)?$/.exec(path);
      if (method === 'GET' && rest) return await this.rest(req, res, rest[1]!, rest[2] !== undefined, rest[3], query);
      json(res, 404, { error: 'not_found', error_description: `fake ESIA: no ${method} ${path}` });
    } catch (e) {
      // A server too: bad input must cost one answer, never the process.
      if (!res.headersSent) json(res, 500, { error: 'server_error', error_description: E.internal((e as Error).message) });
      else res.destroy();
    }
  }

  private record(method: string, path: string, query: Params, form: Params): void {
    this.requests.push({ method, path, params: { ...Object.fromEntries(query), ...Object.fromEntries(form) } });
  }

  // ---- /aas/oauth2/v2/ac ----

  private async authorize(p: Params, res: ServerResponse): Promise<void> {
    // Without a known client and one of its redirect URIs there is nowhere safe to send an error.
    const clientId = p.get('client_id');
    const redirectUri = p.get('redirect_uri');
    for (const name of ['client_id', 'redirect_uri']) {
      if (!p.get(name)) return page(res, 400, errorPage(E.missing(name)));
      if (p.getAll(name).length > 1) return page(res, 400, errorPage(E.repeated(name)));
    }
    const client = this.clients.get(clientId!);
    if (!client) return page(res, 400, errorPage(E.unknownClient(clientId!)));
    if (!client.redirectUris.includes(redirectUri!)) {
      return page(res, 400, errorPage(E.redirectUri, 'Поддельная ЕСИА не перенаправляет на адрес, не зарегистрированный для системы.'));
    }
    const state = p.get('state') ?? undefined;
    const refuse = (r: Refusal) => redirect(res, redirectUri!, { error: r.error, error_description: r.description, ...(state && { state }) });

    const dup = repeated(p);
    if (dup) return refuse({ error: 'invalid_request', description: E.repeated(dup) });
    const absent = missing(p, AC_REQUIRED);
    if (absent) return refuse({ error: 'invalid_request', description: E.missing(absent) });
    if (p.get('response_type') !== 'code') return refuse({ error: 'unsupported_response_type', description: E.responseType });
    if (!UUID.test(state!)) return refuse({ error: 'invalid_request', description: E.invalid('state') });
    const accessType = p.get('access_type');
    if (accessType !== null && accessType !== 'online' && accessType !== 'offline') return refuse({ error: 'invalid_request', description: E.invalid('access_type') });
    const challenge = p.get('code_challenge');
    const method = p.get('code_challenge_method');
    if (challenge !== null || method !== null) {
      if (method !== 'S256') return refuse({ error: 'invalid_request', description: E.invalid('code_challenge_method') });
      if (!challenge || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) return refuse({ error: 'invalid_request', description: E.invalid('code_challenge') });
    }
    const scope = p.get('scope')!;
    const scopes = this.checkScope(scope);
    if (!Array.isArray(scopes)) return refuse(scopes);
    const timeRefusal = this.checkTimestamp(p.get('timestamp')!);
    if (timeRefusal) return refuse(timeRefusal);
    const message = this.message(p);
    const authRefusal = await this.authenticate(client, p, message);
    if (authRefusal) return refuse(authRefusal);

    const request: Pending = {
      client,
      redirectUri: redirectUri!,
      scope,
      scopes,
      state: state!,
      ...(challenge && { challenge }),
      offline: accessType === 'offline',
      expiresAt: Date.now() + PENDING_TTL_MS,
    };
    if (this.login !== null) return this.finish(request, this.login, res);
    this.purge();
    const id = randomBytes(24).toString('base64url');
    this.pending.set(id, request);
    page(res, 200, pickerPage({ requestId: id, clientId: client.clientId, scopes, people: [...this.people.values()] }));
  }

  /** The picker's form: only the opaque request id and the choice come from the browser. */
  private async pick(form: Params, res: ServerResponse): Promise<void> {
    const id = form.get('request') ?? '';
    const request = this.pending.get(id);
    this.pending.delete(id);
    if (!request || request.expiresAt < Date.now()) {
      return page(res, 400, errorPage('ESIA-007003: The authorization request is unknown or expired', 'Начните вход заново из системы.'));
    }
    const refuse = (description: string) => redirect(res, request.redirectUri, { error: 'access_denied', error_description: description, state: request.state });
    if (form.get('action') === 'deny') return refuse(E.denied);
    const oid = Number(form.get('oid'));
    if (!this.people.has(oid)) return page(res, 400, errorPage(E.invalid('oid')));
    this.finish(request, oid, res);
  }

  /** The person is logged in: a code back to the system, or the error of the failure mode. */
  private finish(r: Pending, oid: number, res: ServerResponse): void {
    if (this.failure === 'access_denied' || this.failure === 'unconfirmed') {
      const description = this.failure === 'access_denied' ? E.denied : E.unconfirmed;
      return redirect(res, r.redirectUri, { error: 'access_denied', error_description: description, state: r.state });
    }
    this.purge();
    const code = randomBytes(32).toString('base64url');
    this.grants.set(code, {
      clientId: r.client.clientId,
      redirectUri: r.redirectUri,
      scope: r.scope,
      scopes: r.scopes,
      oid,
      ...(r.challenge && { challenge: r.challenge }),
      offline: r.offline,
      authTime: Math.floor(Date.now() / 1000),
      sid: randomUUID(),
      expiresAt: Date.now() + this.codeTtl,
      used: false,
    });
    const session = randomBytes(24).toString('base64url');
    this.sessions.set(session, oid);
    redirect(res, r.redirectUri, { code, state: r.state }, { 'Set-Cookie': `${SESSION_COOKIE}=${session}; Path=/; HttpOnly; SameSite=Lax` });
  }

  // ---- /aas/oauth2/v3/te ----

  private async token(p: Params | undefined, res: ServerResponse): Promise<void> {
    if (this.failure === 'slow') await this.sleep(this.slowMs);
    const state = p?.get('state') ?? undefined;
    const refuse = (r: Refusal) => json(res, r.status ?? 400, { error: r.error, error_description: r.description, ...(state && { state }) }, { 'Cache-Control': 'no-store' });
    if (this.failure === 'server_error') return refuse({ error: 'server_error', description: E.maintenance, status: 503 });
    if (!p) return refuse({ error: 'invalid_request', description: E.unparsable('expected application/x-www-form-urlencoded') });

    const dup = repeated(p);
    if (dup) return refuse({ error: 'invalid_request', description: E.repeated(dup) });
    const grantType = p.get('grant_type');
    if (grantType && grantType !== 'authorization_code') return refuse({ error: 'unsupported_grant_type', description: E.grantType });
    const absent = missing(p, TE_REQUIRED);
    if (absent) return refuse({ error: 'invalid_request', description: E.missing(absent) });
    const client = this.clients.get(p.get('client_id')!);
    if (!client) return refuse({ error: 'invalid_client', description: E.unknownClient(p.get('client_id')!) });
    if (p.get('token_type') !== 'Bearer') return refuse({ error: 'invalid_request', description: E.invalid('token_type') });
    if (!UUID.test(state!)) return refuse({ error: 'invalid_request', description: E.invalid('state') });
    const scopes = this.checkScope(p.get('scope')!);
    if (!Array.isArray(scopes)) return refuse(scopes);
    const timeRefusal = this.checkTimestamp(p.get('timestamp')!);
    if (timeRefusal) return refuse(timeRefusal);
    const authRefusal = await this.authenticate(client, p, this.message(p) + p.get('code'));
    if (authRefusal) return refuse(authRefusal);
    if (this.failure === 'invalid_grant') return refuse({ error: 'invalid_grant', description: E.grant('the invalid_grant failure mode') });

    const grant = this.grants.get(p.get('code')!);
    const invalid = (why: string) => refuse({ error: 'invalid_grant', description: E.grant(why) });
    if (!grant) return invalid('unknown code');
    if (grant.clientId !== client.clientId) return invalid('the code was issued to another client');
    if (grant.used) return invalid('the code was used already');
    if (grant.expiresAt < Date.now()) return invalid('the code expired');
    grant.used = true; // the client's first redemption spends it, whatever follows
    if (grant.redirectUri !== p.get('redirect_uri')) return invalid('redirect_uri differs from the authorization request');
    if (grant.scope !== p.get('scope')) return refuse({ error: 'invalid_scope', description: E.scope('differs from the authorization request') });
    const verifier = p.get('code_verifier');
    if (grant.challenge) {
      if (!verifier) return refuse({ error: 'invalid_request', description: E.missing('code_verifier') });
      if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || s256(verifier) !== grant.challenge) return refuse({ error: 'invalid_grant', description: E.pkce });
    } else if (verifier) {
      return refuse({ error: 'invalid_grant', description: E.noChallenge });
    }

    json(res, 200, await this.issue(grant, state!), { 'Cache-Control': 'no-store' });
  }

  private async issue(g: Grant, state: string): Promise<Record<string, unknown>> {
    const now = Math.floor(Date.now() / 1000);
    const expired = this.failure === 'expired_token';
    const iat = expired ? now - 3600 : now;
    const exp = expired ? now - 300 : now + this.tokenTtl;
    const iss = this.failure === 'wrong_issuer' ? OTHER_ISSUER : `${this.url}/`;
    const key = this.failure === 'wrong_key' ? this.wrongKey : this.signingKey;
    // Key order as in ESIA's real tokens, for connectors that log or snapshot them.
    const access = await this.jwt(key, { ver: 1, typ: 'JWT', sbt: 'access', alg: key.alg }, {
      nbf: iat,
      scope: g.scopes.map((s) => (s === 'openid' ? s : `${s}?oid=${g.oid}`)).join(' '),
      iss,
      'urn:esia:sid': g.sid,
      'urn:esia:sbj_id': g.oid,
      exp,
      iat,
      client_id: g.clientId,
    });
    const person = this.people.get(g.oid)!;
    const id = await this.jwt(key, { ver: 0, typ: 'JWT', sbt: 'id', alg: key.alg }, {
      aud: g.clientId,
      sub: g.oid,
      nbf: iat,
      amr: 'PWD',
      'urn:esia:amd': 'PWD',
      auth_time: Math.min(g.authTime, iat),
      iss,
      'urn:esia:sid': g.sid,
      'urn:esia:sbj': { 'urn:esia:sbj:typ': 'P', 'urn:esia:sbj:is_tru': person.trusted, 'urn:esia:sbj:oid': g.oid, 'urn:esia:sbj:nam': `OID.${g.oid}` },
      exp,
      iat,
    });
    const approved = this.clients.get(g.clientId)?.approved;
    const unapproved = approved ? g.scopes.filter((s) => s !== 'openid' && !approved.has(s)) : [];
    this.tokens.set(access, { oid: g.oid, scopes: g.scopes, unapproved, expiresAt: exp * 1000 });
    return {
      access_token: access,
      id_token: id,
      ...(g.offline && { refresh_token: randomUUID() }),
      state,
      token_type: 'Bearer',
      expires_in: this.tokenTtl,
    };
  }

  /** A compact JWS as ESIA makes it; the bytes stay as built (ESIA's numeric `sub` is no JWT-style claim). */
  private async jwt(key: TokenKey, header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string> {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');
    const input = `${b64(header)}.${b64(payload)}`;
    let signature = await key.sign(Buffer.from(input, 'ascii'));
    if (key.alg === 'GOST3410_2012_256' && this.gostOrder === 'reversed') signature = Buffer.from(signature).reverse();
    return `${input}.${signature.toString('base64url')}`;
  }

  // ---- checks shared by ac and te ----

  /** The signed text of v2/ac (te appends the code): concatenation, no separators. */
  private message(p: Params): string {
    return ['client_id', 'scope', 'scope_org', 'timestamp', 'state', 'redirect_uri'].map((n) => p.get(n) ?? '').join('');
  }

  private checkScope(scope: string): string[] | Refusal {
    const scopes = scope.split(' ').filter(Boolean);
    if (!scopes.length) return { error: 'invalid_scope', description: E.noScope };
    const unknown = scopes.find((s) => !KNOWN_SCOPES.has(s));
    if (unknown) return { error: 'invalid_scope', description: E.scope(unknown) };
    return [...new Set(scopes)];
  }

  private checkTimestamp(timestamp: string): Refusal | undefined {
    const at = parseEsiaTimestamp(timestamp);
    if (at === undefined || Math.abs(Date.now() - at) > this.window) return { error: 'invalid_request', description: E.time };
    return undefined;
  }

  private async authenticate(client: Client, p: Params, message: string): Promise<Refusal | undefined> {
    let key;
    try {
      key = await this.keys.get(client.certificate());
    } catch (e) {
      if (e instanceof GostUnavailableError) return { error: 'server_error', description: E.internal(e.message), status: 500 };
      const why = e instanceof CertificateError ? e.message : `cannot read the registered client certificate: ${(e as Error).message}`;
      return { error: 'unauthorized_client', description: E.noCertificate(why) };
    }
    const outside = outsideValidity(client.certificate());
    if (outside) return { error: 'access_denied', description: E.secret(outside) };
    if (p.get('client_certificate_hash')!.toUpperCase() !== key.hash) {
      return { error: 'access_denied', description: E.secret(`client_certificate_hash is not the ${key.kind === 'gost' ? 'GOST R 34.11-2012' : 'SHA-256'} hash of the registered certificate's DER`) };
    }
    const signature = decodeSecret(p.get('client_secret')!);
    if (!signature) return { error: 'access_denied', description: E.secret('client_secret is not base64url') };
    try {
      if (!(await key.verify(Buffer.from(message, 'utf8'), signature))) return { error: 'access_denied', description: E.secret('the signature does not verify') };
    } catch (e) {
      return { error: 'server_error', description: E.internal((e as Error).message), status: 500 };
    }
    return undefined;
  }

  /** Forgets spent codes, stale picker requests and expired tokens; run as new ones are made. */
  private purge(): void {
    const now = Date.now();
    for (const [k, g] of this.grants) if (g.expiresAt + this.codeTtl < now) this.grants.delete(k);
    for (const [k, r] of this.pending) if (r.expiresAt < now) this.pending.delete(k);
    for (const [k, t] of this.tokens) if (t.expiresAt < now) this.tokens.delete(k);
  }

  // ---- /rs ----

  private async rest(req: IncomingMessage, res: ServerResponse, oidText: string, contacts: boolean, contactId: string | undefined, query: Params): Promise<void> {
    if (this.failure === 'slow') await this.sleep(this.slowMs);
    if (this.failure === 'server_error') return json(res, 503, { error: 'server_error', error_description: E.maintenance });
    const auth = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '');
    const token = auth && this.tokens.get(auth[1]!);
    if (!token || token.expiresAt <= Date.now()) {
      return json(res, 401, { error: 'invalid_token', error_description: 'fake ESIA: the access token is missing, unknown or expired' }, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    }
    if (this.failure === 'rest_forbidden') return forbidden(res, 'the rest_forbidden failure mode');
    if (oidText !== String(token.oid)) return forbidden(res, 'the token is for another person');
    // The person's own data needs its scopes approved; contacts need theirs (below).
    const notApproved = token.unapproved.find((s) => contacts === (s in CONTACT_SCOPES));
    if (notApproved) return forbidden(res, `the scope ${notApproved} is not approved for the system`);
    const person = this.people.get(token.oid)!;
    const types = new Set(token.scopes.flatMap((s) => CONTACT_SCOPES[s] ?? []));
    const visible = person.contacts.map((c, i) => ({ ...c, id: person.contactIds[i]! })).filter((c) => types.has(c.type));
    const embed = (query.get('embed') ?? '').replace(/^\(|\)$/g, '').split(',').map((s) => s.trim());

    if (!contacts) {
      const body = personJson(person, token.scopes);
      if (embed.includes('contacts.elements') && types.size) body.contacts = collection(visible.map(contactJson), true);
      return json(res, 200, body);
    }
    if (!types.size) return forbidden(res, 'no email, mobile or contacts scope');
    if (contactId === undefined) {
      const elements = embed.includes('elements') ? visible.map(contactJson) : visible.map((c) => `${this.url}/rs/prns/${person.oid}/ctts/${c.id}`);
      return json(res, 200, collection(elements, embed.includes('elements')));
    }
    const id = Number(contactId);
    if (!person.contactIds.includes(id)) return json(res, 404, { error: 'not_found', error_description: `fake ESIA: no contact ${contactId}` });
    const contact = visible.find((c) => c.id === id);
    if (!contact) return forbidden(res, 'the contact type is outside the granted scopes');
    json(res, 200, contactJson(contact));
  }

  // ---- /idp/ext/Logout ----

  /**
   * Ends the browser's ESIA session, then back to `redirect_url` only if it is on a registered
   * address of the system (ESIA checks the domain); an unknown client or a foreign address gets
   * an error page and the session stays, as nothing proves who asked.
   */
  private logout(p: Params, req: IncomingMessage, res: ServerResponse): void {
    const client = this.clients.get(p.get('client_id') ?? '');
    if (!client) return page(res, 400, errorPage(p.get('client_id') ? E.unknownClient(p.get('client_id')!) : E.missing('client_id')));
    const target = p.get('redirect_url');
    if (target && (!URL.canParse(target) || !client.origins.has(new URL(target).origin))) {
      return page(res, 400, errorPage(E.invalid('redirect_url'), 'Адрес возврата не принадлежит ни одному из зарегистрированных адресов системы.'));
    }
    const cookie = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([^;]+)`).exec(req.headers.cookie ?? '')?.[1];
    if (cookie) this.sessions.delete(cookie);
    const clear = { 'Set-Cookie': `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`, 'Cache-Control': 'no-store' };
    if (!target) return page(res, 200, logoutPage(), clear);
    res.writeHead(302, { Location: target, ...clear }).end();
  }
}

/**
 * ESIA refuses a request signed with a certificate outside its validity dates (ESIA-007053), as
 * the certificate uploaded on the technology portal stops working when it expires.
 */
function outsideValidity(pem: string): string | undefined {
  const cert = new X509Certificate(pem); // parsed already by ClientKeys: a bad PEM never gets here
  const now = Date.now();
  if (now < Date.parse(cert.validFrom)) return `the client certificate is not valid before ${new Date(cert.validFrom).toISOString()}`;
  if (now > Date.parse(cert.validTo)) return `the client certificate expired on ${new Date(cert.validTo).toISOString()}`;
  return undefined;
}

// ---- shapes of ESIA's answers ----

function personJson(p: FakePerson, scopes: string[]): Record<string, unknown> {
  const has = (s: string) => scopes.includes(s);
  const fields: Record<string, unknown> = {
    ...(has('fullname') && { firstName: p.firstName, lastName: p.lastName, ...(p.middleName && { middleName: p.middleName }) }),
    ...(has('birthdate') && p.birthDate && { birthDate: p.birthDate }),
    ...(has('gender') && p.gender && { gender: p.gender }),
    trusted: p.trusted,
    ...(has('snils') && p.snils && { snils: p.snils }),
    updatedOn: UPDATED_ON,
    status: 'REGISTERED',
    verifying: false,
    containsUpCfmCode: false,
  };
  return { stateFacts: ['EntityRoot'], eTag: etag(fields), ...fields };
}

function contactJson(c: FakeContact & { id: number }): Record<string, unknown> {
  return { stateFacts: ['Identifiable'], id: c.id, type: c.type, vrfStu: c.vrfStu, value: c.value };
}

function collection(elements: unknown[], embedded: boolean): Record<string, unknown> {
  return { stateFacts: ['hasSize'], size: elements.length, ...(embedded && { eTag: etag(elements) }), elements };
}

const etag = (v: unknown) => createHash('sha1').update(JSON.stringify(v)).digest('hex').toUpperCase();

// ---- HTTP helpers ----

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY) {
        req.off('data', onData);
        req.resume(); // drain without keeping it
        resolve(undefined);
        return;
      }
      chunks.push(d);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
}

function forbidden(res: ServerResponse, why: string): void {
  json(res, 403, { error: 'forbidden', error_description: `ESIA-007019: No permission to access (fake ESIA: ${why})` });
}

function page(res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  }).end(html);
}

/** To the system's (registered) redirect URI, keeping any query it has. */
function redirect(res: ServerResponse, to: string, params: Record<string, string>, headers: Record<string, string> = {}): void {
  const url = new URL(to);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  res.writeHead(302, { Location: url.toString(), 'Cache-Control': 'no-store', ...headers }).end();
}
