/**
 * The admin API's OpenAPI document (src/admin-api/openapi.ts) against the real API: it is served
 * without a token and stays the same bytes; it is valid OpenAPI 3.1; the routes of the router the
 * app mounts and the documented operations are the same set; and every documented operation,
 * called on a started server, answers with a documented status, its JSON body valid against the
 * documented schema (JSON Schema 2020-12, ajv) and its documented headers present — down to the
 * refusals (no token, a token without `admin`, bad bodies, unknown ids). Every documented answer
 * must be seen at least once, so the document promises nothing the API does not do.
 */
import { cliAudit } from '../../src/audit/bound.js';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import type Router from '@koa/router';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startTestServer, addSchool, type TestServer } from '../helpers/app.js';
import { discover, oidc } from '../helpers/rp.js';
import { buildApp } from '../../src/server/app.js';
import { registerClient } from '../../src/clients/manage.js';
import { adminApiDocument } from '../../src/admin-api/openapi.js';
import { ADMIN_API_PREFIX, OPENAPI_PATH } from '../../src/admin-api/schemas.js';
import { routesOf } from '../../src/admin-api/routes.js';
import type { School } from '../../src/schools/queries.js';

// ajv-formats is CommonJS: its plugin is the module itself or its `default`.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

type Json = Record<string, any>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

let srv: TestServer;
let school: School;
let doc: Json;
let docText = '';
let base = ''; // the server's URL + prefix, from the document's `servers`
const tokens = { admin: '', other: '' };
const ids = { admin: '', firstParty: '', native: '' };

/** Every documented answer seen: `METHOD /path/{template} status`. */
const seen = new Set<string>();
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
ajv.addKeyword({ keyword: 'components' }); // the document's part that holds the schemas
const DOC_ID = 'https://journal-id.test/admin-api/openapi.json';

interface Call {
  method: string;
  /** The documented path, e.g. `/clients/{id}`. */
  template: string;
  params?: Record<string, string>;
  query?: string;
  token?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
}

interface Result {
  status: number;
  headers: Headers;
  body: any;
}

function operation(method: string, template: string): Json {
  const op = doc.paths[template]?.[method.toLowerCase()];
  if (!op) throw new Error(`not documented: ${method} ${template}`);
  return op;
}

