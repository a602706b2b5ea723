/**
 * One person of a school's roster, read once at the edge — from the command line, a web form or
 * a CSV row, all strings, possibly empty or missing — by one zod schema (`personSchema`).
 *
 * Every value is checked for invisible and control characters, then line breaks, tabs and runs of
 * spaces (also non-breaking ones) become one space and the ends are trimmed; an empty value is
 * "not given". Values are normalised (class «6 а» → «6А», date 05.04.2013 → 2013-04-05, SNILS →
 * 11 digits, phone → +7 and ten digits), and each problem is named per field, in Russian for the
 * person who typed it and in English for logs and the command line.
 *
 * Decisions (see also the functions below):
 * - kind: `student`/`ученик`(`ученица`, `учащийся`, `обучающийся`), `staff`/`сотрудник`
 *   (`сотрудница`); `учитель`/`teacher` (`учительница`, `педагог`) = staff + teacher;
 *   `администрация`/`administration` (`администратор`) = staff + administration. Case and ё/е
 *   do not matter. Staff without a role are teachers. A kind that names a role and a different
 *   staffRole is an error, not a silent choice.
 * - students have a class and neither a staff role nor a position; staff have a role and no class.
 * - names: Cyrillic (any Cyrillic letter: also Ukrainian, Belarusian, Tatar ones) or Latin
 *   letters, spaces, hyphens and apostrophes, starting and ending with a letter, at most 60
 *   characters. Typographic apostrophes (’ ʼ ‘) become «'», dashes (– — ‐) «-», and spaces around
 *   a hyphen go («Петров - Водкин» → «Петров-Водкин»). A word mixing Cyrillic and Latin letters
 *   («Иванoв» with a Latin o) is refused: such a name would never match the same person typed
 *   correctly elsewhere; so are two signs in a row («--»). Letter case is kept as typed.
 * - class: see `normalizeClassName` (6А, 11, and numbered parallels 5-1).
 * - dates: YYYY-MM-DD or ДД.ММ.ГГГГ (a trailing «г.» allowed; a two-digit year gets its own
 *   message), a real calendar date, 1900-01-01 … today (today anywhere on Earth: UTC+14, so
 *   that no time zone of Russia sees today's date refused).
 * - SNILS: see `validSnils`; 10 digits (Excel dropped a leading zero) and 1,1E+10 (Excel made it
 *   a number) get their own messages; 000-000-000 is a placeholder, not a number.
 * - phone: Russian *mobile* numbers only (+7 9XX …), as on the registration page («Мобильный
 *   телефон»); landlines and foreign numbers get their own message.
 * - position: free text ≤ 100; external id: ≤ 64 printable characters (any, after the hygiene
 *   above), compared exactly.
 * - «�» (U+FFFD, left by decoding a file in the wrong encoding) is refused with that advice.
 */
import { z } from 'zod';

export type PersonKind = 'student' | 'staff';
export type StaffRole = 'teacher' | 'administration';

export interface PersonInput {
  kind: PersonKind;
  staffRole: StaffRole | null;
  lastName: string;
  firstName: string;
  middleName: string | null;
  /** YYYY-MM-DD */
  birthDate: string | null;
  className: string | null;
  position: string | null;
  /** 11 digits */
  snils: string | null;
  /** +7 and ten digits, e.g. +79123456789 */
  phone: string | null;
  externalId: string | null;
}

export interface FieldProblem {
  field: keyof PersonInput;
  /** Russian, for a person. */
  message: string;
  messageEn: string;
}

export const PERSON_FIELDS = [
  'kind', 'staffRole', 'lastName', 'firstName', 'middleName', 'birthDate', 'className', 'position', 'snils', 'phone', 'externalId',
] as const satisfies readonly (keyof PersonInput)[];

export const NAME_MAX = 60;
export const POSITION_MAX = 100;
export const EXTERNAL_ID_MAX = 64;
/** Longer raw values are refused before any other work (a form field is not a file). */
const RAW_MAX = 1000;

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

// ---------------------------------------------------------------------------------------------
// Kind and staff role

