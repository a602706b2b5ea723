/**
 * Registration by invite code, one operation = the whole of it as a person does it in a fresh
 * browser: GET /register → POST the code → the details form → POST login and password (hashed
 * with argon2id) → «Регистрация в системе успешно завершена». Each connection takes the next
 * unused code the seed printed; a run that has used them all stops early.
 */
import { registerWithCode } from '../../test/helpers/flows.js';
import { runLoops } from './login.js';
import type { Measured } from './http.js';

export interface Codes {
  codes: string[];
  next: number;
}

export async function runRegistrations(base: string, pool: Codes, seconds: number, connections: number): Promise<Measured & { firstError?: string; codesLeft: number }> {
  const m = await runLoops(
    seconds,
    connections,
    async () => {
      const i = pool.next++;
      const r = await registerWithCode(base, { code: pool.codes[i]!, login: `bench.reg${i + 1}`, password: `Registr${i + 1}x2026` });
      if (r.outcome === 'registered') return;
      const last = r.steps.at(-1);
      throw new Error(`${r.outcome}: ${last?.what} → ${last?.status} ${last?.networkError ?? last?.body.replace(/\s+/g, ' ').slice(0, 200)}`);
    },
    () => pool.next < pool.codes.length,
  );
  return { ...m, codesLeft: pool.codes.length - pool.next };
}
