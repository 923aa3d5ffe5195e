/**
 * Timings that unit tests used to assert on the wall clock, and now only count (a timed assertion
 * fails on a busy machine and proves nothing on a fast one):
 * - parseListing of 100k users past JSON.parse (the hand-written check; a zod pass per user ~3x),
 * - the request limiter draining 50k queued calls (linear; Array#shift would be quadratic),
 * - the streaming listing decoder on one 4 MB element in 1 KiB chunks (its back-off keeps it
 *   linear: without it ~4,000 re-parses).
 *
 *   npx tsx bench/hot-paths.ts [--runs 5]
 */
import { parseArgs } from 'node:util';
import { RequestLimiter } from '../src/api/limiter.js';
import { ListingDecoder } from '../src/api/listing-stream.js';
import { parseListing } from '../src/api/schema.js';
import { fmt, stats, type Stats } from './support.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const RUNS = Number(values.runs);

function listed(i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    email_id: 1001 + i,
    user_id: 5_001_001 + i,
    email: `user${i}@corp.example.com`,
    first_name: 'Joe',
    last_name: 'Developer',
    name: 'Joe Developer',
    username: 'jdeveloper',
    ad_status: 'ACTIVE',
    groups: [['Employees'], ['Staff']],
    created_at: '2026-01-01T00:00:00Z',
    ...extra,
  };
}

async function timed(runs: number, body: () => Promise<void> | void): Promise<Stats> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await body();
    ms.push(performance.now() - started);
  }
  return stats(ms);
}

const users = JSON.parse(
  JSON.stringify(Array.from({ length: 100_000 }, (_, i) => listed(i))),
) as unknown;
const parse = await timed(RUNS, () => {
  parseListing(users, 'USER');
});
console.log(`parseListing, 100k users (after JSON.parse): ${fmt(parse, 'ms')}`);

const drain = await timed(RUNS, async () => {
  let now = 0;
  const limiter = new RequestLimiter({
    concurrency: 1,
    clock: { now: () => now },
    sleep: (ms) => {
      now += ms;
      return Promise.resolve();
    },
  });
  await Promise.all(Array.from({ length: 50_000 }, () => limiter.run(() => Promise.resolve())));
});
console.log(`request limiter, 50k queued calls drained: ${fmt(drain, 'ms')}`);

const huge = Buffer.from(
  JSON.stringify([listed(0, { blob: '}'.repeat(4 * 1024 * 1024) }), listed(1)]),
);
const decode = await timed(RUNS, () => {
  const decoder = new ListingDecoder('USER', { minBatchBytes: 0, maxElementBytes: 8 * 1024 ** 2 });
  for (let i = 0; i < huge.length; i += 1024) decoder.push(huge.subarray(i, i + 1024));
  decoder.end();
});
console.log(`listing decoder, one 4 MB element in 1 KiB chunks: ${fmt(decode, 'ms')}`);

const result = { parseListing100kMs: parse, limiterDrain50kMs: drain, decoder4MbElementMs: decode };
if (process.env.DIRSYNC_BENCH_JSON === '1') console.log(`JSON ${JSON.stringify(result)}`);
