/**
 * Directory read: dirsync's LDAP reader against `ldapsearch -E pr=1000/noprompt` over the same
 * entries and attributes, from one slapd loaded with N users and 2,000 nested groups. The two
 * alternate run by run in one process run, so their ratio holds on a noisy machine.
 * Run: `npx tsx bench/directory-read.ts [users] [--cpu-prof]` (default 100000; needs slapd,
 * ldap-utils, and `npm run build`: the reader runs from dist/ as dirsync does). `--cpu-prof` adds one profiled read, written under bench/.work/profiles.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openLdap } from '../src/directory/flavors.js';
import { groupAttributes, userAttributes } from '../src/directory/ldap/source.js';
import { startSlapd, type SlapdServer } from '../test/support/slapd.js';
import { ROOT, WORK, fmt, stats, type Stats } from './support.js';

export const SUFFIX = 'dc=example,dc=com';
export const PEOPLE = `ou=People,${SUFFIX}`;
export const GROUPS = `ou=Groups,${SUFFIX}`;
export const PAGE_SIZE = 1000;
const TARGET_RATIO = 1.5;

/** Nesting levels, leaves first: each group of a level holds `per` groups of the level below. */
const LEVELS = [
  { name: 'leaf', count: 1800, per: 0 },
  { name: 'dept', count: 150, per: 12 },
  { name: 'division', count: 30, per: 5 },
  { name: 'region', count: 10, per: 3 },
  { name: 'top', count: 5, per: 2 },
] as const;
/** Large flat groups (past AD's 1,500-value range), capped at the user count. */
const BIG_GROUPS = [5_000, 8_000, 12_000, 16_000, 20_000];
/** Every user is in this many leaf groups. */
const LEAVES_PER_USER = 3;
/** One user in this many is locked (ppolicy pwdAccountLockedTime). */
const LOCKED_EVERY = 100;

export interface DirectoryDataset {
  ldifFile: string;
  users: number;
  groups: number;
  lockedUsers: number;
  /** Direct member values over all groups. */
  memberValues: number;
  groupsOver1500: number;
  /** Sum over users of their effective groups (nesting and the cycle resolved). */
  expectedMemberships: number;
  generateMs: number;
}

const pad = (i: number, width: number): string => String(i).padStart(width, '0');
const userDn = (i: number): string => `uid=user${pad(i, 6)},${PEOPLE}`;

/**
 * Writes the LDIF and computes what a correct reader must find. Groups are groupOfNames:
 * leaves of about 170 users, four levels of groups of groups above them, five big flat groups,
 * and a cycle (big-0 and top-0 contain each other).
 */
