/**
 * A platform admin makes and unmakes curators. A curator's schools are their own school while
 * they hold the `curator` role, and the schools granted in `curator_schools` (scope.ts):
 * - granting the role: a staff account of a school, named by the school and its login;
 * - granting another school: to someone who is a curator already (no school account becomes a
 *   curator of a foreign school first);
 * - revoking a school: the role (own school) or the grant; access to it ends at the next request,
 *   since the console re-reads the actor every time, and when it was the curator's last school
 *   their console sessions end with it (issue 16, item 3).
 * Each change is one transaction with the account row locked, and applies its row of the side-effect
 * table (effects.ts: `role_grant`, `role_revoke` — the audit record by the bound writer, the
 * console sessions ended when nothing is left to curate).
 */
import type { Knex } from 'knex';
import type { AppContext } from '../server/context.js';
import type { Queryable } from '../db/index.js';
import type { AuditWriter } from '../audit/bound.js';
import { findSchoolById } from '../schools/queries.js';
import { CURATOR, roleSubject, type Actor, type RoleSubject } from '../curator/scope.js';
import { applyEffects, type AfterCommit } from './effects.js';
import { findAccountById } from './queries.js';

export type RoleProblem = 'no_account' | 'not_staff' | 'disabled' | 'already' | 'not_curator' | 'no_school';
export type RoleOutcome = { ok: true; login: string } | { ok: false; problem: RoleProblem };

/** The platform staff member acting (whose scope limits the change) and the request's writer. */
export interface ActedBy {
  actor: Actor;
  audit: AuditWriter;
}

/** One role change: the transaction, then what its row leaves for after the commit. */
async function roleChange(app: AppContext, change: (trx: Knex.Transaction, effects: (after: AfterCommit) => void) => Promise<RoleOutcome>): Promise<RoleOutcome> {
  const after: AfterCommit[] = [];
  const outcome = await app.db.transaction((trx) => change(trx, (a) => after.push(a)));
  for (const a of after) await a();
  return outcome;
}

/** The role `curator` for a staff account, in its own school. */
export function grantCuratorRole(app: AppContext, by: ActedBy, target: { schoolId: string; login: string }): Promise<RoleOutcome> {
  return roleChange(app, async (trx, effects) => {
    if (!(await findSchoolById(trx, target.schoolId))) return { ok: false, problem: 'no_school' };
    const found = await roleSubject(trx, by.actor, target);
    const subject = found && (await locked(trx, by.actor, found.id));
    if (!subject) return { ok: false, problem: 'no_account' };
    if (subject.kind !== 'staff') return { ok: false, problem: 'not_staff' };
    if (subject.disabled) return { ok: false, problem: 'disabled' };
    if (subject.curatorOf.includes(target.schoolId)) return { ok: false, problem: 'already' };
    await trx('users').where({ id: subject.id }).update({ roles: trx.raw('array_append(roles, ?::text)', [CURATOR]), updated_at: trx.fn.now() });
    effects(await audit(app, trx, by, 'role_grant', subject, target.schoolId, 'own'));
    return { ok: true, login: subject.login };
  });
}

/** Another school for someone who is a curator already. */
export function grantCuratorSchool(app: AppContext, by: ActedBy, target: { userId: string; schoolId: string }): Promise<RoleOutcome> {
  return roleChange(app, async (trx, effects) => {
    if (!(await findSchoolById(trx, target.schoolId))) return { ok: false, problem: 'no_school' };
    const subject = await locked(trx, by.actor, target.userId);
    if (!subject) return { ok: false, problem: 'no_account' };
    if (!subject.curatorOf.length) return { ok: false, problem: 'not_curator' };
    if (subject.disabled) return { ok: false, problem: 'disabled' };
    if (subject.curatorOf.includes(target.schoolId)) return { ok: false, problem: 'already' };
    await trx('curator_schools').insert({ user_id: subject.id, school_id: target.schoolId, granted_by: by.actor.user.id });
    effects(await audit(app, trx, by, 'role_grant', subject, target.schoolId, 'granted'));
    return { ok: true, login: subject.login };
  });
}

/** Takes one school from a curator: the role when it is their own school, else the grant. */
export function revokeCurator(app: AppContext, by: ActedBy, target: { userId: string; schoolId: string }): Promise<RoleOutcome> {
  return roleChange(app, async (trx, effects) => {
    const subject = await locked(trx, by.actor, target.userId);
    if (!subject) return { ok: false, problem: 'no_account' };
    if (!subject.curatorOf.includes(target.schoolId)) return { ok: false, problem: 'not_curator' };
    const own = subject.schoolId === target.schoolId && subject.roles.includes(CURATOR);
    if (own) await trx('users').where({ id: subject.id }).update({ roles: trx.raw('array_remove(roles, ?::text)', [CURATOR]), updated_at: trx.fn.now() });
    await trx('curator_schools').where({ user_id: subject.id, school_id: target.schoolId }).del();
    // Nothing left to curate: their console sessions end (a copied cookie with them). Another
    // school still held keeps the session; the revoked one is gone from it at the next request.
    const last = subject.curatorOf.every((id) => id === target.schoolId);
    const after = await audit(app, trx, by, 'role_revoke', subject, target.schoolId, own ? 'own' : 'granted');
    if (last) effects(after);
    return { ok: true, login: subject.login };
  });
}

/** The account, locked for this change, as it is now. */
async function locked(trx: Queryable, actor: Actor, id: string): Promise<RoleSubject | undefined> {
  const subject = await roleSubject(trx, actor, { id });
  if (!subject) return undefined;
  await trx('users').where({ id: subject.id }).forUpdate().first('id');
  return roleSubject(trx, actor, { id });
}

async function audit(app: AppContext, trx: Knex.Transaction, by: ActedBy, cause: 'role_grant' | 'role_revoke', subject: RoleSubject, schoolId: string, via: 'own' | 'granted') {
  const account = (await findAccountById(trx, subject.id))!;
  return applyEffects(app, trx, cause, account, by.audit, { schoolId, details: { role: CURATOR, via }, reason: 'curator role revoked' });
}
