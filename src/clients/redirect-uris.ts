/**
 * The one rule for the redirect URIs of clients that school IT registers (DCR and `client add`):
 * https only; native apps may also use loopback http (RFC 8252 §7.3) and reverse-domain
 * private-use schemes (§7.1). No fragments (RFC 6749 §3.1.2), no wildcards, no credentials.
 * oidc-provider's own checks run afterwards; this is stricter.
 */

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);
// Reverse-domain: at least two labels, so "javascript", "data", "file" never pass.
const PRIVATE_USE = /^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$/;

export type ApplicationType = 'web' | 'native';

/** Why `uri` is not acceptable for a client of that type, or undefined when it is. */
export function redirectUriProblem(uri: unknown, applicationType: ApplicationType = 'web'): string | undefined {
  if (typeof uri !== 'string' || !uri) return 'must be a non-empty string';
  if (uri.length > 2000) return 'is too long';
  if (/[\s\u0000-\u001f\u007f]/.test(uri)) return 'must not contain spaces or control characters';
  if (uri.includes('#')) return 'must not contain a fragment';
  if (uri.includes('*') || /%2a/i.test(uri)) return 'must not contain wildcards';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.username || url.password) return 'must not contain credentials';
  const scheme = url.protocol.slice(0, -1);
  const native = applicationType === 'native';
  if (scheme === 'https') return url.hostname ? undefined : 'must name a host';
  if (scheme === 'http') {
    if (native && LOOPBACK.has(url.hostname)) return undefined;
    return native ? 'may use http only on loopback (127.0.0.1, [::1], localhost)' : 'must use https';
  }
  if (native && PRIVATE_USE.test(scheme)) return undefined;
  return native
    ? 'must use https, http on loopback, or a reverse-domain private-use scheme (ru.school.app:/callback)'
    : 'must use https';
}

export interface RedirectMetadata {
  application_type?: unknown;
  redirect_uris?: unknown;
  post_logout_redirect_uris?: unknown;
}

/**
 * The first problem with a client's redirect URIs, as a message that starts with the metadata
 * name (oidc-provider turns a `redirect_uris…` InvalidClientMetadata into `invalid_redirect_uri`).
 */
export function redirectUrisProblem(metadata: RedirectMetadata): string | undefined {
  const type: ApplicationType = metadata.application_type === 'native' ? 'native' : 'web';
  for (const field of ['redirect_uris', 'post_logout_redirect_uris'] as const) {
    const uris = metadata[field];
    if (uris === undefined) continue;
    if (!Array.isArray(uris)) return `${field} must be an array`;
    for (const uri of uris) {
      const problem = redirectUriProblem(uri, type);
      if (problem) return `${field}: ${JSON.stringify(typeof uri === 'string' ? uri.slice(0, 100) : uri)} ${problem}`;
    }
  }
  return undefined;
}
