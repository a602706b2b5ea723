/**
 * The OpenID Connect provider (oidc-provider 9) as journal-id configures it. All state is in
 * PostgreSQL, so any number of nodes share logins and tokens. Signing keys come from the
 * database; when the key set changes (rotation, activation by time) a new Provider instance is
 * built from the same configuration and swapped in, so nodes follow without a restart.
 */
import Provider, { errors, type Configuration, type KoaContextWithOIDC, type ClientMetadata } from 'oidc-provider';
import mount from 'koa-mount';
import type { Context, Middleware, Next } from 'koa';
import type { Config } from '../config/index.js';
import type { Db } from '../db/index.js';
import type { Logger } from '../server/logger.js';
import { resourceIndicators, resourceScopes } from './resource-servers.js';
import { ReadAhead } from './read-ahead.js';
import type { Account } from '../accounts/queries.js';
import { createAdapterFactory } from './adapter.js';
import { createClientAdapter, firstPartyClients, newClientId, FIRST_PARTY } from './clients.js';
import { SCHOOL_ID, SCHOOL_POLICY, schoolPolicy } from '../clients/registration.js';
import { loadOidcAccount, SCOPE_CLAIMS } from './claims.js';
import { ensureSigningKeys, loadKeySet } from './keys.js';
import { logoutSource, postLogoutSuccessSource, renderError } from './pages.js';
import { interactionPolicy as buildPolicy } from './policy.js';
import { relyingParty, withSchoolApproval } from './data-policy.js';
import { ADMIN_SCOPE } from '../admin-api/scope.js';
import { recordOutcome } from '../metrics/outcomes.js';
import { answerDatabaseOutages } from './unavailable.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { RESPONSE_TYPES, ruleOptions } from '../clients/metadata-rules.js';
import { outboundFetch } from './outbound-fetch.js';

export interface OidcService {
  /** The provider in use now (it is replaced when signing keys change). */
  readonly provider: Provider;
  /** Koa middleware that serves the provider's routes. */
  readonly middleware: Middleware;
  /** Reloads the key set; true when it changed. */
  refreshKeys(): Promise<boolean>;
  stop(): void;
}

/** How long a retired key stays in JWKS: the longest life of anything it signed. */
export function keyRetainSeconds(config: Config): number {
  const { idToken, accessToken, clientCredentials } = config.ttl;
  return Math.max(idToken, accessToken, clientCredentials) + 300;
}

/** The scopes a person's login can grant (every one but the admin API's). */
export const USER_SCOPES: readonly string[] = ['openid', 'offline_access', ...Object.keys(SCOPE_CLAIMS).filter((s) => s !== 'openid')];

