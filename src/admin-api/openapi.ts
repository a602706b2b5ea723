/**
 * The admin API's OpenAPI 3.1 document, built from the zod schemas the routes validate with and
 * answer by (schemas.ts, src/clients/manage.ts): request bodies, query parameters and answers
 * cannot drift from the code. test/admin-api/openapi.test.ts checks that every route of the
 * router is described here and nothing else, and that real answers fit the described schemas.
 * Served at `GET /admin/api/v1/openapi.json` (routes.ts); the same config gives the same bytes.
 */
import { z } from 'zod';
import { DEFAULT_TOKEN_TTL_DAYS, MAX_TOKEN_TTL_DAYS } from '../clients/registration.js';
import { ADMIN_SCOPE } from './scope.js';
import * as s from './schemas.js';

type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json, extra: Json = {}): Json => ({ 'application/json': { schema, ...extra } });

/** The components' schemas: requests as they are accepted (io input), answers as they are sent. */
function componentSchemas(): Record<string, Json> {
  const requests = z.registry<{ id: string }>();
  requests.add(s.clientCreateInput, { id: 'ClientCreate' });
  requests.add(s.clientUpdateInput, { id: 'ClientUpdate' });
  requests.add(s.initialAccessTokenRequest, { id: 'InitialAccessTokenRequest' });
  const answers = z.registry<{ id: string }>();
  answers.add(s.clientView, { id: 'Client' });
  answers.add(s.clientWithSecret, { id: 'ClientWithSecret' });
  answers.add(s.clientWithNewSecret, { id: 'ClientWithNewSecret' });
  answers.add(s.clientList, { id: 'ClientList' });
  answers.add(s.school, { id: 'School' });
  answers.add(s.schoolList, { id: 'SchoolList' });
  answers.add(s.initialAccessToken, { id: 'InitialAccessToken' });
  answers.add(s.schoolApprovals, { id: 'SchoolApprovals' });
  answers.add(s.schoolApproval, { id: 'SchoolApproval' });
  answers.add(s.apiError, { id: 'Error' });

  const uri = (id: string) => `#/components/schemas/${id}`;
  // A format says what zod's long regular expression for it says (date-time, uuid, uri).
  const override = ({ jsonSchema }: { jsonSchema: Json }) => {
    if (typeof jsonSchema.format === 'string') delete jsonSchema.pattern;
  };
  const out: Record<string, Json> = {
    ...z.toJSONSchema(requests, { io: 'input', uri, override }).schemas,
    ...z.toJSONSchema(answers, { io: 'output', uri, override }).schemas,
  };
  if ('__shared' in out) throw new Error('openapi: a schema with an id outside the registries');
  const descriptions: Record<string, string> = {
    ClientCreate: 'A client to register. Only `client_name` is required; unknown fields are refused.',
    ClientUpdate: 'The fields to change, at least one. A list replaces the list; `"backchannel_logout_uri": null` removes it. Unknown fields are refused.',
    InitialAccessTokenRequest: 'The school the token is bound to, and how long it lasts.',
    Client: 'A registered client as journal-id keeps it; never its secret.',
    ClientWithSecret: 'A client, with `client_secret` when it got one by this call.',
    ClientWithNewSecret: 'A client with its new secret.',
    ClientList: 'Registered clients.',
    School: 'A school: names and numbers only, no person\'s data.',
    SchoolList: 'Schools.',
    InitialAccessToken: 'An initial access token for dynamic client registration (RFC 7591) at `registration_endpoint`, bound to one school; usable for several clients until `expires_at`.',
    SchoolApprovals: 'The third-party clients a school approved to see its pupils\' data (152-ФЗ).',
    SchoolApproval: 'The client is approved for the school.',
    Error: 'A refusal, in the form of RFC 6749/6750/7591.',
  };
  // Each schema is a part of this document: its dialect is the document's, its place its address.
  return Object.fromEntries(
    Object.entries(out).map(([name, { $schema: _dialect, $id: _id, ...schema }]) => [name, { description: descriptions[name], ...schema }]),
  );
}

/** The parameters of a query schema, one per property. */
function queryParameters(schema: z.ZodObject): Json[] {
  const { properties, required = [] } = z.toJSONSchema(schema, { io: 'input' }) as { properties: Record<string, Json>; required?: string[] };
  return Object.entries(properties).map(([name, { description, ...rest }]) => ({
    name,
    in: 'query',
    required: required.includes(name),
    ...(description ? { description } : {}),
    schema: rest,
  }));
}

const PATH_PARAMETERS: Record<'id' | 'school', Json> = {
  id: { name: 'id', in: 'path', required: true, description: 'The client\'s `client_id`.', schema: { type: 'string', maxLength: 255 } },
  school: { name: 'school', in: 'path', required: true, description: 'The school\'s id.', schema: { type: 'string', format: 'uuid' } },
};

