/**
 * What else happens when an account changes — one row per cause, read as documentation
 * (docs/account-effects.md renders it) and applied by one function, so the five ways of setting a
 * password can no longer drift apart (issue 17.1). Shaped after Ory Kratos's flow hooks
 * (session_destroyer, show_verification_ui) and Keycloak's required actions.
 *
 * Each row says:
 * - `sessions`: which sign-ins end through `app.sessions.endSessions` — `all` (every browser, every
 *   app's refresh token, every console session, back-channel logouts queued), `others` (all but
 *   this browser's SSO session and its apps' grants: the person who just proved the password stays
 *   in), `console` (only the curator/platform console sessions: a revoked role), `none`.
 * - `deviceCookies`: the known-device cookies (`jid_dev_*`, and the second factor's `jid_2fa_*`).
 *   They carry the password's generation (login/known-device.ts), so a new password voids them all;
 *   `all-but-this` re-issues this browser's password device cookie. `none`: the change leaves them.
 * - `letters`: which letter goes to which address. `confirmed`: the account's email when it is
 *   confirmed (an unconfirmed address may be someone else's); `old`/`new`: the address before and
 *   after an email change; `guardians`: the child's other guardians (not restricted ones) — that
 *   letter names the child and is written by signup/link-children.ts, one per child. No letter
 *   goes to an address nobody confirmed.
 * - `liftThrottle`: whether the login's brute-force lock is lifted (the owner just proved
 *   themselves some other way, or was handed a new password).
 * - `audit`: the event, written in the change's transaction by the bound writer (the actor is who
 *   acted: the person, the curator, the CLI operator).
 * - `password`: for a password cause, whose password it is — `chosen` (the person typed it: the
 *   rule `app.passwords.check` with the login, the names and the birth date) or `generated` (made
 *   by generatePassword, shown once) — and `mustChange`, whether the next login goes through
 *   «Смена пароля».
 *
 * `applyEffects` does the in-transaction part (audit, letters) and returns what is left for after
 * the commit (sessions, throttle), so that an ended session never precedes a change that rolled
 * back; `changeAccount` runs both around the caller's write.
 */
import type { Knex } from 'knex';
import type { Context } from 'koa';
import type { AppContext } from '../server/context.js';
import type { AuditWriter } from '../audit/bound.js';
import { moscowTime, type LetterName } from '../email/templates.js';
import type { Account } from './queries.js';
import { findSchoolById } from '../schools/queries.js';
import { rememberDevice } from '../login/known-device.js';
import { CONTACT_EFFECTS } from './effects-contacts.js';

export type SessionsEnd = 'all' | 'others' | 'console' | 'none';
export type DeviceCookies = 'all' | 'all-but-this' | 'none';
export type Recipient = 'confirmed' | 'old' | 'new' | 'guardians';

export interface Letter {
  template: LetterName;
  to: Recipient;
}

export interface PasswordRow {
  /** chosen: the person typed it and the rule applies; generated: made here, shown once. */
  source: 'chosen' | 'generated';
  /** The next login goes through «Смена пароля». */
  mustChange: boolean;
}

export interface Effect {
  /** One line for the rendered table. */
  what: string;
  sessions: SessionsEnd;
  deviceCookies: DeviceCookies;
  letters: readonly Letter[];
  liftThrottle: boolean;
  audit: string;
  password?: PasswordRow;
}

const PASSWORD_CHANGED: Letter = { template: 'password-changed', to: 'confirmed' };

