/**
 * Registration by invite code, one operation = the whole of it as a person does it in a fresh
 * browser: GET /register → POST the code → the details form → POST login and password (hashed
 * with argon2id) → «Регистрация в системе успешно завершена». Each connection takes the next
 * unused code the seed printed; a run that has used them all stops early.
 */
import { registerWithCode } from '../../test/helpers/flows.js';
import { measuredOf } from './login.js';
import type { Measured } from './http.js';

export interface Codes {
  codes: string[];
  next: number;
}

export async function runRegistrations(base: string, pool: Codes, seconds: number, connections: number): Promise<Measured & { firstError?: string; codesLeft: number }> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const until = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until && pool.next < pool.codes.length) {
        const i = pool.next++;
        const t0 = performance.now();
        const r = await registerWithCode(base, { code: pool.codes[i]!, login: `bench.reg${i + 1}`, password: `Registr${i + 1}x2026` });
        if (r.outcome === 'registered') latencies.push(performance.now() - t0);
        else {
          errors++;
          const last = r.steps.at(-1);
          firstError ??= `${r.outcome}: ${last?.what} → ${last?.status} ${last?.networkError ?? last?.body.replace(/\s+/g, ' ').slice(0, 200)}`;
        }
      }
    }),
  );
  return { ...measuredOf(latencies, errors, start), firstError, codesLeft: pool.codes.length - pool.next };
}
