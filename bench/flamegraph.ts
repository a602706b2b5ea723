/**
 * A flame graph (SVG) of a CPU profile of the bench's server, and its self time by package:
 *   BENCH_SERVER_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench -- --scenarios refresh_token
 *   node --import tsx bench/flamegraph.ts /tmp/prof/<largest>.cpuprofile docs/perf/refresh_token.svg "refresh_token, journal-id on PostgreSQL"
 * Only the longest stretch of busy seconds counts (the measured run, not start-up or the pauses
 * between runs): a second is busy when more than 40 % of its samples are not idle. The profile is
 * of the main thread: argon2 hashes on libuv's threads and is not in it. Frames are merged by name
 * along each stack, as flame graphs do; colours by package (our code, oidc-provider, the database
 * driver, Koa and HTTP, crypto, the rest).
 */
import fs from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
}
interface Frame {
  name: string;
  pkg: string;
  total: number;
  children: Map<string, Frame>;
}

const [input, output, title = path.basename(input ?? '')] = process.argv.slice(2);
if (!input || !output) {
  process.stderr.write('usage: node --import tsx bench/flamegraph.ts <profile.cpuprofile> <out.svg> [title]\n');
  process.exit(2);
}
const profile = JSON.parse(fs.readFileSync(input, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

/** The package a frame belongs to: a dependency's name, our folder, or Node's module. */
function packageOf(cf: CallFrame): string {
  if (!cf.url) return 'native';
  const dep = /node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(cf.url);
  if (dep) return dep[1]!;
  const ours = /\/(src|dist\/src)\/([^/]+)\//.exec(cf.url);
  if (ours) return `src/${ours[2]}`;
  if (cf.url.startsWith('node:')) return cf.url.replace(/^node:(internal\/)?/, 'node:').split('/')[0]!;
  return path.basename(cf.url);
}

const idle = (id: number) => byId.get(id)!.callFrame.functionName === '(idle)';
let t = profile.startTime;
const times = profile.timeDeltas.map((d) => (t += d));
const seconds = new Map<number, [number, number]>();
profile.samples.forEach((id, i) => {
  const s = Math.floor((times[i]! - profile.startTime) / 1e6);
  const e = seconds.get(s) ?? [0, 0];
  e[0]++;
  if (!idle(id)) e[1]++;
  seconds.set(s, e);
});
// The longest stretch of busy seconds: the measured run (with its warm-up), not start-up.
const busySeconds = [...seconds].filter(([, [n, b]]) => b / n > 0.4).map(([s]) => s).sort((a, b) => a - b);
let best: number[] = [];
for (let i = 0, run: number[] = []; i < busySeconds.length; i++) {
  run = i > 0 && busySeconds[i] === busySeconds[i - 1]! + 1 ? [...run, busySeconds[i]!] : [busySeconds[i]!];
  if (run.length > best.length) best = run;
}
const busy = new Set(best);

const root: Frame = { name: 'all', pkg: 'root', total: 0, children: new Map() };
const self = new Map<string, number>();
profile.samples.forEach((id, i) => {
  if (idle(id) || !busy.has(Math.floor((times[i]! - profile.startTime) / 1e6))) return;
  const d = profile.timeDeltas[i] ?? 0;
  const stack: CallFrame[] = [];
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) stack.push(byId.get(cur)!.callFrame);
  stack.reverse();
  let node = root;
  root.total += d;
  for (const cf of stack) {
    if (cf.functionName === '(root)') continue;
    const pkg = packageOf(cf);
    const name = `${cf.functionName || '(anonymous)'} · ${pkg}`;
    let child = node.children.get(name);
    if (!child) node.children.set(name, (child = { name, pkg, total: 0, children: new Map() }));
    child.total += d;
    node = child;
  }
  // Native frames (GC, writev) are counted to the package that called them.
  const leaf = stack.at(-1)!;
  const owner = leaf.url ? packageOf(leaf) : `${packageOf(stack.findLast((f) => f.url) ?? leaf)} (native ${leaf.functionName})`;
  self.set(owner, (self.get(owner) ?? 0) + d);
});

const COLOURS: Array<[RegExp, string]> = [
  [/^src\//, '#e8893a'],
  [/^oidc-provider$/, '#4c8bd6'],
  [/^(pg|pg-protocol|pg-types|knex|tarn|postgres-.*|@electric-sql\/.*)$/, '#43a35b'],
  [/^(koa|koa-compose|@koa\/.*|delegates|on-finished|node:_http.*|node:net|node:stream.*|node:streams)$/, '#9a6fc7'],
  [/^(jose|node:crypto)$/, '#d65454'],
];
const colour = (pkg: string) => COLOURS.find(([re]) => re.test(pkg))?.[1] ?? '#a0a0a0';
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const WIDTH = 1400;
const ROW = 17;
let depth = 0;
const rects: string[] = [];
function draw(frame: Frame, x: number, level: number): void {
  const w = (frame.total / root.total) * WIDTH;
  if (w < 0.3) return;
  depth = Math.max(depth, level);
  const pct = ((100 * frame.total) / root.total).toFixed(1);
  const label = w > 60 ? `<text x="${(x + 3).toFixed(1)}" y="${level * ROW + 12}">${esc(frame.name.slice(0, Math.floor(w / 6.5)))}</text>` : '';
  rects.push(`<g><title>${esc(frame.name)} — ${pct} %</title><rect x="${x.toFixed(1)}" y="${level * ROW}" width="${w.toFixed(1)}" height="${ROW - 1}" fill="${colour(frame.pkg)}"/>${label}</g>`);
  let cx = x;
  for (const child of [...frame.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    draw(child, cx, level + 1);
    cx += (child.total / root.total) * WIDTH;
  }
}
draw(root, 0, 0);
const height = (depth + 1) * ROW + 40;
const legend = 'orange: journal-id · blue: oidc-provider · green: database driver · purple: Koa and HTTP · red: crypto · grey: the rest';
fs.mkdirSync(path.dirname(output), { recursive: true });
fs.writeFileSync(
  output,
  `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="monospace" font-size="11">
<style>text { pointer-events: none; fill: #111 }</style>
<text x="0" y="${height - 24}" font-size="13">${esc(title)} — ${(root.total / 1e6).toFixed(1)} s of CPU in ${busy.size} busy seconds</text>
<text x="0" y="${height - 8}">${legend}</text>
<g transform="translate(0,0)">${rects.join('\n')}</g>
</svg>
`,
);
const shares = [...self].sort((a, b) => b[1] - a[1]).slice(0, 15);
process.stdout.write(`${title}: ${(root.total / 1e6).toFixed(1)} s of CPU in ${busy.size} busy seconds; self time by package:\n`);
for (const [pkg, v] of shares) process.stdout.write(`  ${((100 * v) / root.total).toFixed(1).padStart(5)} %  ${pkg}\n`);