/** A password set, by cause. */
export const PASSWORD_EFFECTS = {
  registration: {
    what: 'registration by invite code: the first password',
    sessions: 'none', deviceCookies: 'none', letters: [], liftThrottle: false,
    audit: 'user.register',
    password: { source: 'chosen', mustChange: false },
  },
  recovery_link: {
    what: 'a new password from a «Забыли пароль?» link',
    // Whoever had the old password (and may have caused the recovery) is out everywhere; the
    // owner proved the mailbox, so the guessing lock no longer protects anyone.
    sessions: 'all', deviceCookies: 'all', letters: [PASSWORD_CHANGED], liftThrottle: true,
    audit: 'password.recover',
    password: { source: 'chosen', mustChange: false },
  },
  own_change: {
    what: 'the person changes it on /account (old password asked again)',
    // Keycloak's «sign out other devices»: this browser typed both passwords and stays in.
    sessions: 'others', deviceCookies: 'all-but-this', letters: [PASSWORD_CHANGED], liftThrottle: false,
    audit: 'password.change',
    password: { source: 'chosen', mustChange: false },
  },
  forced_change: {
    what: '«Смена пароля» after a one-time password (the login in progress goes on)',
    sessions: 'others', deviceCookies: 'all-but-this', letters: [PASSWORD_CHANGED], liftThrottle: false,
    audit: 'password.change',
    password: { source: 'chosen', mustChange: false },
  },
  curator_reset: {
    what: 'a one-time password set by a curator (console, password sheet)',
    // The holder of the old password is out; the person gets the new one on paper and must be
    // able to use it at once, hence the lock lifted, and must choose their own at the next login.
    sessions: 'all', deviceCookies: 'all', letters: [PASSWORD_CHANGED], liftThrottle: true,
    audit: 'user.password.reset',
    password: { source: 'generated', mustChange: true },
  },
  cli: {
    what: 'a one-time password set by an operator (`journal-id user reset-password`)',
    sessions: 'all', deviceCookies: 'all', letters: [PASSWORD_CHANGED], liftThrottle: true,
    audit: 'password.reset',
    password: { source: 'generated', mustChange: true },
  },
} as const satisfies Record<string, Effect>;

export type PasswordCause = keyof typeof PASSWORD_EFFECTS;

/** Second factors, status, roles, school, deletion, guardianships. */
export const ACCOUNT_EFFECTS = {
  mfa_enrol: {
    what: 'two-step verification turned on (a code from the app confirms it)',
    sessions: 'none', deviceCookies: 'none', letters: [], liftThrottle: false, audit: 'mfa.enrol',
  },
  mfa_disable: {
    what: 'the person turns two-step verification off (password and a code)',
    sessions: 'none', deviceCookies: 'none', letters: [], liftThrottle: false, audit: 'mfa.disable',
  },
  mfa_reset: {
    what: 'the operator removes the second factor (`journal-id user reset-mfa`: a lost phone)',
    // A lost phone may be a stolen one: every sign-in made with it ends.
    sessions: 'all', deviceCookies: 'none', letters: [], liftThrottle: false, audit: 'mfa.reset',
  },
  disable: {
    what: 'the account disabled (a curator on the console; the leavers job)',
    sessions: 'all', deviceCookies: 'none', letters: [], liftThrottle: false, audit: 'user.disable',
  },
  enable: {
    what: 'the account enabled again (a curator on the console)',
    sessions: 'none', deviceCookies: 'none', letters: [], liftThrottle: true, audit: 'user.enable',
  },
  role_grant: {
    what: 'a platform admin makes someone a curator (of their own school, or of another one)',
    sessions: 'none', deviceCookies: 'none', letters: [], liftThrottle: false, audit: 'role.grant',
  },
  role_revoke: {
    what: 'a platform admin takes a school from a curator: the console sessions end when it was their last',
    sessions: 'console', deviceCookies: 'none', letters: [], liftThrottle: false, audit: 'role.revoke',
  },
  transfer: {
    what: 'a curator moves a pupil to another school (the login may be renamed)',
    // Tokens name the old school (claims); the apps of the old school must let go.
    sessions: 'all', deviceCookies: 'none', letters: [], liftThrottle: false, audit: 'user.transfer.out',
  },
  delete: {
    what: 'a curator deletes the account on the person\'s request (sessions end before the erasure)',
    sessions: 'all', deviceCookies: 'none', letters: [], liftThrottle: false, audit: 'user.delete',
  },
  guardian_link: {
    what: 'a parent linked to a child by a parent code on /account (at registration: user.register)',
    // A code may have been stolen from a sheet: the parents already linked hear of it.
    sessions: 'none', deviceCookies: 'none', letters: [{ template: 'guardian-linked', to: 'guardians' }], liftThrottle: false, audit: 'guardian.link',
  },
  guardian_unlink: {
    what: 'a curator removes a parent\'s link to a child',
    sessions: 'none', deviceCookies: 'none', letters: [], liftThrottle: false, audit: 'guardianship.remove',
  },
  guardian_restrict: {
    what: 'a curator restricts a link (a court order): the parent no longer sees the child',
    sessions: 'none', deviceCookies: 'none', letters: [], liftThrottle: false, audit: 'guardianship.restrict',
  },
  guardian_unrestrict: {
    what: 'a curator lifts the restriction',
    sessions: 'none', deviceCookies: 'none', letters: [], liftThrottle: false, audit: 'guardianship.unrestrict',
  },
  // ---- contacts: email, phone, SNILS, Gosuslugi links (effects-contacts.ts; the verbs of
  // contacts.ts and gosuslugi-links.ts apply them) ---------------------------------------------
  ...CONTACT_EFFECTS,
  // ---- end of contacts ------------------------------------------------------------------------
} as const satisfies Record<string, Effect>;

