import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decideRetry,
  type FailedAttempt,
  type RepeatMode,
  type RetryDecision,
  type RetryInput,
  type RetryPolicy,
} from '../../../src/api/retry.js';
import { TEST_RETRY_POLICY } from './harness.js';

/** The harness's policy, with a settle wait to see it apply. */
const policy: RetryPolicy = { ...TEST_RETRY_POLICY, settleMs: 2000 };

/** The failures a call meets, as the transport classifies them. */
const FAILURES = {
  'a 400': { kind: 'final', status: 400 },
  'a refused connection': { kind: 'not-applied' },
  'a 429': { kind: 'not-applied', status: 429 },
  'a lost answer or timeout': { kind: 'unknown' },
  'a 502': { kind: 'unknown', status: 502 },
  'a 503': { kind: 'unknown', status: 503 },
  'a 504': { kind: 'unknown', status: 504 },
} satisfies Record<string, FailedAttempt>;
type FailureName = keyof typeof FAILURES;

/** Attempt and elapsed time for each state of the budget under {@link policy}. */
const BUDGETS = {
  left: { attempt: 1, elapsedMs: 0 },
  attempts: { attempt: 5, elapsedMs: 0 },
  deadline: { attempt: 1, elapsedMs: 59_990 },
} as const;
type BudgetName = keyof typeof BUDGETS;

function decide(failure: FailureName, mode: RepeatMode, budget: BudgetName): RetryDecision {
  return decideRetry(policy, { failure: FAILURES[failure], mode, jitter: 0.5, ...BUDGETS[budget] });
}

/** What to do after the look at an unclear outcome: `seen/not seen/unreadable`. */
type Expected = 'retry' | 'give-up' | `look: ${string}/${string}`;

function summary(decision: RetryDecision): Expected {
  if (decision.kind !== 'unclear') return decision.kind;
  return `look: ${decision.ifNotSeen}/${decision.ifUnreadable}`;
}

describe('decideRetry: the whole table', () => {
  // [failure, mode, budget left, budget out (attempts or deadline)]
  const table: [FailureName, RepeatMode, Expected, Expected][] = [];
  const modes: RepeatMode[] = ['repeat', 'verify', 'verify-once'];
  for (const mode of modes) {
    table.push(['a 400', mode, 'give-up', 'give-up']);
    table.push(['a refused connection', mode, 'retry', 'give-up']);
    table.push(['a 429', mode, 'retry', 'give-up']);
  }
  for (const failure of ['a lost answer or timeout', 'a 502', 'a 503', 'a 504'] as const) {
    table.push([failure, 'repeat', 'retry', 'give-up']);
    table.push([failure, 'verify', 'look: retry/give-up', 'look: give-up/give-up']);
  }
  // The toggle: sent again only after an answer that said it was not applied.
  table.push(['a 503', 'verify-once', 'look: retry/unclear', 'look: give-up/give-up']);
  for (const failure of ['a lost answer or timeout', 'a 502', 'a 504'] as const) {
    table.push([failure, 'verify-once', 'look: unclear/unclear', 'look: unclear/unclear']);
  }

  it.each(table)('after %s, %s: %s with budget left, %s without', (failure, mode, left, out) => {
    // Arrange, Act
    const decisions = [
      decide(failure, mode, 'left'),
      decide(failure, mode, 'attempts'),
      decide(failure, mode, 'deadline'),
    ];

    // Assert
    expect(decisions.map(summary)).toEqual([left, out, out]);
  });

  it('covers every failure and mode', () => {
    expect(table).toHaveLength(Object.keys(FAILURES).length * modes.length);
  });

  it('names which budget ran out', () => {
    expect(decide('a 429', 'repeat', 'attempts')).toEqual({ kind: 'give-up', reason: 'attempts' });
    expect(decide('a 429', 'repeat', 'deadline')).toEqual({ kind: 'give-up', reason: 'deadline' });
    expect(decide('a 400', 'repeat', 'deadline')).toEqual({ kind: 'give-up', reason: 'final' });
    expect(decide('a 502', 'verify', 'deadline')).toMatchObject({ budget: 'deadline' });
    expect(decide('a 502', 'verify', 'attempts')).toMatchObject({ budget: 'attempts' });
  });

  it('waits the jittered backoff, at least Retry-After, and at least settleMs before a look', () => {
    const input = { attempt: 2, elapsedMs: 0, jitter: 0.5 };
    // Half of the second ceiling (200 ms).
    expect(decideRetry(policy, { ...input, failure: FAILURES['a 502'], mode: 'repeat' })).toEqual({
      kind: 'retry',
      delayMs: 100,
    });
    const asked = { kind: 'not-applied', status: 429, retryAfterMs: 5000 } as const;
    expect(decideRetry(policy, { ...input, failure: asked, mode: 'repeat' })).toEqual({
      kind: 'retry',
      delayMs: 5000,
    });
    expect(
      decideRetry(policy, { ...input, failure: FAILURES['a 502'], mode: 'verify' }),
    ).toMatchObject({ kind: 'unclear', delayMs: 2000 });
  });

  it('with the budget spent, looks once more after only settleMs', () => {
    expect(decide('a 502', 'verify-once', 'attempts')).toMatchObject({ delayMs: 2000 });
  });
});

const aPolicy: fc.Arbitrary<RetryPolicy> = fc.record({
  maxAttempts: fc.integer({ min: 1, max: 10 }),
  maxElapsedMs: fc.integer({ min: 0, max: 300_000 }),
  baseDelayMs: fc.integer({ min: 0, max: 5_000 }),
  maxDelayMs: fc.integer({ min: 0, max: 60_000 }),
  settleMs: fc.integer({ min: 0, max: 10_000 }),
});

