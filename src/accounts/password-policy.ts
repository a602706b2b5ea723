/**
 * The journal's password rule (FAQ «Как зарегистрироваться?»): at least 8 characters, letters
 * and digits only, and not the login, the person's name or birth date; nor one of the most common
 * passwords. Length, symbols and the common-password check come from the configuration.
 */
import { randomInt } from 'node:crypto';
import { dictionary } from '@zxcvbn-ts/language-common';

export type PasswordProblem =
  | 'too_short'
  | 'too_long'
  | 'bad_characters'
  | 'needs_letters_and_digits'
  | 'too_personal'
  | 'common';

export interface PasswordPolicy {
  minLength: number;
  maxLength: number;
  /** false: the FAQ's rule, letters and digits only. */
  allowSymbols: boolean;
  forbidCommon: boolean;
}

export const DEFAULT_POLICY: PasswordPolicy = { minLength: 8, maxLength: 128, allowSymbols: false, forbidCommon: true };

const LETTERS_DIGITS = /^[A-Za-zА-Яа-яЁё0-9]+$/;
const PRINTABLE = /^[^\p{Cc}\p{Cs}]+$/u;

export interface PersonalData {
  login?: string;
  names?: (string | null | undefined)[];
  birthDate?: string | null;
}

export function checkPassword(password: string, person: PersonalData, policy: PasswordPolicy = DEFAULT_POLICY): PasswordProblem | undefined {
  if (password.length < policy.minLength) return 'too_short';
  if (password.length > policy.maxLength) return 'too_long';
  if (!(policy.allowSymbols ? PRINTABLE : LETTERS_DIGITS).test(password)) return 'bad_characters';
  if (!/[0-9]/.test(password) || !/\p{L}/u.test(password)) return 'needs_letters_and_digits';
  const p = password.toLowerCase();
  const personal = [person.login, ...(person.names ?? [])].filter((v): v is string => Boolean(v && v.length >= 3));
  if (personal.some((v) => p.includes(v.toLowerCase()))) return 'too_personal';
  if (person.birthDate) {
    const [y, m, d] = person.birthDate.split('-');
    const forms = [`${d}${m}${y}`, `${y}${m}${d}`, `${d}${m}${y?.slice(2)}`, `${d}${m}`];
    if (forms.some((f) => f && f.length >= 4 && p.includes(f))) return 'too_personal';
  }
  if (policy.forbidCommon && isCommon(p)) return 'common';
  return undefined;
}

let common: Set<string> | undefined;

/**
 * In zxcvbn's list of common passwords (49,000, from public leaks), also when typed on the
 * Russian keyboard layout («йцукен123» is «qwerty123»).
 */
export function isCommon(lower: string): boolean {
  common ??= new Set((dictionary['passwords-common'] as string[]).filter((w) => w.length >= 6));
  return common.has(lower) || common.has(toLatinLayout(lower));
}

const RU = 'йцукенгшщзхъфывапролджэячсмитьбю';
const EN = "qwertyuiop[]asdfghjkl;'zxcvbnm,.";
function toLatinLayout(s: string): string {
  return [...s].map((c) => {
    const i = RU.indexOf(c);
    return i >= 0 ? EN[i]! : c;
  }).join('');
}

/** A password that meets the rule, without look-alike characters (for printing once). */
export function generatePassword(length = 12): string {
  const letters = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ';
  const digits = '23456789';
  const all = letters + digits;
  const chars = [letters[randomInt(letters.length)]!, digits[randomInt(digits.length)]!];
  while (chars.length < length) chars.push(all[randomInt(all.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

/** Logins: letters, digits, dot, underscore, hyphen; 3–50 characters; starting with a letter or digit. */
export const LOGIN_PATTERN = /^[A-Za-zА-Яа-яЁё0-9][A-Za-zА-Яа-яЁё0-9._-]{2,49}$/;