const deref = (o: Json): Json => (o.$ref ? deref(pointer(o.$ref)) : o);
function pointer(ref: string): Json {
  return ref.replace(/^#\//, '').split('/').reduce((o: Json, k) => o[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
}

/**
 * Calls an operation as documented and checks the answer against the document: a documented
 * status, the body valid against its schema, its required headers there and all its headers valid.
 */
async function call(c: Call): Promise<Result> {
  const op = operation(c.method, c.template);
  const path = c.template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(c.params?.[name] ?? ''));
  const headers: Record<string, string> = { ...c.headers };
  const token = c.token === undefined ? tokens.admin : c.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (c.body !== undefined) {
    body = typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${base}${path}${c.query ? `?${c.query}` : ''}`, { method: c.method, headers, body });
  const text = await res.text();
  const where = `${c.method} ${c.template} → ${res.status}`;

  const documented = op.responses[String(res.status)];
  expect([where, documented ? 'documented' : `not documented (${text.slice(0, 200)})`]).toEqual([where, 'documented']);
  const answer = deref(documented);
  seen.add(`${c.method} ${c.template} ${res.status}`);

  for (const [name, h] of Object.entries<Json>(answer.headers ?? {})) {
    const header = deref(h);
    const value = res.headers.get(name);
    if (header.required) expect([where, name, value !== null]).toEqual([where, name, true]);
    if (value !== null) expectValid(header.schema, value, `${where} header ${name}`);
  }
  const schema = answer.content?.['application/json']?.schema;
  if (!schema) {
    expect([where, text]).toEqual([where, '']);
    return { status: res.status, headers: res.headers, body: undefined };
  }
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const parsed = JSON.parse(text) as unknown;
  expectValid(schema, parsed, where);
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Validates against a schema of the document (its $refs point into the document). */
function expectValid(schema: Json, value: unknown, where: string): void {
  const validate = schema.$ref ? ajv.getSchema(`${DOC_ID}${schema.$ref}`)! : ajv.compile(schema);
  const ok = validate(value);
  expect([where, ok ? 'valid' : JSON.stringify(validate.errors)]).toEqual([where, 'valid']);
}

async function serviceToken(clientId: string, secret: string, scope?: string): Promise<string> {
  const rp = await discover(srv.url, clientId, secret);
  return (await oidc.clientCredentialsGrant(rp, scope ? { scope } : {})).access_token;
}

beforeAll(async () => {
  srv = await startTestServer();
  school = await addSchool(srv.db);
  const admin = await registerClient(srv.app, { client_name: 'Платформа', grant_types: ['client_credentials'], scope: 'admin' }, cliAudit(srv.app.db));
  ids.admin = admin.client.client_id;
  tokens.admin = await serviceToken(admin.client.client_id, admin.secret!, 'admin');
  const other = await registerClient(srv.app, { client_name: 'Отчёты', grant_types: ['client_credentials'] }, cliAudit(srv.app.db));
  tokens.other = await serviceToken(other.client.client_id, other.secret!);
  ids.firstParty = (await registerClient(srv.app, { client_name: 'Журнал (своё)', redirect_uris: ['https://own.example.ru/cb'], first_party: true }, cliAudit(srv.app.db))).client.client_id;

  const res = await fetch(`${srv.url}${ADMIN_API_PREFIX}${OPENAPI_PATH}`);
  docText = await res.text();
  doc = JSON.parse(docText) as Json;
  base = doc.servers[0].url as string;
  // Only the components are a JSON Schema document; their $refs are `#/components/schemas/…`.
  ajv.addSchema({ $id: DOC_ID, components: doc.components });
}, 60_000);
afterAll(async () => srv?.close());

