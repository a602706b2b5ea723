/**
 * Relying parties. First-party apps come from config (the journal web app, the diary and
 * teacher apps); others are registered by school IT with the CLI or through dynamic client
 * registration and live in `clients`, their secrets sealed under the key-encryption key
 * (oidc-provider compares them and RFC 7592 returns them, so they cannot be hashed).
 * First-party clients skip consent.
 */
import { boundAudit } from '../audit/bound.js';
import { randomBytes } from 'node:crypto';
import type { Adapter, AdapterPayload, ClientMetadata } from 'oidc-provider';
import type { Config } from '../config/index.js';
import { affected, isStorableText, type Db, type Queryable } from '../db/index.js';
import { open, seal } from '../crypto/sealed.js';
import type { Logger } from '../server/logger.js';
import { currentRegistrationRequest, SCHOOL_ID } from '../clients/registration.js';
import { consoleClient } from '../curator/console-client.js';
import { approveClient, BY_REGISTRATION } from '../clients/approvals.js';
import { storedClientProblem } from '../clients/metadata-rules.js';

/** The client of journal-id's own account page (/account). */
export const ACCOUNT_CLIENT_ID = 'journal-account';

/** Custom client metadata: whether the client is one of the journal's own apps. */
export const FIRST_PARTY = 'first_party';

/** The journal's own address: where a person outside any app goes to log in. */
export function journalHomeUrl(config: Config): string {
  return config.journalUrl ?? config.firstPartyClients.journalWeb.postLogoutRedirectUris[0] ?? `${config.issuer}/`;
}

export function firstPartyClients(config: Config): ClientMetadata[] {
  const { journalWeb, diaryApp, teacherApp } = config.firstPartyClients;
  const native = (c: typeof diaryApp): ClientMetadata => ({
    client_id: c.clientId,
    client_name: c.name,
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: c.redirectUris,
    [FIRST_PARTY]: true,
  });
  return [
    {
      client_id: journalWeb.clientId,
      client_name: journalWeb.name,
      client_secret: config.secrets.journalWebClientSecret,
      application_type: 'web',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: journalWeb.redirectUris,
      post_logout_redirect_uris: journalWeb.postLogoutRedirectUris,
      ...(journalWeb.backchannelLogoutUri
        ? { backchannel_logout_uri: journalWeb.backchannelLogoutUri, backchannel_logout_session_required: true }
        : {}),
      [FIRST_PARTY]: true,
    },
    native(diaryApp),
    native(teacherApp),
    {
      // The account page of journal-id itself: it only needs the login to happen.
      client_id: ACCOUNT_CLIENT_ID,
      client_name: 'Личный кабинет',
      application_type: 'web',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [`${config.issuer}/account/callback`],
      scope: 'openid',
      [FIRST_PARTY]: true,
    },
    consoleClient(config),
  ];
}

export interface ClientRow {
  client_id: string;
  name: string;
  metadata: ClientMetadata;
  secret_enc: string | null;
  first_party: boolean;
  school_id: string | null;
  registered_by: 'cli' | 'dcr' | 'api';
  created_at: Date;
  updated_at: Date;
}

const secretContext = (clientId: string) => `client_secret:${clientId}`;

/** A client secret sealed for its row (bound to the client id). */
export function sealClientSecret(kek: Buffer, clientId: string, secret: string): string {
  return seal(kek, secret, secretContext(clientId));
}

export function newClientId(): string {
  return `c_${randomBytes(12).toString('base64url')}`;
}

export function newClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export async function insertClient(
  db: Queryable,
  kek: Buffer,
  c: { clientId: string; name: string; metadata: ClientMetadata; secret?: string; firstParty: boolean },
): Promise<void> {
  await db('clients').insert({
    client_id: c.clientId,
    name: c.name,
    metadata: JSON.stringify(c.metadata),
    secret_enc: c.secret ? sealClientSecret(kek, c.clientId, c.secret) : null,
    first_party: c.firstParty,
  });
}

export function listClients(db: Queryable): Promise<ClientRow[]> {
  return db('clients').select('*').orderBy('created_at') as Promise<ClientRow[]>;
}

export function findClientRow(db: Queryable, clientId: string): Promise<ClientRow | undefined> {
  return db('clients').where({ client_id: clientId }).first() as Promise<ClientRow | undefined>;
}

export async function deleteClient(db: Queryable, clientId: string): Promise<boolean> {
  return affected(await db('clients').where({ client_id: clientId }).del()) > 0;
}

/** oidc-provider metadata of a stored client, its secret unsealed. */
export function toMetadata(row: ClientRow, kek: Buffer): ClientMetadata {
  return {
    ...row.metadata,
    client_id: row.client_id,
    client_name: row.name,
    ...(row.secret_enc ? { client_secret: open(kek, row.secret_enc, secretContext(row.client_id)) } : {}),
    ...(row.school_id ? { [SCHOOL_ID]: row.school_id } : {}),
    [FIRST_PARTY]: row.first_party,
  };
}

/**
 * How long a node keeps a client it read (metadata and unsealed secret): the token endpoints
 * then skip a query and an AES-GCM open per request. A change made on this node (CLI in-process,
 * admin API, DCR) is seen at once (`forgetClient`); another node or a separate CLI process sees
 * it within this many seconds — a rotated secret or a removed client works that long there.
 */
export const CLIENT_CACHE_SECONDS = 3;
const CLIENT_CACHE_MAX = 1000;

