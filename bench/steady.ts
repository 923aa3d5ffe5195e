/**
 * Steady-state cost (issue 13 item 5) and start-up (issue 15 item 5), side by side in one run:
 *
 * - for each size, a converged organization (no drift left) that holds the shapes a quiet run
 *   must leave alone: guests in none of promoteGuests.groups, users out of scope (another domain,
 *   scope.exclude), protected users (locked, gone from the directory, or would be demoted) and
 *   users suspended by hand; plus the leavers and locked accounts dirsync itself suspended;
 * - `dirsync plan` on it (spawn to exit, peak RSS, the API calls it made, by endpoint, and its
 *   phases from its own log) against the raw reads it needs: `ldapsearch` of users and groups
 *   with paging (bench/directory-read.ts) plus `curl` of both listings, alternating run by run;
 * - start-up: `dirsync --version` and a plan of the 20-user demo (config/demo.yaml) beside
 *   `node -e 0`; with `--baseline DIR`, the same for the build in DIR (another checkout with
 *   `npm run build` done and node_modules), so a before/after is measured in one run.
 *
 *   npx tsx bench/steady.ts [users ...] [--runs 5] [--startup-runs 10] [--cpu-prof] [--baseline DIR]
 *
 * (`npm run bench` runs it with the defaults; DIRSYNC_BENCH_BASELINE=DIR sets --baseline.)
 * (default 20000 100000; needs `npm run build`, slapd, ldap-utils and curl). `--cpu-prof` adds one
 * profiled plan at the first size, written under bench/.work/profiles, and prints where its CPU
 * time went (bench/profile-summary.ts).
 */
import { spawn } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startSlapd } from '../test/support/slapd.js';
import { GROUPS, SUFFIX, generateDirectory, ldapsearch } from './directory-read.js';
import { printProfile, summarizeProfile, type ProfileSummary } from './profile-summary.js';
import { ROOT, WORK, fmt, spawnMock, stats, type Stats } from './support.js';
import {
  OWNER,
  TOKEN,
  check,
  curlListings,
  runCli,
  takeRequests,
  writeSyncConfig,
  type CallCounts,
} from './sync.js';

/** Targets of issue 13 item 5: plan wall against the raw reads, by size. */
export const STEADY_TARGETS: Record<number, number> = { 20_000: 2, 100_000: 1.5 };
/** Issue 15 item 5. */
const VERSION_TARGET_MS = 120;

/** Which 1% slice of users (index mod 100) has which shape; 7 is locked by the LDIF. */
export const STEADY_SHAPES = {
  locked: 7,
  leaver: 50,
  guests: [60, 61, 62],
  handSuspended: 65,
  /** Each user of this slice also has an organization twin in another domain. */
  otherDomain: 90,
  /** The first EXCLUDED users of this slice are in scope.exclude. */
  excluded: 95,
} as const;
const EXCLUDED = 10;
/** The only group guests are promoted from (it holds a few of slice 60): most stay guests. */
export const PROMOTE_GROUP = `cn=leaf-0060,${GROUPS}`;

const pad = (i: number): string => String(i).padStart(6, '0');

export interface SteadyOrganization {
  seedFile: string;
  users: number;
  /** Of each shape, how many the seed holds. */
  shapes: {
    guests: number;
    otherDomain: number;
    excluded: number;
    protected: number;
    handSuspended: number;
    leavers: number;
    locked: number;
  };
  excluded: string[];
  protectedUsers: string[];
}

/**
 * The organization for `generateDirectory(users)` as a converged run leaves it, but for ranks,
 * which the API does not show (the first apply sets them): user i as `user<i>@example.com`
 * with its login name and smart card, and the shapes of STEADY_SHAPES.
 */