const aFailure: fc.Arbitrary<FailedAttempt> = fc.record({
  kind: fc.constantFrom('final', 'not-applied', 'unknown'),
  status: fc.option(fc.constantFrom(400, 401, 403, 404, 429, 500, 502, 503, 504), {
    nil: undefined,
  }),
  retryAfterMs: fc.option(fc.integer({ min: 0, max: 7_200_000 }), { nil: undefined }),
});

const anInput: fc.Arbitrary<RetryInput> = fc.record({
  failure: aFailure,
  attempt: fc.integer({ min: 1, max: 12 }),
  elapsedMs: fc.integer({ min: 0, max: 400_000 }),
  mode: fc.constantFrom<RepeatMode>('repeat', 'verify', 'verify-once'),
  jitter: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
});

/** Whether the decision may end in the request being sent again, and after how long. */
function resendsAfter(decision: RetryDecision): number | undefined {
  if (decision.kind === 'retry') return decision.delayMs;
  if (decision.kind === 'unclear' && decision.ifNotSeen === 'retry') return decision.delayMs;
  return undefined;
}

describe('decideRetry: properties', () => {
  it('never sends a toggle again after a lost answer, a timeout, a 502 or a 504', () => {
    fc.assert(
      fc.property(aPolicy, anInput, (p, input) => {
        fc.pre(input.mode === 'verify-once' && input.failure.kind === 'unknown');
        fc.pre(input.failure.status !== 503);
        const decision = decideRetry(p, input);
        expect(decision.kind).toBe('unclear');
        expect(decision).toMatchObject({ ifNotSeen: 'unclear', ifUnreadable: 'unclear' });
      }),
    );
  });

  it('never sends a call that may have landed again without looking first', () => {
    fc.assert(
      fc.property(aPolicy, anInput, (p, input) => {
        fc.pre(input.mode !== 'repeat' && input.failure.kind === 'unknown');
        expect(decideRetry(p, input).kind).toBe('unclear');
      }),
    );
  });

  it('looks only when the call may have landed and must not be repeated blindly', () => {
    fc.assert(
      fc.property(aPolicy, anInput, (p, input) => {
        fc.pre(input.mode === 'repeat' || input.failure.kind !== 'unknown');
        expect(decideRetry(p, input).kind).not.toBe('unclear');
      }),
    );
  });

  it('gives up at once on a final failure, whatever the budget', () => {
    fc.assert(
      fc.property(aPolicy, anInput, (p, input) => {
        fc.pre(input.failure.kind === 'final');
        expect(decideRetry(p, input)).toEqual({ kind: 'give-up', reason: 'final' });
      }),
    );
  });

  it('respects the deadline: no send again whose wait ends past maxElapsedMs', () => {
    fc.assert(
      fc.property(aPolicy, anInput, (p, input) => {
        const delay = resendsAfter(decideRetry(p, input));
        if (delay !== undefined)
          expect(input.elapsedMs + delay).toBeLessThanOrEqual(p.maxElapsedMs);
      }),
    );
  });

  it('respects maxAttempts: no send again after the last attempt', () => {
    fc.assert(
      fc.property(aPolicy, anInput, (p, input) => {
        fc.pre(input.attempt >= p.maxAttempts);
        expect(resendsAfter(decideRetry(p, input))).toBeUndefined();
      }),
    );
  });

  it('with budget for the wait, sends again unless final or a toggle that got no answer', () => {
    fc.assert(
      fc.property(aPolicy, anInput, (p, input) => {
        const { failure, mode } = input;
        const longestWait = Math.max(p.maxDelayMs, p.settleMs, failure.retryAfterMs ?? 0);
        fc.pre(input.attempt < p.maxAttempts && input.elapsedMs + longestWait <= p.maxElapsedMs);
        const toggleWithoutAnswer =
          mode === 'verify-once' && failure.kind === 'unknown' && failure.status !== 503;
        fc.pre(failure.kind !== 'final' && !toggleWithoutAnswer);
        expect(resendsAfter(decideRetry(p, input))).toBeDefined();
      }),
    );
  });

  it('never waits less than Retry-After before sending again', () => {
    fc.assert(
      fc.property(aPolicy, anInput, (p, input) => {
        const delay = resendsAfter(decideRetry(p, input));
        if (delay !== undefined)
          expect(delay).toBeGreaterThanOrEqual(input.failure.retryAfterMs ?? 0);
      }),
    );
  });

  it('waits at least settleMs before looking at an unclear outcome', () => {
    fc.assert(
      fc.property(aPolicy, anInput, (p, input) => {
        const decision = decideRetry(p, input);
        if (decision.kind === 'unclear')
          expect(decision.delayMs).toBeGreaterThanOrEqual(p.settleMs);
      }),
    );
  });

  it('keeps a blind retry within the backoff ceiling, or Retry-After when that is longer', () => {
    fc.assert(
      fc.property(aPolicy, anInput, (p, input) => {
        const decision = decideRetry(p, input);
        if (decision.kind !== 'retry') return;
        const ceiling = Math.max(p.maxDelayMs, input.failure.retryAfterMs ?? 0);
        expect(decision.delayMs).toBeGreaterThanOrEqual(0);
        expect(decision.delayMs).toBeLessThanOrEqual(ceiling);
      }),
    );
  });

  it('is a function of its input: the same input, the same decision', () => {
    fc.assert(
      fc.property(aPolicy, anInput, (p, input) => {
        expect(decideRetry(p, structuredClone(input))).toEqual(decideRetry(p, input));
      }),
    );
  });
});
