/**
 * Who may see what in the console — the one place every console query goes through (issue 6).
 *
 * - A **curator** sees the users of their schools: their own school while they hold the
 *   `curator` role, and every school a platform admin granted them (`curator_schools`).
 * - A platform **admin** manages schools, curators and reads clients; platform **support** reads
 *   health, counts and audit metadata. Neither ever sees personal data of users: `usersInScope`
 *   gives them nothing, and the platform reads below return aggregates, school data and — for
 *   admins only — the login and school of curators, never a name, contact or SNILS.
 *
 * Pages ask these functions, never `users` directly, so a page cannot forget the filter.
 */
import type { Knex } from 'knex';
import type { Queryable } from '../db/index.js';
import { isUuid } from '../roster/queries.js';
import type { Account } from '../accounts/queries.js';

export const CURATOR = 'curator';
export const ADMIN = 'admin';
export const SUPPORT = 'support';
export type ConsoleRole = typeof CURATOR | typeof ADMIN | typeof SUPPORT;

export interface Actor {
  user: Account;
  role: ConsoleRole;
  /** The schools whose users this actor may see and act on (none for platform roles). */
  schoolIds: string[];
}

/** The console's actor for an account, or undefined when it may not use the console. */
export async function actorOf(db: Queryable, user: Account): Promise<Actor | undefined> {
  if (user.disabled_at) return undefined;
  if (user.kind === 'platform') {
    // Platform accounts have no school and are never curators, whatever their roles say.
    const role = user.roles.includes(ADMIN) ? ADMIN : user.roles.includes(SUPPORT) ? SUPPORT : undefined;
    return role ? { user, role, schoolIds: [] } : undefined;
  }
  const schoolIds = await curatorSchoolIds(db, user);
  return schoolIds.length ? { user, role: CURATOR, schoolIds } : undefined;
}

/** Own school first (while the role is held), then the granted ones in the order of granting. */
async function curatorSchoolIds(db: Queryable, user: Pick<Account, 'id' | 'school_id' | 'roles'>): Promise<string[]> {
  const granted: string[] = await db('curator_schools').where({ user_id: user.id }).orderBy('granted_at').pluck('school_id');
  const own = user.roles.includes(CURATOR) && user.school_id ? [user.school_id] : [];
  return [...new Set([...own, ...granted])];
}

/** `users` as the actor may see them: the curator's schools, school accounts only; nothing for anyone else. */
export function usersInScope(db: Queryable, actor: Actor): Knex.QueryBuilder {
  const q = db('users as u');
  if (actor.role !== CURATOR || !actor.schoolIds.length) return q.whereRaw('false');
  return q.whereIn('u.school_id', actor.schoolIds).whereNot('u.kind', 'platform');
}

/** One user in scope, or undefined (the route answers 404: another school's user does not exist here). */
export async function userInScope(db: Queryable, actor: Actor, id: string): Promise<{ id: string; school_id: string } | undefined> {
  if (!isUuid(id)) return undefined;
  return usersInScope(db, actor).where('u.id', id).first('u.id', 'u.school_id');
}

/**
 * The school a console page works on (roster, invitations, audit) for a curator of several: the
 * one asked for when the actor holds it, else their first. Never a school outside the scope.
 */
export function currentSchoolId(actor: Actor, requested: unknown): string {
  return typeof requested === 'string' && actor.schoolIds.includes(requested) ? requested : actor.schoolIds[0]!;
}

/** The actor's schools, for the school switch of a curator of several. */
export async function actorSchools(db: Queryable, actor: Actor): Promise<{ id: string; name: string }[]> {
  if (actor.role !== CURATOR || !actor.schoolIds.length) return [];
  const rows = (await db('schools').whereIn('id', actor.schoolIds).select('id', 'name')) as { id: string; name: string }[];
  return actor.schoolIds.map((id) => rows.find((r) => r.id === id)!).filter(Boolean);
}

// ——— Platform reads: aggregates and role metadata, never personal data ———

export class ScopeError extends Error {
  override name = 'ScopeError';
  status = 403;
  expose = true;
}