export type AccountCause = keyof typeof ACCOUNT_EFFECTS;
export type Cause = PasswordCause | AccountCause;

/** The whole table. */
export const EFFECTS: Record<Cause, Effect> = { ...PASSWORD_EFFECTS, ...ACCOUNT_EFFECTS };

export interface EffectExtra {
  /** This browser, when the row keeps it (`others`, `all-but-this`): its request. */
  ctx?: Context;
  /** The addresses of an email change. */
  oldEmail?: string | null;
  newEmail?: string | null;
  /** Locals of the letters, beyond name, login, school and when. */
  locals?: Record<string, string>;
  /** The audit record's details and target (the account by default). */
  details?: Record<string, unknown>;
  target?: { type: string; id: string };
  /** The school the audit record belongs to, when not the account's (a role in another school). */
  schoolId?: string | null;
  /** Why, for the sessions.ended record. */
  reason?: string;
}

/** What is left after the commit. */
export type AfterCommit = () => Promise<void>;

function addressOf(account: Account, to: Exclude<Recipient, 'guardians'>, extra: EffectExtra): string | null | undefined {
  if (to === 'old') return extra.oldEmail;
  if (to === 'new') return extra.newEmail;
  return account.email && account.email_verified_at ? account.email : undefined;
}

/**
 * The in-transaction part of a cause's row — the audit record and the letters commit or vanish
 * with the change; returns the part that must follow the commit (ending sessions, lifting the
 * throttle, re-issuing this browser's device cookie).
 */
export async function applyEffects(
  app: AppContext,
  trx: Knex.Transaction,
  cause: Cause,
  account: Account,
  by: AuditWriter,
  extra: EffectExtra = {},
): Promise<AfterCommit> {
  const row = EFFECTS[cause];
  await by.record({ action: row.audit, schoolId: extra.schoolId !== undefined ? extra.schoolId : account.school_id, target: extra.target ?? { type: 'user', id: account.id }, details: extra.details }, trx);
  if (row.letters.length) {
    const school = account.school_id ? await findSchoolById(trx, account.school_id) : undefined;
    for (const letter of row.letters) {
      if (letter.to === 'guardians') continue; // written by linkChildren, one per child
      const to = addressOf(account, letter.to, extra);
      if (!to) continue;
      await app.mail.enqueue(trx, {
        to,
        template: letter.template,
        locale: 'ru',
        locals: { name: account.first_name ?? '', login: account.login, school: school?.name ?? '', when: moscowTime(), ...extra.locals },
      });
    }
  }
  return async () => {
    const why = { reason: extra.reason ?? cause, by };
    if (row.sessions === 'all') await app.sessions.endSessions(account.id, why);
    else if (row.sessions === 'others') await app.sessions.endSessions(account.id, { ...why, keepSessionOf: extra.ctx });
    else if (row.sessions === 'console') await app.sessions.endConsoleSessions(account.id, why);
    if (row.liftThrottle) await app.throttle.unlockLogin(account.school_id, account.login);
    if (row.deviceCookies === 'all-but-this' && extra.ctx) await rememberDevice(app, extra.ctx, account.id);
  };
}

/**
 * One change of an account with its row: `write` runs in a transaction with the audit record and
 * the letters; after the commit the sessions end and the throttle is lifted as the row says.
 * `write` may return false to say nothing changed (then no effects apply).
 */
export async function changeAccount<T>(
  app: AppContext,
  cause: Cause,
  account: Account,
  by: AuditWriter,
  write: (trx: Knex.Transaction) => Promise<T | false>,
  extra: EffectExtra = {},
): Promise<T | false> {
  let after: AfterCommit | undefined;
  const result = await app.db.transaction(async (trx) => {
    const r = await write(trx);
    if (r === false) return false;
    after = await applyEffects(app, trx, cause, account, by, extra);
    return r;
  });
  if (after) await after();
  return result;
}