export function generateDirectory(users: number): DirectoryDataset {
  const started = performance.now();
  const out: string[] = [];
  for (const ou of ['People', 'Groups'])
    out.push(`dn: ou=${ou},${SUFFIX}\nobjectClass: organizationalUnit\nou: ${ou}\n`);
  let lockedUsers = 0;
  for (let i = 0; i < users; i++) {
    const id = pad(i, 6);
    const lines = [
      `dn: ${userDn(i)}`,
      'objectClass: inetOrgPerson',
      `uid: user${id}`,
      `cn: First${id} Last${id}`,
      `givenName: First${id}`,
      `sn: Last${id}`,
      `mail: user${id}@example.com`,
    ];
    if (i % 4 === 0) lines.push(`employeeNumber: ${1_000_000 + i}`);
    if (i % LOCKED_EVERY === 7) {
      lines.push('pwdAccountLockedTime: 000001010000Z');
      lockedUsers++;
    }
    out.push(`${lines.join('\n')}\n`);
  }

  // The graph, by group name: member users (indices) and member groups (names).
  const userMembers = new Map<string, number[]>();
  const groupMembers = new Map<string, string[]>();
  const name = (level: number, i: number): string => `${LEVELS[level]!.name}-${pad(i, 4)}`;
  const leaves = LEVELS[0].count;
  for (let j = 0; j < leaves; j++) userMembers.set(name(0, j), []);
  const stride = leaves / LEAVES_PER_USER;
  for (let i = 0; i < users; i++)
    for (let k = 0; k < LEAVES_PER_USER; k++)
      userMembers.get(name(0, (i + k * stride) % leaves))!.push(i);
  for (const list of userMembers.values()) if (list.length === 0) list.push(0);
  for (let level = 1; level < LEVELS.length; level++) {
    const { count, per } = LEVELS[level]!;
    for (let j = 0; j < count; j++)
      groupMembers.set(
        name(level, j),
        Array.from({ length: per }, (_, k) => name(level - 1, j * per + k)),
      );
  }
  BIG_GROUPS.forEach((size, b) => {
    const n = Math.min(size, users);
    const offset = (b * 7919) % users;
    userMembers.set(
      `big-${b}`,
      Array.from({ length: n }, (_, k) => (offset + k) % users),
    );
  });
  const top0 = name(LEVELS.length - 1, 0);
  groupMembers.set('big-0', [top0]);
  groupMembers.get(top0)!.push('big-0');

  const groupNames = [...new Set([...userMembers.keys(), ...groupMembers.keys()])];
  let memberValues = 0;
  let groupsOver1500 = 0;
  for (const cn of groupNames) {
    const members = [
      ...(userMembers.get(cn) ?? []).map(userDn),
      ...(groupMembers.get(cn) ?? []).map((g) => `cn=${g},${GROUPS}`),
    ];
    memberValues += members.length;
    if (members.length > 1500) groupsOver1500++;
    out.push(
      `dn: cn=${cn},${GROUPS}\nobjectClass: groupOfNames\ncn: ${cn}\n${members.map((m) => `member: ${m}`).join('\n')}\n`,
    );
  }

  // Expected effective groups: each group's ancestors (itself included), unioned per user.
  const parents = new Map<string, string[]>();
  for (const [group, children] of groupMembers)
    for (const child of children) parents.set(child, [...(parents.get(child) ?? []), group]);
  const ancestors = new Map<string, Set<string>>();
  for (const cn of groupNames) {
    const seen = new Set([cn]);
    const queue = [cn];
    for (let g = queue.pop(); g !== undefined; g = queue.pop())
      for (const p of parents.get(g) ?? [])
        if (!seen.has(p)) {
          seen.add(p);
          queue.push(p);
        }
    ancestors.set(cn, seen);
  }
  const direct: string[][] = Array.from({ length: users }, () => []);
  for (const [cn, members] of userMembers) for (const i of members) direct[i]!.push(cn);
  let expectedMemberships = 0;
  for (const groups of direct) {
    const all = new Set<string>();
    for (const g of groups) for (const a of ancestors.get(g)!) all.add(a);
    expectedMemberships += all.size;
  }

  mkdirSync(WORK, { recursive: true });
  const ldifFile = join(WORK, `directory-${users}.ldif`);
  writeFileSync(ldifFile, out.join('\n'));
  return {
    ldifFile,
    users,
    groups: groupNames.length,
    lockedUsers,
    memberValues,
    groupsOver1500,
    expectedMemberships,
    generateMs: performance.now() - started,
  };
}

/** The attributes dirsync's OpenLDAP reader asks for: the baseline asks for the same. */
export function readerAttributes(): { users: string[]; groups: string[] } {
  return { users: userAttributes(openLdap), groups: groupAttributes(openLdap, undefined) };
}

/** What bench/directory-read-child.mjs is given. */
export interface DirectoryReadChildInput {
  url: string;
  bindDn: string;
  usersBase: string;
  groupsBase: string;
  pageSize: number;
}

/** What bench/directory-read-child.mjs prints. */
export interface DirectoryReadChildResult {
  /** LdapSource.read, from the call to the snapshot. */
  readMs: number;
  /** From process start (performance.timeOrigin) to the end of the read: start-up included. */
  sinceStartMs: number;
  /** Entries the users search returned (stats.usersPerBase). */
  userEntries: number;
  /** Users in the snapshot (entries with an email). */
  users: number;
  /** Entries the groups search returned (stats.groupsPerBase). */
  groupEntries: number;
  /** Groups in the snapshot. */
  groups: number;
  disabled: number;
  /** Sum over users of their effective (nested) groups. */
  memberships: number;
  /** process.resourceUsage().maxRSS: peak resident set, KiB. */
  maxRssKiB: number;
}

interface Exited {
  ms: number;
  stdout: string;
}

/** Runs a process to its end; wall time from spawn to exit, as seen from here. */
function run(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdoutTo?: number } = {},
): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(file, args, {
      stdio: ['ignore', options.stdoutTo ?? 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr
      ?.setEncoding('utf8')
      .on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve({ ms, stdout });
      else reject(new Error(`${file} ${args.join(' ')} exited with ${String(code)}: ${stderr}`));
    });
  });
}

function ldapsearchArgs(server: SlapdServer, base: string, filter: string, attrs: string[]) {
  return [
    '-x',
    '-LLL',
    '-H',
    server.url,
    '-D',
    server.bindDn,
    '-w',
    server.bindPassword,
    '-E',
    `pr=${PAGE_SIZE}/noprompt`,
    '-b',
    base,
    filter,
    ...attrs,
  ];
}

