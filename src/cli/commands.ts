/** The administrative commands: migrate, school, user, client, keys. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ClientMetadata } from 'oidc-provider';
import type { Config } from '../config/index.js';
import { createAppContext, openDb } from '../server/bootstrap.js';
import { createLogger } from '../server/logger.js';
import { migrateLatest, migrationStatus } from '../db/migrate.js';
import { addSchool, parseSchoolInput, SchoolError } from '../schools/add.js';
import { schoolFromHint } from '../schools/resolve.js';
import { createAccount } from '../accounts/create.js';
import { generatePassword } from '../accounts/password-policy.js';
import { ACCOUNT_KINDS, findAccountByLogin, setPasswordHash, type AccountKind } from '../accounts/queries.js';
import { deleteClient, insertClient, listClients, newClientId, newClientSecret, FIRST_PARTY } from '../oidc/clients.js';
import { listKeys, rotateKeys, SIGNING_ALGS, type SigningAlg } from '../oidc/keys.js';
import { keyRetainSeconds } from '../oidc/provider.js';
import { redirectUrisProblem } from '../clients/redirect-uris.js';
import { DEFAULT_TOKEN_TTL_DAYS, issueInitialAccessToken, MAX_TOKEN_TTL_DAYS } from '../clients/registration.js';
import { writeAudit } from '../audit/audit.js';
import { maskAddress } from '../email/outbox.js';
import type { AppContext } from '../server/context.js';

export class UsageError extends Error {
  override name = 'UsageError';
}
export class CliError extends Error {
  override name = 'CliError';
}

type Command = (config: Config, args: string[]) => Promise<number>;

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function required(value: string | undefined, flag: string): string {
  if (!value || !value.trim()) throw new UsageError(`--${flag} is required`);
  return value.trim();
}

/** Runs `fn` with an application context (quiet logs) and closes the database afterwards. */
export async function withApp(config: Config, fn: (app: AppContext) => Promise<number>): Promise<number> {
  const app = await createAppContext(config, { logger: createLogger('warn') });
  try {
    return await fn(app);
  } finally {
    app.oidc.stop();
    await app.db.destroy();
  }
}

export const out = (line = '') => process.stdout.write(line + '\n');

const migrate: Command = async (config, args) => {
  const { values } = parse(args, { status: { type: 'boolean' } });
  const db = openDb(config);
  try {
    if (values.status) {
      const s = await migrationStatus(db);
      out(`applied: ${s.done.join(', ') || '-'}`);
      out(`pending: ${s.pending.join(', ') || '-'}`);
    } else {
      const applied = await migrateLatest(db);
      out(applied.length ? `applied: ${applied.join(', ')}` : 'the database is up to date');
    }
  } finally {
    await db.destroy();
  }
  return 0;
};

const schoolAdd: Command = (config, args) => {
  const { values } = parse(args, {
    number: { type: 'string' },
    name: { type: 'string' },
    region: { type: 'string' },
    slug: { type: 'string' },
  });
  required(values.number, 'number');
  required(values.name, 'name');
  required(values.region, 'region');
  const input = parseSchoolInput(values);
  if (!input.ok) throw new UsageError(SCHOOL_USAGE[input.problem as keyof typeof SCHOOL_USAGE] ?? `--${input.problem} is not valid`);
  const { number, region } = input.value;
  return withApp(config, async (app) => {
    const school = await addSchool(app.db, input.value, { actor: { type: 'cli' } }).catch((err: unknown) => {
      if (err instanceof SchoolError) throw new CliError(err.problem === 'slug_taken' ? `a school with the address name "${input.value.slug}" exists already` : `school ${number} in ${region} exists already`);
      throw err;
    });
    out(`school ${school.name} (${school.region}) added: id ${school.id}, address name "${school.slug}"`);
    return 0;
  });
};

const SCHOOL_USAGE = {
  number: '--number must be a short school number such as 1399',
  slug: '--slug must be lower-case letters, digits and hyphens (it is used in addresses)',
  name: '--name is too long',
  region: '--region is too long',
};

