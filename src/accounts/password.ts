/**
 * Password hashing: argon2id with the configured cost (OWASP: m=19456 KiB, t=2, p=1). A hash made
 * with other parameters is upgraded at the next successful login. Unknown logins are verified
 * against a decoy hash so the answer takes as long as for a real account.
 */
import argon2 from 'argon2';
import { checkPassword, type PasswordPolicy, type PersonalData } from './password-policy.js';

export interface PasswordParams extends PasswordPolicy {
  argon2MemoryKiB: number;
  argon2TimeCost: number;
  argon2Parallelism: number;
}

export function createPasswords(params: PasswordParams) {
  const options = {
    type: argon2.argon2id,
    memoryCost: params.argon2MemoryKiB,
    timeCost: params.argon2TimeCost,
    parallelism: params.argon2Parallelism,
  } as const;
  let decoy: Promise<string> | undefined;

  return {
    /** The configured password rule; undefined when the password is acceptable. */
    check: (password: string, person: PersonalData) => checkPassword(password, person, params),

    hash: (password: string) => argon2.hash(password, options),

    /** true when `password` matches `hash`; a missing hash is checked against the decoy. */
    async verify(hash: string | null | undefined, password: string): Promise<boolean> {
      if (!hash) {
        decoy ??= argon2.hash('decoy-password-for-unknown-logins', options);
        await argon2.verify(await decoy, password).catch(() => false);
        return false;
      }
      try {
        return await argon2.verify(hash, password);
      } catch {
        return false; // a malformed stored hash never lets anyone in
      }
    },

    needsRehash: (hash: string) => argon2.needsRehash(hash, options),
  };
}

export type Passwords = ReturnType<typeof createPasswords>;
