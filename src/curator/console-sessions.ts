/**
 * The console's server-side sessions (issue 16, item 3). The `jid_console` cookie holds a random
 * 256-bit id; the table `console_sessions` holds only its SHA-256, so a copy of the table is no
 * cookie. A session lives while it is used (idle timeout) and never beyond its absolute end; both
 * are compared with the database's clock, so every node agrees. Ending a session is deleting its
 * row — «Выйти из консоли», endSessions() of the account (password reset, disable, deletion,
 * `user logout`, «выйти везде»), a role revocation — and the copied cookie is then worth nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { rawRows, type Queryable } from '../db/index.js';

export interface ConsoleSessionPolicy {
  /** Minutes without a request after which the session ends. */
  idleMinutes: number;
  /** Hours after the login after which the session ends, however busy. */
  absoluteHours: number;
}

const ID = /^[A-Za-z0-9_-]{43}$/;
const hashOf = (id: string) => createHash('sha256').update(id).digest('base64url');

/** A new session of the account; returns the id for the cookie (never stored as such). */
export async function createConsoleSession(db: Queryable, userId: string, policy: ConsoleSessionPolicy): Promise<string> {
  const id = randomBytes(32).toString('base64url');
  await db.raw(
    `insert into console_sessions (id_hash, user_id, created_at, last_seen_at, expires_at)
     values (?, ?, clock_timestamp(), clock_timestamp(), clock_timestamp() + make_interval(hours => ?))`,
    [hashOf(id), userId, policy.absoluteHours],
  );
  return id;
}

/**
 * The account of a live session, its use recorded (the idle clock starts again) — one statement
 * on the primary key. Undefined when the id is unknown, ended, idle too long or past its end.
 */
export async function useConsoleSession(db: Queryable, id: string, policy: ConsoleSessionPolicy): Promise<string | undefined> {
  if (!ID.test(id)) return undefined;
  const [row] = await rawRows<{ user_id: string }>(
    db,
    `update console_sessions set last_seen_at = clock_timestamp()
      where id_hash = ? and expires_at > clock_timestamp()
        and last_seen_at > clock_timestamp() - make_interval(mins => ?)
      returning user_id`,
    [hashOf(id), policy.idleMinutes],
  );
  return row?.user_id;
}

/** «Выйти из консоли»: this session only. */
export async function endConsoleSession(db: Queryable, id: string): Promise<void> {
  if (ID.test(id)) await db('console_sessions').where({ id_hash: hashOf(id) }).del();
}

/** Every console session of the account; how many there were. */
export async function endConsoleSessionsOf(db: Queryable, userId: string): Promise<number> {
  // Counted through returning: knex-pglite does not report affected rows for del().
  return (await rawRows(db, 'delete from console_sessions where user_id = ? returning user_id', [userId])).length;
}

/** Sessions past their absolute end (idle ones reach it at the latest). */
export async function purgeConsoleSessions(db: Queryable): Promise<number> {
  return (await rawRows(db, 'delete from console_sessions where expires_at < clock_timestamp() returning user_id')).length;
}
