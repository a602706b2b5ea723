/**
 * Bare oidc-provider, the yardstick: the version the project pins, its in-memory adapter, the same
 * client (confidential, client_secret_basic), the same key types (ES256 signs, an RS256 key is
 * published too), opaque access tokens — and ES256 JWTs for the same resource server as
 * journal-id's (`resource`, RFC 8707/9068) — and no rotation of refresh tokens (see issue 8). It has no
 * login pages: it mints grants and tokens itself when asked (GET /bench/tokens). Prints its
 * address and client as one JSON line once listening on a free port.
 */
import Provider from 'oidc-provider';
import { exportJWK, generateKeyPair } from 'jose';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BENCH_RESOURCE } from '../scenarios/http.js';

const connections = Number(process.argv[2] ?? 16);
const jwk = async (alg: 'ES256' | 'RS256') => ({ ...(await exportJWK((await generateKeyPair(alg, { extractable: true })).privateKey)), alg, use: 'sig', kid: alg.toLowerCase() });
const clientSecret = randomBytes(24).toString('hex');
const redirectUri = 'https://rp.bench.invalid/cb';

const provider = new Provider('http://127.0.0.1', {
  clients: [
    {
      client_id: 'bench-rp',
      client_secret: clientSecret,
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      scope: 'openid offline_access profile',
    },
  ],
  jwks: { keys: [await jwk('ES256'), await jwk('RS256')] },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub, name: 'Тест Нагрузкин' }) }),
  claims: { openid: ['sub'], profile: ['name'] },
  scopes: ['openid', 'offline_access', 'profile'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf,
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({ audience: BENCH_RESOURCE, scope: '', accessTokenTTL: 600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
    },
  },
  pkce: { required: () => true },
  rotateRefreshToken: false,
});

const client = (await provider.Client.find('bench-rp'))!;

/** A grant per connection, each with a refresh token, and one access token. */
async function mint() {
  const refreshTokens: string[] = [];
  let accessToken = '';
  for (let i = 0; i < connections; i++) {
    const accountId = `bench-${i + 1}`;
    const grant = new provider.Grant({ accountId, clientId: 'bench-rp' });
    grant.addOIDCScope('openid offline_access profile');
    const grantId = await grant.save();
    const common = { accountId, client, grantId, gty: 'authorization_code' };
    refreshTokens.push(await new provider.RefreshToken({ ...common, scope: 'openid offline_access profile', authTime: Math.floor(Date.now() / 1000) }).save());
    if (i === 0) accessToken = await new provider.AccessToken({ ...common, scope: 'openid profile' }).save();
  }
  return { accessToken, refreshTokens };
}

// The memory adapter is an LRU of 1,000 entries: a scenario that issues thousands of tokens evicts
// what was minted before it, so the bench asks for fresh ones (GET /bench/tokens) before each.
const handle = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url !== '/bench/tokens') return handle(req, res);
  mint().then((t) => res.setHeader('content-type', 'application/json').end(JSON.stringify(t)), (err: Error) => res.writeHead(500).end(err.message));
});
server.listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
// Issuer and listening address differ only in the port; the bench never checks the issuer.
process.stdout.write(JSON.stringify({ url, clientId: 'bench-rp', clientSecret }) + '\n');
