/**
 * Memory over time (issue 8, part 3): a mixed load — the apps' rotating refreshes at
 * `connections` connections and a steady trickle of whole password logins (sessions,
 * interactions, grants, audit rows) — for `seconds`, with the server's resident memory read every
 * second. A leak shows as growth between minute 1 (after start-up and the caches have filled) and
 * the end.
 */
import type { Server } from '../servers/process.js';
import type { Seeded } from '../servers/journal-id.js';
import { runHttp, type Measured, type Target } from './http.js';
import { loginOnce } from './login.js';

export interface SoakResult {
  seconds: number;
  refresh: Measured;
  logins: number;
  loginErrors: number;
  /** Resident memory of the server process, MiB. */
  rssMiB: { start: number; atMinute1: number; end: number; max: number };
  /** (end − minute 1) ÷ minute 1, in %. */
  growthPercent: number;
  /** [second, MiB] every 10 s, for a plot. */
  samples: Array<[number, number]>;
}

export async function runSoak(opts: {
  server: Server;
  base: string;
  tokenPath: string;
  seeded: Seeded;
  tokenTarget: Target;
  connections: number;
  seconds: number;
}): Promise<SoakResult> {
  const { server, seconds } = opts;
  const samples: Array<[number, number]> = [];
  const start = performance.now();
  const until = start + seconds * 1000;
  const rssStart = server.rssMiB();
  const sampler = setInterval(() => samples.push([Math.round((performance.now() - start) / 1000), server.rssMiB()]), 1000);
  let logins = 0;
  let loginErrors = 0;
  // Two people at a time log in, one after another, the whole time.
  const loginLoops = Array.from({ length: 2 }, async (_, i) => {
    for (let k = 0; performance.now() < until; k++) {
      try {
        await loginOnce(opts.base, opts.tokenPath, opts.seeded, opts.seeded.logins[(2 * k + i) % opts.seeded.logins.length]!);
        logins++;
      } catch {
        loginErrors++;
      }
    }
  });
  const refresh = await runHttp(opts.tokenTarget, 'refresh_token', seconds, opts.connections);
  await Promise.all(loginLoops);
  clearInterval(sampler);
  const at = (second: number) => samples.find(([t]) => t >= second)?.[1] ?? samples.at(-1)?.[1] ?? rssStart;
  const atMinute1 = at(Math.min(60, seconds / 5));
  const end = samples.at(-1)?.[1] ?? rssStart;
  return {
    seconds,
    refresh,
    logins,
    loginErrors,
    rssMiB: { start: rssStart, atMinute1, end, max: Math.max(rssStart, ...samples.map(([, m]) => m)) },
    growthPercent: Math.round(((end - atMinute1) / atMinute1) * 1000) / 10,
    samples: samples.filter(([t]) => t % 10 === 0),
  };
}
