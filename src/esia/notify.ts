/**
 * Letters about Gosuslugi links (issue 16.1): every new link and every removal is announced to
 * the account's confirmed address, so a link made by someone else's data never stays silent.
 * The letter says how the link was made and where to undo it («Это не я — отвязать» on /account).
 */
import type { Tx } from '../db/index.js';
import { moscowTime } from '../email/templates.js';
import type { AppContext } from '../server/context.js';
import type { Account } from '../accounts/queries.js';
import type { Origin } from './match.js';
import type { Proof } from './queries.js';

/** How a link was made, as the letter and /account name it. */
export type LinkHow = Origin | 'holder_otp' | 'unknown';

export function linkHow(l: { origin: Origin | null | undefined; proof: Proof }): LinkHow {
  if (l.proof === 'password_otp') return 'holder_otp';
  if (l.proof === 'password') return 'holder';
  return l.origin ?? 'unknown';
}

/** Why a link was removed. */
export type UnlinkBy = 'holder' | 'curator' | 'snils_removed';


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
