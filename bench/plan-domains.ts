/**
 * Scope at scale: the pure planner on a converged organization of N users spread over D email
 * domains (issue 13: 11,000 users and 7,740 domains took ~15 s, 12 s of it matching the scope
 * user by user against every domain). Most entries are exact domains, some `*.` wildcards, so
 * both the hash lookup and the suffix walk are measured. A converged plan has no action.
 *
 *   npx tsx bench/plan-domains.ts [users] [domains] [--runs 5] [--naive]
 *
 * `--naive` also times the old per-user scan of the domain list (the same rules, as a
 * reference); at full size it takes seconds per run.
 */
import { parseArgs } from 'node:util';
import { asEmailId, asUserId } from '../src/api/ids.js';
import { RulesConfig } from '../src/config/schema.js';
import type { DirectoryUser } from '../src/directory/model.js';
import type { OrgUser } from '../src/reconcile/model.js';
import { detailReadsNeeded, plan, type PlanInput } from '../src/reconcile/plan.js';
import { compileScope } from '../src/reconcile/scope.js';
import type { StateRecord } from '../src/state/model.js';
import { fmt, stats, type Stats } from './support.js';

/** One domain entry in this many is a `*.` wildcard, its users one label below it. */
const WILDCARD_EVERY = 50;

const pad = (i: number): string => String(i).padStart(6, '0');

/** The domain entries and, for user `i`, the domain of its address. */
function domainsOf(domains: number): { entries: string[]; addressDomain: (i: number) => string } {
  const entries = Array.from({ length: domains }, (_, d) =>
    d % WILDCARD_EVERY === 0 ? `*.w${d}.example.org` : `d${d}.example.com`,
  );
  return {
    entries,
    addressDomain: (i) => {
      const d = i % domains;
      return d % WILDCARD_EVERY === 0 ? `site${i % 7}.w${d}.example.org` : `d${d}.example.com`;
    },
  };
}

/** A converged organization of `users`, every one in scope, over `domains` domain entries. */
export function domainsPlanInput(users: number, domains: number): PlanInput {
  const now = new Date('2026-01-15T12:00:00.000Z');
  const verifiedAt = new Date(now.getTime() - 3_600_000).toISOString();
  const { entries, addressDomain } = domainsOf(domains);
  const rules = RulesConfig.parse({
    scope: { emailDomains: entries },
    removed: { action: 'suspend' },
    computerUsernames: 'manage',
  });
  const directory: DirectoryUser[] = [];
  const organization: OrgUser[] = [];
  const state: StateRecord = { version: 1, lastVerifyAt: verifiedAt, users: {} };
  for (let i = 0; i < users; i++) {
    const id = pad(i);
    const email = `user${id}@${addressDomain(i)}`;
    directory.push({
      id: `uid=user${id},ou=people,dc=example,dc=com`,
      dn: `uid=user${id},ou=People,dc=example,dc=com`,
      email,
      aliases: [],
      firstName: `First${id}`,
      lastName: `Last${id}`,
      logins: [`user${id}`],
      smartcards: [],
      groups: [],
      disabled: false,
      expired: false,
    });
    const emailId = 1000 + i;
    organization.push({
      emailId: asEmailId(emailId),
      userId: asUserId(5_000_000 + i),
      email,
      tag: 'USER',
      adStatus: 'ACTIVE',
    });
    state.users[String(emailId)] = {
      email,
      rank: 'REGULAR',
      computerUsernames: [`user${id}`],
      verifiedAt,
    };
  }
  return { directory, organization, details: new Map(), state, rules, protectedUsers: [], now };
}

/** The scope test before issue 13: every domain entry, per address. Exact entries only. */
function naiveInScope(email: string, scope: RulesConfig['scope']): boolean {
  const lower = email.trim().toLowerCase();
  if (scope.exclude.some((x) => x.trim().toLowerCase() === lower)) return false;
  const domain = lower.slice(lower.lastIndexOf('@') + 1);
  return scope.emailDomains.some((d) => d.trim().toLowerCase() === domain);
}

export interface DomainsBenchResult {
  users: number;
  domains: number;
  managedUsers: number;
  actions: number;
  detailReads: number;
  planMs: Stats;
  detailReadsNeededMs: Stats;
  /** Compiling the scope alone (part of each plan() above). */
  compileMs: Stats;
  /** The old per-user scan over the organization, when asked for (`--naive`). */
  naiveScanMs?: Stats;
}

export function benchDomains(
  users = 11_000,
  domains = 7_740,
  runs = 5,
  naive = false,
): DomainsBenchResult {
  const input = domainsPlanInput(users, domains);
  plan(input); // one untimed round so the timed ones measure optimized code
  const planMs: number[] = [];
  const detailMs: number[] = [];
  const compileMs: number[] = [];
  const naiveMs: number[] = [];
  let result = plan(input);
  let detailReads = 0;
  for (let r = 0; r < runs; r++) {
    let t = performance.now();
    compileScope(input.rules.scope);
    compileMs.push(performance.now() - t);
    t = performance.now();
    result = plan(input);
    planMs.push(performance.now() - t);
    t = performance.now();
    detailReads = detailReadsNeeded(input, { sweep: false }).length;
    detailMs.push(performance.now() - t);
    if (naive) {
      t = performance.now();
      let n = 0;
      for (const o of input.organization) if (naiveInScope(o.email, input.rules.scope)) n++;
      naiveMs.push(performance.now() - t);
      if (n < 0) console.log(n); // keeps the loop from being optimized away
    }
  }
  return {
    users,
    domains,
    managedUsers: result.summary.managedUsers,
    actions: result.actions.length,
    detailReads,
    planMs: stats(planMs),
    detailReadsNeededMs: stats(detailMs),
    compileMs: stats(compileMs),
    ...(naive ? { naiveScanMs: stats(naiveMs) } : {}),
  };
}

export function printDomainsBench(r: DomainsBenchResult): void {
  console.log(
    `scope at scale: converged plan of ${r.users} users over ${r.domains} email domain entries (1 in ${WILDCARD_EVERY} a *. wildcard)`,
  );
  console.log(
    `  in scope: ${r.managedUsers}; actions: ${r.actions}; detail reads needed: ${r.detailReads}`,
  );
  console.table([
    {
      'plan()': fmt(r.planMs, 'ms'),
      'detailReadsNeeded()': fmt(r.detailReadsNeededMs, 'ms'),
      'compileScope()': fmt(r.compileMs, 'ms', 1),
      ...(r.naiveScanMs === undefined ? {} : { 'old per-user scan': fmt(r.naiveScanMs, 'ms') }),
    },
  ]);
}

if (import.meta.filename === process.argv[1]) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { runs: { type: 'string', default: '5' }, naive: { type: 'boolean', default: false } },
  });
  const result = benchDomains(
    Number(positionals[0] ?? 11_000),
    Number(positionals[1] ?? 7_740),
    Number(values.runs),
    values.naive,
  );
  printDomainsBench(result);
  if (process.env.DIRSYNC_BENCH_JSON === '1') console.log(`JSON ${JSON.stringify(result)}`);
}
