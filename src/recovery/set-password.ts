/**
 * The new password from a recovery link: checked against the password rule, then in one
 * transaction the link (locked) is used up with every other recovery link of the person, the
 * hash replaced, the audit written and the «пароль изменён» letter queued. After the commit the
 * person's sessions and refresh tokens end everywhere (`endSessions`) and a brute-force lock on
 * the login is lifted.
 */
import type { AppContext } from '../server/context.js';
import type { PasswordProblem } from '../accounts/password-policy.js';
import { findAccountById, setPasswordHash } from '../accounts/queries.js';
import { findSchoolById } from '../schools/queries.js';
import { findUsableToken, useTokens } from '../email/tokens.js';
import { writeAudit } from '../audit/audit.js';

export type SetPasswordResult =
  | { ok: true; login: string; schoolId: string | null }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'same' }
  | { ok: false; reason: 'policy'; problem: PasswordProblem };

export async function setPasswordFromLink(
  app: AppContext,
  token: string,
  password: string,
  from: { ip: string; requestId?: string },
): Promise<SetPasswordResult & { problem?: PasswordProblem }> {
  const link = await findUsableToken(app.db, 'recover', token);
  const account = link ? await findAccountById(app.db, link.user_id) : undefined;
  if (!link || !account || account.disabled_at) return { ok: false, reason: 'invalid' };
  const problem = app.passwords.check(password, {
    login: account.login,
    names: [account.last_name, account.first_name, account.middle_name],
    birthDate: account.birth_date,
  });
  if (problem) return { ok: false, reason: 'policy', problem };
  if (await app.passwords.verify(account.password_hash, password)) return { ok: false, reason: 'same' };
  const hash = await app.passwords.hash(password);
  const school = account.school_id ? await findSchoolById(app.db, account.school_id) : undefined;

  const done = await app.db.transaction(async (trx) => {
    // Locked and checked again: of two tabs submitting one link, one wins.
    if (!(await findUsableToken(trx, 'recover', token, true))) return false;
    await setPasswordHash(trx, account.id, hash, false);
    await useTokens(trx, account.id, 'recover');
    await writeAudit(trx, {
      action: 'password.recover',
      actor: { type: 'user', id: account.id },
      schoolId: account.school_id,
      target: { type: 'user', id: account.id },
      ip: from.ip,
      requestId: from.requestId,
    });
    if (account.email && account.email_verified_at) {
      await app.mail.enqueue(trx, {
        to: account.email,
        template: 'password-changed',
        locale: 'ru',
        locals: {
          name: account.first_name ?? '',
          login: account.login,
          school: school?.name ?? '',
          when: new Intl.DateTimeFormat('ru-RU', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Moscow' }).format(new Date()) + ' (МСК)',
        },
      });
    }
    return true;
  });
  if (!done) return { ok: false, reason: 'invalid' };
  await app.sessions.endSessions(account.id, { reason: 'password recovered', actor: { type: 'user', id: account.id } });
  await app.throttle.unlockLogin(account.school_id, account.login);
  return { ok: true, login: account.login, schoolId: account.school_id };
}
