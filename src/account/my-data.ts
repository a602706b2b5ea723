/**
 * «Мои данные»: what journal-id holds about the person, as JSON (152-ФЗ art. 14: the right to
 * know what is processed). Everything about the account itself, its roster entry, children,
 * consents, the Gosuslugi link, second factor (whether it is on, never the secret), the apps
 * signed in, and the audit trail about the account. Never password hashes, secrets or tokens.
 */
import type { AppContext } from '../server/context.js';
import type { Account } from '../accounts/queries.js';
import { findSchoolById } from '../schools/queries.js';
import { findPersonById } from '../roster/queries.js';
import { childrenOf } from '../accounts/guardianships.js';
import { listAudit } from '../audit/audit.js';
import { linkOf } from '../esia/queries.js';
import { hasConfirmedTotp } from '../mfa/queries.js';
import { listSignedIn } from './signed-in.js';

export async function myData(app: AppContext, account: Account): Promise<Record<string, unknown>> {
  const [school, person, children, consents, esia, totp, apps, audit] = await Promise.all([
    account.school_id ? findSchoolById(app.db, account.school_id) : undefined,
    account.person_id ? findPersonById(app.db, account.person_id) : undefined,
    childrenOf(app.db, account.id),
    app.db('consents').where({ user_id: account.id }).select('person_id', 'policy_version', 'given_at', 'withdrawn_at'),
    linkOf(app.db, account.id),
    hasConfirmedTotp(app.db, account.id),
    listSignedIn(app, account.id),
    listAudit(app.db, { targetId: account.id, limit: 1000 }),
  ]);
  return {
    exported_at: new Date().toISOString(),
    account: {
      id: account.id, login: account.login, kind: account.kind, roles: account.roles,
      last_name: account.last_name, first_name: account.first_name, middle_name: account.middle_name, birth_date: account.birth_date,
      email: account.email, email_confirmed_at: account.email_verified_at, phone: account.phone,
      snils: account.snils, snils_entered_by: account.snils_source, last_login_at: account.last_login_at,
    },
    school: school ? { name: school.name, region: school.region } : null,
    roster_entry: person ? {
      last_name: person.last_name, first_name: person.first_name, middle_name: person.middle_name, birth_date: person.birth_date,
      class: person.class_name, position: person.position, snils: person.snils, phone: person.phone,
    } : null,
    children: children.map((c) => ({ name: c.name, class: c.class_name })),
    consents,
    gosuslugi: esia ? { linked_at: esia.linked_at, linked_via: esia.linked_via, data_origin: esia.origin, holder_proved: esia.proof, last_login_at: esia.last_login_at } : null,
    two_step_verification: totp,
    apps_signed_in: apps.map((a) => ({ app: a.name, since: a.since, last_used: a.lastUsed, device: a.device })),
    audit: audit.map((e) => ({ at: e.at, action: e.action, outcome: e.outcome, by: e.actor.type === 'user' && e.actor.id === account.id ? 'you' : e.actor.type, ip: e.ip })),
  };
}
