/**
 * A school's roster as a CSV file (what Excel saves as «CSV UTF-8»): a header row in Russian or
 * English, `;` (Russian Excel) or `,` between cells, quoted cells that may span lines, CRLF or LF.
 * Each row goes through the one person schema (person-input.ts). Every bad row is reported with
 * its line and column, and a file with any error yields no people at all: the caller imports all
 * or nothing.
 *
 * - Line numbers are the file's physical lines (1 = the first line, BOM or not); a row whose
 *   quoted cell spans lines is reported by the line it starts on. Line 0 means the file as a whole
 *   (size, encoding, too many rows, «…и ещё N ошибок»).
 * - The delimiter is the one of `;` and `,` that occurs more often in the header line outside
 *   quotes (`;` on a tie); an Excel «sep=;» first line is honoured and skipped.
 * - Headers: case, ё/е, spaces/underscores/hyphens, a trailing «*» or «:» and a «(…)» hint do not
 *   matter. Required columns: Фамилия, Имя, Тип. «Роль» is the kind («учитель», «администрация»)
 *   unless the file also has a «Тип» column; then it is the staff role. A column with an empty
 *   header is ignored when all its cells are empty.
 * - Blank lines and rows of empty cells (Excel's «;;;;») are skipped.
 * - Within the file: the same ID twice, the same SNILS twice, and the same person twice (kind and
 *   full name, case and ё/е aside, and birth date — as the import matches people) are errors; two
 *   namesakes with different IDs are two people.
 */
import { parse } from 'csv-parse/sync';
import { parsePerson, fold, formatSnils, type FieldProblem, type PersonInput } from './person-input.js';

export const MAX_ROWS = 5000;
export const MAX_BYTES = 2 * 1024 * 1024;
/** Rows whose number of cells differs from the header's (each costs csv-parse an Error). */
const MAX_RAGGED = 4 * MAX_ROWS;
/** Errors listed; the rest are counted in one last line. */
export const MAX_REPORTED = 50;

export interface CsvError {
  /** Physical line of the file (1 = the first); 0: the file as a whole. */
  line: number;
  message: string;
  messageEn: string;
}

export type CsvResult = { ok: true; people: PersonInput[] } | { ok: false; errors: CsvError[] };

/** Header titles, folded by `headerKey`, → field. */
const HEADERS: Record<string, keyof PersonInput> = {};
const header = (field: keyof PersonInput, ...titles: string[]) => titles.forEach((t) => (HEADERS[headerKey(t)] = field));
header('lastName', 'Фамилия', 'last_name', 'lastname', 'surname', 'family name');
header('firstName', 'Имя', 'first_name', 'firstname', 'given name');
header('middleName', 'Отчество', 'middle_name', 'middlename', 'patronymic');
header('birthDate', 'Дата рождения', 'birth_date', 'birthdate', 'date of birth');
header('className', 'Класс', 'class', 'class_name');
header('kind', 'Тип', 'kind', 'type', 'Роль', 'role');
header('staffRole', 'Роль сотрудника', 'staff_role');
header('position', 'Должность', 'position', 'job title');
header('snils', 'СНИЛС', 'snils');
header('phone', 'Телефон', 'phone', 'Мобильный телефон', 'mobile', 'phone number');
header('externalId', 'ID', 'Внешний ID', 'Внешний идентификатор', 'Идентификатор', 'external_id', 'externalid');
const ROLE_HEADERS = new Set([headerKey('Роль'), headerKey('role')]);

function headerKey(title: string): string {
  return fold(title.normalize('NFC'))
    .replace(/\(.*?\)/g, ' ')
    .replace(/[*:.]+\s*$/, '')
    .replace(/[\s_-]+/g, ' ')
    .trim();
}

