/**
 * Secrets never live in the repo. In production they come from the environment (or a file named
 * by `<NAME>_FILE`, for Docker/Kubernetes secrets); in development they are generated once into
 * `<DATA_DIR>/secrets.json` (mode 0600) so restarts keep sessions and keys.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError } from './error.js';

export interface Secrets {
  /** Keygrip keys for cookies; the first signs, the others still verify (rotation). */
  cookieKeys: string[];
  /** 32-byte AES-256-GCM key that encrypts private signing keys and client secrets at rest. */
  keyEncryptionKey: Buffer;
  /** Secret of the first-party journal web app (a confidential client). */
  journalWebClientSecret: string;
  /**
   * Pepper of invite codes: the database holds HMAC(pepper, code) only, so a leaked database
   * gives no usable codes. Changing it invalidates every code not yet used.
   */
  invitePepper: Buffer;
}


/** `NAME`, or the content of the file `NAME_FILE` names (which wins). */
export function readVar(env: Record<string, string | undefined>, name: string): string | undefined {
  const file = env[`${name}_FILE`];
  if (file) {
    try {
      return fs.readFileSync(file, 'utf8').trim();
    } catch {
      throw new ConfigError(`config: ${name}_FILE cannot be read (${file})`);
    }
  }
  const v = env[name]?.trim();
  return v ? v : undefined;
}

function parseCookieKeys(v: string): string[] {
  const keys = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (!keys.length || keys.some((k) => k.length < 32)) {
    throw new ConfigError('config: COOKIE_KEYS must be a comma-separated list of keys of at least 32 characters');
  }
  return keys;
}

function parseKek(v: string): Buffer {
  const buf = Buffer.from(v, /^[0-9a-f]{64}$/i.test(v) ? 'hex' : 'base64');
  if (buf.length !== 32) {
    throw new ConfigError('config: KEY_ENCRYPTION_KEY must be 32 bytes, as 64 hex digits or base64');
  }
  return buf;
}

function parsePepper(v: string): Buffer {
  const buf = Buffer.from(v, /^[0-9a-f]+$/i.test(v) && v.length % 2 === 0 ? 'hex' : 'base64');
  if (buf.length < 32) throw new ConfigError('config: INVITE_CODE_PEPPER must be at least 32 bytes, as hex or base64');
  return buf;
}

function parseClientSecret(v: string): string {
  if (v.length < 32) throw new ConfigError('config: JOURNAL_WEB_CLIENT_SECRET must be at least 32 characters');
  return v;
}

export function loadSecrets(
  env: Record<string, string | undefined>,
  { dataDir, dev }: { dataDir: string; dev: boolean },
): Secrets {
  const given = {
    cookieKeys: readVar(env, 'COOKIE_KEYS'),
    keyEncryptionKey: readVar(env, 'KEY_ENCRYPTION_KEY'),
    journalWebClientSecret: readVar(env, 'JOURNAL_WEB_CLIENT_SECRET'),
    invitePepper: readVar(env, 'INVITE_CODE_PEPPER'),
  };
  if (!dev) {
    for (const [field, name] of [
      ['cookieKeys', 'COOKIE_KEYS'],
      ['keyEncryptionKey', 'KEY_ENCRYPTION_KEY'],
      ['journalWebClientSecret', 'JOURNAL_WEB_CLIENT_SECRET'],
      ['invitePepper', 'INVITE_CODE_PEPPER'],
    ] as const) {
      if (!given[field]) throw new ConfigError(`config: ${name} is required in production (or ${name}_FILE)`);
    }
  }
  let stored: Partial<Record<keyof typeof given, string>> = {};
  if (dev && Object.values(given).some((v) => !v)) stored = devSecrets(dataDir);
  return {
    cookieKeys: parseCookieKeys(given.cookieKeys ?? stored.cookieKeys!),
    keyEncryptionKey: parseKek(given.keyEncryptionKey ?? stored.keyEncryptionKey!),
    journalWebClientSecret: parseClientSecret(given.journalWebClientSecret ?? stored.journalWebClientSecret!),
    invitePepper: parsePepper(given.invitePepper ?? stored.invitePepper!),
  };
}

type DevSecrets = Record<'cookieKeys' | 'keyEncryptionKey' | 'journalWebClientSecret' | 'invitePepper', string>;

/** Reads `<dataDir>/secrets.json`, creating it with fresh random values on the first start. */
function devSecrets(dataDir: string): DevSecrets {
  const file = path.join(dataDir, 'secrets.json');
  try {
    return withNewSecrets(file, JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(`config: ${file} is not valid JSON; delete it to generate new development secrets`);
    }
  }
  const fresh = generate();
  fs.mkdirSync(dataDir, { recursive: true });
  // 'wx' so two processes starting at once do not overwrite each other's secrets.
  try {
    fs.writeFileSync(file, JSON.stringify(fresh, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    return fresh;
  } catch {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  }
}

function generate(): DevSecrets {
  return {
    cookieKeys: randomBytes(32).toString('base64url'),
    keyEncryptionKey: randomBytes(32).toString('hex'),
    journalWebClientSecret: randomBytes(32).toString('base64url'),
    invitePepper: randomBytes(32).toString('hex'),
  };
}

/** A data folder from an older version lacks secrets added since: add them, keep the rest. */
function withNewSecrets(file: string, stored: Partial<DevSecrets>): DevSecrets {
  const missing = Object.entries(generate()).filter(([k]) => !stored[k as keyof DevSecrets]);
  if (!missing.length) return stored as DevSecrets;
  const merged = { ...stored, ...Object.fromEntries(missing) } as DevSecrets;
  fs.writeFileSync(file, JSON.stringify(merged, null, 2) + '\n', { mode: 0o600 });
  return merged;
}
