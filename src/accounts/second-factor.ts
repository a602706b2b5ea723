/**
 * Second factors (TOTP, table `user_totp`): the account library's writers — enrolment's secret,
 * the used step (which confirms an enrolment), removal — and the verbs with their rows in
 * effects.ts: `mfa_enrol` (recorded when the first code confirms it), `mfa_disable` (the person,
 * with password and code), `mfa_reset` (a curator or the CLI, for a lost phone: every session ends).
 */
import type { AppContext } from '../server/context.js';
import type { AuditWriter } from '../audit/bound.js';
import { seal } from '../crypto/sealed.js';
import { affected, type Queryable } from '../db/index.js';
import { generateSecret } from '../mfa/totp.js';
import { context, totpOf } from '../mfa/queries.js';
import type { Account } from './queries.js';
import { changeAccount, type EffectExtra } from './effects.js';

/** A new secret for enrolment, replacing an unconfirmed one; a confirmed one is kept (returns undefined). */
export async function startEnrolment(db: Queryable, kek: Buffer, userId: string): Promise<string | undefined> {
  const existing = await totpOf(db, kek, userId);
  if (existing?.confirmed) return undefined;
  if (existing) return existing.secret; // the same QR code until it is confirmed (a reload must not break a half-scanned one)
  const secret = generateSecret();
  await db('user_totp').insert({ user_id: userId, secret_enc: seal(kek, secret, context(userId)) }).onConflict('user_id').ignore();
  return (await totpOf(db, kek, userId))!.secret;
}

/**
 * Records that `step` was used, atomically: false when it (or a later one) was used already,
 * so a code seen over someone's shoulder cannot be replayed. Confirms an enrolment.
 */
export async function useStep(db: Queryable, userId: string, step: number): Promise<boolean> {
  const n = affected(
    await db('user_totp')
      .where({ user_id: userId })
      .andWhere((q) => q.whereNull('last_step').orWhere('last_step', '<', step))
      .update({ last_step: step, confirmed_at: db.raw('coalesce(confirmed_at, clock_timestamp())') }),
  );
  return n === 1;
}


async function deleteTotp(db: Queryable, userId: string): Promise<boolean> {
  return affected(await db('user_totp').where({ user_id: userId }).del()) > 0;
}

/** The first code confirmed an enrolment (useStep wrote it): its row. */
export async function secondFactorEnrolled(app: AppContext, account: Account, by: AuditWriter, extra: EffectExtra = {}): Promise<void> {
  await changeAccount(app, 'mfa_enrol', account, by, async () => true, extra);
}

/**
 * The second factor removed: by the person (`mfa_disable`, after password and code) or for them
 * (`mfa_reset`: a curator or the CLI). false when there was none (nothing recorded).
 */
export async function removeSecondFactor(app: AppContext, account: Account, cause: 'mfa_disable' | 'mfa_reset', by: AuditWriter, extra: EffectExtra = {}): Promise<boolean> {
  const done = await changeAccount(app, cause, account, by, async (trx) => (await deleteTotp(trx, account.id)) || false, extra);
  return done !== false;
}
