/**
 * The process's Prometheus registry: Node's default process metrics and journal-id's series. One
 * per process (module state): with `serve --workers N` each worker counts its own and the primary
 * adds them up at scrape time (cluster.ts).
 *
 * Labels only ever hold values of closed sets written here: whatever a caller passes is mapped
 * through `oneOf`, and anything unknown becomes `other`. A login, an address, an id or a code can
 * therefore never become a label value (nor a new series per person).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Knex } from 'knex';

export const OTHER = 'other';

/** `value` when it is one of `allowed`, else `other`. */
export function oneOf<T extends string>(allowed: readonly T[], value: unknown): T | typeof OTHER {
  return typeof value === 'string' && (allowed as readonly string[]).includes(value) ? (value as T) : OTHER;
}

export const LOGIN_METHODS = ['password', 'esia', 'otp'] as const;
export const LOGIN_OUTCOMES = [
  'success',
  /** The password was right; the login goes on to the second factor (method otp). */
  'mfa_required',
  /** Unknown login or wrong password (wrong code for otp, wrong password when linking ESIA). */
  'bad_credentials',
  /** A wrong password that started the account's brute-force wait. */
  'locked',
  'disabled',
  /** Refused by the throttle before the password (or code) was checked. */
  'throttled',
  /** More logins than the cores can hash: told to come back (503). */
  'busy',
  /** The form came without a login or a password. */
  'invalid_request',
  /** ESIA: the person refused, or ESIA refused the request. */
  'denied',
  /** ESIA: its answer could not be trusted or used. */
  'failed',
  'unavailable',
  /** ESIA: nobody here matches the person's verified data. */
  'no_match',
  /** ESIA: a callback with a forged, replayed or expired state. */
  'bad_state',
] as const;

export const REGISTRATION_METHODS = ['invite'] as const;
export const REGISTRATION_OUTCOMES = [
  'success',
  /** Empty, malformed, unknown or another system's code. */
  'invalid_code',
  /** The code, or the person it is for, already has an account. */
  'code_used',
  /** Expired or revoked. */
  'code_expired',
  'throttled',
  /** The details form did not pass (login, password rule, email, children's codes…). */
  'invalid_input',
  'login_taken',
] as const;

export const RECOVERY_STEPS = ['requested', 'letter', 'completed'] as const;
export const RECOVERY_OUTCOMES = [
  /** requested: the request was recorded (known address or not: the page is the same). */
  'accepted',
  'invalid_email',
  'throttled',
  /** letter: a letter with links went to a confirmed address. */
  'sent',
  /** letter: no account has that confirmed address (no letter). */
  'no_account',
  /** completed: a new password was set from a link. */
  'success',
  'invalid_link',
  /** completed: the new password broke the rule or was the old one. */
  'rejected_password',
] as const;

export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;

/** What a throttle key counts (throttle/keys.ts and its callers), by the key's prefix. */
const THROTTLE_SCOPES: readonly (readonly [string, string])[] = [
  ['login:acct:', 'login_account'],
  ['login:ipacct:', 'login_address_login'],
  ['login:ip:', 'login_address'],
  ['login:device:', 'login_device'],
  ['mfa:acct:', 'mfa_account'],
  ['mfa:device:', 'mfa_device'],
  ['esia:ip:', 'esia_address'],
  ['invite:ip:', 'invite_address'],
  ['invite:code:', 'invite_code'],
  ['recover:ip:', 'recover_address'],
  ['recover:email:', 'recover_email'],
];

export function throttleScope(key: string): string {
  return THROTTLE_SCOPES.find(([prefix]) => key.startsWith(prefix))?.[1] ?? OTHER;
}

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const logins = new Counter({
  name: 'logins_total',
  help: 'Login attempts by method (password, esia, otp: the second factor) and outcome',
  labelNames: ['method', 'outcome'] as const,
  registers: [registry],
});

export const registrations = new Counter({
  name: 'registrations_total',
  help: 'Registration attempts by method (invite code) and outcome',
  labelNames: ['method', 'outcome'] as const,
  registers: [registry],
});

export const recoveries = new Counter({
  name: 'recoveries_total',
  help: 'Password recovery by step (requested, letter, completed) and outcome',
  labelNames: ['step', 'outcome'] as const,
  registers: [registry],
});

export const tokensIssued = new Counter({
  name: 'tokens_issued_total',
  help: 'Successful token endpoint responses by grant type',
  labelNames: ['grant_type'] as const,
  registers: [registry],
});

export const throttledRequests = new Counter({
  name: 'throttled_requests_total',
  help: 'Attempts refused by the throttle, by what the refusing counter counts',
  labelNames: ['scope'] as const,
  registers: [registry],
});

