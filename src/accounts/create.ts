/** Creating an account: validation once, then the insert and its audit record in one transaction. */
import type { Db, Tx } from '../db/index.js';
import type { Passwords } from './password.js';
import { LOGIN_PATTERN, type PasswordProblem } from './password-policy.js';
import { mixesScripts } from './login-skeleton.js';
import { insertAccount, loginTaken, ACCOUNT_KINDS, type Account, type AccountKind } from './queries.js';
import type { AuditWriter } from '../audit/bound.js';
import { normalizePhone, validSnils } from '../roster/person-input.js';

export class AccountInputError extends Error {
  override name = 'AccountInputError';
  constructor(
    message: string,
    readonly field: string,
    readonly problem?: PasswordProblem | 'taken' | 'invalid',
  ) {
    super(message);
  }
}

export interface AccountInput {
  schoolId: string | null;
  login: string;
  password: string;
  kind: AccountKind;
  roles?: string[];
  lastName?: string;
  firstName?: string;
  middleName?: string;
  birthDate?: string;
  email?: string;
  emailVerified?: boolean;
  phone?: string;
  /** SNILS in any common spelling (digits are kept); Gosuslugi logins find the account by it. */
  snils?: string;
  /** Who entered the SNILS: the school (CLI, curator) or the person; default school. */
  snilsSource?: 'school' | 'self';
  mustChangePassword?: boolean;
  /** The roster entry of a student or staff member. */
  personId?: string;
}

const PASSWORD_MESSAGES: Record<PasswordProblem, string> = {
  too_short: 'the password must have at least 8 characters',
  too_long: 'the password must have at most 128 characters',
  bad_characters: 'the password may contain only letters and digits (no dots, quotes or other signs)',
  needs_letters_and_digits: 'the password must contain both letters and digits',
  too_personal: 'the password must not contain the login, the name or the birth date',
  common: 'the password is one of the most common ones',
};


/** Checks everything but the login's uniqueness; throws AccountInputError naming the field. */
export function validateAccount(passwords: Passwords, input: AccountInput): void {
  if (!LOGIN_PATTERN.test(input.login)) {
    throw new AccountInputError('the login must be 3–50 letters, digits, dots, underscores or hyphens', 'login', 'invalid');
  }
  if (mixesScripts(input.login)) {
    throw new AccountInputError('the login must be written in one alphabet, Latin or Cyrillic, not a mix of both', 'login', 'invalid');
  }
  if (!ACCOUNT_KINDS.includes(input.kind)) throw new AccountInputError(`unknown kind ${input.kind}`, 'kind', 'invalid');
  if ((input.kind === 'platform') !== (input.schoolId === null)) {
    throw new AccountInputError('platform accounts have no school; all others need one', 'school', 'invalid');
  }
  if (input.birthDate && !/^\d{4}-\d{2}-\d{2}$/.test(input.birthDate)) {
    throw new AccountInputError('the birth date must be YYYY-MM-DD', 'birthDate', 'invalid');
  }
  if (input.email && !EMAIL.test(input.email)) {
    throw new AccountInputError('the email address is not valid', 'email', 'invalid');
  }
  if (input.phone && !normalizePhone(input.phone)) {
    throw new AccountInputError('the phone must be a Russian mobile number, such as +7 912 345-67-89', 'phone', 'invalid');
  }
  if (input.snils && !validSnils(input.snils.replace(/\D/g, ''))) {
    throw new AccountInputError('the SNILS must have 11 digits with a correct check number, such as 112-233-445 95', 'snils', 'invalid');
  }
  const problem = passwords.check(input.password, {
    login: input.login,
    names: [input.lastName, input.firstName, input.middleName],
    birthDate: input.birthDate,
  });
  if (problem) throw new AccountInputError(PASSWORD_MESSAGES[problem], 'password', problem);
}

/**
 * A plausible address (the confirmation letter proves it): one @, a dot in the domain, and none of
 * what no unquoted address holds — spaces, control and invisible formatting characters (bidi
 * overrides), RFC 5322's specials < > ( ) [ ] \ , ; : ", a dot first, last or twice in a row.
 */
const ADDRESS_CHAR = String.raw`[^\s@<>()[\]\\,;:"\p{Cc}\p{Cf}]`;
export const EMAIL = new RegExp(String.raw`^(?!\.)(?!.*\.\.)(?!.*\.@)${ADDRESS_CHAR}{1,64}@${ADDRESS_CHAR}+\.${ADDRESS_CHAR}{2,}$`, 'u');

// Also when a look-alike login holds it (the same skeleton): the person sees the same «taken».
const TAKEN = 'this login is already taken in this school';

/** `by`: who creates it (the CLI operator, a job, a request's writer). */
export async function createAccount(db: Db, passwords: Passwords, input: AccountInput, by: AuditWriter): Promise<Account> {
  validateAccount(passwords, input);
  const hash = await passwords.hash(input.password);
  return db.transaction((trx) => storeAccount(trx, input, hash, by));
}

/**
 * Inserts a validated account and its audit record inside the caller's transaction. A login
 * taken (also by a concurrent insert: the unique index decides) is an AccountInputError.
 */
export async function storeAccount(trx: Tx, input: AccountInput, hash: string, by: AuditWriter): Promise<Account> {
  if (await loginTaken(trx, input.schoolId, input.login)) throw new AccountInputError(TAKEN, 'login', 'taken');
  // A savepoint, so that losing the race leaves the caller's transaction usable for its error path.
  const account = await trx
    .transaction((sp) =>
      insertAccount(sp, {
        school_id: input.schoolId,
        login: input.login,
        password_hash: hash,
        kind: input.kind,
        roles: input.roles ?? [],
        last_name: input.lastName ?? null,
        first_name: input.firstName ?? null,
        middle_name: input.middleName ?? null,
        birth_date: input.birthDate ?? null,
        email: input.email ?? null,
        email_verified_at: input.email && input.emailVerified ? new Date() : null,
        // Stored normalised: Gosuslugi matching compares +7 and ten digits, and 11 SNILS digits.
        phone: input.phone ? normalizePhone(input.phone) : null,
        snils: input.snils ? input.snils.replace(/\D/g, '') : null,
        snils_source: input.snils ? (input.snilsSource ?? 'school') : null,
        must_change_password: input.mustChangePassword ?? false,
        person_id: input.personId ?? null,
      }),
    )
    .catch((err: { code?: string; constraint?: string }) => {
      if (err.code === '23505' && err.constraint !== 'users_person_unique') throw new AccountInputError(TAKEN, 'login', 'taken');
      if (err.code === '23505') throw new AccountInputError('this person has an account already', 'person', 'taken');
      throw err;
    });
  await by.record({
    action: 'user.create',
    schoolId: input.schoolId,
    target: { type: 'user', id: account.id },
    details: { kind: input.kind, roles: input.roles ?? [] },
  }, trx);
  return account;
}
