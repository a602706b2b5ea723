/**
 * The school's commands as a curator's helper would run them at the start of a year: import the
 * class list, issue and print codes, reprint a lost sheet, revoke, list. Separate processes on
 * the embedded database (or PostgreSQL when DATABASE_URL is set).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { cliCommand } from '../helpers/cli.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDb, onPostgres, type TestDb } from '../helpers/db.js';

const ROOT = path.resolve(import.meta.dirname ?? '.', '../..');
let dataDir: string;
let outDir: string;
let testDb: TestDb | undefined;

function cli(args: string[]) {
  const r = spawnSync(cliCommand().command, [...cliCommand().args, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: {
      PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`,
      NODE_ENV: 'development',
      DATA_DIR: dataDir,
      DEMO: 'false',
      ARGON2_MEMORY_KIB: '8192',
      ARGON2_TIME_COST: '1',
      ...(testDb?.url ? { DATABASE_URL: testDb.url } : {}),
    },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const CLASS_LIST = [
  'Фамилия;Имя;Отчество;Дата рождения;Класс;Тип',
  'Николаева;Вера;Сергеевна;05.04.2013;6а;ученик',
  'Николаев;Ваня;Петрович;2013-01-20;6 А;ученик',
  'Соколова;Маша;;;6А;ученик',
  'Иванова;Анна;Михайловна;;;учитель',
].join('\r\n');

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-school-cli-'));
  outDir = path.join(dataDir, 'print');
  if (onPostgres) testDb = await createTestDb({ migrate: false });
  expect(cli(['migrate']).code).toBe(0);
  expect(cli(['school', 'add', '--number', '1399', '--name', 'Школа № 1399', '--region', 'Москва']).code).toBe(0);
});
afterAll(async () => testDb?.close());

describe('roster and invites commands', () => {
  it('roster import: a bad row is reported by line and nothing is imported; a good file is', () => {
    const bad = path.join(dataDir, 'bad.csv');
    fs.writeFileSync(bad, CLASS_LIST + '\r\n;Без фамилии;;;6А;ученик\r\n');
    const refused = cli(['roster', 'import', '--school', '1399', bad]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('nothing imported');
    expect(refused.err).toMatch(/6/); // the line of the bad row
    expect(cli(['roster', 'list', '--school', '1399']).out).toContain('nobody');

    const good = path.join(dataDir, 'class.csv');
    fs.writeFileSync(good, '\ufeff' + CLASS_LIST + '\r\n');
    const ok = cli(['roster', 'import', '--school', '1399', good]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('4 added');
    // Importing again changes nothing.
    expect(cli(['roster', 'import', '--school', '1399', good]).out).toContain('4 unchanged');
    const list = cli(['roster', 'list', '--school', '1399', '--class', '6а']).out;
    expect(list.split('\n').filter(Boolean)).toHaveLength(3);
    expect(list).toContain('Николаева Вера Сергеевна');
  });

  it('roster add checks the person once', () => {
    const bad = cli(['roster', 'add', '--school', '1399', '--kind', 'student', '--last-name', 'Орлов', '--first-name', 'Дима']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/class/i);
    const ok = cli(['roster', 'add', '--school', '1399', '--kind', 'student', '--last-name', 'Орлов', '--first-name', 'Дима', '--class', '7Б']);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/Орлов Дима \(7Б\) added/);
  });

  it('invites issue prints one sheet per invitation and a CSV; the codes are stored only as HMACs', () => {
    const r = cli(['invites', 'issue', '--school', '1399', '--class', '6А', '--parents', '2', '--out', outDir]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('9 code(s) for 3 person(s)');
    const html = fs.readFileSync(/print: (.+)/.exec(r.out)![1]!, 'utf8');
    const csv = fs.readFileSync(/codes: (.+)/.exec(r.out)![1]!, 'utf8');
    expect(html.match(/<section class="invitation"/g)).toHaveLength(9);
    expect(html).toContain('Родителям (6А)');
    expect(html).toContain('Ученику (6А)');
    const codes = [...csv.matchAll(/"((?:st|pt)[a-z0-9]{10})"/g)].map((m) => m[1]!);
    expect(codes).toHaveLength(9);
    for (const c of codes) {
      expect(c).toMatch(/^(st|pt)[abcdefghjkmnpqrstuvwxyz23456789]{10}$/);
      expect(html).toContain(c);
    }
    expect(csv).toContain('"Родителям (6А)"');
    expect(fs.statSync(/codes: (.+)/.exec(r.out)![1]!).mode & 0o777).toBe(0o600);
    // Beyond the per-child limit of parent codes nothing is issued.
    const tooMany = cli(['invites', 'issue', '--school', '1399', '--class', '6А', '--parents', '3', '--students', '0', '--out', outDir]);
    expect(tooMany.code).toBe(1);
    expect(tooMany.err).toContain('at most');
    const staff = cli(['invites', 'issue', '--school', '1399', '--staff', '--out', outDir]);
    expect(staff.code).toBe(0);
    expect(fs.readFileSync(/print: (.+)/.exec(staff.out)![1]!, 'utf8')).toContain('Учителю');
  });

  it('invites list, reprint and revoke', () => {
    const list = cli(['invites', 'list', '--school', '1399', '--class', '6А']);
    const vera = list.out.split('\n').find((l) => l.includes('Николаева Вера'))!;
    expect(vera).toContain('student:usable');
    expect(vera).not.toMatch(/(st|pt)[a-z0-9]{10}/); // never the codes themselves
    const id = vera.split('\t')[0]!;
    const reprint = cli(['invites', 'reprint', '--school', '1399', '--person', id, '--role', 'parent', '--out', outDir]);
    expect(reprint.code).toBe(0);
    expect(reprint.out).toContain('2 unused code(s) revoked, 2 new');
    const after = cli(['invites', 'list', '--school', '1399', '--class', '6А']).out.split('\n').find((l) => l.includes('Николаева Вера'))!;
    expect(after.match(/parent:revoked/g)).toHaveLength(2);
    expect(after.match(/parent:usable/g)).toHaveLength(2);
    const revoke = cli(['invites', 'revoke', '--school', '1399', '--person', id]);
    expect(revoke.out).toContain('3 unused code(s) revoked');
    expect(cli(['invites', 'issue', '--school', '1399', '--person', '00000000-0000-0000-0000-000000000000', '--out', outDir]).code).toBe(1);
  });
});
