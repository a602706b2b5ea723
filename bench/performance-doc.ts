/**
 * docs/PERFORMANCE.md shows the bench's tables of committed results: each block
 *   <!-- bench:reference/<name>.json -->
 *   ...
 *   <!-- /bench -->
 * holds the table that bench/report.ts prints for bench/results/reference/<name>.json, so that the
 * figures in the document are the figures of a run, never typed by hand. Two more kinds:
 *   <!-- targets:reference/<name>.json -->  issue 8's targets beside that run's figures
 *   <!-- compare:reference/<a>.json:reference/<b>.json -->  requests/s of b ÷ a per scenario
 *   node --import tsx bench/performance-doc.ts           rewrites the blocks
 *   node --import tsx bench/performance-doc.ts --check   exit 1 when a block differs (.ci/run)
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../test/helpers/cli.js';
import { printTable, type Result } from './report.js';

const DOC = path.join(ROOT, 'docs/PERFORMANCE.md');
const BLOCK = /<!-- (bench|targets|compare):([\w./-]+\.json)(?::([\w./-]+\.json))? -->\n[\s\S]*?<!-- \/bench -->/g;

type Run = Result & { date: string; machine: { cpu: string; node: string }; ratios: Record<string, number> };

/** Issue 8's targets: journal-id ÷ bare per scenario, and full logins ÷ argon2 verifies. */
const TARGETS: Array<[string, number]> = [
  ['discovery', 0.9],
  ['jwks', 0.9],
  ['client_credentials_jwt', 0.95],
  ['introspection', 0.8],
  ['refresh_token', 0.55],
  ['login_per_argon2', 0.85],
];
const TOKEN_SCENARIOS = ['client_credentials', 'client_credentials_jwt', 'refresh_token', 'introspection', 'userinfo'];

function targets(r: Run): string {
  const lines = ['target                          goal     measured', '------------------------------  -------  --------'];
  const mark = (ok: boolean) => (ok ? 'met' : 'missed');
  for (const [name, goal] of TARGETS) {
    const got = r.ratios[name];
    if (got === undefined) continue;
    const label = name === 'login_per_argon2' ? 'full login ÷ argon2id verify' : `${name} ÷ bare`;
    lines.push(`${label.padEnd(30)}  ≥ ${goal.toFixed(2)}   ${got.toFixed(2)}  ${mark(got >= goal)}`);
  }
  for (const row of r.rows) {
    if (!TOKEN_SCENARIOS.includes(row.scenario) || !row.journalId) continue;
    lines.push(`${`${row.scenario} p99`.padEnd(30)}  < 25 ms  ${`${row.journalId.p99Ms} ms`.padStart(6)}  ${mark(row.journalId.p99Ms < 25)}`);
  }
  const login = r.rows.find((row) => row.scenario === 'login')?.journalId;
  if (login) {
    const bound = Math.round((1.3 * r.connections * 1000) / login.requestsPerSecond);
    lines.push(`${'full login p99'.padEnd(30)}  ≤ ${bound} ms  ${login.p99Ms} ms  ${mark(login.p99Ms <= bound)}`);
  }
  if (r.soak) {
    const limit = r.soak.rssMiB.atMinute1 * 1.05;
    lines.push(`${'RSS at the end'.padEnd(30)}  ≤ ${Math.round(limit)} MiB  ${r.soak.rssMiB.end} MiB  ${mark(r.soak.rssMiB.end <= limit)}`);
    lines.push(`${'RSS at most'.padEnd(30)}  < 300 MiB  ${r.soak.rssMiB.max} MiB  ${mark(r.soak.rssMiB.max < 300)}`);
  }
  return lines.join('\n');
}

function compare(a: Run, b: Run): string {
  const lines = ['scenario                  first/s   second/s   second ÷ first', '------------------------  --------  ---------  --------------'];
  for (const row of b.rows) {
    const before = a.rows.find((x) => x.scenario === row.scenario)?.journalId;
    if (!before || !row.journalId) continue;
    const f = (n: number) => (n < 100 ? n.toFixed(1) : String(Math.round(n)));
    lines.push(`${row.scenario.padEnd(24)}  ${f(before.requestsPerSecond).padStart(8)}  ${f(row.journalId.requestsPerSecond).padStart(9)}  ${(row.journalId.requestsPerSecond / before.requestsPerSecond).toFixed(2).padStart(14)}`);
  }
  return lines.join('\n');
}

const check = process.argv.includes('--check');
const before = fs.readFileSync(DOC, 'utf8');
const missing: string[] = [];
const load = (file: string): Run | undefined => {
  const source = path.join(ROOT, 'bench/results', file);
  if (fs.existsSync(source)) {
    const run = JSON.parse(fs.readFileSync(source, 'utf8')) as Run & { seed?: { users?: number } };
    // The JSON keeps the seed as `seed.users`; the table's header reads `seedUsers`.
    return { ...run, seedUsers: run.seedUsers ?? run.seed?.users };
  }
  missing.push(file);
  return undefined;
};
const after = before.replace(BLOCK, (all, kind: string, file: string, second?: string) => {
  const result = load(file);
  const other = second ? load(second) : undefined;
  if (!result || (second && !other)) return all;
  const head = `<!-- ${kind}:${file}${second ? `:${second}` : ''} -->`;
  const body = kind === 'bench' ? printTable(result).trim() : kind === 'targets' ? targets(result) : compare(result, other!);
  const source = second ? `bench/results/${file} and ${second}` : `bench/results/${file} — ${result.date}, ${result.machine.cpu}, Node ${result.machine.node}`;
  return `${head}\n\`\`\`text\n${body}\n\`\`\`\n<sub>${source}</sub>\n<!-- /bench -->`;
});
if (missing.length) {
  process.stderr.write(`performance-doc: no such result: ${missing.join(', ')}\n`);
  process.exit(1);
}
if (check) {
  if (after !== before) {
    process.stderr.write('performance-doc: docs/PERFORMANCE.md differs from its committed bench results; run node --import tsx bench/performance-doc.ts\n');
    process.exit(1);
  }
  process.stdout.write('performance-doc: docs/PERFORMANCE.md matches its committed bench results\n');
} else {
  fs.writeFileSync(DOC, after);
  process.stdout.write('performance-doc: docs/PERFORMANCE.md rewritten from its committed bench results\n');
}
