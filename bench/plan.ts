/**
 * The pure planner at scale: `plan()` over N directory users and N organization users with 5%
 * drift (1% each: login names, ranks, disabled accounts, leavers, guests), built in memory, no
 * I/O. Beside it, in the same process and run by run, its floor: a bare join of the two lists by
 * email (a Map and N look-ups), which any planner must at least do.
 *
 *   npx tsx bench/plan.ts [users] [--runs 5]
 *
 * The peak RSS of a whole `dirsync plan` run (slapd + mock + the built CLI) is in bench/sync.ts.
 */
import { parseArgs } from 'node:util';
import { RulesConfig } from '../src/config/schema.js';
import { normalizeDn } from '../src/directory/dn.js';
import type { DirectoryUser } from '../src/directory/model.js';
import { asEmailId, asUserId } from '../src/api/ids.js';
import type { ActionKind, OrgUser } from '../src/reconcile/model.js';
import { detailReadsNeeded, plan, type PlanInput } from '../src/reconcile/plan.js';
import type { StateRecord } from '../src/state/model.js';
import { fmt, stats, type Stats } from './support.js';

const GROUPS = 'ou=groups,dc=example,dc=com';
const SUPER_GROUP = `cn=leaf-0000,${GROUPS}`;
const ADMIN_GROUP = `cn=dept-0001,${GROUPS}`;
const LEAVES = 1800;
export const PLAN_TARGET_MS = 1000;

/** Which 1% slice of users (index mod 100) carries which drift. */
export const DRIFT = {
  disabled: 7,
  leaver: 50,
  guest: 60,
  logins: 70,
  rank: 75,
} as const;

const pad = (i: number): string => String(i).padStart(6, '0');

/**
 * A directory and an organization of `users` each, and a state record of a converged earlier
 * run, with 5% drift. Groups as the directory bench has them: three leaves per user and the
 * dept, division, region and top groups above them.
 */
export function planInput(users: number): PlanInput {
  const now = new Date('2026-01-15T12:00:00.000Z');
  const verifiedAt = new Date(now.getTime() - 3_600_000).toISOString();
  const rules = RulesConfig.parse({
    scope: { emailDomains: ['example.com'] },
    ranks: { SUPER: [SUPER_GROUP], ADMIN: [ADMIN_GROUP] },
    removed: { action: 'suspend' },
    computerUsernames: 'manage',
  });
  const directory: DirectoryUser[] = [];
  const organization: OrgUser[] = [];
  const state: StateRecord = { version: 1, lastVerifyAt: verifiedAt, users: {} };
  for (let i = 0; i < users; i++) {
    const slice = i % 100;
    const id = pad(i);
    const leaves = [0, 600, 1200].map((k) => (i + k) % LEAVES);
    const groups = [
      ...leaves.map((l) => `cn=leaf-${String(l).padStart(4, '0')},${GROUPS}`),
      ...leaves.map((l) => `cn=dept-${String(Math.floor(l / 12)).padStart(4, '0')},${GROUPS}`),
      `cn=division-${String(Math.floor(leaves[0]! / 60)).padStart(4, '0')},${GROUPS}`,
      `cn=region-${String(Math.floor(leaves[0]! / 180)).padStart(4, '0')},${GROUPS}`,
    ].map(normalizeDn);
    const dir: DirectoryUser = {
      id: `uid=user${id},ou=people,dc=example,dc=com`,
      dn: `uid=user${id},ou=People,dc=example,dc=com`,
      email: `user${id}@example.com`,
      aliases: [],
      firstName: `First${id}`,
      lastName: `Last${id}`,
      logins: [`user${id}`],
      smartcards: [],
      groups: [...new Set(groups)],
      disabled: slice === DRIFT.disabled,
      expired: false,
    };
    directory.push(dir);
    const emailId = 1000 + i;
    const email = slice === DRIFT.leaver ? `leaver${id}@example.com` : dir.email;
    organization.push({
      emailId: asEmailId(emailId),
      userId: asUserId(5_000_000 + i),
      email,
      tag: slice === DRIFT.guest ? 'GUEST' : 'USER',
      adStatus: 'ACTIVE',
    });
    if (slice === DRIFT.guest) continue; // never synced before: no record
    const rank = dir.groups.includes(SUPER_GROUP)
      ? 'SUPER'
      : dir.groups.includes(ADMIN_GROUP)
        ? 'ADMIN'
        : 'REGULAR';
    state.users[String(emailId)] = {
      email,
      rank: slice === DRIFT.rank ? (rank === 'REGULAR' ? 'ADMIN' : 'REGULAR') : rank,
      computerUsernames: slice === DRIFT.logins ? ['stale'] : [`user${id}`],
      verifiedAt,
    };
  }
  return {
    directory,
    organization,
    details: new Map(),
    state,
    rules,
    protectedUsers: ['user000000@example.com'],
    now,
  };
}

