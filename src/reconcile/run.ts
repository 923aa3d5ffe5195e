import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { UsersApi } from '../api/users-api.js';
import type { UserDetails } from '../api/schema.js';
import type { AuditEntry, AuditSink } from '../audit/audit-log.js';
import {
  actionEntry,
  failedRunEntry,
  heldEntry,
  refusedRunEntry,
  verifiedToggleEntry,
} from '../audit/entries.js';
import { durationMs, type Config } from '../config/schema.js';
import type { DirectorySnapshot, DirectorySource } from '../directory/model.js';
import { describeError, SafetyError, StoppedError } from '../errors.js';
import { createSilentLogger, type Logger } from '../log.js';
import type { OrganizationIdentity } from '../state/model.js';
import { checkOrganization, organizationIdentity } from '../state/organization.js';
import { plansFolder, reportsFolder } from '../state/folders.js';
import type { StateStore } from '../state/store.js';
import { actionKey, applyPlan, type ApplyReport } from './apply.js';
import type { OrgDetails, OrgUser, Plan } from './model.js';
import { matchUsers, type MatchResult } from './match.js';
import { detailReadsNeeded, plan as makePlan, sweepDue, type PlanInput } from './plan.js';
import {
  budgetKeysOf,
  checkRails,
  judge,
  railHint,
  RAILS,
  spentWithin,
  type HeldAction,
  type RailContext,
  type RailName,
  type RailTrip,
  type Verdict,
} from './safety.js';
import type { StateRecord, UserState } from '../state/model.js';
import { checkPlanApi, checkPlanOrganization, planOrigin, type SavedPlan } from './saved-plan.js';
import { resolvePendingToggles, settleWaitMs, type ToggleVerdict } from './pending-toggles.js';

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
  /** The audit trail: every action's outcome, and refused or failed runs. */
  audit?: AuditSink;
}

export interface PlannedRun {
  plan: Plan;
  trips: RailTrip[];
  /** The rails' verdict: what stops the run, what applies, what is held. */
  verdict: Verdict;
  organization: OrgUser[];
  /** What the state record keeps to know this organization again (state/organization.ts). */
  identity: OrganizationIdentity;
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
  // Never from a cache on the way: plans and toggle checks are made on this read.
  const listed = await api.listOrganization({ fresh: true });
  return listed.map((u) => ({
    emailId: u.emailId,
    userId: u.userId,
    email: u.email,
    tag: u.tag,
    adStatus: u.adStatus,
  }));
}

/**
 * A run stopped (SIGTERM, runTimeout, shutdown, a lost lock) with actions left unsent is not a
 * success: its report says so, and `apply` exits 5.
 */
function stoppedBySignal(
  signal: AbortSignal | undefined,
  results: readonly { outcome: string }[],
): { stopped: { reason: string; hint: string; signal: string } } | Record<string, never> {
  if (signal?.aborted !== true) return {};
  const unsent = results.filter((r) => r.outcome === 'skipped').length;
  if (unsent === 0) return {};
  return {
    stopped: {
      reason: `run stopped (${stopReason(signal)}) before finishing: ${unsent} actions not sent`,
      hint: 'nothing to fix if it was asked for: what landed is journaled and the next run carries on; if runs keep timing out, raise schedule.runTimeout',
      signal: stopReason(signal),
    },
  };
}

/** Why a run was stopped, from its signal's reason. */
export function stopReason(signal: AbortSignal): string {
  return typeof signal.reason === 'string' ? signal.reason : 'stopped';
}

/**
 * `work`, unless the run is stopped first: then a StoppedError at once (a directory read that
 * cannot be cut goes on in the background, its result unused). A failure of `work` once the run
 * is stopped (a request cut short) is the stop, too.
 */
export async function untilStopped<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  phase: string,
): Promise<T> {
  if (signal === undefined) return work;
  const stopped = (cause?: unknown): StoppedError =>
    new StoppedError(
      `run stopped (${stopReason(signal)}) while ${phase}: nothing was applied`,
      stopReason(signal),
      {
        ...(cause === undefined ? {} : { cause }),
        hint: 'the next run starts over; if runs keep timing out, check the directory and the API, or raise schedule.runTimeout',
      },
    );
  if (signal.aborted) {
    work.catch(() => undefined);
    throw stopped();
  }
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        onAbort = () => reject(stopped());
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } catch (error) {
    if (error instanceof StoppedError) {
      work.catch(() => undefined);
      throw error;
    }
    throw signal.aborted ? stopped(error) : error;
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}

