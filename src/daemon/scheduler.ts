import { createTask, validate, type ScheduledTask } from 'node-cron';
import { ConfigError, describeError } from '../errors.js';
import type { Logger } from '../log.js';

/** What makes runs due. The cron trigger in production; tests may fire ticks by hand. */
export interface Trigger {
  /** Calls `tick` each time a run is due, until `stop`. */
  start(tick: () => void): void;
  stop(): void;
  /** The longest gap between two due times: what "an interval" means for readiness. */
  intervalMs(): number;
}

export interface ScheduleSettings {
  cron: string;
  timezone: string;
}

/** Throws a ConfigError naming the key when the cron expression or the time zone is invalid. */
export function validateSchedule(schedule: ScheduleSettings): void {
  if (!validate(schedule.cron)) {
    throw new ConfigError(
      `schedule.cron ${JSON.stringify(schedule.cron)} is not a cron expression`,
      {
        hint: 'use five fields (minute hour day month weekday), e.g. "*/30 * * * *", or six with seconds first',
      },
    );
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: schedule.timezone });
  } catch {
    throw new ConfigError(
      `schedule.timezone ${JSON.stringify(schedule.timezone)} is not a time zone`,
      {
        hint: 'use an IANA time zone name such as UTC or Europe/Paris',
      },
    );
  }
}

/** The production trigger: node-cron in the configured time zone. */
export function cronTrigger(schedule: ScheduleSettings, logger: Logger): Trigger {
  validateSchedule(schedule);
  const log = logger.child({ component: 'cron' });
  let task: ScheduledTask | undefined;
  let tick: () => void = () => {};
  const create = (): ScheduledTask =>
    createTask(schedule.cron, () => tick(), {
      timezone: schedule.timezone,
      name: 'dirsync',
      // Overlaps are the scheduler's business (it warns and skips); node-cron only ticks.
      noOverlap: false,
      logger: {
        info: (m) => log.info(m),
        warn: (m) => log.warn(m),
        error: (m) => log.error(typeof m === 'string' ? m : describeError(m)),
        debug: (m) => log.debug(typeof m === 'string' ? m : describeError(m)),
      },
    });
  const probe = create();
  const next = probe.getNextRuns(8).map((d) => d.getTime());
  void probe.destroy();
  let interval = 0;
  for (let i = 1; i < next.length; i++) interval = Math.max(interval, next[i]! - next[i - 1]!);
  return {
    start(onTick) {
      tick = onTick;
      task ??= create();
      void task.start();
    },
    stop() {
      tick = () => {};
      if (task !== undefined) void task.destroy();
      task = undefined;
    },
    intervalMs: () => interval,
  };
}

/** Why a run's signal was aborted. */
export type AbortReason = 'timeout' | 'shutdown';

export interface RunRequest {
  /** Aborted on timeout or shutdown: no new actions start; in-flight ones finish and journal. */
  signal: AbortSignal;
  /** `start`: the run at daemon start; `schedule`: a cron tick; `scim`: writes pushed over SCIM. */
  trigger: 'start' | 'schedule' | 'scim';
}

/** One run. It must not throw: it records its own outcome. */
export type Job = (request: RunRequest) => Promise<void>;

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface SchedulerOptions {
  trigger: Trigger;
  job: Job;
  /** After this long the run's signal is aborted with reason `timeout`. */
  runTimeoutMs: number;
  logger: Logger;
  clock?: () => Date;
  timers?: Timers;
  /** Called when a due run is skipped because the previous one is still going. */
  onSkip?: () => void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface InFlight {
  promise: Promise<void>;
  controller: AbortController;
  startedAt: Date;
}

/**
 * Runs the job once at start and then whenever the trigger says, never two at once: a run due
 * while another is going is skipped with a warning. Each run gets a signal that is aborted when
 * it outlives `runTimeoutMs` or when the scheduler stops.
 */
export class Scheduler {
  readonly #options: SchedulerOptions;
  readonly #clock: () => Date;
  readonly #timers: Timers;
  #current: InFlight | undefined;
  /** A run asked for with {@link request} while another was going: started when it ends. */
  #pending: RunRequest['trigger'] | undefined;
  #stopped = true;

  constructor(options: SchedulerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? (() => new Date());
    this.#timers = options.timers ?? realTimers;
  }

  /** Starts the trigger and the first run. */
  start(): void {
    this.#stopped = false;
    this.#options.trigger.start(() => {
      this.tick('schedule');
    });
    this.tick('start');
  }

  /** A run is due: starts it, or skips it if one is going. Returns whether it started. */
  tick(trigger: RunRequest['trigger']): boolean {
    if (this.#stopped) return false;
    const { logger } = this.#options;
    if (this.#current !== undefined) {
      logger.warn('run skipped: the previous run is still going', {
        previousStartedAt: this.#current.startedAt.toISOString(),
        runningForMs: this.#clock().getTime() - this.#current.startedAt.getTime(),
      });
      this.#options.onSkip?.();
      return false;
    }
    const controller = new AbortController();
    const timer = this.#timers.setTimeout(() => {
      logger.warn(
        'run timed out: stopping it (reads are cut, writes in flight get a few seconds); the rest waits for the next run',
        { timeoutMs: this.#options.runTimeoutMs },
      );
      controller.abort('timeout' satisfies AbortReason);
    }, this.#options.runTimeoutMs);
    const startedAt = this.#clock();
    const promise = this.#options
      .job({ signal: controller.signal, trigger })
      .catch((error: unknown) => {
        logger.error('run ended with an unexpected error', { error: describeError(error) });
      })
      .finally(() => {
        this.#timers.clearTimeout(timer);
        this.#current = undefined;
        const pending = this.#pending;
        this.#pending = undefined;
        if (pending !== undefined) this.tick(pending);
      });
    this.#current = { promise, controller, startedAt };
    return true;
  }

  /**
   * A run is wanted (writes pushed over SCIM): starts it now, or, when one is going, once that
   * one ends (it may have read the directory before the writes). Never two at once, never lost.
   */
  request(trigger: RunRequest['trigger']): void {
    if (this.#stopped) return;
    if (this.#current === undefined) this.tick(trigger);
    else this.#pending = trigger;
  }

  /** Whether a run is going. */
  get busy(): boolean {
    return this.#current !== undefined;
  }

  /** Resolves when the run in flight, if any, has ended. */
  async idle(): Promise<void> {
    await this.#current?.promise;
  }

  /**
   * Stops scheduling and aborts the run in flight (reason `shutdown`): it starts no new actions
   * and resolves once its in-flight ones have finished and been journaled.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#options.trigger.stop();
    const current = this.#current;
    if (current === undefined) return;
    current.controller.abort('shutdown' satisfies AbortReason);
    await current.promise;
  }
}