/** Both ldapsearch runs (users, then groups) back to back; stdout to `stdoutTo` or captured. */
export async function ldapsearch(
  server: SlapdServer,
  stdoutTo: number | undefined,
): Promise<{ ms: number; userEntries: number; groupEntries: number }> {
  const attrs = readerAttributes();
  const count = (text: string): number => text.match(/^dn: /gm)?.length ?? 0;
  const users = await run(
    'ldapsearch',
    ldapsearchArgs(server, PEOPLE, openLdap.userFilter, attrs.users),
    stdoutTo === undefined ? {} : { stdoutTo },
  );
  const groups = await run(
    'ldapsearch',
    ldapsearchArgs(server, GROUPS, openLdap.groupFilter, attrs.groups),
    stdoutTo === undefined ? {} : { stdoutTo },
  );
  return {
    ms: users.ms + groups.ms,
    userEntries: count(users.stdout),
    groupEntries: count(groups.stdout),
  };
}

export async function dirsync(
  server: SlapdServer,
  nodeArgs: string[] = [],
): Promise<DirectoryReadChildResult & { wallMs: number }> {
  const input: DirectoryReadChildInput = {
    url: server.url,
    bindDn: server.bindDn,
    usersBase: PEOPLE,
    groupsBase: GROUPS,
    pageSize: PAGE_SIZE,
  };
  const child = await run(
    process.execPath,
    [...nodeArgs, join(ROOT, 'bench/directory-read-child.mjs'), JSON.stringify(input)],
    { env: { ...process.env, DIRSYNC_BENCH_BIND_PASSWORD: server.bindPassword } },
  );
  const result = JSON.parse(child.stdout) as DirectoryReadChildResult;
  return { ...result, wallMs: child.ms };
}

export interface DirectoryReadResult {
  users: number;
  groups: number;
  memberValues: number;
  groupsOver1500: number;
  generateMs: number;
  slapdStartMs: number;
  userAttributes: string[];
  groupAttributes: string[];
  /** ldapsearch users + groups, spawn to exit. */
  ldapsearchMs: Stats;
  /** dirsync child, spawn to exit (node start-up and module loading included). */
  dirsyncWallMs: Stats;
  /** LdapSource.read inside the child. */
  dirsyncReadMs: Stats;
  /** Ratio of medians, wall against wall. */
  ratio: number;
  /** Ratio of medians, the read inside the child against ldapsearch. */
  readRatio: number;
  maxRssMiB: Stats;
  /** Each run as measured, in the order it ran. */
  runs: { ldapsearchMs: number; dirsyncWallMs: number; dirsyncReadMs: number; maxRssKiB: number }[];
  /** What was checked: entries on both sides, groups, locked users, nested memberships. */
  checks: string[];
}

/**
 * `profileDir`: after the timed runs, one more read under `node --cpu-prof`, its profile written
 * there (open it in Chrome DevTools or speedscope).
 */
