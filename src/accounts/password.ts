/**
 * Password hashing: argon2id with the configured cost (OWASP: m=19456 KiB, t=2, p=1). A hash made
 * with other parameters is upgraded at the next successful login. Unknown logins are verified
 * against a decoy hash so the answer takes as long as for a real account. Every hash goes through
 * one bounded line (hash-pool.ts): past its capacity a caller gets HashingBusy (503), not a wait.
 */
import argon2 from 'argon2';
import { availableParallelism } from 'node:os';
import { checkPassword, type PasswordPolicy, type PersonalData } from './password-policy.js';
import { createHashPool, type HashSlot } from './hash-pool.js';

export interface PasswordParams extends PasswordPolicy {
  argon2MemoryKiB: number;
  argon2TimeCost: number;
  argon2Parallelism: number;
  /** Hashes at once; 0: one per core, within libuv's thread pool (UV_THREADPOOL_SIZE, default 4). */
  hashConcurrency?: number;
  /** The longest a hash waits for its turn before the request is refused with 503. */
  hashMaxWaitMs?: number;
}

/** One per core the process may use (taskset and cgroups count), but never more than the pool's threads. */
export function defaultHashConcurrency(): number {
  const threads = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  return Math.max(1, Math.min(availableParallelism(), threads));
}

export function createPasswords(params: PasswordParams) {
  const options = {
    type: argon2.argon2id,
    memoryCost: params.argon2MemoryKiB,
    timeCost: params.argon2TimeCost,
    parallelism: params.argon2Parallelism,
  } as const;
  const pool = createHashPool({
    concurrency: params.hashConcurrency || defaultHashConcurrency(),
    maxWaitMs: params.hashMaxWaitMs ?? 2000,
  });
  // Made once, outside the line: it is not a request's work.
  let decoy: Promise<string> | undefined;
  const run = <T>(slot: HashSlot | undefined, hash: () => Promise<T>) => (slot ? slot.run(hash) : pool.run(hash));

  return {
    /** The configured password rule; undefined when the password is acceptable. */
    check: (password: string, person: PersonalData) => checkPassword(password, person, params),
    /** The rule's settings, for its messages (passwordProblemText). */
    policy: params as PasswordPolicy,

    /**
     * A place in the hashing line for a request with cheaper steps before its hash (a login: the
     * account lookup, the throttle); throws HashingBusy when the line is full. Release it after.
     */
    reserve: (): HashSlot => pool.reserve(),

    hash: (password: string, slot?: HashSlot) => run(slot, () => argon2.hash(password, options)),

    /** true when `password` matches `hash`; a missing hash is checked against the decoy. */
    async verify(hash: string | null | undefined, password: string, slot?: HashSlot): Promise<boolean> {
      if (!hash) {
        decoy ??= argon2.hash('decoy-password-for-unknown-logins', options);
        const made = await decoy;
        await run(slot, () => argon2.verify(made, password).catch(() => false));
        return false;
      }
      return run(slot, () => argon2.verify(hash, password).catch(() => false)); // a malformed stored hash never lets anyone in
    },

    /** The line's state, for health and metrics. */
    hashing: () => pool.stats(),

    needsRehash: (hash: string) => argon2.needsRehash(hash, options),
  };
}

export type Passwords = ReturnType<typeof createPasswords>;
