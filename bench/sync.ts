/**
 * Whole runs of the built CLI against a real slapd and the mock Users API, N users on each side
 * with 5% drift (1% each: login names, smart cards, locked accounts, leavers, guests):
 *
 * - organization read (issue item 2): dirsync's client listing both tags vs `curl` of the same
 *   two URLs, alternating run by run;
 * - first run (item 6): `dirsync plan` and then `dirsync apply` with no state record, every API
 *   call counted by the mock, against the minimum the API allows; the plan's peak RSS (item 3)
 *   beside that of the bare directory read;
 * - quiet run (item 5): after convergence, `dirsync apply` again: its calls (exactly the two
 *   listings) and its wall time beside ldapsearch + curl reading the same data.
 *
 *   npx tsx bench/sync.ts [users] [--runs 3] [--cpu-prof]
 *
 * (needs `npm run build`, slapd and ldap-utils). `--cpu-prof` adds one profiled organization read
 * after the timed ones, written to bench/.work/profiles/org-read.cpuprofile.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ApiClient } from '../src/api/client.js';
import type { RequestRecord } from '../src/mock/server.js';
import type { ActionKind } from '../src/reconcile/model.js';
import { startSlapd, type SlapdServer } from '../test/support/slapd.js';
import {
  GROUPS,
  PAGE_SIZE,
  PEOPLE,
  SUFFIX,
  dirsync as directoryReadChild,
  generateDirectory,
  ldapsearch,
} from './directory-read.js';
import { ROOT, WORK, fmt, spawnMock, stats, type Stats } from './support.js';

export const TOKEN = 'bench-sync-token';
export const OWNER = 'user000000@example.com';
export const SUPER_GROUP = `cn=leaf-0000,${GROUPS}`;
export const ADMIN_GROUP = `cn=dept-0001,${GROUPS}`;
/** Which 1% slice of users (index mod 100) carries which drift; 7 is locked by the LDIF. */
export const SYNC_DRIFT = { locked: 7, leaver: 50, guest: 60, logins: 70, cards: 80 } as const;
const ORG_READ_TARGET = 1.5;

const pad = (i: number): string => String(i).padStart(6, '0');

/**
 * The organization for the directory of `generateDirectory(users)`: user i as
 * `user<i>@example.com` with the login name and smart card (employeeNumber, one user in four)
 * the directory gives it, except for the drift slices: slice `leaver` is replaced by someone
 * who left the directory, `guest` is a guest, `logins` has a stale login name, `cards` lacks
 * its card. Ranks are unknown to dirsync (the API does not show them).
 */
