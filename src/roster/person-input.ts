/**
 * One person of a school's roster, read once at the edge: from a form, the command line or a CSV
 * row (all strings, possibly empty). Values are normalised (class «6 а» → «6А», SNILS → 11 digits,
 * phone → +7XXXXXXXXXX) and each problem is named per field, in Russian first.
 */
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
  /** +7XXXXXXXXXX */
  phone: string | null;
  externalId: string | null;
}

export interface FieldProblem {
  field: keyof PersonInput;
  message: string;
  messageEn: string;
}

const KINDS: Record<string, { kind: PersonKind; role: StaffRole | null }> = {
  student: { kind: 'student', role: null },
  ученик: { kind: 'student', role: null },
  ученица: { kind: 'student', role: null },
  staff: { kind: 'staff', role: null },
  сотрудник: { kind: 'staff', role: null },
  teacher: { kind: 'staff', role: 'teacher' },
  учитель: { kind: 'staff', role: 'teacher' },
  administration: { kind: 'staff', role: 'administration' },
  администрация: { kind: 'staff', role: 'administration' },
};
const ROLES: Record<string, StaffRole> = {
  teacher: 'teacher', учитель: 'teacher', administration: 'administration', администрация: 'administration',
};

/** Letters of any alphabet, spaces, hyphens, apostrophes; starting with a letter. */
export const NAME_PATTERN = /^\p{L}[\p{L}\p{M} '’-]{0,59}$/u;
const CONTROL = /[\p{Cc}\p{Cf}\p{Cs}]/u;

const clean = (v: string | undefined) => (v ?? '').normalize('NFC').replace(/\s+/g, ' ').trim();

/** Latin letters that look like Cyrillic ones, typed into a class name by mistake. */
const LATIN_TO_CYRILLIC: Record<string, string> = { A: 'А', B: 'В', E: 'Е', K: 'К', M: 'М', H: 'Н', O: 'О', P: 'Р', C: 'С', T: 'Т', X: 'Х', Y: 'У' };

/**
 * «6а», «6 А», «10-Б», «6A» (Latin) → «6А»; a grade alone («11») stays; grades 1–11. Parallel
 * classes numbered instead of lettered («5-1», «5/2») become «5-1», «5-2».
 */
export function normalizeClassName(s: string): string | null {
  const v = clean(s).toUpperCase();
  const lettered = /^(\d{1,2})\s*[-–\s.]?\s*([А-ЯЁA-Z])$/.exec(v);
  const numbered = /^(\d{1,2})\s*[-–/.]\s*(\d{1,2})$/.exec(v);
  const plain = /^(\d{1,2})$/.exec(v);
  const grade = Number((lettered ?? numbered ?? plain)?.[1]);
  if (!grade || grade < 1 || grade > 11) return null;
  if (lettered) {
    const letter = LATIN_TO_CYRILLIC[lettered[2]!] ?? lettered[2]!;
    return /^[А-ЯЁ]$/.test(letter) ? `${grade}${letter}` : null;
  }
  if (numbered) return `${grade}-${Number(numbered[2])}`;
  return String(grade);
}

/** SNILS checksum (../shared/notes/esia.md §7); numbers up to 001-001-998 carry none. */
export function validSnils(digits: string): boolean {
  if (!/^\d{11}$/.test(digits)) return false;
  const number = digits.slice(0, 9);
  if (Number(number) <= 1001998) return true;
  const sum = [...number].reduce((s, d, i) => s + Number(d) * (9 - i), 0);
  const check = sum < 100 ? sum : sum === 100 || sum === 101 ? 0 : sum % 101 === 100 ? 0 : sum % 101;
  return check === Number(digits.slice(9));
}

/** Russian mobile numbers in the usual spellings → +7XXXXXXXXXX; anything else → null. */
export function normalizePhone(s: string): string | null {
  const v = clean(s);
  if (!/^[+\d\s()\-.]{10,25}$/.test(v)) return null;
  let d = v.replace(/\D/g, '');
  if (d.length === 11 && (d.startsWith('8') || d.startsWith('7'))) d = d.slice(1);
  else if (d.length !== 10) return null;
  if (v.startsWith('+') && !v.startsWith('+7')) return null;
  return /^9\d{9}$/.test(d) ? `+7${d}` : null;
}

function parseDate(v: string): string | null | undefined {
  const iso = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  const ru = /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/.exec(v);
  const [y, m, d] = iso ? [iso[1], iso[2], iso[3]] : ru ? [ru[3], ru[2], ru[1]] : [];
  if (!y) return undefined;
  const date = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
  const out = date.toISOString().slice(0, 10);
  if (date.getUTCDate() !== Number(d) || date.getUTCMonth() !== Number(m) - 1) return undefined;
  if (out < '1900-01-01' || date.getTime() > Date.now()) return null;
  return out;
}

export function parsePerson(raw: Record<string, string | undefined>): { ok: true; value: PersonInput } | { ok: false; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const bad = (field: keyof PersonInput, message: string, messageEn: string) => problems.push({ field, message, messageEn });
  const v = Object.fromEntries(Object.entries(raw).map(([k, x]) => [k, clean(x)])) as Record<string, string>;
  for (const [k, x] of Object.entries(v)) {
    if (CONTROL.test(x)) bad(k as keyof PersonInput, 'Недопустимые символы.', 'Invalid characters.');
  }

  const kindInfo = KINDS[(v.kind ?? '').toLowerCase()];
  if (!v.kind) bad('kind', 'Укажите, ученик это или сотрудник.', 'Say whether this is a student or staff.');
  else if (!kindInfo) bad('kind', 'Тип должен быть «ученик» или «сотрудник» («учитель», «администрация»).', 'The kind must be student or staff (teacher, administration).');
  const kind = kindInfo?.kind ?? 'student';

  let staffRole: StaffRole | null = null;
  if (v.staffRole) {
    staffRole = ROLES[v.staffRole.toLowerCase()] ?? null;
    if (!staffRole) bad('staffRole', 'Роль сотрудника: «учитель» или «администрация».', 'The staff role must be teacher or administration.');
  }
  if (kind === 'staff') staffRole ??= kindInfo?.role ?? 'teacher';
  else if (v.staffRole) bad('staffRole', 'У ученика нет роли сотрудника.', 'A student has no staff role.');

  const name = (field: 'lastName' | 'firstName' | 'middleName', required: boolean, ru: string, en: string): string | null => {
    const x = v[field] ?? '';
    if (!x) {
      if (required) bad(field, `Укажите ${ru}.`, `Enter the ${en}.`);
      return null;
    }
    if (!NAME_PATTERN.test(x)) bad(field, 'Допустимы только буквы, пробел, дефис и апостроф (до 60 символов).', 'Only letters, spaces, hyphens and apostrophes (up to 60 characters).');
    return x;
  };
  const lastName = name('lastName', true, 'фамилию', 'last name');
  const firstName = name('firstName', true, 'имя', 'first name');
  const middleName = name('middleName', false, 'отчество', 'middle name');

  let birthDate: string | null = null;
  if (v.birthDate) {
    const d = parseDate(v.birthDate);
    if (d === undefined) bad('birthDate', 'Дата рождения: ДД.ММ.ГГГГ или ГГГГ-ММ-ДД.', 'The birth date must be DD.MM.YYYY or YYYY-MM-DD.');
    else if (d === null) bad('birthDate', 'Дата рождения вне допустимого диапазона.', 'The birth date is out of range.');
    else birthDate = d;
  }

  let className: string | null = null;
  if (kind === 'student') {
    if (!v.className) bad('className', 'Укажите класс ученика, например 6А.', 'Enter the student’s class, such as 6А.');
    else {
      className = normalizeClassName(v.className);
      if (!className) bad('className', `Класс «${v.className.slice(0, 20)}» не похож на класс вида 6А (1–11 и буква).`, `The class “${v.className.slice(0, 20)}” is not a class such as 6А (1–11 and a letter).`);
    }
  } else if (v.className) bad('className', 'У сотрудника не указывается класс.', 'Staff have no class.');

  const position = v.position ? v.position.slice(0, 100) : null;
  if (v.position && v.position.length > 100) bad('position', 'Должность — не длиннее 100 символов.', 'The position must be at most 100 characters.');

  let snils: string | null = null;
  if (v.snils) {
    const digits = v.snils.replace(/[\s-]/g, '');
    if (!/^\d{11}$/.test(digits)) bad('snils', 'СНИЛС — 11 цифр, например 112-233-445 95.', 'SNILS is 11 digits, such as 112-233-445 95.');
    else if (!validSnils(digits)) bad('snils', 'Неверный СНИЛС: не сходится контрольное число.', 'Invalid SNILS: the check digits do not match.');
    else snils = digits;
  }

  let phone: string | null = null;
  if (v.phone) {
    phone = normalizePhone(v.phone);
    if (!phone) bad('phone', 'Телефон: мобильный номер России, например +7 912 345-67-89.', 'The phone must be a Russian mobile number, such as +7 912 345-67-89.');
  }

  const externalId = v.externalId || null;
  if (externalId && (externalId.length > 64 || !/^[\p{L}\p{N}._:/-]+$/u.test(externalId))) {
    bad('externalId', 'Идентификатор — до 64 букв, цифр и знаков . _ : / -', 'The id must be up to 64 letters, digits and . _ : / -');
  }

  if (problems.length) return { ok: false, problems };
  return {
    ok: true,
    value: { kind, staffRole: kind === 'staff' ? staffRole : null, lastName: lastName!, firstName: firstName!, middleName, birthDate, className, position, snils, phone, externalId },
  };
}