export const httpDuration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'Time to answer a request, by method, matched route pattern (never the raw path) and status class',
  labelNames: ['method', 'route', 'status_class'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

/** The knex pools of this process (one per served app; PGlite's has one connection). */
const pools = new Set<Knex>();

export function watchPool(db: Knex): void {
  pools.add(db);
}

interface TarnPool {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

new Gauge({
  name: 'db_pool_connections',
  help: 'Database connections of this process by state: used (checked out), free (idle), pending (requests waiting for one)',
  labelNames: ['state'] as const,
  registers: [registry],
  aggregator: 'sum',
  collect() {
    let used = 0;
    let free = 0;
    let pending = 0;
    for (const db of pools) {
      const pool = (db.client as { pool?: TarnPool }).pool;
      if (!pool) {
        pools.delete(db); // destroyed
        continue;
      }
      used += pool.numUsed();
      free += pool.numFree();
      pending += pool.numPendingAcquires();
    }
    this.set({ state: 'used' }, used);
    this.set({ state: 'free' }, free);
    this.set({ state: 'pending' }, pending);
  },
});

/**
 * Every series that can happen starts at 0, so that a rate or an alert works from the first
 * scrape instead of from the first event of its kind.
 */
const POSSIBLE_LOGINS: Record<(typeof LOGIN_METHODS)[number], readonly (typeof LOGIN_OUTCOMES)[number][]> = {
  password: ['success', 'mfa_required', 'bad_credentials', 'locked', 'disabled', 'throttled', 'busy', 'invalid_request'],
  otp: ['success', 'bad_credentials', 'throttled'],
  esia: ['success', 'bad_credentials', 'locked', 'disabled', 'throttled', 'busy', 'denied', 'failed', 'unavailable', 'no_match', 'bad_state'],
};
const POSSIBLE_RECOVERIES: Record<(typeof RECOVERY_STEPS)[number], readonly (typeof RECOVERY_OUTCOMES)[number][]> = {
  requested: ['accepted', 'invalid_email', 'throttled'],
  letter: ['sent', 'no_account'],
  completed: ['success', 'invalid_link', 'rejected_password'],
};
for (const [method, outcomes] of Object.entries(POSSIBLE_LOGINS)) for (const outcome of outcomes) logins.inc({ method, outcome }, 0);
for (const method of REGISTRATION_METHODS) for (const outcome of REGISTRATION_OUTCOMES) registrations.inc({ method, outcome }, 0);
for (const [step, outcomes] of Object.entries(POSSIBLE_RECOVERIES)) for (const outcome of outcomes) recoveries.inc({ step, outcome }, 0);
for (const grantType of GRANT_TYPES) tokensIssued.inc({ grant_type: grantType }, 0);
for (const [, scope] of THROTTLE_SCOPES) throttledRequests.inc({ scope }, 0);

export function countLogin(method: string, outcome: string): void {
  logins.inc({ method: oneOf(LOGIN_METHODS, method), outcome: oneOf(LOGIN_OUTCOMES, outcome) });
}

export function countRegistration(method: string, outcome: string): void {
  registrations.inc({ method: oneOf(REGISTRATION_METHODS, method), outcome: oneOf(REGISTRATION_OUTCOMES, outcome) });
}

export function countRecovery(step: string, outcome: string): void {
  recoveries.inc({ step: oneOf(RECOVERY_STEPS, step), outcome: oneOf(RECOVERY_OUTCOMES, outcome) });
}

export function countTokenIssued(grantType: unknown): void {
  tokensIssued.inc({ grant_type: oneOf(GRANT_TYPES, grantType) });
}

/** A throttle refusal, labelled by the refusing key's kind (the key itself holds logins and addresses). */
export function countThrottled(key: string): void {
  throttledRequests.inc({ scope: throttleScope(key) });
}

export function observeRequest(method: string, route: string, status: number, seconds: number): void {
  const statusClass = oneOf(STATUS_CLASSES, `${Math.floor(status / 100)}xx`);
  httpDuration.observe({ method: oneOf(HTTP_METHODS, method), route, status_class: statusClass }, seconds);
}

/** ESIA certificate lifetimes (esia/lifetimes.ts): the roles are a closed set, never a file name. */
export const CERTIFICATE_ROLES = ['client', 'esia'] as const;
type CertificateDays = { role: string; daysLeft: number; state: string };
const certificateSources = new Set<() => readonly CertificateDays[]>();

/** Adds a source of certificate lifetimes read at each scrape; the returned function removes it. */
export function watchCertificates(source: () => readonly CertificateDays[]): () => void {
  certificateSources.add(source);
  return () => certificateSources.delete(source);
}

function certificatesByRole(): Map<(typeof CERTIFICATE_ROLES)[number] | typeof OTHER, CertificateDays[]> {
  const by = new Map<(typeof CERTIFICATE_ROLES)[number] | typeof OTHER, CertificateDays[]>();
  for (const source of certificateSources) {
    for (const c of source()) {
      const role = oneOf(CERTIFICATE_ROLES, c.role);
      by.set(role, [...(by.get(role) ?? []), c]);
    }
  }
  return by;
}

new Gauge({
  name: 'esia_certificate_days_left',
  help: 'Days until the soonest-expiring ESIA certificate of the role expires (client: ours, ESIA_CERT_FILE; esia: ESIA_CERTS); negative once expired',
  labelNames: ['role'] as const,
  registers: [registry],
  aggregator: 'min',
  collect() {
    this.reset();
    for (const [role, certs] of certificatesByRole()) this.set({ role }, Math.min(...certs.map((c) => c.daysLeft)));
  },
});

new Gauge({
  name: 'esia_certificates_expiring',
  help: 'ESIA certificates of the role within 30 days of expiry or past it (alert on > 0)',
  labelNames: ['role'] as const,
  registers: [registry],
  aggregator: 'max',
  collect() {
    this.reset();
    const by = certificatesByRole();
    for (const role of CERTIFICATE_ROLES) {
      if (by.has(role)) this.set({ role }, by.get(role)!.filter((c) => c.state !== 'ok').length);
    }
  },
});
