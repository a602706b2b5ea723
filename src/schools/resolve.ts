/** Which school a login form is for: the request's hint, the remembered choice, or the only school. */
import type { Context } from 'koa';
import type { Queryable } from '../db/index.js';
import { findSchoolBySlug, findSchoolsByNumber, onlySchool, type School } from './queries.js';

export const SCHOOL_COOKIE = 'jid_school';

/** A slug, or a school number that is unique across regions. */
export async function schoolFromHint(db: Queryable, hint: string | undefined): Promise<School | undefined> {
  if (!hint || hint.length > 64) return undefined;
  const bySlug = await findSchoolBySlug(db, hint);
  if (bySlug) return bySlug;
  const byNumber = await findSchoolsByNumber(db, hint, 2);
  return byNumber.length === 1 ? byNumber[0] : undefined;
}

export async function schoolForRequest(db: Queryable, ctx: Context, paramHint?: string): Promise<School | undefined> {
  return (
    (await schoolFromHint(db, paramHint)) ??
    (await schoolFromHint(db, ctx.cookies.get(SCHOOL_COOKIE, { signed: false }))) ??
    (await onlySchool(db))
  );
}

export function rememberSchool(ctx: Context, school: School): void {
  ctx.cookies.set(SCHOOL_COOKIE, school.slug, {
    signed: false, httpOnly: true, sameSite: 'lax', path: '/', maxAge: 365 * 24 * 3600 * 1000, overwrite: true,
  });
}

export function forgetSchool(ctx: Context): void {
  ctx.cookies.set(SCHOOL_COOKIE, null, { signed: false, path: '/' });
}