export function writeSteadySeed(users: number): SteadyOrganization {
  const list: Record<string, unknown>[] = [];
  const shapes = {
    guests: 0,
    otherDomain: 0,
    excluded: 0,
    protected: 0,
    handSuspended: 0,
    leavers: 0,
    locked: 0,
  };
  const excluded: string[] = [];
  const locked: string[] = [];
  const leavers: string[] = [];
  for (let i = 0; i < users; i++) {
    const slice = i % 100;
    const id = pad(i);
    if (slice === STEADY_SHAPES.leaver) {
      list.push({ email: `leaver${id}@example.com`, computer_usernames: [`leaver${id}`] });
      leavers.push(`leaver${id}@example.com`);
      shapes.leavers++;
      continue;
    }
    const email = `user${id}@example.com`;
    const user: Record<string, unknown> = {
      email,
      first_name: `First${id}`,
      last_name: `Last${id}`,
      rank: i === 0 ? 'SUPER' : 'REGULAR',
      computer_usernames: [`user${id}`],
      groups: ['Employees'],
    };
    if (i % 4 === 0) user['smartcards'] = [{ number: String(1_000_000 + i), label: 'badge' }];
    if ((STEADY_SHAPES.guests as readonly number[]).includes(slice)) {
      user['tag'] = 'GUEST';
      shapes.guests++;
    }
    if (slice === STEADY_SHAPES.handSuspended) {
      user['ad_status'] = 'SUSPENDED';
      shapes.handSuspended++;
    }
    if (slice === STEADY_SHAPES.locked) {
      locked.push(email);
      shapes.locked++;
    }
    if (slice === STEADY_SHAPES.excluded && excluded.length < EXCLUDED) excluded.push(email);
    list.push(user);
    if (slice === STEADY_SHAPES.otherDomain) {
      list.push({ email: `user${id}@other.example.org`, computer_usernames: ['someone-else'] });
      shapes.otherDomain++;
    }
  }
  shapes.excluded = excluded.length;
  // Protected: locked accounts (not suspended), leavers (not suspended), and ordinary users
  // whose rank the rules would lower from an unknown one (left unset, with a note).
  const protectedUsers = [
    ...locked.slice(0, 4),
    ...leavers.slice(0, 3),
    ...['000001', '000002', '000003'].map((id) => `user${id}@example.com`),
  ].filter((e, i, all) => all.indexOf(e) === i && e !== OWNER);
  shapes.protected = protectedUsers.length;
  mkdirSync(WORK, { recursive: true });
  const seedFile = join(WORK, `steady-seed-${users}.json`);
  writeFileSync(
    seedFile,
    JSON.stringify({
      organizations: [{ name: 'bench', tokens: [{ token: TOKEN, email: OWNER }], users: list }],
    }),
  );
  return { seedFile, users, shapes, excluded, protectedUsers };
}

/** The config lines that give the shapes their meaning. */
function shapeConfig(org: SteadyOrganization): Parameters<typeof writeSyncConfig>[3] {
  return {
    scope: `{ emailDomains: [example.com], exclude: [${org.excluded.join(', ')}] }`,
    rules: `  promoteGuests:\n    groups:\n      - ${PROMOTE_GROUP}`,
    safety: `  protectedUsers: [${org.protectedUsers.join(', ')}]`,
  };
}

/** The `ms` of one of dirsync's JSON log lines ('directory read', 'organization read', 'planned'). */
export function loggedMs(stderr: string, message: string): number {
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{') || !line.includes(`"${message}"`)) continue;
    const parsed = JSON.parse(line) as { message?: string; ms?: number };
    if (parsed.message === message && parsed.ms !== undefined) return parsed.ms;
  }
  return NaN;
}

export interface SteadyRun {
  planMs: number;
  planRssMiB: number;
  /** From dirsync's log: its directory read, its organization read, detail reads + plan + rails. */
  directoryReadMs: number;
  organizationReadMs: number;
  planningMs: number;
  calls: CallCounts;
  actions: number;
  ldapsearchMs: number;
  curlMs: number;
}

export interface SteadySize {
  users: number;
  organizationUsers: number;
  shapes: SteadyOrganization['shapes'];
  /** Guests still guests after convergence (those of PROMOTE_GROUP were promoted). */
  unpromotedGuests: number;
  setupMs: number;
  convergeMs: number;
  convergeApplies: number;
  runs: SteadyRun[];
  planMs: Stats;
  planRssMiB: Stats;
  directoryReadMs: Stats;
  organizationReadMs: Stats;
  planningMs: Stats;
  ldapsearchMs: Stats;
  curlMs: Stats;
  rawMs: Stats;
  /** Median plan wall / median (ldapsearch + curl). */
  ratio: number;
  /** Every plan made exactly the two listings, nothing else, and planned nothing. */
  quiet: boolean;
  profile?: ProfileSummary;
}

