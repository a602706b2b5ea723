/** Creating an account: validation once, then the insert and its audit record in one transaction. */
import type { Db } from '../db/index.js';
import type { Passwords } from './password.js';
import { checkPassword, LOGIN_PATTERN, type PasswordProblem } from './password-policy.js';
import { insertAccount, loginTaken, ACCOUNT_KINDS, type Account, type AccountKind } from './queries.js';
import { writeAudit } from '../audit/audit.js';

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
  mustChangePassword?: boolean;
}

const PASSWORD_MESSAGES: Record<PasswordProblem, string> = {
  too_short: 'the password must have at least 8 characters',
  too_long: 'the password must have at most 128 characters',
  bad_characters: 'the password may contain only letters and digits (no dots, quotes or other signs)',
  needs_letters_and_digits: 'the password must contain both letters and digits',
  too_personal: 'the password must not contain the login, the name or the birth date',
};

export async function createAccount(
  db: Db,
  passwords: Passwords,
  input: AccountInput,
  actor: { type: 'cli' | 'system' | 'user'; id?: string },
): Promise<Account> {
  if (!LOGIN_PATTERN.test(input.login)) {
    throw new AccountInputError('the login must be 3–50 letters, digits, dots, underscores or hyphens', 'login', 'invalid');
  }
  if (!ACCOUNT_KINDS.includes(input.kind)) throw new AccountInputError(`unknown kind ${input.kind}`, 'kind', 'invalid');
  if ((input.kind === 'platform') !== (input.schoolId === null)) {
    throw new AccountInputError('platform accounts have no school; all others need one', 'school', 'invalid');
  }
  if (input.birthDate && !/^\d{4}-\d{2}-\d{2}$/.test(input.birthDate)) {
    throw new AccountInputError('the birth date must be YYYY-MM-DD', 'birthDate', 'invalid');
  }
  if (input.email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(input.email)) {
    throw new AccountInputError('the email address is not valid', 'email', 'invalid');
  }
  const problem = checkPassword(input.password, {
    login: input.login,
    names: [input.lastName, input.firstName, input.middleName],
    birthDate: input.birthDate,
  });
  if (problem) throw new AccountInputError(PASSWORD_MESSAGES[problem], 'password', problem);

  const hash = await passwords.hash(input.password);
  return db.transaction(async (trx) => {
    // The unique index decides races; this check only gives the common case a clear message.
    if (await loginTaken(trx, input.schoolId, input.login)) {
      throw new AccountInputError('this login is already taken in this school', 'login', 'taken');
    }
    const account = await insertAccount(trx, {
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
      phone: input.phone ?? null,
      must_change_password: input.mustChangePassword ?? false,
    });
    await writeAudit(trx, {
      action: 'user.create',
      actor,
      schoolId: input.schoolId,
      target: { type: 'user', id: account.id },
      details: { kind: input.kind, roles: input.roles ?? [] },
    });
    return account;
  }).catch((err: { code?: string }) => {
    if (err.code === '23505') throw new AccountInputError('this login is already taken in this school', 'login', 'taken');
    throw err;
  });
}
