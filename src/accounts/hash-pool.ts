/**
 * A bounded line for password hashes (issue 8, overload). argon2 runs on libuv's thread pool,
 * off the event loop; at most `concurrency` hashes run at once (one per core: more would only
 * share the same cores and slow token requests), and at most as many wait as can be hashed within
 * `maxWaitMs`. When logins arrive faster than that, the excess is refused at once — a 503 with
 * Retry-After the caller can act on — instead of every request waiting until it times out.
 *
 * A request takes its place in the line before its cheaper steps (the account lookup, the
 * throttle), so a refusal costs nothing and never counts as a failed attempt.
 */
export class HashingBusy extends Error {
  readonly status = 503;
  readonly expose = true;
  constructor(readonly retryAfterSeconds: number) {
    super('password hashing is saturated');
    this.name = 'HashingBusy';
  }
}

export interface HashPoolOptions {
  /** Hashes run at the same time. */
  concurrency: number;
  /** The longest a hash may wait for its turn; what would wait longer is refused. */
  maxWaitMs: number;
  /** A first guess of one hash's duration, replaced by measurement. */
  initialHashMs?: number;
}

/** A place in the line, held from before the account lookup to after the last hash of a request. */
export interface HashSlot {
  run<T>(hash: () => Promise<T>): Promise<T>;
  /** Gives the place back (idempotent). */
  release(): void;
}

export interface HashPoolStats {
  running: number;
  /** Requests holding a place, running or not. */
  held: number;
  capacity: number;
  hashMs: number;
  refused: number;
}

export function createHashPool(opts: HashPoolOptions) {
  const concurrency = Math.max(1, Math.floor(opts.concurrency));
  let running = 0;
  let held = 0;
  let refused = 0;
  // What one hash costs: the shortest of the recent ones. Each is timed from its turn to its
  // answer on the event loop, so a busy loop makes hashes look slower than they are; an average
  // would then shrink the line just when the server is busiest and refuse logins it could serve.
  const recent: number[] = [];
  let hashMs = opts.initialHashMs ?? 50;
  const turns: Array<() => void> = [];

  // How many may hold a place: those running plus what the cores hash within maxWaitMs.
  const capacity = () => concurrency * (1 + Math.max(1, Math.floor(opts.maxWaitMs / hashMs)));

  async function turn<T>(hash: () => Promise<T>): Promise<T> {
    if (running >= concurrency) await new Promise<void>((resolve) => turns.push(resolve));
    running++;
    const t0 = performance.now();
    try {
      return await hash();
    } finally {
      recent.push(performance.now() - t0);
      if (recent.length > 32) recent.shift();
      hashMs = Math.min(...recent);
      running--;
      turns.shift()?.();
    }
  }

  function reserve(): HashSlot {
    if (held >= capacity()) {
      refused++;
      // The time the line ahead needs, rounded up to whole seconds (Retry-After's unit).
      throw new HashingBusy(Math.max(1, Math.ceil((held * hashMs) / concurrency / 1000)));
    }
    held++;
    let released = false;
    return {
      run: (hash) => {
        if (released) throw new Error('hash slot used after release');
        return turn(hash);
      },
      release() {
        if (released) return;
        released = true;
        held--;
      },
    };
  }

  return {
    reserve,
    /** One hash with a place of its own (callers with no cheaper steps before it). */
    async run<T>(hash: () => Promise<T>): Promise<T> {
      const slot = reserve();
      try {
        return await slot.run(hash);
      } finally {
        slot.release();
      }
    },
    stats: (): HashPoolStats => ({ running, held, capacity: capacity(), hashMs: Math.round(hashMs * 10) / 10, refused }),
  };
}

export type HashPool = ReturnType<typeof createHashPool>;
