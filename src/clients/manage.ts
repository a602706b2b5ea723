/**
 * Managing relying parties: the one place where clients are registered, read, changed and
 * removed for the CLI (`client …`) and the admin API. Input is checked here once (zod for the
 * shape, then the client metadata rules every door shares — src/clients/metadata-rules.ts — then
 * oidc-provider's own validation); a secret is generated here, returned
 * once and stored sealed; every change is audited in its transaction.
 *
 * Who may do what: the journal's own apps from the configuration are never managed here. Clients
 * marked first-party (no consent page) and clients with the `admin` scope are created, changed
 * and removed by an operator (the CLI) only; the admin API may see them, not touch them.
 */
import { z } from 'zod';
import type { ClientMetadata } from 'oidc-provider';
import type { AppContext } from '../server/context.js';
import { isStorableText, type Queryable } from '../db/index.js';
import type { AuditWriter } from '../audit/bound.js';
import { deleteClient, findClientRow, firstPartyClients, forgetClient, listClients, newClientId, newClientSecret, sealClientSecret, type ClientRow } from '../oidc/clients.js';
import { USER_SCOPES } from '../oidc/provider.js';
import { resourceScopes } from '../oidc/resource-servers.js';
import { ADMIN_SCOPE, scopeIncludes } from '../admin-api/scope.js';
import { clientMetadataProblem, clientNameProblem, CLIENT_NAME_MAX, errorCodeOf, GRANT_TYPES, ruleOptions } from './metadata-rules.js';

export { GRANT_TYPES };

type Deps = Pick<AppContext, 'db' | 'config' | 'oidc'>;

/** Who manages: an operator at the CLI, or a client of the admin API (with the request's address). */
/** Who manages: the CLI's writer (the operator) or the admin API request's (its client). */
export type Manager = AuditWriter;

/** The operator's powers (first-party and admin clients) belong to the CLI only. */
const isOperator = (by: Manager): boolean => by.binding.actor.type === 'cli';

export type ClientErrorCode = 'invalid_client_metadata' | 'invalid_redirect_uri' | 'not_found' | 'forbidden' | 'conflict';

export class ClientError extends Error {
  override name = 'ClientError';
  constructor(readonly code: ClientErrorCode, message: string) {
    super(message);
  }
}

// No client_secret_jwt (HS256 over the secret) and no keys to manage: the secret is sent as is, over TLS.
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;

// Names are shown on the consent page: the shared rule (its words, at every door), declared to
// JSON Schema as the lengths it allows.
const name = z.string().trim().superRefine((s, ctx) => {
  const problem = clientNameProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
}).meta({ minLength: 1, maxLength: CLIENT_NAME_MAX });
const uris = z.array(z.string().max(2000)).max(20);
// The descriptions go into the admin API's OpenAPI document (src/admin-api/openapi.ts).
const fields = {
  client_name: name.describe('The name people see on the consent page, usually Russian (e.g. «Школьная библиотека»); no control or formatting characters.'),
  application_type: z.enum(['web', 'native']).describe('`native` for mobile and desktop apps (loopback and private-use scheme redirects allowed). Default `web`.'),
  grant_types: z.array(z.enum(GRANT_TYPES)).min(1).max(GRANT_TYPES.length)
    .describe('Default `["authorization_code","refresh_token"]`. `refresh_token` needs `authorization_code`; `client_credentials` needs a confidential client.'),
  token_endpoint_auth_method: z.enum(AUTH_METHODS).describe('Default `none` for native apps (public, PKCE only), `client_secret_basic` otherwise.'),
  redirect_uris: uris.describe('https only; native apps may also use loopback http and reverse-domain private-use schemes. No fragments, wildcards or credentials. Required for `authorization_code`.'),
  post_logout_redirect_uris: uris.describe('Where RP-initiated logout may return to (same rules as `redirect_uris`).'),
  backchannel_logout_uri: z.string().max(2000).nullable().describe('https address for back-channel logout tokens; `null` removes it.'),
  scope: z.string().max(500).describe('Space-separated scopes the client may ask for (journal-id\'s scopes and the configured resource servers\' scopes). `admin` is given with the CLI only.'),
  first_party: z.boolean().describe('First-party clients skip the consent page; they are marked with the CLI only (the admin API refuses `true`).'),
};
/** The body of `POST /clients` (admin API) and of `client add` (CLI). */
export const clientCreateInput = z
  .strictObject({
    client_id: z.string().regex(/^[A-Za-z0-9._-]{3,100}$/, 'must be 3–100 letters, digits, dots, underscores or hyphens').describe('Optional: generated when absent.'),
    ...fields,
  })
  .partial()
  .required({ client_name: true });