/** The actions a correct plan of `planInput(users)` holds, by kind. */
export function expectedPlanCounts(users: number): Partial<Record<ActionKind, number>> {
  const per = (slice: number): number => Math.floor(users / 100) + (users % 100 > slice ? 1 : 0);
  return {
    promote_guest: per(DRIFT.guest),
    // A guest has no record yet: its login names and rank are set along with its promotion.
    set_computer_usernames: per(DRIFT.logins) + per(DRIFT.guest),
    set_rank: per(DRIFT.rank) + per(DRIFT.guest),
    suspend: per(DRIFT.disabled) + per(DRIFT.leaver),
  };
}

/** The floor: join both lists by email, the least work any planner does. */
function bareJoin(input: PlanInput): number {
  const byEmail = new Map<string, DirectoryUser>();
  for (const u of input.directory) byEmail.set(u.email, u);
  let hits = 0;
  for (const o of input.organization) if (byEmail.has(o.email.toLowerCase())) hits++;
  return hits;
}

export interface PlanBenchResult {
  users: number;
  /** Actions of the plan, by kind (the same every run). */
  counts: Partial<Record<ActionKind, number>>;
  detailReads: number;
  buildMs: number;
  planMs: Stats;
  detailReadsNeededMs: Stats;
  bareJoinMs: Stats;
  runs: { planMs: number; detailReadsNeededMs: number; bareJoinMs: number }[];
  heapUsedMiB: number;
}

export function benchPlan(users = 100_000, runs = 5): PlanBenchResult {
  const t0 = performance.now();
  const input = planInput(users);
  const buildMs = performance.now() - t0;
  // One untimed round so the timed ones measure optimized code.
  plan(input);
  detailReadsNeeded(input, { sweep: false });
  bareJoin(input);
  const measured: PlanBenchResult['runs'] = [];
  let counts: PlanBenchResult['counts'] = {};
  let detailReads = 0;
  for (let r = 0; r < runs; r++) {
    let t = performance.now();
    bareJoin(input);
    const bareJoinMs = performance.now() - t;
    t = performance.now();
    detailReads = detailReadsNeeded(input, { sweep: false }).length;
    const detailReadsNeededMs = performance.now() - t;
    t = performance.now();
    counts = plan(input).summary.actions;
    const planMs = performance.now() - t;
    measured.push({ planMs, detailReadsNeededMs, bareJoinMs });
  }
  return {
    users,
    counts,
    detailReads,
    buildMs,
    planMs: stats(measured.map((m) => m.planMs)),
    detailReadsNeededMs: stats(measured.map((m) => m.detailReadsNeededMs)),
    bareJoinMs: stats(measured.map((m) => m.bareJoinMs)),
    runs: measured,
    heapUsedMiB: process.memoryUsage().heapUsed / 2 ** 20,
  };
}

export function printPlanBench(r: PlanBenchResult): void {
  console.log(
    `pure planner: ${r.users} directory users x ${r.users} organization users, 5% drift (input built in ${r.buildMs.toFixed(0)} ms)`,
  );
  console.log(`  actions: ${JSON.stringify(r.counts)}; detail reads needed: ${r.detailReads}`);
  console.table([
    {
      'plan()': fmt(r.planMs, 'ms'),
      'detailReadsNeeded()': fmt(r.detailReadsNeededMs, 'ms'),
      'bare join (floor)': fmt(r.bareJoinMs, 'ms', 1),
      target: `plan() < ${PLAN_TARGET_MS} ms ${r.planMs.median < PLAN_TARGET_MS ? 'met' : 'MISSED'}`,
    },
  ]);
  console.log('  runs (plan / detailReadsNeeded / bare join, ms):');
  r.runs.forEach((m, i) =>
    console.log(
      `    ${i + 1}: ${m.planMs.toFixed(0)} / ${m.detailReadsNeededMs.toFixed(0)} / ${m.bareJoinMs.toFixed(1)}`,
    ),
  );
}

if (import.meta.filename === process.argv[1]) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { runs: { type: 'string', default: '5' } },
  });
  const result = benchPlan(Number(positionals[0] ?? 100_000), Number(values.runs));
  printPlanBench(result);
  if (process.env.DIRSYNC_BENCH_JSON === '1') console.log(`JSON ${JSON.stringify(result)}`);
}
