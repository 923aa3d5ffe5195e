import { describe, expect, it } from 'vitest';
import type { SafetyConfig } from '../../../src/config/schema.js';
import type { Plan } from '../../../src/reconcile/model.js';
import { plan } from '../../../src/reconcile/plan.js';
import { checkRails } from '../../../src/reconcile/safety.js';
import type { StateRecord } from '../../../src/state/model.js';
import {
  ADMIN_GROUP,
  anAction,
  anInputOf,
  anOrgUser,
  aPlan,
  aStateRecord,
  aSyncedPerson,
  aUserState,
  DOMAIN,
  someActions,
  someRules,
  someSafety,
} from './builders.js';

interface BudgetCase {
  rail: string;
  safety: Partial<SafetyConfig>;
  state?: StateRecord;
  limit: number;
  /** The plan with `n` of the counted changes. */
  planWith: (n: number) => Plan;
  /** What the message says at limit + 1. */
  message: string;
  /** Budgets are overridable (--force); completeness rails are not. */
  overridable?: boolean;
}

const budgets: BudgetCase[] = [
  {
    rail: 'maxDeletes',
    safety: { maxDeletes: 3, maxDeletePercent: 100 },
    limit: 3,
    planWith: (n) => aPlan({ actions: someActions(n, 'remove') }),
    message: 'the plan removes 4 users (limit 3)',
  },
  {
    rail: 'maxDeletePercent',
    safety: { maxDeletes: 1000, maxDeletePercent: 5 },
    limit: 5,
    // Percent of the managed (in-scope) users, not of the whole organization.
    planWith: (n) =>
      aPlan({
        actions: someActions(n, 'remove'),
        summary: { organizationUsers: 1000, managedUsers: 100 },
      }),
    message: 'the plan removes 6 of 100 managed users, 6.0% (limit 5%)',
  },
  {
    rail: 'maxSuspends',
    safety: { maxSuspends: 2 },
    limit: 2,
    planWith: (n) => aPlan({ actions: someActions(n, 'suspend') }),
    message: 'the plan suspends 3 users (limit 2)',
  },
  {
    rail: 'maxRankChanges',
    safety: { maxRankChanges: 2 },
    // Someone stays SUPER, so lastSuper does not trip as well.
    state: aStateRecord({ users: [{ email: `keeper@${DOMAIN}`, rank: 'SUPER' }] }),
    limit: 2,
    // Only changes from a known rank count; first-time set_ranks (before null) are bookkeeping.
    planWith: (n) =>
      aPlan({
        actions: [
          ...someActions(n, 'set_rank', { before: 'ADMIN', after: 'REGULAR' }),
          ...someActions(20, 'set_rank', { before: null, after: 'REGULAR' }, 'first'),
        ],
      }),
    message: 'the plan changes 3 ranks (limit 2)',
  },
  {
    rail: 'maxPrivilegedGrants',
    safety: { maxPrivilegedGrants: 1, maxRankChanges: 100 },
    state: aStateRecord({ users: [{ email: `keeper@${DOMAIN}`, rank: 'SUPER' }] }),
    limit: 1,
    // First-time grants count: the first is ADMIN (before null), the others REGULAR -> SUPER.
    planWith: (n) =>
      aPlan({
        actions: [
          ...someActions(Math.min(n, 1), 'set_rank', { before: null, after: 'ADMIN' }, 'first'),
          ...someActions(n - 1, 'set_rank', { before: 'REGULAR', after: 'SUPER' }),
          ...someActions(5, 'set_rank', { before: 'ADMIN', after: 'REGULAR' }, 'demoted'),
        ],
      }),
    message: 'the plan grants ADMIN or SUPER to 2 users (limit 1)',
  },
  {
    rail: 'maxSourceDropPercent',
    safety: { maxSourceDropPercent: 10 },
    state: aStateRecord({
      lastCompleteRead: { at: '2025-03-09T12:00:00.000Z', directoryUsers: 100 },
    }),
    limit: 10,
    // n percent fewer directory users than the last complete read.
    planWith: (n) => aPlan({ summary: { directoryUsers: 100 - n } }),
    message:
      'the directory holds 89 users, 11.0% fewer than the 100 of the last complete read (limit 10%)',
    // A shrunken read is a completeness rail: the run stops, --force does not override it.
    overridable: false,
  },
];