function allow(actor: Actor, ...roles: ConsoleRole[]): void {
  // The routes check roles first; this is the last line, so a wrong call fails closed.
  if (!roles.includes(actor.role)) throw new ScopeError(`${actor.role} may not read this`);
}

export interface SchoolCounts {
  id: string;
  number: string;
  name: string;
  region: string;
  slug: string;
  students: number;
  parents: number;
  staff: number;
  esiaLinked: number;
  disabled: number;
  invitesIssued: number;
  invitesUsed: number;
  curators: number;
}

/** Every school with counts of its accounts, Gosuslugi links, invitations and curators. */
export async function schoolCounts(db: Queryable, actor: Actor): Promise<SchoolCounts[]> {
  allow(actor, ADMIN, SUPPORT);
  const rows = await db('schools as s')
    .leftJoin(
      db('users as u')
        .leftJoin('federated_identities as f', (j) => j.on('f.user_id', 'u.id').andOnVal('f.provider', 'esia'))
        .whereNot('u.kind', 'platform')
        .groupBy('u.school_id')
        .select('u.school_id')
        .select(db.raw(`count(*) filter (where u.kind = 'student') as students`))
        .select(db.raw(`count(*) filter (where u.kind = 'parent') as parents`))
        .select(db.raw(`count(*) filter (where u.kind = 'staff') as staff`))
        .select(db.raw('count(*) filter (where u.disabled_at is not null) as disabled'))
        .select(db.raw('count(f.user_id) as esia'))
        .as('a'),
      'a.school_id', 's.id',
    )
    .leftJoin(
      db('invites').groupBy('school_id').select('school_id', db.raw('count(*) as issued'), db.raw('count(redeemed_at) as used')).as('i'),
      'i.school_id', 's.id',
    )
    .leftJoin(
      db.queryBuilder()
        .from(curatorPairs(db).as('c'))
        .groupBy('c.school_id')
        .select('c.school_id', db.raw('count(distinct c.user_id) as curators'))
        .as('c'),
      'c.school_id', 's.id',
    )
    .orderBy([{ column: 's.region' }, { column: 's.number' }])
    .select('s.id', 's.number', 's.name', 's.region', 's.slug', 'a.students', 'a.parents', 'a.staff', 'a.disabled', 'a.esia', 'i.issued', 'i.used', 'c.curators');
  const n = (v: unknown) => Number(v ?? 0);
  return (rows as Record<string, unknown>[]).map((r) => ({
    id: String(r.id), number: String(r.number), name: String(r.name), region: String(r.region), slug: String(r.slug),
    students: n(r.students), parents: n(r.parents), staff: n(r.staff), esiaLinked: n(r.esia), disabled: n(r.disabled),
    invitesIssued: n(r.issued), invitesUsed: n(r.used), curators: n(r.curators),
  }));
}

/** (user, school) for every curatorship: own school by role, and granted ones. */
function curatorPairs(db: Queryable) {
  return db('users')
    .whereRaw('? = any(roles)', [CURATOR])
    .whereNot('kind', 'platform')
    .whereNotNull('school_id')
    .select('id as user_id', 'school_id', db.raw(`'own' as via`))
    .unionAll(db('curator_schools').select('user_id', 'school_id', db.raw(`'granted' as via`)));
}

export interface CuratorEntry {
  userId: string;
  login: string;
  /** The account's own school (where the login is unique). */
  homeSchoolNumber: string;
  schoolId: string;
  schoolNumber: string;
  schoolName: string;
  schoolRegion: string;
  via: 'own' | 'granted';
  disabled: boolean;
}

