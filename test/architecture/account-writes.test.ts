/**
 * One owner per account (issue 17.1, acceptance): no module outside `src/accounts/` inserts,
 * updates or deletes rows of the account tables. The test reads the code — every `src/**\/*.ts`
 * parsed by the TypeScript compiler — not a list of today's writers, so a new writer anywhere
 * fails it with its file:line.
 *
 * The account tables, from the migrations: the tables that hold an account's credentials,
 * contacts, SNILS, links, roles, second factors or status.
 * - `users` (001, 002, 006, 015, 017): the login and its skeleton, the password hash and its
 *   must-change flag, kind and roles, names and birth date, email (and its confirmation and who
 *   entered it), phone, SNILS (its source and who entered it), disabled_at, the school.
 * - `federated_identities` (006, 015): the Gosuslugi links.
 * - `user_totp` (007): the second factor.
 * - `curator_schools` (010): the schools a curator holds — a role grant.
 * - `guardianships` (002, 011): parent ↔ child and its restriction.
 * Not account tables: sessions and tokens (`oidc_models`, `console_sessions`, `grant_devices`,
 * `mfa_challenges`, `esia_flows`, `email_tokens`, `recovery_requests`), the roster (`people`,
 * `invites`), `consents`, `throttle`, `audit_log`, `mail_outbox`: their writers are the flows
 * that own them. (`last_login_at` on `users` and `federated_identities` is bookkeeping written at
 * each login; it still goes through the library, so the rule has no exception.)
 *
 * What counts as a write:
 * - a knex chain that names an account table — `db('users')`, `trx('users')`, `.table('users')`,
 *   `.into('users')`, `.from('users')` — and calls a writing method on it: insert, update, del,
 *   delete, upsert, merge (`.onConflict().merge()`), increment, decrement, truncate; also through
 *   a local variable that holds such a chain (`const q = db('users').where(…); await q.update(…)`)
 *   and through a local constant naming the table;
 * - SQL text in any string or template literal: `insert into users`, `update users`,
 *   `delete from users`, `truncate users`, `merge into users` (case-insensitive, quoted or with a
 *   schema), e.g. in `db.raw(…)`.
 * Migrations (migrations/) and test code are outside `src/` and not read.
 */
import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { sources, tableWrites } from '../helpers/table-writes.js';

const ACCOUNT_TABLES = ['users', 'federated_identities', 'user_totp', 'curator_schools', 'guardianships'] as const;
const ROOT = join(import.meta.dirname, '..', '..');
const LIBRARY = join('src', 'accounts') + sep;

const accountWrites = (file: string, text: string) => tableWrites(file, text, ACCOUNT_TABLES);

describe('the account tables have one writer, src/accounts/', () => {
  it('no module outside src/accounts/ inserts, updates or deletes their rows', () => {
    const outside: string[] = [];
    let inside = 0;
    for (const path of sources(join(ROOT, 'src'))) {
      const file = relative(ROOT, path);
      const writes = accountWrites(file, readFileSync(path, 'utf8'));
      if (file.startsWith(LIBRARY)) inside += writes.length;
      else outside.push(...writes.map((w) => `${w.file}:${w.line} ${w.how} ${w.table}`));
    }
    // The library itself writes them (the scan sees its writes, so it is reading the right code).
    expect(inside).toBeGreaterThan(0);
    expect(outside).toEqual([]);
  });

  describe('the scan catches a write however it is spelled', () => {
    const flagged = (code: string) => accountWrites('fixture.ts', code).map((w) => `${w.how} ${w.table}`);

    it.each([
      ["await db('users').where({ id }).update({ email })", '.update() users'],
      ["await trx('federated_identities').insert({ user_id: id })", '.insert() federated_identities'],
      ["await app.db('user_totp').where({ user_id: id }).del()", '.del() user_totp'],
      ["await this.db('curator_schools').delete()", '.delete() curator_schools'],
      ["await db.insert({ user_id: id }).into('guardianships')", '.insert() guardianships'],
      ["await db.table('users').where({ id }).update({ phone })", '.update() users'],
      ["await db.from('users as u').where('u.id', id).del()", '.del() users'],
      ["await db('users').insert(row).onConflict('id').merge()", '.merge() users'],
      ["await db('users').where({ id }).increment('failed', 1)", '.increment() users'],
      ["const T = 'users'; await db(T).where({ id }).update({ snils })", '.update() users'],
      ["const q = db('users').where({ id }); await q.update({ email })", '.update() users'],
      ["await db.raw('update users set email = ? where id = ?', [e, id])", 'update users'],
      ['await db.raw(`INSERT INTO "federated_identities" (user_id) values (${id})`)', 'insert into federated_identities'],
      ["await db.raw('Delete From public.user_totp where user_id = ?', [id])", 'delete from user_totp'],
      ['await db.raw(`with x as (select 1) update   Users set phone = null where id = ${id}`)', 'update users'],
    ])('%s', (code, expected) => {
      expect(flagged(code)).toContain(expected);
    });

    it.each([
      "await db('users').where({ id }).first()",
      "await db('users').select('id').whereIn('id', ids)",
      "await db('oidc_models').where({ grant_id }).del()",
      "await trx('mfa_challenges').insert({ user_id: id })",
      "seen.delete('users')",
      "await db.raw('select * from users where id = ?', [id])",
      "await db.raw('update users_archive set x = 1')",
    ])('not a write on an account table: %s', (code) => {
      expect(flagged(code)).toEqual([]);
    });

    it('flags a write in a file of its own, by file and line', () => {
      const code = ["import { db } from './db.js';", '', "export const drop = (id: string) => db('users').where({ id }).del();"].join('\n');
      expect(accountWrites('src/anywhere/drop.ts', code)).toEqual([{ file: 'src/anywhere/drop.ts', line: 3, table: 'users', how: '.del()' }]);
    });
  });
});
