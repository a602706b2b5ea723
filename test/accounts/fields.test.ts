/**
 * The person fields' one set of rules (issue 17.5): each field's verdicts, its normalised value,
 * one message per broken field in Russian and English, and the rules that used to differ between
 * doors (the SNILS that dropped every non-digit, the registration's own name rule).
 */
import { describe, it, expect } from '@jest/globals';
import { z } from 'zod';
import { fieldSchema, fieldProblems, fieldTexts, readEmail, readField, readFields, validSnils, type PersonField } from '../../src/accounts/fields.js';
import { translator } from '../../src/i18n/index.js';

const ok = (name: PersonField, raw: unknown) => {
  const r = readField(name, raw);
  if (!r.ok) throw new Error(`${name} ${String(raw)}: ${r.problem.key}`);
  return r.value;
};
const problem = (name: PersonField, raw: unknown, required = false) => {
  const r = readField(name, raw, required);
  if (r.ok) throw new Error(`${name} ${String(raw)} accepted as ${r.value}`);
  return r.problem.key;
};

describe('each field', () => {
  it('login: 3–50 of letters, digits and . _ -, one alphabet, as typed', () => {
    expect(ok('login', '  m.sokolova ')).toBe('m.sokolova');
    expect(ok('login', 'иванов.2012')).toBe('иванов.2012');
    expect(problem('login', 'ab')).toBe('field.login.invalid');
    expect(problem('login', '.dot')).toBe('field.login.invalid');
    expect(problem('login', 'studеnt')).toBe('field.login.mixed_script'); // Cyrillic е
    expect(problem('login', '', true)).toBe('field.login.required');
  });

  it('names: letters of one alphabet per word, spaces, hyphens, apostrophes; typographic signs made plain', () => {
    expect(ok('lastName', 'Петров – Водкин')).toBe('Петров-Водкин');
    expect(ok('lastName', 'O’Connor')).toBe("O'Connor");
    expect(ok('firstName', '  Мария\u00a0 Анна ')).toBe('Мария Анна');
    expect(problem('lastName', 'Петрова<script>')).toBe('field.lastName.chars');
    expect(problem('lastName', 'Иванoв')).toBe('field.lastName.mixed'); // Latin o
    expect(problem('firstName', 'Анна--Мария')).toBe('field.firstName.twice');
    expect(problem('middleName', 'а'.repeat(61))).toBe('field.middleName.too_long');
    expect(problem('lastName', '-Петров')).toBe('field.lastName.ends');
    expect(problem('lastName', 'Пет\u202eров')).toBe('field.control_character');
    expect(problem('lastName', '', true)).toBe('field.lastName.required');
    expect(ok('middleName', '')).toBeNull();
  });

  it('email: one plausible address, as typed (trimmed, NFC)', () => {
    expect(ok('email', ' Anna@Mail.ru ')).toBe('Anna@Mail.ru');
    for (const bad of ['anna@mail', 'a..b@mail.ru', '.a@mail.ru', 'a@b@mail.ru', 'anna mail@mail.ru', 'a<b>@mail.ru', `${'a'.repeat(65)}@mail.ru`, `a@${'b'.repeat(250)}.ru`]) {
      expect([bad, problem('email', bad)]).toEqual([bad, 'field.email.invalid']);
    }
    expect(readEmail('')).toEqual({ ok: true, value: null });
    expect(readEmail('', true)).toMatchObject({ ok: false, problem: { key: 'field.email.required' } });
  });

  it('phone: a Russian mobile number → +7 and ten digits', () => {
    for (const typed of ['+7 (912) 345-67-89', '8 912 345 67 89', '7 912 3456789', '9123456789']) expect(ok('phone', typed)).toBe('+79123456789');
    expect(problem('phone', '8 495 123-45-67')).toBe('field.phone.landline');
    expect(problem('phone', '+44 20 7946 0958')).toBe('field.phone.foreign');
    expect(problem('phone', '7,9123E+10')).toBe('field.phone.exponent');
    expect(problem('phone', '12')).toBe('field.phone.format');
  });

  it('SNILS: 11 digits with the check number; letters, zeros, 10 digits refused', () => {
    expect(ok('snils', '112-233-445 95')).toBe('11223344595');
    expect(ok('snils', '000-000-600 01')).toBe('00000060001'); // ESIA's test users: below the checked range
    expect(problem('snils', '112-233-445 96')).toBe('field.snils.checksum');
    // The rule /account and the console had: every non-digit dropped, zeros accepted.
    expect(validSnils('abc 112-233-445 95'.replace(/\D/g, ''))).toBe(true);
    expect(problem('snils', 'abc 112-233-445 95')).toBe('field.snils.format');
    expect(problem('snils', '000-000-000 00')).toBe('field.snils.zeros');
    expect(problem('snils', '1223344595')).toBe('field.snils.ten_digits');
    expect(problem('snils', '1,12233E+10')).toBe('field.snils.exponent');
  });

  it('birth date: YYYY-MM-DD or ДД.ММ.ГГГГ, a real date, 1900 … today', () => {
    expect(ok('birthDate', '05.03.2012')).toBe('2012-03-05');
    expect(ok('birthDate', '2012-3-5')).toBe('2012-03-05');
    expect(ok('birthDate', '05.03.2012 г.')).toBe('2012-03-05');
    expect(problem('birthDate', '05.03.12')).toBe('field.birthDate.short_year');
    expect(problem('birthDate', '30.02.2012')).toBe('field.birthDate.no_such_date');
    expect(problem('birthDate', '01.01.1899')).toBe('field.birthDate.range');
    expect(problem('birthDate', `01.01.${new Date().getFullYear() + 1}`)).toBe('field.birthDate.range');
    expect(problem('birthDate', 'вчера')).toBe('field.birthDate.format');
  });

  it('class: a grade 1–11 and a Cyrillic letter, a grade alone, a numbered parallel', () => {
    expect(ok('className', '6 «а» класс')).toBe('6А');
    expect(ok('className', '6A')).toBe('6А'); // a Latin look-alike
    expect(ok('className', '5/1')).toBe('5-1');
    expect(problem('className', '12А')).toBe('field.className.grade');
    expect(problem('className', '6D')).toBe('field.className.letter');
    expect(problem('className', 'шестой')).toBe('field.className.format');
  });

  it('anything but a string, a value over 1000 characters, a «�» are refused', () => {
    expect(problem('email', 42)).toBe('field.invalid');
    expect(problem('lastName', 'а'.repeat(1001))).toBe('field.raw_too_long');
    expect(problem('lastName', 'Пет�ров')).toBe('field.bad_encoding');
  });
});

