import { describe, expect, it } from 'vitest';
import type { SafetyConfig } from '../../../src/config/schema.js';
import type { Plan, Rank } from '../../../src/reconcile/model.js';
import { plan } from '../../../src/reconcile/plan.js';
import { checkRails, judge, spentWithin, type RailContext } from '../../../src/reconcile/safety.js';
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
  kindsOf,
  someActions,
  someRules,
  someSafety,
} from './builders.js';

/**
 * checkRails with today's organization defaulting to everyone on record, listed and ACTIVE
 * (the rails judge lastSuper on today's organization).
 */
function rails(
  p: Plan,
  ctx: Omit<RailContext, 'organization'> & { organization?: RailContext['organization'] },
) {
  const organization =
    ctx.organization ?? Object.values(ctx.state.users).map((u) => anOrgUser({ email: u.email }));
  return checkRails(p, { ...ctx, organization });
}

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
    const trips = rails(atLimit, {
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

      const trips = rails(overLimit, {
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
      maxSuspendPercent: 25,
      maxUnsuspends: 50,
      maxRankChanges: 10,
      maxPrivilegedGrants: 3,
      minBudget: 3,
      maxSourceDropPercent: 10,
      allowEmptyOrganization: false,
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
    expect(rails(p, { safety: someSafety(), state })).toEqual([]);
  });

  it('trips every rail the plan breaks, not just the first', () => {
    const p = aPlan({
      actions: [...someActions(30, 'remove'), ...someActions(60, 'suspend', {}, 's')],
    });

    const tripped = rails(p, { safety: someSafety(), state: aStateRecord() }).map((t) => t.rail);

    expect(tripped).toEqual(['maxDeletes', 'maxDeletePercent', 'maxSuspends', 'maxSuspendPercent']);
  });
});

