/**
 * A platform admin makes and unmakes curators. A curator's schools are their own school while
 * they hold the `curator` role, and the schools granted in `curator_schools` (scope.ts):
 * - granting the role: a staff account of a school, named by the school and its login;
 * - granting another school: to someone who is a curator already (no school account becomes a
 *   curator of a foreign school first);
 * - revoking a school: the role (own school) or the grant; access to it ends at the next request,
 *   since the console re-reads the actor every time, and when it was the curator's last school
 *   their console sessions end with it (issue 16, item 3).
 * Each change is one transaction with the account row locked, and writes `role.grant` or
 * `role.revoke` (actor, target, school, address).
 */
import type { Db, Queryable } from '../db/index.js';
import { writeAudit } from '../audit/audit.js';
import { endConsoleSessionsOf } from '../curator/console-sessions.js';
import { findSchoolById } from '../schools/queries.js';
import { CURATOR, roleSubject, type Actor, type RoleSubject } from '../curator/scope.js';

export type RoleProblem = 'no_account' | 'not_staff' | 'disabled' | 'already' | 'not_curator' | 'no_school';
export type RoleOutcome = { ok: true; login: string } | { ok: false; problem: RoleProblem };

export interface ActedBy {
  actor: Actor;
  ip: string;
  requestId?: string;
}

/** The role `curator` for a staff account, in its own school. */
export function grantCuratorRole(db: Db, by: ActedBy, target: { schoolId: string; login: string }): Promise<RoleOutcome> {
  return db.transaction(async (trx) => {
    if (!(await findSchoolById(trx, target.schoolId))) return { ok: false, problem: 'no_school' };
    const found = await roleSubject(trx, by.actor, target);
    const subject = found && (await locked(trx, by.actor, found.id));
    if (!subject) return { ok: false, problem: 'no_account' };
    if (subject.kind !== 'staff') return { ok: false, problem: 'not_staff' };
    if (subject.disabled) return { ok: false, problem: 'disabled' };
    if (subject.curatorOf.includes(target.schoolId)) return { ok: false, problem: 'already' };
    await trx('users').where({ id: subject.id }).update({ roles: trx.raw('array_append(roles, ?::text)', [CURATOR]), updated_at: trx.fn.now() });
    await audit(trx, by, 'role.grant', subject, target.schoolId, 'own');
    return { ok: true, login: subject.login };
  });
}

/** Another school for someone who is a curator already. */
export function grantCuratorSchool(db: Db, by: ActedBy, target: { userId: string; schoolId: string }): Promise<RoleOutcome> {
  return db.transaction(async (trx) => {
    if (!(await findSchoolById(trx, target.schoolId))) return { ok: false, problem: 'no_school' };
    const subject = await locked(trx, by.actor, target.userId);
    if (!subject) return { ok: false, problem: 'no_account' };
    if (!subject.curatorOf.length) return { ok: false, problem: 'not_curator' };
    if (subject.disabled) return { ok: false, problem: 'disabled' };
    if (subject.curatorOf.includes(target.schoolId)) return { ok: false, problem: 'already' };
    await trx('curator_schools').insert({ user_id: subject.id, school_id: target.schoolId, granted_by: by.actor.user.id });
    await audit(trx, by, 'role.grant', subject, target.schoolId, 'granted');
    return { ok: true, login: subject.login };
  });
}

/** Takes one school from a curator: the role when it is their own school, else the grant. */
export function revokeCurator(db: Db, by: ActedBy, target: { userId: string; schoolId: string }): Promise<RoleOutcome> {
  return db.transaction(async (trx) => {
    const subject = await locked(trx, by.actor, target.userId);
    if (!subject) return { ok: false, problem: 'no_account' };
    if (!subject.curatorOf.includes(target.schoolId)) return { ok: false, problem: 'not_curator' };
    const own = subject.schoolId === target.schoolId && subject.roles.includes(CURATOR);
    if (own) await trx('users').where({ id: subject.id }).update({ roles: trx.raw('array_remove(roles, ?::text)', [CURATOR]), updated_at: trx.fn.now() });
    await trx('curator_schools').where({ user_id: subject.id, school_id: target.schoolId }).del();
    // Nothing left to curate: their console sessions end (a copied cookie with them). Another
    // school still held keeps the session; the revoked one is gone from it at the next request.
    if (subject.curatorOf.every((id) => id === target.schoolId)) await endConsoleSessionsOf(trx, subject.id);
    await audit(trx, by, 'role.revoke', subject, target.schoolId, own ? 'own' : 'granted');
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

function audit(trx: Queryable, by: ActedBy, action: string, subject: RoleSubject, schoolId: string, via: 'own' | 'granted') {
  return writeAudit(trx, {
    action, actor: { type: 'user', id: by.actor.user.id }, schoolId, target: { type: 'user', id: subject.id },
    ip: by.ip, requestId: by.requestId, details: { role: CURATOR, via },
  });
}
