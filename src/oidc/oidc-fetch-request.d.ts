// oidc-provider's list of special-use addresses (lib/helpers/fetch_request.js), the one its
// connect-time SSRF check uses; no typings of its own. The version is pinned, so the path is stable.
declare module 'oidc-provider/lib/helpers/fetch_request.js' {
  /** Whether an IPv4 or IPv6 address (no brackets) is loopback, private, link-local or otherwise special-use. */
  export function isSpecialUseIP(address: string): boolean;
}