/** Column titles for messages when the file has no such column. */
const TITLES: Record<keyof PersonInput, [string, string]> = {
  lastName: ['Фамилия', 'last name'], firstName: ['Имя', 'first name'], middleName: ['Отчество', 'middle name'],
  birthDate: ['Дата рождения', 'birth date'], className: ['Класс', 'class'], kind: ['Тип', 'kind'],
  staffRole: ['Роль сотрудника', 'staff role'], position: ['Должность', 'position'], snils: ['СНИЛС', 'SNILS'],
  phone: ['Телефон', 'phone'], externalId: ['ID', 'ID'],
};
const REQUIRED = ['lastName', 'firstName', 'kind'] as const;

const fileError = (line: number, message: string, messageEn: string): CsvResult => ({ ok: false, errors: [{ line, message, messageEn }] });

/** «Укажите имя.» → «укажите имя.», but «СНИЛС …», «ID …» stay: the message goes on after «Строка 7, «X»: ». */
function continueSentence(s: string): string {
  const word = /^\p{L}+/u.exec(s)?.[0] ?? '';
  return word.length >= 2 && word === word.toUpperCase() ? s : s.charAt(0).toLowerCase() + s.slice(1);
}

/** Excel's column letters: 1 → A, 27 → AA. */
function columnLetter(n: number): string {
  let s = '';
  for (; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

/** Russian plural: 1 ошибка, 2 ошибки, 5 ошибок. */
function errorsRu(n: number): string {
  const d = n % 10;
  const dd = n % 100;
  if (d === 1 && dd !== 11) return `${n} ошибка`;
  if (d >= 2 && d <= 4 && (dd < 12 || dd > 14)) return `${n} ошибки`;
  return `${n} ошибок`;
}

/** Offsets where each physical line starts (a line ends with CRLF, LF or a lone CR). */
function lineStarts(buf: Buffer): number[] {
  const starts = [0];
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0x0d) {
      if (buf[i + 1] === 0x0a) i++;
      starts.push(i + 1);
    } else if (buf[i] === 0x0a) starts.push(i + 1);
  }
  return starts;
}

