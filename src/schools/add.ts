/**
 * Adding a school — the one way, for the CLI (`school add`) and the platform admin's page: the
 * input rule, the uniqueness checks (address name; number within a region) and the audit row, in
 * one transaction. Problems come back as codes; each caller words them for its reader.
 */
import { z } from 'zod';
import type { Db } from '../db/index.js';
import type { AuditWriter } from '../audit/bound.js';
import { findSchoolBySlug, insertSchool, type School } from './queries.js';

/** `platform` is the console's hint for the platform staff's login form (src/platform/login.ts). */
const RESERVED_SLUGS = new Set(['platform']);

// Shown on every login page of the school: no control or invisible formatting characters (a bidi
// override would make it read as another school), as for an app's name.
const visible = (max: number) => z.string().trim().min(1).max(max).refine((s) => !/[\p{Cc}\p{Cf}]/u.test(s));

const schoolInput = z.object({
  number: z.string().trim().regex(/^[0-9A-Za-zА-Яа-яЁё -]{1,20}$/),
  name: visible(200),
  region: visible(100),
  // The address name (`/s/<slug>`, `<slug>.<SCHOOL_HOST_DOMAIN>`): the number when not given.
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/).refine((s) => !RESERVED_SLUGS.has(s)),
});

export type NewSchool = Omit<School, 'id'>;
export type SchoolProblem = 'number' | 'name' | 'region' | 'slug' | 'slug_taken' | 'exists';

export class SchoolError extends Error {
  override name = 'SchoolError';
  constructor(readonly problem: SchoolProblem) {
    super(`school: ${problem}`);
  }
}

/** The validated school, or the first field that is wrong (in the order of the form). */
export function parseSchoolInput(raw: { number?: string; name?: string; region?: string; slug?: string }): { ok: true; value: NewSchool } | { ok: false; problem: SchoolProblem } {
  const slug = (raw.slug?.trim() || raw.number || '').trim().toLowerCase();
  const r = schoolInput.safeParse({ ...raw, slug });
  if (r.success) return { ok: true, value: r.data };
  const fields = new Set(r.error.issues.map((i) => String(i.path[0])));
  return { ok: false, problem: (['number', 'name', 'region', 'slug'] as const).find((f) => fields.has(f)) ?? 'number' };
}

/** Adds a school that `parseSchoolInput` accepted; throws SchoolError when it exists already. */
export async function addSchool(db: Db, school: NewSchool, by: AuditWriter): Promise<School> {
  return db.transaction(async (trx) => {
    if (await findSchoolBySlug(trx, school.slug)) throw new SchoolError('slug_taken');
    const s = await insertSchool(trx, school).catch((err: { code?: string }) => {
      if (err.code === '23505') throw new SchoolError('exists');
      throw err;
    });
    await by.record({ action: 'school.create', schoolId: s.id, target: { type: 'school', id: s.id } }, trx);
    return s;
  });
}
