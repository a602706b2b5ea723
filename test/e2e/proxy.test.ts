/**
 * Behind a TLS-terminating proxy (TRUST_PROXY=true): discovery shows https endpoints, cookies are
 * Secure, HSTS is sent, and the client address is the forwarded one (throttling counts it).
 * Without TRUST_PROXY the forwarded headers are ignored.
 */
import { describe, it, expect, afterAll } from '@jest/globals';
import { startTestServer, addSchool, type TestServer } from '../helpers/app.js';

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7', 'x-forwarded-host': 'id.example.ru' };

describe('TRUST_PROXY', () => {
  it('on: https URLs, Secure cookies, HSTS, the forwarded address', async () => {
    const logs: string[] = [];
    const srv = await startTestServer({ env: { TRUST_PROXY: 'true', ISSUER: 'https://id.example.ru' }, logs });
    servers.push(srv);
    await addSchool(srv.db, { number: '8', slug: '8' });
    const disco = (await (await fetch(`${srv.url}/.well-known/openid-configuration`, { headers: forwarded })).json()) as Record<string, string>;
    expect(disco.issuer).toBe('https://id.example.ru');
    expect(disco.token_endpoint).toBe('https://id.example.ru/token');
    const auth = await fetch(
      `${srv.url}/auth?client_id=journal-web&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(srv.config.firstPartyClients.journalWeb.redirectUris[0]!)}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256`,
      { headers: forwarded, redirect: 'manual' },
    );
    expect(auth.status).toBe(303);
    const cookies = auth.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    for (const c of cookies) expect(c).toMatch(/;\s*secure/i);
    expect(auth.headers.get('strict-transport-security')).toContain('max-age=');
    const line = logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'request' && l.path === '/auth');
    expect(line.ip).toBe('203.0.113.7');
  });

  it('off: forwarded headers change nothing', async () => {
    const logs: string[] = [];
    const srv = await startTestServer({ logs });
    servers.push(srv);
    const disco = (await (await fetch(`${srv.url}/.well-known/openid-configuration`, { headers: forwarded })).json()) as Record<string, string>;
    expect(disco.token_endpoint).toBe(`${srv.url}/token`);
    const res = await fetch(`${srv.url}/`, { headers: { ...forwarded, 'x-request-id': 'spoofed-request-id-1' } });
    expect(res.headers.get('x-request-id')).not.toBe('spoofed-request-id-1');
    expect(res.headers.get('strict-transport-security')).toBeNull();
    const line = logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'request' && l.path === '/');
    expect(line.ip).not.toBe('203.0.113.7');
  });
});
