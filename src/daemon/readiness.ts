import type { RunOutcome } from './metrics.js';

export interface RunRecord {
  runId: string | undefined;
  outcome: RunOutcome;
  startedAt: Date;
  finishedAt: Date;
  /** The error that ended the run, or a summary of failed actions. Never a secret. */
  error?: string;
}

export interface Readiness {
  ready: boolean;
  reason: string;
  lastSuccessAt?: string;
  lastRun?: { runId?: string; outcome: RunOutcome; finishedAt: string; error?: string };
  /** A successful run must have finished within this long. */
  windowMs: number;
}

/**
 * Ready when a run succeeded (read, planned, applied with no failed action) within two
 * schedule intervals: one failed run is tolerated, two in a row are not. Shutdown-aborted
 * runs are not complete runs and change nothing.
 */
export class ReadinessTracker {
  #lastSuccess: Date | undefined;
  #lastRun: RunRecord | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  record(run: RunRecord): void {
    if (run.outcome === 'aborted') return;
    this.#lastRun = run;
    if (run.outcome === 'success') this.#lastSuccess = run.finishedAt;
  }

  get lastSuccess(): Date | undefined {
    return this.#lastSuccess;
  }

  check(): Readiness {
    const windowMs = 2 * this.intervalMs;
    const last = this.#lastRun;
    const lastRun =
      last === undefined
        ? undefined
        : {
            ...(last.runId === undefined ? {} : { runId: last.runId }),
            outcome: last.outcome,
            finishedAt: last.finishedAt.toISOString(),
            ...(last.error === undefined ? {} : { error: last.error }),
          };
    const base = { windowMs, ...(lastRun === undefined ? {} : { lastRun }) };
    const success = this.#lastSuccess;
    if (success === undefined) {
      return {
        ...base,
        ready: false,
        reason:
          last === undefined
            ? 'no run has completed yet'
            : `no run has succeeded yet; the last one ended: ${last.outcome}`,
      };
    }
    const age = this.clock().getTime() - success.getTime();
    const lastSuccessAt = success.toISOString();
    if (age > windowMs) {
      return {
        ...base,
        lastSuccessAt,
        ready: false,
        reason: `the last successful run finished ${Math.round(age / 1000)} s ago, more than two schedule intervals (${Math.round(windowMs / 1000)} s)`,
      };
    }
    return { ...base, lastSuccessAt, ready: true, reason: 'the last successful run is recent' };
  }
}
