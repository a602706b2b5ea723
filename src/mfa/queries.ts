/** The second factor's tables: `user_totp` and `mfa_challenges`. */
import { open } from '../crypto/sealed.js';
import { affected, type Queryable } from '../db/index.js';

export const context = (userId: string) => `totp:${userId}`;

export interface TotpState {
  secret: string;
  confirmed: boolean;
  lastStep: number | null;
}

export async function totpOf(db: Queryable, kek: Buffer, userId: string): Promise<TotpState | undefined> {
  const row = await db('user_totp').where({ user_id: userId }).first('secret_enc', 'confirmed_at', 'last_step');
  if (!row) return undefined;
  return { secret: open(kek, row.secret_enc, context(userId)), confirmed: Boolean(row.confirmed_at), lastStep: row.last_step === null ? null : Number(row.last_step) };
}

export async function hasConfirmedTotp(db: Queryable, userId: string): Promise<boolean> {
  return Boolean(await db('user_totp').where({ user_id: userId }).whereNotNull('confirmed_at').first('user_id'));
}

// The writers of user_totp (enrolment, the used step, removal) are the account library's: accounts/second-factor.ts.

export async function createChallenge(db: Queryable, c: { interactionUid: string; userId: string; remember: boolean; expiresAt: Date }): Promise<void> {
  await db('mfa_challenges')
    .insert({ interaction_uid: c.interactionUid, user_id: c.userId, remember: c.remember, expires_at: c.expiresAt })
    .onConflict('interaction_uid')
    .merge(['user_id', 'remember', 'expires_at']);
}

export async function challengeOf(db: Queryable, interactionUid: string): Promise<{ user_id: string; remember: boolean } | undefined> {
  return db('mfa_challenges').where({ interaction_uid: interactionUid }).whereRaw('expires_at > clock_timestamp()').first('user_id', 'remember');
}

export async function endChallenge(db: Queryable, interactionUid: string): Promise<boolean> {
  return affected(await db('mfa_challenges').where({ interaction_uid: interactionUid }).del()) > 0;
}

export async function purgeChallenges(db: Queryable): Promise<number> {
  return affected(await db('mfa_challenges').whereRaw('expires_at < clock_timestamp()').del());
}
