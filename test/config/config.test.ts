/** Configuration: defaults, environment overrides, one clear line for a bad value, secrets. */
import { describe, it, expect } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, ConfigError } from '../../src/config/index.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'jid-config-'));
const prodSecrets = {
  TRUST_PROXY: 'true',
  COOKIE_KEYS: 'k'.repeat(40),
  KEY_ENCRYPTION_KEY: 'ab'.repeat(32),
  JOURNAL_WEB_CLIENT_SECRET: 's'.repeat(40),
  INVITE_CODE_PEPPER: 'cd'.repeat(32),
  SMTP_URL: 'smtp://mail.example.ru:25',
};

describe('loadConfig', () => {
  it('works with nothing set: embedded database, localhost issuer, generated secrets kept across starts', () => {
    const dir = tmp();
    const a = loadConfig({ DATA_DIR: dir });
    expect(a.embedded).toBe(true);
    expect(a.issuer).toBe('http://localhost:3000');
    expect(a.demo).toBe(true);
    expect(a.secrets.keyEncryptionKey).toHaveLength(32);
    const file = path.join(dir, 'secrets.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const b = loadConfig({ DATA_DIR: dir });
    expect(b.secrets.cookieKeys).toEqual(a.secrets.cookieKeys);
    expect(b.secrets.keyEncryptionKey.equals(a.secrets.keyEncryptionKey)).toBe(true);
  });

  it.each([
    [{ PORT: 'abc' }, /^config: PORT must be a whole number \(got "abc"\)$/],
    [{ PORT: '70000' }, /^config: PORT must be at most 65535/],
    [{ ISSUER: 'ftp://x' }, /^config: ISSUER must be an http\(s\) URL/],
    [{ ISSUER: 'https://id.example.ru/?a=1' }, /^config: ISSUER must have no query or fragment/],
    [{ DATABASE_URL: 'mysql://x' }, /^config: DATABASE_URL must be a postgres:\/\/ URL$/],
    [{ TRUST_PROXY: 'maybe' }, /^config: TRUST_PROXY must be true or false/],
    [{ REFRESH_REUSE_GRACE_SECONDS: '10' }, /^config: REFRESH_REUSE_GRACE_SECONDS must be at most 5/],
    [{ LOG_LEVEL: 'loud' }, /^config: LOG_LEVEL must be/],
    [{ COOKIE_KEYS: 'short' }, /^config: COOKIE_KEYS must be/],
    [{ KEY_ENCRYPTION_KEY: 'abcd' }, /^config: KEY_ENCRYPTION_KEY must be 32 bytes/],
    [{ CONSOLE_IDLE_MINUTES: '600', CONSOLE_ABSOLUTE_HOURS: '8' }, /^config: CONSOLE_IDLE_MINUTES must not exceed CONSOLE_ABSOLUTE_HOURS × 60$/],
  ])('%j stops the start with one line naming the key', (env, message) => {
    const run = () => loadConfig({ DATA_DIR: tmp(), ...env });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(message);
  });

  it('never echoes a secret or a database URL in its message', () => {
    expect(() => loadConfig({ DATA_DIR: tmp(), DATABASE_URL: 'mysql://user:hunter2@db/x' })).toThrow(/^((?!hunter2).)*$/);
  });

  it('production requires every secret, an https issuer behind a trusted proxy, and never seeds demo data', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', DATA_DIR: tmp(), ISSUER: 'https://id.example.ru', SMTP_URL: 'smtp://mail.example.ru', TRUST_PROXY: 'true' })).toThrow(
      /COOKIE_KEYS is required in production/,
    );
    // TLS ends at the proxy: without trusting it, Secure cookies and HSTS would silently go.
    const { TRUST_PROXY: _proxy, ...direct } = prodSecrets;
    expect(() => loadConfig({ NODE_ENV: 'production', DATA_DIR: tmp(), ISSUER: 'https://id.example.ru', ...direct })).toThrow(/TRUST_PROXY must be true in production/);
    const { SMTP_URL: _smtp, ...noMail } = prodSecrets;
    expect(() => loadConfig({ NODE_ENV: 'production', DATA_DIR: tmp(), ISSUER: 'https://id.example.ru', ...noMail })).toThrow(/SMTP_URL is required/);
    expect(() => loadConfig({ DATA_DIR: tmp(), SMTP_URL: 'http://user:hunter2@mail' })).toThrow(/^((?!hunter2).)*$/);
    expect(() => loadConfig({ NODE_ENV: 'production', DATA_DIR: tmp(), ...prodSecrets })).toThrow(/ISSUER must be an https/);
    const c = loadConfig({ NODE_ENV: 'production', DATA_DIR: tmp(), ISSUER: 'https://id.example.ru/', DEMO: 'true', ...prodSecrets });
    expect(c.issuer).toBe('https://id.example.ru');
    expect(c.demo).toBe(false);
  });

  it('reads secrets from *_FILE variables', () => {
    const dir = tmp();
    const file = path.join(dir, 'kek');
    fs.writeFileSync(file, 'cd'.repeat(32) + '\n');
    const c = loadConfig({ NODE_ENV: 'production', DATA_DIR: dir, ISSUER: 'https://id.example.ru', ...prodSecrets, KEY_ENCRYPTION_KEY: '', KEY_ENCRYPTION_KEY_FILE: file });
    expect(c.secrets.keyEncryptionKey.toString('hex')).toBe('cd'.repeat(32));
    expect(() => loadConfig({ DATA_DIR: dir, KEY_ENCRYPTION_KEY_FILE: path.join(dir, 'missing') })).toThrow(/KEY_ENCRYPTION_KEY_FILE cannot be read/);
  });

  it('a database URL switches to PostgreSQL and off the demo seed, unless DEMO=true', () => {
    const c = loadConfig({ DATA_DIR: tmp(), DATABASE_URL: 'postgres://u@h/db' });
    expect(c.embedded).toBe(false);
    expect(c.demo).toBe(false);
    // …unless asked for (the docker compose stack), and never in production.
    expect(loadConfig({ DATA_DIR: tmp(), DATABASE_URL: 'postgres://u@h/db', DEMO: 'true' }).demo).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', DATA_DIR: tmp(), ISSUER: 'https://id.example.ru', DATABASE_URL: 'postgres://u@h/db', DEMO: 'true', ...prodSecrets }).demo).toBe(false);
  });
});
