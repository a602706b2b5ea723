/**
 * docker-compose.yml, .env.example and the Dockerfile tell the truth about the service: the
 * variables they set are ones it reads, every variable they use has a documented value, and the
 * container starts the same program as `npm start`.
 */
import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string) => fs.readFileSync(root + file, 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  depends_on?: string[] | Record<string, { condition?: string }>;
  environment?: Record<string, string> | string[];
  healthcheck?: { test?: unknown };
  ports?: string[];
}

const composeText = read('docker-compose.yml');
const compose = parse(composeText) as { services: Record<string, Service> };
const services = compose.services ?? {};
const app = services.app ?? {};

/** KEY=VALUE lines of .env.example (comments and blank lines skipped). */
const envExample = Object.fromEntries(
  read('.env.example')
    .split('\n')
    .map((line) => /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1], m[2].trim()]),
);

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}. */
function interpolate(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (_m, name: string, op = '', arg = '') => {
    const value = vars[name];
    const isSet = value !== undefined && (op.startsWith(':') ? value !== '' : true);
    if (isSet) return value;
    if (op.endsWith('-')) return arg;
    if (op.endsWith('?')) throw new Error(`${name}: ${arg}`);
    return '';
  });
}

function appEnvironment(): Record<string, string> {
  const env = app.environment;
  expect(env).toBeDefined();
  expect(Array.isArray(env)).toBe(false); // a mapping, NAME: value
  return Object.fromEntries(Object.entries(env as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

describe('docker-compose.yml', () => {
  it('has the services postgres, app and mailpit, and the fake ESIA only under its profile', () => {
    expect(Object.keys(services).sort()).toEqual(['app', 'fake-esia', 'mailpit', 'postgres']);
    expect((services['fake-esia'] as { profiles?: string[] }).profiles).toEqual(['esia']);
    expect(services.postgres.image).toMatch(/^postgres:17\b/);
    expect(services.mailpit.image).toMatch(/^axllent\/mailpit\b/);
    expect(app.build).toBeDefined();
  });

  it('starts the app only once postgres is healthy', () => {
    expect(services.postgres.healthcheck?.test).toBeDefined();
    const deps = app.depends_on;
    expect(deps && !Array.isArray(deps) && deps.postgres?.condition).toBe('service_healthy');
  });

  it('uses only variables that .env.example lists', () => {
    const used = new Set<string>();
    // ${VAR...} and bare $VAR; $$ is compose's escaped dollar.
    for (const m of composeText.matchAll(/(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))/g)) {
      used.add(m[1] ?? m[2]);
    }
    expect(used.size).toBeGreaterThan(0);
    expect([...used].filter((name) => !(name in envExample))).toEqual([]);
  });

  it('gives the app only variables the service reads', () => {
    const configText = read('src/config/index.ts');
    const secretsText = read('src/config/secrets.ts');
    const read_ = new Set<string>([
      // keys of the ENV object in src/config/index.ts
      ...[...configText.matchAll(/^\s{2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]),
      // readVar(env, 'NAME') in src/config/secrets.ts
      ...[...secretsText.matchAll(/readVar\(env, '([A-Z][A-Z0-9_]*)'\)/g)].map((m) => m[1]),
    ]);
    expect(read_.has('DATABASE_URL')).toBe(true);
    expect(read_.has('COOKIE_KEYS')).toBe(true);
    expect(read_.has('SMTP_URL')).toBe(true);
    const unknown = Object.keys(appEnvironment()).filter((name) => !read_.has(name));
    expect(unknown).toEqual([]);
  });

  it('with the values of .env.example, the app environment passes the config validation', () => {
    const env = Object.fromEntries(
      Object.entries(appEnvironment()).map(([k, v]) => [k, interpolate(v, envExample)]),
    );
    expect(env.DATABASE_URL).toMatch(/^postgres:\/\/journal:[^@]+@postgres:5432\/journal$/);
    const config = loadConfig(env);
    expect(config.embedded).toBe(false);
    expect(config.issuer).toBe(env.ISSUER);
    // The same secrets are enough for production, given an https issuer.
    const prod = loadConfig({ ...env, NODE_ENV: 'production', ISSUER: 'https://id.example.org', TRUST_PROXY: 'true' });
    expect(prod.dev).toBe(false);
  });

  it('fails loudly when a secret is missing instead of starting without it', () => {
    const { COOKIE_KEYS: _dropped, ...rest } = envExample;
    expect(() => interpolate(appEnvironment().COOKIE_KEYS, rest)).toThrow(/COOKIE_KEYS/);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');

  it('runs the same program as `npm start`', () => {
    const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(dockerfile);
    expect(cmd).not.toBeNull();
    const argv = JSON.parse(cmd![1]) as string[];
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(argv.join(' ')).toBe(pkg.scripts.start);
  });

  it('listens on the port that compose publishes, as a non-root user', () => {
    const port = /^ENV\b.*\bPORT=(\d+)/m.exec(dockerfile)?.[1];
    expect(port).toBeDefined();
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${port}$`, 'm'));
    expect((app.ports ?? []).some((p) => String(p).endsWith(`:${port}`))).toBe(true);
    expect(dockerfile).toMatch(/^USER node$/m);
  });
});
