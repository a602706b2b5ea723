/**
 * A school's roster as a CSV file (what Excel saves as «CSV UTF-8»): a header row in Russian or
 * English, `;` or `,` between cells. Every bad row is reported with its line number and column,
 * and a file with any error yields no people at all — the caller imports all or nothing.
 */
import { parse } from 'csv-parse/sync';
import { parsePerson, type FieldProblem, type PersonInput } from './person-input.js';

export const MAX_ROWS = 5000;
export const MAX_BYTES = 2 * 1024 * 1024;
const MAX_REPORTED = 50;

export interface CsvError {
  /** Physical line of the file (1 = the header). */
  line: number;
  message: string;
  messageEn: string;
}

export type CsvResult = { ok: true; people: PersonInput[] } | { ok: false; errors: CsvError[] };

/** Header names (lower-cased, ё → е) → field. */
const HEADERS: Record<string, keyof PersonInput> = {
  фамилия: 'lastName', last_name: 'lastName', lastname: 'lastName', surname: 'lastName',
  имя: 'firstName', first_name: 'firstName', firstname: 'firstName', name: 'firstName',
  отчество: 'middleName', middle_name: 'middleName', patronymic: 'middleName',
  'дата рождения': 'birthDate', birth_date: 'birthDate', birthdate: 'birthDate',
  класс: 'className', class: 'className',
  тип: 'kind', роль: 'kind', kind: 'kind', type: 'kind',
  'роль сотрудника': 'staffRole', staff_role: 'staffRole',
  должность: 'position', position: 'position',
  снилс: 'snils', snils: 'snils',
  телефон: 'phone', phone: 'phone',
  id: 'externalId', 'внешний id': 'externalId', 'внешний идентификатор': 'externalId', external_id: 'externalId',
};

/** Column titles as people read them in messages. */
const TITLES: Record<keyof PersonInput, [string, string]> = {
  lastName: ['Фамилия', 'last name'], firstName: ['Имя', 'first name'], middleName: ['Отчество', 'middle name'],
  birthDate: ['Дата рождения', 'birth date'], className: ['Класс', 'class'], kind: ['Тип', 'kind'],
  staffRole: ['Роль сотрудника', 'staff role'], position: ['Должность', 'position'], snils: ['СНИЛС', 'SNILS'],
  phone: ['Телефон', 'phone'], externalId: ['ID', 'id'],
};

const fail = (line: number, message: string, messageEn: string): CsvResult => ({ ok: false, errors: [{ line, message, messageEn }] });