describe('checkRails: empty read', () => {
  it('trips on a directory read with no users, and cannot be overridden', () => {
    const trips = rails(aPlan({ summary: { directoryUsers: 0 } }), {
      safety: someSafety(),
      state: aStateRecord(),
    });

    expect(trips).toEqual([
      { rail: 'emptyRead', message: 'the directory read returned no users', overridable: false },
    ]);
  });

  it('does not trip on a read of one user', () => {
    expect(
      rails(aPlan({ summary: { directoryUsers: 1 } }), {
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
    const trips = rails(p, {
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
  const demote = (email: string, after: Rank = 'REGULAR') =>
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
    const trips = rails(aPlan({ actions }), {
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
    const trips = rails(aPlan({ actions }), { safety: someSafety(), state });

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
    const trips = rails(p, { safety: someSafety(), state: input.state });

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
    const trips = rails(
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
    const trips = rails(
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
          'after this plan no user would be SUPER: no directory user is in rules.ranks.SUPER (and no listed, unsuspended user is SUPER on record)',
        overridable: false,
      },
    ]);
  });

  it('trips lastSuper when the plan suspends the only SUPER on record', () => {
    const state = aStateRecord({ users: [{ email: OWNER, rank: 'SUPER' }] });
    const trips = rails(
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
      const trips = rails(
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
    const trips = rails(
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

describe("checkRails: lastSuper is judged on today's organization", () => {
  const OWNER = `owner@${DOMAIN}`;
  const GHOST = `ghost@${DOMAIN}`;
  const state = aStateRecord({
    users: [
      aUserState({ email: OWNER, rank: 'SUPER' }),
      aUserState({ email: GHOST, rank: 'SUPER' }),
    ],
  });
  const demoteOwner = anAction({
    kind: 'set_rank',
    email: OWNER,
    before: 'SUPER',
    after: 'REGULAR',
  });

  it.each([
    ['deleted by hand (no longer listed)', [anOrgUser({ email: OWNER })]],
    [
      'suspended by hand',
      [anOrgUser({ email: OWNER }), anOrgUser({ email: GHOST, adStatus: 'SUSPENDED' })],
    ],
    [
      'gone, its email_id now listed under another email',
      [
        anOrgUser({ email: OWNER }),
        anOrgUser({ email: `new@${DOMAIN}`, emailId: anOrgUser({ email: GHOST }).emailId }),
      ],
    ],
  ])(
    'does not count a SUPER on record %s: demoting the last real one trips',
    (_label, organization) => {
      // Act
      const trips = checkRails(aPlan({ actions: [demoteOwner] }), {
        safety: someSafety(),
        state,
        organization,
      });

      // Assert
      expect(trips.map((t) => [t.rail, t.overridable])).toEqual([['lastSuper', false]]);
    },
  );

  it('counts a SUPER on record who is listed and ACTIVE or PENDING', () => {
    const trips = checkRails(aPlan({ actions: [demoteOwner] }), {
      safety: someSafety(),
      state,
      organization: [anOrgUser({ email: OWNER }), anOrgUser({ email: GHOST, adStatus: 'PENDING' })],
    });

    expect(trips).toEqual([]);
  });

  it('stops a real plan that demotes the last SUPER while a stale SUPER record remains', () => {
    // Arrange: the owner left the SUPER group; the other SUPER was deleted by hand.
    const owner = aSyncedPerson(OWNER, { record: { rank: 'SUPER' } });
    const input = anInputOf([owner], {
      state: aStateRecord({ users: [owner.record, aUserState({ email: GHOST, rank: 'SUPER' })] }),
    });

    // Act
    const p = plan(input);
    const trips = checkRails(p, {
      safety: someSafety(),
      state: input.state,
      organization: input.organization,
    });

    // Assert
    expect(kindsOf(p)).toEqual([`set_rank ${OWNER}`]);
    expect(trips.map((t) => t.rail)).toEqual(['lastSuper']);
  });
});

describe('checkRails: lastSuper counts only grants that leave a live SUPER', () => {
  const OWNER = `owner@${DOMAIN}`;
  const HEIR = `heir@${DOMAIN}`;
  const state = aStateRecord({ users: [aUserState({ email: OWNER, rank: 'SUPER' })] });
  const demoteOwner = anAction({
    kind: 'set_rank',
    email: OWNER,
    before: 'SUPER',
    after: 'REGULAR',
  });
  const grantHeir = anAction({ kind: 'set_rank', email: HEIR, before: 'REGULAR', after: 'SUPER' });

  it.each([
    ['a grant to a user suspended in the organization', 'SUSPENDED' as const, []],
    [
      'a grant to a user the same plan suspends',
      'ACTIVE' as const,
      [anAction({ kind: 'suspend', email: HEIR, before: 'ACTIVE', after: 'SUSPENDED' })],
    ],
  ])('trips when the only SUPER left would be %s', (_label, adStatus, more) => {
    const organization = [anOrgUser({ email: OWNER }), anOrgUser({ email: HEIR, adStatus })];

    const trips = checkRails(aPlan({ actions: [...more, grantHeir, demoteOwner] }), {
      safety: someSafety({ maxSuspends: 100 }),
      state,
      organization,
    });

    expect(trips.map((t) => t.rail)).toContain('lastSuper');
  });

  it('counts a grant to a suspended user the same plan unsuspends', () => {
    const organization = [
      anOrgUser({ email: OWNER }),
      anOrgUser({ email: HEIR, adStatus: 'SUSPENDED' }),
    ];
    const unsuspend = anAction({
      kind: 'unsuspend',
      email: HEIR,
      before: 'SUSPENDED',
      after: 'ACTIVE',
    });

    const trips = checkRails(aPlan({ actions: [unsuspend, grantHeir, demoteOwner] }), {
      safety: someSafety(),
      state,
      organization,
    });

    expect(trips).toEqual([]);
  });
});

describe('checkRails: an empty organization', () => {
  it('stops the run when both listings are empty', () => {
    const trips = checkRails(aPlan({ summary: { organizationUsers: 0, managedUsers: 0 } }), {
      safety: someSafety(),
      state: aStateRecord(),
      organization: [],
    });

    expect(trips).toEqual([
      {
        rail: 'emptyOrganization',
        message:
          'the organization lists no users and no guests (not even the token owner): a wrong URL or token, or an API fault',
        overridable: false,
      },
    ]);
  });

  it('lets it through with safety.allowEmptyOrganization', () => {
    const trips = checkRails(aPlan({ summary: { organizationUsers: 0, managedUsers: 0 } }), {
      safety: someSafety({ allowEmptyOrganization: true }),
      state: aStateRecord(),
      organization: [],
    });

    expect(trips).toEqual([]);
  });
});

describe('checkRails: percent budgets have a floor, suspensions a percent budget', () => {
  const small = (actions: Plan['actions']) =>
    aPlan({ actions, summary: { directoryUsers: 14, organizationUsers: 15, managedUsers: 15 } });

  it('does not trip maxDeletePercent 5 on one leaver of 15 managed users (minBudget 3)', () => {
    expect(
      rails(small(someActions(1, 'remove')), {
        safety: someSafety({ maxDeletePercent: 5 }),
        state: aStateRecord(),
      }),
    ).toEqual([]);
  });

  it('trips above the floor, saying so', () => {
    expect(
      rails(small(someActions(4, 'remove')), {
        safety: someSafety({ maxDeletePercent: 5 }),
        state: aStateRecord(),
      }),
    ).toEqual([
      {
        rail: 'maxDeletePercent',
        message:
          'the plan removes 4 of 15 managed users, 26.7% (limit 5%, but at least safety.minBudget 3)',
        overridable: true,
      },
    ]);
  });

  it('trips maxSuspendPercent when a narrowed filter would suspend 19 of 20 users', () => {
    const p = aPlan({
      actions: someActions(19, 'suspend'),
      summary: { directoryUsers: 1, organizationUsers: 20, managedUsers: 20 },
    });

    const trips = rails(p, { safety: someSafety(), state: aStateRecord() });

    expect(trips).toEqual([
      {
        rail: 'maxSuspendPercent',
        message: 'the plan suspends 19 of 20 managed users, 95.0% (limit 25%)',
        overridable: true,
      },
    ]);
  });

  it('trips maxUnsuspends', () => {
    const trips = rails(aPlan({ actions: someActions(3, 'unsuspend') }), {
      safety: someSafety({ maxUnsuspends: 2 }),
      state: aStateRecord(),
    });

    expect(trips).toEqual([
      {
        rail: 'maxUnsuspends',
        message: 'the plan unsuspends 3 users (limit 2)',
        overridable: true,
      },
    ]);
  });

  it('counts what the window already spent', () => {
    const trips = rails(aPlan({ actions: someActions(2, 'remove') }), {
      safety: someSafety({ maxDeletes: 3, window: '24h' }),
      state: aStateRecord(),
      spent: { deletes: 2 },
    });

    expect(trips).toEqual([
      {
        rail: 'maxDeletes',
        message:
          'the plan removes 2 users, 4 with the 2 applied within the last 24h (limit 3 per 24h)',
        overridable: true,
      },
    ]);
  });
});

describe('judge: a budget holds only the actions it counts', () => {
  const OWNER = `owner@${DOMAIN}`;
  const keeper = aStateRecord({ users: [aUserState({ email: OWNER, rank: 'SUPER' })] });
  const ctx = (safety: Partial<SafetyConfig>, state: StateRecord = keeper): RailContext => ({
    safety: someSafety(safety),
    state,
    organization: Object.values(state.users).map((u) => anOrgUser({ email: u.email })),
  });

  it('holds the suspensions over budget and applies the login names', () => {
    // Arrange
    const logins = someActions(3, 'set_computer_usernames', { before: [], after: ['x'] }, 'l');
    const suspends = someActions(3, 'suspend', { before: 'ACTIVE', after: 'SUSPENDED' });
    const p = aPlan({ actions: [...logins, ...suspends] });

    // Act
    const verdict = judge(p, ctx({ maxSuspends: 2 }));

    // Assert
    expect(verdict.stops).toEqual([]);
    expect(verdict.apply.actions).toEqual(logins);
    expect(verdict.apply.summary.actions).toEqual({ set_computer_usernames: 3 });
    expect(verdict.heldPlan?.actions).toEqual(suspends);
    expect(verdict.held[0]).toEqual({
      kind: 'suspend',
      email: `user0@${DOMAIN}`,
      emailId: suspends[0]!.emailId,
      reason: 'test',
      before: 'ACTIVE',
      after: 'SUSPENDED',
      rails: ['maxSuspends'],
      heldBy: 'maxSuspends: the plan suspends 3 users (limit 2)',
    });
  });

  it('holds nothing with --force, and still reports the trips', () => {
    const p = aPlan({ actions: someActions(3, 'suspend') });

    const verdict = judge(p, ctx({ maxSuspends: 2 }), { force: true });

    expect(verdict.held).toEqual([]);
    expect(verdict.apply.actions).toHaveLength(3);
    expect(verdict.trips.map((t) => t.rail)).toEqual(['maxSuspends']);
  });

  it('holds only the rank changes the budget counts, not first-time bookkeeping', () => {
    const changes = someActions(3, 'set_rank', { before: 'ADMIN', after: 'REGULAR' });
    const first = someActions(2, 'set_rank', { before: null, after: 'REGULAR' }, 'first');

    const verdict = judge(aPlan({ actions: [...changes, ...first] }), ctx({ maxRankChanges: 2 }));

    expect(verdict.heldPlan?.actions).toEqual(changes);
    expect(verdict.apply.actions).toEqual(first);
  });

  it('holds the demotion of the last SUPER with the SUPER grant a budget held', () => {
    // Arrange: the owner hands SUPER to two others; grants are over budget.
    const grants = someActions(2, 'set_rank', { before: 'REGULAR', after: 'SUPER' }, 'heir');
    const demote = anAction({ kind: 'set_rank', email: OWNER, before: 'SUPER', after: 'REGULAR' });

    // Act
    const verdict = judge(aPlan({ actions: [...grants, demote] }), ctx({ maxPrivilegedGrants: 1 }));

    // Assert
    expect(verdict.stops).toEqual([]);
    expect(verdict.apply.actions).toEqual([]);
    expect(verdict.held.map((h) => [h.email, h.rails])).toEqual([
      [`heir0@${DOMAIN}`, ['maxPrivilegedGrants']],
      [`heir1@${DOMAIN}`, ['maxPrivilegedGrants']],
      [OWNER, ['lastSuper']],
    ]);
  });

  it('holds first rank sets below SUPER with the SUPER grants a budget held, when no SUPER is on record', () => {
    // Arrange: no rank on record yet; p0 (SUPER in the organization, unknown to dirsync) leaves
    // the SUPER group while the grants to the new SUPERs are over budget.
    const grants = someActions(2, 'set_rank', { before: null, after: 'SUPER' }, 'heir');
    const firstSet = anAction({ kind: 'set_rank', email: OWNER, before: null, after: 'REGULAR' });
    const noRecords = aStateRecord({ users: [] });
    const context = ctx({ maxPrivilegedGrants: 1 }, noRecords);
    const organization = [
      anOrgUser({ email: OWNER }),
      ...grants.map((g) => anOrgUser({ email: g.email })),
    ];

    // Act
    const verdict = judge(aPlan({ actions: [...grants, firstSet] }), { ...context, organization });

    // Assert
    expect(verdict.stops).toEqual([]);
    expect(verdict.apply.actions).toEqual([]);
    expect(verdict.held.map((h) => [h.email, h.rails])).toEqual([
      [`heir0@${DOMAIN}`, ['maxPrivilegedGrants']],
      [`heir1@${DOMAIN}`, ['maxPrivilegedGrants']],
      [OWNER, ['lastSuper']],
    ]);
  });

  it('lets the last SUPER go only in a later run than the grant of the new one', () => {
    // Arrange: the owner hands SUPER to an heir. If the demotion went out with the grant and the
    // grant failed, nobody would be SUPER: the demotion waits for the grant to be on record.
    const grant = anAction({
      kind: 'set_rank',
      email: `heir@${DOMAIN}`,
      before: 'REGULAR',
      after: 'SUPER',
    });
    const demote = anAction({ kind: 'set_rank', email: OWNER, before: 'SUPER', after: 'REGULAR' });
    const context = ctx({});
    const organization = [...context.organization, anOrgUser({ email: `heir@${DOMAIN}` })];

    // Act
    const verdict = judge(aPlan({ actions: [grant, demote] }), { ...context, organization });

    // Assert
    expect(verdict.stops).toEqual([]);
    expect(verdict.apply.actions).toEqual([grant]);
    expect(verdict.held.map((h) => [h.email, h.rails])).toEqual([[OWNER, ['lastSuper']]]);
    expect(verdict.held[0]?.heldBy).toContain('waits for the SUPER grant of this run to land');
  });

  it('applies the demotion of one SUPER while another stays SUPER on record', () => {
    const other = aUserState({ email: `other@${DOMAIN}`, rank: 'SUPER' });
    const state = aStateRecord({ users: [aUserState({ email: OWNER, rank: 'SUPER' }), other] });
    const demote = anAction({ kind: 'set_rank', email: OWNER, before: 'SUPER', after: 'REGULAR' });

    const verdict = judge(aPlan({ actions: [demote] }), ctx({}, state));

    expect(verdict.held).toEqual([]);
    expect(verdict.apply.actions).toEqual([demote]);
  });

  it('stops the whole run on a stop rail, budgets or not', () => {
    const p = aPlan({ actions: someActions(3, 'suspend'), summary: { directoryUsers: 0 } });

    const verdict = judge(p, ctx({ maxSuspends: 2 }));

    expect(verdict.stops.map((t) => t.rail)).toEqual(['emptyRead']);
  });
});

describe('spentWithin', () => {
  it('sums the entries inside the window and ignores older ones', () => {
    const spent = [
      { at: '2025-03-09T11:00:00.000Z', counts: { deletes: 5 } },
      { at: '2025-03-09T13:00:00.000Z', counts: { deletes: 1, suspends: 2 } },
      { at: '2025-03-10T11:30:00.000Z', counts: { suspends: 1 } },
    ];

    expect(spentWithin(spent, new Date('2025-03-09T12:00:00.000Z'))).toEqual({
      deletes: 1,
      suspends: 3,
    });
    expect(spentWithin(undefined, new Date(0))).toEqual({});
  });
});
