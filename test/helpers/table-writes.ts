/**
 * Writes to named tables in source code, read with the TypeScript compiler: the scanner behind the
 * one-owner tests of test/architecture/ (account tables → src/accounts/, audit_log → src/audit/).
 * What counts as a write is described in test/architecture/account-writes.test.ts.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const WRITE_METHODS = new Set(['insert', 'update', 'del', 'delete', 'upsert', 'merge', 'increment', 'decrement', 'truncate']);
/** Knex methods whose first argument names the table the chain works on. */
const TABLE_METHODS = new Set(['table', 'into', 'from', 'insertInto', 'updateTable', 'deleteFrom']);

export interface Write { file: string; line: number; table: string; how: string }

function tableIn(tables: readonly string[], name: string): string | undefined {
  // 'users as u', 'public.users', '"users"'
  const first = name.trim().split(/\s+/)[0]!.replace(/"/g, '');
  const bare = first.includes('.') ? first.slice(first.lastIndexOf('.') + 1) : first;
  return tables.includes(bare) ? bare : undefined;
}

const sqlWrite = (tables: readonly string[]) =>
  new RegExp(
    String.raw`\b(insert\s+into|update|delete\s+from|truncate(?:\s+table)?|merge\s+into)\s+(?:only\s+)?(?:"?\w+"?\.)?"?(` +
      tables.join('|') + String.raw`)"?(?![\w.])`,
    'gi',
  );

/** The write chains and SQL writes on `tables` in one source text. */
export function tableWrites(file: string, text: string, tables: readonly string[]): Write[] {
  const tableOf = (name: string) => tableIn(tables, name);
  const SQL_WRITE = sqlWrite(tables);
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const found: Write[] = [];
  const lineOf = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;

  // Local constants holding a table name: const TABLE = 'users'.
  const names = new Map<string, string>();
  // Local variables holding a chain on an account table: const q = db('users').where(…).
  const chains = new Map<string, string>();

  const stringOf = (e: ts.Expression | undefined): string | undefined => {
    if (!e) return undefined;
    if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return e.text;
    if (ts.isIdentifier(e)) return names.get(e.text);
    if (ts.isAsExpression(e) || ts.isParenthesizedExpression(e)) return stringOf(e.expression);
    return undefined;
  };

  /** The account table a chain works on, and the methods it calls (outermost first). */
  const chainOf = (e: ts.Expression): { table?: string; methods: string[] } => {
    const methods: string[] = [];
    let table: string | undefined;
    let cur: ts.Expression = e;
    for (;;) {
      if (ts.isAwaitExpression(cur) || ts.isParenthesizedExpression(cur) || ts.isAsExpression(cur) || ts.isNonNullExpression(cur)) {
        cur = cur.expression;
      } else if (ts.isCallExpression(cur)) {
        const callee = cur.expression;
        const arg = stringOf(cur.arguments[0]);
        if (ts.isPropertyAccessExpression(callee)) {
          const m = callee.name.text;
          methods.push(m);
          // .table('users'), .into('users'), and app.db('users') / this.trx('users'): any call but a
          // write's own (seen.delete('users') is a Set's).
          if ((TABLE_METHODS.has(m) || !WRITE_METHODS.has(m)) && arg !== undefined) table ??= tableOf(arg);
          cur = callee.expression;
        } else {
          // db('users'), trx('users'), knex('users'): the chain's root call.
          if (arg !== undefined) table ??= tableOf(arg);
          if (ts.isIdentifier(callee) && chains.has(callee.text)) table ??= chains.get(callee.text);
          break;
        }
      } else if (ts.isPropertyAccessExpression(cur)) {
        // this.db('users') / app.db('users'): the callee of the root call, or a property on the way.
        cur = cur.expression;
      } else if (ts.isElementAccessExpression(cur)) {
        cur = cur.expression;
      } else {
        if (ts.isIdentifier(cur) && chains.has(cur.text)) table ??= chains.get(cur.text);
        break;
      }
    }
    return { table, methods };
  };

  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
      const s = stringOf(node.initializer);
      if (s !== undefined && ts.isVariableDeclarationList(node.parent) && (node.parent.flags & ts.NodeFlags.Const)) names.set(node.name.text, s);
      else {
        const { table } = chainOf(node.initializer);
        if (table) chains.set(node.name.text, table);
      }
    }
    // The outermost call of a chain: its parent does not continue it.
    if (ts.isCallExpression(node) && !(ts.isPropertyAccessExpression(node.parent) && node.parent.expression === node)) {
      const { table, methods } = chainOf(node);
      const write = methods.find((m) => WRITE_METHODS.has(m));
      if (table && write) found.push({ file, line: lineOf(node), table, how: `.${write}()` });
    }
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node)) {
      const sql = ts.isTemplateExpression(node)
        ? node.head.text + node.templateSpans.map((s) => ' ${} ' + s.literal.text).join('')
        : node.text;
      for (const m of sql.matchAll(SQL_WRITE)) {
        found.push({ file, line: lineOf(node), table: m[2]!.toLowerCase(), how: m[1]!.toLowerCase().replace(/\s+/g, ' ') });
      }
      if (ts.isTemplateExpression(node)) {
        // the spans' expressions may hold strings of their own
        node.templateSpans.forEach((s) => visit(s.expression));
        return;
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** Every TypeScript source under `dir` (declarations aside). */
export function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return sources(p);
    return d.name.endsWith('.ts') && !d.name.endsWith('.d.ts') ? [p] : [];
  });
}
