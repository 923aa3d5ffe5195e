/**
 * The SCIM source at scale: the built `dirsync daemon` with `source.type: scim` in its own
 * process, driven over HTTP like an identity provider would.
 *
 *   npx tsx bench/scim.ts [users=100000] [--latency 1000] [--burst 5000] [--concurrency 16]
 *
 * 1. Write latency: single-user POSTs, then single-attribute PATCHes, one at a time (p50, p99).
 * 2. Sustained writes: PATCHes with `concurrency` in flight (writes per second).
 * 3. An initial push: `users` POSTs (as an Entra initial cycle does) and one group holding them
 *    all, added in PATCH batches of 100; its duration and the daemon's peak RSS.
 * 4. The store read as a directory and planned against an organization of the same users, in a
 *    child process of its own (its time and peak RSS).
 * Needs `npm run build`. Runs are debounced for a day: only the SCIM side is measured.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import { ScimConfig, RulesConfig } from '../src/config/schema.js';
import { asEmailId, asUserId } from '../src/api/ids.js';
import { matchUsers } from '../src/reconcile/match.js';
import type { OrgUser } from '../src/reconcile/model.js';
import { plan } from '../src/reconcile/plan.js';
import { ScimSource } from '../src/scim/source.js';
import { ROOT, WORK } from './support.js';

const TOKEN = 'bench-scim-token-0123456789';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const DIRSYNC = 'urn:ietf:params:scim:schemas:extension:dirsync:2.0:User';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    latency: { type: 'string', default: '1000' },
    burst: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '16' },
    'plan-only': { type: 'string' },
  },
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function peakRssMiB(pid: number | 'self'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024;
}

/** Phase 4, in its own process: read the store as a directory, plan against an organization. */
async function planOnly(storePath: string): Promise<void> {
  const started = performance.now();
  const config = ScimConfig.parse({ tokens: [TOKEN], store: { path: storePath } });
  const snapshot = await new ScimSource(config).read({ groupsOfInterest: ['everyone'] });
  const readMs = performance.now() - started;
  const organization: OrgUser[] = snapshot.users.map((u, i) => ({
    emailId: asEmailId(1_000_000 + i),
    userId: asUserId(5_000_000 + i),
    email: u.email,
    tag: 'USER',
    adStatus: 'ACTIVE',
  }));
  const rules = RulesConfig.parse({
    scope: { emailDomains: ['corp.example.com'] },
    ranks: { ADMIN: ['everyone'] },
  });
  const planStarted = performance.now();
  const result = plan({
    directory: snapshot.users,
    organization,
    details: new Map(),
    state: { version: 1, users: {} } as never,
    rules,
    protectedUsers: [],
    now: new Date(),
    match: matchUsers(snapshot.users, organization),
  });
  const planMs = performance.now() - planStarted;
  console.log(
    JSON.stringify({
      users: snapshot.users.length,
      readMs: Math.round(readMs),
      planMs: Math.round(planMs),
      actions: result.actions.length,
      peakRssMiB: Math.round(peakRssMiB('self')),
    }),
  );
}