/** Per database (tests run several apps in one process): cached rows and a generation that `forgetClient` bumps. */
const clientCaches = new WeakMap<object, { generation: number; rows: Map<string, { payload: AdapterPayload; until: number }> }>();

function clientCache(db: Queryable) {
  let c = clientCaches.get(db);
  if (!c) clientCaches.set(db, (c = { generation: 0, rows: new Map() }));
  return c;
}

/** Drops a client from this node's cache (call after the change has committed). */
export function forgetClient(db: Queryable, clientId: string): void {
  const c = clientCache(db);
  c.generation++;
  c.rows.delete(clientId);
}

/**
 * The `Client` model of oidc-provider's adapter over `clients`. `find` never throws: an
 * unreadable client is an unknown client (invalid_client), and so is a stored client that breaks
 * the rules every client follows now (another flow than the code flow, a disguised name). `upsert` and `destroy` serve dynamic
 * registration only (RFC 7591/7592; the `school` policy has set the school) and never touch a
 * client added with the CLI. Each change is audited in its transaction.
 */
export function createClientAdapter(db: Db, kek: Buffer, logger: Logger): Adapter {
  const unsupported = async (): Promise<never> => {
    throw new Error('not a Client model operation');
  };
  const request = () => {
    const r = currentRegistrationRequest();
    return { ip: r.ip, requestId: r.requestId, details: r.ref ? { ref: r.ref } : {} };
  };
  return {
    async find(id: string): Promise<AdapterPayload | undefined> {
      if (typeof id !== 'string' || id.length > 255 || !isStorableText(id)) return undefined;
      const cache = clientCache(db);
      const hit = cache.rows.get(id);
      if (hit && hit.until > Date.now()) return { ...hit.payload };
      const generation = cache.generation;
      try {
        const row = (await db('clients').where({ client_id: id }).first()) as ClientRow | undefined;
        if (!row) return undefined; // misses are not cached: unknown ids cannot fill memory
        const payload = toMetadata(row, kek) as AdapterPayload;
        // Registered before journal-id became code-flow only (issue 16): refused, not rewritten.
        const problem = storedClientProblem(payload);
        if (problem) {
          logger.warn('stored client breaks the client metadata rules; refused until it is registered again', { clientId: id, problem });
          return undefined;
        }
        // A change committed while this read ran must not be hidden behind a cached old row.
        if (generation === cache.generation) {
          if (cache.rows.size >= CLIENT_CACHE_MAX) cache.rows.clear();
          cache.rows.set(id, { payload, until: Date.now() + CLIENT_CACHE_SECONDS * 1000 });
        }
        return { ...payload };
      } catch (err) {
        logger.error('client lookup failed', { clientId: id, err });
        return undefined;
      }
    },
    async upsert(id: string, payload: AdapterPayload): Promise<void> {
      const { client_secret: secret, client_name: name, [FIRST_PARTY]: _fp, [SCHOOL_ID]: schoolId, ...stored } = payload as ClientMetadata;
      if (typeof schoolId !== 'string' || typeof name !== 'string') {
        throw new Error('a registered client needs a school and a name (the registration policy sets them)');
      }
      const req = request();
      await db.transaction(async (trx) => {
        const existing = (await trx('clients').where({ client_id: id }).forUpdate().first('registered_by')) as Pick<ClientRow, 'registered_by'> | undefined;
        if (existing && existing.registered_by !== 'dcr') throw new Error(`client ${id} is managed with the CLI or the admin API`);
        const row = {
          name,
          metadata: JSON.stringify(stored),
          secret_enc: typeof secret === 'string' && secret ? seal(kek, secret, secretContext(id)) : null,
          first_party: false,
          school_id: schoolId,
          registered_by: 'dcr',
          updated_at: trx.fn.now(),
        };
        if (existing) await trx('clients').where({ client_id: id }).update(row);
        else await trx('clients').insert({ client_id: id, ...row });
        // The registering client acts (dynamic registration): the request's address and id come from
        // the registration's request context, as the provider calls the adapter outside our routes.
        const by = boundAudit(trx, { actor: { type: 'client', id }, ip: req.ip, requestId: req.requestId, clientId: id });
        await by.record({
          action: existing ? 'client.update' : 'client.create',
          schoolId,
          target: { type: 'client', id },
          details: { ...req.details, name, redirectUris: stored.redirect_uris ?? [], applicationType: stored.application_type ?? 'web' },
        });
        // Its school's IT registered it: that school lets it see its pupils' data (data-policy.ts).
        if (!existing) {
          await approveClient(trx, { schoolId, clientId: id, approvedBy: BY_REGISTRATION, by });
        }
      });
      forgetClient(db, id);
    },
    async destroy(id: string): Promise<void> {
      const req = request();
      await db.transaction(async (trx) => {
        const row = (await trx('clients').where({ client_id: id, registered_by: 'dcr' }).forUpdate().first('school_id')) as Pick<ClientRow, 'school_id'> | undefined;
        if (!row) return;
        await trx('clients').where({ client_id: id }).del();
        // Its grants and tokens (and registration access token) go with it, as with `client remove`.
        await trx('oidc_models').whereRaw(`payload->>'clientId' = ?`, [id]).del();
        await boundAudit(trx, { actor: { type: 'client', id }, ip: req.ip, requestId: req.requestId, clientId: id })
          .record({ action: 'client.remove', schoolId: row.school_id, target: { type: 'client', id } });
      });
      forgetClient(db, id);
    },
    findByUid: unsupported,
    findByUserCode: unsupported,
    consume: unsupported,
    revokeByGrantId: unsupported,
  };
}
