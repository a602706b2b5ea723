/**
 * The journal's password rule (FAQ «Как зарегистрироваться?»): at least 8 characters, letters
 * and digits only, and not the login, the person's name or birth date; nor one of the most common
 * passwords. Length, symbols and the common-password check come from the configuration. Every
 * cause that lets a person choose a password (registration, recovery link, /account, the forced
 * change, the CLI's given password) calls checkPassword through app.passwords.check with the
 * account's login, names and birth date; one-time passwords are generated (generatePassword).
 *
 * The personal data is looked for case-insensitively, also typed on the other keyboard layout
 * («Ьфкшн» is «Mariy» typed on the Russian layout, «vfhbz» is «мария» on the Latin one); the name
 * in every Latin spelling and its common short form (name-spellings.ts); the birth date in the
 * forms people write it (birthDateForms).
 */
import { randomInt } from 'node:crypto';
import { dictionary } from '@zxcvbn-ts/language-common';
import { holdsName, nameParts, MIN_NAME_PART } from './name-spellings.js';

/** A part of a dotted login is looked for when it has at least this many letters. */
const MIN_LOGIN_PART = 4;

export type PasswordProblem =
  | 'too_short'
  | 'too_long'
  | 'bad_characters'
  | 'needs_letters_and_digits'
  | 'contains_login'
  | 'contains_name'
  | 'contains_birth_date'
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
  const p = password.normalize('NFC').toLowerCase();
  const texts = [...new Set([p, toLatinLayout(p), toCyrillicLayout(p)])];
  const login = (person.login ?? '').toLowerCase();
  // The login whole (m.sokolova) and its parts (sokolova): a letters-only password cannot hold the dot.
  // A part needs four letters, as a short form does: «own» of eff.own or «pro» of ivan.pro is an
  // ordinary word, not what identifies the person (the name parts come through the name rule).
  const whole = [login, login.replace(/[._-]/g, '')].filter((v) => [...v].length >= MIN_NAME_PART);
  const loginParts = [...whole, ...login.split(/[._-]/).filter((v) => [...v].length >= MIN_LOGIN_PART)];
  if (loginParts.some((part) => texts.some((text) => holdsName(text, part)))) return 'contains_login';
  if (nameParts(person.names ?? []).some((part) => texts.some((text) => holdsName(text, part)))) return 'contains_name';
  if (person.birthDate && birthDateForms(person.birthDate).some((form) => p.includes(form))) return 'contains_birth_date';
  if (policy.forbidCommon && isCommon(p)) return 'common';
  return undefined;
}

/**
 * How people write their birth date into a password, for 2010-03-05: 05032010, 050310, 20100305,
 * 0503 and 05.03 (the Russian day-month order, with or without the dot, as on a birthday card),
 * 532010 (without the leading zeros) and 2010 (the year: a four-digit year is refused only when it is the
 * birth year — 2024 in a password is not personal). Not 0305 (month first): not a Russian way of
 * writing a date, and for days up to 12 it is another person's day-month.
 */
export function birthDateForms(birthDate: string): string[] {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birthDate);
  if (!m) return [];
  const [, yyyy, mm, dd] = m as unknown as [string, string, string, string];
  const yy = yyyy.slice(2);
  const d = String(Number(dd));
  const mo = String(Number(mm));
  return [...new Set([
    `${dd}${mm}${yyyy}`, `${dd}${mm}${yy}`, `${yyyy}${mm}${dd}`, `${dd}${mm}`, yyyy,
    `${dd}.${mm}`, `${d}${mo}${yyyy}`,
  ])];
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

const RU = 'йцукенгшщзхъфывапролджэячсмитьбюё';
const EN = "qwertyuiop[]asdfghjkl;'zxcvbnm,.`";
const retype = (from: string, to: string) => (s: string) => [...s].map((c) => {
  const i = from.indexOf(c);
  return i >= 0 ? to[i]! : c;
}).join('');
/** What keys a text typed on the Russian layout pressed, read on the Latin one (and back). */
const toLatinLayout = retype(RU, EN);
const toCyrillicLayout = retype(EN, RU);

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
