/**
 * The service's settings: defaults from `config/default.ts`, overridden by environment
 * variables, validated once with one schema. A bad value stops the start with one line that
 * names the variable.
 */
import { z } from 'zod';
import path from 'node:path';
import defaults from '../../config/default.js';
import { loadSecrets, readVar, type Secrets } from './secrets.js';
import { ConfigError } from './error.js';
import { resourceServersSchema } from '../oidc/resource-servers.js';

export { ConfigError };

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'].includes(v), 'must be true or false')
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));
const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
const httpUrl = z
  .string()
  .trim()
  .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), 'must be an http(s) URL');
const list = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));

/** Environment variable → (schema, where it goes). */
const ENV = {
  NODE_ENV: z.enum(['development', 'production', 'test'], 'must be development, production or test'),
  HOST: z.string().trim().min(1),
  PORT: int(0, 65535),
  ISSUER: httpUrl.refine((v) => !new URL(v).search && !new URL(v).hash, 'must have no query or fragment'),
  DATA_DIR: z.string().trim().min(1),
  DATABASE_URL: z
    .string()
    .trim()
    .refine((v) => /^postgres(ql)?:\/\//.test(v) && URL.canParse(v), 'must be a postgres:// URL'),
  DB_POOL_MAX: int(1, 500),
  MIGRATE_ON_START: bool,
  TRUST_PROXY: bool,
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent'], 'must be debug, info, warn, error or silent'),
  DEMO: bool,
  SCHOOL_HOST_DOMAIN: z.string().trim().toLowerCase().regex(/^[a-z0-9.-]+$/, 'must be a domain name'),
  BACKCHANNEL_ALLOWED_HOSTS: list,
  ARGON2_MEMORY_KIB: int(8192, 4 * 1024 * 1024),
  ARGON2_TIME_COST: int(1, 20),
  ARGON2_PARALLELISM: int(1, 16),
  PASSWORD_HASH_CONCURRENCY: int(0, 256),
  PASSWORD_HASH_MAX_WAIT_MS: int(100, 60_000),
  REFRESH_REUSE_GRACE_SECONDS: int(0, 5),
  PASSWORD_MIN_LENGTH: int(6, 64),
  PASSWORD_ALLOW_SYMBOLS: bool,
  PASSWORD_FORBID_COMMON: bool,
  INVITE_CODE_LENGTH: int(7, 32),
  INVITE_TTL_DAYS: int(0, 3650),
  INVITE_MAX_PARENTS_PER_CHILD: int(1, 20),
  PRIVACY_POLICY_VERSION: z.string().trim().min(1).max(40),
  JOURNAL_URL: httpUrl,
  SMTP_URL: z.string().trim().refine((v) => URL.canParse(v) && /^smtps?:$/.test(new URL(v).protocol), 'must be an smtp:// or smtps:// URL'),
  MAIL_FROM: z.string().trim().min(3).max(200).refine((v) => /@/.test(v) && !/[\r\n]/.test(v), 'must be an address such as "Журнал <no-reply@school.ru>"'),
  MAIL_MAX_ATTEMPTS: int(1, 50),
  MAIL_BACKOFF_BASE_SECONDS: int(0, 86400),
  MAIL_POLL_SECONDS: int(1, 3600),
  RUN_WORKERS: bool,
  ESIA_PRESET: z.enum(['test', 'production', 'local'], 'must be test, production or local'),
  ESIA_CLIENT_ID: z.string().trim().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be the mnemonic of the information system, such as JOURNAL01'),
  ESIA_URL: httpUrl,
  ESIA_ISSUER: httpUrl,
  ESIA_SCOPE: z.string().trim().regex(/^[\w.:?=-]+( [\w.:?=-]+)*$/, 'must be space-separated scope names').refine((v) => v.split(' ').includes('openid'), 'must include openid'),
  ESIA_CERTS: list.pipe(z.array(z.string().min(1)).min(1, 'must list at least one certificate file')),
  ESIA_REDIRECT_URI: httpUrl,
  ESIA_SIGNER: z.enum(['openssl-gost', 'http', 'dev'], 'must be openssl-gost, http or dev'),
  ESIA_KEY_FILE: z.string().trim().min(1),
  ESIA_CERT_FILE: z.string().trim().min(1),
  ESIA_OPENSSL: z.string().trim().min(1),
  ESIA_SIGNER_URL: httpUrl,
  ESIA_CERT_HASH: z.string().trim().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits'),
  ESIA_TIMEOUT_MS: int(500, 60000),
  ESIA_SIGNER_TIMEOUT_MS: int(100, 30000),
  ESIA_LEEWAY_SECONDS: int(0, 600),
  ESIA_PKCE: bool,
  ESIA_LOGOUT: bool,
  LEAVER_GRACE_DAYS: int(0, 3650),
  AUDIT_ADDRESS_DAYS: int(1, 3650),
  LOGIN_THROTTLE_FREE: int(1, 100),
  LOGIN_THROTTLE_BASE_DELAY_SECONDS: int(1, 3600),
  LOGIN_THROTTLE_MAX_DELAY_SECONDS: int(1, 3600),
  LOGIN_THROTTLE_ADDRESS_FREE: int(1, 1_000_000),
  LOGIN_THROTTLE_ADDRESS_MAX_DELAY_SECONDS: int(1, 3600),
  LOGIN_DEVICE_COOKIE_DAYS: int(1, 3650),
  CONSOLE_IDLE_MINUTES: int(1, 24 * 60),
  CONSOLE_ABSOLUTE_HOURS: int(1, 7 * 24),
  MFA_REQUIRED_ROLES: list.pipe(z.array(z.string().regex(/^[a-z_]{1,40}$/, 'must list role names such as curator,admin'))),
  KEYS_PUBLISH_DELAY_SECONDS: int(0, 7 * 24 * 3600),
  KEYS_POLL_SECONDS: int(1, 3600),
  SESSION_TTL: int(60, 365 * 24 * 3600),
  ACCESS_TOKEN_TTL: int(60, 24 * 3600),
  REFRESH_TOKEN_TTL: int(60, 365 * 24 * 3600),
  JOURNAL_WEB_REDIRECT_URIS: list.pipe(z.array(httpUrl).min(1, 'must list at least one URL')),
  JOURNAL_WEB_POST_LOGOUT_REDIRECT_URIS: list.pipe(z.array(httpUrl)),
  JOURNAL_WEB_BACKCHANNEL_LOGOUT_URI: httpUrl,
  DIARY_APP_REDIRECT_URIS: list.pipe(z.array(z.string().min(1)).min(1)),
  TEACHER_APP_REDIRECT_URIS: list.pipe(z.array(z.string().min(1)).min(1)),
  RESOURCE_SERVERS: resourceServersSchema,
  METRICS_TOKEN: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._~+/-]{32,512}=*$/, 'must be at least 32 characters of letters, digits and - . _ ~ + / (openssl rand -hex 32)'),
} as const;

