/**
 * Whose Gosuslugi link only the holder may make (issue 16.1). Matching data may have been entered
 * by someone else (a curator, a roster import, the CLI), and a curator can also enter an email and
 * confirm it themselves. That is acceptable for a pupil or a parent, who hears of the link by
 * letter, but not for an account that holds power over others or that its holder protected with a
 * second factor: there a link made by data alone would skip the password and the code. Such an
 * account links only after the holder gives the password and then the second factor once, and a
 * link of theirs that was made any other way (before they got the role) is confirmed the same way
 * at the next Gosuslugi login.
 */
import type { AppContext } from '../server/context.js';
import type { Account } from '../accounts/queries.js';
import { holdsPrivilegedRole } from '../accounts/privileged.js';
import { secondFactorNeeded } from '../mfa/routes.js';

export async function onlyHolderMayLink(app: AppContext, account: Account): Promise<boolean> {
  return (await holdsPrivilegedRole(app.db, account)) || (await secondFactorNeeded(app, account));
}
