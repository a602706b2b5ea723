/**
 * One scrape covers every process of `serve --workers N`. Connections go to the workers in turn,
 * so the worker that receives /metrics asks the primary over the cluster's IPC channel; the
 * primary collects every worker's registry (prom-client's AggregatorRegistry: counters and
 * histograms summed, the Node version taken once, start times left out) and sends the text back.
 * Outside a cluster (one process, the tests) the process's own registry is the answer.
 */
import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Logger } from '../server/logger.js';
import { registry } from './registry.js';

const ASK = 'journal-id:metrics-request';
const ANSWER = 'journal-id:metrics-answer';
/** prom-client gives up on a worker after 5 s; the asking worker waits a little longer than that. */
const ANSWER_TIMEOUT_MS = 7_000;

interface Ask {
  type: typeof ASK;
  id: number;
}
interface Answer {
  type: typeof ANSWER;
  id: number;
  text?: string;
  error?: string;
}

let inCluster = false;
let nextId = 0;
const waiting = new Map<number, (answer: Answer) => void>();

/** The primary: answers each worker's request with the sum of all workers' metrics. */
export function aggregateWorkerMetrics(logger: Logger): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: Ask) => {
    if (message?.type !== ASK) return;
    const reply = (a: Omit<Answer, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: ANSWER, id: message.id, ...a } satisfies Answer);
    };
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (err: Error) => {
        logger.warn('metrics of the workers could not be collected', { error: err.message });
        reply({ error: err.message });
      },
    );
  });
}

/**
 * A worker: lets the primary read this process's registry (prom-client's listener, installed by
 * constructing an AggregatorRegistry) and takes the primary's answers. Call before anything else.
 */
export function joinClusterMetrics(): void {
  if (inCluster || !cluster.isWorker) return;
  inCluster = true;
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  process.on('message', (message: Answer) => {
    if (message?.type !== ANSWER) return;
    waiting.get(message.id)?.(message);
  });
}

/** The metrics of this process, or with `serve --workers N` of all of them. */
export function processMetrics(): Promise<string> {
  if (!inCluster) return registry.metrics();
  return new Promise((resolve, reject) => {
    const id = ++nextId;
    const timer = setTimeout(() => settle({ type: ANSWER, id, error: 'the primary did not answer' }), ANSWER_TIMEOUT_MS);
    const settle = (a: Answer) => {
      clearTimeout(timer);
      waiting.delete(id);
      if (a.text !== undefined) resolve(a.text);
      else reject(new Error(`metrics of the workers: ${a.error ?? 'no answer'}`));
    };
    waiting.set(id, settle);
    process.send!({ type: ASK, id } satisfies Ask);
  });
}