async function main(): Promise<void> {
  const users = Number(positionals[0] ?? 100_000);
  const latencyN = Number(values.latency);
  const burstN = Number(values.burst);
  const concurrency = Number(values.concurrency);
  const dir = join(WORK, 'scim');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const configFile = join(dir, 'dirsync.yaml');
  writeFileSync(
    configFile,
    stringify({
      source: { type: 'scim' },
      scim: {
        host: '127.0.0.1',
        port: 0,
        tokens: [TOKEN],
        debounce: '1d',
        maxDelay: '1d',
        store: { path: './scim.sqlite' },
      },
      // Never reached: the run at start finds no user pushed, and later runs are a day away.
      api: { baseUrl: 'http://127.0.0.1:9', token: 'unused' },
      rules: { scope: { emailDomains: ['corp.example.com'] } },
      schedule: { cron: '0 0 1 1 *' },
      server: { host: '127.0.0.1', port: 0 },
      state: { path: './state/dirsync.json' },
      log: { level: 'warn', format: 'json' },
    }),
  );
  const daemon = spawn(
    process.execPath,
    [join(ROOT, 'bin/dirsync.js'), 'daemon', '--config', configFile],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'info' },
    },
  );
  let log = '';
  daemon.stderr.on('data', (c: Buffer) => (log += c.toString()));
  const deadline = Date.now() + 20_000;
  let url: string | undefined;
  while (url === undefined) {
    url = /"url":"(http:[^"]+\/scim\/v2)"/.exec(log)?.[1];
    if (Date.now() > deadline) throw new Error(`the daemon did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const base = new URL(url);
  const pool = new Pool(base.origin, { connections: concurrency, pipelining: 1 });
  const send = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Record<string, unknown>> => {
    const res = await pool.request({
      method: method,
      path: `${base.pathname}${path}`,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/scim+json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${text}`);
    return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  };
  const aUser = (i: number): Record<string, unknown> => ({
    schemas: [USER, DIRSYNC],
    userName: `user${i}@corp.example.com`,
    active: true,
    externalId: `ext-${i}`,
    emails: [{ type: 'work', value: `user${i}@corp.example.com`, primary: true }],
    name: { givenName: 'User', familyName: String(i) },
    [DIRSYNC]: { loginName: `CORP\\user${i}` },
  });
  async function pooled(n: number, work: (i: number) => Promise<unknown>): Promise<number> {
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < n; i = next++) await work(i);
      }),
    );
    return performance.now() - started;
  }

  // 1. Latency, one at a time.
  const post: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < latencyN; i++) {
    const t = performance.now();
    ids.push((await send('POST', '/Users', aUser(i)))['id'] as string);
    post.push(performance.now() - t);
  }
  const patchMs: number[] = [];
  for (let i = 0; i < latencyN; i++) {
    const t = performance.now();
    await send('PATCH', `/Users/${ids[i]!}`, {
      schemas: [PATCH],
      Operations: [{ op: 'Replace', path: 'active', value: i % 2 === 0 ? 'False' : 'True' }],
    });
    patchMs.push(performance.now() - t);
  }
  post.sort((a, b) => a - b);
  patchMs.sort((a, b) => a - b);

  // 2. Sustained writes.
  const burstMs = await pooled(burstN, (i) =>
    send('PATCH', `/Users/${ids[i % ids.length]!}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: 'title', value: `t${i}` }],
    }),
  );

  // 3. The initial push.
  const pushMs = await pooled(users - latencyN, (k) =>
    send('POST', '/Users', aUser(latencyN + k)).then(
      (r) => (ids[latencyN + k] = r['id'] as string),
    ),
  );
  const groupStarted = performance.now();
  const group = await send('POST', '/Groups', { schemas: [GROUP], displayName: 'Everyone' });
  for (let i = 0; i < ids.length; i += 100) {
    await send('PATCH', `/Groups/${group['id'] as string}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'Add', path: 'members', value: ids.slice(i, i + 100).map((value) => ({ value })) },
      ],
    });
  }
  const groupMs = performance.now() - groupStarted;
  const daemonRss = peakRssMiB(daemon.pid!);
  await pool.close();
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('exit', r));

  // 4. Read and plan, in a process of its own.
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench/scim.ts'), '--plan-only', join(dir, 'scim.sqlite')],
    { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 },
  );
  if (child.status !== 0) throw new Error(child.stderr);
  const planned = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Record<string, number>;

  const result = {
    latency: {
      postP50Ms: +percentile(post, 50).toFixed(2),
      postP99Ms: +percentile(post, 99).toFixed(2),
      patchP50Ms: +percentile(patchMs, 50).toFixed(2),
      patchP99Ms: +percentile(patchMs, 99).toFixed(2),
    },
    sustained: {
      writes: burstN,
      concurrency,
      writesPerSecond: Math.round(burstN / (burstMs / 1000)),
    },
    push: {
      users,
      seconds: +((pushMs + 0) / 1000).toFixed(1),
      usersPerSecond: Math.round((users - latencyN) / (pushMs / 1000)),
      groupMembershipSeconds: +(groupMs / 1000).toFixed(1),
      daemonPeakRssMiB: Math.round(daemonRss),
    },
    readAndPlan: planned,
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(`JSON ${JSON.stringify(result)}`);
  rmSync(dir, { recursive: true, force: true });
}

if (values['plan-only'] !== undefined) await planOnly(values['plan-only']);
else await main();