type Env = { [K in keyof typeof ENV]?: z.output<(typeof ENV)[K]> };
type Defaults = typeof defaults;

export type Config = Omit<Defaults, 'issuer' | 'nodeEnv' | 'logLevel'> & {
  nodeEnv: 'development' | 'production' | 'test';
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  issuer: string;
  /** true when no DATABASE_URL is set: the embedded PGlite database in the data folder. */
  embedded: boolean;
  /** The bearer token /metrics asks for; without it only loopback peers not behind the proxy are answered. */
  metricsToken: string | undefined;
  dev: boolean;
  secrets: Secrets;
};

function parseEnv(source: Record<string, string | undefined>): Env {
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(ENV)) {
    const raw = source[name];
    if (raw === undefined || raw === '') continue;
    const parsed = (schema as z.ZodType).safeParse(raw);
    if (!parsed.success) {
      const shown = /SECRET|KEY|PASSWORD|PEPPER|TOKEN|DATABASE_URL|SMTP_URL/.test(name) ? '' : ` (got "${raw.slice(0, 80)}")`;
      throw new ConfigError(`config: ${name} ${parsed.error.issues[0]?.message ?? 'is invalid'}${shown}`);
    }
    out[name] = parsed.data;
  }
  return out as Env;
}

/** ESIA's hosts per preset: the token `iss` is http:// with a trailing slash (notes/esia.md §1). */
const ESIA_PRESETS = {
  test: { url: 'https://esia-portal1.test.gosuslugi.ru', issuer: 'http://esia-portal1.test.gosuslugi.ru/' },
  production: { url: 'https://esia.gosuslugi.ru', issuer: 'http://esia.gosuslugi.ru/' },
  local: { url: 'http://127.0.0.1:7000', issuer: 'http://127.0.0.1:7000/' },
} as const;

