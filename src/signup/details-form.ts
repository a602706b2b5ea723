/**
 * The second page of registration, read once at the edge: what the person typed, normalised, and
 * for each field what is wrong with it (a message key). Passwords are checked later, against the
 * person's names and login (password policy), by the route.
 */
import { z } from 'zod';
import type { MessageKey } from '../i18n/index.js';
import { LOGIN_PATTERN } from '../accounts/password-policy.js';
import { mixesScripts } from '../accounts/login-skeleton.js';
import { EMAIL } from '../accounts/create.js';
import { normalizePhone } from '../roster/person-input.js';

export const MAX_CHILD_FIELDS = 8;

const text = (max: number) => z.string().max(max).catch('').default('').transform((s) => s.normalize('NFC').replace(/\s+/g, ' ').trim());

const raw = z.object({
  code: text(100),
  last_name: text(60),
  first_name: text(60),
  middle_name: text(60),
  login: text(60),
  password: z.string().max(1000).catch('').default(''),
  password2: z.string().max(1000).catch('').default(''),
  email: text(254),
  phone: text(40),
  consent: z.string().max(10).optional().catch(undefined),
  ...Object.fromEntries(Array.from({ length: MAX_CHILD_FIELDS }, (_, i) => [`child${i + 1}`, text(100)])),
});

export type DetailsFields = z.output<typeof raw> & { children: string[] };

export interface FieldError {
  field: string;
  key: MessageKey;
}

/** Letters (any alphabet), spaces, hyphens, apostrophes; starting with a letter. */
const NAME = /^\p{L}[\p{L}\p{M} '’-]*$/u;

export function readDetails(body: unknown, needs: { names: boolean; email: boolean }): { fields: DetailsFields; errors: FieldError[] } {
  const parsed = raw.parse(body && typeof body === 'object' ? body : {});
  const record = parsed as Record<string, string>;
  const children = Array.from({ length: MAX_CHILD_FIELDS }, (_, i) => record[`child${i + 1}`] ?? '').filter(Boolean);
  const fields: DetailsFields = { ...parsed, children };
  const errors: FieldError[] = [];
  if (needs.names) {
    if (!fields.last_name || !fields.first_name) errors.push({ field: !fields.last_name ? 'last_name' : 'first_name', key: 'register.error.name_required' });
    for (const f of ['last_name', 'first_name', 'middle_name'] as const) {
      if (fields[f] && !NAME.test(fields[f])) errors.push({ field: f, key: 'register.error.name_invalid' });
    }
  }
  if (!fields.login) errors.push({ field: 'login', key: 'register.error.login_required' });
  else if (!LOGIN_PATTERN.test(fields.login)) errors.push({ field: 'login', key: 'register.error.login_invalid' });
  else if (mixesScripts(fields.login)) errors.push({ field: 'login', key: 'register.error.login_mixed_script' });
  if (!fields.email && needs.email) errors.push({ field: 'email', key: 'register.error.email_required' });
  else if (fields.email && !EMAIL.test(fields.email)) errors.push({ field: 'email', key: 'register.error.email_invalid' });
  if (fields.phone && !normalizePhone(fields.phone)) errors.push({ field: 'phone', key: 'register.error.phone_invalid' });
  if (fields.password && fields.password !== fields.password2) errors.push({ field: 'password2', key: 'password.mismatch' });
  if (fields.consent !== '1') errors.push({ field: 'consent', key: 'register.error.consent' });
  return { fields, errors };
}
