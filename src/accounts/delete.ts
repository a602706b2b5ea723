/**
 * Deleting an account on request (152-ФЗ art. 21), a curator's act: every session and token ends,
 * then in one transaction everything that names the person goes — the account row (and with it,
 * by cascade, guardianships, consents, tokens of letters, the Gosuslugi link, the second factor),
 * the provider's rows of the account, queued and sent letters to its address, recovery requests
 * for it, throttle counters keyed by its login — and old audit entries lose the login they
 * carried. The audit trail itself remains: its entries point to the account's id, which no longer
 * leads to anybody (a pseudonym). The school's roster entry is the school's record and stays.
 */
import { eraseLoginFromAudit } from '../audit/audit.js';
import fs from 'node:fs';
import path from 'node:path';
import type { AppContext } from '../server/context.js';
import type { AuditWriter } from '../audit/bound.js';
import type { Account } from './queries.js';
import { loginPart } from '../throttle/keys.js';
import { applyEffects } from './effects.js';

/** `by`: the request's writer (the curator). The `delete` row of effects.ts. */
export async function deleteAccount(app: AppContext, account: Account, by: AuditWriter): Promise<void> {
  // The row's sessions end first, not after the commit: the erasure removes the rows that name
  // the apps to be told (back-channel logouts are queued from them).
  await app.sessions.endSessions(account.id, { reason: 'account deleted on request', by });
  const email = account.email?.toLowerCase() ?? null;
  await app.db.transaction(async (trx) => {
    await trx('users').where({ id: account.id }).forUpdate().first('id');
    // Old entries may carry the login as typed (login.failure, throttled attempts).
    await eraseLoginFromAudit(trx, { id: account.id, schoolId: account.school_id, loginPart: loginPart(account.login) });
    await trx('oidc_models').where({ account_id: account.id }).del();
    await trx('oidc_models')
      .whereIn('model', ['Interaction', 'Session'])
      .where((q) => q.whereRaw(`payload->'session'->>'accountId' = ?`, [account.id]).orWhereRaw(`payload->'result'->'login'->>'accountId' = ?`, [account.id]))
      .del();
    if (email) {
      await trx('mail_outbox').whereRaw('lower(to_address) = ?', [email]).del();
      await trx('recovery_requests').whereRaw('lower(email) = ?', [email]).del();
    }
    await trx('throttle').whereRaw(`key like ? escape '\\'`, [`%:${loginPart(account.login).replace(/[\\%_]/g, '\\$&')}`]).del();
    await trx('users').where({ id: account.id }).del();
    // Its after-commit part (the sessions) was done above.
    await applyEffects(app, trx, 'delete', account, by, { details: { kind: account.kind } });
  });
  // Letters already written as .eml files in development (production sends over SMTP).
  if (email && !app.config.mail.smtpUrl) removeEmlFiles(path.join(app.config.dataDir, 'mail'), email);
}

function removeEmlFiles(dir: string, email: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.eml'));
  } catch {
    return;
  }
  for (const name of names) {
    const file = path.join(dir, name);
    if (fs.readFileSync(file, 'utf8').toLowerCase().includes(email)) fs.rmSync(file, { force: true });
  }
}
