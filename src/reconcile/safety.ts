import type { SafetyConfig } from '../config/schema.js';
import type { StateRecord, UserState } from '../state/model.js';
import type { Action, ActionOf, OrgUser, Plan, Rank } from './model.js';
import { RANK_LEVEL } from './rules.js';

/**
 * The safety rails. Two scopes:
 * - `stop` rails (completeness of the reads, and the invariants) stop the whole run: nothing is
 *   sent, and neither --force nor a reviewed plan overrides them;
 * - `hold` rails (the budgets) hold back only the actions they count: everything else applies,
 *   and the held actions are saved as a plan for review (`apply --plan`), or sent with --force.
 */
export type RailName =
  | 'emptyRead'
  | 'emptyOrganization'
  | 'maxSourceDropPercent'
  | 'protectedUsers'
  | 'lastSuper'
  | 'maxDeletes'
  | 'maxDeletePercent'
  | 'maxSuspends'
  | 'maxSuspendPercent'
  | 'maxUnsuspends'
  | 'maxRankChanges'
  | 'maxPrivilegedGrants';

export type RailScope = 'stop' | 'hold';

/** Every rail, its scope and how to get past it: one table for errors, docs and metrics. */
export const RAIL_TABLE: Record<RailName, { scope: RailScope; hint: string }> = {
  emptyRead: {
    scope: 'stop',
    hint: 'check source.users.baseDns and source.users.filter: an empty read never leads to changes',
  },
  emptyOrganization: {
    scope: 'stop',
    hint: 'check api.baseUrl and the token (an organization always lists at least the token owner); if it really is empty, set safety.allowEmptyOrganization: true',
  },
  maxSourceDropPercent: {
    scope: 'stop',
    hint: 'check the directory and the bind account first; if it really shrank, raise safety.maxSourceDropPercent for one run',
  },
  protectedUsers: {
    scope: 'stop',
    hint: 'take the user out of safety.protectedUsers / api.tokenOwner, or fix the rules or the directory',
  },
  lastSuper: {
    scope: 'stop',
    hint: 'keep at least one SUPER: fix rules.ranks.SUPER or the group membership in the directory',
  },
  maxDeletes: { scope: 'hold', hint: 'raise safety.maxDeletes' },
  maxDeletePercent: { scope: 'hold', hint: 'raise safety.maxDeletePercent' },
  maxSuspends: { scope: 'hold', hint: 'raise safety.maxSuspends' },
  maxSuspendPercent: { scope: 'hold', hint: 'raise safety.maxSuspendPercent' },
  maxUnsuspends: { scope: 'hold', hint: 'raise safety.maxUnsuspends' },
  maxRankChanges: { scope: 'hold', hint: 'raise safety.maxRankChanges' },
  maxPrivilegedGrants: { scope: 'hold', hint: 'raise safety.maxPrivilegedGrants' },
};

/** Every rail checked, in the order trips are listed. */
export const RAILS: readonly RailName[] = Object.keys(RAIL_TABLE).filter(isRailName);

/** Whether `name` is a rail's name (a `rails` field read back from a report or an error). */
export function isRailName(name: string): name is RailName {
  return Object.hasOwn(RAIL_TABLE, name);
}

/** How to get past a rail: its hint. */
export function railHint(rail: RailName): string {
  return RAIL_TABLE[rail].hint;
}

export interface RailTrip {
  /** The rail, named as its config key where it has one. */
  rail: RailName;
  message: string;
  /**
   * A budget (`hold` scope): it holds back only the actions it counts, which --force or a
   * reviewed plan may send. Not overridable (`stop` scope): the whole run stops.
   */
  overridable: boolean;
}

/** What a budget counts. A window sums these over the runs within it. */
export type BudgetKey = 'deletes' | 'suspends' | 'unsuspends' | 'rankChanges' | 'privilegedGrants';
export type BudgetCounts = Partial<Record<BudgetKey, number>>;

