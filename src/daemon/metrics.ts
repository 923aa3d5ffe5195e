import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ApiError, ConfigError, DirectoryError, SafetyError } from '../errors.js';
import { RAILS } from '../reconcile/safety.js';
import type { Outcome } from '../reconcile/apply.js';
import { ACTION_ORDER } from '../reconcile/model.js';

/** The `outcome` label of `dirsync_actions_total`: every outcome apply reports. */
const ACTION_OUTCOMES = [
  'applied',
  'unchanged',
  'failed',
  'skipped',
  'unclear',
] as const satisfies readonly Outcome[];

/** How a run ended. `partial`: applied, but some actions failed (the exit code 4 of `apply`). */
export type RunOutcome = 'success' | 'partial' | 'failed' | 'refused' | 'timeout' | 'aborted';

/** The `kind` label of `dirsync_errors_total`. */
export type ErrorKind = 'DirectoryError' | 'ApiError' | 'SafetyError' | 'ConfigError' | 'other';

export function errorKind(error: unknown): ErrorKind {
  if (error instanceof DirectoryError) return 'DirectoryError';
  if (error instanceof ApiError) return 'ApiError';
  if (error instanceof SafetyError) return 'SafetyError';
  if (error instanceof ConfigError) return 'ConfigError';
  return 'other';
}

/** The daemon's metrics, in a registry of their own (never prom-client's global one). */
export class DaemonMetrics {
  readonly registry = new Registry();
  readonly runDuration = new Histogram({
    name: 'dirsync_run_duration_seconds',
    help: 'Duration of sync runs, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [this.registry],
  });
  readonly runs = new Counter({
    name: 'dirsync_runs_total',
    help: 'Sync runs, by outcome (success, partial, failed, refused, timeout, aborted)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly runsSkipped = new Counter({
    name: 'dirsync_runs_skipped_total',
    help: 'Scheduled runs skipped because the previous run was still going',
    registers: [this.registry],
  });
  readonly runInProgress = new Gauge({
    name: 'dirsync_run_in_progress',
    help: '1 while a run is going',
    registers: [this.registry],
  });
  readonly lastSuccess = new Gauge({
    name: 'dirsync_last_success_timestamp_seconds',
    help: 'Unix time at which the last successful run finished',
    registers: [this.registry],
  });
  readonly actions = new Counter({
    name: 'dirsync_actions_total',
    help: 'Actions, by kind and outcome (applied, unchanged, failed, skipped, unclear)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly railsTripped = new Counter({
    name: 'dirsync_rails_tripped_total',
    help: 'Safety rails that refused a plan or held actions back, by rail',
    labelNames: ['rail'] as const,
    registers: [this.registry],
  });
  readonly directoryUsers = new Gauge({
    name: 'dirsync_directory_users',
    help: 'Users in the last directory read',
    registers: [this.registry],
  });
  readonly organizationUsers = new Gauge({
    name: 'dirsync_organization_users',
    help: 'Users (and guests) in the organization at the last read',
    registers: [this.registry],
  });
  readonly apiRetries = new Counter({
    name: 'dirsync_api_retries_total',
    help: 'Users API requests retried (429, 502/503/504, connection errors)',
    registers: [this.registry],
  });
  readonly apiRateLimited = new Counter({
    name: 'dirsync_api_rate_limited_total',
    help: 'Users API answers 429 Too Many Requests',
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'dirsync_errors_total',
    help: 'Runs that ended in an error, by kind (DirectoryError, ApiError, SafetyError, ConfigError, other)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false)
      collectDefaultMetrics({ register: this.registry, prefix: 'dirsync_' });
    // Zeroes, so that rates and alerts work before the first event.
    for (const outcome of ['success', 'partial', 'failed', 'refused', 'timeout', 'aborted'])
      this.runs.inc({ outcome }, 0);
    for (const kind of ['DirectoryError', 'ApiError', 'SafetyError', 'ConfigError', 'other'])
      this.errors.inc({ kind }, 0);
    for (const rail of RAILS) this.railsTripped.inc({ rail }, 0);
    // Every kind and outcome: an alert on failed actions has a series to watch from the start.
    for (const kind of ACTION_ORDER)
      for (const outcome of ACTION_OUTCOMES) this.actions.inc({ kind, outcome }, 0);
    this.apiRetries.inc(0);
    this.apiRateLimited.inc(0);
    this.runsSkipped.inc(0);
  }

  /** Counts an error that ended a run, and the rails of a SafetyError. */
  recordError(error: unknown): void {
    this.errors.inc({ kind: errorKind(error) });
    if (error instanceof SafetyError)
      for (const rail of error.rails) this.railsTripped.inc({ rail });
  }
}
