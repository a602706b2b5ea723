/** journal-id as a separate OS process (a second node), started with `journal-id serve` (helpers/cli.ts). */
import { spawn, type ChildProcess } from 'node:child_process';
import { cliCommand } from './cli.js';
import path from 'node:path';
import type { Config } from '../../src/config/index.js';
import { freePort } from './app.js';

export interface NodeProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  stop(): Promise<number | null>;
  /**
   * Kills the node at once (SIGKILL, nothing cleaned up), with every process of its group — under
   * tsx the server is a grandchild — and resolves once none is left, with the signal the node's
   * process was seen to die of (as the OS reported its end: 'SIGKILL' when the kill landed on a
   * running node; null when it had ended by itself before).
   */
  kill(): Promise<NodeJS.Signals | null>;
}

const ROOT = path.resolve(import.meta.dirname ?? '.', '../..');

/**
 * Starts a node with the same issuer and secrets as `config`, on `databaseUrl` — or, when it is
 * undefined, on the embedded database in `config.dataDir` (one process at a time there).
 */
export async function startNodeProcess(
  config: Config,
  databaseUrl: string | undefined,
  env: Record<string, string> = {},
  opts: { port?: number } = {},
): Promise<NodeProcess> {
  const port = opts.port ?? (await freePort());
  let out = '';
  const child = spawn(cliCommand().command, [...cliCommand().args, 'serve'], {
    cwd: ROOT,
    env: {
      PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      ISSUER: config.issuer,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      DATA_DIR: config.dataDir,
      MIGRATE_ON_START: 'false',
      DEMO: 'false',
      LOG_LEVEL: 'warn',
      COOKIE_KEYS: config.secrets.cookieKeys.join(','),
      KEY_ENCRYPTION_KEY: config.secrets.keyEncryptionKey.toString('hex'),
      JOURNAL_WEB_CLIENT_SECRET: config.secrets.journalWebClientSecret,
      INVITE_CODE_PEPPER: config.secrets.invitePepper.toString('hex'),
      ARGON2_MEMORY_KIB: '8192',
      ARGON2_TIME_COST: '1',
      KEYS_POLL_SECONDS: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // a process group of its own, so that kill() reaches the server itself
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (): Promise<NodeJS.Signals | null> => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      return child.signalCode; // the group is gone already
    }
    for (const until = Date.now() + 10_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
      try {
        process.kill(-child.pid!, 0);
      } catch {
        await exited;
        return child.signalCode;
      }
    }
    throw new Error(`node process group ${child.pid} still alive 10 s after SIGKILL`);
  };
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`node exited early (${child.exitCode}):\n${out}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await kill();
      throw new Error(`node did not become ready:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    child,
    output: () => out,
    kill,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}
