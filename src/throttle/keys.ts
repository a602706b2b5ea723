/**
 * Throttle keys. A key names what is being counted; it must be at least as coarse as the thing
 * it protects, or an attacker varies the spelling to get fresh counters.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';

export interface LoginKeys {
  /** Per account, by name: unknown logins are throttled exactly like real ones (no enumeration). */
  account: string;
  /** Per (address, account). */
  addressLogin: string;
  /** Per address: many people behind one school NAT. */
  address: string;
}

export function loginKeys(schoolId: string | null, login: string, ip: string): LoginKeys {
  const school = schoolId ?? '';
  const name = loginPart(login);
  const addr = addressPart(ip);
  return {
    account: `login:acct:${school}:${name}`,
    addressLogin: `login:ipacct:${addr}:${school}:${name}`,
    address: `login:ip:${addr}`,
  };
}

/**
 * Trimmed and lower-cased, so coarser than the database's `lower(login)` match (never finer).
 * Very long input is hashed to keep the primary key small.
 */
export function loginPart(login: string): string {
  const s = login.trim().toLowerCase();
  return s.length <= 128 ? s : `sha256-${createHash('sha256').update(s).digest('hex')}`;
}

/**
 * IPv4 as is; IPv6 by its /64, since one host usually owns a whole /64 and could otherwise
 * rotate addresses for fresh counters; IPv4-mapped IPv6 as the IPv4 address.
 */
export function addressPart(ip: string): string {
  let s = ip.trim().toLowerCase();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (mapped && net.isIPv4(mapped[1]!)) return mapped[1]!;
  if (net.isIPv4(s)) return s;
  if (net.isIPv6(s)) return `${ipv6Groups(s).slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
  return s ? `other:${s.slice(0, 64)}` : 'unknown';
}

/** The eight 16-bit groups of a valid IPv6 address. */
function ipv6Groups(ip: string): number[] {
  let s = ip;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    s = `${s.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...zeros, ...t].map((g) => parseInt(g, 16));
}
