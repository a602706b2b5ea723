/**
 * The journal's password rule (FAQ «Как зарегистрироваться?»): at least 8 characters, letters
 * and digits only, and not the login, the person's name or birth date.
 */
import { randomInt } from 'node:crypto';

export type PasswordProblem = 'too_short' | 'too_long' | 'bad_characters' | 'needs_letters_and_digits' | 'too_personal';

const ALLOWED = /^[A-Za-zА-Яа-яЁё0-9]+$/;

export function checkPassword(
  password: string,
  person: { login?: string; names?: (string | null | undefined)[]; birthDate?: string | null },
  minLength = 8,
): PasswordProblem | undefined {
  if (password.length < minLength) return 'too_short';
  if (password.length > 128) return 'too_long';
  if (!ALLOWED.test(password)) return 'bad_characters';
  if (!/[0-9]/.test(password) || !/[A-Za-zА-Яа-яЁё]/.test(password)) return 'needs_letters_and_digits';
  const p = password.toLowerCase();
  const personal = [person.login, ...(person.names ?? [])].filter((v): v is string => Boolean(v && v.length >= 3));
  if (personal.some((v) => p.includes(v.toLowerCase()))) return 'too_personal';
  if (person.birthDate) {
    const [y, m, d] = person.birthDate.split('-');
    const forms = [`${d}${m}${y}`, `${y}${m}${d}`, `${d}${m}${y?.slice(2)}`, `${d}${m}`];
    if (forms.some((f) => f && f.length >= 4 && p.includes(f))) return 'too_personal';
  }
  return undefined;
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
