/**
 * The admin API (`/admin/api/v1`, JSON): school IT's clients and initial access tokens, and the
 * list of schools, for a platform operator's tooling. Callers authenticate with a bearer token of
 * the client_credentials grant with the `admin` scope (auth.ts); every change goes through
 * src/clients/manage.ts and is audited with the calling client and its address. Answers are JSON
 * only, errors in RFC 6749/7591 form (`{error, error_description}`), never cached. Its schemas are
 * in schemas.ts; openapi.ts describes it from them and serves that at `openapi.json` (no token).
 */
import { auditOf } from '../audit/bound.js';
import { etagOf, serveKept } from '../server/conditional-get.js';
import Router from '@koa/router';
import type { Context } from 'koa';
import { koaBody } from 'koa-body';
import type { z } from 'zod';
import type { AppContext } from '../server/context.js';
import type { Logger } from '../server/logger.js';
import {
  ClientError,
  getClient,
  listManagedClients,
  registerClient,
  removeClient,
  rotateClientSecret,
  updateClient,
  type ClientView,
  type Manager,
} from '../clients/manage.js';
import { DEFAULT_TOKEN_TTL_DAYS, issueInitialAccessToken } from '../clients/registration.js';
import { findSchoolById, listSchools, searchSchools } from '../schools/queries.js';
import { adminClientOf, AuthError, challenge } from './auth.js';
import { approveClient, withdrawClient } from '../clients/approvals.js';
import {
  ADMIN_API_PREFIX,
  OPENAPI_PATH,
  clientsQuery,
  initialAccessTokenRequest,
  schoolsQuery,
  type ApiErrorBody,
  type ApiErrorCode,
  type clientList,
  type clientWithNewSecret,
  type clientWithSecret,
  type initialAccessToken,
  type schoolApproval,
  type schoolApprovals,
  type schoolList,
} from './schemas.js';
import { adminApiDocument } from './openapi.js';

export { ADMIN_API_PREFIX } from './schemas.js';

/** A refusal with a status and an RFC-style error code. */
class ApiError extends Error {
  constructor(readonly status: number, readonly code: ApiErrorCode, message: string) {
    super(message);
  }
}

/** What an answer of the API holds, as openapi.ts describes it (checked by the compiler). */
type Answer<T extends z.ZodType> = z.input<T>;

const CLIENT_ERROR_STATUS: Record<ClientError['code'], [number, ApiErrorCode]> = {
  invalid_client_metadata: [400, 'invalid_client_metadata'],
  invalid_redirect_uri: [400, 'invalid_redirect_uri'],
  not_found: [404, 'not_found'],
  forbidden: [403, 'access_denied'],
  conflict: [409, 'invalid_client_metadata'],
};

const withSecret = (client: ClientView, secret: string | undefined): Answer<typeof clientWithSecret> => (secret ? { ...client, client_secret: secret } : client);

/** Paths that answer without a token: the API's description (not data). */
const PUBLIC_PATHS = new Set([`${ADMIN_API_PREFIX}${OPENAPI_PATH}`]);

/**
 * The API's router: every route of the admin API, under ADMIN_API_PREFIX. The app mounts it
 * behind authentication and the JSON body parser (registerAdminApiRoutes).
 */
