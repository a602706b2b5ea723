/**
 * One person of a school's roster, read once at the edge — from the command line, a web form or
 * a CSV row, all strings, possibly empty or missing — by one zod schema (`personSchema`).
 *
 * Every value is cleaned and checked as every person field is (src/accounts/fields.ts): no
 * invisible or control characters, whitespace collapsed, an empty value is "not given"; values are
 * normalised (class «6 а» → «6А», date 05.04.2013 → 2013-04-05, SNILS → 11 digits, phone → +7
 * and ten digits), and each problem is named per field, in Russian for the person who typed it
 * and in English for logs and the command line (src/i18n, keys `field.*`).
 *
 * Decisions (see also the functions below):
 * - kind: `student`/`ученик`(`ученица`, `учащийся`, `обучающийся`), `staff`/`сотрудник`
 *   (`сотрудница`); `учитель`/`teacher` (`учительница`, `педагог`) = staff + teacher;
 *   `администрация`/`administration` (`администратор`) = staff + administration. Case and ё/е
 *   do not matter. Staff without a role are teachers. A kind that names a role and a different
 *   staffRole is an error, not a silent choice.
 * - students have a class and neither a staff role nor a position; staff have a role and no class.
 * - names, class, birth date, SNILS, phone: the person fields' one set of rules, with the same
 *   messages at every door (src/accounts/fields.ts).
 * - position: free text ≤ 100; external id: ≤ 64 printable characters (any, after the hygiene
 *   above), compared exactly.
 * - «�» (U+FFFD, left by decoding a file in the wrong encoding) is refused with that advice.
 */
import { z } from 'zod';
import { field, fieldSchema, fieldTexts, fold, quote, INVALID, type Invalid } from '../accounts/fields.js';

// The person fields' rules live in src/accounts/fields.ts (one for every door); these names stay
// importable from here for the roster's callers.
export { cleanText, fold, formatSnils, normalizeClassName, normalizePhone, validSnils, NAME_MAX } from '../accounts/fields.js';

export type PersonKind = 'student' | 'staff';
export type StaffRole = 'teacher' | 'administration';

export interface PersonInput {
  kind: PersonKind;
  staffRole: StaffRole | null;
  lastName: string;
  firstName: string;
  middleName: string | null;
  /** YYYY-MM-DD */
  birthDate: string | null;
  className: string | null;
  position: string | null;
  /** 11 digits */
  snils: string | null;
  /** +7 and ten digits, e.g. +79123456789 */
  phone: string | null;
  externalId: string | null;
}

export interface FieldProblem {
  field: keyof PersonInput;
  /** Russian, for a person. */
  message: string;
  messageEn: string;
}

export const PERSON_FIELDS = [
  'kind', 'staffRole', 'lastName', 'firstName', 'middleName', 'birthDate', 'className', 'position', 'snils', 'phone', 'externalId',
] as const satisfies readonly (keyof PersonInput)[];

export const POSITION_MAX = 100;
export const EXTERNAL_ID_MAX = 64;
// ---------------------------------------------------------------------------------------------
// Kind and staff role

const KINDS: Record<string, { kind: PersonKind; role: StaffRole | null }> = {};
for (const w of ['student', 'ученик', 'ученица', 'учащийся', 'учащаяся', 'обучающийся', 'обучающаяся']) KINDS[w] = { kind: 'student', role: null };
for (const w of ['staff', 'сотрудник', 'сотрудница']) KINDS[w] = { kind: 'staff', role: null };
for (const w of ['teacher', 'учитель', 'учительница', 'педагог']) KINDS[w] = { kind: 'staff', role: 'teacher' };
for (const w of ['administration', 'администрация', 'администратор']) KINDS[w] = { kind: 'staff', role: 'administration' };

const ROLES: Record<string, StaffRole> = {};
for (const [w, k] of Object.entries(KINDS)) if (k.role) ROLES[w] = k.role;

// ---------------------------------------------------------------------------------------------
// The schema

