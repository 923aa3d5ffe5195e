import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { UsersApi } from '../api/client.js';
import { asEmailId } from '../api/ids.js';
import { durationMs, type Config } from '../config/schema.js';
import type { DirectorySource } from '../directory/model.js';
import { SafetyError } from '../errors.js';
import { createSilentLogger, type Logger } from '../log.js';
import type { StateStore } from '../state/store.js';
import { actionKey, applyPlan, type ApplyReport } from './apply.js';
import type { OrgDetails, OrgUser, Plan } from './model.js';
import { matchUsers } from './match.js';
import { detailReadsNeeded, plan as makePlan, sweepDue } from './plan.js';
import { checkRails, type RailTrip } from './safety.js';

/** Told what a run sees as it goes, for metrics. */
export interface RunObserver {
  apiRetry?(status: number | undefined): void;
  directoryUsers?(count: number): void;
  organizationUsers?(count: number): void;
}

/** Everything a run touches, injected. */
export interface RunDeps {
  config: Config;
  source: DirectorySource;
  api: UsersApi;
  store: StateStore;
  logger?: Logger;
  clock?: () => Date;
  /** A progress line for long reads (set only when stderr is a terminal). */
  progress?: (message: string) => void;
  observer?: RunObserver;
  /**
   * Stops the run: SIGTERM, the daemon's runTimeout or shutdown, or a run lock taken over. Reads
   * are cut at once, no new action starts; what landed is journaled.
   */
  signal?: AbortSignal;
}

export interface PlannedRun {
  plan: Plan;
  trips: RailTrip[];
  organization: OrgUser[];
  details: Map<number, OrgDetails>;
  sweep: boolean;
  directoryUsers: number;
}

/** The groups the rules name: their nested membership is what the read must resolve. */
export function groupsOfInterest(config: Config): string[] {
  const r = config.rules;
  return [
    ...new Set([
      ...r.ranks.SUPER,
      ...r.ranks.ADMIN,
      ...r.promoteGuests.groups,
      ...r.suspend.groups,
    ]),
  ];
}

export function protectedUsers(config: Config): string[] {
  const list = [...config.safety.protectedUsers];
  if (config.api.tokenOwner !== undefined) list.push(config.api.tokenOwner);
  return list;
}

/** Both listings (users and guests), as the planner sees them. */
export async function readOrganization(api: UsersApi): Promise<OrgUser[]> {
  const listed = await api.listOrganization();
  return listed.map((u) => ({
    emailId: u.emailId,
    userId: u.userId,
    email: u.email,
    tag: u.tag,
    adStatus: u.adStatus,
  }));
}

/** read directory -> read organization -> detail reads -> plan -> rails. Writes nothing. */
export async function planRun(deps: RunDeps): Promise<PlannedRun> {
  const { config, source, api, store } = deps;
  const logger = deps.logger ?? createSilentLogger();
  const now = (deps.clock ?? (() => new Date()))();

  const progress = deps.progress ?? (() => undefined);
  progress('reading the directory');
  const snapshot = await source.read({ groupsOfInterest: groupsOfInterest(config) });
  deps.observer?.directoryUsers?.(snapshot.users.length);
  progress('reading the organization');
  logger.info('directory read', {
    users: snapshot.users.length,
    source: snapshot.stats.source,
    ms: Math.round(snapshot.stats.durationMs),
  });

  const organization = await readOrganization(api);
  deps.observer?.organizationUsers?.(organization.length);
  logger.info('organization read', { users: organization.length });

  const base = {
    directory: snapshot.users,
    organization,
    state: store.state,
    rules: config.rules,
    protectedUsers: protectedUsers(config),
    now,
    match: matchUsers(snapshot.users, organization),
  };
  const sweep = sweepDue(store.state, now, durationMs(config.verifyEvery));
  const ids = detailReadsNeeded(base, { sweep });
  const details = new Map<number, OrgDetails>();
  // A fixed pool of workers, not one promise per user: 100k pending reads held ~200 MiB.
  let next = 0;
  const workers = Math.max(1, Math.min(config.api.concurrency * 2, ids.length));
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = next++; i < ids.length; i = next++) {
        const id = ids[i]!;
        if (i % 100 === 0) progress(`reading user details: ${i} of ${ids.length}`);
        const d = await api.getUser(asEmailId(id));
        details.set(id, {
          computerUsernames: d.computerUsernames,
          smartcards: d.smartcards.map((c) => ({ number: c.number, label: c.label ?? '' })),
        });
      }
    }),
  );
  if (ids.length > 0) logger.info('user details read', { users: ids.length, sweep });

  progress('');
  const plan = makePlan({ ...base, details });
  const trips = checkRails(plan, {
    safety: config.safety,
    state: store.state,
    protectedUsers: protectedUsers(config),
  });
  return { plan, trips, organization, details, sweep, directoryUsers: snapshot.users.length };
}

