/**
 * A person's fields, validated once (issue 17.5): login, names, email, phone, SNILS, birth date and
 * class have one zod schema each, used by every door — the registration, /account, the «Подтвердите
 * почту» prompt, «Забыли пароль?», the console, the CLI (createAccount), the roster (its CSV upload
 * and `school person add`). The same input gets the same verdict and the same message everywhere.
 *
 * Every value is first checked for invisible and control characters, then line breaks, tabs and
 * runs of spaces (also non-breaking ones) become one space and the ends are trimmed (after NFC);
 * an empty value is "not given" (null), or the field's «required» message. A broken field gives
 * one problem: an i18n key (`field.<name>.<problem>`, ru and en in src/i18n) with its values;
 * zod issues carry it in `params` (`fieldProblems` reads them back).
 *
 * The rules, per field (see each reader for the details):
 * - login: 3–50 letters, digits, «.», «_», «-», beginning with a letter or digit, one alphabet;
 * - names: Cyrillic (any Cyrillic letter) or Latin letters, spaces, hyphens and apostrophes,
 *   beginning and ending with a letter, one alphabet per word, at most 60 characters; typographic
 *   apostrophes and dashes become ' and -;
 * - email: one plausible address (see EMAIL); kept as typed, compared lower-cased;
 * - phone: a Russian mobile number → +7 and ten digits;
 * - SNILS: 11 digits (spaces and hyphens between), with the check number (validSnils), not zeros;
 * - birth date: YYYY-MM-DD or ДД.ММ.ГГГГ, a real date, 1900-01-01 … today (anywhere on Earth);
 * - class: a grade 1–11 and a Cyrillic letter (6А), a grade alone, or a numbered parallel (5-1).
 */
import { z } from 'zod';
import { translator, type MessageKey, type Translate } from '../i18n/index.js';
import { mixesScripts } from './login-skeleton.js';

export interface FieldProblem<F extends string = string> {
  field: F;
  key: MessageKey;
  vars?: Record<string, string | number>;
}

/** Longer raw values are refused before any other work (a form field is not a file). */
const RAW_MAX = 1000;
export const NAME_MAX = 60;

// ---------------------------------------------------------------------------------------------
// Text hygiene, shared by every field

