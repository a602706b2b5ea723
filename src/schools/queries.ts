/** Schools: what people call them (number, name, region) and their address slug. */
import type { Queryable } from '../db/index.js';
import { isUuid } from '../roster/queries.js';

export interface School {
  id: string;
  number: string;
  name: string;
  region: string;
  slug: string;
}

const COLUMNS = ['id', 'number', 'name', 'region', 'slug'];

export function findSchoolById(db: Queryable, id: string): Promise<School | undefined> {
  if (!isUuid(id)) return Promise.resolve(undefined);
  return db('schools').select(COLUMNS).where({ id }).first() as Promise<School | undefined>;
}

export function findSchoolBySlug(db: Queryable, slug: string): Promise<School | undefined> {
  return db('schools').select(COLUMNS).where({ slug: slug.toLowerCase() }).first() as Promise<School | undefined>;
}

/** Every school, by region and number, a page at a time. */
export function listSchools(db: Queryable, page: { limit: number; offset: number }): Promise<School[]> {
  return db('schools').select(COLUMNS).orderBy([{ column: 'region' }, { column: 'number' }, { column: 'id' }]).limit(page.limit).offset(page.offset) as Promise<School[]>;
}

/** Schools with this number (one per region at most). */
export function findSchoolsByNumber(db: Queryable, number: string, limit = 20): Promise<School[]> {
  return db('schools').select(COLUMNS).where({ number }).orderBy('region').limit(limit) as Promise<School[]>;
}

/**
 * Schools a person may mean by what they typed: the slug, or words that each appear in the
 * number, name or region — case-insensitive, «ё» = «е», parts of words («лиц 5 корол» finds
 * «Лицей № 5, Королёв»). An exact number comes first. Several schools share a number across
 * regions, so this can return more than one.
 */
export async function searchSchools(db: Queryable, text: string, limit = 20): Promise<School[]> {
  const q = text.normalize('NFC').trim().slice(0, 100);
  if (!q) return [];
  const bySlug = await findSchoolBySlug(db, q);
  if (bySlug) return [bySlug];
  const words = fold(q).split(/[\s,.;№«»"()-]+/).filter(Boolean).slice(0, 8);
  if (!words.length) return [];
  const haystack = `translate(lower(number || ' ' || name || ' ' || region), 'ё', 'е')`;
  const query = db('schools').select(COLUMNS);
  for (const w of words) query.whereRaw(`${haystack} like ? escape '\\'`, [`%${w.replace(/[\\%_]/g, (c) => `\\${c}`)}%`]);
  return query
    .orderByRaw(`(number = ?) desc, region, length(number), number`, [q])
    .limit(limit) as Promise<School[]>;
}

/** Lower case, «ё» as «е»: how school names are compared. */
function fold(s: string): string {
  return s.toLowerCase().replace(/ё/g, 'е');
}

export async function countSchools(db: Queryable): Promise<number> {
  const row = await db('schools').count<{ count: number }[]>({ count: '*' }).first();
  return Number(row?.count ?? 0);
}

/** The school if exactly one exists (a single-school installation needs no choice). */
export async function onlySchool(db: Queryable): Promise<School | undefined> {
  const rows: School[] = await db('schools').select(COLUMNS).limit(2);
  return rows.length === 1 ? rows[0] : undefined;
}

export async function insertSchool(db: Queryable, s: Omit<School, 'id'>): Promise<School> {
  const [row] = await db('schools').insert({ ...s, slug: s.slug.toLowerCase() }).returning(COLUMNS);
  return row as School;
}
