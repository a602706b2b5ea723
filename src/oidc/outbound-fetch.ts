/**
 * The provider's outbound requests (oidc-provider's `fetch` hook). It fetches for: a client's
 * `jwks_uri` (GET: private_key_jwt, request objects), `sector_identifier_uri` (GET), client ID
 * metadata documents (GET), CIBA pings (POST JSON) and back-channel logout (POST, a form with
 * one field, `logout_token`). A client chooses those URLs, so none may reach an internal
 * service (127.0.0.1, 10.x, 169.254.169.254 …):
 *  - oidc-provider hands each request a dispatcher that drops a connection to a special-use
 *    address once connected (it catches DNS rebinding) — when it could set one up: it takes the
 *    Agent class from Node's global dispatcher and only warns when that is missing (it is
 *    missing in a fresh process before the first fetch, and in test sandboxes);
 *  - so this hook also resolves the host first and refuses a special-use address itself.
 *
 * Development and tests run their relying parties on loopback: BACKCHANNEL_ALLOWED_HOSTS (empty
 * in production) lets back-channel logout deliveries, and nothing else, reach those hosts.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isSpecialUseIP } from 'oidc-provider/lib/helpers/fetch_request.js';

type FetchOptions = RequestInit & { dispatcher?: unknown };

/**
 * Whether oidc-provider is delivering a logout token (lib/models/client.js `backchannelLogout`):
 * a POST whose body is exactly the form `logout_token=…`. No GET of a jwks_uri or a metadata
 * document and no JSON ping looks like this.
 */
export function isBackchannelLogoutDelivery(options: FetchOptions): boolean {
  const { method, body } = options;
  if (String(method).toUpperCase() !== 'POST' || !(body instanceof URLSearchParams)) return false;
  const fields = [...body.keys()];
  return fields.length === 1 && fields[0] === 'logout_token';
}

/** Refuses (throws) when `hostname` is, or resolves to, a special-use address. */
export async function refuseSpecialUseHost(hostname: string): Promise<void> {
  const literal = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  const addresses = isIP(literal) ? [literal] : (await lookup(literal, { all: true, verbatim: true })).map((a) => a.address);
  const special = addresses.find((a) => isSpecialUseIP(a));
  if (special !== undefined) throw new Error(`outbound request refused: ${hostname} is a special-use address (${special})`);
}

/** The `fetch` of the provider's configuration. */
export function outboundFetch(backchannelAllowedHosts: readonly string[]) {
  const allowed = new Set(backchannelAllowedHosts);
  return async (url: URL | string, options: FetchOptions): Promise<Response> => {
    const { hostname } = new URL(url);
    if (allowed.has(hostname) && isBackchannelLogoutDelivery(options)) {
      delete options.dispatcher;
    } else {
      await refuseSpecialUseHost(hostname);
    }
    return globalThis.fetch(url, options);
  };
}
