/** The administrative commands: migrate, school, user, client, keys. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Config } from '../config/index.js';
import { createAppContext, openDb } from '../server/bootstrap.js';
import { createLogger } from '../server/logger.js';
import { migrateLatest, migrationStatus } from '../db/migrate.js';
import { addSchool, parseSchoolInput, SchoolError } from '../schools/add.js';
import { schoolFromHint } from '../schools/resolve.js';
import { createAccount } from '../accounts/create.js';
import { generatePassword } from '../accounts/password-policy.js';
import { ACCOUNT_KINDS, findAccountByLogin, type AccountKind } from '../accounts/queries.js';
import { listKeys, rotateKeys, SIGNING_ALGS, type SigningAlg } from '../oidc/keys.js';
import { keyRetainSeconds } from '../oidc/provider.js';
import { ClientError, listManagedClients, registerClient, removeClient, rotateClientSecret, updateClient, type CreateInput, type UpdateInput } from '../clients/manage.js';
import { DEFAULT_TOKEN_TTL_DAYS, issueInitialAccessToken, MAX_TOKEN_TTL_DAYS } from '../clients/registration.js';
import { cliAudit } from '../audit/bound.js';
import { resetPassword } from '../accounts/password-change.js';
import { removeSecondFactor } from '../accounts/second-factor.js';
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
    const school = await addSchool(app.db, input.value, cliAudit(app.db)).catch((err: unknown) => {
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
      cliAudit(app.db),
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
    const r = await app.sessions.endSessions(account.id, { reason: 'cli', by: cliAudit(app.db) });
    await app.sessions.deliverDue();
    out(`user ${account.login}: ${r.sessions} session(s), ${r.grants} grant(s), ${r.tokens} token(s), ${r.consoleSessions} console session(s) ended; ${r.logoutsQueued} app(s) notified`);
    return 0;
  });
};

/** A new generated password, shown once; it must be changed at the next login; sessions end. */
const userResetPassword: Command = (config, args) => {
  const { values } = parse(args, accountOptions);
  return withApp(config, async (app) => {
    const account = await accountFromArgs(app, values.school, values.login);
    // Sessions end, the lock is lifted, the owner hears of it (accounts/effects.ts, cli).
    const password = await resetPassword(app, account, 'cli', cliAudit(app.db), { reason: 'password reset' });
    await app.sessions.deliverDue();
    out(`user ${account.login}: new password (shown once, to be changed at the next login): ${password}`);
    return 0;
  });
};

/** Removes the second factor (a lost phone): every session ends; a curator enrols again at the next console login. */
const userResetMfa: Command = (config, args) => {
  const { values } = parse(args, accountOptions);
  return withApp(config, async (app) => {
    const account = await accountFromArgs(app, values.school, values.login);
    const removed = await removeSecondFactor(app, account, 'mfa_reset', cliAudit(app.db), { reason: 'second factor reset' });
    if (removed) await app.sessions.deliverDue();
    out(removed ? `user ${account.login}: two-step verification removed, sessions ended` : `user ${account.login} had no two-step verification`);
    return 0;
  });
};

/** Lifts the brute-force delay of a login (the owner is locked out by someone's guessing). */
const userUnlock: Command = (config, args) => {
  const { values } = parse(args, accountOptions);
  return withApp(config, async (app) => {
    const account = await accountFromArgs(app, values.school, values.login);
    const n = await app.throttle.unlockLogin(account.school_id, account.login);
    await cliAudit(app.db).record({ action: 'login.unlock', schoolId: account.school_id, target: { type: 'user', id: account.id }, details: { counters: n } });
    out(n ? `user ${account.login}: unlocked` : `user ${account.login} was not locked`);
    return 0;
  });
};

/** A ClientError of src/clients/manage.ts as the CLI says it. */
function clientFailure(err: unknown): never {
  if (!(err instanceof ClientError)) throw err;
  if (err.code === 'invalid_client_metadata' || err.code === 'invalid_redirect_uri') throw new CliError(`invalid client: ${err.message}`);
  throw new CliError(err.message);
}

const CLIENT_TYPES = ['web', 'native', 'spa', 'service'] as const;

/**
 * --type names the usual shapes: web (confidential, code + refresh), native and spa (public, PKCE),
 * service (confidential, client_credentials only; `--scope admin` makes it a client of the admin API).
 */
const clientAdd: Command = (config, args) => {
  const { values } = parse(args, {
    name: { type: 'string' },
    type: { type: 'string', default: 'web' },
    'redirect-uri': { type: 'string', multiple: true },
    'post-logout-redirect-uri': { type: 'string', multiple: true },
    'backchannel-logout-uri': { type: 'string' },
    scope: { type: 'string' },
    'first-party': { type: 'boolean', default: false },
    'client-id': { type: 'string' },
  });
  const name = required(values.name, 'name');
  const type = values.type as (typeof CLIENT_TYPES)[number];
  if (!CLIENT_TYPES.includes(type)) throw new UsageError('--type must be web, native, spa or service');
  const service = type === 'service';
  const redirectUris = values['redirect-uri'] ?? [];
  if (!service && !redirectUris.length) throw new UsageError('--redirect-uri is required (repeat it for several)');
  const input: CreateInput = {
    client_name: name,
    ...(values['client-id'] !== undefined ? { client_id: values['client-id'].trim() } : {}),
    application_type: type === 'native' ? 'native' : 'web',
    grant_types: service ? ['client_credentials'] : ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: type === 'native' || type === 'spa' ? 'none' : 'client_secret_basic',
    redirect_uris: redirectUris,
    post_logout_redirect_uris: values['post-logout-redirect-uri'] ?? [],
    backchannel_logout_uri: values['backchannel-logout-uri'] ?? null,
    ...(values.scope !== undefined ? { scope: values.scope } : {}),
    first_party: values['first-party'],
  };
  return withApp(config, async (app) => {
    const { client, secret } = await registerClient(app, input, cliAudit(app.db)).catch(clientFailure);
    out(`client_id: ${client.client_id}`);
    if (secret) out(`client_secret (shown once): ${secret}`);
    return 0;
  });
};