/** The school hint of an authorization request: a slug or a school number. */
export const SCHOOL_PARAM = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function buildConfiguration(config: Config, db: Db, logger: Logger, jwks: { keys: object[] }): Configuration {
  // Accounts read with their tokens (one statement), taken by findAccount in the same request.
  const accounts = new ReadAhead<Account>();
  const modelAdapter = createAdapterFactory(db, { refreshReuseGraceSeconds: config.refreshReuseGraceSeconds, logger, accounts });
  const clientAdapter = createClientAdapter(db, config.secrets.keyEncryptionKey, logger);
  const rules = ruleOptions(config);

  return {
    adapter: ((name: string) => (name === 'Client' ? clientAdapter : modelAdapter(name))) as unknown as Configuration['adapter'],
    clients: firstPartyClients(config),
    // RFC 9700: the authorization code flow only. No ID token in a URL fragment (`id_token`,
    // `code id_token`), so discovery lists no `implicit` grant either; the client metadata rules
    // (src/clients/metadata-rules.ts) refuse other response types at every door.
    responseTypes: [...RESPONSE_TYPES],
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'ES256',
      token_endpoint_auth_method: 'client_secret_basic',
      // oidc-provider lets a client without `scope` metadata ask for any scope; this default keeps
      // `admin` to the clients that were given it explicitly (src/admin-api/scope.ts).
      scope: USER_SCOPES.join(' '),
    },
    extraClientMetadata: {
      properties: [FIRST_PARTY, SCHOOL_ID],
      validator(_ctx, key, value) {
        if (key === FIRST_PARTY && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata(`${FIRST_PARTY} must be a boolean`);
        }
        if (key === SCHOOL_ID && value !== undefined && typeof value !== 'string') {
          throw new errors.InvalidClientMetadata(`${SCHOOL_ID} must be a string`);
        }
      },
    },
    jwks: jwks as Configuration['jwks'],
    cookies: {
      keys: config.secrets.cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
      names: { session: 'jid_session', interaction: 'jid_interaction', resume: 'jid_resume' },
    },
    // acr and amr (how the person logged in: «pwd», «esia») go into every ID token.
    claims: { ...SCOPE_CLAIMS, openid: [...SCOPE_CLAIMS.openid, 'acr', 'amr'] } as unknown as Configuration['claims'],
    acrValues: ['urn:journal:pwd', 'urn:journal:mfa', 'urn:journal:esia'],
    scopes: [...USER_SCOPES, ADMIN_SCOPE, ...resourceScopes(config.resourceServers)],
    conformIdTokenClaims: true,
    // The app asking decides what of the children's data the claims carry (data-policy.ts).
    findAccount: async (ctx, sub) => loadOidcAccount(db, sub, relyingParty(ctx?.oidc?.client), accounts.take(sub)),
    extraParams: {
      // Which school's login form to show; only a hint, checked against the database later.
      async school(ctx, value) {
        if (value !== undefined && !SCHOOL_PARAM.test(String(value))) {
          throw new errors.InvalidRequest('school must be a school number or address name');
        }
      },
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: withSchoolApproval(buildPolicy(), db),
    },
    features: {
      devInteractions: { enabled: false },
      // Least privilege: a client learns about and revokes its own tokens only; the journal's own
      // confidential backend may also introspect the tokens of the journal's apps (it serves their API).
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) =>
          token.clientId === client.clientId || (client.clientAuthMethod !== 'none' && isFirstParty(client)),
      },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => {
          if (token.clientId === client.clientId) return true;
          if (client.clientAuthMethod === 'none') return false;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      userinfo: { enabled: true },
      clientCredentials: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      claimsParameter: { enabled: true },
      resourceIndicators: resourceIndicators(config.resourceServers),
      // RFC 7591/7592 for school IT: only with an initial access token from `client token`; its
      // `school` policy binds the client to that school and checks the redirect URIs (also on update).
      registration: {
        enabled: true,
        initialAccessToken: true,
        policies: { [SCHOOL_POLICY]: schoolPolicy(db, rules) },
        idFactory: () => newClientId(),
        issueRegistrationAccessToken: true,
      },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
    },
    // RFC 9700: PKCE (S256) for every client that uses the authorization code.
    pkce: { required: () => true },
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    ttl: {
      // A resource server's JWTs live as long as its configuration says (resource-servers.ts).
      AccessToken: (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) => token.resourceServer?.accessTokenTTL ?? config.ttl.accessToken,
      AuthorizationCode: config.ttl.authorizationCode,
      ClientCredentials: (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) => token.resourceServer?.accessTokenTTL ?? config.ttl.clientCredentials,
      IdToken: config.ttl.idToken,
      Interaction: config.ttl.interaction,
      Session: config.ttl.session,
      Grant: config.ttl.grant,
      // Native apps: a long absolute life (the grant) with an idle limit renewed at each rotation.
      // Web apps: rotation keeps the original expiry.
      RefreshToken(ctx, token, client) {
        if (client.applicationType === 'native') return config.ttl.refreshTokenIdleNative;
        const rotated = (ctx as KoaContextWithOIDC | undefined)?.oidc?.entities.RotatedRefreshToken;
        return rotated ? rotated.remainingTTL : config.ttl.refreshToken;
      },
      BackchannelAuthenticationRequest: 600,
      DeviceCode: 600,
    } as Configuration['ttl'],
    renderError,
    // oidc-provider refuses to fetch from private addresses; development and tests may deliver
    // back-channel logout (and nothing else) to the hosts they list (outbound-fetch.ts).
    fetch: outboundFetch(rules.backchannelHttpHosts) as Configuration['fetch'],
    // No HS*: a client secret (which RFC 7592 hands back) must never become a signing key — not
    // for tokens, not for client_secret_jwt authentication, not for request objects.
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    enabledJWA: {
      idTokenSigningAlgValues: ['ES256', 'RS256'],
      userinfoSigningAlgValues: ['ES256', 'RS256'],
      clientAuthSigningAlgValues: ['ES256', 'RS256', 'PS256', 'EdDSA'],
      requestObjectSigningAlgValues: ['ES256', 'RS256', 'PS256', 'EdDSA'],
    },
  } as Configuration;
}