describe('the document', () => {
  it('is served without a token, as JSON, cacheable, the same bytes each time and for the same config', async () => {
    const url = `${srv.url}${ADMIN_API_PREFIX}${OPENAPI_PATH}`;
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toMatch(/^public, max-age=\d+/);
    expect(res.headers.get('pragma')).toBeNull();
    const etag = res.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(await res.text()).toBe(docText);
    // Built again, for the same issuer: the same bytes.
    expect(`${JSON.stringify(adminApiDocument(srv.config.issuer), null, 2)}\n`).toBe(docText);
    // fetch() adds `cache-control: no-cache` to a conditional request; the condition is still
    // evaluated (RFC 9110 §13.1.2), as for discovery and JWKS — a 304, not the whole document again.
    const again = await fetch(url, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    expect((await fetch(url, { headers: { 'if-none-match': `W/${etag}, "other"` } })).status).toBe(304);
    expect((await fetch(url, { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
    // HEAD too, and a token is not needed but does no harm.
    expect((await fetch(url, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(url, { headers: { authorization: 'Bearer nonsense' } })).status).toBe(200);
    // Other methods on it are the API's: a token first.
    expect((await fetch(url, { method: 'POST' })).status).toBe(401);
  });

  it('is valid OpenAPI 3.1, with servers, security and examples that fit', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.openapi).toBe('3.1.0');

    expect(doc.servers).toEqual([{ url: `${srv.config.issuer}${ADMIN_API_PREFIX}`, description: expect.any(String) }]);
    const discovery = (await (await fetch(`${srv.url}/.well-known/openid-configuration`)).json()) as Json;
    expect(doc.components.securitySchemes.oauth2.flows.clientCredentials).toEqual({ tokenUrl: discovery.token_endpoint, scopes: { admin: expect.any(String) } });
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ oauth2: ['admin'] }, { bearer: [] }]);

    // Every schema in it compiles as JSON Schema 2020-12 (ajv, strict): the validator above checks the document's shape only.
    for (const name of Object.keys(doc.components.schemas)) expect([name, typeof ajv.getSchema(`${DOC_ID}#/components/schemas/${name}`)]).toEqual([name, 'function']);
    for (const h of Object.values<Json>(doc.components.headers)) ajv.compile(h.schema);

    // Every operation: an id, an English summary and description, a 2xx; parameters' schemas compile; request examples fit their schemas.
    const ids = new Set<string>();
    for (const [template, item] of Object.entries<Json>(doc.paths)) {
      for (const method of Object.keys(item).filter((k) => METHODS.includes(k))) {
        const op = item[method] as Json;
        expect(ids.has(op.operationId)).toBe(false);
        ids.add(op.operationId);
        expect([template, method, op.summary.length > 5, op.description.length > 20]).toEqual([template, method, true, true]);
        expect(Object.keys(op.responses).some((s) => /^2/.test(s))).toBe(true);
        const params = (template.match(/\{\w+\}/g) ?? []).map((p) => p.slice(1, -1));
        expect((op.parameters ?? []).filter((p: Json) => p.in === 'path').map((p: Json) => p.name)).toEqual(params);
        for (const p of op.parameters ?? []) ajv.compile(p.schema);
        for (const [name, ex] of Object.entries<Json>(op.requestBody?.content?.['application/json']?.examples ?? {})) {
          expectValid(op.requestBody.content['application/json'].schema, ex.value, `${method} ${template} example ${name}`);
        }
      }
    }
  });

  it('describes exactly the routes of the router the app mounts (method and path, :param ↔ {param})', () => {
    // The app's router holds the admin API's router behind one entry (its `.router`).
    const koa = buildApp(srv.app);
    const appRouter = koa.middleware.map((mw) => (mw as { router?: Router }).router).find(Boolean)!;
    const mounted = appRouter.stack.flatMap((layer) => layer.stack.map((fn) => (fn as { router?: Router }).router).filter(Boolean)) as Router[];
    expect(mounted).toHaveLength(1);
    const routes = routesOf(mounted[0]!).map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
    expect(routes.length).toBeGreaterThanOrEqual(12);
    expect(new Set(routes).size).toBe(routes.length);

    const prefix = new URL(base).pathname;
    expect(prefix).toBe(ADMIN_API_PREFIX);
    const documented = Object.entries<Json>(doc.paths).flatMap(([template, item]) =>
      Object.keys(item).filter((k) => METHODS.includes(k)).map((m) => `${m.toUpperCase()} ${prefix}${template}`),
    );
    expect([...documented].sort()).toEqual([...routes].sort());
  });
});

describe('every documented operation, called on a started server', () => {
  const clientIds: Record<string, string> = {};
  const operations = () =>
    Object.entries<Json>(doc.paths).flatMap(([template, item]) =>
      Object.keys(item).filter((k) => METHODS.includes(k)).map((m) => ({ method: m.toUpperCase(), template, op: item[m] as Json })),
    );
  const params = () => ({ id: clientIds.library!, school: school.id });

  it('clients: list, register, read, change, new secret', async () => {
    const made = await call({ method: 'POST', template: '/clients', body: { client_id: 'school-library', client_name: 'Школьная библиотека', redirect_uris: ['https://lib.example.ru/callback'] } });
    expect(made.status).toBe(201);
    expect(made.body.client_secret).toEqual(expect.any(String));
    expect(made.headers.get('location')).toBe(`${ADMIN_API_PREFIX}/clients/${made.body.client_id}`);
    clientIds.library = made.body.client_id as string;
    const native = await call({ method: 'POST', template: '/clients', body: { client_name: 'Дневник школы', application_type: 'native', redirect_uris: ['ru.school.diary:/cb'] } });
    expect([native.status, native.body.client_secret]).toEqual([201, undefined]);
    ids.native = native.body.client_id as string;

    expect((await call({ method: 'GET', template: '/clients' })).body.clients.length).toBeGreaterThanOrEqual(4);
    expect((await call({ method: 'GET', template: '/clients', query: `school_id=${school.id}` })).body.clients).toEqual([]);
    expect((await call({ method: 'GET', template: '/clients/{id}', params: params() })).body.client_name).toBe('Школьная библиотека');
    const changed = await call({ method: 'PATCH', template: '/clients/{id}', params: params(), body: { client_name: 'Библиотека', backchannel_logout_uri: null } });
    expect([changed.status, changed.body.client_name, changed.body.client_secret]).toEqual([200, 'Библиотека', undefined]);
    const rotated = await call({ method: 'POST', template: '/clients/{id}/secret', params: params() });
    expect([rotated.status, typeof rotated.body.client_secret]).toEqual([200, 'string']);
    // A public client made confidential gets its secret in the answer of the change.
    const confidential = await call({ method: 'PATCH', template: '/clients/{id}', params: { id: ids.native }, body: { token_endpoint_auth_method: 'client_secret_basic' } });
    expect([confidential.status, typeof confidential.body.client_secret]).toEqual([200, 'string']);
    await call({ method: 'PATCH', template: '/clients/{id}', params: { id: ids.native }, body: { token_endpoint_auth_method: 'none' } });
  });

  it('clients: refusals — bad metadata, a taken id, the CLI\'s clients, unknown ids', async () => {
    const bad = await call({ method: 'POST', template: '/clients', body: { client_name: 'Плохой', redirect_uris: ['http://evil.example.ru/cb'] } });
    expect([bad.status, bad.body.error]).toEqual([400, 'invalid_redirect_uri']);
    expect((await call({ method: 'POST', template: '/clients', body: { client_name: 'x', colour: 'red' } })).body.error).toBe('invalid_client_metadata');
    expect((await call({ method: 'POST', template: '/clients', body: '{"client_name":' })).body.error).toBe('invalid_request');
    const taken = await call({ method: 'POST', template: '/clients', body: { client_id: clientIds.library, client_name: 'Ещё одна', redirect_uris: ['https://lib2.example.ru/cb'] } });
    expect([taken.status, taken.body.error]).toEqual([409, 'invalid_client_metadata']);
    const adminScope = await call({ method: 'POST', template: '/clients', body: { client_name: 'Второй админ', grant_types: ['client_credentials'], scope: 'admin' } });
    expect([adminScope.status, adminScope.body.error]).toEqual([403, 'access_denied']);
    expect((await call({ method: 'GET', template: '/clients', query: 'school_id=a&school_id=b' })).status).toBe(400);

    const nobody = { id: 'c_nobody' };
    expect((await call({ method: 'GET', template: '/clients/{id}', params: nobody })).body.error).toBe('not_found');
    expect((await call({ method: 'PATCH', template: '/clients/{id}', params: nobody, body: { client_name: 'x' } })).status).toBe(404);
    expect((await call({ method: 'POST', template: '/clients/{id}/secret', params: nobody })).status).toBe(404);
    expect((await call({ method: 'DELETE', template: '/clients/{id}', params: nobody })).status).toBe(404);
    expect((await call({ method: 'PATCH', template: '/clients/{id}', params: params(), body: {} })).status).toBe(400);
    expect((await call({ method: 'POST', template: '/clients/{id}/secret', params: { id: ids.native } })).body.error).toBe('invalid_client_metadata');
    for (const c of [
      { method: 'PATCH', template: '/clients/{id}', params: { id: ids.admin }, body: { client_name: 'x' } },
      { method: 'POST', template: '/clients/{id}/secret', params: { id: ids.admin } },
      { method: 'DELETE', template: '/clients/{id}', params: { id: ids.firstParty } },
    ]) {
      expect((await call(c)).body.error).toBe('access_denied');
    }
  });

  it('initial access tokens and schools', async () => {
    const iat = await call({ method: 'POST', template: '/initial-access-tokens', body: { school_id: school.id, ttl_days: 2 } });
    expect([iat.status, iat.body.school_id, iat.body.registration_endpoint]).toEqual([201, school.id, `${srv.config.issuer}/reg`]);
    expect((await call({ method: 'POST', template: '/initial-access-tokens', body: { school_id: 'nowhere' } })).status).toBe(400);
    expect((await call({ method: 'POST', template: '/initial-access-tokens', body: { school_id: school.id, ttl_days: 1000 } })).status).toBe(400);

    expect((await call({ method: 'GET', template: '/schools' })).body.schools).toContainEqual(school);
    expect((await call({ method: 'GET', template: '/schools', query: `q=${encodeURIComponent(school.name)}&limit=5` })).body.schools[0]).toEqual(school);
    expect((await call({ method: 'GET', template: '/schools', query: 'limit=0' })).body.error).toBe('invalid_request');
  });

  it('school approvals: approve (201, then 200), list, withdraw (204, then 404); the journal\'s own apps and unknown ones refused', async () => {
    expect((await call({ method: 'PUT', template: '/schools/{school}/clients/{id}', params: params() })).status).toBe(201);
    expect((await call({ method: 'PUT', template: '/schools/{school}/clients/{id}', params: params() })).status).toBe(200);
    const list = await call({ method: 'GET', template: '/schools/{school}/clients', params: params() });
    expect(list.body.clients.map((c: Json) => c.client_id)).toEqual([clientIds.library]);
    expect((await call({ method: 'DELETE', template: '/schools/{school}/clients/{id}', params: params() })).status).toBe(204);
    expect((await call({ method: 'DELETE', template: '/schools/{school}/clients/{id}', params: params() })).status).toBe(404);

    const own = { school: school.id, id: ids.firstParty };
    expect((await call({ method: 'PUT', template: '/schools/{school}/clients/{id}', params: own })).status).toBe(400);
    expect((await call({ method: 'DELETE', template: '/schools/{school}/clients/{id}', params: own })).status).toBe(400);
    const nowhere = { school: '00000000-0000-4000-8000-000000000000', id: clientIds.library! };
    expect((await call({ method: 'GET', template: '/schools/{school}/clients', params: nowhere })).status).toBe(404);
    expect((await call({ method: 'PUT', template: '/schools/{school}/clients/{id}', params: nowhere })).status).toBe(404);
  });

  it('every operation that needs a token: 401 without one, 403 with one lacking the admin scope', async () => {
    const secured = operations().filter(({ op }) => !(op.security && op.security.length === 0));
    expect(secured.length).toBe(operations().length - 1);
    for (const { method, template } of secured) {
      const none = await call({ method, template, params: params(), token: null });
      expect([method, template, none.status, none.body.error]).toEqual([method, template, 401, 'invalid_token']);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm="journal-id", error="invalid_token"/);
      const other = await call({ method, template, params: params(), token: tokens.other });
      expect([method, template, other.status, other.body.error]).toEqual([method, template, 403, 'insufficient_scope']);
    }
  });

  it('every operation that reads a body: 415 for one that is not JSON, 413 for one over 64 kB', async () => {
    const withBody = operations().filter(({ op }) => op.responses['415']);
    expect(withBody.map(({ method }) => method).sort()).toEqual(['PATCH', 'POST', 'POST', 'POST', 'PUT']);
    for (const { method, template } of withBody) {
      expect((await call({ method, template, params: params(), body: 'client_name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(415);
      expect((await call({ method, template, params: params(), body: { client_name: 'x', padding: 'я'.repeat(40_000) } })).status).toBe(413);
    }
  });

  it('remove a client (204, then 404) and fetch the document itself as an operation', async () => {
    expect((await call({ method: 'DELETE', template: '/clients/{id}', params: params() })).status).toBe(204);
    expect((await call({ method: 'GET', template: '/clients/{id}', params: params() })).status).toBe(404);
    const self = await call({ method: 'GET', template: OPENAPI_PATH, token: null });
    expect(self.body).toEqual(doc);
    expect((await call({ method: 'GET', template: OPENAPI_PATH, token: null, headers: { 'if-none-match': self.headers.get('etag')!, 'cache-control': 'max-age=0' } })).status).toBe(304);
  });

  it('every documented answer of every operation was seen', () => {
    const documented = operations().flatMap(({ method, template, op }) => Object.keys(op.responses).map((status) => `${method} ${template} ${status}`));
    expect(documented.filter((d) => !seen.has(d))).toEqual([]);
  });
});