export interface RailContext {
  safety: SafetyConfig;
  state: StateRecord;
  /**
   * Today's organization (both listings): the SUPERs that count for lastSuper are the users
   * SUPER on record who are listed today and not SUSPENDED.
   */
  organization: readonly OrgUser[];
  /** Emails never demoted, suspended or removed (safety.protectedUsers and api.tokenOwner). */
  protectedUsers?: readonly string[];
  /** What earlier runs within `safety.window` applied; empty (per run) without a window. */
  spent?: BudgetCounts;
}

/** A rank's power. */
const level = (rank: Rank): number => RANK_LEVEL[rank];

const isGrant = (a: ActionOf<'set_rank'>): boolean =>
  (a.after === 'ADMIN' || a.after === 'SUPER') &&
  (a.before === null || level(a.after) > level(a.before));

/** The budgets an action spends. A first set_rank (no record) is bookkeeping unless it grants power. */
export function budgetKeysOf(a: Action): BudgetKey[] {
  switch (a.kind) {
    case 'remove':
      return ['deletes'];
    case 'suspend':
      return ['suspends'];
    case 'unsuspend':
      return ['unsuspends'];
    case 'set_rank': {
      const keys: BudgetKey[] = [];
      if (a.before !== null && a.before !== a.after) keys.push('rankChanges');
      if (isGrant(a)) keys.push('privilegedGrants');
      return keys;
    }
    default:
      return [];
  }
}

export function countBudgets(actions: readonly Action[]): BudgetCounts {
  const counts: BudgetCounts = {};
  for (const a of actions) for (const k of budgetKeysOf(a)) counts[k] = (counts[k] ?? 0) + 1;
  return counts;
}

interface Budget {
  rail: RailName;
  key: BudgetKey;
  /** `the plan <verb> <n> <noun>` */
  verb: string;
  noun: string;
  /** A count (`limit N`), or a percent of the managed users. */
  limit: (safety: SafetyConfig) => { count: number } | { percent: number };
}

const BUDGETS: Budget[] = [
  {
    rail: 'maxDeletes',
    key: 'deletes',
    verb: 'removes',
    noun: 'users',
    limit: (s) => ({ count: s.maxDeletes }),
  },
  {
    rail: 'maxDeletePercent',
    key: 'deletes',
    verb: 'removes',
    noun: 'users',
    limit: (s) => ({ percent: s.maxDeletePercent }),
  },
  {
    rail: 'maxSuspends',
    key: 'suspends',
    verb: 'suspends',
    noun: 'users',
    limit: (s) => ({ count: s.maxSuspends }),
  },
  {
    rail: 'maxSuspendPercent',
    key: 'suspends',
    verb: 'suspends',
    noun: 'users',
    limit: (s) => ({ percent: s.maxSuspendPercent }),
  },
  {
    rail: 'maxUnsuspends',
    key: 'unsuspends',
    verb: 'unsuspends',
    noun: 'users',
    limit: (s) => ({ count: s.maxUnsuspends }),
  },
  {
    rail: 'maxRankChanges',
    key: 'rankChanges',
    verb: 'changes',
    noun: 'ranks',
    limit: (s) => ({ count: s.maxRankChanges }),
  },
  {
    rail: 'maxPrivilegedGrants',
    key: 'privilegedGrants',
    verb: 'grants ADMIN or SUPER to',
    noun: 'users',
    limit: (s) => ({ count: s.maxPrivilegedGrants }),
  },
];

/**
 * How many changes a budget allows. A percent budget never allows fewer than
 * `safety.minBudget`: with 15 managed users, 5% is 0.75 of a user, and one leaver would
 * otherwise hold every removal.
 */
function allowance(
  b: Budget,
  safety: SafetyConfig,
  managed: number,
): { allowed: number; floor: boolean } {
  const limit = b.limit(safety);
  if ('count' in limit) return { allowed: limit.count, floor: false };
  const ofManaged = Math.floor((limit.percent * managed) / 100);
  return { allowed: Math.max(safety.minBudget, ofManaged), floor: safety.minBudget > ofManaged };
}