/** read directory -> read organization -> detail reads -> plan -> rails. Writes nothing. */
export async function planRun(deps: RunDeps): Promise<PlannedRun> {
  const { config, source, api, store } = deps;
  const logger = deps.logger ?? createSilentLogger();
  const now = (deps.clock ?? (() => new Date()))();

  const progress = deps.progress ?? (() => undefined);
  const signal = deps.signal;
  progress('reading the directory');
  const snapshot = await untilStopped(
    source.read({ groupsOfInterest: groupsOfInterest(config) }),
    signal,
    'reading the directory',
  );
  deps.observer?.directoryUsers?.(snapshot.users.length);
  progress('reading the organization');
  logger.info('directory read', {
    users: snapshot.users.length,
    source: snapshot.stats.source,
    ms: Math.round(snapshot.stats.durationMs),
  });

  const orgStarted = performance.now();
  const organization = await untilStopped(
    readOrganization(api),
    signal,
    'reading the organization',
  );
  deps.observer?.organizationUsers?.(organization.length);
  logger.info('organization read', {
    users: organization.length,
    ms: Math.round(performance.now() - orgStarted),
  });
  // Before anything reads the record: another organization's ranks and flags are not ours.
  checkOrganization(store.state, organization, store.path);

  const planStarted = performance.now();
  const { base, sweep } = planInputs(config, snapshot, organization, store.state, now);
  const ids = detailReadsNeeded(base, { sweep });
  const details = new Map<number, OrgDetails>();
  // A fixed pool of workers, not one promise per user: 100k pending reads held ~200 MiB.
  let next = 0;
  const workers = Math.max(1, Math.min(config.api.concurrency * 2, ids.length));
  const reads = Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = next++; i < ids.length && signal?.aborted !== true; i = next++) {
        const id = ids[i]!;
        if (i % 100 === 0) progress(`reading user details: ${i} of ${ids.length}`);
        details.set(id, orgDetails(await api.getUser(id)));
      }
    }),
  );
  await untilStopped(reads, signal, 'reading user details');
  if (ids.length > 0) logger.info('user details read', { users: ids.length, sweep });

  progress('');
  const made = makePlan({ ...base, details });
  // The organization as the next run (or `apply --plan`) will see it: not by users this plan
  // removes, or a run removing the oldest ones would take its own organization for another.
  const removed = new Set(made.actions.flatMap((a) => (a.kind === 'remove' ? [a.emailId] : [])));
  const identity = organizationIdentity(
    removed.size === 0 ? organization : organization.filter((u) => !removed.has(u.emailId)),
    config.api.tokenOwner,
  );
  // The plan says where it was made: `apply --plan` sends it nowhere else.
  const plan = { ...made, madeFor: planOrigin(config.api.baseUrl, identity) };
  const verdict = judge(plan, railContext(config, store.state, organization, now));
  // The steady-state bench reads these phases from the log (bench/steady.ts).
  logger.info('planned', {
    actions: plan.actions.length,
    detailReads: ids.length,
    ms: Math.round(performance.now() - planStarted),
  });
  return {
    plan,
    trips: verdict.trips,
    verdict,
    organization,
    identity,
    details,
    sweep,
    directoryUsers: snapshot.users.length,
  };
}

/** What `plan` takes from one user's `getUser` answer (a card without a label gets ''). */
export function orgDetails(d: UserDetails): OrgDetails {
  return {
    computerUsernames: d.computerUsernames,
    smartcards: d.smartcards.map((c) => ({ number: c.number, label: c.label ?? '' })),
  };
}

/**
 * What `plan` reads besides the details, and whether this run re-reads every user's details
 * (the periodic sweep): the same for a run and for `dirsync inspect`'s one-user view.
 */
export function planInputs(
  config: Config,
  snapshot: DirectorySnapshot,
  organization: readonly OrgUser[],
  state: StateRecord,
  now: Date,
  match: MatchResult = matchUsers(snapshot.users, organization),
): { base: Omit<PlanInput, 'details'>; sweep: boolean } {
  const base = {
    directory: snapshot.users,
    organization,
    state,
    rules: config.rules,
    protectedUsers: protectedUsers(config),
    now,
    match,
    unusable: snapshot.unusable ?? [],
    unresolvedMembers: snapshot.unresolvedMembers ?? [],
  };
  return { base, sweep: sweepDue(state, now, durationMs(config.verifyEvery)) };
}

