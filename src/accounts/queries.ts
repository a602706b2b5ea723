/**
 * Accounts (table `users`). Logins are unique per school, compared case-insensitively, and by
 * their look-alike skeleton (login-skeleton.ts, issue 16.5); signing in compares the login only.
 */
import { rawRows, type Queryable } from '../db/index.js';
import { loginSkeleton } from './login-skeleton.js';

export type AccountKind = 'student' | 'parent' | 'staff' | 'platform';
export const ACCOUNT_KINDS: readonly AccountKind[] = ['student', 'parent', 'staff', 'platform'];

export interface Account {
  id: string;
  school_id: string | null;
  login: string;
  password_hash: string;
  kind: AccountKind;
  roles: string[];
  last_name: string | null;
  first_name: string | null;
  middle_name: string | null;
  birth_date: string | null;
  email: string | null;
  email_verified_at: Date | null;
  phone: string | null;
  snils: string | null;
  snils_source: 'school' | 'self' | null;
  must_change_password: boolean;
  disabled_at: Date | null;
  last_login_at: Date | null;
  person_id: string | null;
}

const FIELDS = [
  'id', 'school_id', 'login', 'password_hash', 'kind', 'roles', 'last_name', 'first_name', 'middle_name', 'birth_date',
  'email', 'email_verified_at', 'phone', 'snils', 'snils_source', 'must_change_password', 'disabled_at', 'last_login_at', 'person_id',
] as const satisfies ReadonlyArray<keyof Account>;
// birth_date as 'YYYY-MM-DD': a JS Date would shift it by the time zone.
const field = (alias: string, f: string) => (f === 'birth_date' ? `to_char(${alias}birth_date, 'YYYY-MM-DD')` : `${alias}${f}`);
const COLUMNS = FIELDS.map((f) => (f === 'birth_date' ? `${field('', f)} as birth_date` : f)).join(', ');
const columns = (db: Queryable) => [db.raw(COLUMNS)];

/**
 * The account's columns of the users row aliased `alias` in a join, each named `<prefix><column>`
 * (the oidc adapter reads a token's account with the token: oidc/adapter-queries.ts).
 */
export function accountColumns(alias: string, prefix: string): string {
  return FIELDS.map((f) => `${field(`${alias}.`, f)} as ${prefix}${f}`).join(', ');
}

/** The account in a joined row (accountColumns), or undefined when the join found none. */
export function accountOf(row: Record<string, unknown>, prefix: string): Account | undefined {
  if (row[`${prefix}id`] == null) return undefined;
  return Object.fromEntries(FIELDS.map((f) => [f, row[`${prefix}${f}`]])) as unknown as Account;
}

function isUuid(v: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v);
}

// Every refresh and userinfo reads the account by id: the statement is written out once (knex's
// builder compiled it anew per request, issue 8 profiles).
const BY_ID = `select ${COLUMNS} from users where id = ?`;

export async function findAccountById(db: Queryable, id: string): Promise<Account | undefined> {
  if (!isUuid(id)) return undefined;
  return (await rawRows<Account>(db, BY_ID, [id], 'account_by_id'))[0];
}

export async function findAccountByLogin(
  db: Queryable,
  schoolId: string | null,
  login: string,
): Promise<Account | undefined> {
  return (await db('users')
    .select(columns(db))
    .whereRaw(`coalesce(school_id::text, '') = ?`, [schoolId ?? ''])
    .andWhereRaw('lower(login) = lower(?)', [login])
    .first()) as Account | undefined;
}

export interface NewAccount {
  school_id: string | null;
  login: string;
  password_hash: string;
  kind: AccountKind;
  roles?: string[];
  last_name?: string | null;
  first_name?: string | null;
  middle_name?: string | null;
  birth_date?: string | null;
  email?: string | null;
  email_verified_at?: Date | null;
  phone?: string | null;
  /** 11 digits; `snils_source` says who vouches for it (Gosuslugi matching trusts only the school). */
  snils?: string | null;
  snils_source?: 'school' | 'self' | null;
  must_change_password?: boolean;
  person_id?: string | null;
}

export async function insertAccount(db: Queryable, a: NewAccount): Promise<Account> {
  const [row] = await db('users')
    .insert({ ...a, login_skeleton: loginSkeleton(a.login), roles: a.roles ?? [], password_changed_at: db.fn.now() })
    .returning(columns(db) as unknown as string[]);
  return row as Account;
}

/**
 * The login, or one that looks like it (same skeleton), belongs to an account of the school.
 * Both unique indexes (users_school_login_unique, users_school_login_skeleton_unique) still decide
 * between concurrent inserts.
 */
export async function loginTaken(db: Queryable, schoolId: string | null, login: string): Promise<boolean> {
  const row = await db('users')
    .first('id')
    .whereRaw(`coalesce(school_id::text, '') = ?`, [schoolId ?? ''])
    .andWhere((w) => w.whereRaw('lower(login) = lower(?)', [login]).orWhere('login_skeleton', loginSkeleton(login)));
  return Boolean(row);
}

/** The login indexes (case-insensitive, and by look-alike skeleton): a race lost to another writer. */
const LOGIN_INDEXES = new Set(['users_school_login_unique', 'users_school_login_skeleton_unique']);

/** Thrown by moveAccount when another writer took the login (or a look-alike) in the meantime. */
export class LoginTakenError extends Error {
  constructor() {
    super('login taken');
  }
}

/** An account's login and school, changed together (a pupil's transfer): the skeleton follows the login. */
export async function moveAccount(db: Queryable, id: string, to: { schoolId: string; login: string }): Promise<void> {
  try {
    await db('users')
      .where({ id })
      .update({ school_id: to.schoolId, login: to.login, login_skeleton: loginSkeleton(to.login), updated_at: db.fn.now() });
  } catch (err) {
    // loginTaken() was asked first, but a registration or another transfer may commit between the
    // question and this write: the index decides, and the caller's transaction rolls back whole.
    const e = err as { code?: string; constraint?: string };
    if (e.code === '23505' && e.constraint && LOGIN_INDEXES.has(e.constraint)) throw new LoginTakenError();
    throw err;
  }
}

export async function recordLogin(db: Queryable, id: string, newHash?: string): Promise<void> {
  await db('users')
    .where({ id })
    .update({ last_login_at: db.fn.now(), ...(newHash ? { password_hash: newHash } : {}) });
}

/** A new password hash; `mustChange` says whether the owner has to replace it at the next login. */
export async function setPasswordHash(db: Queryable, id: string, hash: string, mustChange: boolean): Promise<void> {
  await db('users')
    .where({ id })
    .update({ password_hash: hash, must_change_password: mustChange, password_changed_at: db.fn.now(), updated_at: db.fn.now() });
}