/** The budget rails the plan trips (with what earlier runs in the window spent). */
function checkBudgets(plan: Plan, ctx: RailContext): { trip: RailTrip; key: BudgetKey }[] {
  const { safety } = ctx;
  const counts = countBudgets(plan.actions);
  const managed = plan.summary.managedUsers;
  const per = safety.window === undefined ? '' : ` per ${safety.window}`;
  const out: { trip: RailTrip; key: BudgetKey }[] = [];
  for (const b of BUDGETS) {
    const planned = counts[b.key] ?? 0;
    if (planned === 0) continue;
    const before = ctx.spent?.[b.key] ?? 0;
    const total = planned + before;
    const { allowed, floor } = allowance(b, safety, managed);
    if (total <= allowed) continue;
    const earlier =
      before === 0
        ? ''
        : `, ${total} with the ${before} applied within the last ${safety.window ?? 'window'}`;
    const limit = b.limit(safety);
    const message =
      'count' in limit
        ? `the plan ${b.verb} ${planned} ${b.noun}${earlier} (limit ${limit.count}${per})`
        : `the plan ${b.verb} ${planned}${before === 0 ? '' : ` (${total} with the ${before} applied within the last ${safety.window ?? 'window'})`} of ${managed} managed users, ${managed === 0 ? '100.0' : ((total / managed) * 100).toFixed(1)}% (limit ${limit.percent}%${floor ? `, but at least safety.minBudget ${safety.minBudget}` : ''}${per})`;
    out.push({ key: b.key, trip: { rail: b.rail, message, overridable: true } });
  }
  return out;
}

/** The SUPERs today: SUPER on record, listed in today's organization under that email, not SUSPENDED. */
function supersToday(state: StateRecord, organization: readonly OrgUser[]): Set<number> {
  const supers = new Set<number>();
  for (const u of organization) {
    if (u.adStatus === 'SUSPENDED') continue;
    const record: UserState | undefined = state.users[String(u.emailId)];
    if (record?.rank === 'SUPER' && record.email.toLowerCase() === u.email.toLowerCase())
      supers.add(u.emailId);
  }
  return supers;
}

/** The lastSuper rail on a plan's result. */
interface LastSuperVerdict {
  /** The rail tripped: the plan's result has no SUPER. */
  trip: RailTrip | undefined;
  /** The actions that cost a SUPER (demotions, suspensions, removals of SUPERs counted today). */
  losing: Action[];
  /**
   * A SUPER remains only through grants of this same plan. A grant may fail while the losses
   * land (each user's actions go on their own), so the losses must wait for a run in which the
   * new SUPER is on record.
   */
  reliesOnGrants: boolean;
}