/** The body of `PATCH /clients/:id` (admin API) and of `client update` (CLI): the fields to change. */
export const clientUpdateInput = z
  .strictObject(fields)
  .partial()
  .refine((o) => Object.keys(o).length > 0, 'nothing to change')
  .meta({ minProperties: 1 }); // the refinement, as JSON Schema says it

export type CreateInput = z.input<typeof clientCreateInput>;
export type UpdateInput = z.input<typeof clientUpdateInput>;
type Settings = { [K in keyof typeof fields]: z.output<(typeof fields)[K]> };

/** What the CLI and the API show of a client: its metadata, never its secret. */
export const clientView = z.object({
  client_id: z.string(),
  client_name: z.string(),
  application_type: z.enum(['web', 'native']),
  grant_types: z.array(z.string()),
  response_types: z.array(z.string()),
  token_endpoint_auth_method: z.string(),
  redirect_uris: z.array(z.string()),
  post_logout_redirect_uris: z.array(z.string()),
  backchannel_logout_uri: z.string().nullable(),
  scope: z.string(),
  first_party: z.boolean(),
  school_id: z.string().nullable().describe('The school of a client registered with an initial access token (RFC 7591); `null` otherwise.'),
  registered_by: z.enum(['cli', 'dcr', 'api']).describe('`cli` (an operator), `dcr` (dynamic registration by school IT), `api` (this API).'),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});
export type ClientView = z.output<typeof clientView>;

function parse<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  // PostgreSQL refuses NUL in text and jsonb: a client error here, not a server error at the insert.
  if (!isStorableText(input)) throw new ClientError('invalid_client_metadata', 'the metadata must not contain NUL characters or broken Unicode');
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.join('.');
  throw new ClientError(path.startsWith('redirect_uris') ? 'invalid_redirect_uri' : 'invalid_client_metadata', path ? `${path}: ${issue.message}` : issue.message);
}

/** The audit record of a change to a client, through the manager's bound writer. */
function auditClient(trx: Queryable, by: Manager, action: string, row: Pick<ClientRow, 'client_id' | 'school_id'>, details: Record<string, unknown> = {}): Promise<void> {
  return by.record({ action, schoolId: row.school_id, target: { type: 'client', id: row.client_id }, details }, trx);
}

function configuredIds(deps: Deps): Set<string> {
  return new Set(firstPartyClients(deps.config).map((c) => c.client_id));
}

/** Only an operator changes first-party and admin clients (they skip consent or hold the admin API). */
function operatorOnly(row: ClientRow): boolean {
  return row.first_party || scopeIncludes(row.metadata.scope, ADMIN_SCOPE);
}

function settingsOf(row: ClientRow): Settings {
  const m = row.metadata;
  return {
    client_name: row.name,
    application_type: m.application_type === 'native' ? 'native' : 'web',
    grant_types: (m.grant_types ?? ['authorization_code', 'refresh_token']) as Settings['grant_types'],
    token_endpoint_auth_method: (m.token_endpoint_auth_method ?? 'client_secret_basic') as Settings['token_endpoint_auth_method'],
    redirect_uris: [...(m.redirect_uris ?? [])],
    post_logout_redirect_uris: [...(m.post_logout_redirect_uris ?? [])],
    backchannel_logout_uri: m.backchannel_logout_uri ?? null,
    scope: m.scope ?? USER_SCOPES.join(' '),
    first_party: row.first_party,
  };
}