/** What the rails judge a plan against: today's organization, and the window's spending. */
export function railContext(
  config: Config,
  state: StateRecord,
  organization: readonly OrgUser[],
  now: Date,
): RailContext {
  const window = config.safety.window;
  return {
    safety: config.safety,
    state,
    organization,
    protectedUsers: protectedUsers(config),
    ...(window === undefined
      ? {}
      : { spent: spentWithin(state.spent, new Date(now.getTime() - durationMs(window))) }),
  };
}

/** Where a refused run left its plan and report, and the config to name in the commands. */
export interface RefusalFiles {
  planFile?: string;
  reportFile?: string;
  configFile?: string;
}

export function railError(trips: readonly RailTrip[], files: RefusalFiles = {}): SafetyError {
  const fixed = trips.filter((t) => !t.overridable);
  const cfg = files.configFile === undefined ? '' : ` --config ${files.configFile}`;
  const review =
    files.planFile === undefined
      ? ''
      : `; then review what would change with \`dirsync plan${cfg}\` and apply exactly the saved plan with \`dirsync apply${cfg} --plan ${files.planFile}\``;
  const hint =
    fixed.length > 0
      ? [...new Set(fixed.map((t) => railHint(t.rail)))].join('; ') +
        ' (--force does not override these)' +
        review
      : 'review the plan with `dirsync plan --out plan.json`, then apply exactly it with `dirsync apply --plan plan.json`, or rerun with --force; or raise the limits under safety: in the config';
  const saved =
    files.planFile === undefined
      ? ''
      : `\nNothing was sent. The plan is saved in ${files.planFile}${files.reportFile === undefined ? '' : `; the report in ${files.reportFile}`}`;
  return new SafetyError(
    `safety rails refused the plan:\n${trips.map((t) => `  ${t.rail}: ${t.message}`).join('\n')}${saved}`,
    { hint, refusals: trips },
  );
}

export interface RunReport {
  runId: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  mode: 'apply' | 'apply-plan';
  /**
   * What the rails let through: `applied` (everything planned was sent), `held` (budgets held
   * back the actions in `held`; everything else was sent), `refused` (a stop rail: nothing sent).
   * Failed or skipped actions are in `failures` and `skipped` whatever the outcome.
   */
  outcome: 'applied' | 'held' | 'refused';
  rails: { checked: readonly RailName[]; tripped: RailTrip[]; forced: boolean };
  /** The actions budgets held back (saved in `planFile` for review). */
  held: HeldAction[];
  /** The plan saved for review: the held actions, or the whole refused plan. */
  planFile?: string;
  summary: Plan['summary'];
  counts: ApplyReport['counts'];
  failures: { kind: string; email: string; error: string }[];
  skipped: { kind: string; email: string; reason: string }[];
  /** Toggles sent with no answer and not seen by a re-read: verified first by the next run. */
  unclear: { kind: string; email: string; reason: string }[];
  /** Toggles of earlier runs left unresolved (a crash, an unclear outcome), and what this run found. */
  togglesVerified: ToggleVerdict[];
  /**
   * Set when the apply stopped sending before finishing: the token was refused (401, or 403 on a
   * write), or the run was stopped (`signal`).
   */
  stopped?: {
    reason: string;
    hint: string;
    /**
     * Set when a stop signal did it (`SIGTERM`, `SIGINT`, `timeout`, `shutdown`, `lock-lost`),
     * not a refused token: `apply` then exits 5.
     */
    signal?: string;
  };
  /** Every action of the run and its outcome (`error`: why it failed or was skipped). */
  actions: { kind: string; email: string; outcome: string; error?: string }[];
}

/**
 * How far a read can be trusted. A read a completeness rail refused (an empty or shrunken
 * directory, an empty organization) proves who is present, never who is gone: it starts no
 * removal timer, sets no read size, prunes no record.
 */
export interface ReadTrust {
  directory: boolean;
  organization: boolean;
}

/** The completeness rails, and what each leaves untrusted. */
const COMPLETENESS: Partial<Record<RailName, keyof ReadTrust>> = {
  emptyRead: 'directory',
  maxSourceDropPercent: 'directory',
  emptyOrganization: 'organization',
};

export function readTrust(trips: readonly RailTrip[]): ReadTrust {
  const trust: ReadTrust = { directory: true, organization: true };
  for (const t of trips) {
    const part = COMPLETENESS[t.rail];
    if (part !== undefined) trust[part] = false;
  }
  return trust;
}

/**
 * A record that must outlive its user's absence from the listing: one a pending operation
 * still needs (a toggle sent and not yet resolved).
 */