export function parseRosterCsv(input: string | Buffer): CsvResult {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (bytes.length > MAX_BYTES) return fail(0, 'Файл больше 2 МБ: разделите его по классам.', 'The file is larger than 2 MB: split it by class.');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail(0, 'Файл не в кодировке UTF-8. В Excel сохраните его как «CSV UTF-8 (разделитель — запятая)».', 'The file is not UTF-8. In Excel save it as “CSV UTF-8 (comma delimited)”.');
  }
  text = text.replace(/^\uFEFF/, '');
  if (text.includes('\u0000')) return fail(0, 'Файл содержит недопустимые символы (это не текстовый CSV).', 'The file contains NUL characters (it is not a text CSV).');
  const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
  const delimiter = (firstLine.match(/;/g)?.length ?? 0) >= (firstLine.match(/,/g)?.length ?? 0) ? ';' : ',';

  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { delimiter, relax_column_count: true, skip_empty_lines: false, info: true, bom: true, trim: false }) as never;
  } catch (err) {
    const e = err as { lines?: number; message: string };
    return fail(e.lines ?? 0, `Файл не читается как CSV (строка ${e.lines ?? '?'}): проверьте кавычки.`, `The file cannot be read as CSV (line ${e.lines ?? '?'}): check the quotes.`);
  }
  const rows = records.filter((r) => r.record.some((c) => c.trim() !== ''));
  if (!rows.length) return fail(1, 'Файл пуст: нужна строка заголовков и строки с людьми.', 'The file is empty: a header row and rows of people are needed.');
  if (rows.length - 1 > MAX_ROWS) return fail(0, `В файле больше ${MAX_ROWS} строк: разделите его по классам.`, `The file has more than ${MAX_ROWS} rows: split it by class.`);

  const header = rows[0]!;
  const fields: (keyof PersonInput)[] = [];
  const unknown: string[] = [];
  for (const cell of header.record) {
    const key = HEADERS[cell.trim().toLowerCase().replace(/ё/g, 'е')];
    if (!key) unknown.push(cell.trim());
    else fields.push(key);
  }
  const line1 = header.info.lines;
  if (unknown.length) {
    return fail(line1, `Неизвестные столбцы: ${unknown.map((u) => `«${u.slice(0, 40)}»`).join(', ')}. Допустимы: Фамилия, Имя, Отчество, Дата рождения, Класс, Тип, Роль сотрудника, Должность, СНИЛС, Телефон, ID.`, `Unknown columns: ${unknown.map((u) => `“${u.slice(0, 40)}”`).join(', ')}.`);
  }
  const missing = (['lastName', 'firstName', 'kind'] as const).filter((f) => !fields.includes(f));
  if (missing.length) {
    return fail(line1, `Нет обязательных столбцов: ${missing.map((f) => `«${TITLES[f][0]}»`).join(', ')}.`, `Required columns are missing: ${missing.map((f) => TITLES[f][1]).join(', ')}.`);
  }
  const dup = fields.find((f, i) => fields.indexOf(f) !== i);
  if (dup) return fail(line1, `Столбец «${TITLES[dup][0]}» указан дважды.`, `The column “${TITLES[dup][1]}” appears twice.`);

  const errors: CsvError[] = [];
  const people: PersonInput[] = [];
  const seenIds = new Map<string, number>();
  const seenPeople = new Map<string, number>();
  for (const row of rows.slice(1)) {
    // csv-parse's `lines` is the line where the record ends; a quoted cell may span several.
    const line = row.info.lines;
    if (row.record.length > fields.length && row.record.slice(fields.length).some((c) => c.trim())) {
      errors.push({ line, message: `Строка ${line}: ячеек больше, чем столбцов.`, messageEn: `Line ${line}: more cells than columns.` });
      continue;
    }
    const raw = Object.fromEntries(fields.map((f, i) => [f, row.record[i] ?? '']));
    const parsed = parsePerson(raw);
    if (!parsed.ok) {
      for (const p of parsed.problems) errors.push(rowError(line, p));
      continue;
    }
    const p = parsed.value;
    if (p.externalId) {
      const before = seenIds.get(p.externalId);
      if (before) errors.push({ line, message: `Строка ${line}, «ID»: такой же ID в строке ${before}.`, messageEn: `Line ${line}, id: the same id as on line ${before}.` });
      seenIds.set(p.externalId, line);
    }
    const identity = [p.kind, p.lastName, p.firstName, p.middleName ?? '', p.birthDate ?? ''].join('|').toLowerCase().replace(/ё/g, 'е');
    const twin = seenPeople.get(identity);
    if (twin) errors.push({ line, message: `Строка ${line}: тот же человек, что в строке ${twin}.`, messageEn: `Line ${line}: the same person as on line ${twin}.` });
    seenPeople.set(identity, line);
    people.push(p);
  }
  if (errors.length) {
    const shown = errors.slice(0, MAX_REPORTED);
    if (errors.length > MAX_REPORTED) {
      const more = errors.length - MAX_REPORTED;
      shown.push({ line: 0, message: `…и ещё ${more} ошибок.`, messageEn: `…and ${more} more errors.` });
    }
    return { ok: false, errors: shown };
  }
  return { ok: true, people };
}

function rowError(line: number, p: FieldProblem): CsvError {
  const [ru, en] = TITLES[p.field];
  return { line, message: `Строка ${line}, «${ru}»: ${p.message}`, messageEn: `Line ${line}, ${en}: ${p.messageEn}` };
}