function checkLastSuper(plan: Plan, ctx: RailContext): LastSuperVerdict {
  // Never leave the organization without a SUPER. Judged on today's organization (SUPERs on
  // record who are still listed and not suspended: one deleted or suspended by hand no longer
  // counts), plus the plan's grants, minus its demotions, suspensions and removals. A grant
  // counts only for a user who stays unsuspended: SUPER rank on a suspended user administers
  // nothing. A plan that sets any rank (a first run sets everyone's) and ends with
  // no SUPER is refused: with a wrong or empty SUPER group it would demote the real owners,
  // whom no record knows of yet.
  const supers = supersToday(ctx.state, ctx.organization);
  const listed = new Map(ctx.organization.map((u) => [u.emailId, u]));
  const leaving = new Set<number>();
  const unsuspended = new Set<number>();
  for (const a of plan.actions) {
    if (a.kind === 'suspend' || a.kind === 'remove') leaving.add(a.emailId);
    else if (a.kind === 'unsuspend') unsuspended.add(a.emailId);
  }
  const grants = new Set<number>();
  let setsRanks = false;
  const losing: Action[] = [];
  for (const a of plan.actions) {
    if (a.kind === 'set_rank') {
      setsRanks = true;
      if (a.after === 'SUPER') {
        const user = listed.get(a.emailId);
        const live =
          !leaving.has(a.emailId) && (user?.adStatus !== 'SUSPENDED' || unsuspended.has(a.emailId));
        if (live) grants.add(a.emailId);
      } else if (supers.delete(a.emailId)) losing.push(a);
    } else if ((a.kind === 'remove' || a.kind === 'suspend') && supers.delete(a.emailId)) {
      losing.push(a);
    }
  }
  const remaining = supers.size + grants.size;
  const reliesOnGrants = losing.length > 0 && supers.size === 0 && grants.size > 0;
  if ((losing.length === 0 && !setsRanks) || remaining > 0)
    return { trip: undefined, losing, reliesOnGrants };
  return {
    losing,
    reliesOnGrants,
    trip: {
      rail: 'lastSuper',
      message:
        losing.length > 0
          ? 'the plan would leave the organization without a SUPER: it demotes, suspends or removes the last one (SUPERs counted: on record, listed today and not suspended)'
          : 'after this plan no user would be SUPER: no directory user is in rules.ranks.SUPER (and no listed, unsuspended user is SUPER on record)',
      overridable: false,
    },
  };
}

/**
 * Judges a plan before anything is sent. Returns every rail it trips; an empty list means go.
 * Incomplete reads never reach here: a partial read is an error before planning.
 */
export function checkRails(plan: Plan, ctx: RailContext): RailTrip[] {
  const { safety, state } = ctx;
  const trips: RailTrip[] = [];
  const s = plan.summary;

  if (s.directoryUsers === 0) {
    trips.push({
      rail: 'emptyRead',
      message: 'the directory read returned no users',
      overridable: false,
    });
  }
  if (s.organizationUsers === 0 && !safety.allowEmptyOrganization) {
    trips.push({
      rail: 'emptyOrganization',
      message:
        'the organization lists no users and no guests (not even the token owner): a wrong URL or token, or an API fault',
      overridable: false,
    });
  }
  const previous = state.lastCompleteRead?.directoryUsers;
  if (previous !== undefined && previous > 0) {
    const drop = ((previous - s.directoryUsers) / previous) * 100;
    if (drop > safety.maxSourceDropPercent) {
      trips.push({
        rail: 'maxSourceDropPercent',
        message: `the directory holds ${s.directoryUsers} users, ${drop.toFixed(1)}% fewer than the ${previous} of the last complete read (limit ${safety.maxSourceDropPercent}%)`,
        overridable: false,
      });
    }
  }

  trips.push(...checkBudgets(plan, ctx).map((b) => b.trip));

  // Protected users: the planner never plans against them, but a reviewed plan may predate the list.
  const protectedSet = new Set((ctx.protectedUsers ?? []).map((e) => e.trim().toLowerCase()));
  const hits = plan.actions.filter(
    (a) =>
      protectedSet.has(a.email.trim().toLowerCase()) &&
      (a.kind === 'suspend' ||
        a.kind === 'remove' ||
        (a.kind === 'set_rank' && level(a.after) < (a.before === null ? 2 : level(a.before)))),
  );
  if (hits.length > 0) {
    trips.push({
      rail: 'protectedUsers',
      message: `the plan demotes, suspends or removes protected users: ${[...new Set(hits.map((a) => a.email))].join(', ')}`,
      overridable: false,
    });
  }

  const lastSuper = checkLastSuper(plan, ctx).trip;
  if (lastSuper !== undefined) trips.push(lastSuper);
  return trips;
}

/**
 * An action a budget held back: saved for review, reported, and audited as `held`. Its own
 * reason is the rule behind it.
 */
export type HeldAction = Action & {
  /** The rails that held it. */
  rails: RailName[];
  /** Why it was held: "maxSuspends: the plan suspends 60 users (limit 50)". */
  heldBy: string;
};

