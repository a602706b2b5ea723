/**
 * The journal's APIs as resource servers (RFC 8707 resource indicators): a client that names one
 * in `resource` gets a JWT access token for it (RFC 9068, `typ: at+jwt`, signed ES256 like the
 * ID tokens, `aud` = the resource), which the API verifies against the JWKS alone — no call back
 * here per request. Without `resource` nothing changes: an opaque token for userinfo, as before.
 * An unknown resource is refused (invalid_target), never silently widened.
 */
import { errors, type Configuration } from 'oidc-provider';
import { z } from 'zod';

export interface ResourceServer {
  /** The resource indicator: an absolute URI without a fragment. */
  uri: string;
  /** Scopes of this API a client may be given (in its `scope` metadata) and ask for. */
  scopes: string[];
  /** Lifetime of its access tokens (JWTs cannot be revoked: keep it short). */
  accessTokenTtl: number;
}

const SCOPE = /^[a-z][a-z0-9_.:-]{0,62}$/;

/** RESOURCE_SERVERS: a JSON array of {uri, scopes?, accessTokenTtl?}. */
export const resourceServersSchema = z
  .string()
  .transform((v, ctx) => {
    try {
      return JSON.parse(v) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of {"uri", "scopes", "accessTokenTtl"}' });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .array(
        z.object({
          uri: z
            .string()
            .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol) && !new URL(u).hash, 'uri must be an absolute http(s) URI without a fragment'),
          scopes: z.array(z.string().regex(SCOPE, 'scopes must be short lower-case names such as grades:read')).max(50).default([]),
          accessTokenTtl: z.number().int().min(60).max(3600).default(600),
        }).strict(),
      )
      .max(20)
      .refine((list) => new Set(list.map((r) => r.uri)).size === list.length, 'must not list a uri twice'),
  );

/** Every scope of every resource server (clients may be given them; discovery lists them). */
export function resourceScopes(servers: readonly ResourceServer[]): string[] {
  return [...new Set(servers.flatMap((s) => s.scopes))];
}

/** oidc-provider's resourceIndicators feature for the configured resource servers. */
export function resourceIndicators(servers: readonly ResourceServer[]): NonNullable<Configuration['features']>['resourceIndicators'] {
  if (!servers.length) return { enabled: false };
  const byUri = new Map(servers.map((s) => [s.uri, s]));
  return {
    enabled: true,
    // No resource asked for: none (an opaque token for userinfo, as without this feature).
    defaultResource: async (_ctx, _client, oneOf) => oneOf,
    // The token request may leave out the resource the authorization was for.
    useGrantedResource: async () => true,
    getResourceServerInfo: async (_ctx, indicator) => {
      const server = byUri.get(indicator);
      if (!server) throw new errors.InvalidTarget('unknown resource indicator');
      return {
        audience: server.uri,
        scope: server.scopes.join(' '),
        accessTokenTTL: server.accessTokenTtl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      };
    },
  };
}
