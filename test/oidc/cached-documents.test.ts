/** Discovery and JWKS served as kept bytes: the same answers as the provider's, renewed with the keys, cacheable by relying parties. */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import http from 'node:http';
import { startTestServer, type TestServer } from '../helpers/app.js';
import { rotateKeys } from '../../src/oidc/keys.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => srv?.close());

const SHOWN = ['content-type', 'access-control-allow-origin', 'vary', 'x-content-type-options', 'cache-control'];
async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(srv.url + path, { headers });
  return { status: res.status, body: await res.text(), headers: Object.fromEntries(SHOWN.map((h) => [h, res.headers.get(h)])) };
}

describe('kept documents', () => {
  it.each(['/.well-known/openid-configuration', '/jwks'])('%s: the second answer is the first, byte for byte, with the CORS answer for each origin', async (path) => {
    const first = await get(path);
    const again = await get(path);
    expect(again).toEqual(first);
    expect(first.headers['access-control-allow-origin']).toBe('*');
    const fromApp = await get(path, { origin: 'https://app.example' });
    expect(fromApp.body).toBe(first.body);
    expect(fromApp.headers).toEqual({ ...first.headers, 'access-control-allow-origin': 'https://app.example' });
    expect(JSON.parse(first.body)).toBeInstanceOf(Object);
  });

  it('discovery names ISSUER\'s endpoints whatever Host it was asked at: one document for all', async () => {
    const port = new URL(srv.url).port;
    // fetch() sets Host itself: a plain request says what a made-up one would.
    const at = (host: string) =>
      new Promise<{ token_endpoint: string; issuer: string }>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: '/.well-known/openid-configuration', headers: { host: `${host}:${port}` } }, (res) => {
            let body = '';
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve(JSON.parse(body)));
          })
          .on('error', reject);
      });
    for (let i = 0; i < 40; i++) expect((await at(`made-up-${i}.example`)).token_endpoint).toBe(`${srv.config.issuer}/token`);
    expect((await at('localhost')).token_endpoint).toBe(`${srv.config.issuer}/token`);
    expect((await at('made-up-39.example')).issuer).toBe(srv.config.issuer);
  });

  it('both carry Cache-Control and an ETag; If-None-Match with it gets 304', async () => {
    for (const path of ['/.well-known/openid-configuration', '/jwks']) {
      const first = await fetch(srv.url + path);
      await first.text();
      expect(first.headers.get('cache-control')).toBe(`public, max-age=${Math.min(300, srv.config.keys.publishDelaySeconds / 4)}`);
      const etag = first.headers.get('etag')!;
      expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
      for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const res = await fetch(srv.url + path, { headers: { 'if-none-match': inm } });
        expect([path, inm, res.status, await res.text()]).toEqual([path, inm, 304, '']);
      }
    }
  });

  it('new signing keys: JWKS changes at once', async () => {
    const before = JSON.parse((await get('/jwks')).body) as { keys: Array<{ kid: string }> };
    await rotateKeys(srv.db, srv.config.secrets.keyEncryptionKey, { activateInSeconds: 0 });
    await srv.app.oidc.refreshKeys();
    const after = JSON.parse((await get('/jwks')).body) as { keys: Array<{ kid: string }> };
    expect(after.keys.map((k) => k.kid)).not.toEqual(before.keys.map((k) => k.kid));
    expect(after.keys.length).toBeGreaterThan(before.keys.length);
  });

  it('other methods and paths go on to the provider as before', async () => {
    const options = await fetch(`${srv.url}/jwks`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } });
    expect(options.status).toBe(204);
    const post = await fetch(`${srv.url}/jwks`, { method: 'POST' });
    expect(post.status).toBeGreaterThanOrEqual(400);
    expect((await get('/jwks?x=1')).body).toBe((await get('/jwks')).body);
  });
});