describe('checkRails: budgets', () => {
  it.each(budgets)('$rail does not trip at its limit', ({ safety, state, limit, planWith }) => {
    // Arrange
    const atLimit = planWith(limit);

    // Act
    const trips = checkRails(atLimit, {
      safety: someSafety(safety),
      state: state ?? aStateRecord(),
    });

    // Assert
    expect(trips).toEqual([]);
  });

  it.each(budgets)(
    '$rail trips at limit + 1, naming the numbers and the limit',
    ({ rail, safety, state, limit, planWith, message, overridable }) => {
      const overLimit = planWith(limit + 1);

      const trips = checkRails(overLimit, {
        safety: someSafety(safety),
        state: state ?? aStateRecord(),
      });

      expect(trips).toEqual([{ rail, message, overridable: overridable ?? true }]);
    },
  );

  it('has the documented defaults', () => {
    expect(someSafety()).toEqual({
      maxDeletes: 25,
      maxDeletePercent: 5,
      maxSuspends: 50,
      maxRankChanges: 10,
      maxPrivilegedGrants: 3,
      maxSourceDropPercent: 10,
      protectedUsers: [],
    });
  });

  it.each<[string, Plan, StateRecord]>([
    ['no removals among no managed users', aPlan({ summary: { managedUsers: 0 } }), aStateRecord()],
    [
      'a directory that grew',
      aPlan({ summary: { directoryUsers: 500 } }),
      aStateRecord({ lastCompleteRead: { at: 'x', directoryUsers: 100 } }),
    ],
    [
      'a previous read of zero users',
      aPlan({ summary: { directoryUsers: 1 } }),
      aStateRecord({ lastCompleteRead: { at: 'x', directoryUsers: 0 } }),
    ],
  ])('does not trip on %s', (_label, p, state) => {
    expect(checkRails(p, { safety: someSafety(), state })).toEqual([]);
  });

  it('trips every rail the plan breaks, not just the first', () => {
    const p = aPlan({
      actions: [...someActions(30, 'remove'), ...someActions(60, 'suspend', {}, 's')],
    });

    const rails = checkRails(p, { safety: someSafety(), state: aStateRecord() }).map((t) => t.rail);

    expect(rails).toEqual(['maxDeletes', 'maxDeletePercent', 'maxSuspends']);
  });
});

describe('checkRails: empty read', () => {
  it('trips on a directory read with no users, and cannot be overridden', () => {
    const trips = checkRails(aPlan({ summary: { directoryUsers: 0 } }), {
      safety: someSafety(),
      state: aStateRecord(),
    });

    expect(trips).toEqual([
      { rail: 'emptyRead', message: 'the directory read returned no users', overridable: false },
    ]);
  });

  it('does not trip on a read of one user', () => {
    expect(
      checkRails(aPlan({ summary: { directoryUsers: 1 } }), {
        safety: someSafety(),
        state: aStateRecord(),
      }),
    ).toEqual([]);
  });

  it('stops a real plan that would remove everyone after an empty read', () => {
    // Arrange: 50 users in the organization, none in the directory, no grace.
    const organization = Array.from({ length: 50 }, (_, i) =>
      anOrgUser({ email: `u${i}@${DOMAIN}` }),
    );
    const p = plan(
      anInputOf(
        organization.map((org) => ({ org })),
        { rules: someRules({ removed: { action: 'delete', graceDays: 0 } }) },
      ),
    );

    // Act
    const trips = checkRails(p, {
      safety: someSafety(),
      state: aStateRecord({ lastCompleteRead: { at: 'x', directoryUsers: 50 } }),
    });

    // Assert
    expect(p.summary.actions.remove).toBe(50);
    expect(trips.map((t) => [t.rail, t.overridable])).toEqual([
      ['emptyRead', false],
      ['maxSourceDropPercent', false],
      ['maxDeletes', true],
      ['maxDeletePercent', true],
    ]);
  });
});

describe('checkRails: the last SUPER', () => {
  const OWNER = `owner@${DOMAIN}`;
  const OTHER = `other@${DOMAIN}`;
  const superOnRecord = (...emails: string[]) =>
    aStateRecord({ users: emails.map((email) => aUserState({ email, rank: 'SUPER' })) });
  const demote = (email: string, after = 'REGULAR') =>
    anAction({ kind: 'set_rank', email, before: 'SUPER', after });
  const remove = (email: string) => anAction({ kind: 'remove', email, before: 'SUSPENDED' });
  const grant = (email: string) =>
    anAction({ kind: 'set_rank', email, before: null, after: 'SUPER' });

  it.each([
    ['demoting the only SUPER to REGULAR', superOnRecord(OWNER), [demote(OWNER)]],
    ['demoting the only SUPER to ADMIN', superOnRecord(OWNER), [demote(OWNER, 'ADMIN')]],
    ['removing the only SUPER', superOnRecord(OWNER), [remove(OWNER)]],
    [
      'demoting one SUPER and removing the other',
      superOnRecord(OWNER, OTHER),
      [remove(OTHER), demote(OWNER)],
    ],
  ])('trips on %s, and cannot be overridden', (_label, state, actions) => {
    const trips = checkRails(aPlan({ actions }), {
      safety: someSafety({ maxRankChanges: 100, maxDeletes: 100, maxDeletePercent: 100 }),
      state,
    });

    expect(trips).toEqual([
      {
        rail: 'lastSuper',
        message: expect.stringContaining('without a SUPER') as unknown,
        overridable: false,
      },
    ]);
  });

  it.each([
    ['another SUPER is on record', superOnRecord(OWNER, OTHER), [demote(OWNER)]],
    ['another SUPER is on record (removal)', superOnRecord(OWNER, OTHER), [remove(OWNER)]],
    [
      'the plan grants SUPER to someone else (listed after)',
      superOnRecord(OTHER),
      [demote(OTHER), grant(OWNER)],
    ],
    [
      'the plan grants SUPER to someone else (listed before)',
      superOnRecord(OWNER),
      [grant(OTHER), demote(OWNER)],
    ],
    [
      'no SUPER on record is touched',
      superOnRecord(OWNER),
      [
        remove(OTHER),
        anAction({ kind: 'set_rank', email: OTHER, before: 'ADMIN', after: 'REGULAR' }),
      ],
    ],
    ['nothing is on record at all', aStateRecord(), [remove(OWNER)]],
  ])('does not trip when %s', (_label, state, actions) => {
    const trips = checkRails(aPlan({ actions }), { safety: someSafety(), state });

    expect(trips).toEqual([]);
  });

  it('stops a real plan that demotes the only SUPER dirsync set', () => {
    // Arrange: the owner left the SUPER group; the record says dirsync made them SUPER.
    const owner = aSyncedPerson(OWNER, { record: { rank: 'SUPER' } });
    const admin = aSyncedPerson(OTHER, {
      dir: { groups: [ADMIN_GROUP] },
      record: { rank: 'ADMIN' },
    });
    const input = anInputOf([owner, admin]);

    // Act
    const p = plan(input);
    const trips = checkRails(p, { safety: someSafety(), state: input.state });

    // Assert
    expect(p.actions).toMatchObject([
      { kind: 'set_rank', email: OWNER, before: 'SUPER', after: 'REGULAR' },
    ]);
    expect(trips.map((t) => t.rail)).toEqual(['lastSuper']);
  });
});

