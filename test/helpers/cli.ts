/**
 * How tests start the `journal-id` command as a process: the compiled `dist/` when it is at least
 * as new as every source file (`npm test` compiles first: a Node start is about three times
 * quicker than tsx's), otherwise the TypeScript sources through tsx — slower, never stale.
 */
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname ?? '.', '../..');
const DIST_MAIN = path.join(ROOT, 'dist/src/cli/main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(p) : entry.name.endsWith('.ts') ? fs.statSync(p).mtimeMs : 0);
  }
  return newest;
}

let chosen: { command: string; args: string[] } | undefined;

export function cliCommand(): { command: string; args: string[] } {
  if (!chosen) {
    const built = fs.existsSync(DIST_MAIN) ? fs.statSync(DIST_MAIN).mtimeMs : 0;
    const sources = Math.max(...['src', 'migrations', 'config'].map((d) => newestSource(path.join(ROOT, d))));
    chosen = built >= sources
      ? { command: process.execPath, args: [DIST_MAIN] }
      : { command: path.join(ROOT, 'node_modules/.bin/tsx'), args: [path.join(ROOT, 'src/cli/main.ts')] };
  }
  return chosen;
}