function pending(record: UserState): boolean {
  return record.pendingToggle !== undefined;
}

/**
 * Records what the read established, before any action (and on a refused run too): removal
 * timers started and cleared, details read, the read size; and forgets the records of users
 * gone from the organization.
 */
export function recordReadState(
  store: Pick<StateStore, 'state' | 'record'>,
  planned: Pick<
    PlannedRun,
    'plan' | 'organization' | 'details' | 'sweep' | 'directoryUsers' | 'identity'
  >,
  now: Date,
  trust: ReadTrust = { directory: true, organization: true },
): void {
  const at = now.toISOString();
  const emails = new Map<number, string>(planned.organization.map((u) => [u.emailId, u.email]));
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
  if (trust.directory) {
    for (const [id, since] of Object.entries(planned.plan.timers.started)) {
      store.record({
        type: 'user',
        emailId: Number(id),
        set: { email: emailOf(Number(id)), missingSince: since },
      });
    }
  }
  // Seen in the directory is seen, even in a read too small to trust for absences.
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
  // Users gone from a complete organization listing (deleted by hand, or by dirsync in a run
  // that died before its journal was read) keep no record: a stale SUPER would count for
  // lastSuper, a stale flag would be trusted if the email_id came back.
  if (trust.organization) {
    for (const [key, record] of Object.entries(store.state.users)) {
      if (!emails.has(Number(key)) && !pending(record))
        store.record({ type: 'forget', emailId: Number(key) });
    }
  }
  if (planned.sweep) store.record({ type: 'verified', at });
  if (trust.directory) store.record({ type: 'read', at, directoryUsers: planned.directoryUsers });
  if (trust.organization && planned.identity.sample.length > 0)
    store.record({ type: 'organization', identity: planned.identity });
}

/** How many run reports are kept next to the state record. */
export const KEEP_REPORTS = 100;

/** Run stamps sort by time in file names: 2026-11-30T05-30-08-123Z. */
const stamp = (iso: string): string => iso.replace(/[:.]/g, '-');

