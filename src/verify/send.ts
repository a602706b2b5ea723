/** The confirmation letter: a single-use link to /verify/<token> for the address given. */
import type { AppContext } from '../server/context.js';
import type { Tx } from '../db/index.js';
import type { Account } from '../accounts/queries.js';
import { issueToken } from '../email/tokens.js';

export async function sendVerification(app: AppContext, trx: Tx, account: Pick<Account, 'id' | 'first_name' | 'login'>, email: string): Promise<void> {
  const token = await issueToken(trx, { userId: account.id, purpose: 'verify', email, ttlSeconds: app.config.links.verifyTtlSeconds });
  await app.mail.enqueue(trx, {
    to: email,
    template: 'verify-email',
    locale: 'ru',
    locals: {
      name: account.first_name ?? '',
      login: account.login,
      url: `${app.config.issuer}/verify/${token}`,
      days: Math.round(app.config.links.verifyTtlSeconds / 86400),
    },
  });
}
