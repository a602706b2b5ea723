/**
 * The full password login, one operation = GET /auth → the interaction's login page → POST the
 * form with its CSRF token → the redirects → the code → the token exchange with PKCE, each in a
 * fresh browser (a new device, so the whole throttle runs). Runs as `connections` loops at once,
 * each with a student of its own (concurrent logins to one account would trip its throttle).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Browser } from '../../test/helpers/browser.js';
import { continueToRp, openLoginPage, submitLogin } from '../../test/helpers/rp.js';
import type { Seeded } from '../servers/journal-id.js';
import type { Measured } from './http.js';

export interface Tokens {
  access_token: string;
  refresh_token?: string;
  id_token: string;
}

const b64url = (b: Buffer) => b.toString('base64url');

/** A fresh authorization request of the bench's client, with its PKCE verifier. */
export function authorizationUrl(base: string, s: Seeded, offline = false): { url: URL; verifier: string } {
  const verifier = b64url(randomBytes(32));
  const url = new URL('/auth', base);
  url.search = new URLSearchParams({
    client_id: s.clientId,
    response_type: 'code',
    redirect_uri: s.redirectUri,
    scope: offline ? 'openid offline_access' : 'openid',
    state: b64url(randomBytes(12)),
    nonce: b64url(randomBytes(12)),
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    school: s.school,
    ...(offline ? { prompt: 'consent' } : {}),
  }).toString();
  return { url, verifier };
}

/** The code at the callback exchanged at the token endpoint, as the relying party does. */
export async function exchangeCode(base: string, tokenPath: string, s: Seeded, callback: URL, verifier: string): Promise<Tokens> {
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code in ${callback}`);
  const token = await fetch(new URL(tokenPath, base), {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${s.clientId}:${encodeURIComponent(s.clientSecret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: s.redirectUri, code_verifier: verifier }),
  });
  if (token.status !== 200) throw new Error(`token exchange: ${token.status} ${await token.text()}`);
  return (await token.json()) as Tokens;
}

/** One whole login of `login`; `offline` asks for a refresh token too (offline_access needs consent). */
export async function loginOnce(base: string, tokenPath: string, s: Seeded, login: string, offline = false): Promise<Tokens> {
  const browser = new Browser(base);
  const auth = authorizationUrl(base, s, offline);
  const page = await openLoginPage(browser, auth.url);
  if (page.status !== 200) throw new Error(`login page: ${page.status}`);
  const { res, url } = await submitLogin(browser, page.html, login, s.password);
  // A refusal (503 from a full hashing line, 429 from the throttle) is an error of its own kind.
  if (res.status >= 400) throw new Error(`the login form answered ${res.status}${res.headers.get('retry-after') ? ` (Retry-After ${res.headers.get('retry-after')})` : ''}`);
  return exchangeCode(base, tokenPath, s, await continueToRp(browser, res, url), auth.verifier);
}

export function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

/**
 * `connections` loops at once, each doing one whole operation after another for `seconds` (and
 * while `more()`); an operation that throws counts as an error. What they measured.
 */
export async function runLoops(seconds: number, connections: number, operation: (connection: number) => Promise<unknown>, more = () => true): Promise<Measured & { firstError?: string }> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const until = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, i) => {
      while (performance.now() < until && more()) {
        const t0 = performance.now();
        try {
          await operation(i);
          latencies.push(performance.now() - t0);
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message.slice(0, 300);
        }
      }
    }),
  );
  return { ...measuredOf(latencies, errors, start), firstError };
}

/** Logins for `seconds` at `connections` at once, each connection with a student of its own. */
export function runLogins(base: string, tokenPath: string, s: Seeded, seconds: number, connections: number): Promise<Measured & { firstError?: string }> {
  return runLoops(seconds, connections, (i) => loginOnce(base, tokenPath, s, s.logins[i % s.logins.length]!));
}

/** What a loop of whole operations measured since `start`: done per second, their p50 and p99. */
export function measuredOf(latencies: number[], errors: number, start: number): Measured {
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requestsPerSecond: latencies.length / elapsed,
    p50Ms: Math.round(percentile(latencies, 50)),
    p99Ms: Math.round(percentile(latencies, 99)),
    errors,
    non2xx: 0,
    total: latencies.length,
  };
}
