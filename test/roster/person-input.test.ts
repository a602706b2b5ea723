/** One person of the roster, read once at the edge: every rule of the schema, and the helpers other modules reuse. */
import { describe, it, expect } from '@jest/globals';
import { normalizeClassName, normalizePhone, parsePerson, validSnils, type FieldProblem, type PersonInput } from '../../src/roster/person-input.js';

const STUDENT = { kind: 'ученик', lastName: 'Николаев', firstName: 'Ваня', className: '6А' };
const STAFF = { kind: 'сотрудник', lastName: 'Иванова', firstName: 'Анна' };

function value(raw: Record<string, string | undefined>): PersonInput {
  const r = parsePerson(raw);
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.problems)}`);
  return r.value;
}
function problems(raw: Record<string, string | undefined>): FieldProblem[] {
  const r = parsePerson(raw);
  if (r.ok) throw new Error(`expected problems, got ${JSON.stringify(r.value)}`);
  return r.problems;
}
/** The one problem of a field. */
function problem(raw: Record<string, string | undefined>, field: keyof PersonInput): FieldProblem {
  const of = problems(raw).filter((p) => p.field === field);
  expect(of).toHaveLength(1);
  return of[0]!;
}
const isoDay = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

describe('a person', () => {
  it('normalises a student and a staff member', () => {
    expect(parsePerson({ kind: 'ученик', lastName: ' Николаева ', firstName: 'Вера', middleName: 'Сергеевна', birthDate: '05.04.2013', className: '6 а', snils: '112-233-445 95', phone: '8 (912) 345-67-89', externalId: ' 2019-014 ' })).toEqual({
      ok: true,
      value: { kind: 'student', staffRole: null, lastName: 'Николаева', firstName: 'Вера', middleName: 'Сергеевна', birthDate: '2013-04-05', className: '6А', position: null, snils: '11223344595', phone: '+79123456789', externalId: '2019-014' },
    });
    expect(value({ kind: 'администрация', lastName: 'Петров', firstName: 'Олег', position: 'директор' })).toEqual({
      kind: 'staff', staffRole: 'administration', lastName: 'Петров', firstName: 'Олег', middleName: null, birthDate: null, className: null, position: 'директор', snils: null, phone: null, externalId: null,
    });
  });

  it('trims and collapses whitespace (also non-breaking spaces, tabs and line breaks); empty means not given', () => {
    const p = value({ ...STAFF, lastName: '\u00a0Римский -  Корсаков ', firstName: 'Анна\tМария', middleName: '   ', position: ' учитель\r\n  математики ', externalId: '' });
    expect(p).toMatchObject({ lastName: 'Римский-Корсаков', firstName: 'Анна Мария', middleName: null, position: 'учитель математики', externalId: null });
    expect(value({ ...STUDENT, birthDate: '', snils: ' ', phone: undefined })).toMatchObject({ birthDate: null, snils: null, phone: null });
  });

  it('ignores unknown keys and does not throw on values that are not strings', () => {
    expect(value({ ...STUDENT, favouriteColour: 'синий' })).not.toHaveProperty('favouriteColour');
    const weird = { ...STUDENT, lastName: ['Николаев', 'Петров'], snils: 112 } as unknown as Record<string, string>;
    expect(problems(weird).map((p) => p.field)).toEqual(['lastName', 'snils']);
    expect(parsePerson(null as unknown as Record<string, string>)).toMatchObject({ ok: false, problems: [{ field: 'kind' }] });
  });

  it('reports every problem at once, in field order, in Russian and English', () => {
    const r = problems({ kind: 'ученик', lastName: '', firstName: 'Вера1', birthDate: '31.02.2013', snils: '112-233-445 96', phone: '12345', position: 'староста' });
    expect(r.map((p) => p.field)).toEqual(['lastName', 'firstName', 'birthDate', 'className', 'position', 'snils', 'phone']);
    for (const p of r) {
      expect(p.message).toMatch(/[А-Яа-яЁё]/);
      expect(p.messageEn).toMatch(/^[\x20-\x7e«»“”’…–—А-Яа-яЁё]+$/);
      expect(p.messageEn).toMatch(/[a-z]{3}/);
    }
    expect(r.find((p) => p.field === 'lastName')!.message).toBe('Укажите фамилию.');
    expect(r.find((p) => p.field === 'snils')!.message).toBe('Неверный СНИЛС: не сходится контрольное число.');
  });
});

describe('kind and staff role', () => {
  it.each([
    ['student', 'student', null], ['ученик', 'student', null], ['Ученица', 'student', null], ['УЧЕНИК', 'student', null], ['обучающийся', 'student', null],
    ['staff', 'staff', 'teacher'], ['сотрудник', 'staff', 'teacher'], ['Сотрудница', 'staff', 'teacher'],
    ['учитель', 'staff', 'teacher'], ['teacher', 'staff', 'teacher'], ['педагог', 'staff', 'teacher'],
    ['администрация', 'staff', 'administration'], ['Administration', 'staff', 'administration'],
  ])('kind «%s» → %s, role %s', (kind, expected, role) => {
    const p = value({ kind, lastName: 'Иванова', firstName: 'Анна', className: expected === 'student' ? '6А' : undefined });
    expect([p.kind, p.staffRole]).toEqual([expected, role]);
  });

  it('the kind is required and must be known', () => {
    expect(problem({ lastName: 'А', firstName: 'Б' }, 'kind').message).toBe('Укажите тип: ученик или сотрудник.');
    expect(problem({ kind: 'кот', lastName: 'А', firstName: 'Б' }, 'kind').message).toContain('«кот» не распознан');
    // Nothing is guessed from an unknown kind: no «class required» on top of it.
    expect(problems({ kind: 'кот', lastName: 'А', firstName: 'Б' }).map((p) => p.field)).toEqual(['kind']);
  });

  it('staff: the role given, or teacher; a role contradicting the kind is refused', () => {
    expect(value({ ...STAFF, staffRole: 'администрация' }).staffRole).toBe('administration');
    expect(value({ ...STAFF, staffRole: 'Teacher' }).staffRole).toBe('teacher');
    expect(value({ ...STAFF, kind: 'администрация', staffRole: 'администрация' }).staffRole).toBe('administration');
    expect(problem({ ...STAFF, staffRole: 'завхоз' }, 'staffRole').message).toContain('«завхоз» не распознана');
    expect(problem({ ...STAFF, kind: 'учитель', staffRole: 'администрация' }, 'staffRole').message).toContain('противоречат');
  });

  it('students have a class and neither a staff role nor a position; staff have no class', () => {
    expect(problem({ ...STUDENT, className: '' }, 'className').message).toBe('Укажите класс ученика, например 6А.');
    expect(problem({ ...STUDENT, staffRole: 'учитель' }, 'staffRole').message).toContain('У ученика нет роли сотрудника');
    expect(problem({ ...STUDENT, position: 'староста' }, 'position').message).toContain('У ученика нет должности');
    expect(problem({ ...STAFF, className: '6А' }, 'className').message).toContain('У сотрудника не указывается класс');
  });
});

describe('names', () => {
  it('last and first names are required; the middle name is not', () => {
    expect(problem({ ...STUDENT, lastName: undefined }, 'lastName').message).toBe('Укажите фамилию.');
    expect(problem({ ...STUDENT, firstName: '  ' }, 'firstName').message).toBe('Укажите имя.');
    expect(value({ ...STUDENT, middleName: '' }).middleName).toBeNull();
  });

  it('Cyrillic (with Ё) or Latin letters, spaces, hyphens and apostrophes', () => {
    const p = value({ ...STUDENT, lastName: 'Семёнова-Тян-Шанская', firstName: 'Артём', middleName: 'Ёсифовна' });
    expect([p.lastName, p.firstName, p.middleName]).toEqual(['Семёнова-Тян-Шанская', 'Артём', 'Ёсифовна']);
    expect(value({ ...STUDENT, lastName: "O'Brien", firstName: 'Mary Ann' })).toMatchObject({ lastName: "O'Brien", firstName: 'Mary Ann' });
    expect(value({ ...STUDENT, lastName: 'д’Артаньян', firstName: 'Анна—Мария' })).toMatchObject({ lastName: "д'Артаньян", firstName: 'Анна-Мария' });
    expect(value({ ...STUDENT, lastName: 'Ю' }).lastName).toBe('Ю');
  });

  it('1–60 characters', () => {
    expect(value({ ...STUDENT, lastName: 'Я'.repeat(60) }).lastName).toHaveLength(60);
    expect(problem({ ...STUDENT, lastName: 'Я'.repeat(61) }, 'lastName').message).toBe('Фамилия длиннее 60 символов.');
  });

  it.each([
    ['Иванов1', '«1»'], ['Иванов.', '«.»'], ['Иванов_', '«_»'], ['<script>', '«<»'], ['Ivanov@', '«@»'], ['王', '«王»'],
  ])('refuses «%s»', (lastName, shown) => {
    expect(problem({ ...STUDENT, lastName }, 'lastName').message).toContain(shown);
  });

  it('refuses two signs in a row', () => {
    expect(problem({ ...STUDENT, lastName: 'Иванова--Петрова' }, 'lastName').message).toBe('В фамилии два знака подряд: «--».');
    expect(problem({ ...STUDENT, firstName: "Анна' Мария" }, 'firstName').message).toBe("В имени два знака подряд: «' ».");
  });

  it('refuses a name that does not begin and end with a letter, and a word mixing Cyrillic and Latin letters', () => {
    expect(problem({ ...STUDENT, firstName: '-Анна' }, 'firstName').message).toBe('Имя должно начинаться и заканчиваться буквой.');
    expect(problem({ ...STUDENT, lastName: "Иванов'" }, 'lastName').message).toBe('Фамилия должна начинаться и заканчиваться буквой.');
    // «Иванoв» with a Latin «o»: looks right, never matches «Иванов».
    expect(problem({ ...STUDENT, lastName: 'Иванoв' }, 'lastName').message).toContain('смешаны русские и латинские буквы');
    expect(value({ ...STUDENT, firstName: 'Анна Mary' }).firstName).toBe('Анна Mary');
  });
});

describe('class', () => {
  it.each([
    ['6А', '6А'], ['6а', '6А'], ['6 А', '6А'], ['6 а', '6А'], ['10-Б', '10Б'], ['10-б', '10Б'], ['10 - б', '10Б'], ['11.В', '11В'],
    ['6 «А» класс', '6А'], ['6"А"', '6А'], ['6А кл.', '6А'], ['1Ё', '1Ё'], ['06А', '6А'],
    ['11', '11'], ['1', '1'],
    ['5-1', '5-1'], ['5/2', '5-2'], ['5.3', '5-3'], ['5 - 01', '5-1'], ['10-12', '10-12'],
  ])('«%s» → «%s»', (typed, stored) => {
    expect(normalizeClassName(typed)).toBe(stored);
    expect(value({ ...STUDENT, className: typed }).className).toBe(stored);
  });

  it('Latin look-alikes typed by mistake become Cyrillic', () => {
    const capitals = 'ABEKMHOPCTX';
    expect([...capitals].map((c) => normalizeClassName(`7${c}`))).toEqual([...'АВЕКМНОРСТХ'].map((c) => `7${c}`));
    expect([...'aekopcx'].map((c) => normalizeClassName(`7${c}`))).toEqual([...'АЕКОРСХ'].map((c) => `7${c}`));
    expect(normalizeClassName('7B')).toBe('7В'); // a capital B looks like В…
    expect(normalizeClassName('7b')).toBeNull(); // …a small b does not (it may be a transliterated «Б»)
  });

  it.each(['0А', '12Б', '13', '6AA', '6DD', '', 'шестой', '6D', '6F', '6Y', '6h', '6Ъ', '6Ы', '6Ь', '5-0', 'А6', '6А1'])('refuses «%s»', (typed) => {
    expect(normalizeClassName(typed)).toBeNull();
  });

  it('says what is wrong with a class', () => {
    expect(problem({ ...STUDENT, className: '12Б' }, 'className').message).toBe('Класс «12Б»: номер класса — от 1 до 11.');
    expect(problem({ ...STUDENT, className: '6D' }, 'className').message).toBe('Класс «6D»: буква класса должна быть русской, например 6А.');
    expect(problem({ ...STUDENT, className: 'шестой' }, 'className').message).toContain('не распознан');
  });
});

describe('birth date', () => {
  it.each([
    ['2013-04-05', '2013-04-05'], ['05.04.2013', '2013-04-05'], ['5.4.2013', '2013-04-05'], ['29.02.2012', '2012-02-29'],
    ['1900-01-01', '1900-01-01'], ['31.12.1999', '1999-12-31'], ['05.04.2013 г.', '2013-04-05'], ['05.04.2013г', '2013-04-05'],
  ])('«%s» → %s', (typed, stored) => {
    expect(value({ ...STUDENT, birthDate: typed }).birthDate).toBe(stored);
  });

  it('today is a possible birth date, a day after tomorrow is not', () => {
    expect(value({ ...STUDENT, birthDate: isoDay(0) }).birthDate).toBe(isoDay(0));
    expect(problem({ ...STUDENT, birthDate: isoDay(2) }, 'birthDate').message).toBe('Дата рождения должна быть между 01.01.1900 и сегодняшним днём.');
  });

  it('refuses impossible, out-of-range and unreadable dates', () => {
    expect(problem({ ...STUDENT, birthDate: '31.02.2013' }, 'birthDate').message).toBe('Такой даты нет: «31.02.2013».');
    for (const d of ['29.02.2013', '2013-04-31', '2013-13-01', '00.01.2013', '2013-00-10']) expect(problem({ ...STUDENT, birthDate: d }, 'birthDate').message).toContain('Такой даты нет');
    expect(problem({ ...STUDENT, birthDate: '31.12.1899' }, 'birthDate').message).toContain('между 01.01.1900');
    expect(problem({ ...STUDENT, birthDate: '2999-01-01' }, 'birthDate').message).toContain('между 01.01.1900');
    expect(problem({ ...STUDENT, birthDate: '05.04.13' }, 'birthDate').message).toBe('Укажите год рождения четырьмя цифрами, например 05.04.2013.');
    for (const d of ['5 апреля 2013', '04/05/2013', '2013.04.05', '20130405', '2013-04-05T00:00']) {
      expect(problem({ ...STUDENT, birthDate: d }, 'birthDate').message).toBe('Дата рождения — в виде ДД.ММ.ГГГГ или ГГГГ-ММ-ДД, например 05.04.2013.');
    }
  });
});

describe('SNILS (../shared/notes/esia.md §7)', () => {
  it('the examples of the note', () => {
    expect(validSnils('11223344595')).toBe(true); // 112-233-445: s = 95
    expect(validSnils('11223344596')).toBe(false);
    expect(validSnils('12345678964')).toBe(true); // s = 165 → 165 mod 101 = 64
    expect(validSnils('12345678965')).toBe(false);
  });

  it('a sum of 100 or 101 (or a remainder of 100) gives 00; other sums their remainder', () => {
    expect(validSnils('00101998900')).toBe(true); // s = 100
    expect(validSnils('00101998999')).toBe(false);
    expect(validSnils('00101999800')).toBe(true); // s = 101
    expect(validSnils('00101999901')).toBe(true); // s = 102 → 01
    expect(validSnils('00299998900')).toBe(true); // s = 201 → 201 mod 101 = 100 → 00
    expect(validSnils('00299999800')).toBe(true); // s = 202 → 0
    expect(validSnils('07989999900')).toBe(true); // s = 302 → 100 → 00
    expect(validSnils('00101989999')).toBe(true); // s = 99 → 99
  });

  it('numbers up to 001-001-998 carry no check number (ESIA test users: 000-000-600 0N)', () => {
    for (const n of ['00000060001', '00000060006', '00000060099', '00100199800', '00100199877']) expect(validSnils(n)).toBe(true);
    expect(validSnils('00100199965')).toBe(true); // 001-001-999: s = 65, checked from here on
    expect(validSnils('00100199900')).toBe(false);
  });

  it('only 11 digits', () => {
    for (const n of ['1122334459', '112233445950', '112-233-445 95', '1122334459a', '']) expect(validSnils(n)).toBe(false);
  });

  it('accepts the usual spellings and stores 11 digits', () => {
    for (const s of ['112-233-445 95', '11223344595', '112 233 445 95', '112-233-445-95', ' 112233445 95 ']) {
      expect(value({ ...STUDENT, snils: s }).snils).toBe('11223344595');
    }
    expect(value({ ...STUDENT, snils: '000-000-600 06' }).snils).toBe('00000060006');
  });

  it('says what is wrong', () => {
    expect(problem({ ...STUDENT, snils: '112-233-445 96' }, 'snils').message).toBe('Неверный СНИЛС: не сходится контрольное число.');
    expect(problem({ ...STUDENT, snils: '112-233-445' }, 'snils').message).toBe('СНИЛС — 11 цифр, например 112-233-445 95.');
    expect(problem({ ...STUDENT, snils: 'СНИЛС 11223344595' }, 'snils').message).toBe('СНИЛС — 11 цифр, например 112-233-445 95.');
    expect(problem({ ...STUDENT, snils: '1223344595' }, 'snils').message).toContain('Excel мог его убрать');
    expect(problem({ ...STUDENT, snils: '1,12233E+10' }, 'snils').message).toContain('экспоненциальной');
    expect(problem({ ...STUDENT, snils: '000-000-000 00' }, 'snils').message).toContain('из одних нулей');
  });
});

describe('phone', () => {
  it.each(['+7 (912) 345-67-89', '+7(912)3456789', '+79123456789', '8 912 345 67 89', '89123456789', '8-912-345-67-89', '7 912 345 67 89', '9123456789', '912 345-67-89', '+7 912 345 67 89'])(
    '«%s» → +79123456789',
    (typed) => {
      expect(normalizePhone(typed)).toBe('+79123456789');
      expect(value({ ...STUDENT, phone: typed }).phone).toBe('+79123456789');
    },
  );

  it.each(['+44 20 7946 0958', '+8 912 345-67-89', '+7 701 123 45 67', '8 495 123-45-67', '4951234567', '+7 912 345-67-89 доб. 12', '912-345-67', '123', 'call me', '+7 912 345 67 890', '79123456789a'])(
    'refuses «%s»',
    (typed) => expect(normalizePhone(typed)).toBeNull(),
  );

  it('says what is wrong', () => {
    expect(problem({ ...STUDENT, phone: '8 495 123-45-67' }, 'phone').message).toBe('Нужен номер мобильного телефона (+7 9XX …), городской не подходит.');
    expect(problem({ ...STUDENT, phone: '+44 20 7946 0958' }, 'phone').message).toBe('Нужен российский номер мобильного телефона (+7 9XX …).');
    expect(problem({ ...STUDENT, phone: '+7 701 123 45 67' }, 'phone').message).toBe('Нужен российский номер мобильного телефона (+7 9XX …).');
    expect(problem({ ...STUDENT, phone: '12345' }, 'phone').message).toBe('Телефон «12345» не распознан: нужен мобильный номер, например +7 912 345-67-89.');
    expect(problem({ ...STUDENT, phone: '9,12346E+09' }, 'phone').message).toContain('экспоненциальной');
  });
});

describe('position and external id', () => {
  it('position: free text up to 100 characters', () => {
    expect(value({ ...STAFF, position: 'Учитель русского языка и литературы, классный руководитель 6А' }).position).toBe('Учитель русского языка и литературы, классный руководитель 6А');
    expect(value({ ...STAFF, position: 'ж'.repeat(100) }).position).toHaveLength(100);
    expect(problem({ ...STAFF, position: 'ж'.repeat(101) }, 'position').message).toBe('Должность длиннее 100 символов.');
  });

  it('external id: up to 64 printable characters', () => {
    expect(value({ ...STUDENT, externalId: 'x'.repeat(64) }).externalId).toHaveLength(64);
    expect(value({ ...STUDENT, externalId: 'Уч №12/2019 (А)' }).externalId).toBe('Уч №12/2019 (А)');
    expect(problem({ ...STUDENT, externalId: 'x'.repeat(65) }, 'externalId').message).toBe('ID длиннее 64 символов.');
  });
});

describe('NUL, control and invisible characters are refused everywhere', () => {
  const fields: [keyof PersonInput, Record<string, string>][] = [
    ['kind', STUDENT], ['staffRole', STAFF], ['lastName', STUDENT], ['firstName', STUDENT], ['middleName', STUDENT], ['birthDate', STUDENT],
    ['className', STUDENT], ['position', STAFF], ['snils', STUDENT], ['phone', STUDENT], ['externalId', STUDENT],
  ];
  const good: Record<keyof PersonInput, string> = {
    kind: 'ученик', staffRole: 'учитель', lastName: 'Николаев', firstName: 'Ваня', middleName: 'Петрович', birthDate: '05.04.2013',
    className: '6А', position: 'учитель', snils: '11223344595', phone: '89123456789', externalId: 'A1',
  };

  it.each(fields)('%s', (field, base) => {
    for (const [c, code] of [['\u0000', 'U+0000'], ['\u0007', 'U+0007'], ['\u001b', 'U+001B'], ['\u007f', 'U+007F'], ['\u200b', 'U+200B'], ['\u202e', 'U+202E'], ['\ufeff', 'U+FEFF']]) {
      const v = good[field];
      const p = problem({ ...base, [field]: v.slice(0, 1) + c + v.slice(1) }, field);
      expect(p.message).toContain(`(${code})`);
      expect(p.messageEn).toContain(code);
    }
  });

  it('«�», the trace of a wrong encoding, is refused with advice', () => {
    expect(problem({ ...STAFF, position: 'учитель ����' }, 'position').message).toContain('CSV UTF-8');
  });

  it('a very long value is refused before anything else', () => {
    expect(problem({ ...STAFF, position: 'а'.repeat(5000) }, 'position').message).toContain('Слишком длинное');
  });
});