export function writeSyncSeed(users: number): string {
  const list: Record<string, unknown>[] = [];
  for (let i = 0; i < users; i++) {
    const slice = i % 100;
    const id = pad(i);
    if (slice === SYNC_DRIFT.leaver) {
      list.push({ email: `leaver${id}@example.com`, computer_usernames: [`leaver${id}`] });
      continue;
    }
    const user: Record<string, unknown> = {
      email: `user${id}@example.com`,
      first_name: `First${id}`,
      last_name: `Last${id}`,
      rank: i === 0 ? 'SUPER' : 'REGULAR',
      computer_usernames: [slice === SYNC_DRIFT.logins ? 'stale' : `user${id}`],
      groups: ['Employees'],
    };
    if (i % 4 === 0 && slice !== SYNC_DRIFT.cards)
      user['smartcards'] = [{ number: String(1_000_000 + i), label: 'badge' }];
    if (slice === SYNC_DRIFT.guest) user['tag'] = 'GUEST';
    list.push(user);
  }
  mkdirSync(WORK, { recursive: true });
  const path = join(WORK, `sync-seed-${users}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      organizations: [{ name: 'bench', tokens: [{ token: TOKEN, email: OWNER }], users: list }],
    }),
  );
  return path;
}

/**
 * A config for slapd (plain LDAP on loopback, as the directory bench) and the mock. `extra` adds
 * YAML lines: `scope` replaces the scope, `rules` and `safety` are appended to their sections.
 */
export function writeSyncConfig(
  dir: string,
  slapd: SlapdServer,
  apiUrl: string,
  extra: { scope?: string; rules?: string; safety?: string } = {},
): string {
  writeFileSync(join(dir, 'ldap-password'), `${slapd.bindPassword}\n`);
  writeFileSync(join(dir, 'token'), TOKEN);
  const path = join(dir, 'dirsync.yaml');
  const unlimited = 10_000_000;
  writeFileSync(
    path,
    `source:
  type: ldap
  flavor: openldap
  urls: [${slapd.url}]
  allowPlaintextBind: true
  bindDn: ${slapd.bindDn}
  bindPasswordFile: ldap-password
  pageSize: ${PAGE_SIZE}
  users:
    baseDns:
      - ${PEOPLE}
  groups:
    baseDns:
      - ${GROUPS}
  attributes: { smartcards: employeeNumber }
api:
  baseUrl: ${apiUrl}
  tokenFile: token
  tokenOwner: ${OWNER}
  concurrency: 16
rules:
  scope: ${extra.scope ?? '{ emailDomains: [example.com] }'}
  ranks:
    SUPER:
      - ${SUPER_GROUP}
    ADMIN:
      - ${ADMIN_GROUP}
  suspend: { disabledAccounts: true }
  removed: { action: suspend }
  computerUsernames: manage
  smartcards: manage
${extra.rules ?? ''}
# A first run sets every rank: the rails would rightly stop it at the defaults.
safety:
  maxSuspends: ${unlimited}
  maxRankChanges: ${unlimited}
  maxPrivilegedGrants: ${unlimited}
${extra.safety ?? ''}
state: { path: state/dirsync.json }
log: { level: warn }
`,
  );
  return path;
}

export interface Exit {
  code: number | null;
  ms: number;
  stdout: string;
  stderr: string;
  /** Peak RSS of the process, KiB, when asked for. */
  maxRssKiB?: number;
}

const GNU_TIME = '/usr/bin/time';
/** Without GNU time: a preload that reports process.resourceUsage().maxRSS at exit. */
const RSS_PRELOAD =
  'data:text/javascript,process.on("exit",()=>process.stderr.write(`\\nmaxRSS=${process.resourceUsage().maxRSS}\\n`))';

/**
 * Runs the built CLI to its end; wall time from spawn to exit; optionally its peak RSS. `root`:
 * another checkout's build (a baseline); `nodeArgs`: flags for node (`--cpu-prof`).
 */
export function runCli(
  args: string[],
  options: {
    env?: Record<string, string>;
    rss?: boolean;
    cwd?: string;
    root?: string;
    nodeArgs?: string[];
  } = {},
): Promise<Exit> {
  const node = [...(options.nodeArgs ?? []), join(options.root ?? ROOT, 'bin/dirsync.js'), ...args];
  const rssFile = join(WORK, `rss-${process.pid}-${Date.now()}.txt`);
  const useTime = options.rss === true && existsSync(GNU_TIME);
  const [file, argv] = useTime
    ? [GNU_TIME, ['-f', '%M', '-o', rssFile, process.execPath, ...node]]
    : [process.execPath, options.rss === true ? ['--import', RSS_PRELOAD, ...node] : node];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(file, argv, {
      cwd: options.cwd ?? ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        ...options.env,
      },
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = performance.now() - t0;
      const result: Exit = { code, ms, stdout: Buffer.concat(out).toString('utf8'), stderr };
      if (useTime) {
        result.maxRssKiB = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
        rmSync(rssFile, { force: true });
      } else if (options.rss === true) {
        result.maxRssKiB = Number(/maxRSS=(\d+)/.exec(stderr)?.[1]);
      }
      resolve(result);
    });
  });
}

export function check(exit: Exit, what: string): Exit {
  if (exit.code !== 0)
    throw new Error(`${what} exited with ${String(exit.code)}:\n${exit.stderr.slice(-3000)}`);
  return exit;
}

/** The mock's request log, by kind, and cleared. */
export interface CallCounts {
  listings: number;
  detailReads: number;
  writes: number;
  total: number;
  byEndpoint: Record<string, number>;
}

export async function takeRequests(apiUrl: string): Promise<CallCounts> {
  const res = await fetch(`${apiUrl}/_mock/requests`);
  const requests = (await res.json()) as RequestRecord[];
  await fetch(`${apiUrl}/_mock/requests`, { method: 'DELETE' });
  const byEndpoint: Record<string, number> = {};
  for (const r of requests) {
    const key = `${r.method} ${r.path}`;
    byEndpoint[key] = (byEndpoint[key] ?? 0) + 1;
  }
  const listings = byEndpoint['GET /multipleusers'] ?? 0;
  const reads = requests.filter((r) => r.method === 'GET').length;
  return {
    listings,
    detailReads: reads - listings,
    writes: requests.length - reads,
    total: requests.length,
    byEndpoint,
  };
}

interface PlanJson {
  actions: { kind: ActionKind; emailId: number }[];
  summary: { matched: number; managedUsers: number; actions: Partial<Record<ActionKind, number>> };
}

/**
 * The fewest calls the API allows for this plan. Two listings (users, guests). Rank cannot be
 * read, so each set_rank is needed; so is each promote, suspend, unsuspend and remove (the
 * listings show tag and status, so these need no read). Computer usernames and smart cards are
 * replace-only lists that the listings do not show: for each user whose lists are managed, a
 * first run must either read them (one GET /user answers both) and write those that differ,
 * or write each managed list blind. The minimum per user is min(1 + lists that differ, lists
 * managed).
 */
export function minimumCalls(plan: PlanJson, listUsers: number, listsManaged: number): number {
  const listWrites = new Map<number, number>();
  let other = 0;
  for (const a of plan.actions) {
    if (a.kind === 'set_computer_usernames' || a.kind === 'set_smartcards')
      listWrites.set(a.emailId, (listWrites.get(a.emailId) ?? 0) + 1);
    else other++;
  }
  let lists = 0;
  for (const differ of listWrites.values()) lists += Math.min(1 + differ, listsManaged);
  lists += (listUsers - listWrites.size) * Math.min(1, listsManaged);
  // A toggle is decided on a status read during the apply: one fresh read of both listings.
  const toggles = plan.actions.some((a) => a.kind === 'suspend' || a.kind === 'unsuspend');
  return 2 + (toggles ? 2 : 0) + other + lists;
}

export interface FirstRun {
  /** dirsync plan, no state record: peak RSS, wall, and its actions. */
  planRssMiB: number;
  planMs: number;
  planCalls: CallCounts;
  /** The bare LdapSource.read in its own process (bench/directory-read-child.mjs), same run. */
  directoryReadRssMiB: number;
  applyMs: number;
  applyCalls: CallCounts;
  actions: Partial<Record<ActionKind, number>>;
  minimum: number;
}

export interface QuietRun {
  applyMs: number;
  applyRssMiB: number;
  calls: CallCounts;
  /** dirsync's own log: the directory read, ms. */
  directoryReadMs: number;
  /** ldapsearch of users and groups, to /dev/null, same attributes (the directory bench). */
  ldapsearchMs: number;
  /** curl of both listings, to /dev/null. */
  curlMs: number;
}

export interface OrgReadRun {
  clientMs: number;
  curlMs: number;
  /** Both listings fetched in-process and only JSON.parse'd: what any JSON client must do. */
  parseMs: number;
  users: number;
}

export interface SyncBenchResult {
  users: number;
  organizationUsers: number;
  setupMs: number;
  orgRead: {
    runs: OrgReadRun[];
    clientMs: Stats;
    curlMs: Stats;
    parseMs: Stats;
    ratio: number;
  };
  firstRuns: FirstRun[];
  first: {
    planRssMiB: Stats;
    directoryReadRssMiB: Stats;
    planMs: Stats;
    applyMs: Stats;
    calls: Stats;
    minimum: Stats;
  };
  /** `dirsync apply` runs until a plan was empty. */
  convergeApplies: number;
  quietRuns: QuietRun[];
  quiet: {
    applyMs: Stats;
    applyRssMiB: Stats;
    directoryReadMs: Stats;
    ldapsearchMs: Stats;
    curlMs: Stats;
    baselineMs: Stats;
  };
  quietPlanRssMiB: Stats;
}

export async function curlListings(apiUrl: string): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    ['/multipleusers', '/multipleusers?user_tag=GUEST'].map(
      (path) =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(
            'curl',
            ['-sS', '-f', '-o', '/dev/null', '-H', `Authorization: Bearer ${TOKEN}`, apiUrl + path],
            { stdio: ['ignore', 'ignore', 'inherit'] },
          );
          child.once('error', reject);
          child.once('close', (code) =>
            code === 0 ? resolve() : reject(new Error(`curl ${path} exited with ${code}`)),
          );
        }),
    ),
  );
  return performance.now() - t0;
}

async function fetchAndParse(apiUrl: string): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    ['/multipleusers', '/multipleusers?user_tag=GUEST'].map(async (path) => {
      const res = await fetch(apiUrl + path, { headers: { authorization: `Bearer ${TOKEN}` } });
      JSON.parse(await res.text());
    }),
  );
  return performance.now() - t0;
}

/** The `ms` of dirsync's 'directory read' log line (JSON logs). */
function loggedReadMs(stderr: string): number {
  for (const line of stderr.split('\n')) {
    if (!line.includes('"directory read"')) continue;
    const ms = (JSON.parse(line) as { ms?: number }).ms;
    if (ms !== undefined) return ms;
  }
  return NaN;
}

const mib = (kib: number | undefined): number => (kib ?? NaN) / 1024;

/** One organization read under the V8 CPU profiler (in this process, as item 2 measures it). */
async function profileOrgRead(client: ApiClient): Promise<string> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  await client.listOrganization();
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  const dir = join(WORK, 'profiles');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'org-read.cpuprofile');
  writeFileSync(file, JSON.stringify(profile));
  return file;
}

export async function benchSync(
  users = 100_000,
  runs = 3,
  options: { cpuProf?: boolean } = {},
): Promise<SyncBenchResult> {
  const started = performance.now();
  const data = generateDirectory(users);
  const seedFile = writeSyncSeed(users);
  const slapd = await startSlapd({
    ldif: readFileSync(data.ldifFile, 'utf8'),
    suffix: SUFFIX,
    ppolicy: true,
  });
  const setupMs = performance.now() - started;
  const dirs: string[] = [];
  const workDir = (): string => {
    mkdirSync(WORK, { recursive: true });
    const dir = mkdtempSync(join(WORK, 'sync-'));
    dirs.push(dir);
    return dir;
  };
  let mock = await spawnMock(seedFile);
  try {
    // Item 2: the organization read, client against curl, alternating.
    const orgRuns: OrgReadRun[] = [];
    const client = new ApiClient({ baseUrl: mock.url, token: TOKEN, env: {} });
    let organizationUsers = (await client.listOrganization()).length; // warms the mock's cache
    await curlListings(mock.url);
    await fetchAndParse(mock.url);
    for (let r = 0; r < runs; r++) {
      const curlMs = await curlListings(mock.url);
      const parseMs = await fetchAndParse(mock.url);
      const t0 = performance.now();
      organizationUsers = (await client.listOrganization()).length;
      orgRuns.push({ clientMs: performance.now() - t0, curlMs, parseMs, users: organizationUsers });
    }
    if (options.cpuProf === true)
      console.log(`  CPU profile of one organization read: ${await profileOrgRead(client)}`);
    await client.close();
    await takeRequests(mock.url);

    // Item 6 and item 3: first plan and first apply with no state record, each on a fresh mock.
    const firstRuns: FirstRun[] = [];
    let dir = '';
    let config = '';
    for (let r = 0; r < runs; r++) {
      if (r > 0) {
        await mock.stop();
        mock = await spawnMock(seedFile);
      }
      dir = workDir();
      config = writeSyncConfig(dir, slapd, mock.url);
      const plan = check(
        await runCli(['plan', '--config', config, '--json'], { rss: true }),
        'dirsync plan',
      );
      const planCalls = await takeRequests(mock.url);
      const planJson = JSON.parse(plan.stdout) as PlanJson;
      const bare = await directoryReadChild(slapd);
      const apply = check(await runCli(['apply', '--config', config, '--json']), 'dirsync apply');
      const applyCalls = await takeRequests(mock.url);
      firstRuns.push({
        planRssMiB: mib(plan.maxRssKiB),
        planMs: plan.ms,
        planCalls,
        directoryReadRssMiB: mib(bare.maxRssKiB),
        applyMs: apply.ms,
        applyCalls,
        actions: planJson.summary.actions,
        minimum: minimumCalls(planJson, planCalls.detailReads, 2),
      });
    }

    // Converge: apply until a plan is empty.
    let convergeApplies = 1; // the last first apply
    for (;;) {
      const plan = check(await runCli(['plan', '--config', config, '--json']), 'dirsync plan');
      if ((JSON.parse(plan.stdout) as PlanJson).actions.length === 0) break;
      if (convergeApplies >= 5) throw new Error('no empty plan after 5 applies');
      check(await runCli(['apply', '--config', config]), 'dirsync apply');
      convergeApplies++;
    }
    await takeRequests(mock.url);

    // Item 5: quiet runs, each beside ldapsearch + curl of the same data.
    const quietRuns: QuietRun[] = [];
    const quietPlanRss: number[] = [];
    for (let r = 0; r < runs; r++) {
      const ldap = await ldapsearch(slapd, undefined);
      const curlMs = await curlListings(mock.url);
      await takeRequests(mock.url);
      const apply = check(
        await runCli(['apply', '--config', config, '--json'], {
          rss: true,
          env: { LOG_LEVEL: 'info' },
        }),
        'quiet dirsync apply',
      );
      const calls = await takeRequests(mock.url);
      quietRuns.push({
        applyMs: apply.ms,
        applyRssMiB: mib(apply.maxRssKiB),
        calls,
        directoryReadMs: loggedReadMs(apply.stderr),
        ldapsearchMs: ldap.ms,
        curlMs,
      });
      const plan = check(
        await runCli(['plan', '--config', config, '--json'], { rss: true }),
        'quiet dirsync plan',
      );
      quietPlanRss.push(mib(plan.maxRssKiB));
      await takeRequests(mock.url);
    }

    const clientMs = stats(orgRuns.map((o) => o.clientMs));
    const curlMs = stats(orgRuns.map((o) => o.curlMs));
    return {
      users,
      organizationUsers,
      setupMs,
      orgRead: {
        runs: orgRuns,
        clientMs,
        curlMs,
        parseMs: stats(orgRuns.map((o) => o.parseMs)),
        ratio: clientMs.median / curlMs.median,
      },
      firstRuns,
      first: {
        planRssMiB: stats(firstRuns.map((f) => f.planRssMiB)),
        directoryReadRssMiB: stats(firstRuns.map((f) => f.directoryReadRssMiB)),
        planMs: stats(firstRuns.map((f) => f.planMs)),
        applyMs: stats(firstRuns.map((f) => f.applyMs)),
        calls: stats(firstRuns.map((f) => f.applyCalls.total)),
        minimum: stats(firstRuns.map((f) => f.minimum)),
      },
      convergeApplies,
      quietRuns,
      quiet: {
        applyMs: stats(quietRuns.map((q) => q.applyMs)),
        applyRssMiB: stats(quietRuns.map((q) => q.applyRssMiB)),
        directoryReadMs: stats(quietRuns.map((q) => q.directoryReadMs)),
        ldapsearchMs: stats(quietRuns.map((q) => q.ldapsearchMs)),
        curlMs: stats(quietRuns.map((q) => q.curlMs)),
        baselineMs: stats(quietRuns.map((q) => q.ldapsearchMs + q.curlMs)),
      },
      quietPlanRssMiB: stats(quietPlanRss),
    };
  } finally {
    await mock.stop();
    await slapd.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

export function printSync(r: SyncBenchResult): void {
  console.log(
    `whole runs of the built CLI: slapd with ${r.users} users, the mock with ${r.organizationUsers} (5% drift); set-up ${(r.setupMs / 1000).toFixed(1)} s`,
  );
  console.log('\n  organization read (item 2): both listings, client vs curl');
  console.log(
    `    client ${fmt(r.orgRead.clientMs, 'ms')} | curl ${fmt(r.orgRead.curlMs, 'ms')} | ${r.orgRead.ratio.toFixed(2)}x, target ≤ ${ORG_READ_TARGET}x ${r.orgRead.ratio <= ORG_READ_TARGET ? 'met' : 'MISSED'}`,
  );
  console.log(
    `    fetch + JSON.parse alone (no validation, no mapping) ${fmt(r.orgRead.parseMs, 'ms')}: ${(r.orgRead.parseMs.median / r.orgRead.curlMs.median).toFixed(2)}x curl`,
  );
  r.orgRead.runs.forEach((o, i) =>
    console.log(
      `      ${i + 1}: client ${o.clientMs.toFixed(0)} ms, curl ${o.curlMs.toFixed(0)} ms, fetch + JSON.parse ${o.parseMs.toFixed(0)} ms`,
    ),
  );

  console.log('\n  first run, no state record (items 3 and 6)');
  const f = r.first;
  console.log(
    `    dirsync plan: peak RSS ${fmt(f.planRssMiB, 'MiB')} (target < 400 MB ${f.planRssMiB.max * 1.048576 < 400 ? 'met' : 'MISSED'}); bare directory read ${fmt(f.directoryReadRssMiB, 'MiB')}; wall ${fmt(f.planMs, 'ms')}`,
  );
  console.log(
    `    dirsync apply: ${fmt(f.calls, 'calls')} against a minimum of ${fmt(f.minimum, 'calls')}; wall ${fmt(f.applyMs, 'ms')}`,
  );
  r.firstRuns.forEach((run, i) =>
    console.log(
      `      ${i + 1}: plan RSS ${run.planRssMiB.toFixed(0)} MiB (read alone ${run.directoryReadRssMiB.toFixed(0)}), plan ${run.planMs.toFixed(0)} ms, ${run.planCalls.total} calls; ` +
        `apply ${run.applyMs.toFixed(0)} ms, ${run.applyCalls.total} calls = ${run.applyCalls.listings} listings + ${run.applyCalls.detailReads} detail reads + ${run.applyCalls.writes} writes ` +
        `${JSON.stringify(run.applyCalls.byEndpoint)}; minimum ${run.minimum}; actions ${JSON.stringify(run.actions)}`,
    ),
  );

  console.log(
    `\n  quiet run (item 5), after ${r.convergeApplies} apply run(s) converged: dirsync apply vs ldapsearch + curl of the same data`,
  );
  const q = r.quiet;
  const exact = r.quietRuns.every(
    (x) => x.calls.listings === 2 && x.calls.detailReads === 0 && x.calls.writes === 0,
  );
  console.log(
    `    calls: ${exact ? 'exactly 2 listings, 0 detail reads, 0 writes in every run (met)' : 'NOT 2/0/0 (MISSED)'}`,
  );
  console.log(
    `    dirsync apply ${fmt(q.applyMs, 'ms')} (its directory read ${fmt(q.directoryReadMs, 'ms')}); ldapsearch + curl ${fmt(q.baselineMs, 'ms')}; ${(q.applyMs.median / q.baselineMs.median).toFixed(2)}x`,
  );
  console.log(
    `    peak RSS: quiet apply ${fmt(q.applyRssMiB, 'MiB')}, quiet plan ${fmt(r.quietPlanRssMiB, 'MiB')}`,
  );
  r.quietRuns.forEach((x, i) =>
    console.log(
      `      ${i + 1}: apply ${x.applyMs.toFixed(0)} ms (read ${x.directoryReadMs.toFixed(0)}), ${x.applyRssMiB.toFixed(0)} MiB, ${JSON.stringify(x.calls.byEndpoint)}; ldapsearch ${x.ldapsearchMs.toFixed(0)} ms + curl ${x.curlMs.toFixed(0)} ms`,
    ),
  );
}

if (import.meta.filename === process.argv[1]) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { runs: { type: 'string', default: '3' }, 'cpu-prof': { type: 'boolean' } },
  });
  const result = await benchSync(Number(positionals[0] ?? 100_000), Number(values.runs), {
    cpuProf: values['cpu-prof'] === true,
  });
  printSync(result);
  if (process.env.DIRSYNC_BENCH_JSON === '1') console.log(`JSON ${JSON.stringify(result)}`);
}