const kindField = field((v, fail) => KINDS[fold(v)] ?? fail('field.kind.unknown', { value: quote(v) }), 'field.kind.required');
const roleField = field<StaffRole>((v, fail) => ROLES[fold(v)] ?? fail('field.staffRole.unknown', { value: quote(v) }));
const positionField = field<string>((v, fail) => ([...v].length > POSITION_MAX ? fail('field.position.too_long', { max: POSITION_MAX }) : v));
const externalIdField = field<string>((v, fail) => ([...v].length > EXTERNAL_ID_MAX ? fail('field.externalId.too_long', { max: EXTERNAL_ID_MAX }) : v));

const fieldsSchema = z.object({
  kind: kindField,
  staffRole: roleField,
  lastName: fieldSchema('lastName', true),
  firstName: fieldSchema('firstName', true),
  middleName: fieldSchema('middleName'),
  birthDate: fieldSchema('birthDate'),
  className: fieldSchema('className'),
  position: positionField,
  snils: fieldSchema('snils'),
  phone: fieldSchema('phone'),
  externalId: externalIdField,
});

type Fields = z.output<typeof fieldsSchema>;
const ok = <T>(v: T | Invalid): v is T => v !== INVALID;

/**
 * The person's rules across fields (kind ↔ role, class, position). Runs also when some fields
 * failed, so that all problems are reported at once; a failed field is simply not looked at.
 */
function crossCheck(v: Fields, ctx: z.RefinementCtx<Fields>): void {
  const fail = (path: keyof PersonInput, key: Parameters<typeof fieldTexts>[0]['key']) => {
    const { message, messageEn: en } = fieldTexts({ key });
    ctx.addIssue({ code: 'custom', path: [path], message, params: { key, en } });
  };
  if (!v.kind || !ok(v.kind)) return; // missing or unknown: reported already; nothing depends on a guess
  if (v.kind.kind === 'student') {
    if (v.staffRole !== null && ok(v.staffRole)) fail('staffRole', 'field.staffRole.student');
    if (v.className === null) fail('className', 'field.className.required');
    if (v.position !== null && ok(v.position)) fail('position', 'field.position.student');
  } else {
    if (v.className !== null && ok(v.className)) fail('className', 'field.className.staff');
    if (v.kind.role && v.staffRole && ok(v.staffRole) && v.staffRole !== v.kind.role) fail('staffRole', 'field.staffRole.contradicts');
  }
}

/** Only when every field and the cross-field rules passed. */
function toPersonInput(v: Fields): PersonInput {
  const value = <T>(x: T | null | Invalid): T | null => (x === INVALID ? null : (x as T | null));
  const kind = value(v.kind)!;
  return {
    kind: kind.kind,
    staffRole: kind.kind === 'staff' ? (value(v.staffRole) ?? kind.role ?? 'teacher') : null,
    lastName: value(v.lastName)!,
    firstName: value(v.firstName)!,
    middleName: value(v.middleName),
    birthDate: value(v.birthDate),
    className: value(v.className),
    position: value(v.position),
    snils: value(v.snils),
    phone: value(v.phone),
    externalId: value(v.externalId),
  };
}

/**
 * The schema of one person: raw strings (keys as in PersonInput; missing, undefined or '' = not
 * given; unknown keys ignored) → PersonInput. Issues carry the Russian text as `message` and the
 * English one as `params.en`; use `parsePerson` for a ready list of problems.
 */
export const personSchema = fieldsSchema
  .check(z.superRefine(crossCheck, { when: (payload) => typeof payload.value === 'object' && payload.value !== null }))
  .transform(toPersonInput);

export function parsePerson(raw: Record<string, string | undefined>): { ok: true; value: PersonInput } | { ok: false; problems: FieldProblem[] } {
  const r = personSchema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  const problems = r.error.issues.map((i): FieldProblem => {
    const f = i.path[0];
    const known = typeof f === 'string' && (PERSON_FIELDS as readonly string[]).includes(f);
    const en = i.code === 'custom' ? (i.params as { en?: string } | undefined)?.en : undefined;
    // Anything but our own issues (raw not an object) names the kind, the one field always required.
    return { field: known ? (f as keyof PersonInput) : 'kind', message: en ? i.message : 'Недопустимые данные.', messageEn: en ?? i.message };
  });
  problems.sort((a, b) => PERSON_FIELDS.indexOf(a.field) - PERSON_FIELDS.indexOf(b.field));
  return { ok: false, problems };
}