const userAdd: Command = (config, args) => {
  const { values } = parse(args, {
    school: { type: 'string' },
    login: { type: 'string' },
    kind: { type: 'string', default: 'staff' },
    role: { type: 'string', multiple: true },
    'last-name': { type: 'string' },
    'first-name': { type: 'string' },
    'middle-name': { type: 'string' },
    'birth-date': { type: 'string' },
    email: { type: 'string' },
    phone: { type: 'string' },
    snils: { type: 'string' },
    'password-stdin': { type: 'boolean' },
  });
  const kind = values.kind as AccountKind;
  if (!ACCOUNT_KINDS.includes(kind)) throw new UsageError(`--kind must be one of ${ACCOUNT_KINDS.join(', ')}`);
  const login = required(values.login, 'login');
  if (kind !== 'platform') required(values.school, 'school');
  return withApp(config, async (app) => {
    let schoolId: string | null = null;
    if (kind !== 'platform') {
      const school = await schoolFromHint(app.db, values.school!.trim().toLowerCase());
      if (!school) throw new CliError(`no school "${values.school}" (use its address name or a unique number)`);
      schoolId = school.id;
    }
    const given = values['password-stdin'] ? (await readStdin()).trim() : undefined;
    const password = given || generatePassword();
    const account = await createAccount(
      app.db,
      app.passwords,
      {
        schoolId,
        login,
        password,
        kind,
        roles: values.role ?? [],
        lastName: values['last-name'],
        firstName: values['first-name'],
        middleName: values['middle-name'],
        birthDate: values['birth-date'],
        email: values.email,
        phone: values.phone,
        snils: values.snils,
        // A generated password was seen by whoever ran the command: the owner must replace it.
        mustChangePassword: !given,
      },
      { type: 'cli' },
    );
    out(`user ${account.login} added: id ${account.id}`);
    if (!given) out(`password (shown once): ${password}`);
    return 0;
  });
};

/** The account named by --school and --login (platform accounts: --login alone). */
async function accountFromArgs(app: AppContext, school: string | undefined, login: string | undefined) {
  const name = required(login, 'login');
  let schoolId: string | null = null;
  if (school) {
    const s = await schoolFromHint(app.db, school.trim().toLowerCase());
    if (!s) throw new CliError(`no school "${school}" (use its address name or a unique number)`);
    schoolId = s.id;
  }
  const account = await findAccountByLogin(app.db, schoolId, name);
  if (!account) throw new CliError(`no user "${name}"${school ? ` in school ${school}` : ' without a school'}`);
  return account;
}

const accountOptions = { school: { type: 'string' }, login: { type: 'string' } } as const;

/** Ends every session of the account and revokes its tokens; apps get a back-channel logout. */
const userLogout: Command = (config, args) => {
  const { values } = parse(args, accountOptions);
  return withApp(config, async (app) => {
    const account = await accountFromArgs(app, values.school, values.login);
    const r = await app.sessions.endSessions(account.id, { reason: 'cli', actor: { type: 'cli' } });
    await app.sessions.deliverDue();
    out(`user ${account.login}: ${r.sessions} session(s), ${r.grants} grant(s), ${r.tokens} token(s) ended; ${r.logoutsQueued} app(s) notified`);
    return 0;
  });
};

/** A new generated password, shown once; it must be changed at the next login; sessions end. */
const userResetPassword: Command = (config, args) => {
  const { values } = parse(args, accountOptions);
  return withApp(config, async (app) => {
    const account = await accountFromArgs(app, values.school, values.login);
    const password = generatePassword();
    const hash = await app.passwords.hash(password);
    await app.db.transaction(async (trx) => {
      await setPasswordHash(trx, account.id, hash, true);
      await writeAudit(trx, { action: 'password.reset', actor: { type: 'cli' }, schoolId: account.school_id, target: { type: 'user', id: account.id } });
    });
    await app.sessions.endSessions(account.id, { reason: 'password reset', actor: { type: 'cli' } });
    await app.throttle.unlockLogin(account.school_id, account.login);
    await app.sessions.deliverDue();
    out(`user ${account.login}: new password (shown once, to be changed at the next login): ${password}`);
    return 0;
  });
};

