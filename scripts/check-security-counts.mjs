#!/usr/bin/env node
// Compares the figures in SECURITY.md (the table between <!-- counts:start --> and
// <!-- counts:end -->, rows `| key | figure | what |`) with what the security tests recorded in
// test-artifacts/security-counts/*.json during the run. Every figure stated must be measured and
// equal; every figure measured must be stated. Exit 1 with the differences otherwise.
// `--not-yet PREFIX` (repeatable): figures under PREFIX are recorded by a later command of the
// run (e.g. `faults.pg-restart.` by npm run test:faults) and may be missing now.
import fs from 'node:fs';
import path from 'node:path';

const notYet = process.argv.flatMap((a, i, all) => (all[i - 1] === '--not-yet' ? [a] : []));
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dir = path.join(root, 'test-artifacts', 'security-counts');
const measured = {};
for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.json')) : []) {
  for (const [k, v] of Object.entries(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')))) {
    if (k in measured) { console.error(`security counts: ${k} is recorded twice`); process.exit(1); }
    measured[k] = v;
  }
}
const doc = fs.readFileSync(path.join(root, 'SECURITY.md'), 'utf8');
const table = /<!-- counts:start -->([\s\S]*?)<!-- counts:end -->/.exec(doc)?.[1];
if (!table) { console.error('security counts: SECURITY.md has no <!-- counts:start --> … <!-- counts:end --> table'); process.exit(1); }
const stated = {};
for (const line of table.split('\n')) {
  const m = /^\|\s*`([a-z0-9_.-]+)`\s*\|\s*([0-9][0-9 ,]*)\s*\|/i.exec(line.trim());
  if (m) stated[m[1]] = Number(m[2].replace(/[ ,]/g, ''));
}
const problems = [];
for (const [k, v] of Object.entries(stated)) {
  if (!(k in measured)) {
    if (!notYet.some((p) => k.startsWith(p))) problems.push(`${k}: SECURITY.md says ${v}, no test recorded it`);
  }
  else if (measured[k] !== v) problems.push(`${k}: SECURITY.md says ${v}, the tests measured ${measured[k]}`);
}
for (const [k, v] of Object.entries(measured)) if (!(k in stated)) problems.push(`${k}: measured ${v}, missing from SECURITY.md`);
if (problems.length) {
  console.error(`security counts differ from SECURITY.md:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`security counts: ${Object.keys(stated).length} figures in SECURITY.md match the tests`);
