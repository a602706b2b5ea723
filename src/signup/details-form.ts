/**
 * The second page of registration, read once at the edge: what the person typed, normalised, and
 * for each field what is wrong with it (a message key). Passwords are checked later, against the
 * person's names and login (password policy), by the route.
 */
import { z } from 'zod';
import type { MessageKey } from '../i18n/index.js';
import { cleanText, readField, type PersonField } from '../accounts/fields.js';

export const MAX_CHILD_FIELDS = 8;

const text = (max: number) => z.string().max(max).catch('').default('').transform((s) => s.normalize('NFC').replace(/\s+/g, ' ').trim());
/** A person field as typed: fields.ts cleans and judges it. */
const typed = z.string().max(1000).catch('').default('');

const raw = z.object({
  code: text(100),
  last_name: typed,
  first_name: typed,
  middle_name: typed,
  login: typed,
  password: z.string().max(1000).catch('').default(''),
  password2: z.string().max(1000).catch('').default(''),
  email: typed,
  phone: typed,
  consent: z.string().max(10).optional().catch(undefined),
  ...Object.fromEntries(Array.from({ length: MAX_CHILD_FIELDS }, (_, i) => [`child${i + 1}`, text(100)])),
});

export type DetailsFields = z.output<typeof raw> & { children: string[] };

export interface FieldError {
  field: string;
  key: MessageKey;
  vars?: Record<string, string | number>;
}

export function readDetails(body: unknown, needs: { names: boolean; email: boolean }): { fields: DetailsFields; errors: FieldError[] } {
  const parsed = raw.parse(body && typeof body === 'object' ? body : {});
  const record = parsed as Record<string, string>;
  const children = Array.from({ length: MAX_CHILD_FIELDS }, (_, i) => record[`child${i + 1}`] ?? '').filter(Boolean);
  const fields: DetailsFields = { ...parsed, children };
  const errors: FieldError[] = [];
  // The person fields by their one set of rules: the value normalised, or kept as typed (cleaned) with its problem.
  const read = (name: PersonField, input: 'last_name' | 'first_name' | 'middle_name' | 'login' | 'email' | 'phone', required: boolean | MessageKey) => {
    const r = readField(name, parsed[input], required);
    if (r.ok) fields[input] = r.value ?? '';
    else {
      fields[input] = cleanText(parsed[input]).slice(0, 254);
      errors.push({ field: input, key: r.problem.key, vars: r.problem.vars });
    }
  };
  if (needs.names) {
    read('lastName', 'last_name', true);
    read('firstName', 'first_name', true);
    read('middleName', 'middle_name', false);
  }
  read('login', 'login', true);
  read('email', 'email', needs.email ? 'register.error.email_required' : false);
  read('phone', 'phone', false);
  if (fields.password && fields.password !== fields.password2) errors.push({ field: 'password2', key: 'password.mismatch' });
  if (fields.consent !== '1') errors.push({ field: 'consent', key: 'register.error.consent' });
  return { fields, errors };
}
