/** The console's reads, all through the actor's scope (scope.ts). */
import type { Queryable } from '../db/index.js';
import type { Actor } from './scope.js';
import { usersInScope } from './scope.js';
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

export async function userDetails(db: Queryable, actor: Actor, id: string): Promise<UserRow | undefined> {
  return base(db, actor).where('u.id', id).first(SELECT) as Promise<UserRow | undefined>;
}
