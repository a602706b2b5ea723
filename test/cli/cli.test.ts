/**
 * The `journal-id` command as people run it: a separate process on the embedded database in a
 * data folder (or on PostgreSQL when DATABASE_URL is set). Bad input: a message, a non-zero
 * exit, nothing written.
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
let testDb: TestDb | undefined;

function cli(args: string[], input?: string) {
  const r = spawnSync(cliCommand().command, [...cliCommand().args, ...args], {
    cwd: ROOT,
    input,
    encoding: 'utf8',
    env: {
      PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`,
      NODE_ENV: 'development',
      DATA_DIR: dataDir,
      ARGON2_MEMORY_KIB: '8192',
      ARGON2_TIME_COST: '1',
      ...(testDb?.url ? { DATABASE_URL: testDb.url } : {}),
    },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-cli-'));
  if (onPostgres) testDb = await createTestDb({ migrate: false });
});
afterAll(async () => testDb?.close());

describe('journal-id CLI', () => {
  it('help lists the commands; an unknown command exits 2', () => {
    const help = cli(['help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('client add');
    const bad = cli(['frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('unknown command "frobnicate"');
  });

  it('migrate applies the schema once', () => {
    expect(cli(['migrate']).out).toMatch(/applied: 001_foundation|up to date/);
    expect(cli(['migrate', '--status']).out).toContain('pending: -');
  });

  it('school add: missing options are named, a duplicate refused', () => {
    const missing = cli(['school', 'add', '--number', '1399']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('--name is required');
    const ok = cli(['school', 'add', '--number', '1399', '--name', 'Школа № 1399', '--region', 'Москва']);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('address name "1399"');
    const dup = cli(['school', 'add', '--number', '1399', '--name', 'Другая', '--region', 'Москва']);
    expect(dup.code).toBe(1);
    expect(dup.err).toContain('exists already');
  });

  it('user add: a generated password is shown once; a weak given one is refused and nothing stored', () => {
    const weak = cli(['user', 'add', '--school', '1399', '--login', 'petrov', '--password-stdin'], 'petrov123\n');
    expect(weak.code).toBe(1);
    expect(weak.err).toContain('must not be or contain your login');
    const ok = cli(['user', 'add', '--school', '1399', '--login', 'petrov', '--kind', 'staff', '--role', 'curator']);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/password \(shown once\): [A-Za-z0-9]{12}/);
    const taken = cli(['user', 'add', '--school', '1399', '--login', 'PETROV', '--password-stdin'], 'Kolobok2024x');
    expect(taken.code).toBe(1);
    expect(taken.err).toContain('already taken');
    const noSchool = cli(['user', 'add', '--school', '9999', '--login', 'x1x']);
    expect(noSchool.code).toBe(1);
    expect(noSchool.err).toContain('no school "9999"');
  });

  it('user logout | reset-password | unlock', () => {
    const logout = cli(['user', 'logout', '--school', '1399', '--login', 'Petrov']);
    expect(logout.code).toBe(0);
    expect(logout.out).toContain('user petrov: 0 session(s)');
    const reset = cli(['user', 'reset-password', '--school', '1399', '--login', 'petrov']);
    expect(reset.code).toBe(0);
    expect(reset.out).toMatch(/new password \(shown once, to be changed at the next login\): [A-Za-z0-9]{12}/);
    expect(cli(['user', 'unlock', '--school', '1399', '--login', 'petrov']).out).toContain('was not locked');
    const unknown = cli(['user', 'unlock', '--school', '1399', '--login', 'ghost']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('no user "ghost" in school 1399');
    expect(cli(['user', 'logout', '--school', '1399']).code).toBe(2);
  });

  it('client add | list | remove', () => {
    const noRedirect = cli(['client', 'add', '--name', 'Библиотека']);
    expect(noRedirect.code).toBe(2);
    const badUri = cli(['client', 'add', '--name', 'Библиотека', '--redirect-uri', 'not a url']);
    expect(badUri.code).toBe(1);
    expect(badUri.err).toContain('invalid client');
    expect(cli(['client', 'list']).out).toContain('no registered clients');

    const ok = cli(['client', 'add', '--name', 'Библиотека', '--redirect-uri', 'https://lib.example.ru/cb']);
    expect(ok.code).toBe(0);
    const clientId = /client_id: (\S+)/.exec(ok.out)![1]!;
    expect(ok.out).toMatch(/client_secret \(shown once\): \S{40,}/);
    const list = cli(['client', 'list']);
    expect(list.out).toContain(clientId);
    expect(list.out).not.toMatch(/client_secret|[A-Za-z0-9_-]{43}/);

    const service = cli(['client', 'add', '--name', 'Отчёты', '--type', 'service']);
    expect(service.code).toBe(0);

    expect(cli(['client', 'remove', clientId]).code).toBe(0);
    const again = cli(['client', 'remove', clientId]);
    expect(again.code).toBe(1);
    expect(again.err).toContain('no registered client');
  });

  it('client update | rotate-secret; an admin API client; the configured apps are not managed here', () => {
    const ok = cli(['client', 'add', '--name', 'Библиотека', '--redirect-uri', 'https://lib.example.ru/cb']);
    const clientId = /client_id: (\S+)/.exec(ok.out)![1]!;
    const secret = /client_secret \(shown once\): (\S+)/.exec(ok.out)![1]!;
    const updated = cli(['client', 'update', clientId, '--name', 'Библиотека школы', '--redirect-uri', 'https://lib.example.ru/v2/cb']);
    expect(updated.code).toBe(0);
    expect(updated.out).toContain(`client ${clientId} updated`);
    expect(cli(['client', 'list']).out).toMatch(new RegExp(`${clientId}\\tБиблиотека школы\\t.*https://lib\\.example\\.ru/v2/cb`));
    const badUri = cli(['client', 'update', clientId, '--redirect-uri', 'http://lib.example.ru/cb']);
    expect(badUri.code).toBe(1);
    expect(badUri.err).toContain('invalid client: redirect_uris');
    expect(cli(['client', 'update', clientId]).code).toBe(2);

    const rotated = cli(['client', 'rotate-secret', clientId]);
    expect(rotated.code).toBe(0);
    const fresh = /client_secret \(shown once\): (\S+)/.exec(rotated.out)![1]!;
    expect(fresh).not.toBe(secret);

    const admin = cli(['client', 'add', '--name', 'Платформа', '--type', 'service', '--scope', 'admin']);
    expect(admin.code).toBe(0);
    expect(admin.out).toMatch(/client_secret \(shown once\): \S{40,}/);
    const webAdmin = cli(['client', 'add', '--name', 'Не так', '--redirect-uri', 'https://x.example.ru/cb', '--scope', 'openid admin']);
    expect(webAdmin.code).toBe(1);
    expect(webAdmin.err).toContain('admin is only for a client whose one grant is client_credentials');

    const configured = cli(['client', 'remove', 'journal-web']);
    expect(configured.code).toBe(1);
    expect(configured.err).toContain('comes from the configuration');
  });

  it('keys list | rotate', () => {
    const before = cli(['keys', 'list']);
    expect(before.code).toBe(0);
    expect(before.out.match(/\tactive\t/g)).toHaveLength(2);
    const rotate = cli(['keys', 'rotate', '--alg', 'ES256', '--activate-in', '600']);
    expect(rotate.code).toBe(0);
    const after = cli(['keys', 'list']);
    expect(after.out).toMatch(/ES256\tnext\tsigns from/);
    expect(cli(['keys', 'rotate', '--alg', 'HS256']).code).toBe(2);
  });
});
