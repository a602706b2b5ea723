/**
 * Defaults of every setting. Each one can be overridden by the environment variable named in
 * `src/config/env.ts` (see README, "Configuration"). Durations are in seconds.
 */
import type { ResourceServer } from '../src/oidc/resource-servers.js';

export default {
  nodeEnv: 'development',
  host: '0.0.0.0',
  port: 3000,
  /** Public URL of the provider; defaults to http://localhost:<port>. */
  issuer: undefined as string | undefined,
  dataDir: './data',
  databaseUrl: undefined as string | undefined,
  dbPoolMax: 10,
  migrateOnStart: true,
  trustProxy: false,
  logLevel: 'info',
  /** Seed a demo school, client and accounts on the first development start. */
  demo: true,
  /** Domain whose sub-domains are schools' own addresses: 1399.<domain> (e.g. "eljur.ru"). */
  schoolHostDomain: undefined as string | undefined,
  /**
   * Hosts allowed to receive back-channel logout although they resolve to private addresses:
   * loopback, so that the sample relying party (`npm run example`) gets its logout tokens.
   * Development and tests only: production ignores the list (src/oidc/provider.ts, clients/manage.ts).
   */
  backchannelAllowedHosts: ['localhost', '127.0.0.1'] as string[],

  password: {
    // OWASP Password Storage Cheat Sheet, argon2id, second option.
    argon2MemoryKiB: 19456,
    argon2TimeCost: 2,
    argon2Parallelism: 1,
    /** argon2 hashes at once; 0: one per core the process may use (within UV_THREADPOOL_SIZE). */
    hashConcurrency: 0,
    /**
     * The longest a hash waits for its turn: when logins arrive faster than the cores hash them,
     * the excess is refused at once with 503 and Retry-After instead of waiting until it times out.
     */
    hashMaxWaitMs: 2000,
    minLength: 8,
    maxLength: 128,
    /** The FAQ's rule: letters and digits only («не должно быть специальных знаков»). */
    allowSymbols: false,
    /** Refuse passwords from the list of the most common ones (zxcvbn's list, keyboard layouts too). */
    forbidCommon: true,
  },

  ttl: {
    accessToken: 3600,
    authorizationCode: 60,
    clientCredentials: 600,
    idToken: 3600,
    interaction: 3600,
    /** Browser session with «Запомнить меня». */
    session: 14 * 24 * 3600,
    /** Refresh tokens of web clients. */
    refreshToken: 30 * 24 * 3600,
    /** Refresh tokens of native apps: long-lived, but they die when unused for `refreshTokenIdleNative`. */
    refreshTokenNative: 180 * 24 * 3600,
    refreshTokenIdleNative: 30 * 24 * 3600,
    /** Absolute cap of a grant; must be ≥ the longest refresh-token life. */
    grant: 180 * 24 * 3600,
  },

  /** Seconds during which a just-used refresh token is still accepted (parallel tabs). At most 5. */
  refreshReuseGraceSeconds: 3,

  /**
   * The journal's APIs that take JWT access tokens (RFC 8707 `resource`, RFC 9068): none by
   * default. RESOURCE_SERVERS='[{"uri":"https://api.journal.example/","scopes":["grades:read"]}]'.
   */
  resourceServers: [] as ResourceServer[],

  keys: {
    /** Seconds a new key is published in JWKS before it signs (RP caches). */
    publishDelaySeconds: 3600,
    /** How often nodes look for a changed key set. */
    pollSeconds: 30,
  },

  throttle: {
    /** Per account (school + login): free tries, then growing delays up to a temporary lockout. */
    account: { free: 5, baseDelaySeconds: 2, maxDelaySeconds: 900, forgetAfterSeconds: 3600 },
    /** Per (address, login). */
    addressLogin: { free: 5, baseDelaySeconds: 2, maxDelaySeconds: 900, forgetAfterSeconds: 3600 },
    /** Per address: a whole school sits behind one NAT, so it only slows down, late and briefly. */
    address: { free: 300, baseDelaySeconds: 1, maxDelaySeconds: 30, forgetAfterSeconds: 900 },
    /**
     * Invite codes, per address: only wrong codes count, and a whole school registers from one
     * NAT in September, so the threshold is high; a guesser still meets growing waits.
     */
    inviteAddress: { free: 60, baseDelaySeconds: 1, maxDelaySeconds: 120, forgetAfterSeconds: 900 },
    /** Recovery requests per client address. */
    recoverAddress: { free: 20, baseDelaySeconds: 2, maxDelaySeconds: 600, forgetAfterSeconds: 3600 },
    /** Recovery requests per typed email address (known or not: the answer must not differ). */
    recoverEmail: { free: 3, baseDelaySeconds: 60, maxDelaySeconds: 3600, forgetAfterSeconds: 86400 },
    /** Second-factor codes per account: six digits must not be guessable (10⁶ codes, ±1 step). */
    mfa: { free: 5, baseDelaySeconds: 5, maxDelaySeconds: 900, forgetAfterSeconds: 3600 },
    /** Gosuslugi logins per client address (starts and callbacks; refunded when they succeed). */
    esiaAddress: { free: 60, baseDelaySeconds: 1, maxDelaySeconds: 300, forgetAfterSeconds: 900 },
    /** Per invite code: every submission of one code (a code found on a lost sheet, a looping script). */
    inviteCode: { free: 10, baseDelaySeconds: 2, maxDelaySeconds: 600, forgetAfterSeconds: 3600 },
    /**
     * Per known device (a browser holding the account's device cookie): counted instead of the
     * account and the addresses, so attackers who locked the account out do not lock its owner out.
     */
    device: { free: 5, baseDelaySeconds: 2, maxDelaySeconds: 900, forgetAfterSeconds: 3600 },
  },

  /** Days a known-device cookie lives after the last password login in that browser. */
  deviceCookieDays: 365,

  /**
   * The console's sessions (/console, /console/platform), kept server-side: they end after
   * `idleMinutes` without a request, and `absoluteHours` after the login at the latest.
   */
  console: { idleMinutes: 30, absoluteHours: 8 },

  invites: {
    /** Random characters after the two-letter role prefix (the FAQ's codes have 7; at least 7). */
    codeLength: 10,
    /** Days a new code stays valid; 0: until used or revoked. */
    ttlDays: 365,
    /** Parent codes that may exist (unrevoked) for one child, and so guardians per child. */
    maxParentsPerChild: 4,
    /** Extra child codes one registration may carry («Дети»). */
    maxChildCodes: 8,
  },

  /**
   * The journal's own address, where a person who registered outside an app goes to log in;
   * defaults to the journal web app's post-logout address.
   */
  journalUrl: undefined as string | undefined,

  /** Version of the personal-data processing policy (/privacy) that registrations consent to. */
  privacyPolicyVersion: '2026-09-01',

  /** Run the background queues (mail, recovery, back-channel logout, purge) on this node. */
  runWorkers: true,

  /**
   * «Войти через Госуслуги» (ESIA). Off until `clientId` (the information system's mnemonic) is
   * set. A preset fills the hosts: `test` (ТЕСИА), `production`, or `local` (the fake ESIA of
   * `npm run esia:fake`, development only). See docs/esia.md.
   */
  esia: {
    preset: 'test' as 'test' | 'production' | 'local',
    clientId: undefined as string | undefined,
    /** ESIA's base URL and its token `iss` (http://, trailing slash); from the preset unless set. */
    url: undefined as string | undefined,
    issuer: undefined as string | undefined,
    /** The same string goes into the request, the token exchange and the signed message. */
    scope: 'openid fullname snils email mobile',
    /** PEM files of ESIA's token-signing certificates (no JWKS: ESIA publishes certificates and rotates them). */
    certFiles: [] as string[],
    /** Registered on ESIA's technology portal; default <issuer>/esia/callback. */
    redirectUri: undefined as string | undefined,
    /** openssl-gost (production), http (a signing service such as a CryptoPro sidecar), dev (RSA/ECDSA, the fake only). */
    signer: 'openssl-gost' as 'openssl-gost' | 'http' | 'dev',
    keyFile: undefined as string | undefined,
    certFile: undefined as string | undefined,
    openssl: 'openssl',
    signerUrl: undefined as string | undefined,
    /** client_certificate_hash for the http signer (64 hex, GOST R 34.11-2012 of the DER certificate). */
    certHash: undefined as string | undefined,
    /** Bound on the whole callback's traffic to ESIA (token exchange, person, contacts). */
    timeoutMs: 8000,
    /** Bound on one answer of the signing service (ESIA_SIGNER=http); a signature takes milliseconds. */
    signerTimeoutMs: 3000,
    /** Clock skew tolerated on ESIA's tokens (seconds). */
    leewaySeconds: 60,
    /**
     * Send a PKCE challenge (S256) in the authorization request. Off: no public ESIA client shows
     * ESIA accepting `code_challenge_method=S256`; turn it on once the test ESIA has (docs/esia.md).
     */
    pkce: false,
    /**
     * A logout of a session that began with Gosuslugi also ends the ESIA session
     * (/idp/ext/Logout), so a shared computer does not stay logged in to Gosuslugi.
     */
    logout: true,
  },

  /**
   * The second factor (TOTP). Accounts with one of `requiredRoles` must use it at every password
   * login (a Gosuslugi login counts as strong already); anyone else may turn it on at /account.
   */
  mfa: {
    requiredRoles: ['curator', 'admin', 'support'] as string[],
    /** The name authenticator apps show next to the login. */
    issuerName: 'Электронный журнал',
  },

  /** Personal data kept no longer than needed (152-ФЗ). */
  retention: {
    /** Days after a pupil or staff member leaves the school (roster) before their account is disabled. */
    leaverGraceDays: 30,
    /** Days after which audit entries keep a pseudonym instead of the client address. */
    auditAddressDays: 180,
    /** How often a node looks for work (seconds). */
    pollSeconds: 3600,
  },

  /** Purge of expired oidc rows and throttle counters. */
  purgeIntervalSeconds: 600,

  /**
   * Outgoing mail. Without `smtpUrl` (development only) letters are written as .eml files into
   * <dataDir>/mail; production refuses to start without SMTP.
   */
  mail: {
    smtpUrl: undefined as string | undefined,
    from: 'Электронный журнал <no-reply@localhost>',
    maxAttempts: 8,
    /** Waits between attempts: base · 2^(attempt − 1), at most max. */
    backoffBaseSeconds: 30,
    backoffMaxSeconds: 3600,
    /** How long a node owns a letter it is sending before another may take it over. */
    leaseSeconds: 120,
    pollSeconds: 5,
  },

  /** Links sent by mail: setting a new password, confirming an address. */
  links: {
    recoverTtlSeconds: 3600,
    verifyTtlSeconds: 3 * 24 * 3600,
  },

  /** Back-channel logout queue. */
  backchannel: { maxAttempts: 6, pollSeconds: 5 },

  /**
   * First-party clients. They skip consent. Redirect URIs and the web app's secret come from the
   * environment (see README); these are development defaults.
   */
  firstPartyClients: {
    journalWeb: {
      clientId: 'journal-web',
      name: 'Электронный журнал',
      redirectUris: ['http://localhost:8080/callback'],
      postLogoutRedirectUris: ['http://localhost:8080/'],
      backchannelLogoutUri: undefined as string | undefined,
    },
    diaryApp: {
      clientId: 'diary-app',
      name: 'ЭлЖур.Дневник',
      redirectUris: ['ru.journal.diary:/oauth2redirect', 'http://127.0.0.1/oauth2redirect'],
    },
    teacherApp: {
      clientId: 'teacher-app',
      name: 'ЭлЖур.Учитель',
      redirectUris: ['ru.journal.teacher:/oauth2redirect', 'http://127.0.0.1/oauth2redirect'],
    },
  },
};
