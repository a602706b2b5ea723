/**
 * Look-alike logins (issue 16.5): `users.login_skeleton`, the TS #39 skeleton of the login
 * (src/accounts/login-skeleton.ts), unique per school beside the case-insensitive login index.
 *
 * Existing rows are back-filled in batches. Look-alike logins that already share a school were
 * allowed before; nobody is locked out by this migration: of each such group the oldest account
 * (created_at, then id) holds the skeleton, the younger ones keep their login and get no skeleton
 * (NULL, which the unique index ignores). The oldest's skeleton still stops any new look-alike.
 * Each kept pair is written to the audit log (`user.login_lookalike`, in the school's log) so
 * the curator can see them and, if they think it right, rename one by a transfer or ask the person.
 *
 * The skeleton is computed by the application's own function: a future change of it needs a
 * migration of its own that recomputes the column.
 */
import type { Knex } from 'knex';
import { loginSkeleton } from '../src/accounts/login-skeleton.js';

const BATCH = 1000;

export async function up(db: Knex): Promise<void> {
  await db.raw('alter table users add column login_skeleton text');

  // Who holds each (school, skeleton) so far: the first met in the order of creation.
  const holders = new Map<string, { id: string; login: string }>();
  const kept: { schoolId: string | null; id: string; login: string; holderId: string; holderLogin: string }[] = [];
  // Paged by (created_at, id); the time read as text, since a JS Date would drop its microseconds.
  let after: { at: string; id: string } | undefined;
  for (;;) {
    const rows = (await db('users')
      .select('id', 'school_id', 'login', db.raw('created_at::text as at'))
      .modify((q) => {
        if (after) q.whereRaw('(created_at, id) > (?::timestamptz, ?::uuid)', [after.at, after.id]);
      })
      .orderBy([{ column: 'created_at' }, { column: 'id' }])
      .limit(BATCH)) as { id: string; school_id: string | null; login: string; at: string }[];
    if (rows.length === 0) break;
    const filled: { id: string; skeleton: string }[] = [];
    for (const row of rows) {
      const skeleton = loginSkeleton(row.login);
      const key = `${row.school_id ?? ''}\u0000${skeleton}`;
      const holder = holders.get(key);
      if (holder) {
        kept.push({ schoolId: row.school_id, id: row.id, login: row.login, holderId: holder.id, holderLogin: holder.login });
        continue;
      }
      holders.set(key, { id: row.id, login: row.login });
      filled.push({ id: row.id, skeleton });
    }
    if (filled.length) {
      await db.raw(
        `update users set login_skeleton = v.skeleton
           from (select * from json_to_recordset(?::json) as x(id uuid, skeleton text)) v
          where users.id = v.id`,
        [JSON.stringify(filled)],
      );
    }
    const last = rows[rows.length - 1]!;
    after = { at: last.at, id: last.id };
  }

  for (const k of kept) {
    await db('audit_log').insert({
      action: 'user.login_lookalike',
      outcome: 'success',
      actor_type: 'system',
      school_id: k.schoolId,
      target_type: 'user',
      target_id: k.id,
      details: JSON.stringify({ login: k.login, lookalikeOf: { id: k.holderId, login: k.holderLogin }, kept: true }),
    });
  }

  await db.raw(`create unique index users_school_login_skeleton_unique
    on users (coalesce(school_id::text, ''), login_skeleton) where login_skeleton is not null`);
}

export async function down(db: Knex): Promise<void> {
  await db.raw('drop index if exists users_school_login_skeleton_unique');
  await db.raw('alter table users drop column if exists login_skeleton');
}
