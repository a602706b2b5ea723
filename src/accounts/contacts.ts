/**
 * The data Gosuslugi matching reads on an account (SNILS, email, phone), written in one place so
 * that who entered it is always recorded with it: `snils_source` (the school vouches for it, or the
 * person typed it) and `snils_entered_by` / `email_entered_by` (the curator who typed it into the
 * console, named on the link it makes and in its letter).
 */
import type { Queryable, Tx } from '../db/index.js';
import type { AppContext } from '../server/context.js';
import type { AuditWriter } from '../audit/bound.js';
import { sendVerification } from '../verify/send.js';
import type { Account } from './queries.js';
import { CONTACT_EFFECTS } from './effects-contacts.js';

export interface SchoolContacts {
  /** 11 digits, or null to remove it. */
  snils: string | null;
  /** Normalised, or null. */
  phone: string | null;
}

/** A curator's edit in the console: a SNILS they enter is the school's (docs/esia.md). */
export async function setContactsBySchool(db: Queryable, user: Pick<Account, 'id' | 'snils'>, c: SchoolContacts, curatorId: string): Promise<void> {
  await db('users').where({ id: user.id }).update({
    snils: c.snils, snils_source: c.snils ? 'school' : null,
    // The same number saved again keeps who entered it first.
    ...(c.snils !== user.snils ? { snils_entered_by: c.snils ? curatorId : null } : {}),
    phone: c.phone,
    updated_at: db.fn.now(),
  });
}

/** The person's own SNILS (account page, after the password): typed by them, nobody else's entry (the `snils` row). */
export async function setOwnSnils(trx: Tx, account: Pick<Account, 'id' | 'school_id'>, snils: string | null, by: AuditWriter): Promise<void> {
  await trx('users').where({ id: account.id }).update({ snils, snils_source: snils ? 'self' : null, snils_entered_by: null, updated_at: trx.fn.now() });
  await by.record({ action: CONTACT_EFFECTS.snils.audit, target: { type: 'user', id: account.id }, schoolId: account.school_id, details: { removed: !snils } }, trx);
}

export interface EmailChange {
  /** The new address (normalised), or null to remove it. */
  email: string | null;
  /** Who typed it: null when it is the person's own, else the curator's account id (`email_entered_by`). */
  enteredBy: string | null;
  /** The audit record's details beyond the row's event (e.g. where the change came from). */
  details?: Record<string, unknown>;
  /** The audit event, when the surface records the change under its own (the console's `user.contacts.edit`); none: the row's. */
  audit?: string | false;
}

/**
 * Changes the account's email, with the `email_change` row: the new address is asked to confirm
 * itself (`verify-email`), the old one, when it was confirmed, hears of its replacement
 * (`email-changed`: a hijacked session or a mistaken curator cannot move the account silently),
 * and `by` records it. The same address saved again keeps its confirmation and who entered it.
 * Returns whether the address changed.
 */
export async function changeEmail(app: AppContext, trx: Tx, account: EmailHolder, c: EmailChange, by: AuditWriter): Promise<boolean> {
  const old = account.email;
  const changed = (c.email ?? '').toLowerCase() !== (old ?? '').toLowerCase();
  if (c.email !== old) {
    await trx('users').where({ id: account.id }).update({
      email: c.email,
      ...(changed ? { email_verified_at: null, email_entered_by: c.email ? c.enteredBy : null } : {}),
      updated_at: trx.fn.now(),
    });
  }
  for (const letter of CONTACT_EFFECTS.email_change.letters) {
    if (letter.to === 'new' && c.email && (changed || !account.email_verified_at)) await sendVerification(app, trx, account, c.email);
    if (letter.to === 'old' && changed && old && account.email_verified_at) {
      await app.mail.enqueue(trx, { to: old, template: letter.template, locale: 'ru', locals: { name: account.first_name ?? '', login: account.login, email: c.email ?? '—' } });
    }
  }
  if (c.audit !== false) {
    await by.record({ action: c.audit ?? CONTACT_EFFECTS.email_change.audit, target: { type: 'user', id: account.id }, schoolId: account.school_id, details: { changed, ...c.details } }, trx);
  }
  return changed;
}

/**
 * Confirms the address a /verify link was sent to (`email_confirm`), if it is still the account's:
 * an address changed since the letter is not confirmed by it. Returns whether it confirmed.
 */
export async function confirmEmail(trx: Tx, account: Pick<Account, 'id' | 'email' | 'school_id'>, email: string, by: AuditWriter): Promise<boolean> {
  if (account.email?.toLowerCase() !== email.toLowerCase()) return false;
  await trx('users').where({ id: account.id }).update({ email_verified_at: trx.fn.now(), updated_at: trx.fn.now() });
  await by.record({ action: CONTACT_EFFECTS.email_confirm.audit, target: { type: 'user', id: account.id }, schoolId: account.school_id }, trx);
  return true;
}

type EmailHolder = Pick<Account, 'id' | 'login' | 'first_name' | 'email' | 'email_verified_at' | 'school_id'>;
