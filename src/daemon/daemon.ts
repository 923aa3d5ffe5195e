import { durationMs, type Config, type ScimConfig } from '../config/schema.js';
import { DirsyncError, StoppedError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { DEFAULT_DRAIN_MS, type Notifier, type RunNotice } from '../notify/notifier.js';
import { applyRun, type RunDeps, type RunObserver } from '../reconcile/run.js';
import { startScimListener, type ScimListener } from '../scim/listener.js';
import { DaemonMetrics, errorKind, type RunOutcome } from './metrics.js';
import { ReadinessTracker } from './readiness.js';
import {
  cronTrigger,
  Scheduler,
  type AbortReason,
  type RunRequest,
  type Trigger,
} from './scheduler.js';
import { startHealthServer, type HealthServer } from './server.js';

/** What one run needs: `openRunContext` from src/cli/context.ts fits. */
export interface DaemonRun {
  deps: RunDeps;
  /** Carries the runId; the run's directory source and API client log through it too. */
  logger: Logger;
  runId: string;
  close(): Promise<void>;
  /** Gives the run up at once: releases its lock without waiting (a timed-out shutdown). */
  abandon?(): void;
}

export interface DaemonOptions {
  schedule: Config['schedule'];
  server: Config['server'];
  /**
   * Opens a fresh context for each run: the state record is re-read (another `apply` may have
   * run in between) and its lock is held for the run only.
   */
  openRun: (observer: RunObserver, signal: AbortSignal) => DaemonRun;
  /** The daemon's own logger (start, stop, skipped runs); runs log through their context's. */
  logger: Logger;
  clock?: () => Date;
  /** node-cron on `schedule` unless given. */
  trigger?: Trigger;
  /** How long a shutdown waits for the in-flight actions; 25 s by default (under Kubernetes' 30). */
  shutdownTimeoutMs?: number;
  metrics?: DaemonMetrics;
  /** Told how each run ended (webhooks); closed, with a bounded wait, when the daemon stops. */
  notifier?: Pick<Notifier, 'runFinished' | 'close'>;
  /** With `source.type: scim`: serve the SCIM API; each write schedules a debounced run. */
  scim?: { config: ScimConfig; tokens: readonly string[] } | undefined;
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 25_000;

export interface Daemon {
  /** The base URL of /healthz, /readyz and /metrics. */
  url: string;
  /** The SCIM base URL, when the daemon serves SCIM. */
  scimUrl?: string;
  metrics: DaemonMetrics;
  readiness: ReadinessTracker;
  scheduler: Scheduler;
  /**
   * Stops scheduling, aborts the in-flight run (its in-flight actions finish and are journaled),
   * then closes the server. `timed-out` when the run outlived the shutdown timeout.
   */
  stop(reason: string): Promise<'clean' | 'timed-out'>;
}

function outcomeOf(signal: AbortSignal, skipped: number, failed: number): RunOutcome {
  // Aborted, but with nothing left unsent, the run did complete.
  if (signal.aborted && skipped > 0)
    return (signal.reason as AbortReason) === 'timeout' ? 'timeout' : 'aborted';
  return failed > 0 ? 'partial' : 'success';
}

/** Starts the health server, then the schedule (with its run at start). */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { logger } = options;
  const clock = options.clock ?? (() => new Date());
  const metrics = options.metrics ?? new DaemonMetrics();
  const trigger = options.trigger ?? cronTrigger(options.schedule, logger);
  const readiness = new ReadinessTracker(trigger.intervalMs(), clock);
  const runTimeoutMs = durationMs(options.schedule.runTimeout);

  const observer: RunObserver = {
    apiRetry: (status) => {
      metrics.apiRetries.inc();
      if (status === 429) metrics.apiRateLimited.inc();
    },
    directoryUsers: (count) => metrics.directoryUsers.set(count),
    organizationUsers: (count) => metrics.organizationUsers.set(count),
  };

  /** The run going now, for a shutdown that times out waiting for it. */
  let current: DaemonRun | undefined;

  async function runOnce(request: RunRequest): Promise<void> {
    const startedAt = clock();
    metrics.runInProgress.set(1);
    let run: DaemonRun | undefined;
    let outcome: RunOutcome = 'failed';
    let error: string | undefined;
    let notice: RunNotice | undefined;
    try {
      run = options.openRun(observer, request.signal);
      current = run;
      run.logger.info('run started', { trigger: request.trigger });
      const { report, reportFile } = await applyRun(
        { ...run.deps, logger: run.logger, clock },
        {
          runId: run.runId,
          signal: request.signal,
          onResult: (r) => metrics.actions.inc({ kind: r.action.kind, outcome: r.outcome }),
        },
      );
      notice = { runId: run.runId, report };
      metrics.directoryUsers.set(report.summary.directoryUsers);
      metrics.organizationUsers.set(report.summary.organizationUsers);
      // An unclear toggle is a failure until a later run has verified it; a refused token too.
      const failed =
        report.failures.length + report.unclear.length + (report.stopped === undefined ? 0 : 1);
      outcome = outcomeOf(request.signal, report.skipped.length, failed);
      if (report.stopped !== undefined) error = report.stopped.reason;
      else if (report.failures.length > 0)
        error = `${report.failures.length} actions failed, e.g. ${report.failures[0]!.kind} ${report.failures[0]!.email}: ${report.failures[0]!.error}`;
      // Budgets that held actions back: the rest applied, the held ones wait for review.
      if (report.held.length > 0)
        for (const t of report.rails.tripped) metrics.railsTripped.inc({ rail: t.rail });
      run.logger.info('run finished', {
        outcome,
        durationMs: report.durationMs,
        counts: report.counts,
        failed: report.failures.length,
        skipped: report.skipped.length,
        ...(report.held.length === 0
          ? {}
          : {
              held: report.held.length,
              heldPlan: report.planFile,
              rails: report.rails.tripped.map((t) => t.rail),
            }),
        report: reportFile,
      });
    } catch (caught) {
      outcome =
        caught instanceof StoppedError
          ? caught.reason === 'timeout'
            ? 'timeout'
            : 'aborted'
          : errorKind(caught) === 'SafetyError'
            ? 'refused'
            : 'failed';
      error = describeError(caught);
      notice = { runId: run?.runId ?? 'none', error: caught };
      metrics.recordError(caught);
      const what =
        outcome === 'refused'
          ? 'run refused'
          : outcome === 'failed'
            ? 'run failed'
            : 'run stopped before finishing';
      (run?.logger ?? logger).error(what, {
        kind: errorKind(caught),
        error,
        ...(caught instanceof DirsyncError && caught.hint !== undefined
          ? { hint: caught.hint }
          : {}),
      });
    } finally {
      // Before the lock is released: the notification status lives beside the state record.
      if (notice !== undefined) options.notifier?.runFinished(notice);
      await run?.close().catch((closeError: unknown) => {
        logger.warn('closing the run failed', { error: describeError(closeError) });
      });
      current = undefined;
      const finishedAt = clock();
      metrics.runInProgress.set(0);
      metrics.runs.inc({ outcome });
      metrics.runDuration.observe({ outcome }, (finishedAt.getTime() - startedAt.getTime()) / 1000);
      if (outcome === 'success') metrics.lastSuccess.set(finishedAt.getTime() / 1000);
      readiness.record({
        runId: run?.runId,
        outcome,
        startedAt,
        finishedAt,
        ...(error === undefined ? {} : { error }),
      });
    }
  }

  const scheduler = new Scheduler({
    trigger,
    job: runOnce,
    runTimeoutMs,
    logger,
    clock,
    onSkip: () => metrics.runsSkipped.inc(),
  });
  const server: HealthServer = await startHealthServer({
    host: options.server.host,
    port: options.server.port,
    registry: metrics.registry,
    readiness: () => readiness.check(),
    logger,
  });
  let scim: ScimListener | undefined;
  if (options.scim !== undefined) {
    try {
      scim = await startScimListener({
        ...options.scim,
        logger,
        clock,
        requestRun: () => scheduler.request('scim'),
        registry: metrics.registry,
      });
    } catch (error) {
      await server.close();
      throw error;
    }
  }
  logger.info('daemon started', {
    url: server.url,
    cron: options.schedule.cron,
    timezone: options.schedule.timezone,
    runTimeout: options.schedule.runTimeout,
  });
  scheduler.start();

  let stopping: Promise<'clean' | 'timed-out'> | undefined;
  async function stop(reason: string): Promise<'clean' | 'timed-out'> {
    const shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    logger.info('shutting down: no new runs; the run in flight finishes its in-flight actions', {
      reason,
      running: scheduler.busy,
      timeoutMs: shutdownTimeoutMs,
    });
    const began = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      scheduler.stop().then(() => 'clean' as const),
      new Promise<'timed-out'>((resolve) => {
        timer = setTimeout(() => resolve('timed-out'), shutdownTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (result === 'timed-out') {
      // The stuck run is given up: its lock must not outlive this daemon (the process exits next).
      current?.abandon?.();
    }
    await scim?.close();
    await server.close();
    // Posts still in flight get what is left of the shutdown time, at most DEFAULT_DRAIN_MS.
    const left = shutdownTimeoutMs - (Date.now() - began);
    await options.notifier?.close(Math.max(0, Math.min(DEFAULT_DRAIN_MS, left)));
    if (result === 'timed-out') {
      logger.error(
        'shutdown timed out with a run still going; its unsent actions wait for the next start',
        {
          timeoutMs: shutdownTimeoutMs,
        },
      );
    } else {
      logger.info('daemon stopped', { ms: Date.now() - began });
    }
    return result;
  }

  return {
    url: server.url,
    ...(scim === undefined ? {} : { scimUrl: scim.url }),
    metrics,
    readiness,
    scheduler,
    stop: (reason) => (stopping ??= stop(reason)),
  };
}