describe('messages', () => {
  it('every problem has its text in Russian and English, with its values filled in', () => {
    expect(fieldTexts({ key: 'field.snils.checksum' })).toEqual({
      message: 'Неверный СНИЛС: не сходится контрольное число.',
      messageEn: 'Invalid SNILS: the check number does not match.',
    });
    const r = readField('phone', '12');
    expect(!r.ok && fieldTexts(r.problem).message).toBe('Телефон «12» не распознан: нужен мобильный номер, например +7 912 345-67-89.');
    const ru = translator('ru');
    const en = translator('en');
    for (const key of ['field.lastName.chars', 'field.className.grade', 'field.login.mixed_script'] as const) {
      expect(ru(key)).not.toBe(key);
      expect(en(key)).not.toBe(ru(key));
    }
  });
});

describe('several fields', () => {
  it('readFields reports every broken field, in order, or gives the normalised values', () => {
    const bad = readFields({ snils: '112-233-445 96', email: 'anna@mail', phone: '8 912 345 67 89' });
    expect(bad).toMatchObject({ ok: false, problems: [{ field: 'snils', key: 'field.snils.checksum' }, { field: 'email', key: 'field.email.invalid' }] });
    expect(readFields({ snils: '', email: 'anna@mail.ru', phone: '8 912 345 67 89' })).toEqual({ ok: true, values: { snils: null, email: 'anna@mail.ru', phone: '+79123456789' } });
    expect(readFields({ email: '' }, ['email'])).toMatchObject({ ok: false, problems: [{ field: 'email', key: 'field.email.required' }] });
  });

  it('fieldSchema in an object schema: every field\'s problem, named by its key', () => {
    const schema = z.object({ login: fieldSchema('login', true), birthDate: fieldSchema('birthDate') });
    const r = schema.safeParse({ login: '', birthDate: '31.04.2012' });
    expect(r.success).toBe(false);
    expect(fieldProblems(r.error!, 'login')).toEqual([
      { field: 'login', key: 'field.login.required', vars: undefined },
      { field: 'birthDate', key: 'field.birthDate.no_such_date', vars: { value: '31.04.2012' } },
    ]);
  });
});