const FIXED_RAIL_HINTS: Record<string, string> = {
  emptyRead:
    'check source.users.baseDns and source.users.filter: an empty read never leads to changes',
  maxSourceDropPercent:
    'check the directory and the bind account first; if it really shrank, raise safety.maxSourceDropPercent for one run',
  lastSuper:
    'keep at least one SUPER: fix rules.ranks.SUPER or the group membership in the directory',
  protectedUsers:
    'take the user out of safety.protectedUsers / api.tokenOwner, or fix the rules or the directory',
};

export function railError(trips: readonly RailTrip[]): SafetyError {
  const fixed = trips.filter((t) => !t.overridable);
  const hint =
    fixed.length > 0
      ? fixed.map((t) => FIXED_RAIL_HINTS[t.rail] ?? 'fix the directory or the rules').join('; ') +
        ' (--force does not override these)'
      : 'review the plan with `dirsync plan --out plan.json`, then apply exactly it with `dirsync apply --plan plan.json`, or rerun with --force; or raise the limits under safety: in the config';
  return new SafetyError(
    `safety rails refused the plan:\n${trips.map((t) => `  ${t.rail}: ${t.message}`).join('\n')}`,
    { hint, rails: trips.map((t) => t.rail) },
  );
}

export interface RunReport {
  runId: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  mode: 'apply' | 'apply-plan';
  rails: { checked: string[]; tripped: RailTrip[]; forced: boolean };
  summary: Plan['summary'];
  counts: ApplyReport['counts'];
  failures: { kind: string; email: string; error: string }[];
  skipped: { kind: string; email: string; reason: string }[];
}

/** Records what the read established, before any action: timers, details read, read size. */
export function recordReadState(store: StateStore, planned: PlannedRun, now: Date): void {
  const at = now.toISOString();
  const emails = new Map(planned.organization.map((u) => [u.emailId, u.email]));
  const emailOf = (id: number): string =>
    emails.get(id) ?? store.state.users[String(id)]?.email ?? '';
  for (const [id, d] of planned.details) {
    store.record({
      type: 'user',
      emailId: id,
      set: {
        email: emailOf(id),
        computerUsernames: [...d.computerUsernames].sort(),
        smartcards: d.smartcards.map((c) => c.number).sort(),
        verifiedAt: at,
      },
    });
  }
  for (const [id, since] of Object.entries(planned.plan.timers.started)) {
    store.record({
      type: 'user',
      emailId: Number(id),
      set: { email: emailOf(Number(id)), missingSince: since },
    });
  }
  for (const id of planned.plan.timers.cleared) {
    store.record({
      type: 'user',
      emailId: id,
      set: { email: emailOf(id), missingSince: undefined },
    });
  }
  // A user listed as not suspended was never left suspended by dirsync (a failed suspend, or one
  // lifted by hand): drop the flag, or a later manual suspension would be lifted as dirsync's.
  for (const u of planned.organization) {
    if (
      u.adStatus !== 'SUSPENDED' &&
      store.state.users[String(u.emailId)]?.suspendedByDirsync === true
    ) {
      store.record({
        type: 'user',
        emailId: u.emailId,
        set: { email: u.email, suspendedByDirsync: undefined },
      });
    }
  }
  if (planned.sweep) store.record({ type: 'verified', at });
  store.record({ type: 'read', at, directoryUsers: planned.directoryUsers });
}

