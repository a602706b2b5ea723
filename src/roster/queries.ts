/** The school roster (table `people`): students with their class, and staff. */
import type { Queryable, Tx } from '../db/index.js';
import type { PersonInput } from './person-input.js';

export interface Person {
  id: string;
  school_id: string;
  kind: 'student' | 'staff';
  staff_role: 'teacher' | 'administration' | null;
  last_name: string;
  first_name: string;
  middle_name: string | null;
  birth_date: string | null;
  class_name: string | null;
  position: string | null;
  snils: string | null;
  phone: string | null;
  external_id: string | null;
  left_at: Date | null;
}

// birth_date as 'YYYY-MM-DD' (a JS Date would shift it by the time zone).
const columns = (db: Queryable) => [
  'people.id', 'people.school_id', 'people.kind', 'people.staff_role', 'people.last_name', 'people.first_name',
  'people.middle_name', db.raw(`to_char(people.birth_date, 'YYYY-MM-DD') as birth_date`), 'people.class_name',
  'people.position', 'people.snils', 'people.phone', 'people.external_id', 'people.left_at',
];

export const isUuid = (v: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v);

function row(schoolId: string, p: PersonInput) {
  return {
    school_id: schoolId,
    kind: p.kind,
    staff_role: p.staffRole,
    last_name: p.lastName,
    first_name: p.firstName,
    middle_name: p.middleName,
    birth_date: p.birthDate,
    class_name: p.className,
    position: p.position,
    snils: p.snils,
    phone: p.phone,
    external_id: p.externalId,
  };
}

export async function insertPerson(db: Queryable, schoolId: string, p: PersonInput): Promise<Person> {
  const [created] = await db('people').insert(row(schoolId, p)).returning(columns(db) as string[]);
  return created as Person;
}

export async function findPersonById(db: Queryable, id: string): Promise<Person | undefined> {
  if (!isUuid(id)) return undefined;
  return (await db('people').select(columns(db)).where('people.id', id).first()) as Person | undefined;
}

export interface PeopleFilter {
  kind?: 'student' | 'staff';
  className?: string;
  /** Ids of people (e.g. `--person` on the command line). */
  ids?: string[];
  includeLeft?: boolean;
}

/** People of a school in the order of a class list: class, then surname, first name. */
export async function listPeople(db: Queryable, schoolId: string, f: PeopleFilter = {}): Promise<Person[]> {
  const q = db('people').select(columns(db)).where('people.school_id', schoolId);
  if (f.kind) q.andWhere('people.kind', f.kind);
  if (f.className) q.andWhere('people.class_name', f.className);
  if (f.ids) q.whereIn('people.id', f.ids.filter(isUuid));
  if (!f.includeLeft) q.whereNull('people.left_at');
  return (await q.orderByRaw(
    `people.kind, length(people.class_name), people.class_name, lower(people.last_name), lower(people.first_name), lower(coalesce(people.middle_name, ''))`,
  )) as Person[];
}

/** The classes of a school with their number of students (for choosing what to print). */
export async function listClasses(db: Queryable, schoolId: string): Promise<{ class_name: string; students: number }[]> {
  const rows = (await db('people')
    .select('class_name')
    .count({ students: '*' })
    .where({ school_id: schoolId, kind: 'student' })
    .whereNull('left_at')
    .groupBy('class_name')
    .orderByRaw('length(class_name), class_name')) as { class_name: string; students: number | string }[];
  return rows.map((r) => ({ class_name: r.class_name, students: Number(r.students) }));
}

export interface ImportResult {
  added: number;
  updated: number;
  unchanged: number;
  /** People whose SNILS the import replaced (a Gosuslugi link the old one made goes with it). */
  snilsReplaced: string[];
  /** Rows left as they were: their person's account holds a privileged role (`keepPersonIds`). */
  kept: string[];
}

export interface ImportOptions {
  /**
   * Existing roster entries this import must not change (the console passes those of curators,
   * admins and support: a school's file does not rewrite what Gosuslugi matching reads for them).
   */
  keepPersonIds?: (ids: string[]) => Promise<Set<string>>;
}

/**
 * Imports a validated roster into a school inside the caller's transaction. A row is the same
 * person as an existing one by the school's own id when it has one, otherwise by kind, full name
 * and birth date; then class, position, SNILS and phone are updated (a new school year moves 5А
 * to 6А). Everyone else is added. The caller's transaction makes it all or nothing.
 */
export async function importPeople(trx: Tx, schoolId: string, people: PersonInput[], opts: ImportOptions = {}): Promise<ImportResult> {
  const result: ImportResult = { added: 0, updated: 0, unchanged: 0, snilsReplaced: [], kept: [] };
  const existing = await listPeople(trx, schoolId, { includeLeft: true });
  const keep = opts.keepPersonIds ? await opts.keepPersonIds(existing.map((p) => p.id)) : new Set<string>();
  const byExternal = new Map(existing.filter((p) => p.external_id).map((p) => [p.external_id!, p]));
  const byIdentity = new Map(existing.map((p) => [identity(p.kind, p.last_name, p.first_name, p.middle_name, p.birth_date), p]));
  for (const p of people) {
    const match =
      (p.externalId ? byExternal.get(p.externalId) : undefined) ??
      byIdentity.get(identity(p.kind, p.lastName, p.firstName, p.middleName, p.birthDate));
    if (!match) {
      await insertPerson(trx, schoolId, p);
      result.added += 1;
      continue;
    }
    const changes: Record<string, unknown> = {};
    const next = row(schoolId, p);
    for (const key of ['staff_role', 'class_name', 'position', 'snils', 'phone', 'external_id', 'middle_name', 'birth_date'] as const) {
      // Empty cells do not erase what the school entered before (SNILS typed in by the curator).
      if (next[key] !== null && next[key] !== match[key]) changes[key] = next[key];
    }
    if (match.left_at) changes.left_at = null;
    if (!Object.keys(changes).length) {
      result.unchanged += 1;
      continue;
    }
    if (keep.has(match.id)) {
      result.kept.push(match.id);
      continue;
    }
    await trx('people').where({ id: match.id }).update({ ...changes, updated_at: trx.fn.now() });
    if (changes.snils !== undefined && match.snils) result.snilsReplaced.push(match.id);
    result.updated += 1;
  }
  return result;
}

function identity(kind: string, last: string, first: string, middle: string | null, birth: string | null): string {
  return [kind, last, first, middle ?? '', birth ?? ''].map((s) => s.toLowerCase().replace(/ё/g, 'е')).join('|');
}

export function personName(p: Pick<Person, 'last_name' | 'first_name' | 'middle_name'>): string {
  return [p.last_name, p.first_name, p.middle_name].filter(Boolean).join(' ');
}
