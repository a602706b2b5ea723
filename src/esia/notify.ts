/**
 * Letters about Gosuslugi links (issue 16.1): every new link and every removal is announced to
 * the account's confirmed address, so a link made by someone else's data never stays silent.
 * The letter says how the link was made and where to undo it («Это не я — отвязать» on /account).
 */
import type { Tx } from '../db/index.js';
import type { AppContext } from '../server/context.js';
import type { Account } from '../accounts/queries.js';
import type { Origin } from './match.js';
import type { Proof } from './queries.js';
import { unlinkMadeByRosterSnils } from '../accounts/gosuslugi-links.js';
import { findAccountById } from '../accounts/queries.js';
import { writeAudit, type AuditEvent } from '../audit/audit.js';

/** How a link was made, as the letter and /account name it. */
export type LinkHow = Origin | 'holder_otp' | 'unknown';

export function linkHow(l: { origin: Origin | null | undefined; proof: Proof }): LinkHow {
  if (l.proof === 'password_otp') return 'holder_otp';
  if (l.proof === 'password') return 'holder';
  return l.origin ?? 'unknown';
}

/** Why a link was removed. */
export type UnlinkBy = 'holder' | 'curator' | 'snils_removed';

const moscowTime = () => new Intl.DateTimeFormat('ru-RU', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Moscow' }).format(new Date()) + ' (МСК)';

const confirmedAddress = (a: Pick<Account, 'email' | 'email_verified_at'>) => (a.email && a.email_verified_at ? a.email : undefined);

export async function announceLink(app: AppContext, trx: Tx, account: Account, how: LinkHow, curatorLogin?: string): Promise<void> {
  const to = confirmedAddress(account);
  if (!to) return;
  await app.mail.enqueue(trx, {
    to, template: 'esia-linked', locale: 'ru',
    locals: { name: account.first_name ?? '', login: account.login, when: moscowTime(), how, curator: curatorLogin ?? '', accountUrl: `${app.config.issuer}/account#esia` },
  });
}

export async function announceUnlink(app: AppContext, trx: Tx, account: Account, by: UnlinkBy): Promise<void> {
  const to = confirmedAddress(account);
  if (!to) return;
  await app.mail.enqueue(trx, {
    to, template: 'esia-unlinked', locale: 'ru',
    locals: { name: account.first_name ?? '', login: account.login, when: moscowTime(), by },
  });
}

/**
 * After a roster import replaced SNILS numbers: the links the old numbers made by themselves are
 * removed, each audited (`esia.unlink`, by `snils_removed`, in the importer's name) and announced.
 */
export async function unlinkAfterRosterSnilsChange(app: AppContext, trx: Tx, personIds: string[], by: Pick<AuditEvent, 'actor' | 'ip' | 'requestId'>): Promise<number> {
  const removed = await unlinkMadeByRosterSnils(trx, personIds);
  for (const link of removed) {
    const account = await findAccountById(trx, link.user_id);
    if (!account) continue;
    await writeAudit(trx, { action: 'esia.unlink', ...by, schoolId: account.school_id, target: { type: 'user', id: account.id }, details: { by: 'snils_removed', origin: link.origin, linkedVia: link.linked_via } });
    await announceUnlink(app, trx, account, 'snils_removed');
  }
  return removed.length;
}