export function adminApiRouter(app: AppContext): Router {
  const api = new Router({ prefix: ADMIN_API_PREFIX });
  // The request's writer acts as the admin client (admin-api/auth.ts named it).
  const manager = (ctx: Context): Manager => auditOf(ctx);

  // The description, as bytes made once: the same config gives the same bytes (and ETag).
  const document = Buffer.from(`${JSON.stringify(adminApiDocument(app.config.issuer), null, 2)}\n`);
  const etag = etagOf(document);
  api.get(OPENAPI_PATH, (ctx) => {
    ctx.remove('pragma');
    ctx.set('cache-control', 'public, max-age=300, must-revalidate');
    serveKept(ctx, { body: document, etag, type: 'application/json' });
  });

  api.get('/clients', async (ctx) => {
    const r = clientsQuery.safeParse(ctx.query);
    if (!r.success) throw new ApiError(400, 'invalid_request', 'school_id must be one text');
    ctx.body = { clients: await listManagedClients(app, { schoolId: r.data.school_id }) } satisfies Answer<typeof clientList>;
  });

  api.post('/clients', async (ctx) => {
    const { client, secret } = await registerClient(app, ctx.request.body, manager(ctx));
    ctx.status = 201;
    ctx.set('location', `${ADMIN_API_PREFIX}/clients/${encodeURIComponent(client.client_id)}`);
    ctx.body = withSecret(client, secret);
  });

  api.get('/clients/:id', async (ctx) => {
    ctx.body = await getClient(app, ctx.params.id!);
  });

  api.patch('/clients/:id', async (ctx) => {
    const { client, secret } = await updateClient(app, ctx.params.id!, ctx.request.body, manager(ctx));
    ctx.body = withSecret(client, secret);
  });

  api.delete('/clients/:id', async (ctx) => {
    await removeClient(app, ctx.params.id!, manager(ctx));
    ctx.status = 204;
  });

  api.post('/clients/:id/secret', async (ctx) => {
    const { client, secret } = await rotateClientSecret(app, ctx.params.id!, manager(ctx));
    ctx.body = { ...client, client_secret: secret } satisfies Answer<typeof clientWithNewSecret>;
  });

  api.post('/initial-access-tokens', async (ctx) => {
    const r = initialAccessTokenRequest.safeParse(ctx.request.body);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new ApiError(400, 'invalid_request', `${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    const school = await findSchoolById(app.db, r.data.school_id);
    if (!school) throw new ApiError(400, 'invalid_request', 'school_id names no school');
    const { token, expiresAt } = await issueInitialAccessToken(app.db, {
      schoolId: school.id,
      ttlDays: r.data.ttl_days ?? DEFAULT_TOKEN_TTL_DAYS,
      by: manager(ctx),
    });
    ctx.status = 201;
    ctx.body = {
      initial_access_token: token,
      expires_at: expiresAt.toISOString(),
      school_id: school.id,
      registration_endpoint: `${app.config.issuer}/reg`,
    } satisfies Answer<typeof initialAccessToken>;
  });

  // School approvals (152-ФЗ, src/clients/approvals.ts): which third-party apps a school lets see
  // its pupils' data. Curators decide in the console; the operator's tooling may act for a school.
  const approvalTarget = async (ctx: Context) => {
    const school = await findSchoolById(app.db, ctx.params.school!);
    if (!school) throw new ApiError(404, 'not_found', 'no such school');
    const client = await getClient(app, ctx.params.id!);
    if (client.first_party) throw new ApiError(400, 'invalid_request', 'the journal\'s own apps need no approval');
    return { school, client };
  };
  api.get('/schools/:school/clients', async (ctx) => {
    const school = await findSchoolById(app.db, ctx.params.school!);
    if (!school) throw new ApiError(404, 'not_found', 'no such school');
    const rows = (await app.db('school_clients').where({ school_id: school.id }).orderBy('approved_at').select('client_id', 'approved_at')) as { client_id: string; approved_at: Date }[];
    ctx.body = { school_id: school.id, clients: rows.map((r) => ({ client_id: r.client_id, approved_at: new Date(r.approved_at).toISOString() })) } satisfies Answer<typeof schoolApprovals>;
  });
  api.put('/schools/:school/clients/:id', async (ctx) => {
    const { school, client } = await approvalTarget(ctx);
    const by = manager(ctx);
    const created = await app.db.transaction((trx) =>
      approveClient(trx, { schoolId: school.id, clientId: client.client_id, approvedBy: `client:${by.binding.actor.id}`, by }),
    );
    ctx.status = created ? 201 : 200;
    ctx.body = { school_id: school.id, client_id: client.client_id, approved: true } satisfies Answer<typeof schoolApproval>;
  });
  api.delete('/schools/:school/clients/:id', async (ctx) => {
    const { school, client } = await approvalTarget(ctx);
    const removed = await app.db.transaction((trx) => withdrawClient(trx, { schoolId: school.id, clientId: client.client_id, by: manager(ctx) }));
    if (!removed) throw new ApiError(404, 'not_found', 'the school has not approved this client');
    ctx.status = 204;
  });

  // Names and numbers only: what a registration needs, no person's data.
  api.get('/schools', async (ctx) => {
    const r = schoolsQuery.safeParse(ctx.query);
    if (!r.success) throw new ApiError(400, 'invalid_request', 'q, limit (1–1000) and offset must be a text and numbers');
    const { q, limit, offset } = r.data;
    ctx.body = { schools: q ? await searchSchools(app.db, q, limit) : await listSchools(app.db, { limit, offset }) } satisfies Answer<typeof schoolList>;
  });
  return api;
}

/** Method and path (`:param` as @koa/router writes it) of every route of an API router. */
export function routesOf(api: Router): { method: string; path: string }[] {
  return api.stack.flatMap((layer) => layer.methods.filter((m) => m !== 'HEAD').map((method) => ({ method, path: String(layer.path) })));
}

export function registerAdminApiRoutes(router: Router, app: AppContext): void {
  const api = adminApiRouter(app);

  const body = koaBody({
    json: true,
    urlencoded: false,
    multipart: false,
    text: false,
    jsonLimit: '64kb',
    jsonStrict: true,
    onError: (err) => {
      throw /too large/i.test(err.message)
        ? new ApiError(413, 'invalid_request', 'the request body is too large')
        : new ApiError(400, 'invalid_request', 'the request body must be a JSON object');
    },
  });

  const routes = api.routes();
  // One entry on the app's router: every path under /admin/api answers JSON, authenticated first.
  const dispatch = async (ctx: Context) => {
    ctx.set('cache-control', 'no-store');
    ctx.set('pragma', 'no-cache');
    try {
      if (!(PUBLIC_PATHS.has(ctx.path) && (ctx.method === 'GET' || ctx.method === 'HEAD'))) ctx.state.adminClientId = await adminClientOf(app, ctx);
      if (ctx.method === 'POST' || ctx.method === 'PATCH' || ctx.method === 'PUT') {
        const hasContent = Boolean(ctx.request.length) || Boolean(ctx.get('transfer-encoding'));
        if (hasContent && !ctx.is('application/json')) throw new ApiError(415, 'invalid_request', 'the request body must be application/json');
        await body(ctx, async () => undefined);
      }
      await routes(ctx as Parameters<typeof routes>[0], async () => undefined);
      if (ctx.body === undefined && ctx.status === 404) throw new ApiError(404, 'not_found', 'no such endpoint');
    } catch (err) {
      respondWithError(ctx, err, (ctx.state.log as Logger | undefined) ?? app.logger);
    }
  };
  // The API's router stays reachable from the app's, as @koa/router's own `routes()` leaves it
  // (`.router`): route listings see every endpoint (the bad-input test covers each one).
  router.all(/^\/admin\/api(\/|$)/, Object.assign(dispatch, { router: api }));
}

function respondWithError(ctx: Context, err: unknown, log: Logger): void {
  let status: number;
  let code: ApiErrorCode;
  if (err instanceof AuthError) {
    ctx.set('www-authenticate', challenge(err));
    [status, code] = [err.status, err.code];
  } else if (err instanceof ClientError) {
    [status, code] = CLIENT_ERROR_STATUS[err.code];
  } else if (err instanceof ApiError) {
    [status, code] = [err.status, err.code];
  } else {
    log.error('admin API request failed', { err });
    ctx.status = 500;
    ctx.body = { error: 'server_error', error_description: 'the request could not be completed' } satisfies ApiErrorBody;
    return;
  }
  if (status < 500) log.info('admin API request refused', { status, error: code, clientId: ctx.state.adminClientId });
  ctx.status = status;
  ctx.body = { error: code, error_description: (err as Error).message } satisfies ApiErrorBody;
}
