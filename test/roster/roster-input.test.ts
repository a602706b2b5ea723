/** The roster's input: one person (form, command line) and a CSV file (all or nothing, errors by line). */
import { describe, it, expect } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { normalizeClassName, normalizePhone, parsePerson, validSnils } from '../../src/roster/person-input.js';
import { parseRosterCsv, MAX_ROWS } from '../../src/roster/csv-import.js';

const ROOT = path.resolve(import.meta.dirname ?? '.', '../..');

describe('one person', () => {
  it('normalises a student and a staff member', () => {
    const s = parsePerson({ kind: 'ученик', lastName: ' Николаева ', firstName: 'Вера', middleName: 'Сергеевна', birthDate: '05.04.2013', className: '6 а', snils: '112-233-445 95', phone: '8 (912) 345-67-89' });
    expect(s).toEqual({ ok: true, value: { kind: 'student', staffRole: null, lastName: 'Николаева', firstName: 'Вера', middleName: 'Сергеевна', birthDate: '2013-04-05', className: '6А', position: null, snils: '11223344595', phone: '+79123456789', externalId: null } });
    const t = parsePerson({ kind: 'администрация', lastName: 'Петров', firstName: 'Олег', position: 'директор' });
    expect(t.ok && t.value).toMatchObject({ kind: 'staff', staffRole: 'administration', className: null, position: 'директор' });
    expect(parsePerson({ kind: 'staff', lastName: 'Иванова', firstName: 'Анна' }).ok && 'teacher').toBe('teacher');
  });

  it('names each problem in Russian and English', () => {
    const r = parsePerson({ kind: 'ученик', lastName: '', firstName: 'Вера1', birthDate: '31.02.2013', className: '13Я', snils: '112-233-445 96', phone: '12345' });
    expect(r.ok).toBe(false);
    const fields = !r.ok ? r.problems.map((p) => p.field).sort() : [];
    expect(fields).toEqual(['birthDate', 'className', 'firstName', 'lastName', 'phone', 'snils']);
    expect(!r.ok && r.problems.find((p) => p.field === 'snils')!.message).toBe('Неверный СНИЛС: не сходится контрольное число.');
    expect(!r.ok && r.problems.find((p) => p.field === 'lastName')!.message).toBe('Укажите фамилию.');
    expect(parsePerson({ kind: 'кот', lastName: 'А', firstName: 'Б' }).ok).toBe(false);
    expect(parsePerson({ kind: 'staff', lastName: 'А', firstName: 'Б', className: '6А' }).ok).toBe(false);
    expect(parsePerson({ kind: 'student', lastName: 'А\u0000', firstName: 'Б', className: '6А' }).ok).toBe(false);
    expect(parsePerson({ kind: 'student', lastName: 'А', firstName: 'Б', className: '6А', birthDate: '2999-01-01' }).ok).toBe(false);
  });

  it('classes, SNILS and phones', () => {
    expect(['6а', '6 А', '10-б', '6A', '11', '5-1', '5/2'].map(normalizeClassName)).toEqual(['6А', '6А', '10Б', '6А', '11', '5-1', '5-2']);
    expect(['0А', '12Б', '6AA', '', 'шестой'].map(normalizeClassName)).toEqual([null, null, null, null, null]);
    expect(validSnils('11223344595')).toBe(true);
    expect(validSnils('11223344596')).toBe(false);
    expect(validSnils('12345678964')).toBe(true); // s = 165 → 64
    expect(validSnils('00000060006')).toBe(true); // ESIA test users: small numbers carry no checksum
    expect(validSnils('1122334459')).toBe(false);
    expect(['+7 (912) 345-67-89', '89123456789', '9123456789', '+7 912 345 67 89'].map(normalizePhone)).toEqual(Array(4).fill('+79123456789'));
    expect(['+44 20 7946 0958', '8 495 123-45-67', '123', 'call me'].map(normalizePhone)).toEqual([null, null, null, null]);
  });
});

describe('a CSV file', () => {
  it('the example file in docs/ parses', () => {
    const r = parseRosterCsv(fs.readFileSync(path.join(ROOT, 'docs/roster-example.csv')));
    expect(r.ok && r.people.length).toBe(5);
  });

  it('reads `;` and `,`, a BOM and quoted cells that span lines, with the right line numbers after them', () => {
    const comma = parseRosterCsv('last_name,first_name,kind,class\r\nОрлов,Дима,student,7Б\r\n');
    expect(comma.ok && comma.people[0]).toMatchObject({ lastName: 'Орлов', className: '7Б' });
    const multi = parseRosterCsv('\ufeffФамилия;Имя;Тип;Класс;Должность\n"Иванова";"Анна";учитель;;"учитель\nматематики"\nПетров;;ученик;6А;\n');
    expect(multi.ok).toBe(false);
    expect(!multi.ok && multi.errors).toEqual([expect.objectContaining({ line: 4, message: 'Строка 4, «Имя»: Укажите имя.' })]);
  });

  it('reports every bad row, and a file with any error imports nobody', () => {
    const r = parseRosterCsv(['Фамилия;Имя;Тип;Класс', 'Николаева;Вера;ученик;6А', ';Ваня;ученик;6А', 'Соколова;Маша;ученик;', 'Николаева;Вера;ученик;6А'].join('\n'));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors.map((e) => e.line)).toEqual([3, 4, 5]);
    expect(!r.ok && r.errors[2]!.message).toContain('тот же человек, что в строке 2');
  });

  it('refuses unknown or missing columns, Windows-1251, empty and oversized files', () => {
    expect(parseRosterCsv('Фамилия;Имя;Тип;Любимый цвет\n')).toMatchObject({ ok: false, errors: [{ message: expect.stringContaining('«Любимый цвет»') }] });
    expect(parseRosterCsv('Фамилия;Класс\nА;6А\n')).toMatchObject({ ok: false, errors: [{ message: expect.stringContaining('«Имя»') }] });
    const cp1251 = Buffer.from([0xd4, 0xe0, 0xec, 0xe8, 0xeb, 0xe8, 0xff, 0x3b, 0xc8, 0xec, 0xff, 0x0a]); // «Фамилия;Имя» in Windows-1251
    expect(parseRosterCsv(cp1251)).toMatchObject({ ok: false, errors: [{ message: expect.stringContaining('CSV UTF-8') }] });
    expect(parseRosterCsv('')).toMatchObject({ ok: false });
    const big = ['Фамилия;Имя;Тип;Класс', ...Array.from({ length: MAX_ROWS + 1 }, (_, i) => `Ученик;Имя${'абвгд'[i % 5]};ученик;${(i % 11) + 1}А`)].join('\n');
    expect(parseRosterCsv(big)).toMatchObject({ ok: false, errors: [{ message: expect.stringContaining(String(MAX_ROWS)) }] });
  });
});
