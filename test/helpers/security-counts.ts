/**
 * The figures SECURITY.md states (attacks tried, inputs tried, faults survived) come from the
 * tests themselves: each security test records what it did here, and `.ci/run` compares the
 * records with SECURITY.md (scripts/check-security-counts.mjs). A figure that changes in a test
 * must change in the document too.
 */
import fs from 'node:fs';
import path from 'node:path';

export const COUNTS_DIR = path.resolve(import.meta.dirname ?? '.', '../../test-artifacts/security-counts');

/** Adds `counts` to the record of `file` (one record per test file; keys are unique across files). */
export function recordCounts(file: string, counts: Record<string, number>): void {
  fs.mkdirSync(COUNTS_DIR, { recursive: true });
  const target = path.join(COUNTS_DIR, `${file}.json`);
  const before = fs.existsSync(target) ? (JSON.parse(fs.readFileSync(target, 'utf8')) as Record<string, number>) : {};
  fs.writeFileSync(target, JSON.stringify({ ...before, ...counts }, null, 2) + '\n');
}
