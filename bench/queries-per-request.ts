/**
 * The SQL each hot request sends, counted: one request of each bench scenario against an
 * in-process journal-id, with knex's query events recorded — the round trips the token endpoints
 * pay per request, to be read beside the bench's figures and profiles.
 *   node --import tsx bench/queries-per-request.ts            (embedded PGlite)
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/queries-per-request.ts
 */
import { cliAudit } from '../src/audit/bound.js';
import { startTestServer, addSchool, addAccount } from '../test/helpers/app.js';
import { registerClient } from '../src/clients/manage.js';
import { discoverPaths } from './scenarios/http.js';
import { loginOnce } from './scenarios/login.js';
import type { Seeded } from './servers/journal-id.js';

const srv = await startTestServer();
try {
  const school = await addSchool(srv.db, { slug: 'bench', number: '1001' });
  const student = await addAccount(srv.app, school, { login: 'bench.student1', password: 'Sirius2026load' });
  const { client, secret } = await registerClient(
    srv.app,
    {
      client_id: 'bench-rp',
      client_name: 'Bench RP',
      application_type: 'web',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: ['https://rp.bench.invalid/cb'],
      scope: 'openid offline_access profile',
      first_party: true,
    },
    cliAudit(srv.db),
  );
  const seeded: Seeded = { school: 'bench', logins: [student.login], password: 'Sirius2026load', clientId: client.client_id, clientSecret: secret!, redirectUri: 'https://rp.bench.invalid/cb', inviteCodes: [] };
  const paths = await discoverPaths(srv.url);
  const basic = { authorization: `Basic ${Buffer.from(`${seeded.clientId}:${encodeURIComponent(seeded.clientSecret)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' };
  let tokens = await loginOnce(srv.url, paths.token, seeded, student.login, true);

  const statements: string[] = [];
  srv.db.on('query', (q: { sql: string }) => statements.push(q.sql.replace(/\s+/g, ' ').slice(0, 160)));
  const trace = async (name: string, send: () => Promise<Response>) => {
    await send(); // the first request fills the per-node caches, as the bench's warm-up does
    statements.length = 0;
    const res = await send();
    const body = await res.text();
    if (res.status >= 400) throw new Error(`${name}: ${res.status} ${body}`);
    process.stdout.write(`\n${name}: ${statements.length} statement(s)\n${statements.map((s) => `  ${s}`).join('\n')}\n`);
    return body;
  };
  await trace('discovery', () => fetch(`${srv.url}${paths.discovery}`));
  await trace('jwks', () => fetch(`${srv.url}${paths.jwks}`));
  await trace('client_credentials', () => fetch(`${srv.url}${paths.token}`, { method: 'POST', headers: basic, body: 'grant_type=client_credentials' }));
  await trace('introspection', () => fetch(`${srv.url}${paths.introspection}`, { method: 'POST', headers: basic, body: `token=${tokens.access_token}` }));
  await trace('userinfo', () => fetch(`${srv.url}${paths.userinfo}`, { headers: { authorization: `Bearer ${tokens.access_token}` } }));
  // A rotating refresh: each request presents the token the previous one returned.
  let refresh = tokens.refresh_token!;
  await trace('refresh_token (rotating)', async () => {
    const res = await fetch(`${srv.url}${paths.token}`, { method: 'POST', headers: basic, body: `grant_type=refresh_token&refresh_token=${refresh}` });
    const copy = res.clone();
    if (res.ok) refresh = ((await copy.json()) as { refresh_token: string }).refresh_token;
    return res;
  });
  statements.length = 0;
  tokens = await loginOnce(srv.url, paths.token, seeded, student.login);
  process.stdout.write(`\nfull login (GET /auth … token exchange): ${statements.length} statement(s)\n${statements.map((s) => `  ${s}`).join('\n')}\n`);
} finally {
  await srv.close();
}
