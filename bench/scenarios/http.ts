/**
 * The token-endpoint scenarios, run with autocannon against any provider (journal-id or bare
 * oidc-provider): each is a request (or, for refresh, a per-connection chain) built from the
 * target's discovery document and the tokens it was seeded with.
 */
import autocannon from 'autocannon';

export interface Target {
  url: string;
  clientId: string;
  clientSecret: string;
  /** A user's access token (userinfo, introspection). */
  accessToken: string;
  /** One refresh token per connection. */
  refreshTokens: string[];
  /** Whether the target rotates refresh tokens (each connection then uses the last one returned). */
  rotates: boolean;
  /** Paths of the endpoints, from discovery. */
  paths: { discovery: string; jwks: string; token: string; introspection: string; userinfo: string };
}

export const HTTP_SCENARIOS = ['discovery', 'jwks', 'client_credentials', 'client_credentials_jwt', 'refresh_token', 'introspection', 'userinfo'] as const;

/** The resource server both providers issue JWT access tokens for (`client_credentials_jwt`). */
export const BENCH_RESOURCE = 'https://api.bench.invalid/';
export type HttpScenario = (typeof HTTP_SCENARIOS)[number];

export interface Measured {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Connection errors and timeouts. */
  errors: number;
  non2xx: number;
  total: number;
}

export async function discoverPaths(url: string): Promise<Target['paths']> {
  const meta = (await (await fetch(`${url}/.well-known/openid-configuration`)).json()) as Record<string, string>;
  const p = (u: string) => new URL(u).pathname;
  return { discovery: '/.well-known/openid-configuration', jwks: p(meta.jwks_uri!), token: p(meta.token_endpoint!), introspection: p(meta.introspection_endpoint!), userinfo: p(meta.userinfo_endpoint!) };
}

const form = { 'content-type': 'application/x-www-form-urlencoded' };

function basic(t: Target): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${encodeURIComponent(t.clientId)}:${encodeURIComponent(t.clientSecret)}`).toString('base64')}`, ...form };
}

/** The autocannon options of a scenario (everything but url, duration and connections). */
type Options = Pick<autocannon.Options, 'method' | 'headers' | 'body' | 'setupClient'> & { path?: string };

function requestOptions(t: Target, scenario: HttpScenario): Options {
  switch (scenario) {
    case 'discovery':
      return { path: t.paths.discovery };
    case 'jwks':
      return { path: t.paths.jwks };
    case 'client_credentials':
      return { method: 'POST', path: t.paths.token, headers: basic(t), body: 'grant_type=client_credentials' };
    case 'client_credentials_jwt':
      // An ES256 at+jwt for an API (RFC 9068): signed, nothing stored.
      return { method: 'POST', path: t.paths.token, headers: basic(t), body: `grant_type=client_credentials&resource=${encodeURIComponent(BENCH_RESOURCE)}` };
    case 'introspection':
      return { method: 'POST', path: t.paths.introspection, headers: basic(t), body: `token=${t.accessToken}` };
    case 'userinfo':
      return { path: t.paths.userinfo, headers: { authorization: `Bearer ${t.accessToken}` } };
    case 'refresh_token': {
      // Each connection holds its own token; with rotation it goes on with the one just returned,
      // kept in the target so that the next run (after the warm-up) goes on with the chain.
      let next = 0;
      return {
        setupClient(client) {
          const slot = next++ % t.refreshTokens.length;
          const iterator = (client as unknown as { requestIterator: { setRequests(r: autocannon.Request[]): void } }).requestIterator;
          iterator.setRequests([
            {
              method: 'POST',
              path: t.paths.token,
              headers: basic(t),
              setupRequest: (req) => ({ ...req, body: `grant_type=refresh_token&refresh_token=${t.refreshTokens[slot]}` }),
              onResponse: (status, body) => {
                if (t.rotates && status === 200) t.refreshTokens[slot] = (JSON.parse(body) as { refresh_token: string }).refresh_token;
              },
            },
          ]);
        },
      };
    }
  }
}

export async function runHttp(t: Target, scenario: HttpScenario, seconds: number, connections: number): Promise<Measured> {
  const { path = '', ...options } = requestOptions(t, scenario);
  const r = await autocannon({ url: t.url + path, duration: seconds, connections, ...options });
  const elapsed = (new Date(r.finish).getTime() - new Date(r.start).getTime()) / 1000;
  return {
    requestsPerSecond: r.requests.total / elapsed,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    total: r.requests.total,
  };
}