describe('checkRails: rank direction, suspension of the last SUPER, protected users', () => {
  const OWNER = `owner@${DOMAIN}`;

  it('does not count SUPER -> ADMIN as a grant', () => {
    const trips = checkRails(
      aPlan({
        actions: [
          anAction({ kind: 'set_rank', before: 'SUPER', after: 'ADMIN' }),
          anAction({ kind: 'set_rank', email: `b@${DOMAIN}`, before: 'SUPER', after: 'ADMIN' }),
        ],
      }),
      {
        safety: someSafety({ maxPrivilegedGrants: 1 }),
        state: aStateRecord({ users: [{ email: `keeper@${DOMAIN}`, rank: 'SUPER' }] }),
      },
    );
    expect(trips).toEqual([]);
  });

  it('trips lastSuper when a first run would set ranks and leave nobody SUPER (wrong or empty SUPER group)', () => {
    const trips = checkRails(
      aPlan({
        actions: [
          anAction({ kind: 'set_rank', email: `a@${DOMAIN}`, before: null, after: 'REGULAR' }),
          anAction({ kind: 'set_rank', email: `b@${DOMAIN}`, before: null, after: 'ADMIN' }),
        ],
      }),
      { safety: someSafety(), state: aStateRecord() },
    );
    expect(trips).toEqual([
      {
        rail: 'lastSuper',
        message:
          'after this plan no user would be SUPER: no directory user is in rules.ranks.SUPER (and none is SUPER on record)',
        overridable: false,
      },
    ]);
  });

  it('trips lastSuper when the plan suspends the only SUPER on record', () => {
    const state = aStateRecord({ users: [{ email: OWNER, rank: 'SUPER' }] });
    const trips = checkRails(
      aPlan({
        actions: [
          anAction({ kind: 'suspend', email: OWNER, before: 'ACTIVE', after: 'SUSPENDED' }),
        ],
      }),
      {
        safety: someSafety(),
        state,
      },
    );
    expect(trips.map((t) => [t.rail, t.overridable])).toEqual([['lastSuper', false]]);
  });

  it.each([
    ['suspend', 'ACTIVE', 'SUSPENDED'],
    ['remove', 'ACTIVE', null],
    ['set_rank', 'SUPER', 'REGULAR'],
    ['set_rank', null, 'REGULAR'],
  ] as const)(
    'trips protectedUsers for a %s (%s -> %s) of a protected user, case-insensitively',
    (kind, before, after) => {
      const trips = checkRails(
        aPlan({ actions: [anAction({ kind, email: `Boss@${DOMAIN}`, before, after })] }),
        {
          safety: someSafety({ maxDeletePercent: 100 }),
          state: aStateRecord(),
          protectedUsers: [`boss@${DOMAIN}`],
        },
      );
      expect(trips.map((t) => [t.rail, t.overridable])).toContainEqual(['protectedUsers', false]);
    },
  );

  it('lets a protected user be promoted or have logins set', () => {
    const trips = checkRails(
      aPlan({
        actions: [
          anAction({ kind: 'set_rank', email: `boss@${DOMAIN}`, before: 'ADMIN', after: 'SUPER' }),
          anAction({
            kind: 'set_computer_usernames',
            email: `boss@${DOMAIN}`,
            before: [],
            after: ['boss'],
          }),
        ],
      }),
      { safety: someSafety(), state: aStateRecord(), protectedUsers: [`boss@${DOMAIN}`] },
    );
    expect(trips).toEqual([]);
  });
});
