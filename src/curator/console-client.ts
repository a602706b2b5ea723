/**
 * The curator console is a first-party OIDC client of journal-id itself (authorization code +
 * PKCE, confidential). Its secret is derived from the key-encryption key, so every node knows it
 * without another secret to configure, and it is never stored.
 */
import { createHmac } from 'node:crypto';
import type { ClientMetadata } from 'oidc-provider';
import type { Config } from '../config/index.js';

export const CONSOLE_CLIENT_ID = 'journal-console';

export function consoleClientSecret(config: Config): string {
  return createHmac('sha256', config.secrets.keyEncryptionKey).update('journal-console client secret').digest('base64url');
}

export function consoleClient(config: Config): ClientMetadata {
  return {
    client_id: CONSOLE_CLIENT_ID,
    client_name: 'Консоль куратора',
    client_secret: consoleClientSecret(config),
    application_type: 'web',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [`${config.issuer}/console/callback`],
    scope: 'openid',
    first_party: true,
  };
}
