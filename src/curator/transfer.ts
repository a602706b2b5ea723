/**
 * A pupil moves to another school (issue 6): the account, its `sub`, its password, its Gosuslugi
 * link, its second factor and its parents' links all survive; what changes hands is the school.
 * The account and its roster entry move together, so the old school's curator loses sight of both
 * at once (scope.ts filters by school) and the new school's curator finds the pupil in the search.
 * Logins are unique per school: a login taken in the new school is renamed in the same act.
 * The pupil's unused invitation codes of the old school are revoked (their sheets would otherwise
 * let a parent register into a school the child has left).
 */
import type { Tx } from '../db/index.js';
import { writeAudit } from '../audit/audit.js';
import { LOGIN_PATTERN } from '../accounts/fields.js';
import { mixesScripts } from '../accounts/login-skeleton.js';
import { loginTaken, moveAccount } from '../accounts/queries.js';
import { normalizeClassName } from '../roster/person-input.js';

export type TransferOutcome =
  | { ok: true; login: string; revokedInvites: number }
  | { ok: false; reason: 'not_student' | 'same_school' | 'login_taken' | 'login_invalid' | 'login_mixed_script' | 'class_invalid' };

export interface TransferInput {
  userId: string;
  toSchoolId: string;
  /** A new login, required when the current one is taken in the new school. */
  newLogin?: string;
  /** The class in the new school, when known; else the old class stays until the new curator edits it. */
  className?: string;
  actorId: string;
  ip?: string;
  requestId?: string;
}

export async function transferStudent(trx: Tx, input: TransferInput): Promise<TransferOutcome> {
  const user = await trx('users').where({ id: input.userId }).forUpdate().first('id', 'school_id', 'login', 'kind', 'person_id');
  if (!user || user.kind !== 'student' || !user.person_id) return { ok: false, reason: 'not_student' };
  if (user.school_id === input.toSchoolId) return { ok: false, reason: 'same_school' };
  const newLogin = input.newLogin?.trim() || undefined;
  if (newLogin && !LOGIN_PATTERN.test(newLogin)) return { ok: false, reason: 'login_invalid' };
  if (newLogin && mixesScripts(newLogin)) return { ok: false, reason: 'login_mixed_script' };
  const typedClass = input.className?.trim() || undefined;
  const className = typedClass ? normalizeClassName(typedClass) : undefined;
  if (className === null) return { ok: false, reason: 'class_invalid' };
  const login = newLogin ?? user.login;
  // Taken also by a look-alike (issue 16.5); the pupil's kept login is not re-judged for scripts.
  if (await loginTaken(trx, input.toSchoolId, login)) return { ok: false, reason: 'login_taken' };

  const person = await trx('people').where({ id: user.person_id }).forUpdate().first('id', 'class_name');
  const revoked = (await trx('invites')
    .where({ person_id: user.person_id, school_id: user.school_id })
    .whereNull('redeemed_at')
    .whereNull('revoked_at')
    .update({ revoked_at: trx.fn.now(), revoked_by: 'transfer' })
    .returning('id')) as { id: string }[];
  // The old school's own id and the leaver mark mean nothing in the new school.
  await trx('people').where({ id: user.person_id }).update({
    school_id: input.toSchoolId,
    class_name: className ?? person.class_name,
    external_id: null,
    left_at: null,
    updated_at: trx.fn.now(),
  });
  await moveAccount(trx, user.id, { schoolId: input.toSchoolId, login });

  // One row for each school: each curator reads the act in their own audit log.
  const base = { actor: { type: 'user' as const, id: input.actorId }, target: { type: 'user' as const, id: user.id }, ip: input.ip, requestId: input.requestId };
  const details = { from: user.school_id, to: input.toSchoolId, renamed: login !== user.login, revokedInvites: revoked.length };
  await writeAudit(trx, { ...base, action: 'user.transfer.out', schoolId: user.school_id, details });
  await writeAudit(trx, { ...base, action: 'user.transfer.in', schoolId: input.toSchoolId, details });
  return { ok: true, login, revokedInvites: revoked.length };
}
