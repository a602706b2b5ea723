/**
 * The login storm (issue 8, part 4): people arrive at `rate` logins per second — open loop, as at
 * 8 a.m., whether or not earlier ones are done — for `seconds`, while the apps go on refreshing
 * tokens at `connections` connections. Measures what share of the logins is served, how fast the
 * excess is told to come back (503 + Retry-After from the hashing line), and the token endpoint's
 * latency meanwhile.
 */
import { Browser } from '../../test/helpers/browser.js';
import { continueToRp, openLoginPage, submitLogin } from '../../test/helpers/rp.js';
import type { Seeded } from '../servers/journal-id.js';
import { authorizationUrl, exchangeCode, percentile } from './login.js';
import { runHttp, type HttpScenario, type Measured, type Target } from './http.js';

export interface StormResult {
  offeredPerSecond: number;
  attempts: number;
  /** Whole logins done: the code exchanged for tokens. */
  served: number;
  servedPerSecond: number;
  servedShare: number;
  /** Told at once to come back (503 with Retry-After). */
  busy: number;
  /** Refused by the password throttle (429) — should be none: each person logs in with the right password. */
  throttled: number;
  /** Anything else: an error, a timeout, an unexpected page. */
  failed: number;
  firstError?: string;
  servedP50Ms: number;
  servedP99Ms: number;
  /** From the login form's POST to the 503. */
  busyP50Ms: number;
  busyP99Ms: number;
  /** The token endpoint during the storm. */
  token: Measured & { scenario: HttpScenario };
}

type Outcome = { kind: 'served' | 'busy' | 'throttled'; ms: number } | { kind: 'failed'; error: string };

async function attempt(base: string, tokenPath: string, s: Seeded, login: string): Promise<Outcome> {
  try {
    const browser = new Browser(base);
    const auth = authorizationUrl(base, s);
    const page = await openLoginPage(browser, auth.url);
    if (page.status !== 200) return { kind: 'failed', error: `login page: ${page.status}` };
    const t0 = performance.now();
    const { res, url } = await submitLogin(browser, page.html, login, s.password);
    if (res.status === 503 && Number(res.headers.get('retry-after')) >= 1) {
      await res.text();
      return { kind: 'busy', ms: performance.now() - t0 };
    }
    if (res.status === 429) {
      await res.text();
      return { kind: 'throttled', ms: performance.now() - t0 };
    }
    await exchangeCode(base, tokenPath, s, await continueToRp(browser, res, url), auth.verifier);
    return { kind: 'served', ms: performance.now() - t0 };
  } catch (err) {
    return { kind: 'failed', error: (err as Error).message.slice(0, 300) };
  }
}

export async function runStorm(opts: {
  base: string;
  tokenPath: string;
  seeded: Seeded;
  rate: number;
  seconds: number;
  tokenTarget: Target;
  tokenScenario: HttpScenario;
  connections: number;
}): Promise<StormResult> {
  const { base, tokenPath, seeded, rate, seconds } = opts;
  const outcomes: Outcome[] = [];
  const inFlight = new Set<Promise<void>>();
  let next = 0;
  const start = performance.now();
  // Arrivals on a fixed schedule (not paced by answers): attempt k starts at k / rate seconds.
  const arrivals = (async () => {
    for (let k = 0; ; k++) {
      const at = start + (k * 1000) / rate;
      if (at >= start + seconds * 1000) break;
      const wait = at - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      // Each arrival is another person (one per seeded account in turn): parallel logins of one
      // account would meet its throttle, which is not what is measured here.
      const p = attempt(base, tokenPath, seeded, seeded.logins[next++ % seeded.logins.length]!).then((o) => {
        outcomes.push(o);
        inFlight.delete(p);
      });
      inFlight.add(p);
    }
  })();
  const token = await runHttp(opts.tokenTarget, opts.tokenScenario, seconds, opts.connections);
  await arrivals;
  await Promise.all(inFlight);
  const elapsed = seconds;

  const of = (kind: 'served' | 'busy') => outcomes.flatMap((o) => (o.kind === kind ? [o.ms] : [])).sort((a, b) => a - b);
  const served = of('served');
  const busy = of('busy');
  const failed = outcomes.filter((o): o is Outcome & { kind: 'failed' } => o.kind === 'failed');
  return {
    offeredPerSecond: rate,
    attempts: outcomes.length,
    served: served.length,
    servedPerSecond: served.length / elapsed,
    servedShare: outcomes.length ? served.length / outcomes.length : 0,
    busy: busy.length,
    throttled: outcomes.filter((o) => o.kind === 'throttled').length,
    failed: failed.length,
    firstError: failed[0]?.error,
    servedP50Ms: Math.round(percentile(served, 50)),
    servedP99Ms: Math.round(percentile(served, 99)),
    busyP50Ms: Math.round(percentile(busy, 50)),
    busyP99Ms: Math.round(percentile(busy, 99)),
    token: { ...token, scenario: opts.tokenScenario },
  };
}
