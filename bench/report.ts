/** The bench's table: journal-id beside bare oidc-provider per scenario, and the ratios. */
import type { Measured } from './scenarios/http.js';
import type { StormResult } from './scenarios/storm.js';
import type { SoakResult } from './scenarios/soak.js';

export type Side = Measured & { serverCpuPercent: number; databaseCpuPercent?: number };
export interface Row {
  scenario: string;
  journalId?: Side;
  bare?: Side;
}

export interface Result {
  database: 'postgresql' | 'pglite';
  /** journal-id's processes (`serve --workers`); more than one run on every core. */
  workers?: number;
  /** Accounts added by --seed-users (each with 5 live oidc_models rows). */
  seedUsers?: number;
  pinned: boolean;
  seconds: number;
  connections: number;
  rows: Row[];
  argon2?: { verifiesPerSecond: number; params: Record<string, number> };
  /** Logins offered faster than they can be hashed, while refreshes go on (part 4). */
  storm?: StormResult & { calmTokenP99Ms?: number };
  /** The server's memory over a long mixed run. */
  soak?: SoakResult;
}

/** journal-id ÷ bare per scenario; full logins ÷ argon2id verifies for the login. */
export function ratiosOf(r: Result): Record<string, number> {
  const out: Record<string, number> = {};
  for (const row of r.rows) {
    if (row.journalId && row.bare) out[row.scenario] = round2(row.journalId.requestsPerSecond / row.bare.requestsPerSecond);
    if (row.scenario === 'login' && row.journalId && r.argon2) out.login_per_argon2 = round2(row.journalId.requestsPerSecond / r.argon2.verifiesPerSecond);
    if (row.scenario === 'register' && row.journalId && r.argon2) out.register_per_argon2 = round2(row.journalId.requestsPerSecond / r.argon2.verifiesPerSecond);
  }
  return out;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** Where the processes ran. */
function placement(r: Result): string {
  const workers = r.workers ?? 1;
  if (!r.pinned) return workers > 1 ? `journal-id ${workers} workers, not pinned` : 'not pinned';
  return workers > 1
    ? `journal-id ${workers} workers on all cores (shared with the load generator), bare oidc-provider on core 0, load generator on core 1`
    : 'servers pinned to core 0, load generator to core 1';
}

export function printTable(r: Result): string {
  const ratios = ratiosOf(r);
  const cells = (m?: Side) =>
    m ? [m.requestsPerSecond < 100 ? m.requestsPerSecond.toFixed(1) : String(Math.round(m.requestsPerSecond)), `${m.p50Ms}`, `${m.p99Ms}`, `${m.errors}/${m.non2xx}`, `${m.serverCpuPercent}%${m.databaseCpuPercent !== undefined ? `+${m.databaseCpuPercent}%` : ''}`] : ['', '', '', '', ''];
  const head = ['scenario', 'journal-id/s', 'p50 ms', 'p99 ms', 'err/non2xx', 'cpu', 'bare/s', 'p50 ms', 'p99 ms', 'err/non2xx', 'cpu', 'ratio'];
  const lines = r.rows.map((row) => [
    row.scenario === 'login' ? 'login (full)' : row.scenario === 'register' ? 'register (invite code)' : row.scenario,
    ...cells(row.journalId),
    ...cells(row.bare),
    String(row.scenario === 'login' ? (ratios.login_per_argon2 ?? '') : row.scenario === 'register' ? (ratios.register_per_argon2 ?? '') : (ratios[row.scenario] ?? '')),
  ]);
  if (r.argon2) lines.push(['argon2id verify', r.argon2.verifiesPerSecond.toFixed(1), '', '', '', '100%', '', '', '', '', '', '']);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const a = r.argon2?.params;
  return [
    '',
    `journal-id on ${r.database === 'postgresql' ? 'PostgreSQL' : 'embedded PGlite'}${r.seedUsers ? ` with ${r.seedUsers.toLocaleString('en')} more users and ${(r.seedUsers * 5).toLocaleString('en')} live oidc_models rows` : ''} vs bare oidc-provider (in memory); ${r.seconds} s per scenario, ${r.connections} connections; ${placement(r)}`,
    fmt(head),
    fmt(head.map((_, i) => '-'.repeat(widths[i]!))),
    ...lines.map(fmt),
    '',
    'ratio: journal-id ÷ bare requests/s; for the login and the registration, per second ÷ argon2id verifies/s on one core' + (a ? ` (m=${a.argon2MemoryKiB} KiB, t=${a.argon2TimeCost}, p=${a.argon2Parallelism})` : ''),
    'cpu: the server process\'s CPU during the scenario, % of one core (+ the local PostgreSQL\'s); err: connection errors and timeouts',
    ...loginBound(r),
    ...stormLines(r),
    ...soakLines(r),
    '',
  ].join('\n');
}

/** The full login's p99 against its bound: 1.3 × connections ÷ the measured login rate (issue 8). */
function loginBound(r: Result): string[] {
  const login = r.rows.find((row) => row.scenario === 'login')?.journalId;
  if (!login || !(login.requestsPerSecond > 0)) return [];
  const bound = Math.round((1.3 * r.connections * 1000) / login.requestsPerSecond);
  return [`login p99 ${login.p99Ms} ms; bound 1.3 × ${r.connections} connections ÷ ${login.requestsPerSecond.toFixed(1)} logins/s = ${bound} ms`];
}

/** A latency, or a dash when nothing was measured (none served, none refused; null in JSON). */
const ms = (v: number | null | undefined) => (typeof v === 'number' && Number.isFinite(v) ? `${v} ms` : '—');

function stormLines(r: Result): string[] {
  const s = r.storm;
  if (!s) return [];
  return [
    '',
    `login storm: ${s.offeredPerSecond.toFixed(1)} logins/s offered for ${s.attempts} attempts, refreshes at ${r.connections} connections meanwhile`,
    `  served ${s.served} (${(s.servedPerSecond).toFixed(1)}/s, ${Math.round(s.servedShare * 100)} % of attempts; p50 ${ms(s.servedP50Ms)}, p99 ${ms(s.servedP99Ms)})`,
    `  told to come back (503 + Retry-After) ${s.busy} (p50 ${ms(s.busyP50Ms)}, p99 ${ms(s.busyP99Ms)}); throttled ${s.throttled}; failed ${s.failed}`,
    `  refresh during the storm: ${Math.round(s.token.requestsPerSecond)}/s, p50 ${s.token.p50Ms} ms, p99 ${s.token.p99Ms} ms${s.calmTokenP99Ms !== undefined ? ` (without the storm: p99 ${s.calmTokenP99Ms} ms)` : ''}`,
  ];
}

function soakLines(r: Result): string[] {
  const s = r.soak;
  if (!s) return [];
  return [
    '',
    `soak: ${s.seconds} s of rotating refreshes (${Math.round(s.refresh.requestsPerSecond)}/s) and ${s.logins} whole logins`,
    `  server RSS: ${s.rssMiB.start} MiB at start, ${s.rssMiB.atMinute1} MiB at minute 1, ${s.rssMiB.end} MiB at the end (${s.growthPercent >= 0 ? '+' : ''}${s.growthPercent} %), at most ${s.rssMiB.max} MiB`,
  ];
}