const HEADERS: Record<string, Json> = {
  NoStore: { description: '`no-store`: answers of this API are never cached.', required: true, schema: { type: 'string', const: 'no-store' } },
  Challenge: {
    description: 'RFC 6750 challenge: `Bearer realm="journal-id", error="…", error_description="…"`, with `scope="admin"` for `insufficient_scope`.',
    schema: { type: 'string' },
  },
};
const NO_STORE = { 'Cache-Control': { $ref: '#/components/headers/NoStore' } };
const CHALLENGE = { 'WWW-Authenticate': { $ref: '#/components/headers/Challenge' } };

const answer = (description: string, schema: string, headers: Json = {}): Json => ({ description, headers: { ...NO_STORE, ...headers }, content: json(ref(schema)) });
const refusal = (description: string, headers: Json = {}): Json => ({ description, headers: { ...NO_STORE, ...headers }, content: json(ref('Error')) });
const noContent = (description: string): Json => ({ description, headers: NO_STORE });
const shared = (name: string): Json => ({ $ref: `#/components/responses/${name}` });

/** Refusals that read the same for every operation. */
const RESPONSES: Record<string, Json> = {
  Unauthorized: refusal('`invalid_token`: no token, a malformed `Authorization` header, or a token that is unknown, expired, revoked, sender-constrained, or whose client was removed or got a new secret.', CHALLENGE),
  TooLarge: refusal('`invalid_request`: the body is larger than 64 kB.'),
  NotJson: refusal('`invalid_request`: a body that is not `application/json`.'),
};
const INSUFFICIENT_SCOPE = `\`insufficient_scope\`: the token (or its client) lacks the \`${ADMIN_SCOPE}\` scope.`;

/** The refusals of every authenticated operation; `forbidden` tells why else it may be 403. */
const AUTH_REFUSALS = (forbidden?: string): Record<string, Json> => ({
  401: shared('Unauthorized'),
  403: refusal(forbidden ? `${INSUFFICIENT_SCOPE} ${forbidden}` : INSUFFICIENT_SCOPE, CHALLENGE),
});
/** The refusals of every operation that reads a JSON body. */
const BODY_REFUSALS: Record<string, Json> = { 413: shared('TooLarge'), 415: shared('NotJson') };
const NOT_A_JSON_OBJECT = '`invalid_request`: the body is not a JSON object';

interface Operation {
  operationId: string;
  tags: string[];
  summary: string;
  description: string;
  parameters?: Json[];
  requestBody?: Json;
  responses: Record<string, Json>;
  security?: Json[];
}

