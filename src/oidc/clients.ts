/**
 * Relying parties. First-party apps come from config (the journal web app, the diary and
 * teacher apps); others are registered by school IT with the CLI and live in `clients`, their
 * secrets sealed under the key-encryption key. First-party clients skip consent.
 */
import { randomBytes } from 'node:crypto';
import type { Adapter, AdapterPayload, ClientMetadata } from 'oidc-provider';
import type { Config } from '../config/index.js';
import { affected, isStorableText, type Db, type Queryable } from '../db/index.js';
import { open, seal } from '../crypto/sealed.js';
import type { Logger } from '../server/logger.js';
import { consoleClient } from '../curator/console-client.js';

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
  created_at: Date;
}

const secretContext = (clientId: string) => `client_secret:${clientId}`;

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
    secret_enc: c.secret ? seal(kek, c.secret, secretContext(c.clientId)) : null,
    first_party: c.firstParty,
  });
}

export function listClients(db: Queryable): Promise<ClientRow[]> {
  return db('clients').select('*').orderBy('created_at') as Promise<ClientRow[]>;
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
    [FIRST_PARTY]: row.first_party,
  };
}

/**
 * The `Client` model of oidc-provider's adapter: read-only over `clients` (no dynamic
 * registration). It never throws: an unreadable client is an unknown client (invalid_client).
 */
export function createClientAdapter(db: Db, kek: Buffer, logger: Logger): Adapter {
  const readOnly = async (): Promise<never> => {
    throw new Error('clients are managed with the CLI, not through the provider');
  };
  return {
    async find(id: string): Promise<AdapterPayload | undefined> {
      if (typeof id !== 'string' || id.length > 255 || !isStorableText(id)) return undefined;
      try {
        const row = (await db('clients').where({ client_id: id }).first()) as ClientRow | undefined;
        return row ? (toMetadata(row, kek) as AdapterPayload) : undefined;
      } catch (err) {
        logger.error('client lookup failed', { clientId: id, err });
        return undefined;
      }
    },
    upsert: readOnly,
    findByUid: readOnly,
    findByUserCode: readOnly,
    consume: readOnly,
    destroy: readOnly,
    revokeByGrantId: readOnly,
  };
}
