import { describe, expect, it } from 'vitest';
import winston from 'winston';
import { Writable } from 'node:stream';
import { ReadinessTracker } from '../../../src/daemon/readiness.js';
import { cronTrigger, Scheduler, type Trigger } from '../../../src/daemon/scheduler.js';

/** A trigger the test fires by hand. */
function manualTrigger(intervalMs = 60_000): Trigger & { fire(): void } {
  let tick: (() => void) | undefined;
  return {
    start: (t) => {
      tick = t;
    },
    stop: () => {
      tick = undefined;
    },
    intervalMs: () => intervalMs,
    fire: () => tick?.(),
  };
}

function capturingLogger(): { logger: winston.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    objectMode: true,
    write(info: Record<string, unknown>, _e, done) {
      lines.push(info);
      done();
    },
  });
  return {
    logger: winston.createLogger({ transports: [new winston.transports.Stream({ stream })] }),
    lines,
  };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('Scheduler', () => {
  it('runs at start, skips a tick while a run is going (with a warning), runs the next one after', async () => {
    const trigger = manualTrigger();
    const { logger, lines } = capturingLogger();
    const gates = [deferred(), deferred()];
    const calls: string[] = [];
    let skips = 0;
    const scheduler = new Scheduler({
      trigger,
      runTimeoutMs: 60_000,
      logger,
      onSkip: () => skips++,
      job: async ({ trigger: why }) => {
        calls.push(why);
        await gates[calls.length - 1]!.promise;
      },
    });

    scheduler.start();
    expect(calls).toEqual(['start']);
    trigger.fire();
    trigger.fire();
    expect(calls).toEqual(['start']);
    expect(skips).toBe(2);
    expect(lines.filter((l) => l['level'] === 'warn').map((l) => l['message'])).toEqual([
      'run skipped: the previous run is still going',
      'run skipped: the previous run is still going',
    ]);

    gates[0]!.resolve();
    await scheduler.idle();
    trigger.fire();
    expect(calls).toEqual(['start', 'schedule']);
    gates[1]!.resolve();
    await scheduler.stop();
    trigger.fire();
    expect(calls).toEqual(['start', 'schedule']);
  });

  it('aborts the run signal with reason "timeout" after runTimeout, and "shutdown" on stop', async () => {
    const { logger, lines } = capturingLogger();
    const reasons: unknown[] = [];
    const make = (runTimeoutMs: number): Scheduler =>
      new Scheduler({
        trigger: manualTrigger(),
        runTimeoutMs,
        logger,
        job: ({ signal }) =>
          new Promise<void>((resolve) => {
            signal.addEventListener('abort', () => {
              reasons.push(signal.reason);
              resolve();
            });
          }),
      });

    const timed = make(20);
    timed.start();
    await timed.idle();
    expect(reasons).toEqual(['timeout']);
    expect(lines.map((l) => l['message'])).toContainEqual(expect.stringMatching(/^run timed out/));

    const stopped = make(60_000);
    stopped.start();
    expect(stopped.busy).toBe(true);
    await stopped.stop();
    expect(reasons).toEqual(['timeout', 'shutdown']);
    expect(stopped.busy).toBe(false);
  });

  it('reads the interval of a cron schedule, seconds included, and refuses a bad one', () => {
    const { logger } = capturingLogger();
    expect(cronTrigger({ cron: '*/30 * * * *', timezone: 'UTC' }, logger).intervalMs()).toBe(
      1_800_000,
    );
    expect(cronTrigger({ cron: '*/5 * * * * *', timezone: 'UTC' }, logger).intervalMs()).toBe(
      5_000,
    );
    expect(() => cronTrigger({ cron: 'every hour', timezone: 'UTC' }, logger)).toThrow(
      /schedule.cron/,
    );
    expect(() => cronTrigger({ cron: '0 * * * *', timezone: 'Mars/Olympus' }, logger)).toThrow(
      /schedule.timezone/,
    );
  });
});

describe('ReadinessTracker', () => {
  it('is ready within two intervals of the last success, tolerating one failed run', () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const tracker = new ReadinessTracker(60_000, () => now);
    const at = (s: number): Date => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
    expect(tracker.check()).toMatchObject({ ready: false, reason: 'no run has completed yet' });

    tracker.record({ runId: 'a', outcome: 'success', startedAt: at(0), finishedAt: at(5) });
    now = at(30);
    expect(tracker.check()).toMatchObject({ ready: true });

    now = at(65);
    tracker.record({
      runId: 'b',
      outcome: 'failed',
      startedAt: at(60),
      finishedAt: at(65),
      error: 'LDAP down',
    });
    expect(tracker.check()).toMatchObject({
      ready: true,
      lastRun: { outcome: 'failed', error: 'LDAP down' },
    });

    now = at(126);
    expect(tracker.check()).toMatchObject({ ready: false, lastSuccessAt: at(5).toISOString() });
    expect(tracker.check().reason).toMatch(/more than two schedule intervals/);

    // A run stopped by shutdown is not a complete run: it changes nothing.
    tracker.record({ runId: 'c', outcome: 'aborted', startedAt: at(120), finishedAt: at(126) });
    expect(tracker.check().lastRun?.runId).toBe('b');
  });
});
