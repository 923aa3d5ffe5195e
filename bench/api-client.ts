/**
 * Sustained write rate of the API client against the mock at 5 ms latency, as a fraction of the
 * ideal (concurrency / latency), and the time to list 100k users.
 *
 *   npx tsx bench/api-client.ts [--calls 4000] [--users 100000]
 *
 * The mock runs in a child process so that its CPU does not count against the client's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent } from 'undici';
import { ApiClient } from '../src/api/client.js';
import { asEmailId, asUserId } from '../src/api/ids.js';
import { parseFaults } from '../src/mock/faults.js';
import { parseSeed } from '../src/mock/seed.js';
import { startMockServer } from '../src/mock/server.js';

const TOKEN = 'bench-token';
const LATENCY_MS = 5;

const { values } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    calls: { type: 'string', default: '4000' },
    users: { type: 'string', default: '100000' },
  },
});
const USERS = Number(values.users);

/** Child mode: a mock of USERS users with 5 ms latency; prints its URL and first ids. */
async function serve(): Promise<void> {
  const seed = parseSeed(
    {
      organizations: [
        {
          name: 'bench',
          tokens: [{ token: TOKEN, email: 'u0@bench.example.com' }],
          users: Array.from({ length: USERS }, (_, i) => ({
            email: `u${i}@bench.example.com`,
            first_name: 'Bench',
            last_name: `User ${i}`,
            rank: i === 0 ? 'SUPER' : 'REGULAR',
            groups: ['Employees'],
          })),
        },
      ],
    },
    'bench seed',
  );
  const server = await startMockServer({
    seed,
    faults: parseFaults({ '*': { latencyMs: LATENCY_MS } }, 'bench faults'),
    port: 0,
  });
  // The request log would grow by every call of the bench; this process does not need it.
  setInterval(() => (server.requests.length = 0), 1000).unref();
  const org = server.store.organizations[0];
  const ids = [...(org?.entries.values() ?? [])]
    .slice(1, 2001)
    .map((e) => [e.user.email_id, e.user.user_id]);
  process.stdout.write(`${JSON.stringify({ url: server.url, ids })}\n`);
}

async function startChild(): Promise<{
  child: ChildProcess;
  url: string;
  ids: [number, number][];
}> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(
    process.execPath,
    [...process.execArgv, self, '--serve', '--users', String(USERS)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout ?? process.stdin });
  for await (const line of lines) {
    const info = JSON.parse(line) as { url: string; ids: [number, number][] };
    return { child, ...info };
  }
  throw new Error('the mock child exited before it was ready');
}

type Call = (n: number) => Promise<void>;

/** Mixed replace-semantics writes through the client: usernames, smart cards, rank. */
function clientCalls(client: ApiClient, ids: [number, number][]): Call {
  return async (n) => {
    const [emailId, userId] = ids[n % ids.length] ?? [0, 0];
    switch (n % 3) {
      case 0:
        await client.setComputerUsernames(asEmailId(emailId), [`login${n}`]);
        break;
      case 1:
        await client.setSmartcards(asEmailId(emailId), [{ number: String(10_000_000 + n) }]);
        break;
      default:
        await client.setRank(asUserId(userId), 'REGULAR');
    }
  };
}

/** The same writes straight on an undici Agent: no client, no limiter, no retries. */
function rawCalls(agent: Agent, url: string, ids: [number, number][]): Call {
  return async (n) => {
    const [emailId, userId] = ids[n % ids.length] ?? [0, 0];
    const [path, form] =
      n % 3 === 0
        ? [
            '/modifyallusernames',
            {
              email_id: String(emailId),
              computer_usernames: JSON.stringify([{ computer_username: `login${n}` }]),
            },
          ]
        : n % 3 === 1
          ? [
              '/modifysmartcard',
              {
                email_id: String(emailId),
                smartcards: JSON.stringify([{ number: String(10_000_000 + n) }]),
              },
            ]
          : ['/modifyrank', { admin_user_id: String(userId), rank: 'REGULAR' }];
    const res = await agent.request({
      origin: url,
      path,
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams(form).toString(),
    });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`raw write answered ${res.statusCode}`);
  };
}

/**
 * Calls per second. `workers` loops of one call at a time (the raw baseline), or, for the
 * client, every call handed over at once so that the client must hold its own bound.
 */
async function rate(call: Call, calls: number, workers?: number): Promise<number> {
  let next = 0;
  const warmup = 64;
  await Promise.all(Array.from({ length: warmup }, () => call(next++)));
  const started = performance.now();
  if (workers === undefined) {
    await Promise.all(Array.from({ length: calls }, () => call(next++)));
  } else {
    const end = next + calls;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (next < end) await call(next++);
      }),
    );
  }
  return calls / ((performance.now() - started) / 1000);
}

/** Round trip of one call at a time: the latency the mock really adds, timers included. */
async function roundTrip(url: string, ids: [number, number][]): Promise<number> {
  const client = new ApiClient({ baseUrl: url, token: TOKEN, concurrency: 1, env: {} });
  const [emailId] = ids[0] ?? [0];
  for (let i = 0; i < 20; i++) await client.setComputerUsernames(asEmailId(emailId), ['warm']);
  const n = 200;
  const started = performance.now();
  for (let i = 0; i < n; i++) await client.setComputerUsernames(asEmailId(emailId), [`x${i}`]);
  const ms = (performance.now() - started) / n;
  await client.close();
  return ms;
}

async function listingTime(url: string): Promise<number[]> {
  const client = new ApiClient({ baseUrl: url, token: TOKEN, env: {} });
  const times: number[] = [];
  for (let i = 0; i < 4; i++) {
    const started = performance.now();
    const users = await client.listUsers();
    times.push(performance.now() - started);
    if (users.length !== USERS) throw new Error(`listed ${users.length} users, expected ${USERS}`);
  }
  await client.close();
  return times;
}

async function main(): Promise<void> {
  const calls = Number(values.calls);
  const { child, url, ids } = await startChild();
  try {
    console.log(`mock: ${USERS} users, ${LATENCY_MS} ms latency, in a child process`);
    const rtt = await roundTrip(url, ids);
    console.log(
      `one call at a time: ${rtt.toFixed(2)} ms per call (the mock's ${LATENCY_MS} ms timer included)`,
    );
    for (const concurrency of [8, 32]) {
      const ideal = concurrency / (LATENCY_MS / 1000);
      const agent = new Agent({ connections: concurrency });
      const raw = await rate(rawCalls(agent, url, ids), calls, concurrency);
      await agent.close();
      const client = new ApiClient({ baseUrl: url, token: TOKEN, concurrency, env: {} });
      const ours = await rate(clientCalls(client, ids), calls);
      await client.close();
      const pct = (r: number): string => `${((100 * r) / ideal).toFixed(1)}%`;
      console.log(
        `concurrency ${String(concurrency).padStart(2)}: client ${ours.toFixed(0)} writes/s = ${pct(ours)} of ideal ${ideal} ` +
          `| bare undici on the same mock ${raw.toFixed(0)}/s = ${pct(raw)} | client/bare ${((100 * ours) / raw).toFixed(0)}%`,
      );
    }
    const times = await listingTime(url);
    const fmt = times.map((t) => t.toFixed(0)).join(', ');
    console.log(
      `listing ${USERS} users (GET + JSON.parse + validate): ${fmt} ms (first one builds the mock's cache)`,
    );
  } finally {
    child.kill();
  }
}

if (values.serve) await serve();
else await main();