function defaults(given: Partial<Settings> & Pick<Settings, 'client_name'>): Settings {
  const native = given.application_type === 'native';
  return {
    client_name: given.client_name,
    application_type: 'web',
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: native ? 'none' : 'client_secret_basic',
    redirect_uris: [],
    post_logout_redirect_uris: [],
    backchannel_logout_uri: null,
    scope: USER_SCOPES.join(' '),
    first_party: false,
    ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)),
  } as Settings;
}

/**
 * The stored metadata for `s`, or a ClientError. `base` is the stored metadata of the client being
 * changed (a dynamically registered client keeps the fields the provider gave it).
 */
async function metadataFor(deps: Deps, s: Settings, by: Manager, row?: ClientRow): Promise<ClientMetadata> {
  const invalid = (message: string) => new ClientError('invalid_client_metadata', message);
  const scopes = [...new Set(s.scope.split(' ').filter(Boolean))];
  if (!scopes.length) throw invalid('scope must name at least one scope');
  const apiScopes = resourceScopes(deps.config.resourceServers);
  const unknown = scopes.find((x) => x !== ADMIN_SCOPE && !USER_SCOPES.includes(x) && !apiScopes.includes(x));
  if (unknown) throw invalid(`scope: ${JSON.stringify(unknown.slice(0, 50))} is not a scope of journal-id`);
  const grants = [...new Set(s.grant_types)];
  const code = grants.includes('authorization_code');
  if (grants.includes('refresh_token') && !code) throw invalid('grant_types: refresh_token needs authorization_code');
  if (grants.includes('client_credentials') && s.token_endpoint_auth_method === 'none') {
    throw invalid('grant_types: client_credentials needs a confidential client (token_endpoint_auth_method other than none)');
  }
  if (code && !s.redirect_uris.length) throw new ClientError('invalid_redirect_uri', 'redirect_uris: at least one is required for authorization_code');
  if (!code && (s.redirect_uris.length || s.post_logout_redirect_uris.length || s.backchannel_logout_uri)) {
    throw invalid('redirect and logout URIs are for clients that log people in (authorization_code)');
  }
  // The rules every door shares (the same words as /reg answers with).
  const problem = clientMetadataProblem({ ...s, response_types: code ? ['code'] : [], grant_types: grants }, ruleOptions(deps.config));
  if (problem) throw new ClientError(errorCodeOf(problem), problem);
  if (scopes.includes(ADMIN_SCOPE)) {
    if (!isOperator(by)) throw new ClientError('forbidden', 'the admin scope is given with the CLI only');
    if (grants.length !== 1 || grants[0] !== 'client_credentials') throw invalid('scope: admin is only for a client whose one grant is client_credentials');
    if (row?.registered_by === 'dcr') throw invalid('scope: admin is not for dynamically registered clients');
  }
  if (s.first_party && !isOperator(by)) throw new ClientError('forbidden', 'first-party clients are marked with the CLI only');

  const metadata = {
    ...(row?.metadata ?? {}),
    application_type: s.application_type,
    grant_types: grants,
    response_types: code ? ['code'] : [],
    token_endpoint_auth_method: s.token_endpoint_auth_method,
    redirect_uris: s.redirect_uris,
    post_logout_redirect_uris: s.post_logout_redirect_uris,
    scope: scopes.join(' '),
  } as ClientMetadata;
  delete metadata.backchannel_logout_uri;
  delete metadata.backchannel_logout_session_required;
  if (s.backchannel_logout_uri) Object.assign(metadata, { backchannel_logout_uri: s.backchannel_logout_uri, backchannel_logout_session_required: true });
  return metadata;
}

