/** The roster as a CSV file: all or nothing, every bad row by its physical line and column. */
import { describe, it, expect } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { parseRosterCsv, MAX_BYTES, MAX_ROWS, MAX_REPORTED, type CsvError, type CsvResult } from '../../src/roster/csv-import.js';
import type { PersonInput } from '../../src/roster/person-input.js';

const ROOT = path.resolve(import.meta.dirname ?? '.', '../..');

function people(r: CsvResult): PersonInput[] {
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.errors)}`);
  return r.people;
}
function errors(r: CsvResult): CsvError[] {
  if (r.ok) throw new Error(`expected errors, got ${r.people.length} people`);
  expect(r).not.toHaveProperty('people'); // nothing of a bad file is importable
  return r.errors;
}
const lines = (...rows: string[]) => rows.join('\n') + '\n';

/** Windows-1251, as Russian Excel saves «CSV (разделители — запятые)». */
function cp1251(s: string): Buffer {
  return Buffer.from([...s].map((c) => {
    const u = c.codePointAt(0)!;
    if (u < 0x80) return u;
    if (u >= 0x410 && u <= 0x44f) return u - 0x410 + 0xc0;
    if (c === 'Ё') return 0xa8;
    if (c === 'ё') return 0xb8;
    throw new Error(`no ${c} in cp1251`);
  }));
}

const HEAD = 'Фамилия;Имя;Тип;Класс';

/** 0 → «а», 1 → «б», 30 → «ба»…: distinct Cyrillic names for many rows. */
function cyr(i: number): string {
  const abc = 'абвгдежзиклмнопрстуфхцчшщэюя'; // no ё: «ё» and «е» are the same letter for duplicates
  let s = '';
  do {
    s = abc[i % abc.length]! + s;
    i = Math.floor(i / abc.length);
  } while (i > 0);
  return s;
}

describe('the example file', () => {
  it('docs/roster-example.csv parses: students of 6А and two staff', () => {
    const bytes = fs.readFileSync(path.join(ROOT, 'docs/roster-example.csv'));
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]); // as Excel's «CSV UTF-8» saves it
    expect(bytes.toString('utf8').split('\r\n')[0]).toContain(';');
    const all = people(parseRosterCsv(bytes));
    const students = all.filter((p) => p.kind === 'student');
    expect(students.length).toBeGreaterThanOrEqual(3);
    expect(new Set(students.map((p) => p.className))).toEqual(new Set(['6А']));
    expect(all.filter((p) => p.kind === 'staff').map((p) => p.staffRole).sort()).toEqual(['administration', 'teacher']);
    expect(all.find((p) => p.snils)?.snils).toMatch(/^\d{11}$/);
    expect(all.find((p) => p.phone)?.phone).toBe('+79123456789');
  });
});

describe('reading the file', () => {
  it('`;` (Russian Excel) with CRLF, and a BOM in a Buffer or a string', () => {
    const text = 'Фамилия;Имя;Отчество;Дата рождения;Класс;Тип\r\nОрлов;Дима;Сергеевич;01.09.2012;7б;ученик\r\n';
    const expected = { lastName: 'Орлов', firstName: 'Дима', middleName: 'Сергеевич', birthDate: '2012-09-01', className: '7Б', kind: 'student' };
    expect(people(parseRosterCsv(Buffer.from('\ufeff' + text)))).toEqual([expect.objectContaining(expected)]);
    expect(people(parseRosterCsv('\ufeff' + text))).toEqual([expect.objectContaining(expected)]);
    expect(people(parseRosterCsv(text.replace(/\r\n/g, '\r')))).toEqual([expect.objectContaining(expected)]); // old Mac line ends
  });

  it('`,` with English headers, and quoted cells holding the delimiter and quotes', () => {
    const r = people(parseRosterCsv('last_name,first_name,kind,position,phone\n"Иванова","Анна",teacher,"учитель, ""лучший"" в школе","+7 912 345-67-89"\n'));
    expect(r).toEqual([expect.objectContaining({ lastName: 'Иванова', kind: 'staff', staffRole: 'teacher', position: 'учитель, "лучший" в школе', phone: '+79123456789' })]);
    // `;` inside a comma file's cells does not fool the detection, nor `,` inside quotes of the header.
    expect(people(parseRosterCsv('"Фамилия","Имя","Тип","Должность"\nИванова,Анна,учитель,"учитель; завуч"\n'))[0]!.position).toBe('учитель; завуч');
  });

  it('line ends may be mixed in one file (CRLF, LF, CR)', () => {
    const e = errors(parseRosterCsv(`${HEAD}\r\nОрлов;Дима;ученик;7Б\nПетров;;ученик;7Б\rСидоров;Иван;ученик;7Б\r\nКим;;ученик;7Б\n`));
    expect(e.map((x) => x.line)).toEqual([3, 5]);
  });

  it('tabs instead of `;` or `,` get advice', () => {
    expect(errors(parseRosterCsv('Фамилия\tИмя\tТип\nОрлов\tДима\tученик\n'))[0]!.message).toContain('табуляцией');
  });

  it('an Excel «sep=» line decides the delimiter and is not a header', () => {
    expect(people(parseRosterCsv('sep=,\r\nФамилия,Имя,Тип,Класс\r\nОрлов,Дима,ученик,7Б\r\n'))).toHaveLength(1);
  });

  it('skips blank lines and rows of empty cells, but counts them as lines', () => {
    const r = parseRosterCsv(`\r\n${HEAD}\r\n\r\n;;;\r\nОрлов;Дима;ученик;7Б\r\n   \r\n;;;\r\n;Маша;ученик;7Б\r\n\r\n`);
    expect(errors(r)).toEqual([{ line: 8, message: 'Строка 8, «Фамилия»: укажите фамилию.', messageEn: 'Line 8, Фамилия: enter the last name.' }]);
  });

  it('a quoted cell spanning lines (LF or CRLF inside): rows after it keep their physical line numbers', () => {
    for (const eol of ['\n', '\r\n']) {
      const text = [
        'Фамилия;Имя;Тип;Класс;Должность', // 1
        'Иванова;Анна;учитель;;"учитель математики,', // 2
        'классный руководитель', // 3
        '6А"', // 4
        'Петров;;ученик;6А;', // 5
        '', // 6
        'Сидоров;Иван;ученик;66;', // 7
      ].join(eol) + eol;
      const e = errors(parseRosterCsv(text));
      expect(e.map((x) => x.line)).toEqual([5, 7]);
      expect(e[0]!.message).toBe('Строка 5, «Имя»: укажите имя.');
      expect(e[1]!.message).toMatch(/^Строка 7, «Класс»: класс «66»/);
    }
    // The multi-line row itself is reported by the line it starts on.
    const own = errors(parseRosterCsv('Фамилия;Имя;Тип;Класс;Должность\r\nИванова;Анна;ученик;6А;"очень\r\nдлинная\r\nдолжность"\r\nПетров;;ученик;6А;\r\n'));
    expect(own.map((x) => [x.line, x.message.slice(0, 20)])).toEqual([[2, 'Строка 2, «Должность'], [5, 'Строка 5, «Имя»: ука']]);
    // and the multi-line cell's line breaks become spaces
    expect(people(parseRosterCsv('Фамилия;Имя;Тип;Должность\r\nИванова;Анна;учитель;"учитель\r\nматематики"\r\n'))[0]!.position).toBe('учитель математики');
  });

  it('an unclosed quote is reported at the line where its row starts', () => {
    const e = errors(parseRosterCsv(lines(HEAD, 'Орлов;Дима;ученик;7Б', 'Петров;"Ваня;ученик;7Б', 'Сидоров;Иван;ученик;7Б')));
    expect(e).toEqual([expect.objectContaining({ line: 3, message: 'Строка 3: кавычка открыта, но не закрыта до конца файла.' })]);
  });

  it('a stray quote inside an unquoted cell is kept as a character (and judged by the column’s rules)', () => {
    const e = errors(parseRosterCsv(lines('Фамилия;Имя;Тип;Должность', 'Иванова;Анна;учитель;учитель школы "Ромашка"', 'Петров "мл";Олег;учитель;')));
    expect(e).toEqual([expect.objectContaining({ line: 3, message: expect.stringMatching(/^Строка 3, «Фамилия»: в фамилии допустимы только/) })]);
  });

  it('more cells than header columns is an error; fewer are empty cells', () => {
    const e = errors(parseRosterCsv(lines(HEAD, 'Орлов;Дима;ученик;7Б;лишнее', 'Петров;Ваня;ученик')));
    expect(e.map((x) => [x.line, x.message])).toEqual([
      [2, 'Строка 2: ячеек больше, чем столбцов в заголовке (4) — проверьте разделители и кавычки.'],
      [3, 'Строка 3, «Класс»: укажите класс ученика, например 6А.'],
    ]);
    // trailing empty cells (Excel pads rows) are fine
    expect(people(parseRosterCsv(lines(HEAD, 'Орлов;Дима;ученик;7Б;;;')))).toHaveLength(1);
  });
});

describe('encoding and size', () => {
  it('Windows-1251 (Excel’s plain «CSV») gets one clear error: save it as «CSV UTF-8»', () => {
    const bytes = cp1251(lines(HEAD, 'Семёнов;Артём;ученик;6А'));
    expect(bytes.toString('latin1')).not.toContain('Ð'); // really single-byte Cyrillic
    const e = errors(parseRosterCsv(bytes));
    expect(e).toHaveLength(1);
    expect(e[0]).toMatchObject({ line: 0, message: expect.stringContaining('CSV UTF-8'), messageEn: expect.stringContaining('CSV UTF-8') });
    expect(e[0]!.message).toContain('Windows-1251');
  });

  it('UTF-16 («Юникод-текст») and other binary files are refused as not a text CSV', () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(lines(HEAD, 'Орлов;Дима;ученик;7Б'), 'utf16le')]);
    expect(errors(parseRosterCsv(utf16))).toEqual([expect.objectContaining({ line: 0, message: expect.stringContaining('CSV UTF-8') })]);
    expect(errors(parseRosterCsv(Buffer.from(lines(HEAD, 'Орлов;Ди\u0000ма;ученик;7Б'))))).toEqual([expect.objectContaining({ line: 0, message: expect.stringContaining('не текстовый') })]);
    expect(errors(parseRosterCsv(HEAD + '\nОрлов;Дима\ud800;ученик;7Б\n'))).toHaveLength(1); // a string that is not well-formed Unicode
  });

  it('control characters in a cell are reported by line and column', () => {
    const e = errors(parseRosterCsv(lines(HEAD, 'Орлов;Ди\u0007ма;ученик;7Б', 'Петров;Ваня;уче\u200bник;7Б')));
    expect(e.map((x) => x.message)).toEqual([
      'Строка 2, «Имя»: недопустимый невидимый или управляющий символ (U+0007): наберите значение заново.',
      'Строка 3, «Тип»: недопустимый невидимый или управляющий символ (U+200B): наберите значение заново.',
    ]);
  });

  it('empty files and a header without people', () => {
    for (const empty of ['', '\ufeff', '\r\n\r\n', ' ;; \n']) expect(errors(parseRosterCsv(empty))).toEqual([expect.objectContaining({ line: 0, message: expect.stringContaining('Файл пуст') })]);
    expect(errors(parseRosterCsv(HEAD + '\r\n;;;\r\n'))).toEqual([expect.objectContaining({ line: 1, message: 'В файле только строка заголовков, людей в нём нет.' })]);
  });

  it(`${MAX_ROWS} rows are fine, ${MAX_ROWS + 1} are too many`, () => {
    const row = (i: number) => `Ученик;Имя${cyr(i)};ученик;${(i % 11) + 1}А`;
    const file = (n: number) => lines(HEAD, ...Array.from({ length: n }, (_, i) => row(i)));
    expect(people(parseRosterCsv(file(MAX_ROWS)))).toHaveLength(MAX_ROWS);
    expect(errors(parseRosterCsv(file(MAX_ROWS + 1)))).toEqual([
      { line: 0, message: `В файле больше ${MAX_ROWS} строк с людьми: разделите его на несколько (например, по классам).`, messageEn: `The file has more than ${MAX_ROWS} rows of people: split it (by class, for instance).` },
    ]);
  });

  // How fast a ragged file is refused is the bench's business, not a timed assertion's.
  it('empty rows do not count; a file of ragged rows is refused', () => {
    const padded = lines(HEAD, 'Орлов;Дима;ученик;7Б', ...Array(30_000).fill(';;;'), ...Array(3_000).fill(';'));
    expect(people(parseRosterCsv(padded))).toHaveLength(1);
    const ragged = parseRosterCsv(HEAD + '\n' + ';\n'.repeat(1_000_000));
    expect(errors(ragged)).toEqual([expect.objectContaining({ line: 0, message: expect.stringContaining('ячеек меньше или больше, чем в заголовке') })]);
  });

  it('files over 2 MB are refused', () => {
    expect(MAX_BYTES).toBe(2 * 1024 * 1024);
    const head = lines(HEAD, 'Орлов;Дима;ученик;7Б');
    const padded = (size: number) => Buffer.concat([Buffer.from(head), Buffer.alloc(size - Buffer.byteLength(head), '\n')]);
    expect(people(parseRosterCsv(padded(MAX_BYTES)))).toHaveLength(1);
    expect(errors(parseRosterCsv(padded(MAX_BYTES + 1)))).toEqual([expect.objectContaining({ line: 0, message: expect.stringContaining('больше 2 МБ') })]);
    expect(errors(parseRosterCsv(padded(MAX_BYTES + 1).toString('utf8')))).toEqual([expect.objectContaining({ line: 0 })]);
  });
});

describe('the header row', () => {
  it('Russian or English titles, any case, ё, spaces or underscores, a «*» or a hint in brackets', () => {
    const r = people(parseRosterCsv(lines(
      'ФАМИЛИЯ*;имя;Отчёство;Дата_рождения (ДД.ММ.ГГГГ);КЛАСС;тип;Должность;Снилс;Телефон:;Внешний ID',
      'Орлов;Дима;Сергеевич;01.09.2012;7Б;ученик;;112-233-445 95;89123456789;42',
    )));
    expect(r[0]).toEqual({ kind: 'student', staffRole: null, lastName: 'Орлов', firstName: 'Дима', middleName: 'Сергеевич', birthDate: '2012-09-01', className: '7Б', position: null, snils: '11223344595', phone: '+79123456789', externalId: '42' });
    const en = people(parseRosterCsv('Last Name,FIRST_NAME,middle_name,birth_date,Class,Kind,Position,SNILS,Phone,External_ID,staff_role\nIvanova,Anna,,,,staff,Teacher of English,,,T-1,administration\n'));
    expect(en[0]).toMatchObject({ lastName: 'Ivanova', kind: 'staff', staffRole: 'administration', position: 'Teacher of English', externalId: 'T-1' });
    expect(people(parseRosterCsv('Фамилия;Имя;Роль;ID\nИванова;Анна;администрация;7\n'))[0]).toMatchObject({ kind: 'staff', staffRole: 'administration', externalId: '7' });
  });

  it('«Роль» is the kind, or the staff role when there is a «Тип» column too', () => {
    const r = people(parseRosterCsv(lines('Фамилия;Имя;Тип;Роль;Класс', 'Иванова;Анна;сотрудник;администрация;', 'Петров;Олег;сотрудник;;', 'Орлов;Дима;ученик;;7Б')));
    expect(r.map((p) => [p.kind, p.staffRole])).toEqual([['staff', 'administration'], ['staff', 'teacher'], ['student', null]]);
  });

  it('unknown columns are named (with advice for «ФИО» and row numbers); nothing is read', () => {
    const e = errors(parseRosterCsv(lines('№;Фамилия;Имя;Тип;Любимый цвет;ФИО', '1;Орлов;Дима;ученик;синий;Орлов Дима')));
    expect(e).toHaveLength(1);
    expect(e[0]!.line).toBe(1);
    expect(e[0]!.message).toMatch(/^Строка 1 \(заголовки\): неизвестные столбцы: «№», «Любимый цвет», «ФИО»\./);
    expect(e[0]!.message).toContain('«ФИО» разделите на три столбца');
    expect(e[0]!.message).toContain('Столбец с номерами строк удалите');
    expect(e[0]!.messageEn).toMatch(/^Line 1 \(headers\): unknown columns: “№”, “Любимый цвет”, “ФИО”\./);
  });

  it('a file without a header row says so', () => {
    const e = errors(parseRosterCsv(lines('Орлов;Дима;ученик;7Б', 'Петров;Ваня;ученик;7Б')));
    expect(e[0]!.message).toContain('Первая строка файла должна быть строкой заголовков.');
  });

  it('missing required columns and columns given twice', () => {
    expect(errors(parseRosterCsv(lines('Фамилия;Класс', 'Орлов;7Б')))).toEqual([
      { line: 1, message: 'Строка 1 (заголовки): нет обязательных столбцов: «Имя», «Тип».', messageEn: 'Line 1 (headers): required columns are missing: first name, kind.' },
    ]);
    expect(errors(parseRosterCsv(lines('Фамилия;Имя;Тип;Телефон;Phone', 'Орлов;Дима;ученик;;')))[0]!.message).toBe('Строка 1 (заголовки): столбец «Телефон» указан несколько раз: «Телефон», «Phone».');
  });

  it('a column without a title: ignored when empty, an error when it holds data', () => {
    expect(people(parseRosterCsv(lines('Фамилия;Имя;;Тип;Класс;', 'Орлов;Дима;;ученик;7Б;')))).toHaveLength(1);
    expect(errors(parseRosterCsv(lines('Фамилия;Имя;;Тип;Класс', 'Орлов;Дима;;ученик;7Б', 'Петров;Ваня;да;ученик;7Б')))).toEqual([
      expect.objectContaining({ line: 1, message: 'Строка 1 (заголовки): у столбца C нет заголовка, а в нём есть данные (строка 3).' }),
    ]);
  });
});

describe('rows', () => {
  it('every bad row is reported, by line and by the column as the file names it', () => {
    const r = parseRosterCsv(lines(
      'Фамилия;Имя;Тип;Класс;Дата рождения;СНИЛС;Телефон', // 1
      'Николаева;Вера;ученик;6А;05.04.2013;112-233-445 95;', // 2 fine
      'Николаев;Ваня;ученик;6А;;;8 495 123-45-67', // 3
      'Соколова;Маша;ученик;;31.02.2013;;', // 4: two problems
      'Орлов;Дима;ученик;7Б;;;', // 5 fine
      'Смирнова;Оля;ученик;6А;;11223344596;', // 6
      'Ким;Артём;ученик;6А;;112-233-445 96;', // 7
    ));
    expect(errors(r)).toEqual([
      { line: 3, message: 'Строка 3, «Телефон»: нужен номер мобильного телефона (+7 9XX …), городской не подходит.', messageEn: 'Line 3, Телефон: a mobile number (+7 9XX …) is needed, not a landline.' },
      { line: 4, message: 'Строка 4, «Класс»: укажите класс ученика, например 6А.', messageEn: 'Line 4, Класс: enter the student’s class, such as 6А.' },
      { line: 4, message: 'Строка 4, «Дата рождения»: такой даты нет: «31.02.2013».', messageEn: 'Line 4, Дата рождения: there is no such date: “31.02.2013”.' },
      { line: 6, message: 'Строка 6, «СНИЛС»: неверный СНИЛС: не сходится контрольное число.', messageEn: 'Line 6, СНИЛС: invalid SNILS: the check number does not match.' },
      { line: 7, message: 'Строка 7, «СНИЛС»: неверный СНИЛС: не сходится контрольное число.', messageEn: 'Line 7, СНИЛС: invalid SNILS: the check number does not match.' },
    ]);
  });

  it('messages keep abbreviations capitalised', () => {
    const e = errors(parseRosterCsv(lines('Фамилия;Имя;Тип;Класс;snils;ID', `Орлов;Дима;ученик;7Б;123;${'x'.repeat(65)}`)));
    expect(e.map((x) => x.message)).toEqual([
      'Строка 2, «snils»: СНИЛС — 11 цифр, например 112-233-445 95.',
      'Строка 2, «ID»: ID длиннее 64 символов.',
    ]);
  });

  it(`at most ${MAX_REPORTED} errors are listed, then how many more (Russian plural)`, () => {
    const bad = (n: number) => lines(HEAD, ...Array.from({ length: n }, () => ';Дима;ученик;7Б'));
    const e = errors(parseRosterCsv(bad(60)));
    expect(e).toHaveLength(MAX_REPORTED + 1);
    expect(e[MAX_REPORTED - 1]!.line).toBe(MAX_REPORTED + 1);
    expect(e[MAX_REPORTED]).toEqual({ line: 0, message: '…и ещё 10 ошибок.', messageEn: '…and 10 more errors.' });
    expect(errors(parseRosterCsv(bad(51))).at(-1)).toEqual({ line: 0, message: '…и ещё 1 ошибка.', messageEn: '…and 1 more error.' });
    expect(errors(parseRosterCsv(bad(53))).at(-1)!.message).toBe('…и ещё 3 ошибки.');
    expect(errors(parseRosterCsv(bad(61))).at(-1)!.message).toBe('…и ещё 11 ошибок.');
    expect(errors(parseRosterCsv(bad(50)))).toHaveLength(50);
  });

  it('one bad row among good ones: the result is not ok and carries no people', () => {
    const rows = Array.from({ length: 30 }, (_, i) => `Ученик;Имя${cyr(i)};ученик;6А`);
    rows.splice(17, 0, 'Ученик;Имя;ученик;6Щ6');
    const r = parseRosterCsv(lines(HEAD, ...rows));
    expect(r.ok).toBe(false);
    expect(errors(r).map((e) => e.line)).toEqual([19]);
  });
});

describe('duplicates within the file', () => {
  it('the same external id twice', () => {
    const e = errors(parseRosterCsv(lines('Фамилия;Имя;Тип;Класс;ID', 'Орлов;Дима;ученик;7Б;A-1', 'Петров;Ваня;ученик;7Б;A-2', 'Сидоров;Иван;ученик;7Б;A-1')));
    expect(e).toEqual([{ line: 4, message: 'Строка 4, «ID»: такой же ID «A-1» уже в строке 2.', messageEn: 'Line 4, ID: the same id “A-1” as on line 2.' }]);
  });

  it('the same person twice: kind, names (case and ё aside) and birth date', () => {
    const e = errors(parseRosterCsv(lines(
      'Фамилия;Имя;Отчество;Дата рождения;Тип;Класс',
      'Семёнов;Артём;Ильич;01.02.2013;ученик;6А', // 2
      'Петров;Ваня;;;ученик;6А', // 3
      'СЕМЕНОВ;артем;ильич;2013-02-01;ученик;6Б', // 4: the same as 2
      'Петров;Ваня;;;ученик;6Б', // 5: the same as 3
      'Семёнов;Артём;Ильич;02.02.2013;ученик;6А', // another birth date: another boy
      'Семёнов;Артём;Ильич;01.02.2013;учитель;', // a teacher, not the pupil
    )));
    expect(e).toEqual([
      { line: 4, message: 'Строка 4: СЕМЕНОВ артем ильич уже есть в строке 2.', messageEn: 'Line 4: СЕМЕНОВ артем ильич is on line 2 already.' },
      { line: 5, message: 'Строка 5: Петров Ваня уже есть в строке 3 (если это разные люди, укажите дату рождения или ID).', messageEn: expect.stringContaining('give a birth date or an id') },
    ]);
  });

  it('namesakes with different ids are two people', () => {
    expect(people(parseRosterCsv(lines('Фамилия;Имя;Тип;Класс;ID', 'Петров;Ваня;ученик;6А;1', 'Петров;Ваня;ученик;6А;2')))).toHaveLength(2);
  });

  it('the same SNILS twice', () => {
    const e = errors(parseRosterCsv(lines('Фамилия;Имя;Тип;Класс;СНИЛС', 'Орлов;Дима;ученик;7Б;112-233-445 95', 'Петров;Ваня;ученик;7Б;11223344595')));
    expect(e).toEqual([expect.objectContaining({ line: 3, message: 'Строка 3, «СНИЛС»: такой же СНИЛС 112-233-445 95 уже в строке 2.' })]);
  });
});