function paths(issuer: string): Record<string, Record<string, Operation>> {
  const { id, school } = PATH_PARAMETERS;
  const body = (schema: string, description: string, example: Json): Json => ({ required: true, description, content: json(ref(schema), { examples: { example: { value: example } } }) });
  return {
    '/clients': {
      get: {
        operationId: 'listClients',
        tags: ['Clients'],
        summary: 'List registered clients',
        description: 'Clients registered by an operator, through this API or by school IT (dynamic registration), oldest first. The journal\'s own apps from the configuration are not listed.',
        parameters: queryParameters(s.clientsQuery),
        responses: {
          200: answer('The clients.', 'ClientList'),
          400: refusal('`invalid_request`: a query parameter is not a single text (e.g. `school_id` given twice).'),
          ...AUTH_REFUSALS(),
        },
      },
      post: {
        operationId: 'createClient',
        tags: ['Clients'],
        summary: 'Register a client',
        description: 'Registers a relying party (third-party: people see a consent page in Russian, «Разрешить доступ»). A confidential client\'s `client_secret` is in this answer and never again. Audited as `client.create`.',
        requestBody: body('ClientCreate', 'The client\'s metadata.', { client_name: 'Школьная библиотека', redirect_uris: ['https://lib.example.ru/callback'] }),
        responses: {
          201: answer('Registered.', 'ClientWithSecret', { Location: { description: 'The client\'s address in this API.', required: true, schema: { type: 'string' } } }),
          400: refusal(`\`invalid_client_metadata\` or \`invalid_redirect_uri\`: the metadata breaks a rule (the description says which field); ${NOT_A_JSON_OBJECT}.`),
          ...AUTH_REFUSALS('`access_denied`: the `admin` scope and `first_party` are given with the CLI only.'),
          409: refusal('`invalid_client_metadata`: a client with this `client_id` exists (or it is one of the journal\'s own apps).'),
          ...BODY_REFUSALS,
        },
      },
    },
    '/clients/{id}': {
      get: {
        operationId: 'getClient',
        parameters: [id],
        tags: ['Clients'],
        summary: 'Read a client',
        description: 'One registered client.',
        responses: {
          200: answer('The client.', 'Client'),
          ...AUTH_REFUSALS(),
          404: refusal('`not_found`: no registered client with this id.'),
        },
      },
      patch: {
        operationId: 'updateClient',
        parameters: [id],
        tags: ['Clients'],
        summary: 'Change a client',
        description: 'Changes the named fields and keeps the others. A client made confidential gets a secret (in this answer, once); one made public loses it. Audited as `client.update`.',
        requestBody: body('ClientUpdate', 'The fields to change.', { redirect_uris: ['https://lib.example.ru/v2/callback'] }),
        responses: {
          200: answer('Changed.', 'ClientWithSecret'),
          400: refusal(`\`invalid_client_metadata\` or \`invalid_redirect_uri\`: the change breaks a rule, or names nothing; ${NOT_A_JSON_OBJECT}.`),
          ...AUTH_REFUSALS('`access_denied`: first-party and admin clients are changed with the CLI only.'),
          404: refusal('`not_found`: no registered client with this id.'),
          ...BODY_REFUSALS,
        },
      },
      delete: {
        operationId: 'deleteClient',
        parameters: [id],
        tags: ['Clients'],
        summary: 'Remove a client',
        description: 'Removes the client; its grants and tokens (refresh tokens included) go with it. Audited as `client.remove`.',
        responses: {
          204: noContent('Removed.'),
          ...AUTH_REFUSALS('`access_denied`: first-party and admin clients are removed with the CLI only.'),
          404: refusal('`not_found`: no registered client with this id.'),
        },
      },
    },
    '/clients/{id}/secret': {
      post: {
        operationId: 'rotateClientSecret',
        parameters: [id],
        tags: ['Clients'],
        summary: 'Give a client a new secret',
        description: 'A new `client_secret`, in this answer only; the old one stops working at once and the client\'s client_credentials tokens are revoked. People stay signed in. No body is needed. Audited as `client.secret.rotate`.',
        responses: {
          200: answer('The client with its new secret.', 'ClientWithNewSecret'),
          400: refusal(`\`invalid_client_metadata\`: a public client has no secret; ${NOT_A_JSON_OBJECT}.`),
          ...AUTH_REFUSALS('`access_denied`: first-party and admin clients get new secrets with the CLI only.'),
          404: refusal('`not_found`: no registered client with this id.'),
          ...BODY_REFUSALS,
        },
      },
    },
    '/initial-access-tokens': {
      post: {
        operationId: 'issueInitialAccessToken',
        tags: ['Initial access tokens'],
        summary: 'Issue an initial access token for dynamic registration',
        description: `A token with which a school's IT registers its own clients at \`${issuer}/reg\` (RFC 7591); every client registered with it belongs to that school. Valid ${DEFAULT_TOKEN_TTL_DAYS} days by default, at most ${MAX_TOKEN_TTL_DAYS}. Shown once. Audited as \`client.token.issue\`.`,
        requestBody: body('InitialAccessTokenRequest', 'The school and the lifetime.', { school_id: '6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f', ttl_days: 7 }),
        responses: {
          201: answer('Issued.', 'InitialAccessToken'),
          400: refusal(`\`invalid_request\`: \`school_id\` names no school, \`ttl_days\` is out of range, an unknown field; ${NOT_A_JSON_OBJECT}.`),
          ...AUTH_REFUSALS(),
          ...BODY_REFUSALS,
        },
      },
    },
    '/schools': {
      get: {
        operationId: 'listSchools',
        tags: ['Schools'],
        summary: 'List or search schools',
        description: 'Schools by region and number, a page at a time, or those matching `q`. Names and regions are Russian, as the schools write them.',
        parameters: queryParameters(s.schoolsQuery),
        responses: {
          200: answer('The schools.', 'SchoolList'),
          400: refusal('`invalid_request`: `q` is not a text, or `limit`/`offset` not numbers in range.'),
          ...AUTH_REFUSALS(),
        },
      },
    },
    '/schools/{school}/clients': {
      get: {
        operationId: 'listSchoolApprovals',
        parameters: [school],
        tags: ['School approvals'],
        summary: 'Third-party clients a school approved',
        description: 'The clients the school lets see its pupils\' data (what curators decide in the console, «Приложения школы»).',
        responses: {
          200: answer('The approvals.', 'SchoolApprovals'),
          ...AUTH_REFUSALS(),
          404: refusal('`not_found`: no such school.'),
        },
      },
    },
    '/schools/{school}/clients/{id}': {
      put: {
        operationId: 'approveSchoolClient',
        parameters: [school, id],
        tags: ['School approvals'],
        summary: 'Approve a client for a school',
        description: 'The school\'s pupils\' data may go to the client (scopes it asks for, with consent). Idempotent. No body is needed. Audited.',
        responses: {
          200: answer('It was approved already.', 'SchoolApproval'),
          201: answer('Approved now.', 'SchoolApproval'),
          400: refusal(`\`invalid_request\`: the journal's own apps need no approval; ${NOT_A_JSON_OBJECT}.`),
          ...AUTH_REFUSALS(),
          404: refusal('`not_found`: no such school or client.'),
          ...BODY_REFUSALS,
        },
      },
      delete: {
        operationId: 'withdrawSchoolClient',
        parameters: [school, id],
        tags: ['School approvals'],
        summary: 'Withdraw a school\'s approval',
        description: 'The school\'s pupils\' grants of the client end. Audited.',
        responses: {
          204: noContent('Withdrawn.'),
          400: refusal('`invalid_request`: the journal\'s own apps need no approval.'),
          ...AUTH_REFUSALS(),
          404: refusal('`not_found`: no such school or client, or the school has not approved it.'),
        },
      },
    },
    [s.OPENAPI_PATH]: {
      get: {
        operationId: 'getOpenApiDocument',
        tags: ['Document'],
        summary: 'This document',
        description: 'The OpenAPI 3.1 description of this API. Public: no token is needed. The same for the same deployment; revalidate with `If-None-Match`.',
        security: [],
        responses: {
          200: {
            description: 'The document.',
            headers: {
              ETag: { description: 'Changes when the document does.', required: true, schema: { type: 'string' } },
              'Cache-Control': { description: 'Cacheable for a few minutes, then revalidated.', required: true, schema: { type: 'string' } },
            },
            content: json({
              type: 'object',
              properties: { openapi: { type: 'string', const: '3.1.0' }, info: { type: 'object' }, paths: { type: 'object' }, components: { type: 'object' } },
              required: ['openapi', 'info', 'paths'],
            }),
          },
          304: { description: 'Not modified: `If-None-Match` named the current ETag.' },
        },
      },
    },
  };
}

