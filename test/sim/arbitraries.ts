import fc from 'fast-check';
import { NO_FAULTS, type RunFaults } from './gateway.js';
import { POPULATION, type ChurnOp, type HandOp, type Scenario, type Step } from './model.js';

/**
 * Which faults the simulation injects. Each can be left out (the lead turns them on once the
 * fix for what they reveal has landed): see test/sim/landed.ts.
 */
export interface FaultSwitches {
  lostAnswers: boolean;
  rateLimits: boolean;
  slowToggles: boolean;
  cachedListings: boolean;
  duplicateRows: boolean;
  crashes: boolean;
  /** Crashes while a toggle is in flight (issue 12: kill and restart). */
  crashesInFlight: boolean;
  handEditsDuringRuns: boolean;
  /** Hand edits of status, rank and membership between runs. */
  handEdits: boolean;
  smallBudgets: boolean;
  /** Directory churn that sets a card number another person holds (the API refuses it). */
  conflictingCards: boolean;
  /** Directory churn that sets a card number that is not digits. */
  unreadableValues: boolean;
  /** Members of the SUPER group may be disabled or leave (lastSuper must then hold). */
  supersLeave: boolean;
  /** Administrators invite people as guests (not only as users). */
  guestInvites: boolean;
}

export const ALL_FAULTS: FaultSwitches = {
  lostAnswers: true,
  rateLimits: true,
  slowToggles: true,
  cachedListings: true,
  duplicateRows: true,
  crashes: true,
  crashesInFlight: true,
  handEditsDuringRuns: true,
  handEdits: true,
  smallBudgets: true,
  conflictingCards: true,
  unreadableValues: true,
  supersLeave: true,
  guestInvites: true,
};

/** Only directory churn: no fault, no hand edit, no rail trip. */
export const NO_FAULT_SWITCHES: FaultSwitches = Object.fromEntries(
  Object.keys(ALL_FAULTS).map((k) => [k, false]),
) as unknown as FaultSwitches;

const who = fc.nat({ max: POPULATION - 1 });

export function churnOp(on: FaultSwitches): fc.Arbitrary<ChurnOp> {
  const kinds: ChurnOp['kind'][] = [
    'join',
    'join',
    'leave',
    'leave',
    'disable',
    'enable',
    'enable',
    'super',
    'admin',
    'login',
    'card',
  ];
  if (on.conflictingCards) kinds.push('dupCard');
  if (on.unreadableValues) kinds.push('badCard');
  return fc.record({ kind: fc.constantFrom(...kinds), who });
}

export function handOp(on: FaultSwitches): fc.Arbitrary<HandOp> {
  return fc.record({
    kind: fc.constantFrom(
      'suspend',
      'unsuspend',
      'unsuspend',
      'delete',
      'rank',
      'invite',
      'invite',
    ),
    who,
    rank: fc.constantFrom('SUPER', 'ADMIN', 'REGULAR'),
    guest: on.guestInvites ? fc.boolean() : fc.constant(false),
  });
}

function runFaults(on: FaultSwitches): fc.Arbitrary<RunFaults> {
  const rate = (enabled: boolean, max: number): fc.Arbitrary<number> =>
    enabled
      ? fc.oneof(
          fc.constant(0),
          fc.integer({ min: 1, max: Math.round(max * 100) }).map((n) => n / 100),
        )
      : fc.constant(0);
  const faulty = fc.record({
    rate429: rate(on.rateLimits, 0.15),
    rate5xx: rate(on.rateLimits, 0.1),
    dropAfterCommit: rate(on.lostAnswers, 0.3),
    badGatewayAfterCommit: rate(on.lostAnswers, 0.1),
    toggleLatencyMs: on.slowToggles
      ? fc.oneof(fc.constant(0), fc.integer({ min: 5, max: 60 }))
      : fc.constant(0),
    cacheListingsMs: on.cachedListings
      ? fc.oneof(fc.constant(0), fc.integer({ min: 50, max: 2000 }))
      : fc.constant(0),
    // A gateway that ignores no-cache: dirsync cannot read fresh, and must not guess.
    cacheIgnoresNoCache: on.cachedListings ? fc.boolean() : fc.constant(false),
    duplicateRows: on.duplicateRows
      ? fc.oneof(
          { weight: 3, arbitrary: fc.constant(NO_FAULTS.duplicateRows) },
          {
            weight: 1,
            arbitrary: fc.record({
              // email_ids of the seeded users are 1001.. in seed order (the token owner first).
              emailIds: fc.uniqueArray(fc.integer({ min: 1002, max: 1021 }), { maxLength: 3 }),
              churned: fc.boolean(),
              into: fc.constantFrom('same' as const, 'other' as const),
            }),
          },
        )
      : fc.constant(NO_FAULTS.duplicateRows),
  });
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(NO_FAULTS) },
    { weight: 1, arbitrary: faulty },
  );
}

/** `value` one time in `n`, else null (null first: it is what a failure shrinks to). */
function sometimes<T>(n: number, value: fc.Arbitrary<T>): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: n - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: value });
}

export function step(on: FaultSwitches = ALL_FAULTS): fc.Arbitrary<Step> {
  return fc.record({
    advanceHours: fc.integer({ min: 1, max: 40 }),
    churn: fc.array(churnOp(on), { maxLength: 4 }),
    handBefore: on.handEdits ? fc.array(handOp(on), { maxLength: 2 }) : fc.constant([]),
    handDuring: on.handEditsDuringRuns
      ? sometimes(
          4,
          fc.record({
            afterResults: fc.nat({ max: 6 }),
            ops: fc.array(handOp(on), { minLength: 1, maxLength: 2 }),
          }),
        )
      : fc.constant(null),
    faults: runFaults(on),
    crash: on.crashes
      ? sometimes(
          8,
          fc.record({
            atWrite: fc.nat({ max: 8 }),
            inFlight: on.crashesInFlight ? fc.boolean() : fc.constant(false),
          }),
        )
      : fc.constant(null),
    smallBudgets: on.smallBudgets
      ? fc.oneof(
          { weight: 9, arbitrary: fc.constant(false) },
          { weight: 1, arbitrary: fc.constant(true) },
        )
      : fc.constant(false),
  });
}

export function scenario(
  on: FaultSwitches = ALL_FAULTS,
  steps: { min: number; max: number } = { min: 1, max: 60 },
): fc.Arbitrary<Scenario> {
  return fc.record({
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    steps: fc.array(step(on), { minLength: steps.min, maxLength: steps.max }),
    supersLeave: fc.constant(on.supersLeave),
  });
}