/** Lifts the brute-force delay of a login (the owner is locked out by someone's guessing). */
const userUnlock: Command = (config, args) => {
  const { values } = parse(args, accountOptions);
  return withApp(config, async (app) => {
    const account = await accountFromArgs(app, values.school, values.login);
    const n = await app.throttle.unlockLogin(account.school_id, account.login);
    await writeAudit(app.db, { action: 'login.unlock', actor: { type: 'cli' }, schoolId: account.school_id, target: { type: 'user', id: account.id }, details: { counters: n } });
    out(n ? `user ${account.login}: unlocked` : `user ${account.login} was not locked`);
    return 0;
  });
};

const clientAdd: Command = (config, args) => {
  const { values } = parse(args, {
    name: { type: 'string' },
    type: { type: 'string', default: 'web' },
    'redirect-uri': { type: 'string', multiple: true },
    'post-logout-redirect-uri': { type: 'string', multiple: true },
    'backchannel-logout-uri': { type: 'string' },
    scope: { type: 'string', default: 'openid offline_access profile email phone school roles children' },
    'first-party': { type: 'boolean', default: false },
    'client-id': { type: 'string' },
  });
  const name = required(values.name, 'name');
  const type = values.type!;
  if (!['web', 'native', 'spa', 'service'].includes(type)) throw new UsageError('--type must be web, native, spa or service');
  const clientId = values['client-id']?.trim() || newClientId();
  if (!/^[A-Za-z0-9._-]{3,100}$/.test(clientId)) throw new UsageError('--client-id must be 3–100 letters, digits, dots, underscores or hyphens');
  const redirectUris = values['redirect-uri'] ?? [];
  if (type !== 'service' && !redirectUris.length) throw new UsageError('--redirect-uri is required (repeat it for several)');
  const isPublic = type === 'native' || type === 'spa';
  const metadata: ClientMetadata = {
    client_id: clientId,
    client_name: name,
    application_type: type === 'native' ? 'native' : 'web',
    scope: values.scope,
    ...(type === 'service'
      ? { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] }
      : {
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          redirect_uris: redirectUris,
          post_logout_redirect_uris: values['post-logout-redirect-uri'] ?? [],
        }),
    token_endpoint_auth_method: isPublic ? 'none' : 'client_secret_basic',
    ...(values['backchannel-logout-uri']
      ? { backchannel_logout_uri: values['backchannel-logout-uri'], backchannel_logout_session_required: true }
      : {}),
    [FIRST_PARTY]: values['first-party'],
  };
  const secret = isPublic ? undefined : newClientSecret();
  const uriProblem = redirectUrisProblem(metadata);
  if (uriProblem) throw new CliError(`invalid client: ${uriProblem}`);
  return withApp(config, async (app) => {
    try {
      await app.oidc.provider.Client.validate({ ...metadata, ...(secret ? { client_secret: secret } : {}) });
    } catch (err) {
      const e = err as { error_description?: string; message: string };
      throw new CliError(`invalid client: ${e.error_description ?? e.message}`);
    }
    const { [FIRST_PARTY]: _fp, client_name: _n, ...stored } = metadata;
    await app.db.transaction(async (trx) => {
      await insertClient(trx, app.config.secrets.keyEncryptionKey, {
        clientId,
        name,
        metadata: stored,
        secret,
        firstParty: Boolean(values['first-party']),
      }).catch((err: { code?: string }) => {
        if (err.code === '23505') throw new CliError(`client ${clientId} exists already`);
        throw err;
      });
      await writeAudit(trx, { action: 'client.create', actor: { type: 'cli' }, target: { type: 'client', id: clientId }, details: { type, redirectUris } });
    });
    out(`client_id: ${clientId}`);
    if (secret) out(`client_secret (shown once): ${secret}`);
    return 0;
  });
};