const clientList: Command = (config) =>
  withApp(config, async (app) => {
    const clients = await listManagedClients(app);
    if (!clients.length) out('no registered clients (first-party apps come from the configuration)');
    for (const c of clients) {
      out(`${c.client_id}\t${c.client_name}\t${c.first_party ? 'first-party' : 'third-party'}\t${c.registered_by}\t${c.redirect_uris.join(' ') || `${c.grant_types.join(',')} ${c.scope}`}`);
    }
    return 0;
  });

/** Changes what the flags name; a repeated list flag replaces the whole list; an empty --backchannel-logout-uri removes it. */
const clientUpdate: Command = (config, args) => {
  const { values, positionals } = parse(args, {
    name: { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'post-logout-redirect-uri': { type: 'string', multiple: true },
    'backchannel-logout-uri': { type: 'string' },
    scope: { type: 'string' },
  });
  const clientId = positionals[0];
  if (!clientId) throw new UsageError('usage: client update CLIENT_ID [--name ..] [--redirect-uri ..]... [--post-logout-redirect-uri ..]... [--backchannel-logout-uri ..] [--scope ".."]');
  const bcl = values['backchannel-logout-uri'];
  const patch: UpdateInput = {
    ...(values.name !== undefined ? { client_name: values.name } : {}),
    ...(values['redirect-uri'] ? { redirect_uris: values['redirect-uri'] } : {}),
    ...(values['post-logout-redirect-uri'] ? { post_logout_redirect_uris: values['post-logout-redirect-uri'] } : {}),
    ...(bcl !== undefined ? { backchannel_logout_uri: bcl.trim() || null } : {}),
    ...(values.scope !== undefined ? { scope: values.scope } : {}),
  };
  if (!Object.keys(patch).length) throw new UsageError('client update: name something to change');
  return withApp(config, async (app) => {
    const { client, secret } = await updateClient(app, clientId, patch, cliAudit(app.db)).catch(clientFailure);
    out(`client ${client.client_id} updated`);
    if (secret) out(`client_secret (shown once): ${secret}`);
    return 0;
  });
};

const clientRotateSecret: Command = (config, args) => {
  const { positionals } = parse(args, {});
  const clientId = positionals[0];
  if (!clientId) throw new UsageError('usage: client rotate-secret CLIENT_ID');
  return withApp(config, async (app) => {
    const { secret } = await rotateClientSecret(app, clientId, cliAudit(app.db)).catch(clientFailure);
    out(`client ${clientId}: the old secret no longer works`);
    out(`client_secret (shown once): ${secret}`);
    return 0;
  });
};

const clientRemove: Command = (config, args) => {
  const { positionals } = parse(args, {});
  const clientId = positionals[0];
  if (!clientId) throw new UsageError('usage: client remove <client_id>');
  return withApp(config, async (app) => {
    await removeClient(app, clientId, cliAudit(app.db)).catch(clientFailure);
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
    const { token, expiresAt } = await issueInitialAccessToken(app.db, { schoolId: school.id, ttlDays: Number(ttl) , by: cliAudit(app.db) });
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
    await cliAudit(app.db).record({ action: 'keys.rotate', details: { kids, activateInSeconds: Number(delay) } });
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
    await cliAudit(app.db).record({ action: 'mail.retry', target: { type: 'mail', id } });
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
  'user reset-mfa': userResetMfa,
  'client add': clientAdd,
  'client list': clientList,
  'client update': clientUpdate,
  'client rotate-secret': clientRotateSecret,
  'client remove': clientRemove,
  'client token': clientToken,
  'keys rotate': keysRotate,
  'keys list': keysList,
  'mail list': mailList,
  'mail retry': mailRetry,
};

export function usage(): string {
  return `journal-id — single sign-on of the school journal

  serve [--no-demo] [--workers N|auto]   start the server (migrations and, in development, demo data first);
                                         --workers (or WORKERS): N processes on the port, auto one per CPU
                                         (PostgreSQL only)
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
  user reset-mfa --school SLUG --login L remove two-step verification (a lost phone); sessions end
  client add --name NAME [--type web|native|spa|service] --redirect-uri URI...
           [--post-logout-redirect-uri URI]... [--backchannel-logout-uri URI] [--scope "..."]
           [--first-party] [--client-id ID]      prints client_id and the secret once;
                                         --type service --scope admin: a client of the admin API
  client list
  client update CLIENT_ID [--name NAME] [--redirect-uri URI]... [--post-logout-redirect-uri URI]...
           [--backchannel-logout-uri URI|""] [--scope "..."]   a repeated flag replaces its whole list
  client rotate-secret CLIENT_ID         a new secret, shown once; the old one stops working
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
