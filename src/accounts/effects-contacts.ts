/**
 * The contacts rows of the side-effect table (issue 17.1): what else happens when an account's
 * email, phone, SNILS or Gosuslugi link changes. Same shape as the password rows of
 * `effects.ts` (sessions, device cookies, letters by recipient, throttle, audit event); the
 * table spreads these rows in. The verbs of `contacts.ts` and `gosuslugi-links.ts` send the
 * letters this table names, so the table is what happens, not a description of it.
 *
 * Letters: `old` is the address before an email change (told only when it was confirmed — an
 * unconfirmed address may be someone else's), `new` the address after it (asked to confirm
 * itself, `verify-email`), `confirmed` the account's confirmed address.
 */
import type { Effect } from './effects.js';

export const CONTACT_EFFECTS = {
  email_change: {
    what: 'a new email address: by the person (/account, the confirm_email prompt), a curator (console), the CLI, the admin API or the roster',
    sessions: 'none', deviceCookies: 'none',
    letters: [{ template: 'verify-email', to: 'new' }, { template: 'email-changed', to: 'old' }],
    liftThrottle: false,
    audit: 'email.change',
  },
  email_confirm: {
    what: 'the address confirmed from its /verify link',
    sessions: 'none', deviceCookies: 'none', letters: [], liftThrottle: false,
    audit: 'email.confirmed',
  },
  phone: {
    what: 'a phone number set or removed by a curator (recorded with the SNILS and email of the same form)',
    sessions: 'none', deviceCookies: 'none', letters: [], liftThrottle: false,
    audit: 'user.contacts.edit',
  },
  snils: {
    what: "the person's own SNILS (/account, after the password); a curator's is the console's user.contacts.edit, the roster's is roster.import. A link the old school SNILS made by itself goes with it (esia_unlink)",
    sessions: 'none', deviceCookies: 'none', letters: [], liftThrottle: false,
    audit: 'snils.change',
  },
  esia_link: {
    what: 'a Gosuslugi link made at a Gosuslugi login',
    sessions: 'none', deviceCookies: 'none', letters: [{ template: 'esia-linked', to: 'confirmed' }], liftThrottle: false,
    audit: 'esia.link',
  },
  esia_unlink: {
    what: 'a Gosuslugi link removed: by the person (/account), a curator, or with the SNILS that made it',
    sessions: 'none', deviceCookies: 'none', letters: [{ template: 'esia-unlinked', to: 'confirmed' }], liftThrottle: false,
    audit: 'esia.unlink',
  },
} as const satisfies Record<string, Effect>;

export type ContactCause = keyof typeof CONTACT_EFFECTS;
