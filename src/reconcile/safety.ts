import type { SafetyConfig } from '../config/schema.js';
import type { StateRecord } from '../state/model.js';
import type { Plan } from './model.js';

export interface RailTrip {
  /** The rail, named as its config key where it has one. */
  rail: string;
  message: string;
  /** Budgets may be overridden (--force, or a reviewed plan); invariants never. */
  overridable: boolean;
}

export interface RailContext {
  safety: SafetyConfig;
  state: StateRecord;
  /** Emails never demoted, suspended or removed (safety.protectedUsers and api.tokenOwner). */
  protectedUsers?: readonly string[];
}

/**
 * Judges a plan before anything is sent. Returns every rail it trips; an empty list means go.
 * Incomplete reads never reach here: a partial read is an error before planning.
 */
const LEVELS: Record<string, number> = { REGULAR: 0, ADMIN: 1, SUPER: 2 };
/** A rank's power; an unknown rank counts as none. */
const level = (rank: unknown): number => (typeof rank === 'string' ? (LEVELS[rank] ?? 0) : 0);

export function checkRails(plan: Plan, ctx: RailContext): RailTrip[] {
  const { safety, state } = ctx;
  const trips: RailTrip[] = [];
  const s = plan.summary;
  const count = (pred: (a: Plan['actions'][number]) => boolean): number =>
    plan.actions.filter(pred).length;

  if (s.directoryUsers === 0) {
    trips.push({
      rail: 'emptyRead',
      message: 'the directory read returned no users',
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

  const removes = count((a) => a.kind === 'remove');
  if (removes > safety.maxDeletes) {
    trips.push({
      rail: 'maxDeletes',
      message: `the plan removes ${removes} users (limit ${safety.maxDeletes})`,
      overridable: true,
    });
  }
  const percent = s.managedUsers === 0 ? 0 : (removes / s.managedUsers) * 100;
  if (removes > 0 && percent > safety.maxDeletePercent) {
    trips.push({
      rail: 'maxDeletePercent',
      message: `the plan removes ${removes} of ${s.managedUsers} managed users, ${percent.toFixed(1)}% (limit ${safety.maxDeletePercent}%)`,
      overridable: true,
    });
  }
  const suspends = count((a) => a.kind === 'suspend');
  if (suspends > safety.maxSuspends) {
    trips.push({
      rail: 'maxSuspends',
      message: `the plan suspends ${suspends} users (limit ${safety.maxSuspends})`,
      overridable: true,
    });
  }
  // A first set_rank (no record) is bookkeeping, not a known change, unless it grants power.
  const rankChanges = count((a) => a.kind === 'set_rank' && a.before !== null);
  if (rankChanges > safety.maxRankChanges) {
    trips.push({
      rail: 'maxRankChanges',
      message: `the plan changes ${rankChanges} ranks (limit ${safety.maxRankChanges})`,
      overridable: true,
    });
  }
  const grants = count(
    (a) =>
      a.kind === 'set_rank' &&
      (a.after === 'ADMIN' || a.after === 'SUPER') &&
      (a.before === null || level(a.after) > level(a.before)),
  );
  if (grants > safety.maxPrivilegedGrants) {
    trips.push({
      rail: 'maxPrivilegedGrants',
      message: `the plan grants ADMIN or SUPER to ${grants} users (limit ${safety.maxPrivilegedGrants})`,
      overridable: true,
    });
  }

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

  // Never leave the organization without a SUPER. Judged on the result: the SUPERs on record,
  // plus the plan's grants, minus its demotions, suspensions and removals. A plan that sets any
  // rank (a first run sets everyone's) and ends with no SUPER is refused: with a wrong or empty
  // SUPER group it would demote the real owners, whom no record knows of yet.
  const supers = new Set(
    Object.entries(state.users)
      .filter(([, u]) => u.rank === 'SUPER')
      .map(([id]) => Number(id)),
  );
  let setsRanks = false;
  let losesSuper = false;
  for (const a of plan.actions) {
    if (a.kind === 'set_rank') {
      setsRanks = true;
      if (a.after === 'SUPER') supers.add(a.emailId);
      else if (supers.delete(a.emailId)) losesSuper = true;
    } else if ((a.kind === 'remove' || a.kind === 'suspend') && supers.delete(a.emailId)) {
      losesSuper = true;
    }
  }
  if ((losesSuper || setsRanks) && supers.size === 0) {
    trips.push({
      rail: 'lastSuper',
      message: losesSuper
        ? 'the plan would leave the organization without a SUPER: it demotes, suspends or removes the last one'
        : 'after this plan no user would be SUPER: no directory user is in rules.ranks.SUPER (and none is SUPER on record)',
      overridable: false,
    });
  }
  return trips;
}