function esiaSettings(e: Env, dataDir: string, nodeEnv: string): Defaults['esia'] {
  const d = defaults.esia;
  const preset = e.ESIA_PRESET ?? d.preset;
  if (preset === 'local' && nodeEnv === 'production') throw new ConfigError('config: ESIA_PRESET=local is the fake ESIA, not for production');
  const local = preset === 'local';
  const url = (e.ESIA_URL ?? ESIA_PRESETS[preset].url).replace(/\/$/, '');
  return {
    ...d,
    preset,
    // The local preset works out of the box with `npm run esia:fake` and its default mnemonic.
    clientId: e.ESIA_CLIENT_ID ?? (local ? 'JOURNALID' : d.clientId),
    url,
    issuer: e.ESIA_ISSUER ?? (e.ESIA_URL ? `${url}/` : ESIA_PRESETS[preset].issuer),
    scope: e.ESIA_SCOPE ?? d.scope,
    certFiles: e.ESIA_CERTS ?? (local ? [path.join(dataDir, 'fake-esia', 'esia-cert.pem')] : d.certFiles),
    redirectUri: e.ESIA_REDIRECT_URI ?? d.redirectUri,
    signer: e.ESIA_SIGNER ?? (local ? 'dev' : d.signer),
    keyFile: e.ESIA_KEY_FILE ?? (local ? path.join(dataDir, 'esia', 'client-key.pem') : d.keyFile),
    certFile: e.ESIA_CERT_FILE ?? (local ? path.join(dataDir, 'esia', 'client-cert.pem') : d.certFile),
    openssl: e.ESIA_OPENSSL ?? d.openssl,
    signerUrl: e.ESIA_SIGNER_URL ?? d.signerUrl,
    certHash: e.ESIA_CERT_HASH ?? d.certHash,
    timeoutMs: e.ESIA_TIMEOUT_MS ?? d.timeoutMs,
    signerTimeoutMs: e.ESIA_SIGNER_TIMEOUT_MS ?? d.signerTimeoutMs,
    leewaySeconds: e.ESIA_LEEWAY_SECONDS ?? d.leewaySeconds,
    pkce: e.ESIA_PKCE ?? d.pkce,
    logout: e.ESIA_LOGOUT ?? d.logout,
  };
}

/**
 * The password-login policies: per account, per (address, login) and per known device the same
 * free tries and waits (the longest wait is the temporary lockout; never longer than an hour),
 * per address a high threshold and short waits (a whole school behind one NAT).
 */
function loginThrottle(e: Env): Defaults['throttle'] {
  const d = defaults.throttle;
  const perLogin = (p: Defaults['throttle']['account']) => ({
    ...p,
    free: e.LOGIN_THROTTLE_FREE ?? p.free,
    baseDelaySeconds: e.LOGIN_THROTTLE_BASE_DELAY_SECONDS ?? p.baseDelaySeconds,
    maxDelaySeconds: e.LOGIN_THROTTLE_MAX_DELAY_SECONDS ?? p.maxDelaySeconds,
  });
  const out = {
    ...d,
    account: perLogin(d.account),
    addressLogin: perLogin(d.addressLogin),
    device: perLogin(d.device),
    address: {
      ...d.address,
      free: e.LOGIN_THROTTLE_ADDRESS_FREE ?? d.address.free,
      maxDelaySeconds: e.LOGIN_THROTTLE_ADDRESS_MAX_DELAY_SECONDS ?? d.address.maxDelaySeconds,
    },
  };
  if (out.account.baseDelaySeconds > out.account.maxDelaySeconds) {
    throw new ConfigError('config: LOGIN_THROTTLE_BASE_DELAY_SECONDS must not exceed LOGIN_THROTTLE_MAX_DELAY_SECONDS');
  }
  if (out.address.baseDelaySeconds > out.address.maxDelaySeconds) {
    throw new ConfigError(`config: LOGIN_THROTTLE_ADDRESS_MAX_DELAY_SECONDS must be at least ${out.address.baseDelaySeconds}`);
  }
  return out;
}