export async function createOidc({ config, db, logger }: { config: Config; db: Db; logger: Logger }): Promise<OidcService> {
  const kek = config.secrets.keyEncryptionKey;
  const retainSeconds = keyRetainSeconds(config);
  await ensureSigningKeys(db, kek);

  let fingerprint = '';
  let nextChangeAt: Date | null = null;
  let provider!: Provider;
  let mounted!: Middleware;
  let timer: NodeJS.Timeout | undefined;

  const build = async (): Promise<boolean> => {
    const set = await loadKeySet(db, kek, { retainSeconds });
    nextChangeAt = set.nextChangeAt;
    if (set.fingerprint === fingerprint) return false;
    const next = new Provider(config.issuer, buildConfiguration(config, db, logger, set.jwks));
    next.proxy = config.trustProxy;
    wireEvents(next, logger);
    answerDatabaseOutages(next);
    provider = next;
    mounted = mount(next as unknown as Middleware) as unknown as Middleware;
    if (fingerprint) logger.info('signing keys changed; provider reloaded', { fingerprint: set.fingerprint });
    fingerprint = set.fingerprint;
    return true;
  };
  await build();

  // Poll for keys rotated by another node, and wake up exactly when a key activates or retires.
  const schedule = () => {
    const poll = config.keys.pollSeconds * 1000;
    const untilChange = nextChangeAt ? Math.max(0, nextChangeAt.getTime() - Date.now()) + 50 : poll;
    timer = setTimeout(async () => {
      try {
        await build();
      } catch (err) {
        logger.error('reloading signing keys failed', { err });
      }
      schedule();
    }, Math.min(poll, untilChange));
    timer.unref();
  };
  schedule();

  return {
    get provider() {
      return provider;
    },
    middleware: (ctx: Context, next: Next) => mounted(ctx, next),
    refreshKeys: build,
    stop: () => clearTimeout(timer),
  };
}

function wireEvents(provider: Provider, logger: Logger): void {
  provider.on('server_error', (ctx, err) => {
    // The database away is answered 503 (unavailable.ts) and logged once per request, without the stack of each.
    if (isDatabaseUnavailable(err)) logger.warn('provider: database unavailable', { error: err.message.replace(/\s+/g, ' ').slice(-200), requestId: ctx?.state?.requestId });
    else logger.error('provider error', { err, requestId: ctx?.state?.requestId });
  });
  // Tokens issued, by grant (the metrics), and the token request's outcome in its access-log line.
  provider.on('grant.success', (ctx) => recordOutcome(ctx, { event: 'token', grantType: ctx.oidc.params?.grant_type, outcome: 'success' }));
  provider.on('grant.error', (ctx, err) =>
    recordOutcome(ctx, { event: 'token', grantType: ctx.oidc?.params?.grant_type, outcome: (err as { error?: string }).error ?? 'error' }),
  );
  for (const event of ['grant.error', 'introspection.error', 'revocation.error', 'userinfo.error', 'end_session.error', 'backchannel.error'] as const) {
    (provider.on as (e: string, h: (...args: unknown[]) => void) => void)(event, (...args: unknown[]) => {
      const err = args.find((a) => a instanceof Error) as (Error & { error?: string; error_description?: string }) | undefined;
      logger.info(event, { error: err?.error ?? err?.message, description: err?.error_description });
    });
  }
}

export function isFirstParty(client: { metadata(): ClientMetadata } | undefined): boolean {
  return Boolean(client?.metadata()[FIRST_PARTY]);
}
