/**
 * The one throttle: failure counters per key in the `throttle` table, shared by every node.
 *
 * An attempt is reserved atomically BEFORE the costly check (one upsert per key under its row
 * lock), so parallel requests cannot get more tries than the policy allows; the caller reports
 * success afterwards. The first `free` attempts in a row pass at once; each later one needs a
 * wait since the previous of min(maxDelay, base · 2^(count − free)), so the worst case is a
 * temporary lockout of maxDelay, never a permanent one. Counters idle for forgetAfter are dropped.
 * Refused attempts change nothing: hammering a blocked key neither counts nor extends the wait.
 * Only the first refusal by a wait says so (`first`), so callers audit one refusal per key per wait
 * and an attacker cannot grow the append-only audit log by hammering.
 * No sleeping here: the caller answers 429 with Retry-After.
 *
 * Times come from the database's clock_timestamp() (not now(): that is the transaction's start,
 * stale after waiting for a row lock), so nodes with skewed clocks agree.
 */
import type { Knex } from 'knex';
import type { Db, Queryable } from '../db/index.js';
import { rawRows } from '../db/index.js';

import { loginKeys, loginPart } from './keys.js';
import { countThrottled } from '../metrics/registry.js';
export { loginKeys, type LoginKeys } from './keys.js';

export interface Policy {
  /** Attempts in a row that pass without any wait. */
  free: number;
  baseDelaySeconds: number;
  maxDelaySeconds: number;
  /** Seconds without attempts after which a counter starts again from zero. */
  forgetAfterSeconds: number;
}
export type ThrottlePolicy = Policy;

export interface ThrottleCheck {
  key: string;
  policy: Policy;
}

/** A wait this attempt started: every attempt past the free ones starts one (the lockout grows). */
export interface StartedWait {
  key: string;
  seconds: number;
  /** Attempts counted against the key, this one included. */
  count: number;
}

export type TakeResult =
  | { allowed: true; /** Only when the attempt started a wait on some key. */ waits?: StartedWait[] }
  | {
      allowed: false;
      retryAfterSeconds: number;
      key: string;
      /** The first refusal by this wait of `key` (one node's, atomically): the one worth auditing. */
      first: boolean;
    };

export interface ThrottleState {
  /** Attempts counted against the key now (0 when unknown or forgotten). */
  count: number;
  /** Until when the next attempt is refused; null when it would pass the wait check. */
  blockedUntil: Date | null;
}

export interface Throttle {
  /** Reserves one attempt on every key, or on none when any key refuses. */
  take(checks: readonly ThrottleCheck[]): Promise<TakeResult>;
  /** The attempt succeeded: the key starts again from zero. */
  succeed(key: string): Promise<void>;
  /**
   * Gives back one reserved attempt (shared keys such as an address, on success). With the
   * policy the wait is recomputed for the lower count; without it only the count drops, and a
   * wait already running stays unless the count reaches zero.
   */
  refund(key: string, policy?: Policy): Promise<void>;
  peek(key: string, policy: Policy): Promise<ThrottleState>;
  /** Operator's unlock; true when there was a counter. */
  unlock(key: string): Promise<boolean>;
  /** Operator's unlock of a login: its account counter and its (address, login) counters. */
  unlockLogin(schoolId: string | null, login: string): Promise<number>;
}

class Refused {
  constructor(readonly result: { retryAfterSeconds: number; key: string }) {}
}