export async function benchDirectoryRead(
  users = 100_000,
  runs = 5,
  profileDir?: string,
): Promise<DirectoryReadResult> {
  const data = generateDirectory(users);
  const t0 = performance.now();
  const server = await startSlapd({
    ldif: readFileSync(data.ldifFile, 'utf8'),
    suffix: SUFFIX,
    ppolicy: true,
  });
  const slapdStartMs = performance.now() - t0;
  const devNull = openSync('/dev/null', 'w');
  try {
    // Warm-up, untimed: fills slapd's cache and the OS page cache, and checks that both
    // sides read the same entries and that the reader's result is right.
    const seen = await ldapsearch(server, undefined);
    const read = await dirsync(server);
    const checks: string[] = [];
    const check = (what: string, actual: number, expected: number): void => {
      if (actual !== expected)
        throw new Error(`directory read bench: ${what} is ${actual}, expected ${expected}`);
      checks.push(`${what}: ${actual}`);
    };
    check('ldapsearch user entries', seen.userEntries, users);
    check('dirsync user entries', read.userEntries, seen.userEntries);
    check('dirsync users (with mail)', read.users, users);
    check('ldapsearch group entries', seen.groupEntries, data.groups);
    check('dirsync group entries', read.groupEntries, seen.groupEntries);
    check('dirsync groups in snapshot', read.groups, data.groups);
    check('dirsync locked users', read.disabled, data.lockedUsers);
    check('dirsync effective memberships', read.memberships, data.expectedMemberships);

    const measured: DirectoryReadResult['runs'] = [];
    for (let i = 0; i < runs; i++) {
      // Alternate which side goes first, so neither always follows the other.
      let base: Awaited<ReturnType<typeof ldapsearch>>;
      let mine: Awaited<ReturnType<typeof dirsync>>;
      if (i % 2 === 0) {
        base = await ldapsearch(server, devNull);
        mine = await dirsync(server);
      } else {
        mine = await dirsync(server);
        base = await ldapsearch(server, devNull);
      }
      check(`run ${i + 1} dirsync user entries`, mine.userEntries, users);
      measured.push({
        ldapsearchMs: base.ms,
        dirsyncWallMs: mine.wallMs,
        dirsyncReadMs: mine.readMs,
        maxRssKiB: mine.maxRssKiB,
      });
    }
    if (profileDir !== undefined) {
      mkdirSync(profileDir, { recursive: true });
      await dirsync(server, ['--cpu-prof', '--cpu-prof-dir', profileDir]);
    }
    const ldapsearchMs = stats(measured.map((r) => r.ldapsearchMs));
    const dirsyncWallMs = stats(measured.map((r) => r.dirsyncWallMs));
    const dirsyncReadMs = stats(measured.map((r) => r.dirsyncReadMs));
    const attrs = readerAttributes();
    return {
      users,
      groups: data.groups,
      memberValues: data.memberValues,
      groupsOver1500: data.groupsOver1500,
      generateMs: data.generateMs,
      slapdStartMs,
      userAttributes: attrs.users,
      groupAttributes: attrs.groups,
      ldapsearchMs,
      dirsyncWallMs,
      dirsyncReadMs,
      ratio: dirsyncWallMs.median / ldapsearchMs.median,
      readRatio: dirsyncReadMs.median / ldapsearchMs.median,
      maxRssMiB: stats(measured.map((r) => r.maxRssKiB / 1024)),
      runs: measured,
      checks,
    };
  } finally {
    closeSync(devNull);
    await server.stop();
  }
}

export function printDirectoryRead(r: DirectoryReadResult): void {
  const range = (s: Stats): string =>
    `${s.median.toFixed(0)} ms (${s.min.toFixed(0)}–${s.max.toFixed(0)})`;
  console.log(
    `directory read, slapd: ${r.users} users, ${r.groups} groups (${r.memberValues} member values, ${r.groupsOver1500} groups over 1,500), page size ${PAGE_SIZE}`,
  );
  console.log(
    `  LDIF generated in ${r.generateMs.toFixed(0)} ms, slapd loaded and started in ${r.slapdStartMs.toFixed(0)} ms`,
  );
  console.log(`  user attributes:  ${r.userAttributes.join(' ')}`);
  console.log(`  group attributes: ${r.groupAttributes.join(' ')}`);
  console.log(`  checked: ${r.checks.filter((c) => !c.startsWith('run ')).join('; ')}`);
  console.table([
    {
      users: r.users,
      groups: r.groups,
      'ldapsearch (median, min–max)': range(r.ldapsearchMs),
      'dirsync (median, min–max)': range(r.dirsyncWallMs),
      ratio: `${r.ratio.toFixed(2)}x`,
      target: `≤ ${TARGET_RATIO}x ${r.ratio <= TARGET_RATIO ? 'met' : 'MISSED'}`,
      'dirsync peak RSS': `${r.maxRssMiB.median.toFixed(0)} MiB`,
    },
  ]);
  console.log(
    `  dirsync wall is spawn to exit (node start-up included); LdapSource.read alone: ${fmt(r.dirsyncReadMs, 'ms')}, ${r.readRatio.toFixed(2)}x ldapsearch`,
  );
  console.log('  runs (ldapsearch / dirsync wall / dirsync read ms, peak RSS MiB):');
  r.runs.forEach((run, i) =>
    console.log(
      `    ${i + 1}: ${run.ldapsearchMs.toFixed(0)} / ${run.dirsyncWallMs.toFixed(0)} / ${run.dirsyncReadMs.toFixed(0)}, ${(run.maxRssKiB / 1024).toFixed(0)}`,
    ),
  );
}

if (import.meta.filename === process.argv[1]) {
  const args = process.argv.slice(2);
  const users = Number(args.find((a) => /^\d+$/.test(a)) ?? 100_000);
  const profileDir = args.includes('--cpu-prof') ? join(WORK, 'profiles') : undefined;
  printDirectoryRead(await benchDirectoryRead(users, 5, profileDir));
  if (profileDir !== undefined)
    console.log(`  CPU profile of one more read written to ${profileDir}`);
}