/** Writes `name-<stamp>.json` into `dir`, keeping the newest `keep` files of that name. */
function writeKept(dir: string, name: string, at: string, value: unknown, keep: number): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${stamp(at)}.json`);
  writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
  const old = readdirSync(dir)
    .filter((f) => f.startsWith(`${name}-`) && f.endsWith('.json'))
    .sort()
    .slice(0, -keep);
  for (const f of old) rmSync(join(dir, f), { force: true });
  return file;
}

export function writeReport(statePath: string, report: RunReport): string {
  // Keep the newest reports only: a daemon on */30 writes 48 a day.
  return writeKept(reportsFolder(statePath), 'run', report.startedAt, report, KEEP_REPORTS);
}

/** How many saved plans of each kind (held, refused) are kept. */
export const KEEP_PLANS = 10;

type ApplyRunOptions = Parameters<typeof applyRun>[1];

/** Writes audit lines; a failure is logged, never thrown: the actions have happened anyway. */
function audit(deps: RunDeps, logger: Logger, entries: AuditEntry[]): void {
  try {
    deps.audit?.write(entries);
  } catch (error) {
    logger.error('audit log write failed; the outcome is in the run report only', {
      error: describeError(error),
      lines: entries.length,
    });
  }
}

/**
 * Saves a plan for review in `plans/` beside the state record: `held-<time>.json` (the actions
 * budgets held back) or `refused-<time>.json` (a whole plan a stop rail refused). Time-stamped,
 * so a path printed in a log or a notification keeps naming the plan it named.
 */
export function savePlan(
  statePath: string,
  kind: 'held' | 'refused',
  at: string,
  plan: Plan,
): string {
  return writeKept(plansFolder(statePath), kind, at, plan, KEEP_PLANS);
}

/**
 * One apply run: plan, judge, apply, journal, report. Over a budget, the actions it counts are
 * held (saved for review) and the rest applies; a stop rail refuses the whole run, after
 * recording what the read established. With `reviewed` (apply --plan), exactly that plan is
 * applied, skipping actions whose target changed; budgets were the reviewer's call.
 * Every action's outcome goes to the audit trail as it lands; a refused or failed run writes
 * one `run` line.
 */
export async function applyRun(
  deps: RunDeps,
  options: {
    force?: boolean;
    /** A reviewed plan (`apply --plan`), read by `readPlanFile`. */
    reviewed?: SavedPlan;
    /** The file it was read from, named in a refusal. */
    reviewedFile?: string;
    runId: string;
    signal?: AbortSignal;
    onResult?: Parameters<typeof applyPlan>[1]['onResult'];
    /** The config file, named in the commands a refusal prints. */
    configFile?: string;
  },
): Promise<{ report: RunReport; reportFile: string; plan: Plan }> {
  const logger = deps.logger ?? createSilentLogger();
  const clock = deps.clock ?? (() => new Date());
  // A run that cannot keep its audit trail changes nothing.
  deps.audit?.open();
  try {
    return await applyAudited(deps, options);
  } catch (error) {
    const at = clock();
    audit(deps, logger, [
      error instanceof SafetyError
        ? refusedRunEntry(error, options.runId, at)
        : failedRunEntry(describeError(error), options.runId, at),
    ]);
    throw error;
  } finally {
    try {
      deps.audit?.sync();
    } catch (error) {
      logger.error('audit log sync failed', { error: describeError(error) });
    }
  }
}

async function applyAudited(
  deps: RunDeps,
  options: ApplyRunOptions,
): Promise<{ report: RunReport; reportFile: string; plan: Plan }> {
  const { config, api, store } = deps;
  const logger = deps.logger ?? createSilentLogger();
  const clock = deps.clock ?? (() => new Date());
  const started = clock();
  const startedAt = started.toISOString();
  // The daemon's runTimeout or shutdown, SIGTERM, a lost lock: every phase stops on it.
  const signals = [deps.signal, options.signal].filter((x) => x !== undefined);
  const signal = signals.length <= 1 ? signals[0] : AbortSignal.any(signals);
  const reviewedFile = options.reviewedFile ?? 'the reviewed plan';
  // A reviewed plan's ids mean something only on the API it was made against: checked first.
  if (options.reviewed !== undefined)
    checkPlanApi(options.reviewed, config.api.baseUrl, reviewedFile);
  // A toggle an earlier run sent may still be landing: read only once it has had time to.
  const wait = settleWaitMs(store.state, started, config.api.settleMs);
  if (wait > 0) {
    logger.info('waiting for toggles of an earlier run to settle before reading', { ms: wait });
    await untilStopped(
      delay(wait, undefined, signal === undefined ? {} : { signal }),
      signal,
      'waiting for earlier toggles to settle',
    );
  }
  const planned = await planRun({ ...deps, ...(signal === undefined ? {} : { signal }) });
  // ... and for the organization it was made for: before anything is recorded or sent.
  if (options.reviewed !== undefined)
    checkPlanOrganization(options.reviewed, planned.organization, reviewedFile);
  const togglesVerified = resolvePendingToggles(store.state, planned.organization, store, clock());
  for (const v of togglesVerified)
    logger.warn('toggle of an earlier run verified', {
      email: v.email,
      concluded: v.concluded,
      detail: v.detail,
    });
  const verifiedAt = clock();
  audit(
    deps,
    logger,
    togglesVerified.map((v) => verifiedToggleEntry(v, options.runId, verifiedAt)),
  );
  const ctx = railContext(config, store.state, planned.organization, started);
  let verdict: Verdict;
  if (options.reviewed === undefined) {
    verdict = judge(planned.plan, ctx, { force: options.force === true });
  } else {
    // Budgets were the reviewer's call; invariants are judged on the reviewed plan, and today's
    // read must be as trustworthy as the one the plan was made from.
    const reviewed = options.reviewed;
    const trips = [
      ...checkRails(reviewed, ctx).filter((t) => !t.overridable),
      ...planned.trips.filter((t) => COMPLETENESS[t.rail] !== undefined),
    ];
    verdict = { trips, stops: trips, apply: reviewed, held: [], heldPlan: undefined };
  }
  const base = {
    runId: options.runId,
    startedAt,
    mode: options.reviewed === undefined ? ('apply' as const) : ('apply-plan' as const),
    summary: planned.plan.summary,
  };
  const finish = (): { finishedAt: string; durationMs: number } => {
    const finished = clock();
    return {
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - started.getTime(),
    };
  };

  if (verdict.stops.length > 0) {
    // Refused: nothing is sent, but what the read established is kept (a user back in the
    // directory clears its removal timer even while the rails refuse, for days maybe).
    recordReadState(store, planned, started, readTrust(verdict.stops));
    store.compact();
    const planFile =
      options.reviewed === undefined
        ? savePlan(store.path, 'refused', startedAt, planned.plan)
        : undefined;
    const report: RunReport = {
      ...base,
      ...finish(),
      outcome: 'refused',
      rails: { checked: RAILS, tripped: verdict.trips, forced: false },
      held: [],
      ...(planFile === undefined ? {} : { planFile }),
      counts: {},
      failures: [],
      skipped: [],
      unclear: [],
      togglesVerified,
      actions: [],
    };
    const reportFile = writeReport(store.path, report);
    throw railError(verdict.stops, {
      reportFile,
      ...(planFile === undefined ? {} : { planFile }),
      ...(options.configFile === undefined ? {} : { configFile: options.configFile }),
    });
  }
  const forced = options.force === true && verdict.trips.some((t) => t.overridable);
  if (forced)
    logger.warn('safety rails overridden with --force', {
      rails: verdict.trips.map((t) => t.rail),
    });
  if (verdict.held.length > 0)
    logger.warn('budgets held back some actions; the rest applies', {
      rails: [...new Set(verdict.held.flatMap((h) => h.rails))],
      held: verdict.held.length,
    });

  recordReadState(store, planned, started);
  // Budgets over a window count what automatic runs applied; a reviewed plan and --force are
  // a person's decision, and spend nothing.
  const window = config.safety.window;
  const spends = window !== undefined && options.reviewed === undefined && !forced;
  if (window !== undefined && (store.state.spent?.length ?? 0) > 0) {
    store.record({
      type: 'spentPruned',
      before: new Date(started.getTime() - durationMs(window)).toISOString(),
    });
  }
  const currentRanks = new Map(
    Object.entries(store.state.users).map(([id, u]) => [Number(id), u.rank]),
  );
  const onResult = (r: Parameters<NonNullable<typeof options.onResult>>[0]): void => {
    if (spends && r.outcome === 'applied') {
      const keys = budgetKeysOf(r.action);
      if (keys.length > 0)
        store.record({
          type: 'spent',
          at: startedAt,
          counts: Object.fromEntries(keys.map((k) => [k, 1])),
        });
    }
    if (r.outcome === 'applied') {
      const { kind, email, emailId, before, after } = r.action;
      logger.info('action applied', { kind, email, emailId, before, after });
    }
    audit(deps, logger, [actionEntry(r, options.runId, clock())]);
    options.onResult?.(r);
  };
  const plan = verdict.apply;
  const result = await applyPlan(plan, {
    api,
    journal: store,
    logger,
    concurrency: config.api.concurrency,
    clock,
    ...(options.reviewed === undefined
      ? {}
      : {
          currentOrganization: new Map(planned.organization.map((u) => [u.emailId, u])),
          currentRanks,
          currentlyWanted: new Set(planned.plan.actions.map(actionKey)),
        }),
    ...(signal === undefined ? {} : { signal }),
    onResult,
  });
  const planFile =
    verdict.heldPlan === undefined
      ? undefined
      : savePlan(store.path, 'held', startedAt, verdict.heldPlan);
  const heldAt = clock();
  audit(
    deps,
    logger,
    verdict.held.map((h) => heldEntry(h, options.runId, heldAt)),
  );
  store.compact();
  const report: RunReport = {
    ...base,
    ...finish(),
    summary: options.reviewed?.summary ?? planned.plan.summary,
    outcome: verdict.held.length > 0 ? 'held' : 'applied',
    rails: { checked: RAILS, tripped: verdict.trips, forced },
    held: verdict.held,
    ...(planFile === undefined ? {} : { planFile }),
    counts: result.counts,
    failures: result.results
      .filter((r) => r.outcome === 'failed')
      .map((r) => ({ kind: r.action.kind, email: r.action.email, error: r.error ?? '' })),
    skipped: result.results
      .filter((r) => r.outcome === 'skipped')
      .map((r) => ({ kind: r.action.kind, email: r.action.email, reason: r.error ?? '' })),
    unclear: result.results
      .filter((r) => r.outcome === 'unclear')
      .map((r) => ({
        kind: r.action.kind,
        email: r.action.email,
        reason:
          'no answer, and a fresh re-read still shows the old status: not sent again; the next run verifies it',
      })),
    togglesVerified,
    ...(result.stopped === undefined ? {} : { stopped: result.stopped }),
    ...(result.stopped === undefined ? stoppedBySignal(signal, result.results) : {}),
    actions: result.results.map((r) => ({
      kind: r.action.kind,
      email: r.action.email,
      outcome: r.outcome,
      ...(r.error === undefined ? {} : { error: r.error }),
    })),
  };
  const reportFile = writeReport(store.path, report);
  return { report, reportFile, plan };
}
