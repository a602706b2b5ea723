/** Reading journal-id's /metrics (the Prometheus text format) in tests: named series and their values. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample line of a text exposition (comments skipped). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the series `name` with exactly these labels; 0 when it does not exist (yet). */
export function valueOf(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels);
  const found = parseMetrics(text).filter(
    (s) => s.name === name && Object.keys(s.labels).length === want.length && want.every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} appears ${found.length} times`);
  return found[0]?.value ?? 0;
}

/** GET /metrics from this process (a loopback peer): the status and the text. */
export async function scrape(base: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(`${base}/metrics`, { headers });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

/** The metrics text, failing unless the scrape was answered. */
export async function metricsText(base: string, headers: Record<string, string> = {}): Promise<string> {
  const { status, text } = await scrape(base, headers);
  if (status !== 200) throw new Error(`/metrics answered ${status}: ${text.slice(0, 300)}`);
  return text;
}