export interface Verdict {
  /** Every rail the plan trips. */
  trips: RailTrip[];
  /** The `stop` rails tripped: when any, nothing is applied. */
  stops: RailTrip[];
  /** What applies: the plan minus the held actions (the whole plan with --force). */
  apply: Plan;
  /** The actions held back, with the plan that sends exactly them once reviewed. */
  held: HeldAction[];
  heldPlan: Plan | undefined;
}

/** The plan restricted to some of its actions: same read, same summary, no timers of its own. */
export function subPlan(plan: Plan, actions: Action[]): Plan {
  const counts: Plan['summary']['actions'] = {};
  for (const a of actions) counts[a.kind] = (counts[a.kind] ?? 0) + 1;
  return {
    ...plan,
    actions,
    timers: { started: {}, cleared: [] },
    summary: { ...plan.summary, actions: counts },
  };
}

/**
 * The rails' verdict on a plan: stop the run, or apply what is within budget and hold the rest.
 * With `force`, budgets hold nothing (stop rails still stop).
 */
export function judge(plan: Plan, ctx: RailContext, options: { force?: boolean } = {}): Verdict {
  const trips = checkRails(plan, ctx);
  const stops = trips.filter((t) => !t.overridable);
  const budgets = options.force === true ? [] : checkBudgets(plan, ctx);
  const holding = new Map<Action, RailTrip[]>();
  for (const a of plan.actions) {
    const keys = budgetKeysOf(a);
    const by = budgets.filter((b) => keys.includes(b.key)).map((b) => b.trip);
    if (by.length > 0) holding.set(a, by);
  }
  let apply = subPlan(
    plan,
    plan.actions.filter((a) => !holding.has(a)),
  );
  // The last SUPER's demotion, suspension or removal never goes out in the same run as the grant
  // that replaces it: held with a grant a budget held, or waiting for a grant of this run to land
  // (a failed grant would otherwise leave no SUPER). The next run, with the new SUPER on record,
  // applies it.
  const lastSuper = checkLastSuper(apply, ctx);
  if (lastSuper.trip !== undefined || lastSuper.reliesOnGrants) {
    const why: RailTrip = {
      rail: 'lastSuper',
      overridable: false,
      message:
        lastSuper.trip !== undefined
          ? 'held with the SUPER grants it depends on: alone it would leave no SUPER'
          : 'waits for the SUPER grant of this run to land: if the grant failed it would leave no SUPER; the next run applies it',
    };
    // With no SUPER on record (a first run), a first rank set below SUPER may be the real
    // owner's demotion: held with the grants too.
    const unknownDemotions =
      lastSuper.trip === undefined
        ? []
        : apply.actions.filter(
            (a) => a.kind === 'set_rank' && a.before === null && a.after !== 'SUPER',
          );
    for (const a of [...lastSuper.losing, ...unknownDemotions]) holding.set(a, [why]);
    apply = subPlan(
      plan,
      plan.actions.filter((a) => !holding.has(a)),
    );
  }
  const heldActions = plan.actions.filter((a) => holding.has(a));
  const held = heldActions.map((a): HeldAction => {
    const by = holding.get(a)!;
    return {
      ...a,
      rails: by.map((t) => t.rail),
      heldBy: by.map((t) => `${t.rail}: ${t.message}`).join('; '),
    };
  });
  return {
    trips,
    stops,
    apply,
    held,
    heldPlan: heldActions.length === 0 ? undefined : subPlan(plan, heldActions),
  };
}

/** Sums what the runs within the window applied. */
export function spentWithin(
  spent: readonly { at: string; counts: BudgetCounts }[] | undefined,
  since: Date,
): BudgetCounts {
  const total: BudgetCounts = {};
  for (const entry of spent ?? []) {
    if (Date.parse(entry.at) < since.getTime()) continue;
    for (const [k, n] of Object.entries(entry.counts) as [BudgetKey, number][])
      total[k] = (total[k] ?? 0) + n;
  }
  return total;
}
