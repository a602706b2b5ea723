/**
 * The README's start command as a newcomer runs it: `serve` on the embedded database in a fresh
 * data folder prints demo credentials once (and writes the demo client's for `npm run example`),
 * serves discovery, lets the demo student log in to the demo client, stops cleanly on SIGTERM,
 * keeps its keys across restarts, and refuses a second process on the same data folder.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { cliCommand } from '../helpers/cli.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/app.js';
import { Browser } from '../helpers/browser.js';
import { discover, startLogin, login, oidc } from '../helpers/rp.js';

const ROOT = path.resolve(import.meta.dirname ?? '.', '../..');
let dataDir: string;
const children: ChildProcess[] = [];

interface Served {
  child: ChildProcess;
  url: string;
  out: () => string;
  exited: Promise<number | null>;
}

async function serve(port: number, waitReady = true): Promise<Served> {
  let out = '';
  const child = spawn(cliCommand().command, [...cliCommand().args, 'serve'], {
    cwd: ROOT,
    env: {
      PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`,
      DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      ARGON2_MEMORY_KIB: '8192',
      ARGON2_TIME_COST: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = `http://localhost:${port}`;
  if (waitReady) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`serve exited (${child.exitCode}):\n${out}`);
      if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) break;
      if (Date.now() > deadline) throw new Error(`serve did not become ready:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { child, url, out: () => out, exited };
}

beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-serve-'));
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('serve on the embedded default', () => {
  let jwks: unknown;

  it('first start: demo credentials once, discovery, a demo login, a clean stop', async () => {
    const port = await freePort();
    const s = await serve(port);
    const out = s.out();
    expect(out).toContain('demo data created (shown once)');
    const secret = /client: demo-rp\s+secret: (\S+)/.exec(out)![1]!;
    const password = /логин: student\s+пароль: (\S+)/.exec(out)![1]!;
    // The sample relying party (`npm run example`) reads the demo client from the data folder.
    const demoFile = path.join(dataDir, 'demo-client.json');
    expect(JSON.parse(fs.readFileSync(demoFile, 'utf8'))).toEqual({ issuer: `http://localhost:${port}`, client_id: 'demo-rp', client_secret: secret });
    expect(fs.statSync(demoFile).mode & 0o777).toBe(0o600);
    const disco = (await (await fetch(`${s.url}/.well-known/openid-configuration`)).json()) as { issuer: string };
    expect(disco.issuer).toBe(`http://localhost:${port}`);
    jwks = await (await fetch(`${s.url}/jwks`)).json();

    const rp = await discover(s.url, 'demo-rp', secret);
    const started = await startLogin(rp, { redirect_uri: 'http://localhost:8080/callback', scope: 'openid profile school roles' });
    const callback = await login(new Browser(s.url), started, 'student', password);
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    const info = await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub);
    expect(info.roles).toEqual(['student']);
    expect(info.school).toMatchObject({ number: '1399' });

    // JSON log lines with a request id; no password in the logs.
    const lines = out.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.some((l) => JSON.parse(l).requestId)).toBe(true);
    expect(out.split(password).length).toBe(2); // printed once in the demo block, never logged

    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(fs.existsSync(path.join(dataDir, 'pgdata.lock'))).toBe(false);
  });

  it('a restart keeps the data and keys and seeds nothing; a second process is refused', async () => {
    const s = await serve(await freePort());
    expect(s.out()).not.toContain('demo data created');
    expect(await (await fetch(`${s.url}/jwks`)).json()).toEqual(jwks);
    const second = await serve(await freePort(), false);
    expect(await second.exited).toBe(1);
    expect(second.out()).toMatch(/^journal-id: the embedded database .* is in use by process \d+; stop it first/m);
    expect(second.out()).not.toContain('    at ');
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });
});
