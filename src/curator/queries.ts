/** The console's reads, all through the actor's scope (scope.ts). */
import { privilegedUserIds } from '../accounts/privileged.js';
import type { Knex } from 'knex';
import type { Queryable } from '../db/index.js';
import type { Actor } from './scope.js';
import { guardianshipsInScope, usersInScope } from './scope.js';
import { fold } from '../roster/person-input.js';

export interface UserRow {
  id: string;
  login: string;
  kind: string;
  roles: string[];
  last_name: string | null;
  first_name: string | null;
  middle_name: string | null;
  class_name: string | null;
  email: string | null;
  email_verified_at: Date | null;
  phone: string | null;
  snils: string | null;
  snils_source: string | null;
  person_snils: string | null;
  person_phone: string | null;
  disabled_at: Date | null;
  last_login_at: Date | null;
  must_change_password: boolean;
  esia_linked_at: Date | null;
  school_id: string;
}

export interface UserFilter {
  q?: string;
  className?: string;
  kind?: string;
}

const SELECT = [
  'u.id', 'u.login', 'u.kind', 'u.roles', 'u.last_name', 'u.first_name', 'u.middle_name', 'p.class_name', 'u.email', 'u.email_verified_at',
  'u.phone', 'u.snils', 'u.snils_source', 'p.snils as person_snils', 'p.phone as person_phone', 'u.disabled_at', 'u.last_login_at',
  'u.must_change_password', 'f.linked_at as esia_linked_at', 'u.school_id',
];

function base(db: Queryable, actor: Actor) {
  return usersInScope(db, actor)
    .leftJoin('people as p', 'p.id', 'u.person_id')
    .leftJoin('federated_identities as f', (j) => j.on('f.user_id', 'u.id').andOnVal('f.provider', 'esia'));
}

export async function searchUsers(db: Queryable, actor: Actor, f: UserFilter, limit = 100): Promise<UserRow[]> {
  const q = base(db, actor);
  const words = fold(f.q ?? '').split(/\s+/).filter(Boolean).slice(0, 4);
  for (const w of words) {
    const like = `%${w.replace(/[\\%_]/g, '\\$&')}%`;
    q.where((b) => {
      b.whereRaw(`lower(u.login) like ?`, [like]);
      // The account's own name, and the roster's for students and staff (the school's spelling).
      for (const col of ['u.last_name', 'u.first_name', 'u.middle_name', 'p.last_name', 'p.first_name']) b.orWhereRaw(`replace(lower(coalesce(${col}, '')), 'ё', 'е') like ?`, [like]);
    });
  }
  if (f.className) q.where('p.class_name', f.className);
  if (f.kind) q.where('u.kind', f.kind);
  return q.orderBy([{ column: 'u.last_name' }, { column: 'u.login' }]).limit(limit).select(SELECT) as Promise<UserRow[]>;
}

/** A parent ↔ child link as the console shows it (only links whose pupil is in scope). */
export interface GuardianshipLink {
  guardian_id: string;
  guardian_login: string;
  guardian_name: string;
  /** Whether the guardian's own page is in the actor's scope (a link to it makes sense). */
  guardian_in_scope: boolean;
  /** The guardian holds a curator, admin or support role: the console does not change the link (issue 16.1b). */
  guardian_privileged: boolean;
  person_id: string;
  child_name: string;
  class_name: string | null;
  child_user_id: string | null;
  restricted_at: Date | null;
  created_at: Date;
}

/** The user page: the row, the user's guardians (a pupil) and children (a parent or staff member). */
export interface UserPage extends UserRow {
  guardians: GuardianshipLink[];
  children: GuardianshipLink[];
}

export async function userDetails(db: Queryable, actor: Actor, id: string): Promise<UserPage | undefined> {
  const row = (await base(db, actor).where('u.id', id).first(SELECT)) as UserRow | undefined;
  if (!row) return undefined;
  const links = await guardianshipLinks(db, actor, (q) => q.where('gu.id', id).orWhere('cu.id', id));
  return { ...row, guardians: links.filter((l) => l.child_user_id === id), children: links.filter((l) => l.guardian_id === id) };
}

/** Guardianships in scope (by pupil), filtered by `where`; `gu` the guardian, `cu` the pupil's account. */
export async function guardianshipLinks(db: Queryable, actor: Actor, where: (q: Knex.QueryBuilder) => void): Promise<GuardianshipLink[]> {
  const rows = (await guardianshipsInScope(db, actor)
    .join('users as gu', 'gu.id', 'g.user_id')
    .leftJoin('users as cu', 'cu.person_id', 'p.id')
    .where(where)
    .orderBy([{ column: 'p.last_name' }, { column: 'p.first_name' }, { column: 'g.created_at' }])
    .select(
      'g.user_id as guardian_id', 'gu.login as guardian_login', 'gu.last_name as g_last', 'gu.first_name as g_first', 'gu.middle_name as g_middle', 'gu.school_id as g_school',
      'g.person_id', 'p.last_name', 'p.first_name', 'p.middle_name', 'p.class_name', 'cu.id as child_user_id', 'g.restricted_at', 'g.created_at',
    )) as Record<string, unknown>[];
  const privileged = await privilegedUserIds(db, [...new Set(rows.map((r) => String(r.guardian_id)))]);
  const name = (...parts: unknown[]) => parts.filter((x): x is string => typeof x === 'string' && x !== '').join(' ');
  return rows.map((r) => ({
    guardian_id: String(r.guardian_id),
    guardian_login: String(r.guardian_login),
    guardian_name: name(r.g_last, r.g_first, r.g_middle) || String(r.guardian_login),
    guardian_in_scope: actor.schoolIds.includes(String(r.g_school)),
    guardian_privileged: privileged.has(String(r.guardian_id)),
    person_id: String(r.person_id),
    child_name: name(r.last_name, r.first_name, r.middle_name),
    class_name: (r.class_name as string | null) ?? null,
    child_user_id: (r.child_user_id as string | null) ?? null,
    restricted_at: (r.restricted_at as Date | null) ?? null,
    created_at: r.created_at as Date,
  }));
}
