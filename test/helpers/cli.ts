/**
 * How tests start the `journal-id` command as a process: the compiled `dist/` when it is at least
 * as new as every source file (`npm test` compiles first: a Node start is about three times
 * quicker than tsx's), otherwise the TypeScript sources through tsx — slower, never stale.
 */
import { spawnSync } from 'node:child_process';
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

/** Runs `journal-id <args>` on a data folder (PGlite) or a test database, with cheap hashing. */
export function runCli(args: string[], on: { dataDir: string; databaseUrl?: string; input?: string }): { code: number | null; out: string; err: string } {
  const r = spawnSync(cliCommand().command, [...cliCommand().args, ...args], {
    cwd: ROOT,
    input: on.input,
    encoding: 'utf8',
    env: {
      PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`,
      NODE_ENV: 'development',
      DATA_DIR: on.dataDir,
      DEMO: 'false',
      ARGON2_MEMORY_KIB: '8192',
      ARGON2_TIME_COST: '1',
      ...(on.databaseUrl ? { DATABASE_URL: on.databaseUrl } : {}),
    },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