const KINDS: Record<string, { kind: PersonKind; role: StaffRole | null }> = {};
for (const w of ['student', 'ученик', 'ученица', 'учащийся', 'учащаяся', 'обучающийся', 'обучающаяся']) KINDS[w] = { kind: 'student', role: null };
for (const w of ['staff', 'сотрудник', 'сотрудница']) KINDS[w] = { kind: 'staff', role: null };
for (const w of ['teacher', 'учитель', 'учительница', 'педагог']) KINDS[w] = { kind: 'staff', role: 'teacher' };
for (const w of ['administration', 'администрация', 'администратор']) KINDS[w] = { kind: 'staff', role: 'administration' };

const ROLES: Record<string, StaffRole> = {};
for (const [w, k] of Object.entries(KINDS)) if (k.role) ROLES[w] = k.role;

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
export function normalizeClassName(s: string): string | null {
  const r = readClassName(s);
  return 'value' in r ? r.value : null;
}

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
export function normalizePhone(s: string): string | null {
  const r = readPhone(s);
  return 'value' in r ? r.value : null;
}

// ---------------------------------------------------------------------------------------------
// Dates

/** The latest calendar date anywhere (UTC+14): a birth date after it is in the future for everyone. */
const latestToday = () => new Date(Date.now() + 14 * 3600_000).toISOString().slice(0, 10);

type DateResult = { value: string } | { problem: 'format' | 'short_year' | 'no_such_date' | 'range' };