const clientList: Command = (config) =>
  withApp(config, async (app) => {
    const rows = await listClients(app.db);
    if (!rows.length) out('no registered clients (first-party apps come from the configuration)');
    for (const r of rows) {
      const m = r.metadata;
      out(`${r.client_id}\t${r.name}\t${r.first_party ? 'first-party' : 'third-party'}\t${r.registered_by}\t${(m.redirect_uris ?? []).join(' ') || (m.grant_types ?? []).join(',')}`);
    }
    return 0;
  });

const clientRemove: Command = (config, args) => {
  const { positionals } = parse(args, {});
  const clientId = positionals[0];
  if (!clientId) throw new UsageError('usage: client remove <client_id>');
  return withApp(config, async (app) => {
    const removed = await app.db.transaction(async (trx) => {
      const done = await deleteClient(trx, clientId);
      if (done) {
        // Its grants and tokens go with it.
        await trx('oidc_models').whereRaw(`payload->>'clientId' = ?`, [clientId]).del();
        await writeAudit(trx, { action: 'client.remove', actor: { type: 'cli' }, target: { type: 'client', id: clientId } });
      }
      return done;
    });
    if (!removed) throw new CliError(`no registered client ${clientId}`);
    out(`client ${clientId} removed; its grants and tokens are revoked`);
    return 0;
  });
};

/** An initial access token for dynamic client registration, bound to one school; shown once. */
const clientToken: Command = (config, args) => {
  const { values } = parse(args, { school: { type: 'string' }, 'ttl-days': { type: 'string' } });
  const hint = required(values.school, 'school');
  const ttl = values['ttl-days'] ?? String(DEFAULT_TOKEN_TTL_DAYS);
  if (!/^\d{1,3}$/.test(ttl) || Number(ttl) < 1 || Number(ttl) > MAX_TOKEN_TTL_DAYS) {
    throw new UsageError(`--ttl-days must be a whole number of days, 1–${MAX_TOKEN_TTL_DAYS}`);
  }
  return withApp(config, async (app) => {
    const school = await schoolFromHint(app.db, hint.toLowerCase());
    if (!school) throw new CliError(`no school "${hint}" (use its address name or a unique number)`);
    const { token, expiresAt } = await issueInitialAccessToken(app.db, { schoolId: school.id, ttlDays: Number(ttl) });
    out(`initial access token for ${school.name} (shown once, valid until ${expiresAt.toISOString()}):`);
    out(token);
    out(`register with: POST ${config.issuer}/reg  Authorization: Bearer <token>  (RFC 7591)`);
    return 0;
  });
};

const keysRotate: Command = (config, args) => {
  const { values } = parse(args, { alg: { type: 'string' }, 'activate-in': { type: 'string' } });
  const alg = values.alg as SigningAlg | undefined;
  if (alg && !SIGNING_ALGS.includes(alg)) throw new UsageError(`--alg must be one of ${SIGNING_ALGS.join(', ')}`);
  const delay = values['activate-in'] ?? String(config.keys.publishDelaySeconds);
  if (!/^\d+$/.test(delay)) throw new UsageError('--activate-in must be a number of seconds');
  return withApp(config, async (app) => {
    const kids = await rotateKeys(app.db, config.secrets.keyEncryptionKey, { alg, activateInSeconds: Number(delay) });
    await writeAudit(app.db, { action: 'keys.rotate', actor: { type: 'cli' }, details: { kids, activateInSeconds: Number(delay) } });
    out(`new keys published now, signing in ${delay} s: ${kids.join(', ')}`);
    return 0;
  });
};

const keysList: Command = (config) =>
  withApp(config, async (app) => {
    for (const k of await listKeys(app.db, { retainSeconds: keyRetainSeconds(config) })) {
      const when = k.state === 'next' ? `signs from ${k.activateAt.toISOString()}` : k.removeAfter ? `published until ${k.removeAfter.toISOString()}` : '';
      out(`${k.kid}\t${k.alg}\t${k.state}\t${when}`);
    }
    return 0;
  });

