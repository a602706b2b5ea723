/**
 * Single-use links sent by mail: a random token in the link, only its SHA-256 in the database.
 * A newer link of the same purpose supersedes the older ones; using one marks it used.
 */
import { randomBytes } from 'node:crypto';
import type { Queryable } from '../db/index.js';
import { sha256 } from '../crypto/sealed.js';

export type TokenPurpose = 'verify' | 'recover';

export interface EmailToken {
  id: string;
  user_id: string;
  purpose: TokenPurpose;
  email: string;
  expires_at: Date;
  used_at: Date | null;
}

const COLUMNS = ['id', 'user_id', 'purpose', 'email', 'expires_at', 'used_at'];
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** A new link token for the user; earlier unused ones of this purpose stop working. */
export async function issueToken(db: Queryable, t: { userId: string; purpose: TokenPurpose; email: string; ttlSeconds: number }): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await db('email_tokens').where({ user_id: t.userId, purpose: t.purpose }).whereNull('used_at').update({ used_at: db.fn.now() });
  await db('email_tokens').insert({
    user_id: t.userId,
    purpose: t.purpose,
    token_hash: sha256(token),
    email: t.email,
    expires_at: db.raw(`now() + make_interval(secs => ?)`, [t.ttlSeconds]),
  });
  return token;
}

/** The token if it can still be used; `lock` holds its row for the caller's transaction. */
export async function findUsableToken(db: Queryable, purpose: TokenPurpose, token: string, lock = false): Promise<EmailToken | undefined> {
  if (!TOKEN.test(token)) return undefined;
  const q = db('email_tokens')
    .select(COLUMNS)
    .where({ token_hash: sha256(token), purpose })
    .whereNull('used_at')
    .andWhere('expires_at', '>', db.fn.now());
  if (lock) q.forUpdate();
  return (await q.first()) as EmailToken | undefined;
}

/** Marks this token used, and every other unused one of its user and purpose with it. */
export async function useTokens(db: Queryable, userId: string, purpose: TokenPurpose): Promise<void> {
  await db('email_tokens').where({ user_id: userId, purpose }).whereNull('used_at').update({ used_at: db.fn.now() });
}
