/**
 * Which OS process serves a TCP port, seen from outside that process: the Linux kernel's socket
 * table (/proc/net/tcp, tcp6) names the listening socket's inode, and the process holding that
 * inode among its file descriptors is the server. With its start time (/proc/<pid>/stat), a pid
 * that the OS handed to a new process is not mistaken for the old one. A test compares two such
 * readings to tell "the same server kept serving" from "a server was started again on the port"
 * — what a ChildProcess object cannot tell (its pid never changes, and under tsx or a supervisor
 * the server is not that child at all).
 */
import fs from 'node:fs';

export interface Listener {
  pid: number;
  /** Clock ticks after boot at which the process started (field 22 of /proc/<pid>/stat). */
  startedAt: number;
}

const LISTEN = '0A';

/** Inodes of the sockets listening on `port` (any address, IPv4 or IPv6). */
function listeningInodes(port: number): Set<string> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(table)) continue;
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      if (f.length > 9 && f[1]!.endsWith(`:${hexPort}`) && f[3] === LISTEN && f[9] !== '0') inodes.add(f[9]!);
    }
  }
  return inodes;
}

function startedAt(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[19]); // field 22 overall
}

/** The process listening on `port` on this machine; throws when none (or several) is found. */
export function listenerOf(port: number): Listener {
  if (!fs.existsSync('/proc/net/tcp')) throw new Error('listenerOf needs Linux /proc (the socket table)');
  const inodes = listeningInodes(port);
  if (inodes.size === 0) throw new Error(`nothing listens on port ${port}`);
  const owners = new Set<number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // gone, or another user's
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1]!)) owners.add(Number(entry));
    }
  }
  if (owners.size !== 1) throw new Error(`port ${port}: expected one listening process, found ${owners.size} (${[...owners].join(', ')})`);
  const pid = [...owners][0]!;
  return { pid, startedAt: startedAt(pid) };
}
