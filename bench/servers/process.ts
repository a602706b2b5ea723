/**
 * Servers under test as separate processes: pinned to one core with `taskset` when the machine
 * has it (the bench itself takes the other), in a process group of their own so that the CPU of
 * the whole group (tsx starts the server as a grandchild) is read from /proc and a stop reaches all.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { cpus } from 'node:os';

export const SERVER_CORE = 0;
export const LOAD_CORE = 1;
/** Every core, for a server of several processes (a child inherits the bench's own core otherwise). */
export const ALL_CORES = `0-${cpus().length - 1}`;

/** true when `taskset` exists and there are at least two cores to split. */
export const canPin = cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;

/** Pins the bench (every thread of this process) to the load generator's core. */
export function pinSelf(): boolean {
  return canPin && spawnSync('taskset', ['-apc', String(LOAD_CORE), String(process.pid)]).status === 0;
}

export interface Server {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote, for errors. */
  output(): string;
  /** Seconds of CPU (user + system) used so far by the whole process group. */
  cpuSeconds(): number;
  /** Resident memory of the group's largest process (the server, or its largest worker), in MiB. */
  rssMiB(): number;
  stop(): Promise<void>;
}

const TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

/** Each live process's /proc/<pid>/stat: its command name and the fields after it. */
function* processes(): Generator<{ pid: string; name: string; fields: string[] }> {
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      // The command name may hold spaces and parentheses: the fields start after the last ")".
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      yield { pid, name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), fields: stat.slice(stat.lastIndexOf(')') + 2).split(' ') };
    } catch {
      /* the process ended meanwhile */
    }
  }
}

// Fields after the name: [2] process group, [11] user and [12] system CPU ticks.
const cpuTicks = (f: string[]) => Number(f[11]) + Number(f[12]);

function groupCpuSeconds(pgid: number): number {
  let ticks = 0;
  for (const p of processes()) if (Number(p.fields[2]) === pgid) ticks += cpuTicks(p.fields);
  return ticks / TICKS;
}

/**
 * Seconds of CPU used so far by the local PostgreSQL server's processes (all of them: during the
 * bench only its own database is busy). 0 when none runs here (PGlite, or a remote server).
 */
export function databaseCpuSeconds(): number {
  let ticks = 0;
  for (const p of processes()) if (p.name === 'postgres') ticks += cpuTicks(p.fields);
  return ticks / TICKS;
}

function groupLargestRssMiB(pgid: number): number {
  let largest = 0;
  for (const p of processes()) {
    if (Number(p.fields[2]) !== pgid) continue;
    try {
      const kib = Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1] ?? 0);
      largest = Math.max(largest, kib / 1024);
    } catch {
      /* the process ended meanwhile */
    }
  }
  return Math.round(largest * 10) / 10;
}

/**
 * Resolves once the server's process group has used less than a fifth of a core for half a
 * second (at most 30 s): a server of several processes answers /readyz as soon as its first
 * worker listens, while the others are still loading.
 */
export async function settled(server: Server): Promise<void> {
  for (const until = Date.now() + 30_000; Date.now() < until; ) {
    const before = server.cpuSeconds();
    await new Promise((r) => setTimeout(r, 500));
    if (server.cpuSeconds() - before < 0.1) return;
  }
}

/** Runs a command to completion (pinned like a server) and returns its standard output. */
export function runPinned(command: string, args: string[], env: NodeJS.ProcessEnv): string {
  const [cmd, argv] = canPin ? ['taskset', ['-c', String(SERVER_CORE), command, ...args]] : [command, args];
  const r = spawnSync(cmd as string, argv as string[], { env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/**
 * Starts a server and resolves once `readyUrl(output)` answers 200. `readyUrl` reads the address
 * from the output (a server on port 0) or returns a fixed one. `cores`: a taskset list.
 */
export async function startServer(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  readyUrl: (output: string) => string | undefined,
  cores = String(SERVER_CORE),
): Promise<Server> {
  const [cmd, argv] = canPin ? ['taskset', ['-c', cores, command, ...args]] : [command, args];
  const child = spawn(cmd as string, argv as string[], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 5000);
    await exited;
    clearTimeout(timer);
  };
  for (const until = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 200))) {
    if (child.exitCode !== null) throw new Error(`${command} exited early (${child.exitCode}):\n${out}`);
    const url = readyUrl(out);
    if (url && (await fetch(url).then((r) => r.ok, () => false))) {
      return { url: new URL(url).origin, child, output: () => out, cpuSeconds: () => groupCpuSeconds(child.pid!), rssMiB: () => groupLargestRssMiB(child.pid!), stop };
    }
    if (Date.now() > until) {
      await stop();
      throw new Error(`${command} did not become ready:\n${out}`);
    }
  }
}
