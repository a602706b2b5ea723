/** Runs a program with arguments (never a shell) and bytes on stdin; resolves with stdout. */
import { spawn } from 'node:child_process';

export function run(program: string, args: string[], input?: Buffer, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(out));
      const stderr = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-3).join(' | ');
      reject(new Error(`${program} ${args[0] ?? ''} failed (${signal ?? `exit ${code}`}): ${stderr.slice(0, 500)}`));
    });
    child.stdin.on('error', () => {}); // a program that exits early closes its stdin; the exit code tells
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}