/** The curators per school, by login and school only (admins). */
export async function curatorList(db: Queryable, actor: Actor): Promise<CuratorEntry[]> {
  allow(actor, ADMIN);
  const rows = await db.queryBuilder()
    .from(curatorPairs(db).as('c'))
    .join('users as u', 'u.id', 'c.user_id')
    .join('schools as s', 's.id', 'c.school_id')
    .join('schools as h', 'h.id', 'u.school_id')
    .orderBy([{ column: 's.region' }, { column: 's.number' }, { column: 'u.login' }])
    .select('c.user_id', 'u.login', 'h.number as home_number', 'c.school_id', 's.number', 's.name', 's.region', 'c.via', 'u.disabled_at');
  return (rows as Record<string, unknown>[]).map((r) => ({
    userId: String(r.user_id), login: String(r.login), homeSchoolNumber: String(r.home_number), schoolId: String(r.school_id),
    schoolNumber: String(r.number), schoolName: String(r.name), schoolRegion: String(r.region), via: r.via as 'own' | 'granted', disabled: Boolean(r.disabled_at),
  }));
}

/** What a role change needs to know of an account: no personal data beyond the login. */
export interface RoleSubject {
  id: string;
  login: string;
  kind: Account['kind'];
  schoolId: string | null;
  roles: string[];
  disabled: boolean;
  /** The schools it is curator of now. */
  curatorOf: string[];
}

/** An account of a school by its login, or by id (admins granting and revoking roles). */
export async function roleSubject(db: Queryable, actor: Actor, by: { schoolId: string; login: string } | { id: string }): Promise<RoleSubject | undefined> {
  allow(actor, ADMIN);
  const q = db('users').select('id', 'login', 'kind', 'school_id', 'roles', 'disabled_at');
  if ('id' in by) {
    if (!isUuid(by.id)) return undefined;
    q.where({ id: by.id });
  } else {
    if (!isUuid(by.schoolId)) return undefined;
    q.where({ school_id: by.schoolId }).whereRaw('lower(login) = lower(?)', [by.login]);
  }
  const row = (await q.first()) as { id: string; login: string; kind: Account['kind']; school_id: string | null; roles: string[]; disabled_at: Date | null } | undefined;
  if (!row) return undefined;
  const curatorOf = row.kind === 'platform' ? [] : await curatorSchoolIds(db, row);
  return { id: row.id, login: row.login, kind: row.kind, schoolId: row.school_id, roles: row.roles, disabled: Boolean(row.disabled_at), curatorOf };
}

export interface AuditMeta {
  id: number;
  at: Date;
  action: string;
  outcome: string;
  actorType: string;
  schoolNumber: string | null;
}

/** The audit log without who, whom, where from or details: time, action, school, actor type, outcome. */
export async function auditMetadata(db: Queryable, actor: Actor, q: { beforeId?: number; limit: number }): Promise<AuditMeta[]> {
  allow(actor, ADMIN, SUPPORT);
  const query = db('audit_log as l')
    .leftJoin('schools as s', 's.id', 'l.school_id')
    .orderBy('l.id', 'desc')
    .limit(Math.min(Math.max(1, Math.floor(q.limit)), 500))
    .select('l.id', 'l.at', 'l.action', 'l.outcome', 'l.actor_type', 's.number');
  if (q.beforeId !== undefined) query.where('l.id', '<', q.beforeId);
  return ((await query) as Record<string, unknown>[]).map((r) => ({
    id: Number(r.id), at: new Date(r.at as string), action: String(r.action), outcome: String(r.outcome), actorType: String(r.actor_type), schoolNumber: (r.number as string | null) ?? null,
  }));
}

// ——— Children's data (src/oidc/data-policy.ts): guardianships and the school's apps ———

/** Guardianships `g` whose pupil `p` (the roster entry) is in the actor's schools (none: nothing). */
export function guardianshipsInScope(db: Queryable, actor: Actor): Knex.QueryBuilder {
  const q = db('guardianships as g').join('people as p', 'p.id', 'g.person_id');
  if (!actor.schoolIds.length) return q.whereRaw('false');
  return q.whereIn('p.school_id', actor.schoolIds);
}

/** Third-party apps `c` a school of the actor may approve: the platform's (no school) and its own IT's. */
export function appsInScope(db: Queryable, actor: Actor, schoolId: string): Knex.QueryBuilder {
  const q = db('clients as c').where('c.first_party', false);
  if (!actor.schoolIds.includes(schoolId)) return q.whereRaw('false');
  return q.where((w) => w.whereNull('c.school_id').orWhere('c.school_id', schoolId));
}