/** One size: set up, converge, then `runs` plans alternating with the raw reads. */
export async function benchSteadySize(
  users: number,
  runs: number,
  options: { cpuProf?: boolean } = {},
): Promise<SteadySize> {
  const started = performance.now();
  const data = generateDirectory(users);
  const org = writeSteadySeed(users);
  const slapd = await startSlapd({
    ldif: readFileSync(data.ldifFile, 'utf8'),
    suffix: SUFFIX,
    ppolicy: true,
  });
  const mock = await spawnMock(org.seedFile);
  mkdirSync(WORK, { recursive: true });
  const dir = mkdtempSync(join(WORK, 'steady-'));
  const devNull = openSync('/dev/null', 'w');
  const setupMs = performance.now() - started;
  try {
    const config = writeSyncConfig(dir, slapd, mock.url, shapeConfig(org));
    // Converge: apply until a plan is empty (the first sets every rank, reads every user once).
    const convergeStarted = performance.now();
    let convergeApplies = 0;
    for (;;) {
      const plan = check(await runCli(['plan', '--config', config, '--json']), 'dirsync plan');
      if ((JSON.parse(plan.stdout) as { actions: unknown[] }).actions.length === 0) break;
      if (convergeApplies >= 4) throw new Error('no empty plan after 4 applies');
      check(await runCli(['apply', '--config', config]), 'dirsync apply');
      convergeApplies++;
    }
    const convergeMs = performance.now() - convergeStarted;
    const state = (await (await fetch(`${mock.url}/_mock/state`)).json()) as {
      organizations: { users: { tag: string }[] }[];
    };
    const listed = state.organizations[0]!.users;
    // Warm-up, untimed: slapd's cache, the page cache, the mock's serializer.
    await ldapsearch(slapd, devNull);
    await curlListings(mock.url);
    await takeRequests(mock.url);

    const measured: SteadyRun[] = [];
    for (let r = 0; r < runs; r++) {
      const raw = async (): Promise<{ ldapsearchMs: number; curlMs: number }> => ({
        ldapsearchMs: (await ldapsearch(slapd, devNull)).ms,
        curlMs: await curlListings(mock.url),
      });
      const plan = async () => {
        await takeRequests(mock.url);
        const exit = check(
          await runCli(['plan', '--config', config, '--json'], {
            rss: true,
            env: { LOG_LEVEL: 'info' },
          }),
          'quiet dirsync plan',
        );
        return { exit, calls: await takeRequests(mock.url) };
      };
      // Alternate which side goes first, so neither always follows the other.
      let base: Awaited<ReturnType<typeof raw>>;
      let mine: Awaited<ReturnType<typeof plan>>;
      if (r % 2 === 0) {
        base = await raw();
        mine = await plan();
      } else {
        mine = await plan();
        base = await raw();
      }
      const { exit, calls } = mine;
      measured.push({
        planMs: exit.ms,
        planRssMiB: (exit.maxRssKiB ?? NaN) / 1024,
        directoryReadMs: loggedMs(exit.stderr, 'directory read'),
        organizationReadMs: loggedMs(exit.stderr, 'organization read'),
        planningMs: loggedMs(exit.stderr, 'planned'),
        calls,
        actions: (JSON.parse(exit.stdout) as { actions: unknown[] }).actions.length,
        ...base,
      });
    }
    let profile: ProfileSummary | undefined;
    if (options.cpuProf === true) {
      const profiles = join(WORK, 'profiles');
      mkdirSync(profiles, { recursive: true });
      const name = `steady-plan-${users}.cpuprofile`;
      rmSync(join(profiles, name), { force: true });
      check(
        await runCli(['plan', '--config', config, '--json'], {
          nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profiles, '--cpu-prof-name', name],
        }),
        'profiled dirsync plan',
      );
      profile = summarizeProfile(join(profiles, name), ROOT);
    }

    const planMs = stats(measured.map((m) => m.planMs));
    const rawMs = stats(measured.map((m) => m.ldapsearchMs + m.curlMs));
    return {
      users,
      organizationUsers: listed.length,
      shapes: org.shapes,
      unpromotedGuests: listed.filter((u) => u.tag === 'GUEST').length,
      setupMs,
      convergeMs,
      convergeApplies,
      runs: measured,
      planMs,
      planRssMiB: stats(measured.map((m) => m.planRssMiB)),
      directoryReadMs: stats(measured.map((m) => m.directoryReadMs)),
      organizationReadMs: stats(measured.map((m) => m.organizationReadMs)),
      planningMs: stats(measured.map((m) => m.planningMs)),
      ldapsearchMs: stats(measured.map((m) => m.ldapsearchMs)),
      curlMs: stats(measured.map((m) => m.curlMs)),
      rawMs,
      ratio: planMs.median / rawMs.median,
      quiet: measured.every(
        (m) =>
          m.actions === 0 &&
          JSON.stringify(m.calls.byEndpoint) === JSON.stringify({ 'GET /multipleusers': 2 }),
      ),
      ...(profile === undefined ? {} : { profile }),
    };
  } finally {
    closeSync(devNull);
    await mock.stop();
    await slapd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface StartupBuild {
  /** The checkout whose build ran (ROOT, or --baseline). */
  root: string;
  versionMs: Stats;
  /** A plan of the 20-user demo directory and organization: start-up plus almost no work. */
  demoPlanMs: Stats;
}

export interface StartupResult {
  nodeMs: Stats;
  builds: StartupBuild[];
}

/** `node -e 0`, `dirsync --version` and a demo plan, each build in turn, `runs` rounds. */
export async function benchStartup(runs: number, baseline?: string): Promise<StartupResult> {
  mkdirSync(WORK, { recursive: true });
  const dir = mkdtempSync(join(WORK, 'startup-'));
  const mock = await spawnMock(join(ROOT, 'config/demo-org.yaml'));
  const roots = [ROOT, ...(baseline === undefined ? [] : [baseline])];
  const node: number[] = [];
  const version = roots.map(() => [] as number[]);
  const demo = roots.map(() => [] as number[]);
  try {
    const nodeExit = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const t0 = performance.now();
        spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' })
          .once('error', reject)
          .once('close', () => resolve(performance.now() - t0));
      });
    for (let r = 0; r < runs + 1; r++) {
      const n = await nodeExit();
      for (let b = 0; b < roots.length; b++) {
        const root = roots[b]!;
        const v = check(await runCli(['--version'], { root }), `${root}: dirsync --version`);
        // Each plan gets a fresh state record: the same work every time.
        const env = {
          DIRSYNC_DEMO_API: mock.url,
          DIRSYNC_DEMO_STATE: join(dir, `state-${b}-${r}`, 'dirsync.json'),
        };
        const p = await runCli(['plan', '--config', join(root, 'config/demo.yaml')], {
          root,
          env,
        });
        if (p.code !== 0 && p.code !== 3) check(p, `${root}: dirsync plan (demo)`);
        // The first round warms the page cache: not counted.
        if (r === 0) continue;
        version[b]!.push(v.ms);
        demo[b]!.push(p.ms);
      }
      if (r > 0) node.push(n);
    }
    return {
      nodeMs: stats(node),
      builds: roots.map((root, b) => ({
        root,
        versionMs: stats(version[b]!),
        demoPlanMs: stats(demo[b]!),
      })),
    };
  } finally {
    await mock.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface SteadyResult {
  startup: StartupResult;
  sizes: SteadySize[];
}

export function printStartup(s: StartupResult): void {
  console.log(
    `start-up (median of ${s.nodeMs.runs}, spawn to exit): node -e 0 ${fmt(s.nodeMs, 'ms')}`,
  );
  for (const b of s.builds) {
    const label = b.root === ROOT ? 'this build' : `baseline ${b.root}`;
    console.log(
      `  ${label}: dirsync --version ${fmt(b.versionMs, 'ms')} (target < ${VERSION_TARGET_MS} ms ${b.versionMs.median < VERSION_TARGET_MS ? 'met' : 'MISSED'}); ` +
        `plan of the 20-user demo ${fmt(b.demoPlanMs, 'ms')}`,
    );
  }
}

export function printSteadySize(r: SteadySize): void {
  const target = STEADY_TARGETS[r.users];
  const s = r.shapes;
  console.log(
    `\nsteady state, ${r.users} users in slapd, ${r.organizationUsers} in the organization; set-up ${(r.setupMs / 1000).toFixed(1)} s, converged by ${r.convergeApplies} apply run(s) in ${(r.convergeMs / 1000).toFixed(1)} s`,
  );
  console.log(
    `  shapes left alone: ${r.unpromotedGuests} unpromoted guests (of ${s.guests}), ${s.otherDomain} users of another domain, ${s.excluded} in scope.exclude, ` +
      `${s.protected} protected, ${s.handSuspended} suspended by hand; and ${s.leavers} leavers and ${s.locked} locked users suspended by dirsync`,
  );
  const calls = r.runs.map((m) => JSON.stringify(m.calls.byEndpoint));
  console.log(
    `  calls per quiet plan: ${r.quiet ? `exactly ${calls[0]} and no action in every run (met)` : `NOT only the 2 listings (MISSED): ${calls.join(' ')}`}`,
  );
  console.log(
    `  dirsync plan ${fmt(r.planMs, 'ms')}; ldapsearch + curl ${fmt(r.rawMs, 'ms')} (ldapsearch ${fmt(r.ldapsearchMs, 'ms')}, curl ${fmt(r.curlMs, 'ms')})`,
  );
  console.log(
    `  ratio ${r.ratio.toFixed(2)}x${target === undefined ? '' : `, target ≤ ${target}x ${r.ratio <= target ? 'met' : 'MISSED'}`}; peak RSS ${fmt(r.planRssMiB, 'MiB')}`,
  );
  const other =
    r.planMs.median - r.directoryReadMs.median - r.organizationReadMs.median - r.planningMs.median;
  console.log(
    `  where a plan's time goes (medians, its own log): directory read ${r.directoryReadMs.median.toFixed(0)} ms, organization read ${r.organizationReadMs.median.toFixed(0)} ms, ` +
      `detail reads + plan + rails ${r.planningMs.median.toFixed(0)} ms, the rest (node, module loading, config, state record, output, exit) ~${other.toFixed(0)} ms`,
  );
  r.runs.forEach((m, i) =>
    console.log(
      `    ${i + 1}: plan ${m.planMs.toFixed(0)} ms (read ${m.directoryReadMs} + org ${m.organizationReadMs} + plan ${m.planningMs}), ${m.planRssMiB.toFixed(0)} MiB; ldapsearch ${m.ldapsearchMs.toFixed(0)} + curl ${m.curlMs.toFixed(0)} ms`,
    ),
  );
  if (r.profile !== undefined) printProfile(r.profile);
}

if (import.meta.filename === process.argv[1]) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      runs: { type: 'string', default: '5' },
      'startup-runs': { type: 'string', default: '10' },
      'cpu-prof': { type: 'boolean' },
      baseline: { type: 'string' },
    },
  });
  const sizes = positionals.length === 0 ? [20_000, 100_000] : positionals.map(Number);
  const baseline = values.baseline ?? process.env.DIRSYNC_BENCH_BASELINE;
  const startup = await benchStartup(Number(values['startup-runs']), baseline);
  printStartup(startup);
  const results: SteadySize[] = [];
  for (const [i, users] of sizes.entries()) {
    // Fewer repetitions past 20k: each 100k plan is seconds, its convergence minutes.
    const runs = users > 20_000 ? Math.min(3, Number(values.runs)) : Number(values.runs);
    const r = await benchSteadySize(users, runs, {
      cpuProf: values['cpu-prof'] === true && i === 0,
    });
    printSteadySize(r);
    results.push(r);
  }
  if (process.env.DIRSYNC_BENCH_JSON === '1')
    console.log(`JSON ${JSON.stringify({ startup, sizes: results } satisfies SteadyResult)}`);
}
