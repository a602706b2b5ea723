/**
 * A pupil moves to another school (issue 6): the account, its `sub`, its password, its Gosuslugi
 * link, its second factor and its parents' links all survive; what changes hands is the school.
 * The account and its roster entry move together, so the old school's curator loses sight of both
 * at once (scope.ts filters by school) and the new school's curator finds the pupil in the search.
 * Logins are unique per school: a login taken in the new school is renamed in the same act.
 * The pupil's unused invitation codes of the old school are revoked (their sheets would otherwise
 * let a parent register into a school the child has left).
 * The `transfer` row of effects.ts: every session ends after the commit — the apps of the old
 * school hold tokens with its claims, and the login may have been renamed.
 */
import type { AppContext } from '../server/context.js';
import type { AuditWriter } from '../audit/bound.js';
import { LOGIN_PATTERN } from './fields.js';
import { mixesScripts } from './login-skeleton.js';
import { findAccountById, loginTaken, moveAccount } from './queries.js';
import { normalizeClassName } from '../roster/person-input.js';
import { applyEffects, type AfterCommit } from './effects.js';

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
}

/** The whole move in one transaction (a login taken meanwhile: LoginTakenError, nothing kept); `by`: the curator's writer. */
export async function transferStudent(app: AppContext, input: TransferInput, by: AuditWriter): Promise<TransferOutcome> {
  let after: AfterCommit | undefined;
  const outcome = await app.db.transaction(async (trx): Promise<TransferOutcome> => {
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

    // One row for each school: each curator reads the act in their own audit log (the row's
    // user.transfer.out in the old school, then user.transfer.in in the new one).
    const details = { from: user.school_id, to: input.toSchoolId, renamed: login !== user.login, revokedInvites: revoked.length };
    const account = (await findAccountById(trx, user.id))!;
    after = await applyEffects(app, trx, 'transfer', account, by, { schoolId: user.school_id, details, reason: 'moved to another school' });
    await by.record({ action: 'user.transfer.in', schoolId: input.toSchoolId, target: { type: 'user', id: user.id }, details }, trx);
    return { ok: true, login, revokedInvites: revoked.length };
  });
  await after?.();
  return outcome;
}
