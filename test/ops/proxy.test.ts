/**
 * deploy/Caddyfile at work: Caddy (Debian's `caddy`, as CI installs it) runs the committed file
 * in front of docker-compose.yml's replicas, here journal-id servers on one database; only the
 * addresses change (the replicas' names become the loopback ports their network would resolve).
 * Requests reach every replica; journal-id (TRUST_PROXY=true, as compose sets it) sees the
 * client's address and scheme as the proxy saw them, whatever the client claimed in
 * X-Forwarded-*, and the site's own host (SITE_HOST) as X-Forwarded-Host, whatever Host the client
 * sent; the request id is the proxy's; /metrics never reaches a replica; replicas that stop
 * answering cost no request.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { freePort, startTestServer, testSecrets, type TestServer } from '../helpers/app.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let testDb: TestDb;
let proxyPort: number;
let caddy: ChildProcess;
let caddyOutput = '';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-proxy-'));
const replicas: { name: string; server: TestServer; logs: string[] }[] = [];

interface AccessLine {
  msg: string;
  path?: string;
  ip?: string;
  requestId?: string;
}
const accessLines = (logs: string[]) =>
  logs.map((l) => JSON.parse(l) as AccessLine).filter((l) => l.msg === 'request');

/** A request through the proxy with headers fetch would not send (Host, X-Forwarded-*). */
function get(pathname: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxyPort, path: pathname, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  proxyPort = await freePort();
  testDb = await createTestDb();
  // The replicas' names and port, from the compose file the Caddyfile is checked against.
  const compose = parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { build?: { target?: string } }>;
  };
  const names = Object.keys(compose.services).filter((n) => compose.services[n]!.build?.target === 'runtime');
  expect(names.length).toBeGreaterThanOrEqual(2);
  const secrets = testSecrets(); // one set for both, as compose gives them from .env
  let caddyfile = fs.readFileSync(path.join(root, 'deploy/Caddyfile'), 'utf8');
  replicas.push(
    ...(await Promise.all(
      names.map(async (name) => {
        const logs: string[] = [];
        const server = await startTestServer({
          testDb,
          logs,
          env: { ISSUER: `http://localhost:${proxyPort}`, TRUST_PROXY: 'true', SCHOOL_HOST_DOMAIN: 'schools.test' },
          overrides: { secrets },
        });
        return { name, server, logs };
      }),
    )),
  );
  for (const { name, server } of replicas) {
    const upstream = `${name}:3000`;
    expect(caddyfile).toContain(upstream);
    caddyfile = caddyfile.replaceAll(upstream, `127.0.0.1:${new URL(server.url).port}`);
  }
  // Any host, as in the container (a host in the address would make Caddy match on it), but
  // listening on the loopback address only.
  expect(caddyfile).toContain('http://:3000 {');
  caddyfile = caddyfile.replace('http://:3000 {', `http://:${proxyPort} {\n\tbind 127.0.0.1`);
  const file = path.join(tmp, 'Caddyfile');
  fs.writeFileSync(file, caddyfile);
  caddy = spawn('caddy', ['run', '--config', file, '--adapter', 'caddyfile'], {
    // SITE_HOST as docker-compose.yml gives it: ISSUER's host.
    env: { PATH: process.env.PATH, HOME: tmp, XDG_DATA_HOME: tmp, XDG_CONFIG_HOME: tmp, SITE_HOST: `localhost:${proxyPort}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  caddy.on('error', (err) => (caddyOutput += `\n${err.message} (Debian: apt-get install caddy)`));
  caddy.stdout!.on('data', (d: Buffer) => (caddyOutput += d.toString()));
  caddy.stderr!.on('data', (d: Buffer) => (caddyOutput += d.toString()));
  for (let i = 0; ; i++) {
    const up = await get('/healthz').then((r) => r.status === 200, () => false);
    if (up) break;
    if (i > 100 || caddy.exitCode !== null) throw new Error(`Caddy did not start:\n${caddyOutput.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 60_000);

afterAll(async () => {
  if (caddy && caddy.exitCode === null) {
    const exited = new Promise((r) => caddy.once('exit', r));
    caddy.kill('SIGTERM');
    await exited;
  }
  // The first replica's close ends the database pool on PGlite, which both share.
  for (const r of replicas.toReversed()) await r.server.running.close().catch(() => undefined);
  await testDb?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('deploy/Caddyfile in front of two journal-id replicas', () => {
  it('balances requests over both replicas', async () => {
    const before = replicas.map((r) => accessLines(r.logs).length);
    for (let i = 0; i < 10; i++) expect((await get('/readyz')).status).toBe(200);
    const served = replicas.map((r, i) => accessLines(r.logs).slice(before[i]).filter((l) => l.path === '/readyz').length);
    expect(served.reduce((a, b) => a + b, 0)).toBe(10);
    for (const n of served) expect(n).toBeGreaterThanOrEqual(Math.floor(10 / replicas.length) - 1); // round robin, give or take
  });

  it('journal-id sees the client as the proxy saw it, not what it claimed in X-Forwarded-*', async () => {
    const before = replicas.map((r) => accessLines(r.logs).length);
    const res = await get('/healthz', {
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': '1399.schools.test',
    });
    expect(res.status).toBe(200); // not the school host's redirect: the Host header is what counts
    // Not https: no HSTS, which journal-id sends on a secure request behind a trusted proxy.
    expect(res.headers['strict-transport-security']).toBeUndefined();
    const line = replicas.flatMap((r, i) => accessLines(r.logs).slice(before[i])).find((l) => l.path === '/healthz');
    expect(line?.ip).toBe('127.0.0.1');
  });

  it('passes the Host header through (a school\'s own host still works behind the proxy)', async () => {
    const res = await get('/hello?x=1', { host: '1399.schools.test' });
    expect(res.status).toBe(302);
    const target = new URL(res.headers.location!);
    expect(target.origin).toBe(`http://localhost:${proxyPort}`);
    expect(target.searchParams.get('school')).toBe('1399');
  });

  it('sends the site itself as X-Forwarded-Host, never the client\'s Host or X-Forwarded-Host (issue 16.9)', async () => {
    // What reached the replicas, before journal-id read it.
    const seen: http.IncomingHttpHeaders[] = [];
    const listener = (req: http.IncomingMessage) => void (req.url === '/healthz' && seen.push(req.headers));
    for (const r of replicas) r.server.running.server.prependListener('request', listener);
    try {
      const tries: Array<Record<string, string>> = [{ host: 'evil.example' }, { host: 'evil.example', 'x-forwarded-host': 'evil.example' }, { 'x-forwarded-host': 'evil.example' }, {}];
      for (const headers of tries) {
        expect((await get('/healthz', headers)).status).toBe(200);
      }
    } finally {
      for (const r of replicas) r.server.running.server.removeListener('request', listener);
    }
    expect(seen.map((h) => h['x-forwarded-host'])).toEqual(Array(4).fill(`localhost:${proxyPort}`));
    // The Host header itself passes as is (a school's own host is read from it).
    expect(seen[0]!.host).toBe('evil.example');
  });

  it('discovery and the provider\'s redirects through the proxy name ISSUER whatever Host the client sent', async () => {
    const issuer = `http://localhost:${proxyPort}`;
    const tries: Array<Record<string, string>> = [{ host: 'evil.example' }, { host: 'evil.example', 'x-forwarded-host': 'evil.example' }];
    for (const headers of tries) {
      const res = await get('/.well-known/openid-configuration', headers);
      expect(res.status).toBe(200);
      expect(res.body).not.toContain('evil.example');
      const doc = JSON.parse(res.body) as Record<string, string>;
      expect([doc.issuer, doc.authorization_endpoint, doc.token_endpoint]).toEqual([issuer, `${issuer}/auth`, `${issuer}/token`]);
    }
  });

  it('gives every request an id of its own, which journal-id logs and answers with', async () => {
    const before = replicas.map((r) => accessLines(r.logs).length);
    const res = await get('/healthz', { 'x-request-id': 'chosen-by-the-client-0001' });
    const id = res.headers['x-request-id'] as string;
    expect(id).toMatch(UUID);
    const line = replicas.flatMap((r, i) => accessLines(r.logs).slice(before[i])).find((l) => l.path === '/healthz');
    expect(line?.requestId).toBe(id);
  });

  it('answers 404 for /metrics itself: no replica is asked', async () => {
    const before = replicas.map((r) => r.logs.length);
    for (const [method, p] of [['GET', '/metrics'], ['GET', '/METRICS'], ['GET', '/metrics/'], ['GET', '/metrics/x'], ['GET', '//metrics'], ['GET', '/./metrics'], ['GET', '/%6Detrics'], ['POST', '/metrics']] as const) {
      const res = await get(p, { authorization: 'Bearer anything' }, method);
      expect([method, p, res.status]).toEqual([method, p, 404]);
    }
    const asked = replicas.flatMap((r, i) => accessLines(r.logs.slice(before[i]))).filter((l) => /metrics/i.test(l.path ?? ''));
    expect(asked).toEqual([]);
  });

  it('replicas that stop answering cost no request', async () => {
    const [alive, ...stopped] = replicas;
    // Their listeners gone (connections refused); not running.close(), which on PGlite would
    // close the database all replicas share.
    for (const { server } of stopped.map((r) => r.server.running)) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    const before = accessLines(alive!.logs).length;
    for (let i = 0; i < 6; i++) expect((await get('/readyz')).status).toBe(200);
    expect(accessLines(alive!.logs).slice(before).filter((l) => l.path === '/readyz')).toHaveLength(6);
  });
});
