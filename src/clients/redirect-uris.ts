/**
 * The one rule for the redirect URIs of clients that school IT registers (DCR and `client add`):
 * https only; native apps may also use loopback http (RFC 8252 §7.3) and reverse-domain
 * private-use schemes without an authority (§7.1: `ru.school.app:/cb`). No fragments (RFC 6749
 * §3.1.2), no wildcards, no credentials, and nothing that parsers read differently: a backslash
 * (WHATWG reads it as `/`, others as data: `https://a.example\@evil.example`), a percent-encoded
 * authority, a host the WHATWG parser rewrites (`0x7f.1`, `https:evil.example`). The URI the app
 * registers is then the URI every browser, proxy and client library agrees on.
 * oidc-provider's own checks run afterwards; this is stricter. Part of the client metadata rules
 * (src/clients/metadata-rules.ts) that every door applies.
 */
import { domainToASCII } from 'node:url';

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
  if (uri.includes('\\')) return 'must not contain a backslash';
  // Before parsing: WHATWG decodes `%2F` or `%40` in a host, other parsers do not.
  if (writtenAuthority(uri)?.includes('%')) return 'must not percent-encode the host';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.username || url.password) return 'must not contain credentials';
  const scheme = url.protocol.slice(0, -1);
  const native = applicationType === 'native';
  if (scheme === 'https' || scheme === 'http') {
    const authority = authorityProblem(uri, url);
    if (authority) return authority;
  }
  if (scheme === 'https') return url.hostname ? undefined : 'must name a host';
  if (scheme === 'http') {
    if (native && LOOPBACK.has(url.hostname)) return undefined;
    return native ? 'may use http only on loopback (127.0.0.1, [::1], localhost)' : 'must use https';
  }
  if (native && PRIVATE_USE.test(scheme)) {
    // RFC 8252 §7.1: `ru.school.app:/cb`. With `//` the part after it is an authority that
    // libraries disagree on (host? path?), the way to smuggle `ru.school.app://evil.example/cb`.
    const rest = uri.slice(scheme.length + 1);
    return rest.startsWith('/') && !rest.startsWith('//') ? undefined : 'must be written scheme:/path, without an authority (ru.school.app:/callback, RFC 8252 §7.1)';
  }
  return native
    ? 'must use https, http on loopback, or a reverse-domain private-use scheme (ru.school.app:/callback)'
    : 'must use https';
}

const DEFAULT_PORT: Record<string, string> = { 'http:': ':80', 'https:': ':443' };

/**
 * The authority of an http(s) URI as written must be the one the WHATWG parser read: no
 * percent-encoding (`a.example%2F@evil.example`), no `https:evil.example` or `https:/evil.example`
 * (WHATWG adds the slashes, other parsers read a path), no numeric forms it rewrites (`0x7f.1`,
 * `2130706433`). A non-ASCII host is fine: it is the same host as its punycode form.
 */
function writtenAuthority(uri: string): string | undefined {
  return /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(uri)?.[1];
}

function authorityProblem(uri: string, url: URL): string | undefined {
  const written = writtenAuthority(uri);
  if (written === undefined) return 'must be written scheme://host/path';
  let host = written.toLowerCase();
  const defaultPort = DEFAULT_PORT[url.protocol];
  if (defaultPort && host.endsWith(defaultPort)) host = host.slice(0, -defaultPort.length);
  if (host === url.host) return undefined;
  // An internationalised name: compare its ASCII (punycode) form, port kept as written.
  const [, name = '', port = ''] = /^([^:[\]]*)(:\d*)?$/.exec(host) ?? [];
  if (/[^\x00-\x7f]/.test(name) && `${domainToASCII(name)}${port}` === url.host) return undefined;
  return `must name its host as it is read (${JSON.stringify(url.host)})`;
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