/** Letters of the outbox, newest first; addresses masked (operators need the domain, not the person). */
const mailList: Command = (config, args) => {
  const { values } = parse(args, { failed: { type: 'boolean' }, limit: { type: 'string' } });
  if (values.limit && !/^\d+$/.test(values.limit)) throw new UsageError('--limit must be a number');
  return withApp(config, async (app) => {
    const rows = await app.mail.list({ status: values.failed ? 'failed' : undefined, limit: values.limit ? Number(values.limit) : 50 });
    if (!rows.length) out(values.failed ? 'no failed letters' : 'the outbox is empty');
    for (const r of rows) {
      out(`${r.id}\t${r.status}\t${r.template}\t${maskAddress(r.to_address)}\tattempts ${r.attempts}\t${r.created_at.toISOString()}${r.last_error ? `\t${r.last_error}` : ''}`);
    }
    return 0;
  });
};

const mailRetry: Command = (config, args) => {
  const { positionals } = parse(args, {});
  const id = positionals[0];
  if (!id || !/^\d{1,15}$/.test(id)) throw new UsageError('usage: mail retry ID (a number from "mail list --failed")');
  return withApp(config, async (app) => {
    if (!(await app.mail.retry(Number(id)))) throw new CliError(`no failed letter ${id}`);
    await writeAudit(app.db, { action: 'mail.retry', actor: { type: 'cli' }, target: { type: 'mail', id } });
    out(`letter ${id} queued again; a running server sends it within ${config.mail.pollSeconds} s`);
    return 0;
  });
};

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('--password-stdin reads the password from standard input (pipe it in)');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export const COMMANDS: Record<string, Command> = {
  migrate,
  'school add': schoolAdd,
  'user add': userAdd,
  'user logout': userLogout,
  'user reset-password': userResetPassword,
  'user unlock': userUnlock,
  'client add': clientAdd,
  'client list': clientList,
  'client remove': clientRemove,
  'client token': clientToken,
  'keys rotate': keysRotate,
  'keys list': keysList,
  'mail list': mailList,
  'mail retry': mailRetry,
};

export function usage(): string {
  return `journal-id — single sign-on of the school journal

  serve [--no-demo]                      start the server (migrations and, in development, demo data first)
  migrate [--status]                     apply pending database migrations
  school add --number N --name NAME --region REGION [--slug SLUG]
  user add --login L [--school SLUG] [--kind student|parent|staff|platform] [--role ROLE]...
           [--last-name ..] [--first-name ..] [--middle-name ..] [--birth-date YYYY-MM-DD]
           [--email ..] [--phone ..] [--snils ..] [--password-stdin]
                                         without --password-stdin a password is generated, shown once,
                                         and must be changed at the first login
  user logout --school SLUG --login L    end every session of the user; apps are notified
  user reset-password --school SLUG --login L
                                         a new password, shown once, to be changed at the next login
  user unlock --school SLUG --login L    lift the brute-force delay of a login
  client add --name NAME [--type web|native|spa|service] --redirect-uri URI...
           [--post-logout-redirect-uri URI]... [--backchannel-logout-uri URI] [--scope "..."]
           [--first-party] [--client-id ID]      prints client_id and the secret once
  client list
  client remove CLIENT_ID                revokes its grants and tokens
  client token --school SLUG [--ttl-days N]
                                         an initial access token for dynamic registration (RFC 7591)
                                         bound to the school; shown once (default 7 days)
  keys rotate [--alg ES256|RS256] [--activate-in SECONDS]
                                         publish new keys now; they sign after the delay
  keys list
  mail list [--failed] [--limit N]       letters of the outbox (addresses masked), with their last error
  mail retry ID                          send a failed letter again (after SMTP was fixed)
`;
}