/** 1-based line of a byte offset. */
function lineAt(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/** `;` or `,`: whichever the header line has more of outside quotes; `;` on a tie. */
function detectDelimiter(line: string): ';' | ',' {
  const bare = line.replace(/"[^"]*(?:"|$)/g, '');
  const count = (c: string) => bare.split(c).length - 1;
  return count(',') > count(';') ? ',' : ';';
}

const SAVE_AS_UTF8 = [
  'Файл не в кодировке UTF-8 (вероятно, Windows-1251). В Excel выберите «Файл → Сохранить как → CSV UTF-8 (разделитель — запятая)» и загрузите файл снова.',
  'The file is not UTF-8 (probably Windows-1251). In Excel choose “File → Save As → CSV UTF-8 (Comma delimited)” and upload it again.',
] as const;

const HINT_FULL_NAME: [string, string] = ['«ФИО» разделите на три столбца: «Фамилия», «Имя», «Отчество».', 'Split the full name into last_name, first_name and middle_name.'];
const HINT_ROW_NUMBERS: [string, string] = ['Столбец с номерами строк удалите.', 'Remove the column of row numbers.'];
const HINT_TABS: [string, string] = ['Ячейки разделены табуляцией: сохраните таблицу как «CSV UTF-8», а не как текст.', 'The cells are separated by tabs: save the table as “CSV UTF-8”, not as text.'];

/** Blank lines, then the first line with something on it (group 1). */
const FIRST_LINE = /^(?:[^\S\r\n]*(?:\r\n|\n|\r))*([^\r\n]*)/;

interface Row {
  cells: string[];
  line: number;
}

export function parseRosterCsv(input: string | Buffer): CsvResult {
  // ---- bytes → text
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.length;
  if (size > MAX_BYTES) {
    return fileError(0, 'Файл больше 2 МБ: разделите его на несколько (например, по классам).', 'The file is larger than 2 MB: split it (by class, for instance).');
  }
  let text: string;
  if (typeof input === 'string') {
    if (!input.isWellFormed()) return fileError(0, ...SAVE_AS_UTF8);
    text = input;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input);
    } catch {
      return fileError(0, ...SAVE_AS_UTF8);
    }
  }
  text = text.replace(/^\uFEFF+/, '');
  if (text.includes('\u0000')) {
    // UTF-16 («Юникод-текст»), a workbook (.xlsx) or not text at all
    return fileError(0, 'Это не текстовый CSV-файл (в нём нулевые байты). В Excel сохраните таблицу как «CSV UTF-8 (разделитель — запятая)».', 'This is not a text CSV file (it has NUL bytes). In Excel save the table as “CSV UTF-8 (Comma delimited)”.');
  }
  const buf = Buffer.from(text, 'utf8');
  const starts = lineStarts(buf);

  // ---- delimiter, from the first non-blank line (an Excel «sep=;» line decides and is skipped)
  const firstLine = FIRST_LINE.exec(text)!;
  if (!firstLine[1]!.trim()) return fileError(0, 'Файл пуст: нужна строка заголовков и строки с людьми.', 'The file is empty: a header row and rows of people are needed.');
  const sep = /^sep=([;,])$/i.exec(firstLine[1]!.trim());
  const skipBefore = sep ? Buffer.byteLength(firstLine[0]) : 0;
  const delimiter = sep ? (sep[1] as ';' | ',') : detectDelimiter(firstLine[1]!);

  // ---- cells, each row with the line it starts on
  // Each record comes with csv-parse's info (the `info` option's object). Its `lines` counts a
  // CRLF inside a quoted cell as two lines, so the line is found from `bytes` instead: a record
  // starts at the first byte after the previous one's end that is not a line break (csv-parse
  // skips the empty lines between), and the file's own line breaks give that offset's line.
  const rows: Row[] = [];
  let end = 0;
  let tooMany = false;
  const recordStart = () => {
    let i = end;
    while (buf[i] === 0x0a || buf[i] === 0x0d) i++;
    return i;
  };
  // csv-parse builds (and deep-copies) an Error for every row whose length differs from the
  // header's, even when relaxed: a 2 MB file of «;» lines would take seconds. Such rows are
  // counted and the file refused early; Excel pads its rows, so real files have few of them.
  let ragged = 0;
  let width = -1;
  try {
    parse(buf, {
      delimiter,
      record_delimiter: ['\r\n', '\n', '\r'], // all three, also mixed in one file (csv-parse would pick one)
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      trim: true,
      on_record: (cells: string[], info) => {
        const start = recordStart();
        end = info.bytes;
        if (start < skipBefore) return null; // the «sep=» line
        if (width < 0) width = cells.length;
        else if (cells.length !== width) ragged += 1;
        if (cells.some((c) => c !== '')) rows.push({ cells, line: lineAt(starts, start) });
        if (rows.length > MAX_ROWS + 1 || ragged > MAX_RAGGED) {
          tooMany = true;
          throw new Error('too many rows');
        }
        return null; // kept in `rows`
      },
    });
  } catch (err) {
    if (tooMany && ragged > MAX_RAGGED) {
      return fileError(0, `В файле больше ${MAX_RAGGED} строк, где ячеек меньше или больше, чем в заголовке: удалите пустые строки в конце таблицы.`, `The file has more than ${MAX_RAGGED} rows with fewer or more cells than the header: delete the empty rows at the end of the table.`);
    }
    if (tooMany) {
      return fileError(0, `В файле больше ${MAX_ROWS} строк с людьми: разделите его на несколько (например, по классам).`, `The file has more than ${MAX_ROWS} rows of people: split it (by class, for instance).`);
    }
    const e = err as { code?: string };
    const line = lineAt(starts, Math.max(recordStart(), skipBefore));
    if (e.code === 'CSV_QUOTE_NOT_CLOSED') {
      return fileError(line, `Строка ${line}: кавычка открыта, но не закрыта до конца файла.`, `Line ${line}: a quote is opened and never closed.`);
    }
    return fileError(line, `Строка ${line}: файл не читается как CSV — проверьте кавычки.`, `Line ${line}: the file cannot be read as CSV — check the quotes.`);
  }
  if (!rows.length) return fileError(0, 'Файл пуст: нужна строка заголовков и строки с людьми.', 'The file is empty: a header row and rows of people are needed.');
  const [head, ...data] = rows as [Row, ...Row[]];
  if (!data.length) return fileError(head.line, 'В файле только строка заголовков, людей в нём нет.', 'The file has only the header row, no people.');

  // ---- header → columns
  const keys = head.cells.map(headerKey);
  const hasKindColumn = keys.some((k) => HEADERS[k] === 'kind' && !ROLE_HEADERS.has(k));
  const columns: ({ field: keyof PersonInput; title: string } | null)[] = [];
  const unknown: string[] = [];
  const headerProblems: [string, string][] = [];
  head.cells.forEach((title, i) => {
    const k = keys[i]!;
    let field = HEADERS[k];
    if (field === 'kind' && ROLE_HEADERS.has(k) && hasKindColumn) field = 'staffRole';
    if (field) columns.push({ field, title });
    else {
      columns.push(null);
      if (k) unknown.push(title);
      else {
        const used = data.find((r) => (r.cells[i] ?? '') !== '');
        if (used) {
          headerProblems.push([
            `У столбца ${columnLetter(i + 1)} нет заголовка, а в нём есть данные (строка ${used.line}).`,
            `Column ${columnLetter(i + 1)} has no header but holds data (line ${used.line}).`,
          ]);
        }
      }
    }
  });
  if (unknown.length) {
    const known = columns.some(Boolean);
    const hints = new Set<[string, string]>();
    for (const k of unknown.map(headerKey)) {
      if (k === 'фио' || k === 'full name') hints.add(HINT_FULL_NAME);
      if (/^(№|#|no|n|№ п\/п|п\/п)$/.test(k)) hints.add(HINT_ROW_NUMBERS);
    }
    if (unknown.some((u) => u.includes('\t'))) hints.add(HINT_TABS);
    headerProblems.push([
      [`Неизвестные столбцы: ${unknown.map((u) => `«${u.slice(0, 40)}»`).join(', ')}.`,
        known ? '' : 'Первая строка файла должна быть строкой заголовков.',
        ...[...hints].map((h) => h[0]),
        'Допустимые столбцы: Фамилия, Имя, Отчество, Дата рождения, Класс, Тип, Роль сотрудника, Должность, СНИЛС, Телефон, ID.'].filter(Boolean).join(' '),
      [`Unknown columns: ${unknown.map((u) => `“${u.slice(0, 40)}”`).join(', ')}.`,
        known ? '' : 'The first line of the file must be the header row.',
        ...[...hints].map((h) => h[1]),
        'Allowed: last_name, first_name, middle_name, birth_date, class, kind, staff_role, position, snils, phone, external_id (or the Russian titles).'].filter(Boolean).join(' '),
    ]);
  }
  const present = columns.filter((c) => c !== null);
  const twice = [...new Set(present.map((c) => c.field).filter((f, i, all) => all.indexOf(f) !== i))];
  for (const f of twice) {
    const titles = present.filter((c) => c.field === f).map((c) => c.title);
    headerProblems.push([`Столбец «${TITLES[f][0]}» указан несколько раз: ${titles.map((t) => `«${t}»`).join(', ')}.`, `The column “${TITLES[f][1]}” appears more than once: ${titles.map((t) => `“${t}”`).join(', ')}.`]);
  }
  const missing = REQUIRED.filter((f) => !present.some((c) => c.field === f));
  if (missing.length) {
    headerProblems.push([`Нет обязательных столбцов: ${missing.map((f) => `«${TITLES[f][0]}»`).join(', ')}.`, `Required columns are missing: ${missing.map((f) => TITLES[f][1]).join(', ')}.`]);
  }
  if (headerProblems.length) {
    const line = head.line;
    return { ok: false, errors: headerProblems.map(([ru, en]) => ({ line, message: `Строка ${line} (заголовки): ${continueSentence(ru)}`, messageEn: `Line ${line} (headers): ${continueSentence(en)}` })) };
  }
  const titleOf = (f: keyof PersonInput): [string, string] => {
    const c = present.find((x) => x.field === f);
    return c ? [c.title, c.title] : TITLES[f];
  };
  const order = (f: keyof PersonInput) => {
    const i = columns.findIndex((c) => c?.field === f);
    return i < 0 ? columns.length : i;
  };

  // ---- rows
  const errors: CsvError[] = [];
  const people: PersonInput[] = [];
  const seenIds = new Map<string, number>();
  const seenSnils = new Map<string, number>();
  const seenPeople = new Map<string, { line: number; externalId: string | null }>();
  for (const { cells, line } of data) {
    const extra = cells.slice(columns.length).some((c) => c !== '');
    if (extra) {
      errors.push({
        line,
        message: `Строка ${line}: ячеек больше, чем столбцов в заголовке (${columns.length}) — проверьте разделители и кавычки.`,
        messageEn: `Line ${line}: more cells than header columns (${columns.length}) — check the delimiters and quotes.`,
      });
      continue;
    }
    const raw: Record<string, string> = {};
    columns.forEach((c, i) => {
      if (c) raw[c.field] = cells[i] ?? '';
    });
    const parsed = parsePerson(raw);
    if (!parsed.ok) {
      const problems = [...parsed.problems].sort((a, b) => order(a.field) - order(b.field));
      for (const p of problems) errors.push(cellError(line, titleOf(p.field), p));
      continue;
    }
    const p = parsed.value;
    if (p.externalId) {
      const before = seenIds.get(p.externalId);
      if (before) {
        const [ru, en] = titleOf('externalId');
        errors.push({ line, message: `Строка ${line}, «${ru}»: такой же ID «${p.externalId}» уже в строке ${before}.`, messageEn: `Line ${line}, ${en}: the same id “${p.externalId}” as on line ${before}.` });
      } else seenIds.set(p.externalId, line);
    }
    if (p.snils) {
      const before = seenSnils.get(p.snils);
      if (before) {
        const [ru, en] = titleOf('snils');
        errors.push({ line, message: `Строка ${line}, «${ru}»: такой же СНИЛС ${formatSnils(p.snils)} уже в строке ${before}.`, messageEn: `Line ${line}, ${en}: the same SNILS ${formatSnils(p.snils)} as on line ${before}.` });
      } else seenSnils.set(p.snils, line);
    }
    const identity = [p.kind, p.lastName, p.firstName, p.middleName ?? '', p.birthDate ?? ''].map(fold).join('|');
    const twin = seenPeople.get(identity);
    if (twin && !(twin.externalId && p.externalId && twin.externalId !== p.externalId)) {
      const who = [p.lastName, p.firstName, p.middleName].filter(Boolean).join(' ');
      errors.push({
        line,
        message: `Строка ${line}: ${who} уже есть в строке ${twin.line}${p.birthDate ? '' : ' (если это разные люди, укажите дату рождения или ID)'}.`,
        messageEn: `Line ${line}: ${who} is on line ${twin.line} already${p.birthDate ? '' : ' (if these are two people, give a birth date or an id)'}.`,
      });
    } else if (!twin) seenPeople.set(identity, { line, externalId: p.externalId });
    people.push(p);
  }

  if (errors.length) {
    const shown = errors.slice(0, MAX_REPORTED);
    const more = errors.length - shown.length;
    if (more > 0) shown.push({ line: 0, message: `…и ещё ${errorsRu(more)}.`, messageEn: `…and ${more} more error${more === 1 ? '' : 's'}.` });
    return { ok: false, errors: shown };
  }
  return { ok: true, people };
}

function cellError(line: number, [ru, en]: [string, string], p: FieldProblem): CsvError {
  return { line, message: `Строка ${line}, «${ru}»: ${continueSentence(p.message)}`, messageEn: `Line ${line}, ${en}: ${continueSentence(p.messageEn)}` };
}
