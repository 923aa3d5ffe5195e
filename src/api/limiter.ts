/**
 * Wall-clock time in epoch milliseconds (like `Date.now`), injected so tests control time. Wall
 * time rather than a monotonic clock because `Retry-After` may be an HTTP date.
 */
export interface Clock {
  now(): number;
}

export type Sleep = (ms: number) => Promise<void>;

export interface LimiterOptions {
  /** Requests in flight at once. */
  concurrency: number;
  /** Optional cap on request starts per second, spread evenly (no bursts). */
  requestsPerSecond?: number | undefined;
  clock: Clock;
  sleep: Sleep;
}

/**
 * Admits API requests: at most `concurrency` at once, optionally no faster than
 * `requestsPerSecond`, and none while the server has asked everyone to wait (a 429's
 * `Retry-After` applies to the whole client, not just the request that met it: the
 * limit is the organization's, so the other workers would only collect 429s of their own).
 */
export class RequestLimiter {
  readonly concurrency: number;
  private readonly interval: number;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private active = 0;
  // A queue with a moving head: callers may queue thousands of calls at once, and
  // Array#shift would make draining it quadratic.
  private waiting: (() => void)[] = [];
  private head = 0;
  private nextStart = 0;
  private pausedUntil = 0;

  constructor(options: LimiterOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
    }
    const rps = options.requestsPerSecond;
    if (rps !== undefined && !(rps > 0)) {
      throw new RangeError(`requestsPerSecond must be positive, got ${rps}`);
    }
    this.concurrency = options.concurrency;
    this.interval = rps === undefined ? 0 : 1000 / rps;
    this.clock = options.clock;
    this.sleep = options.sleep;
  }

  /** Requests running now (for tests and metrics). */
  get inFlight(): number {
    return this.active;
  }

  /** Holds back every request until `untilMs` (clock time); a later pause extends an earlier one. */
  pauseUntil(untilMs: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, untilMs);
  }

  /** Runs `task` once admitted; its slot is free again as soon as it settles. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      await this.waitForTurn();
      return await task();
    } finally {
      this.release();
    }
  }

  private async waitForTurn(): Promise<void> {
    const now = this.clock.now();
    let start = Math.max(now, this.pausedUntil);
    if (this.interval > 0) {
      // Reserve the next evenly spaced start time before sleeping, so concurrent callers
      // line up one interval apart instead of all waking at once.
      start = Math.max(start, this.nextStart);
      this.nextStart = start + this.interval;
    }
    // One sleep, not a loop on the clock: an injected clock that does not move must not hang us.
    if (start > now) await this.sleep(start - now);
  }

  private acquire(): Promise<void> {
    if (this.active < this.concurrency) {
      this.active++;
      return Promise.resolve();
    }
    // The slot is handed over directly by release(), so `active` never dips and lets a newcomer
    // jump the queue.
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting[this.head];
    if (next === undefined) {
      this.active--;
      return;
    }
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    next();
  }
}
