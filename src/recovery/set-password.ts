/**
 * The new password from a recovery link: the account library's `recovery_link` cause
 * (accounts/effects.ts: every session ends, «пароль изменён», the brute-force lock lifted), with the
 * link (locked) used up in the same transaction together with every other recovery link of the
 * person.
 */
import type { AppContext } from '../server/context.js';
import type { AuditWriter } from '../audit/bound.js';
import type { PasswordProblem } from '../accounts/password-policy.js';
import { findAccountById } from '../accounts/queries.js';
import { setPassword } from '../accounts/password-change.js';
import { findUsableToken, useTokens } from '../email/tokens.js';

export type SetPasswordResult =
  | { ok: true; login: string; schoolId: string | null }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'same' }
  | { ok: false; reason: 'policy'; problem: PasswordProblem };

/** `by`: the request's writer; the link names its holder as the actor. */
export async function setPasswordFromLink(app: AppContext, token: string, password: string, by: AuditWriter): Promise<SetPasswordResult & { problem?: PasswordProblem }> {
  const link = await findUsableToken(app.db, 'recover', token);
  const account = link ? await findAccountById(app.db, link.user_id) : undefined;
  if (!link || !account || account.disabled_at) return { ok: false, reason: 'invalid' };
  const done = await setPassword(app, account, password, 'recovery_link', by.as({ type: 'user', id: account.id }), {
    reason: 'password recovered',
    // Locked and checked again: of two tabs submitting one link, one wins; every other link of the person is used up.
    guard: async (trx) => {
      if (!(await findUsableToken(trx, 'recover', token, true))) return false;
      await useTokens(trx, account.id, 'recover');
      return true;
    },
  });
  return done.ok ? { ok: true, login: account.login, schoolId: account.school_id } : done;
}
