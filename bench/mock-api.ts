/**
 * Mock Users API speed: how fast it lists 100k users and how many writes a second it takes at
 * concurrency 16. Run: `npx tsx bench/mock-api.ts [users]` (after `npm run build`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { WORK, fmt, spawnMock, stats, type Stats } from './support.js';

export interface MockBenchResult {
  users: number;
  startupMs: number;
  listingMs: Stats;
  listingBytes: number;
  writes: number;
  concurrency: number;
  writesPerSecond: Stats;
}

export function writeBenchSeed(users: number): string {
  mkdirSync(WORK, { recursive: true });
  const path = join(WORK, `seed-${users}.json`);
  const list: unknown[] = [
    { email: 'owner@bench.example.com', rank: 'SUPER', first_name: 'Bench', last_name: 'Owner' },
  ];
  for (let i = 0; i < users - 1; i++) {
    list.push({
      email: `user${i}@bench.example.com`,
      first_name: `First${i}`,
      last_name: `Last${i}`,
      computer_usernames: [`user${i}`],
      groups: ['Employees'],
    });
  }
  writeFileSync(
    path,
    JSON.stringify({
      organizations: [
        {
          name: 'bench',
          tokens: [{ token: 'bench-token', email: 'owner@bench.example.com' }],
          users: list,
        },
      ],
    }),
  );
  return path;
}

export async function benchMockApi(
  users = 100_000,
  writes = 20_000,
  concurrency = 16,
  runs = 3,
): Promise<MockBenchResult> {
  const seed = writeBenchSeed(users);
  const started = performance.now();
  const mock = await spawnMock(seed);
  const startupMs = performance.now() - started;
  const pool = new Pool(mock.url, { connections: concurrency, pipelining: 1 });
  const headers = { authorization: 'Bearer bench-token' };
  try {
    const listing: number[] = [];
    let bytes = 0;
    for (let i = 0; i < runs + 1; i++) {
      const t0 = performance.now();
      const res = await pool.request({ method: 'GET', path: '/multipleusers', headers });
      const body = await res.body.arrayBuffer();
      if (i > 0) listing.push(performance.now() - t0); // the first call fills the mock's caches
      bytes = body.byteLength;
    }
    const rates: number[] = [];
    for (let run = 0; run < runs; run++) {
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < writes) {
            const i = next++;
            const emailId = 1002 + (i % (users - 1));
            const res = await pool.request({
              method: 'POST',
              path: '/modifyallusernames',
              headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
              body: `email_id=${emailId}&computer_usernames=${encodeURIComponent(JSON.stringify([{ computer_username: `run${run}-${i}` }]))}`,
            });
            await res.body.dump();
            if (res.statusCode !== 200) throw new Error(`write answered ${res.statusCode}`);
          }
        }),
      );
      rates.push(writes / ((performance.now() - t0) / 1000));
    }
    return {
      users,
      startupMs,
      listingMs: stats(listing),
      listingBytes: bytes,
      writes,
      concurrency,
      writesPerSecond: stats(rates),
    };
  } finally {
    await pool.close();
    await mock.stop();
  }
}

export function printMockBench(r: MockBenchResult): void {
  console.log(`mock API, ${r.users} users (start-up ${r.startupMs.toFixed(0)} ms)`);
  console.log(
    `  GET /multipleusers   ${fmt(r.listingMs, 'ms')}, ${(r.listingBytes / 1e6).toFixed(1)} MB`,
  );
  console.log(
    `  POST writes, c=${r.concurrency}  ${fmt(r.writesPerSecond, 'req/s')} over ${r.writes} requests a run`,
  );
}

if (import.meta.filename === process.argv[1]) {
  const users = Number(process.argv[2] ?? 100_000);
  printMockBench(await benchMockApi(users));
}
