import { describe, expect, it } from 'vitest';
import {
  Scheduler,
  type RunRequest,
  type Timers,
  type Trigger,
} from '../../../src/daemon/scheduler.js';
import { createSilentLogger } from '../../../src/log.js';
import { WriteDebouncer } from '../../../src/scim/debounce.js';

/** Timers driven by hand: `advance(ms)` fires what is due. */
function manualTimers(): Timers & { advance: (ms: number) => void; now: () => number } {
  let now = 0;
  let next = 0;
  const due = new Map<number, { at: number; fn: () => void }>();
  return {
    setTimeout: (fn, ms) => {
      const id = ++next;
      due.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (handle) => {
      due.delete(handle as number);
    },
    advance: (ms) => {
      const end = now + ms;
      for (;;) {
        const first = [...due.entries()]
          .filter(([, t]) => t.at <= end)
          .sort((a, b) => a[1].at - b[1].at)[0];
        if (first === undefined) break;
        now = first[1].at;
        due.delete(first[0]);
        first[1].fn();
      }
      now = end;
    },
    now: () => now,
  };
}

describe('SCIM writes to reconcile runs', () => {
  it('makes one run after a burst goes quiet for the debounce time', () => {
    const timers = manualTimers();
    let runs = 0;
    const debouncer = new WriteDebouncer({
      debounceMs: 1000,
      maxDelayMs: 60_000,
      fire: () => runs++,
      timers,
      now: timers.now,
    });

    for (let i = 0; i < 50; i++) {
      debouncer.written();
      timers.advance(100);
    }
    expect(runs).toBe(0);
    timers.advance(1000);

    expect(runs).toBe(1);
    expect(debouncer.pending).toBe(false);
  });

  it('makes a run no later than maxDelay after the first write, however steady the trickle', () => {
    const timers = manualTimers();
    const firedAt: number[] = [];
    const debouncer = new WriteDebouncer({
      debounceMs: 1000,
      maxDelayMs: 5000,
      fire: () => firedAt.push(timers.now()),
      timers,
      now: timers.now,
    });

    for (let i = 0; i < 120; i++) {
      debouncer.written();
      timers.advance(500);
    }

    expect(firedAt.slice(0, 3)).toEqual([5000, 10_000, 15_000]);
  });

  it('never overlaps runs: a run asked for while one is going starts when that one ends', async () => {
    const trigger: Trigger = { start: () => {}, stop: () => {}, intervalMs: () => 60_000 };
    const started: RunRequest['trigger'][] = [];
    let finish: () => void = () => {};
    const scheduler = new Scheduler({
      trigger,
      job: (request) => {
        started.push(request.trigger);
        return new Promise<void>((resolve) => (finish = resolve));
      },
      runTimeoutMs: 60_000,
      logger: createSilentLogger(),
    });
    scheduler.start(); // the run at start, still going

    scheduler.request('scim');
    scheduler.request('scim');
    expect(started).toEqual(['start']);
    finish();
    await scheduler.idle();
    await new Promise((r) => setImmediate(r));

    expect(started).toEqual(['start', 'scim']);
    finish();
    await scheduler.stop();
  });
});