/** Reads and validates the configuration. `overrides` lets tests and tools replace parts. */
export function loadConfig(
  source: Record<string, string | undefined> = process.env,
  overrides: Partial<Config> = {},
): Config {
  // METRICS_TOKEN may come from a file (METRICS_TOKEN_FILE), like the secrets.
  const e = parseEnv({ ...source, METRICS_TOKEN: readVar(source, 'METRICS_TOKEN') });
  const nodeEnv = e.NODE_ENV ?? (defaults.nodeEnv as Config['nodeEnv']);
  const port = e.PORT ?? defaults.port;
  const dataDir = path.resolve(e.DATA_DIR ?? defaults.dataDir);
  const fp = defaults.firstPartyClients;
  const base = {
    ...defaults,
    nodeEnv,
    host: e.HOST ?? defaults.host,
    port,
    issuer: (e.ISSUER ?? `http://localhost:${port}`).replace(/\/$/, ''),
    dataDir,
    databaseUrl: e.DATABASE_URL,
    dbPoolMax: e.DB_POOL_MAX ?? defaults.dbPoolMax,
    migrateOnStart: e.MIGRATE_ON_START ?? defaults.migrateOnStart,
    trustProxy: e.TRUST_PROXY ?? defaults.trustProxy,
    logLevel: e.LOG_LEVEL ?? (defaults.logLevel as Config['logLevel']),
    // On PostgreSQL only when asked for (DEMO=true: docker compose's local stack); never in production.
    demo: nodeEnv !== 'production' && (e.DEMO ?? (!e.DATABASE_URL && defaults.demo)),
    schoolHostDomain: e.SCHOOL_HOST_DOMAIN,
    backchannelAllowedHosts: e.BACKCHANNEL_ALLOWED_HOSTS ?? defaults.backchannelAllowedHosts,
    password: {
      ...defaults.password,
      argon2MemoryKiB: e.ARGON2_MEMORY_KIB ?? defaults.password.argon2MemoryKiB,
      argon2TimeCost: e.ARGON2_TIME_COST ?? defaults.password.argon2TimeCost,
      argon2Parallelism: e.ARGON2_PARALLELISM ?? defaults.password.argon2Parallelism,
      hashConcurrency: e.PASSWORD_HASH_CONCURRENCY ?? defaults.password.hashConcurrency,
      hashMaxWaitMs: e.PASSWORD_HASH_MAX_WAIT_MS ?? defaults.password.hashMaxWaitMs,
      minLength: e.PASSWORD_MIN_LENGTH ?? defaults.password.minLength,
      allowSymbols: e.PASSWORD_ALLOW_SYMBOLS ?? defaults.password.allowSymbols,
      forbidCommon: e.PASSWORD_FORBID_COMMON ?? defaults.password.forbidCommon,
    },
    invites: {
      ...defaults.invites,
      codeLength: e.INVITE_CODE_LENGTH ?? defaults.invites.codeLength,
      ttlDays: e.INVITE_TTL_DAYS ?? defaults.invites.ttlDays,
      maxParentsPerChild: e.INVITE_MAX_PARENTS_PER_CHILD ?? defaults.invites.maxParentsPerChild,
    },
    privacyPolicyVersion: e.PRIVACY_POLICY_VERSION ?? defaults.privacyPolicyVersion,
    journalUrl: e.JOURNAL_URL ?? defaults.journalUrl,
    runWorkers: e.RUN_WORKERS ?? defaults.runWorkers,
    mail: {
      ...defaults.mail,
      smtpUrl: e.SMTP_URL ?? defaults.mail.smtpUrl,
      from: e.MAIL_FROM ?? defaults.mail.from,
      maxAttempts: e.MAIL_MAX_ATTEMPTS ?? defaults.mail.maxAttempts,
      backoffBaseSeconds: e.MAIL_BACKOFF_BASE_SECONDS ?? defaults.mail.backoffBaseSeconds,
      pollSeconds: e.MAIL_POLL_SECONDS ?? defaults.mail.pollSeconds,
    },
    esia: esiaSettings(e, dataDir, nodeEnv),
    retention: {
      ...defaults.retention,
      leaverGraceDays: e.LEAVER_GRACE_DAYS ?? defaults.retention.leaverGraceDays,
      auditAddressDays: e.AUDIT_ADDRESS_DAYS ?? defaults.retention.auditAddressDays,
    },
    throttle: loginThrottle(e),
    deviceCookieDays: e.LOGIN_DEVICE_COOKIE_DAYS ?? defaults.deviceCookieDays,
    console: {
      idleMinutes: e.CONSOLE_IDLE_MINUTES ?? defaults.console.idleMinutes,
      absoluteHours: e.CONSOLE_ABSOLUTE_HOURS ?? defaults.console.absoluteHours,
    },
    mfa: { ...defaults.mfa, requiredRoles: e.MFA_REQUIRED_ROLES ?? defaults.mfa.requiredRoles },
    ttl: {
      ...defaults.ttl,
      session: e.SESSION_TTL ?? defaults.ttl.session,
      accessToken: e.ACCESS_TOKEN_TTL ?? defaults.ttl.accessToken,
      refreshToken: e.REFRESH_TOKEN_TTL ?? defaults.ttl.refreshToken,
    },
    refreshReuseGraceSeconds: e.REFRESH_REUSE_GRACE_SECONDS ?? defaults.refreshReuseGraceSeconds,
    resourceServers: e.RESOURCE_SERVERS ?? defaults.resourceServers,
    metricsToken: e.METRICS_TOKEN,
    keys: {
      publishDelaySeconds: e.KEYS_PUBLISH_DELAY_SECONDS ?? defaults.keys.publishDelaySeconds,
      pollSeconds: e.KEYS_POLL_SECONDS ?? defaults.keys.pollSeconds,
    },
    firstPartyClients: {
      journalWeb: {
        ...fp.journalWeb,
        redirectUris: e.JOURNAL_WEB_REDIRECT_URIS ?? fp.journalWeb.redirectUris,
        postLogoutRedirectUris: e.JOURNAL_WEB_POST_LOGOUT_REDIRECT_URIS ?? fp.journalWeb.postLogoutRedirectUris,
        backchannelLogoutUri: e.JOURNAL_WEB_BACKCHANNEL_LOGOUT_URI ?? fp.journalWeb.backchannelLogoutUri,
      },
      diaryApp: { ...fp.diaryApp, redirectUris: e.DIARY_APP_REDIRECT_URIS ?? fp.diaryApp.redirectUris },
      teacherApp: { ...fp.teacherApp, redirectUris: e.TEACHER_APP_REDIRECT_URIS ?? fp.teacherApp.redirectUris },
    },
    ...overrides,
  };
  const dev = base.nodeEnv !== 'production';
  if (!dev && !base.mail.smtpUrl) {
    throw new ConfigError('config: SMTP_URL is required in production (letters must not go nowhere)');
  }
  if (!dev && !base.issuer.startsWith('https://')) {
    throw new ConfigError('config: ISSUER must be an https:// URL in production');
  }
  // journal-id speaks plain HTTP; TLS ends at a proxy. Without trusting it, the app cannot tell
  // the connection is secure: cookies would go out without Secure and HSTS would never be sent.
  if (!dev && !base.trustProxy) {
    throw new ConfigError('config: TRUST_PROXY must be true in production (journal-id serves HTTP behind a TLS-terminating proxy; without it cookies lose Secure and HSTS is not sent)');
  }
  if (!dev && base.esia.clientId && base.esia.signer === 'dev') {
    throw new ConfigError('config: ESIA_SIGNER=dev signs for the fake ESIA only; production needs openssl-gost or http');
  }
  // An idle limit past the absolute one would never apply: a typo, say so rather than run with it.
  if (base.console.idleMinutes > base.console.absoluteHours * 60) {
    throw new ConfigError('config: CONSOLE_IDLE_MINUTES must not exceed CONSOLE_ABSOLUTE_HOURS × 60');
  }
  if (base.ttl.grant < Math.max(base.ttl.refreshToken, base.ttl.refreshTokenNative)) {
    throw new ConfigError('config: the grant TTL must be at least the longest refresh-token TTL');
  }
  const secrets = overrides.secrets ?? loadSecrets(source, { dataDir: base.dataDir, dev });
  return { ...base, embedded: !base.databaseUrl, dev, secrets } as Config;
}
