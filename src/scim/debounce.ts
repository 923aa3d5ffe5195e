import { realTimers, type Timers } from '../daemon/scheduler.js';

export interface DebounceOptions {
  /** A run starts this long after the last write... */
  debounceMs: number;
  /** ...but no later than this after the first write not yet reconciled. */
  maxDelayMs: number;
  /** Asks for the run (the scheduler starts it now or after the one in flight). */
  fire: () => void;
  timers?: Timers;
  /** Monotonic milliseconds. */
  now?: () => number;
}

/**
 * Turns a stream of SCIM writes into reconcile runs: an identity provider's cycle (hundreds of
 * writes in a burst) makes one run after it goes quiet, and a steady trickle still makes one
 * every `maxDelayMs`.
 */
export class WriteDebouncer {
  readonly #options: DebounceOptions;
  readonly #timers: Timers;
  readonly #now: () => number;
  #timer: unknown;
  #firstWriteAt: number | undefined;
  #stopped = false;

  constructor(options: DebounceOptions) {
    this.#options = options;
    this.#timers = options.timers ?? realTimers;
    this.#now = options.now ?? (() => performance.now());
  }

  /** A write was stored. */
  written(): void {
    if (this.#stopped) return;
    const now = this.#now();
    this.#firstWriteAt ??= now;
    const deadline = this.#firstWriteAt + this.#options.maxDelayMs;
    const wait = Math.max(0, Math.min(this.#options.debounceMs, deadline - now));
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = this.#timers.setTimeout(() => this.#fire(), wait);
  }

  /** Whether writes are waiting for their run. */
  get pending(): boolean {
    return this.#firstWriteAt !== undefined;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#firstWriteAt = undefined;
    if (!this.#stopped) this.#options.fire();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