export function createThrottle(db: Db): Throttle {
  return {
    async take(checks) {
      if (checks.length === 0) return { allowed: true };
      // One fixed lock order for every caller: no deadlocks between multi-key takes.
      const sorted = [...checks].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      for (let i = 0; i < sorted.length; i++) {
        checkPolicy(sorted[i]!.policy);
        if (i > 0 && sorted[i]!.key === sorted[i - 1]!.key) throw new Error(`throttle key twice in one take: ${sorted[i]!.key}`);
      }
      // Under attack nearly every attempt meets a running wait: one read refuses it, no transaction
      // (a refusal from a read a moment old is still right; only reservations need the row locks).
      const running = await runningWait(db, sorted.map((c) => c.key));
      if (running) {
        const { key, retryAfterSeconds, reported } = running;
        countThrottled(key);
        return { allowed: false, key, retryAfterSeconds, first: !reported && (await claimFirstRefusal(db, key)) };
      }
      const waits: StartedWait[] = [];
      try {
        await db.transaction(async (trx) => {
          let refused: Refused | undefined;
          for (const { key, policy } of sorted) {
            const reserved = await reserve(trx, key, policy);
            if (reserved) {
              if (reserved.waitSeconds !== null) waits.push({ key, seconds: reserved.waitSeconds, count: reserved.count });
              continue;
            }
            const retryAfterSeconds = await retryAfter(trx, key);
            // All keys are tried so the caller learns the longest wait, not the first.
            if (!refused || retryAfterSeconds > refused.result.retryAfterSeconds) {
              refused = new Refused({ retryAfterSeconds, key });
            }
          }
          if (refused) throw refused; // rolls back the attempts reserved on the other keys
        });
        return waits.length ? { allowed: true, waits } : { allowed: true };
      } catch (err) {
        if (err instanceof Refused) {
          countThrottled(err.result.key);
          return { allowed: false, ...err.result, first: await claimFirstRefusal(db, err.result.key) };
        }
        throw err;
      }
    },

    async succeed(key) {
      await db('throttle').where({ key }).del();
    },

    async refund(key, policy) {
      if (!policy) {
        await db.raw(
          `update throttle set count = count - 1,
                  blocked_until = case when count <= 1 then null else blocked_until end
            where key = ? and count > 0`,
          [key],
        );
        return;
      }
      checkPolicy(policy);
      await db.raw(
        `update throttle set count = count - 1, blocked_until = ${waitFrom('last_at', 'count - 1')}
          where key = :key and count > 0`,
        { key, ...policyBindings(policy) },
      );
    },

    async peek(key, policy) {
      const [row] = await rawRows<{ count: number; blocked_until: Date | null; blocked: boolean | null; idle: boolean }>(
        db,
        `select count, blocked_until, blocked_until > clock_timestamp() as blocked,
                last_at <= clock_timestamp() - make_interval(secs => ?) as idle
           from throttle where key = ?`,
        [policy.forgetAfterSeconds, key],
      );
      if (!row) return { count: 0, blockedUntil: null };
      const blocked = row.blocked === true;
      return { count: row.idle && !blocked ? 0 : row.count, blockedUntil: blocked ? new Date(row.blocked_until!) : null };
    },

    async unlock(key) {
      // Counted through returning: knex-pglite does not report affected rows for del().
      return (await rawRows(db, 'delete from throttle where key = ? returning key', [key])).length > 0;
    },

    async unlockLogin(schoolId, login) {
      const { account } = loginKeys(schoolId, login, '0.0.0.0');
      const suffix = `:${schoolId ?? ''}:${loginPart(login)}`; // of every login:ipacct:<address>:<school>:<login>
      const like = `login:ipacct:%${suffix.replace(/[\\%_]/g, (c) => `\\${c}`)}`;
      const rows = await rawRows(db, 'delete from throttle where key = ? or key like ? returning key', [account, like]);
      return rows.length;
    },
  };
}

/**
 * The wait after the attempt that brought the counter to `count`: none while within the free
 * attempts. The exponent is capped so the power cannot overflow before least() caps it.
 */
function waitFrom(from: string, count: string): string {
  return `case when ${count} >= :free
    then ${from} + make_interval(secs => least(:maxDelay, :baseDelay * power(2, least(${count} - :free, 60)))) end`;
}