function readDate(s: string): DateResult {
  const v = s.replace(/\s*г\.?$/u, ''); // «05.04.2013 г.»
  const iso = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(v);
  const ru = /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/.exec(v);
  if (!iso && !ru) return /^\d{1,2}\.\d{1,2}\.\d{2}$/.test(v) ? { problem: 'short_year' } : { problem: 'format' };
  const [y, m, d] = (iso ? [iso[1], iso[2], iso[3]] : [ru![3], ru![2], ru![1]]).map(Number) as [number, number, number];
  const date = new Date(Date.UTC(2000, m - 1, d));
  date.setUTCFullYear(y);
  if (m < 1 || m > 12 || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return { problem: 'no_such_date' };
  const out = `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  if (out < '1900-01-01' || out > latestToday()) return { problem: 'range' };
  return { value: out };
}

// ---------------------------------------------------------------------------------------------
// Names

const NAME_CHARS = /^[\p{Script=Cyrillic}\p{Script=Latin}' -]+$/u;
const LETTER = /[\p{Script=Cyrillic}\p{Script=Latin}]/u;

function cleanName(v: string): string {
  return v
    .replace(/[’ʼ‘]/g, "'")
    .replace(/[‐‑‒–—]/g, '-')
    .replace(/ ?- ?/g, '-');
}

// ---------------------------------------------------------------------------------------------
// The schema

const INVALID: unique symbol = Symbol('invalid');
type Invalid = typeof INVALID;
type Fail = (message: string, messageEn: string) => Invalid;

const quote = (v: string) => (v.length > 30 ? `${v.slice(0, 30)}…` : v);

/**
 * One field: the raw value (string or missing) → its cleaned text → `read` → the value, null when
 * empty, or INVALID after adding the problem to the parse (with the English text in `params.en`).
 */
function field<T>(read: (v: string, fail: Fail) => T | Invalid, required?: [string, string]) {
  return z
    .unknown()
    .optional()
    .transform((input, ctx): T | null | Invalid => {
      const fail: Fail = (message, en) => {
        ctx.addIssue({ code: 'custom', message, params: { en } });
        return INVALID;
      };
      if (input === undefined || input === null) input = '';
      if (typeof input !== 'string') return fail('Недопустимое значение.', 'Invalid value.');
      if (input.length > RAW_MAX) return fail(`Слишком длинное значение (больше ${RAW_MAX} символов).`, `The value is too long (over ${RAW_MAX} characters).`);
      if (input.includes('\uFFFD')) {
        return fail(
          'Знак «�» — след неверной кодировки: сохраните файл как «CSV UTF-8» или наберите значение заново.',
          'The sign “�” is left by a wrong encoding: save the file as “CSV UTF-8” or type the value again.',
        );
      }
      const bad = FORBIDDEN.exec(input);
      if (bad) {
        return fail(
          `Недопустимый невидимый или управляющий символ (${codePoint(bad[0])}): наберите значение заново.`,
          `An invisible or control character (${codePoint(bad[0])}) is not allowed: type the value again.`,
        );
      }
      const v = cleanText(input);
      if (!v) return required ? fail(...required) : null;
      return read(v, fail);
    });
}

const kindField = field((v, fail) => {
  const k = KINDS[fold(v)];
  return k ?? fail(
    `Тип «${quote(v)}» не распознан: укажите «ученик», «сотрудник», «учитель» или «администрация».`,
    `Unknown kind “${quote(v)}”: use student, staff, teacher or administration.`,
  );
}, ['Укажите тип: ученик или сотрудник.', 'Enter the kind: student or staff.']);

const roleField = field<StaffRole>((v, fail) => ROLES[fold(v)] ?? fail(
  `Роль сотрудника «${quote(v)}» не распознана: укажите «учитель» или «администрация».`,
  `Unknown staff role “${quote(v)}”: use teacher or administration.`,
));

function nameField(ru: { acc: string; loc: string; nom: string; must: string }, en: string, required: boolean) {
  return field<string>((raw, fail) => {
    const v = cleanName(raw);
    const bad = [...v].find((c) => !NAME_CHARS.test(c));
    if (bad !== undefined) {
      return fail(
        `В ${ru.loc} допустимы только русские или латинские буквы, пробел, дефис и апостроф; «${bad}» — нет.`,
        `The ${en} may contain only Cyrillic or Latin letters, spaces, hyphens and apostrophes, not “${bad}”.`,
      );
    }
    const twice = /[ '-]{2,}/.exec(v);
    if (twice) return fail(`В ${ru.loc} два знака подряд: «${twice[0]}».`, `The ${en} has two signs in a row: “${twice[0]}”.`);
    if ([...v].length > NAME_MAX) return fail(`${ru.nom} длиннее ${NAME_MAX} символов.`, `The ${en} is longer than ${NAME_MAX} characters.`);
    if (!LETTER.test(v[0]!) || !LETTER.test(v.at(-1)!)) {
      return fail(`${ru.nom} ${ru.must} начинаться и заканчиваться буквой.`, `The ${en} must begin and end with a letter.`);
    }
    const mixed = v.split(/[ '-]/).find((w) => /\p{Script=Cyrillic}/u.test(w) && /\p{Script=Latin}/u.test(w));
    if (mixed) {
      return fail(
        `В ${ru.loc} смешаны русские и латинские буквы («${quote(mixed)}»): наберите на русской раскладке.`,
        `The ${en} mixes Cyrillic and Latin letters (“${quote(mixed)}”): type it in one alphabet.`,
      );
    }
    return v;
  }, required ? [`Укажите ${ru.acc}.`, `Enter the ${en}.`] : undefined);
}

const birthDateField = field<string>((v, fail) => {
  const r = readDate(v);
  if ('value' in r) return r.value;
  switch (r.problem) {
    case 'short_year':
      return fail('Укажите год рождения четырьмя цифрами, например 05.04.2013.', 'Write the year with four digits, such as 05.04.2013.');
    case 'no_such_date':
      return fail(`Такой даты нет: «${quote(v)}».`, `There is no such date: “${quote(v)}”.`);
    case 'range':
      return fail('Дата рождения должна быть между 01.01.1900 и сегодняшним днём.', 'The birth date must be between 1900-01-01 and today.');
    default:
      return fail('Дата рождения — в виде ДД.ММ.ГГГГ или ГГГГ-ММ-ДД, например 05.04.2013.', 'The birth date must be DD.MM.YYYY or YYYY-MM-DD, such as 05.04.2013.');
  }
});

const classField = field<string>((v, fail) => {
  const r = readClassName(v);
  if ('value' in r) return r.value;
  switch (r.problem) {
    case 'grade':
      return fail(`Класс «${quote(v)}»: номер класса — от 1 до 11.`, `Class “${quote(v)}”: the grade must be 1 to 11.`);
    case 'letter':
      return fail(`Класс «${quote(v)}»: буква класса должна быть русской, например 6А.`, `Class “${quote(v)}”: the class letter must be Cyrillic, such as 6А.`);
    default:
      return fail(
        `Класс «${quote(v)}» не распознан: нужен номер 1–11 и буква, например 6А (или 5-1, если параллели нумеруются).`,
        `Class “${quote(v)}” is not a class: a grade 1–11 and a letter, such as 6А (or 5-1 for numbered parallels).`,
      );
  }
});

const positionField = field<string>((v, fail) =>
  [...v].length > POSITION_MAX ? fail(`Должность длиннее ${POSITION_MAX} символов.`, `The position is longer than ${POSITION_MAX} characters.`) : v,
);

const snilsField = field<string>((v, fail) => {
  if (/^\d+(?:[.,]\d+)?E\+?\d+$/i.test(v)) {
    return fail(
      'СНИЛС записан как число в экспоненциальной форме: в Excel сделайте столбец текстовым и введите номер заново.',
      'The SNILS was turned into a number in exponent form: make the column text in Excel and enter it again.',
    );
  }
  const digits = v.replace(/[\s\-–—]/g, '');
  if (/^\d{10}$/.test(digits)) {
    return fail(
      'СНИЛС — 11 цифр, а здесь 10: если номер начинается с нуля, Excel мог его убрать — сделайте столбец текстовым.',
      'A SNILS has 11 digits, this has 10: if it starts with 0, Excel may have dropped it — make the column text.',
    );
  }
  if (!/^\d{11}$/.test(digits)) return fail('СНИЛС — 11 цифр, например 112-233-445 95.', 'A SNILS has 11 digits, such as 112-233-445 95.');
  if (/^0{9}/.test(digits)) return fail('СНИЛС из одних нулей — не номер: оставьте поле пустым.', 'A SNILS of zeros is not a number: leave it empty.');
  if (!validSnils(digits)) return fail('Неверный СНИЛС: не сходится контрольное число.', 'Invalid SNILS: the check number does not match.');
  return digits;
});

const phoneField = field<string>((v, fail) => {
  const r = readPhone(v);
  if ('value' in r) return r.value;
  switch (r.problem) {
    case 'landline':
      return fail('Нужен номер мобильного телефона (+7 9XX …), городской не подходит.', 'A mobile number (+7 9XX …) is needed, not a landline.');
    case 'foreign':
      return fail('Нужен российский номер мобильного телефона (+7 9XX …).', 'A Russian mobile number (+7 9XX …) is needed.');
    case 'exponent':
      return fail(
        'Телефон записан как число в экспоненциальной форме: в Excel сделайте столбец текстовым и введите номер заново.',
        'The phone was turned into a number in exponent form: make the column text in Excel and enter it again.',
      );
    default:
      return fail(
        `Телефон «${quote(v)}» не распознан: нужен мобильный номер, например +7 912 345-67-89.`,
        `The phone “${quote(v)}” is not a number: a mobile number is needed, such as +7 912 345-67-89.`,
      );
  }
});

const externalIdField = field<string>((v, fail) =>
  [...v].length > EXTERNAL_ID_MAX ? fail(`ID длиннее ${EXTERNAL_ID_MAX} символов.`, `The id is longer than ${EXTERNAL_ID_MAX} characters.`) : v,
);

const fieldsSchema = z.object({
  kind: kindField,
  staffRole: roleField,
  lastName: nameField({ acc: 'фамилию', loc: 'фамилии', nom: 'Фамилия', must: 'должна' }, 'last name', true),
  firstName: nameField({ acc: 'имя', loc: 'имени', nom: 'Имя', must: 'должно' }, 'first name', true),
  middleName: nameField({ acc: 'отчество', loc: 'отчестве', nom: 'Отчество', must: 'должно' }, 'middle name', false),
  birthDate: birthDateField,
  className: classField,
  position: positionField,
  snils: snilsField,
  phone: phoneField,
  externalId: externalIdField,
});

type Fields = z.output<typeof fieldsSchema>;
const ok = <T>(v: T | Invalid): v is T => v !== INVALID;

/**
 * The person's rules across fields (kind ↔ role, class, position). Runs also when some fields
 * failed, so that all problems are reported at once; a failed field is simply not looked at.
 */
function crossCheck(v: Fields, ctx: z.RefinementCtx<Fields>): void {
  const fail = (path: keyof PersonInput, message: string, en: string) => ctx.addIssue({ code: 'custom', path: [path], message, params: { en } });
  if (!v.kind || !ok(v.kind)) return; // missing or unknown: reported already; nothing depends on a guess
  if (v.kind.kind === 'student') {
    if (v.staffRole !== null && ok(v.staffRole)) fail('staffRole', 'У ученика нет роли сотрудника: оставьте поле пустым или укажите тип «сотрудник».', 'A student has no staff role: leave it empty or make the kind staff.');
    if (v.className === null) fail('className', 'Укажите класс ученика, например 6А.', 'Enter the student’s class, such as 6А.');
    if (v.position !== null && ok(v.position)) fail('position', 'У ученика нет должности: оставьте поле пустым.', 'A student has no position: leave it empty.');
  } else {
    if (v.className !== null && ok(v.className)) fail('className', 'У сотрудника не указывается класс: оставьте поле пустым.', 'Staff have no class: leave it empty.');
    if (v.kind.role && v.staffRole && ok(v.staffRole) && v.staffRole !== v.kind.role) {
      fail('staffRole', 'Тип и роль сотрудника противоречат друг другу (учитель или администрация?).', 'The kind and the staff role contradict each other (teacher or administration?).');
    }
  }
}

/** Only when every field and the cross-field rules passed. */
function toPersonInput(v: Fields): PersonInput {
  const value = <T>(x: T | null | Invalid): T | null => (x === INVALID ? null : (x as T | null));
  const kind = value(v.kind)!;
  return {
    kind: kind.kind,
    staffRole: kind.kind === 'staff' ? (value(v.staffRole) ?? kind.role ?? 'teacher') : null,
    lastName: value(v.lastName)!,
    firstName: value(v.firstName)!,
    middleName: value(v.middleName),
    birthDate: value(v.birthDate),
    className: value(v.className),
    position: value(v.position),
    snils: value(v.snils),
    phone: value(v.phone),
    externalId: value(v.externalId),
  };
}

/**
 * The schema of one person: raw strings (keys as in PersonInput; missing, undefined or '' = not
 * given; unknown keys ignored) → PersonInput. Issues carry the Russian text as `message` and the
 * English one as `params.en`; use `parsePerson` for a ready list of problems.
 */
export const personSchema = fieldsSchema
  .check(z.superRefine(crossCheck, { when: (payload) => typeof payload.value === 'object' && payload.value !== null }))
  .transform(toPersonInput);

export function parsePerson(raw: Record<string, string | undefined>): { ok: true; value: PersonInput } | { ok: false; problems: FieldProblem[] } {
  const r = personSchema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  const problems = r.error.issues.map((i): FieldProblem => {
    const f = i.path[0];
    const known = typeof f === 'string' && (PERSON_FIELDS as readonly string[]).includes(f);
    const en = i.code === 'custom' ? (i.params as { en?: string } | undefined)?.en : undefined;
    // Anything but our own issues (raw not an object) names the kind, the one field always required.
    return { field: known ? (f as keyof PersonInput) : 'kind', message: en ? i.message : 'Недопустимые данные.', messageEn: en ?? i.message };
  });
  problems.sort((a, b) => PERSON_FIELDS.indexOf(a.field) - PERSON_FIELDS.indexOf(b.field));
  return { ok: false, problems };
}
