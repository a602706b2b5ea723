/**
 * The rules of client metadata: one validator for every door a client is made or changed
 * through — the CLI and the admin API (src/clients/manage.ts), dynamic registration `POST /reg`
 * and its RFC 7592 `PUT /reg/:id` (the `school` policy, src/clients/registration.ts) — and the
 * protocol part again when a stored client is loaded (src/oidc/clients.ts). A door only decides
 * who may do what (the admin scope, first-party); what a client may look like is decided here.
 *
 * Every problem is a message that starts with the metadata name, so each door answers with the
 * same words: oidc-provider and manage.ts turn a `redirect_uris…` message into
 * `invalid_redirect_uri`, anything else into `invalid_client_metadata`.
 */
import type { Config } from '../config/index.js';
import { redirectUrisProblem } from './redirect-uris.js';

/** journal-id is a code-flow-only provider (RFC 9700): no ID token or access token in a URL. */
export const RESPONSE_TYPES = ['code'] as const;
/** The grants a client may have; `implicit` is not one of them. */
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
/** People read the name on the consent page: a sentence, not a page. */
export const CLIENT_NAME_MAX = 100;

// Control characters, invisible formatting (bidi overrides and isolates, zero-width joiners),
// private-use and unassigned code points, line and paragraph separators: an RLO would turn the
// consent sentence around, a zero-width space makes two names that look the same.
const HIDDEN_CHARACTERS = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;

export type ClientMetadataErrorCode = 'invalid_client_metadata' | 'invalid_redirect_uri';

/** The error a door answers with for a problem this module found. */
export function errorCodeOf(problem: string): ClientMetadataErrorCode {
  return problem.startsWith('redirect_uris') ? 'invalid_redirect_uri' : 'invalid_client_metadata';
}

/** Why `name` (already trimmed by the door) cannot be a client's name, or undefined. */
export function clientNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || !name.trim()) return 'is required';
  if (name.trim() !== name) return 'must not begin or end with spaces';
  if ([...name].length > CLIENT_NAME_MAX) return `must be at most ${CLIENT_NAME_MAX} characters`;
  if (HIDDEN_CHARACTERS.test(name)) return 'must not contain control, formatting or invisible characters';
  return undefined;
}

/**
 * Why `uri` cannot receive back-channel logout tokens, or undefined. https to a named host;
 * plain http only to a host of BACKCHANNEL_ALLOWED_HOSTS (development and tests, empty in
 * production), which is also the only list that lets a delivery reach a private address
 * (src/oidc/outbound-fetch.ts).
 */
export function backchannelLogoutUriProblem(uri: unknown, allowedHttpHosts: readonly string[]): string | undefined {
  if (typeof uri !== 'string' || !uri) return 'must be a non-empty string';
  if (uri.length > 2000) return 'is too long';
  if (/[\s\u0000-\u001f\u007f\\]/.test(uri)) return 'must not contain spaces, control characters or backslashes';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URL';
  }
  if (uri.includes('#')) return 'must not contain a fragment';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.protocol === 'https:' && url.hostname) return undefined;
  if (url.protocol === 'http:' && allowedHttpHosts.includes(url.hostname)) return undefined;
  return 'must use https';
}

/** Why the response and grant types are not those of a code-flow client, or undefined. */
export function flowProblem(metadata: { response_types?: unknown; grant_types?: unknown }): string | undefined {
  const { response_types: responseTypes, grant_types: grantTypes } = metadata;
  if (responseTypes !== undefined) {
    if (!Array.isArray(responseTypes)) return 'response_types must be an array';
    const other = responseTypes.find((t) => !(RESPONSE_TYPES as readonly unknown[]).includes(t));
    if (other !== undefined) {
      return `response_types: ${JSON.stringify(other)} is not supported: journal-id issues tokens by the authorization code flow only (response_types ["code"])`;
    }
  }
  if (grantTypes !== undefined) {
    if (!Array.isArray(grantTypes)) return 'grant_types must be an array';
    const other = grantTypes.find((t) => !(GRANT_TYPES as readonly unknown[]).includes(t));
    if (other !== undefined) return `grant_types: ${JSON.stringify(other)} is not supported (only ${GRANT_TYPES.join(', ')})`;
  }
  return undefined;
}

/**
 * Why a client stored before these rules can no longer be used, or undefined: another flow than
 * the code flow (an ID token in a URL), or a name that would disguise the consent sentence.
 * Such a client is an unknown client until an operator registers it again (src/oidc/clients.ts);
 * it is not quietly changed into a code-flow client, which its app would not expect either.
 */
export function storedClientProblem(metadata: { client_name?: unknown; response_types?: unknown; grant_types?: unknown }): string | undefined {
  const flow = flowProblem(metadata);
  if (flow) return flow;
  if (typeof metadata.client_name === 'string' && HIDDEN_CHARACTERS.test(metadata.client_name)) {
    return 'client_name: must not contain control, formatting or invisible characters';
  }
  return undefined;
}

export interface RuleOptions {
  /** Hosts a back-channel logout URI may name over plain http (config.backchannelAllowedHosts in development). */
  backchannelHttpHosts: readonly string[];
}

/** The options of this deployment: the http hosts count in development only (never in production). */
export function ruleOptions(config: Pick<Config, 'dev' | 'backchannelAllowedHosts'>): RuleOptions {
  return { backchannelHttpHosts: config.dev ? config.backchannelAllowedHosts : [] };
}

/**
 * The first problem with a client's metadata (as oidc-provider names the fields), or undefined.
 * The name is required; other fields that are absent are not checked (each door has its defaults).
 */
export function clientMetadataProblem(metadata: Record<string, unknown>, opts: RuleOptions): string | undefined {
  const name = clientNameProblem(metadata.client_name);
  if (name) return `client_name: ${name}`;
  const flow = flowProblem(metadata);
  if (flow) return flow;
  const redirects = redirectUrisProblem(metadata);
  if (redirects) return redirects;
  if (metadata.backchannel_logout_uri !== undefined && metadata.backchannel_logout_uri !== null) {
    const problem = backchannelLogoutUriProblem(metadata.backchannel_logout_uri, opts.backchannelHttpHosts);
    if (problem) return `backchannel_logout_uri: ${problem}`;
  }
  return undefined;
}