/** The document for a deployment at `issuer` (its URL, no trailing slash). */
export function adminApiDocument(issuer: string): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'journal-id admin API',
      version: '1.0.0',
      description: [
        'JSON for a platform operator\'s tooling: the relying parties of the school electronic journal, initial access tokens for school IT, school approvals and the list of schools.',
        '',
        `**Authentication.** \`Authorization: Bearer <access token>\` from the client_credentials grant with the \`${ADMIN_SCOPE}\` scope at \`${issuer}/token\`. Only a confidential client whose one grant is client_credentials can hold that scope, and only an operator gives it: \`journal-id client add --name "Платформа" --type service --scope admin\`. The token is checked on every call; it stops working when it expires, when its client is removed or gets a new secret.`,
        '',
        '**Errors.** `{"error": "…", "error_description": "…"}` (RFC 6749/6750/7591); `error_description` is English for developers. What people see elsewhere (consent and login pages) is Russian first; names of schools and clients are kept as typed, usually Russian. Unknown paths answer `404 not_found`; a body over 64 kB `413`, a body that is not `application/json` `415`.',
        '',
        '**Changes** go through the same checks as the CLI and are audited with the calling client and its address. Answers are never cached (`Cache-Control: no-store`).',
      ].join('\n'),
    },
    servers: [{ url: `${issuer}${s.ADMIN_API_PREFIX}`, description: 'This deployment.' }],
    security: [{ oauth2: [ADMIN_SCOPE] }, { bearer: [] }],
    tags: [
      { name: 'Clients', description: 'Relying parties registered with journal-id.' },
      { name: 'Initial access tokens', description: 'Dynamic client registration (RFC 7591) by school IT.' },
      { name: 'Schools', description: 'Schools on the platform.' },
      { name: 'School approvals', description: 'Which third-party clients may see a school\'s pupils\' data.' },
      { name: 'Document', description: 'This description.' },
    ],
    paths: paths(issuer),
    components: {
      schemas: componentSchemas(),
      responses: RESPONSES,
      headers: HEADERS,
      securitySchemes: {
        oauth2: {
          type: 'oauth2',
          description: `The client_credentials grant of an operator's service client, scope \`${ADMIN_SCOPE}\`.`,
          flows: { clientCredentials: { tokenUrl: `${issuer}/token`, scopes: { [ADMIN_SCOPE]: 'Manage clients, initial access tokens and school approvals; read schools.' } } },
        },
        bearer: { type: 'http', scheme: 'bearer', description: `An access token of that grant (opaque; a JWT for a resource server is refused).` },
      },
    },
  };
}