/** One attempt on one key in a single upsert, with the wait it started; undefined when the key is waiting. */
async function reserve(trx: Queryable, key: string, policy: Policy): Promise<{ count: number; waitSeconds: number | null } | undefined> {
  // Forgotten: idle long enough; the WHERE already ensures no wait is running.
  const next = `case when t.last_at <= clock_timestamp() - make_interval(secs => :forget) then 1 else t.count + 1 end`;
  const rows = await namedRows<{ count: number; wait: number | null }>(
    trx,
    `insert into throttle as t (key, count, last_at, blocked_until)
     values (:key, 1, clock_timestamp(), ${waitFrom('clock_timestamp()', '1')})
     on conflict (key) do update set
       count = ${next},
       last_at = clock_timestamp(),
       blocked_until = ${waitFrom('clock_timestamp()', next)}
     where t.blocked_until is null or t.blocked_until <= clock_timestamp()
     returning t.count, cast(round(extract(epoch from t.blocked_until - t.last_at)) as integer) as wait`,
    { key, ...policyBindings(policy), forget: policy.forgetAfterSeconds },
  );
  const row = rows[0];
  return row ? { count: Number(row.count), waitSeconds: row.wait === null ? null : Number(row.wait) } : undefined;
}

/**
 * The marker of a key's refusals: a row of its own in the same table whose blocked_until names the
 * wait that has refused already (no extra column; purged and erased with the key's rows).
 */
const REFUSED = 'refused:';
const refusedKey = (key: string) => `${REFUSED}${key}`;

/**
 * The longest wait running on any of the keys, if one is (ties by key, so every refusal of one
 * state names the same key), and whether that wait has refused before.
 */
async function runningWait(db: Queryable, keys: string[]): Promise<{ key: string; retryAfterSeconds: number; reported: boolean } | undefined> {
  const [row] = await rawRows<{ key: string; s: number; reported: boolean }>(
    db,
    `select t.key, cast(ceil(extract(epoch from t.blocked_until - clock_timestamp())) as integer) as s,
            exists (select 1 from throttle m where m.key = '${REFUSED}' || t.key and m.blocked_until = t.blocked_until) as reported
       from throttle t where t.key in (${keys.map(() => '?').join(', ')}) and t.blocked_until > clock_timestamp()
      order by t.blocked_until desc, t.key limit 1`,
    keys,
  );
  return row ? { key: row.key, retryAfterSeconds: Math.max(1, Number(row.s)), reported: row.reported === true } : undefined;
}

/**
 * True for exactly one refusal per wait of the key: the upsert marks the wait as refused and
 * returns a row only when the mark is new (a concurrent claimer waits on the row, then sees it).
 */
async function claimFirstRefusal(db: Queryable, key: string): Promise<boolean> {
  const rows = await rawRows(
    db,
    `insert into throttle as m (key, count, last_at, blocked_until)
     select ?, 1, clock_timestamp(), w.blocked_until from throttle w where w.key = ? and w.blocked_until > clock_timestamp()
     on conflict (key) do update set last_at = excluded.last_at, blocked_until = excluded.blocked_until
     where m.blocked_until is distinct from excluded.blocked_until
     returning m.key`,
    [refusedKey(key), key],
  );
  return rows.length > 0;
}

/** Whole seconds until the key's wait ends; the row is ours (locked by the refused upsert). */
async function retryAfter(trx: Queryable, key: string): Promise<number> {
  const [row] = await rawRows<{ s: number | null }>(
    trx,
    `select cast(ceil(extract(epoch from blocked_until - clock_timestamp())) as integer) as s
       from throttle where key = ?`,
    [key],
  );
  return Math.max(1, row?.s ?? 1);
}

async function namedRows<T>(db: Queryable, sql: string, bindings: Knex.ValueDict): Promise<T[]> {
  const res = await db.raw(sql, bindings);
  return (res.rows ?? res) as T[];
}

function policyBindings(p: Policy) {
  return { free: p.free, baseDelay: p.baseDelaySeconds, maxDelay: p.maxDelaySeconds };
}

function checkPolicy(p: Policy): void {
  const ok =
    Number.isInteger(p.free) && p.free >= 0 &&
    Number.isFinite(p.baseDelaySeconds) && p.baseDelaySeconds > 0 &&
    Number.isFinite(p.maxDelaySeconds) && p.maxDelaySeconds >= p.baseDelaySeconds &&
    Number.isFinite(p.forgetAfterSeconds) && p.forgetAfterSeconds > 0;
  if (!ok) throw new RangeError(`invalid throttle policy ${JSON.stringify(p)}`);
}
