/**
 * An account's status: disabled (nobody signs in; every session ends) or enabled again (the
 * login's brute-force lock lifted). The rows are `disable` and `enable` in effects.ts.
 */
import type { AppContext } from '../server/context.js';
import type { AuditWriter } from '../audit/bound.js';
import type { Account } from './queries.js';
import { changeAccount, type EffectExtra } from './effects.js';

/** false when the account was disabled already (nothing recorded). */
export async function disableAccount(app: AppContext, account: Account, by: AuditWriter, extra: EffectExtra = {}): Promise<boolean> {
  const done = await changeAccount(app, 'disable', account, by, async (trx) => {
    const n = await trx('users').where({ id: account.id }).whereNull('disabled_at').update({ disabled_at: trx.fn.now(), updated_at: trx.fn.now() }, ['id']);
    return n.length > 0 || false;
  }, extra);
  return done !== false;
}

/** false when the account was not disabled (nothing recorded). */
export async function enableAccount(app: AppContext, account: Account, by: AuditWriter, extra: EffectExtra = {}): Promise<boolean> {
  const done = await changeAccount(app, 'enable', account, by, async (trx) => {
    const n = await trx('users').where({ id: account.id }).whereNotNull('disabled_at').update({ disabled_at: null, updated_at: trx.fn.now() }, ['id']);
    return n.length > 0 || false;
  }, extra);
  return done !== false;
}
