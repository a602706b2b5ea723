/**
 * A private PostgreSQL cluster for fault tests: its own data folder and port, so a test may stop
 * and restart it without touching the machine's shared server. PostgreSQL refuses to run as
 * root, so under root the server runs as the `postgres` user (runuser) in a folder it owns.
 * A missing server package is a clear failure, never a skip.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './app.js';

export interface PgCluster {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  dir: string;
  /** Fast shutdown (SIGINT to the postmaster): sessions are cut, open transactions roll back. */
  stop(): Promise<void>;
  /** Starts the server again on the same port and data. */
  start(): Promise<void>;
  /** Stops (immediate) if running and removes the folder. */
  destroy(): Promise<void>;
  /** The server's log, for failure messages. */
  log(): string;
}

function serverBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin/initdb'))) : [];
  const newest = versions.sort((a, b) => Number(a) - Number(b)).pop();
  if (!newest) {
    throw new Error(`the PostgreSQL server programs (initdb, pg_ctl) are not installed in ${root}/<version>/bin: apt-get install postgresql`);
  }
  return path.join(root, newest, 'bin');
}

/**
 * Creates and starts a cluster in a new folder under `parent` (default: the system's temp
 * folder; `.ci/run` gives its own, which it cleans up even if the test process dies).
 */
export async function startPgCluster(parent = process.env.FAULTS_PG_DIR || os.tmpdir()): Promise<PgCluster> {
  const bin = serverBin();
  const dir = fs.mkdtempSync(path.join(parent, 'jid-pg-'));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    fs.chownSync(dir, uid, gid);
  }
  const run = (program: string, args: string[]) =>
    execFileSync(asRoot ? 'runuser' : path.join(bin, program), asRoot ? ['-u', 'postgres', '--', path.join(bin, program), ...args] : args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
  const port = await freePort();
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`;
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  const start = async () => {
    try {
      run('pg_ctl', ['-D', data, '-o', options, '-l', logFile, '-w', '-t', '60', 'start']);
    } catch (err) {
      throw new Error(`the private PostgreSQL did not start: ${(err as Error).message}\n${log()}`);
    }
  };
  let running = false;
  await start();
  running = true;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    log,
    async start() {
      await start();
      running = true;
    },
    async stop() {
      run('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
      running = false;
    },
    async destroy() {
      if (running || fs.existsSync(path.join(data, 'postmaster.pid'))) {
        try {
          run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
        } catch {
          /* already stopped */
        }
      }
      running = false;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