/** oidc-provider's own checks over the whole client, as it will load it. */
async function providerCheck(deps: Deps, clientId: string, s: Settings, metadata: ClientMetadata, row?: ClientRow): Promise<void> {
  try {
    await deps.oidc.provider.Client.validate({
      ...metadata,
      client_id: clientId,
      client_name: s.client_name,
      ...(s.token_endpoint_auth_method !== 'none' ? { client_secret: 'x'.repeat(43) } : {}),
      first_party: s.first_party,
      ...(row?.school_id ? { school_id: row.school_id } : {}),
    });
  } catch (err) {
    const e = err as { error?: string; error_description?: string; message: string };
    const code = e.error === 'invalid_redirect_uri' ? 'invalid_redirect_uri' : 'invalid_client_metadata';
    throw new ClientError(code, e.error_description ?? e.message);
  }
}

function view(row: ClientRow): ClientView {
  const s = settingsOf(row);
  return {
    client_id: row.client_id,
    client_name: row.name,
    application_type: s.application_type,
    grant_types: s.grant_types,
    response_types: [...(row.metadata.response_types ?? [])],
    token_endpoint_auth_method: s.token_endpoint_auth_method,
    redirect_uris: s.redirect_uris,
    post_logout_redirect_uris: s.post_logout_redirect_uris,
    backchannel_logout_uri: s.backchannel_logout_uri,
    scope: s.scope,
    first_party: row.first_party,
    school_id: row.school_id,
    registered_by: row.registered_by,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

/** A change to a client in a transaction; this node's client cache forgets it once committed (or not). */
async function forgettingAfter<T>(deps: Deps, clientId: string, change: (trx: Queryable) => Promise<T>): Promise<T> {
  try {
    return await deps.db.transaction(change);
  } finally {
    forgetClient(deps.db, clientId);
  }
}

async function lockedRow(deps: Deps, trx: Queryable, clientId: string, by: Manager): Promise<ClientRow> {
  if (configuredIds(deps).has(clientId)) throw new ClientError('forbidden', `${clientId} is one of the journal's own apps: it comes from the configuration`);
  const row = isStorableText(clientId) && clientId.length <= 255
    ? ((await trx('clients').where({ client_id: clientId }).forUpdate().first()) as ClientRow | undefined)
    : undefined;
  if (!row) throw new ClientError('not_found', `no registered client ${clientId}`);
  if (!isOperator(by) && operatorOnly(row)) throw new ClientError('forbidden', 'first-party and admin clients are changed with the CLI only');
  return row;
}

const seals = (deps: Deps, clientId: string, secret: string) => sealClientSecret(deps.config.secrets.keyEncryptionKey, clientId, secret);

/** Registers a client; its secret (confidential clients) is returned here and never again. */
export async function registerClient(deps: Deps, input: unknown, by: Manager): Promise<{ client: ClientView; secret?: string }> {
  const { client_id: givenId, ...given } = parse(clientCreateInput, input);
  const clientId = givenId ?? newClientId();
  if (configuredIds(deps).has(clientId)) throw new ClientError('conflict', `${clientId} is one of the journal's own apps`);
  const s = defaults(given as Partial<Settings> & Pick<Settings, 'client_name'>);
  const metadata = await metadataFor(deps, s, by);
  await providerCheck(deps, clientId, s, metadata);
  const secret = s.token_endpoint_auth_method === 'none' ? undefined : newClientSecret();
  const row = await deps.db.transaction(async (trx) => {
    const inserted = (await trx('clients')
      .insert({
        client_id: clientId,
        name: s.client_name,
        metadata: JSON.stringify({ ...metadata, client_id: clientId }),
        secret_enc: secret ? seals(deps, clientId, secret) : null,
        first_party: s.first_party,
        registered_by: isOperator(by) ? 'cli' : 'api',
      })
      .onConflict('client_id')
      .ignore()
      .returning('*')) as ClientRow[];
    if (!inserted[0]) throw new ClientError('conflict', `client ${clientId} exists already`);
    await auditClient(trx, by, 'client.create', inserted[0], {
      name: s.client_name, grantTypes: metadata.grant_types, redirectUris: s.redirect_uris, scope: metadata.scope, firstParty: s.first_party,
    });
    return inserted[0];
  });
  return { client: view(row), secret };
}

/** Clients in the database (the configured first-party apps are not listed), oldest first. */
export async function listManagedClients(deps: Deps, filter: { schoolId?: string } = {}): Promise<ClientView[]> {
  const rows = await listClients(deps.db);
  return rows.filter((r) => !filter.schoolId || r.school_id === filter.schoolId).map(view);
}

export async function getClient(deps: Deps, clientId: string): Promise<ClientView> {
  const row = isStorableText(clientId) && clientId.length <= 255 && !configuredIds(deps).has(clientId) ? await findClientRow(deps.db, clientId) : undefined;
  if (!row) throw new ClientError('not_found', `no registered client ${clientId}`);
  return view(row);
}

/**
 * Changes what `patch` names (a list replaces the list; `backchannel_logout_uri: null` removes it).
 * A client that becomes confidential gets a secret, returned once; one that becomes public loses it.
 */
export async function updateClient(deps: Deps, clientId: string, patch: unknown, by: Manager): Promise<{ client: ClientView; secret?: string }> {
  const changes = parse(clientUpdateInput, patch);
  return forgettingAfter(deps, clientId, async (trx) => {
    const row = await lockedRow(deps, trx, clientId, by);
    const before = settingsOf(row);
    const s: Settings = { ...before, ...Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) } as Settings;
    const metadata = await metadataFor(deps, s, by, row);
    await providerCheck(deps, clientId, s, metadata, row);
    const isPublic = s.token_endpoint_auth_method === 'none';
    const secret = !isPublic && !row.secret_enc ? newClientSecret() : undefined;
    const [updated] = (await trx('clients')
      .where({ client_id: clientId })
      .update({
        name: s.client_name,
        metadata: JSON.stringify(metadata),
        secret_enc: isPublic ? null : secret ? seals(deps, clientId, secret) : row.secret_enc,
        first_party: s.first_party,
        updated_at: trx.fn.now(),
      })
      .returning('*')) as ClientRow[];
    const changed = Object.keys(changes).filter((k) => JSON.stringify(before[k as keyof Settings]) !== JSON.stringify(s[k as keyof Settings]));
    await auditClient(trx, by, 'client.update', row, { changed, redirectUris: s.redirect_uris, scope: metadata.scope });
    return { client: view(updated!), secret };
  });
}

/**
 * A new secret, returned once; the old one stops working at once, and the client's
 * client_credentials tokens (got with the old secret) are revoked. People stay signed in.
 */
export async function rotateClientSecret(deps: Deps, clientId: string, by: Manager): Promise<{ client: ClientView; secret: string }> {
  return forgettingAfter(deps, clientId, async (trx) => {
    const row = await lockedRow(deps, trx, clientId, by);
    if (!row.secret_enc) throw new ClientError('invalid_client_metadata', `${clientId} is a public client: it has no secret`);
    const secret = newClientSecret();
    const [updated] = (await trx('clients')
      .where({ client_id: clientId })
      .update({ secret_enc: seals(deps, clientId, secret), updated_at: trx.fn.now() })
      .returning('*')) as ClientRow[];
    await trx('oidc_models').where({ model: 'ClientCredentials' }).whereRaw(`payload->>'clientId' = ?`, [clientId]).del();
    await auditClient(trx, by, 'client.secret.rotate', row);
    return { client: view(updated!), secret };
  });
}

/** Removes a client; its grants and tokens (refresh tokens included) go with it. */
export async function removeClient(deps: Deps, clientId: string, by: Manager): Promise<void> {
  await forgettingAfter(deps, clientId, async (trx) => {
    const row = await lockedRow(deps, trx, clientId, by);
    await deleteClient(trx, clientId);
    await trx('oidc_models').whereRaw(`payload->>'clientId' = ?`, [clientId]).del();
    await auditClient(trx, by, 'client.remove', row, { name: row.name });
  });
}
