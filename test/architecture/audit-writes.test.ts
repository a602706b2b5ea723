/**
 * Audit from the request (issue 17.4): only `src/audit/` writes the audit log. Every other module
 * records through a bound writer (`auditOf(ctx)`, `cliAudit`, `systemAudit` of `audit/bound.ts`),
 * whose actor the surface that authenticated someone named — so no handler builds an actor, an
 * address or a request id by hand. Read from the code, as account-writes.test.ts does.
 */
import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';
import { sources, tableWrites } from '../helpers/table-writes.js';

const ROOT = join(import.meta.dirname, '..', '..');
const OWNER = join('src', 'audit') + sep;

/** Uses of the raw writer `writeAudit` (imports, calls, references). */
function rawWriterUses(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && node.text === 'writeAudit') found.push(`${file}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1} writeAudit`);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

describe('the audit log has one writer, src/audit/', () => {
  it('no module outside src/audit/ writes audit_log or calls the raw writer', () => {
    const outside: string[] = [];
    for (const path of sources(join(ROOT, 'src'))) {
      const file = relative(ROOT, path);
      if (file.startsWith(OWNER)) continue;
      const text = readFileSync(path, 'utf8');
      outside.push(...tableWrites(file, text, ['audit_log']).map((w) => `${w.file}:${w.line} ${w.how} audit_log`), ...rawWriterUses(file, text));
    }
    expect(outside).toEqual([]);
  });

  it('the scan sees a raw record and a direct write', () => {
    expect(rawWriterUses('x.ts', "import { writeAudit } from '../audit/audit.js';\nawait writeAudit(db, e);")).toHaveLength(2);
    expect(tableWrites('x.ts', "await trx('audit_log').where({ id }).update({ ip })", ['audit_log'])).toHaveLength(1);
    expect(tableWrites('x.ts', "await db('audit_log').select('*')", ['audit_log'])).toEqual([]);
  });
});
