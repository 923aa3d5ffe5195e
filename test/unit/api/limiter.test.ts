import { setTimeout as wait } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { RequestLimiter } from '../../../src/api/limiter.js';

/** A clock that moves only when the limiter sleeps. */
function fakeTime(): {
  clock: { now(): number };
  sleep: (ms: number) => Promise<void>;
  sleeps: number[];
} {
  let now = 0;
  const sleeps: number[] = [];
  return {
    clock: { now: () => now },
    sleep: (ms) => {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
    sleeps,
  };
}

describe('RequestLimiter', () => {
  it.each([1, 3, 8])('runs at most %d tasks at once, and all of them', async (concurrency) => {
    const limiter = new RequestLimiter({ concurrency, ...fakeTime() });
    let running = 0;
    let peak = 0;
    const done: number[] = [];

    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        limiter.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await wait(1);
          running--;
          done.push(i);
        }),
      ),
    );

    expect(peak).toBe(concurrency);
    expect(done).toHaveLength(40);
    expect(limiter.inFlight).toBe(0);
  });

  it('frees the slot of a task that throws', async () => {
    const limiter = new RequestLimiter({ concurrency: 1, ...fakeTime() });
    await expect(limiter.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limiter.run(() => Promise.resolve('next'))).toBe('next');
  });

  it('spaces starts evenly under requestsPerSecond', async () => {
    // A clock that stands still: each caller's wait is then exactly its reserved offset.
    const sleeps: number[] = [];
    const limiter = new RequestLimiter({
      concurrency: 8,
      requestsPerSecond: 10,
      clock: { now: () => 0 },
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
    });

    await Promise.all(Array.from({ length: 5 }, () => limiter.run(() => Promise.resolve())));

    expect(sleeps).toEqual([100, 200, 300, 400]);
  });

  it('holds every start until a pause has passed', async () => {
    const time = fakeTime();
    const limiter = new RequestLimiter({ concurrency: 2, ...time });
    limiter.pauseUntil(1500);
    limiter.pauseUntil(700); // an earlier end does not shorten the pause

    await limiter.run(() => Promise.resolve());

    expect(time.sleeps).toEqual([1500]);
  });

  it.each([
    [{ concurrency: 0 }, /concurrency/],
    [{ concurrency: 1.5 }, /concurrency/],
    [{ concurrency: 1, requestsPerSecond: 0 }, /requestsPerSecond/],
  ])('refuses %j', (settings, message) => {
    expect(() => new RequestLimiter({ ...settings, ...fakeTime() })).toThrow(message);
  });

  // How fast it drains (linear, not Array#shift's quadratic) is measured by bench/hot-paths.ts.
  it('drains a long queue in order, without waiting', async () => {
    const time = fakeTime();
    const limiter = new RequestLimiter({ concurrency: 1, ...time });
    const order: number[] = [];

    await Promise.all(
      Array.from({ length: 50_000 }, (_, i) => limiter.run(() => Promise.resolve(order.push(i)))),
    );

    expect(order).toEqual(Array.from({ length: 50_000 }, (_, i) => i));
    expect(time.sleeps).toEqual([]);
    expect(limiter.inFlight).toBe(0);
  });
});
