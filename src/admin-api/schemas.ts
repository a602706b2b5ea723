/**
 * The admin API's schemas, in one place: routes.ts validates requests with them and types its
 * answers by them, openapi.ts turns them into the published document (z.toJSONSchema). The
 * client bodies (`POST`/`PATCH /clients`) and the client view come from src/clients/manage.ts,
 * which validates them for the CLI and this API alike.
 */
import { z } from 'zod';
import { clientView } from '../clients/manage.js';
import { MAX_TOKEN_TTL_DAYS } from '../clients/registration.js';

export { clientCreateInput, clientUpdateInput, clientView } from '../clients/manage.js';

/** Where the API lives, under the issuer. */
export const ADMIN_API_PREFIX = '/admin/api/v1';
/** The API's OpenAPI document, under the prefix: public (a description, not data). */
export const OPENAPI_PATH = '/openapi.json';

/** Every `error` the API answers with (RFC 6749/6750/7591 codes, and `not_found`). */
export const API_ERROR_CODES = [
  'invalid_request',
  'invalid_client_metadata',
  'invalid_redirect_uri',
  'invalid_token',
  'insufficient_scope',
  'access_denied',
  'not_found',
  'server_error',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

export const apiError = z.object({
  error: z.enum(API_ERROR_CODES),
  error_description: z.string().describe('What was wrong, in English, for developers (never shown to people).'),
});
export type ApiErrorBody = z.output<typeof apiError>;

// ——— requests ———

/** `GET /clients` */
export const clientsQuery = z.object({
  school_id: z.string().max(100).optional().describe('Only the clients registered for this school (its id).'),
});

/** `GET /schools` */
export const schoolsQuery = z.object({
  q: z.string().trim().max(100).optional().describe('Search text: a school number, an address name (slug), or words of the name or region (Russian, «ё» = «е»). Ignores `offset`.'),
  limit: z.coerce.number().int().min(1).max(1000).default(1000).describe('At most this many schools.'),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0).describe('Skip this many (schools are ordered by region and number).'),
});

/** `POST /initial-access-tokens` */
export const initialAccessTokenRequest = z.strictObject({
  school_id: z.string().max(100).describe('The school every client registered with the token will belong to (its id).'),
  ttl_days: z.number().int().min(1).max(MAX_TOKEN_TTL_DAYS).optional().describe('Days the token stays valid (default 7).'),
});

// ——— answers ———

export const clientWithSecret = clientView.extend({
  client_secret: z.string().optional().describe('Only when the client got a new secret (a confidential client created, or made confidential): shown this once, never again.'),
});
export const clientWithNewSecret = clientView.extend({
  client_secret: z.string().describe('The new secret, shown this once; the old one no longer works.'),
});
export const clientList = z.object({ clients: z.array(clientView).describe('Oldest first; the journal\'s own configured apps are not listed.') });

export const school = z.object({
  id: z.guid(),
  number: z.string().describe('The school\'s number, e.g. `1399`.'),
  name: z.string().describe('As the school calls itself, in Russian (e.g. «Школа № 1399»).'),
  region: z.string().describe('In Russian (e.g. «Москва»).'),
  slug: z.string().describe('The school\'s address name (`/s/<slug>`).'),
});
export const schoolList = z.object({ schools: z.array(school) });

export const initialAccessToken = z.object({
  initial_access_token: z.string().describe('Shown this once: the bearer token of `POST /reg` (RFC 7591).'),
  expires_at: z.iso.datetime(),
  school_id: z.guid(),
  registration_endpoint: z.url(),
});

export const schoolApprovals = z.object({
  school_id: z.guid(),
  clients: z.array(z.object({ client_id: z.string(), approved_at: z.iso.datetime() })).describe('In the order they were approved.'),
});
export const schoolApproval = z.object({ school_id: z.guid(), client_id: z.string(), approved: z.literal(true) });
