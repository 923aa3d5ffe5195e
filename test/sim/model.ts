import type { CrashPlan, RunFaults } from './gateway.js';

/**
 * A scenario: a company's life, one step per run. Everything is plain data, indexed by
 * person number, so that fast-check can shrink a failure to a few steps and a few people.
 */

/** People are p0..p(POPULATION-1)@corp.example.com; ops name them by number (modulo). */
export const POPULATION = 24;

export type ChurnKind =
  | 'join' // back in (or new to) the directory
  | 'leave' // gone from the directory
  | 'disable'
  | 'enable'
  | 'super' // in or out of the SUPER group
  | 'admin' // in or out of the ADMIN group
  | 'login' // a new workstation login name
  | 'card' // a new smart card number, or none
  | 'dupCard' // a card number another person holds (the API refuses it)
  | 'badCard'; // a card number that is not digits (unreadable)

export interface ChurnOp {
  kind: ChurnKind;
  who: number;
}

export type HandKind = 'suspend' | 'unsuspend' | 'delete' | 'rank' | 'invite';

/** An administrator working in the organization by hand. */
export interface HandOp {
  kind: HandKind;
  who: number;
  /** `rank`: the rank set; `invite`: ignored. */
  rank: 'SUPER' | 'ADMIN' | 'REGULAR';
  /** `invite`: invited as a guest. */
  guest: boolean;
}

export interface Step {
  /** Simulated time between the previous run and this one. */
  advanceHours: number;
  churn: ChurnOp[];
  /** Hand edits between the previous run and this one. */
  handBefore: HandOp[];
  /** Hand edits during the apply, after this many action results. */
  handDuring: { afterResults: number; ops: HandOp[] } | null;
  faults: RunFaults;
  crash: CrashPlan | null;
  /** Tight budgets: rails trip. */
  smallBudgets: boolean;
}

export interface Scenario {
  seed: number;
  steps: Step[];
  /** Whether members of the SUPER group may be disabled or leave. */
  supersLeave: boolean;
}

/** One broken invariant, with the run it was seen in. */
export interface Violation {
  run: number;
  invariant: string;
  detail: string;
}

export interface SimStats {
  runs: number;
  runsApplied: number;
  runsRefused: number;
  runsFailed: number;
  runsCrashed: number;
  convergenceChecks: number;
  /** Action outcomes by kind: applied, failed, skipped, unchanged. */
  actions: Record<string, Record<string, number>>;
  railTrips: Record<string, number>;
  /** Runs that failed with an error, by message (digits folded). */
  runFailures: Record<string, number>;
  handEdits: Record<string, number>;
  churn: Record<string, number>;
  faults: Record<string, number>;
  invariantChecks: number;
  apiRequests: number;
}

export function emptyStats(): SimStats {
  return {
    runs: 0,
    runsApplied: 0,
    runsRefused: 0,
    runsFailed: 0,
    runsCrashed: 0,
    convergenceChecks: 0,
    actions: {},
    railTrips: {},
    runFailures: {},
    handEdits: {},
    churn: {},
    faults: {},
    invariantChecks: 0,
    apiRequests: 0,
  };
}

export function bump(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}
