/**
 * The loop of every background queue (mail, back-channel logout, recovery requests): run a round
 * now and again until it finds nothing, then sleep `intervalSeconds`; `nudge()` wakes it early
 * (right after something was queued). Rounds never overlap; a nudge during a round earns one more.
 */
import type { Logger } from './logger.js';

export interface Poller {
  nudge(): void;
  stop(): void;
}

export function startPoller(opts: { name: string; intervalSeconds: number; logger: Logger; round: () => Promise<number> }): Poller {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running = false;
  let again = false;
  const tick = async () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    clearTimeout(timer);
    try {
      do {
        again = false;
        while (!stopped && (await opts.round()) > 0);
      } while (again && !stopped);
    } catch (err) {
      opts.logger.error(`${opts.name} worker failed`, { err });
    } finally {
      running = false;
    }
    if (!stopped) {
      timer = setTimeout(() => void tick(), opts.intervalSeconds * 1000);
      timer.unref();
    }
  };
  timer = setTimeout(() => void tick(), 0);
  timer.unref();
  return {
    nudge: () => void tick(),
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