/** How many run reports are kept next to the state record. */
export const KEEP_REPORTS = 100;

export function writeReport(statePath: string, report: RunReport): string {
  const dir = join(dirname(statePath), 'reports');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `run-${report.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  // Keep the newest reports only: a daemon on */30 writes 48 a day.
  const old = readdirSync(dir)
    .filter((f) => f.startsWith('run-') && f.endsWith('.json'))
    .sort()
    .slice(0, -KEEP_REPORTS);
  for (const f of old) rmSync(join(dir, f), { force: true });
  return file;
}

export const RAILS = [
  'emptyRead',
  'maxSourceDropPercent',
  'protectedUsers',
  'maxDeletes',
  'maxDeletePercent',
  'maxSuspends',
  'maxRankChanges',
  'maxPrivilegedGrants',
  'lastSuper',
];

/**
 * One apply run: plan, judge, apply, journal, report. With `reviewed` (apply --plan), exactly
 * that plan is applied, skipping actions whose target changed; budgets were the reviewer's call.
 */
export async function applyRun(
  deps: RunDeps,
  options: {
    force?: boolean;
    reviewed?: Plan;
    runId: string;
    signal?: AbortSignal;
    onResult?: Parameters<typeof applyPlan>[1]['onResult'];
  },
): Promise<{ report: RunReport; reportFile: string; plan: Plan }> {
  const { config, api, store } = deps;
  const logger = deps.logger ?? createSilentLogger();
  const clock = deps.clock ?? (() => new Date());
  const started = clock();
  const planned = await planRun(deps);
  const invariantTrips = planned.trips.filter((t) => !t.overridable);
  let plan = planned.plan;
  let trips = planned.trips;
  if (options.reviewed !== undefined) {
    plan = options.reviewed;
    trips = checkRails(plan, {
      safety: config.safety,
      state: store.state,
      protectedUsers: protectedUsers(config),
    }).filter((t) => !t.overridable);
    // Today's read must be as trustworthy as the one the plan was made from.
    trips.push(
      ...invariantTrips.filter((t) => t.rail === 'emptyRead' || t.rail === 'maxSourceDropPercent'),
    );
  }
  const blocking = trips.filter((t) => !t.overridable || options.force !== true);
  if (blocking.length > 0) throw railError(blocking);
  if (trips.length > 0)
    logger.warn('safety rails overridden with --force', { rails: trips.map((t) => t.rail) });

  recordReadState(store, planned, started);
  const currentRanks = new Map(
    Object.entries(store.state.users).map(([id, u]) => [Number(id), u.rank]),
  );
  const result = await applyPlan(plan, {
    api,
    journal: store,
    logger,
    concurrency: config.api.concurrency,
    ...(options.reviewed === undefined
      ? {}
      : {
          currentOrganization: new Map(planned.organization.map((u) => [u.emailId, u])),
          currentRanks,
          currentlyWanted: new Set(planned.plan.actions.map(actionKey)),
        }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.onResult === undefined ? {} : { onResult: options.onResult }),
  });
  store.compact();
  const finished = clock();
  const report: RunReport = {
    runId: options.runId,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    mode: options.reviewed === undefined ? 'apply' : 'apply-plan',
    rails: { checked: RAILS, tripped: trips, forced: trips.length > 0 },
    summary: plan.summary,
    counts: result.counts,
    failures: result.results
      .filter((r) => r.outcome === 'failed')
      .map((r) => ({ kind: r.action.kind, email: r.action.email, error: r.error ?? '' })),
    skipped: result.results
      .filter((r) => r.outcome === 'skipped')
      .map((r) => ({ kind: r.action.kind, email: r.action.email, reason: r.error ?? '' })),
  };
  const reportFile = writeReport(store.path, report);
  return { report, reportFile, plan };
}