/** Tabs, line breaks (a cell with Alt+Enter in Excel) and every kind of space: collapsed to one space. */
const WHITESPACE = /[\t\n\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;
/**
 * Refused anywhere: control characters (NUL, U+0001…U+001F but tab and line breaks, DEL, C1),
 * invisible format characters (zero-width spaces, bidirectional overrides, soft hyphen, a BOM
 * inside a value), lone surrogates and private-use characters.
 */
const FORBIDDEN = /(?![\t\n\r])[\p{Cc}\p{Cf}\p{Cs}\p{Co}]/u;

const codePoint = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** Lower-case with ё → е: how kinds, roles and headers are compared. */
export const fold = (s: string) => s.toLowerCase().replace(/ё/g, 'е');

/** Trim and collapse whitespace (after NFC); the forbidden characters are checked by the schema. */
export const cleanText = (s: string) => s.normalize('NFC').replace(WHITESPACE, ' ').trim();

/** A value as quoted back in a message: at most 30 characters. */
export const quote = (v: string) => (v.length > 30 ? `${v.slice(0, 30)}…` : v);

// ---------------------------------------------------------------------------------------------
// One field: raw (string or missing) → cleaned text → its reader → value, null or INVALID

export const INVALID: unique symbol = Symbol('invalid');
export type Invalid = typeof INVALID;
export type Fail = (key: MessageKey, vars?: Record<string, string | number>) => Invalid;
export type Reader<T> = (v: string, fail: Fail) => T | Invalid;

/**
 * The zod schema of one field. The output is the value, null when not given, or INVALID after the
 * problem was added to the parse (so that an object schema reports every field at once).
 */
export function field<T>(read: Reader<T>, required?: MessageKey) {
  return z
    .unknown()
    .optional()
    .transform((input, ctx): T | null | Invalid => {
      const fail: Fail = (key, vars) => {
        ctx.addIssue({ code: 'custom', message: translator('ru')(key, vars), params: { key, vars, en: translator('en')(key, vars) } });
        return INVALID;
      };
      if (input === undefined || input === null) input = '';
      if (typeof input !== 'string') return fail('field.invalid');
      if (input.length > RAW_MAX) return fail('field.raw_too_long', { max: RAW_MAX });
      if (input.includes('\uFFFD')) return fail('field.bad_encoding');
      const bad = FORBIDDEN.exec(input);
      if (bad) return fail('field.control_character', { char: codePoint(bad[0]) });
      const v = cleanText(input);
      if (!v) return required ? fail(required) : null;
      return read(v, fail);
    });
}

/**
 * A field read by a function that names its problem: the plain normaliser (null when refused) and
 * the field's reader (the problem as `field.<name>.<problem>`, with the value quoted).
 */
function normalised<P extends string>(name: 'phone' | 'className', read: (s: string) => { value: string } | { problem: P }) {
  return {
    normalize(s: string): string | null {
      const r = read(s);
      return 'value' in r ? r.value : null;
    },
    reader: ((v, fail) => {
      const r = read(v);
      return 'value' in r ? r.value : fail(`field.${name}.${r.problem}` as MessageKey, { value: quote(v) });
    }) as Reader<string>,
  };
}

// ---------------------------------------------------------------------------------------------
// Login

/** Logins: letters, digits, dot, underscore, hyphen; 3–50 characters; starting with a letter or digit. */
export const LOGIN_PATTERN = /^[A-Za-zА-Яа-яЁё0-9][A-Za-zА-Яа-яЁё0-9._-]{2,49}$/;

const readLogin: Reader<string> = (v, fail) =>
  !LOGIN_PATTERN.test(v) ? fail('field.login.invalid') : mixesScripts(v) ? fail('field.login.mixed_script') : v;

// ---------------------------------------------------------------------------------------------
// Names

const NAME_CHARS = /^[\p{Script=Cyrillic}\p{Script=Latin}' -]+$/u;
const LETTER = /[\p{Script=Cyrillic}\p{Script=Latin}]/u;

type NameField = 'lastName' | 'firstName' | 'middleName';

function nameReader(f: NameField): Reader<string> {
  return (raw, fail) => {
    const v = raw.replace(/[’ʼ‘]/g, "'").replace(/[‐‑‒–—]/g, '-').replace(/ ?- ?/g, '-');
    const bad = [...v].find((c) => !NAME_CHARS.test(c));
    if (bad !== undefined) return fail(`field.${f}.chars`, { char: bad });
    const twice = /[ '-]{2,}/.exec(v);
    if (twice) return fail(`field.${f}.twice`, { signs: twice[0] });
    if ([...v].length > NAME_MAX) return fail(`field.${f}.too_long`, { max: NAME_MAX });
    if (!LETTER.test(v[0]!) || !LETTER.test(v.at(-1)!)) return fail(`field.${f}.ends`);
    const mixed = v.split(/[ '-]/).find((w) => /\p{Script=Cyrillic}/u.test(w) && /\p{Script=Latin}/u.test(w));
    if (mixed) return fail(`field.${f}.mixed`, { word: quote(mixed) });
    return v;
  };
}

// ---------------------------------------------------------------------------------------------
// Email

/**
 * A plausible address (the confirmation letter proves it): one @, a dot in the domain, and none of
 * what no unquoted address holds — spaces, control and invisible formatting characters (bidi
 * overrides), RFC 5322's specials < > ( ) [ ] \ , ; : ", a dot first, last or twice in a row; at
 * most 254 characters (RFC 5321's path).
 */
const ADDRESS_CHAR = String.raw`[^\s@<>()[\]\\,;:"\p{Cc}\p{Cf}]`;
export const EMAIL = new RegExp(String.raw`^(?!\.)(?!.*\.\.)(?!.*\.@)${ADDRESS_CHAR}{1,64}@${ADDRESS_CHAR}+\.${ADDRESS_CHAR}{2,}$`, 'u');
export const EMAIL_MAX = 254;

const readEmailText: Reader<string> = (v, fail) => (v.length <= EMAIL_MAX && EMAIL.test(v) ? v : fail('field.email.invalid'));

// ---------------------------------------------------------------------------------------------
// Phone

type PhoneResult = { value: string } | { problem: 'foreign' | 'landline' | 'format' | 'exponent' };

function readPhone(s: string): PhoneResult {
  const v = cleanText(s);
  if (/^\d+(?:[.,]\d+)?E\+?\d+$/i.test(v)) return { problem: 'exponent' };
  if (!/^\+?[\d\s().-]+$/.test(v)) return { problem: 'format' };
  const digits = v.replace(/\D/g, '');
  let national: string;
  if (v.startsWith('+')) {
    if (!digits.startsWith('7')) return { problem: 'foreign' };
    if (digits.length !== 11) return { problem: 'format' };
    national = digits.slice(1);
  } else if (digits.length === 11 && (digits.startsWith('8') || digits.startsWith('7'))) {
    national = digits.slice(1);
  } else if (digits.length === 10) {
    national = digits;
  } else {
    return { problem: 'format' };
  }
  if (national.startsWith('9')) return { value: `+7${national}` };
  // 3xx, 4xx, 8xx: Russian geographic codes; 6xx, 7xx after +7: Kazakhstan.
  if (/^[348]/.test(national)) return { problem: 'landline' };
  return { problem: 'foreign' };
}

/**
 * A Russian mobile number as people write it — «+7 (912) 345-67-89», «8 912 345 67 89»,
 * «7 912 3456789», «9123456789» — → «+79123456789»; anything else (a landline, a foreign number,
 * an extension, letters) → null.
 */
export const normalizePhone = (s: string): string | null => phone.normalize(s);
const phone = normalised('phone', readPhone);

// ---------------------------------------------------------------------------------------------
// SNILS

/**
 * SNILS check (../shared/notes/esia.md §7): s = Σ dᵢ·(9…1) over the first nine digits; the check
 * number is s mod 101, with 100 written as 00. Numbers up to 001-001-998 carry no check number
 * (ESIA's test users have 000-000-600 0N): any two digits are accepted for them.
 */
export function validSnils(digits: string): boolean {
  if (!/^\d{11}$/.test(digits)) return false;
  const number = digits.slice(0, 9);
  if (Number(number) <= 1_001_998) return true;
  const sum = [...number].reduce((s, d, i) => s + Number(d) * (9 - i), 0);
  return (sum % 101) % 100 === Number(digits.slice(9));
}

/** 11223344595 → 112-233-445 95 (for display). */
export function formatSnils(digits: string): string {
  return `${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6, 9)} ${digits.slice(9)}`;
}

/**
 * 11 digits, spaces and hyphens between them allowed (112-233-445 95); 10 digits (Excel dropped a
 * leading zero) and 1,1E+10 (Excel made it a number) get their own messages; 000-000-000 is a
 * placeholder, not a number; then the check number.
 */
const readSnils: Reader<string> = (v, fail) => {
  if (/^\d+(?:[.,]\d+)?E\+?\d+$/i.test(v)) return fail('field.snils.exponent');
  const digits = v.replace(/[\s\-–—]/g, '');
  if (/^\d{10}$/.test(digits)) return fail('field.snils.ten_digits');
  if (!/^\d{11}$/.test(digits)) return fail('field.snils.format');
  if (/^0{9}/.test(digits)) return fail('field.snils.zeros');
  if (!validSnils(digits)) return fail('field.snils.checksum');
  return digits;
};

// ---------------------------------------------------------------------------------------------
// Dates

/** The latest calendar date anywhere (UTC+14): a birth date after it is in the future for everyone. */
const latestToday = () => new Date(Date.now() + 14 * 3600_000).toISOString().slice(0, 10);

const readBirthDate: Reader<string> = (raw, fail) => {
  const v = raw.replace(/\s*г\.?$/u, ''); // «05.04.2013 г.»
  const iso = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(v);
  const ru = /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/.exec(v);
  if (!iso && !ru) return fail(/^\d{1,2}\.\d{1,2}\.\d{2}$/.test(v) ? 'field.birthDate.short_year' : 'field.birthDate.format');
  const [y, m, d] = (iso ? [iso[1], iso[2], iso[3]] : [ru![3], ru![2], ru![1]]).map(Number) as [number, number, number];
  const date = new Date(Date.UTC(2000, m - 1, d));
  date.setUTCFullYear(y);
  if (m < 1 || m > 12 || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return fail('field.birthDate.no_such_date', { value: quote(raw) });
  const out = `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  if (out < '1900-01-01' || out > latestToday()) return fail('field.birthDate.range');
  return out;
};

// ---------------------------------------------------------------------------------------------
// Class names

/** Latin capitals that look like Cyrillic ones (the brief's list: A B E K M H O P C T X). */
const LATIN_UPPER: Record<string, string> = { A: 'А', B: 'В', E: 'Е', K: 'К', M: 'М', H: 'Н', O: 'О', P: 'Р', C: 'С', T: 'Т', X: 'Х' };
/** Latin small letters that look like Cyrillic ones; b, h, m, t do not (b ≈ ь), so they are refused. */
const LATIN_LOWER: Record<string, string> = { a: 'А', e: 'Е', k: 'К', o: 'О', p: 'Р', c: 'С', x: 'Х' };
/** Letters a class may have: Cyrillic capitals but Ъ, Ы, Ь. */
const CLASS_LETTER = /^[А-ЩЭЮЯЁ]$/;

type ClassResult = { value: string } | { problem: 'grade' | 'letter' | 'format' };

function readClassName(s: string): ClassResult {
  const v = cleanText(s)
    .replace(/\s*(?:класс|кл\.?)$/iu, '') // «6 «А» класс», «6А кл.»
    .replace(/["«»“”„']/g, '') // «6 «А»», 6"А"
    .trim();
  if (!v) return { problem: 'format' };
  const lettered = /^(\d{1,2})\s*[-–—.]?\s*(\p{L})$/u.exec(v);
  const numbered = /^(\d{1,2})\s*[-–—/.]\s*(\d{1,2})$/.exec(v);
  const plain = /^(\d{1,2})$/.exec(v);
  const m = lettered ?? numbered ?? plain;
  if (!m) return { problem: 'format' };
  const grade = Number(m[1]);
  if (grade < 1 || grade > 11) return { problem: 'grade' };
  if (lettered) {
    const typed = lettered[2]!;
    const letter = LATIN_UPPER[typed] ?? LATIN_LOWER[typed] ?? typed.toUpperCase();
    return CLASS_LETTER.test(letter) ? { value: `${grade}${letter}` } : { problem: 'letter' };
  }
  if (numbered) {
    const parallel = Number(numbered[2]);
    return parallel >= 1 ? { value: `${grade}-${parallel}` } : { problem: 'format' };
  }
  return { value: String(grade) };
}

/**
 * A class as the school writes it → the stored form, or null if it is not a class.
 *
 * - a grade 1–11 and a Cyrillic letter, upper-cased: «6а», «6 А», «6-а», «6.А», «6 «А» класс» → «6А»;
 * - Latin look-alikes typed by mistake: capitals A B E K M H O P C T X and small a e k o p c x
 *   («6A» → «6А»); other Latin letters («6D», «6b») are refused — they may be a transliteration
 *   («b» = «Б») or the wrong keyboard layout («f» = «А»), and a guess would put a child in the
 *   wrong class. Ъ, Ы, Ь are refused;
 * - a grade alone («11») for schools with one class per grade;
 * - parallels numbered instead of lettered, as some schools do: «5-1», «5/1», «5.1», «5 - 01» → «5-1».
 */
export const normalizeClassName = (s: string): string | null => className.normalize(s);
const className = normalised('className', readClassName);

// ---------------------------------------------------------------------------------------------
// The fields

const READERS = {
  login: readLogin,
  lastName: nameReader('lastName'),
  firstName: nameReader('firstName'),
  middleName: nameReader('middleName'),
  email: readEmailText,
  phone: phone.reader,
  snils: readSnils,
  birthDate: readBirthDate,
  className: className.reader,
} as const;

export type PersonField = keyof typeof READERS;

/** The message when a required field is empty. */
const REQUIRED: Record<PersonField, MessageKey> = {
  login: 'field.login.required',
  lastName: 'field.lastName.required',
  firstName: 'field.firstName.required',
  middleName: 'field.middleName.required',
  email: 'field.email.required',
  phone: 'field.phone.required',
  snils: 'field.snils.required',
  birthDate: 'field.birthDate.required',
  className: 'field.className.required',
};

/** One field's schema; `required`: empty is a problem (its own message, or `required` if a key). */
export function fieldSchema(name: PersonField, required: boolean | MessageKey = false) {
  return field(READERS[name], required === true ? REQUIRED[name] : required || undefined);
}

/** The problems of a failed parse, per field (the first path element names it). */
export function fieldProblems<F extends string>(error: z.ZodError, fallback: F): FieldProblem<F>[] {
  return error.issues.map((i) => {
    const params = (i.code === 'custom' ? i.params : undefined) as { key?: MessageKey; vars?: Record<string, string | number> } | undefined;
    const f = typeof i.path[0] === 'string' ? (i.path[0] as F) : fallback;
    return params?.key ? { field: f, key: params.key, vars: params.vars } : { field: f, key: 'field.invalid' as MessageKey };
  });
}

export type FieldResult<T> = { ok: true; value: T | null } | { ok: false; problem: FieldProblem<PersonField> };

/** One value of a form, a CLI option, a JSON body: the field's value, null when empty, or its problem. */
export function readField<T extends PersonField>(name: T, raw: unknown, required: boolean | MessageKey = false): FieldResult<string> {
  const r = fieldSchema(name, required).safeParse(raw);
  if (r.success && r.data !== INVALID) return { ok: true, value: r.data as string | null };
  const problem = r.success ? undefined : fieldProblems(r.error, name)[0];
  return { ok: false, problem: { ...(problem ?? { key: 'field.invalid' as MessageKey }), field: name } };
}

/**
 * Several fields at once (keys are field names): every problem, in the fields' order, or the
 * values. `required` lists the fields that may not be empty.
 */
export function readFields<K extends PersonField>(
  raw: Partial<Record<K, unknown>>,
  required: readonly K[] = [],
): { ok: true; values: Record<K, string | null> } | { ok: false; problems: FieldProblem<PersonField>[] } {
  const values = {} as Record<K, string | null>;
  const problems: FieldProblem<PersonField>[] = [];
  for (const name of Object.keys(raw) as K[]) {
    const r = readField(name, raw[name], required.includes(name));
    if (r.ok) values[name] = r.value;
    else problems.push(r.problem);
  }
  return problems.length ? { ok: false, problems } : { ok: true, values };
}

/** The one way to read an email address from a form: trimmed, NFC, checked; null when empty. */
export function readEmail(raw: unknown, required: boolean | MessageKey = false): FieldResult<string> {
  return readField('email', raw, required);
}

/** A problem in the person's language. */
export function fieldText(t: Translate, problem: Pick<FieldProblem, 'key' | 'vars'>): string {
  return t(problem.key, problem.vars);
}

/** A problem in both languages: Russian for the person, English for logs, the CLI and APIs. */
export function fieldTexts(problem: Pick<FieldProblem, 'key' | 'vars'>): { message: string; messageEn: string } {
  return { message: fieldText(translator('ru'), problem), messageEn: fieldText(translator('en'), problem) };
}
