/** Creating an account: validation once, then the insert and its audit record in one transaction. */
import type { Db, Tx } from '../db/index.js';
import type { Passwords } from './password.js';
import type { PasswordProblem } from './password-policy.js';
import { readField, fieldTexts, type PersonField } from './fields.js';
import { passwordProblemText } from './password-messages.js';
import { translator } from '../i18n/index.js';
import { insertAccount, loginTaken, ACCOUNT_KINDS, type Account, type AccountKind } from './queries.js';
import type { AuditWriter } from '../audit/bound.js';

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


/** Checks everything but the login's uniqueness; throws AccountInputError naming the field. */
export function validateAccount(passwords: Passwords, input: AccountInput): void {
  const fields = accountFields(input);
  if (!ACCOUNT_KINDS.includes(input.kind)) throw new AccountInputError(`unknown kind ${input.kind}`, 'kind', 'invalid');
  if ((input.kind === 'platform') !== (input.schoolId === null)) {
    throw new AccountInputError('platform accounts have no school; all others need one', 'school', 'invalid');
  }
  const problem = passwords.check(input.password, {
    login: fields.login ?? undefined,
    names: [fields.lastName, fields.firstName, fields.middleName],
    birthDate: fields.birthDate,
  });
  // In English, as the CLI and logs read it: the same texts as the pages' (src/i18n), with the configured length.
  if (problem) throw new AccountInputError(passwordProblemText(translator('en'), problem, passwords.policy), 'password', problem);
}

const ACCOUNT_FIELDS = ['login', 'lastName', 'firstName', 'middleName', 'birthDate', 'email', 'phone', 'snils'] as const satisfies readonly PersonField[];
type AccountFields = Record<(typeof ACCOUNT_FIELDS)[number], string | null>;

/**
 * The account's person fields by the one set of rules (fields.ts), normalised (phone +7…, SNILS
 * 11 digits, birth date YYYY-MM-DD); the first broken one is an AccountInputError with its English
 * message (the CLI's and logs' language).
 */
function accountFields(input: AccountInput): AccountFields {
  const out = {} as AccountFields;
  for (const name of ACCOUNT_FIELDS) {
    const r = readField(name, input[name], name === 'login');
    if (!r.ok) throw new AccountInputError(fieldTexts(r.problem).messageEn, name, 'invalid');
    out[name] = r.value;
  }
  return out;
}

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
  const fields = accountFields(input);
  const login = fields.login!; // required: accountFields refuses an empty one
  if (await loginTaken(trx, input.schoolId, login)) throw new AccountInputError(TAKEN, 'login', 'taken');
  // A savepoint, so that losing the race leaves the caller's transaction usable for its error path.
  const account = await trx
    .transaction((sp) =>
      insertAccount(sp, {
        school_id: input.schoolId,
        login,
        password_hash: hash,
        kind: input.kind,
        roles: input.roles ?? [],
        last_name: fields.lastName,
        first_name: fields.firstName,
        middle_name: fields.middleName,
        birth_date: fields.birthDate,
        email: fields.email,
        email_verified_at: fields.email && input.emailVerified ? new Date() : null,
        // Stored normalised: Gosuslugi matching compares +7 and ten digits, and 11 SNILS digits.
        phone: fields.phone,
        snils: fields.snils,
        snils_source: fields.snils ? (input.snilsSource ?? 'school') : null,
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
