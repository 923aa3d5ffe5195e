import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { RulesConfig } from '../../../src/config/schema.js';
import type { AdStatus } from '../../../src/reconcile/model.js';
import { plan } from '../../../src/reconcile/plan.js';
import type { UserState } from '../../../src/state/model.js';
import {
  anInputOf,
  anOrgUser,
  aSyncedPerson,
  aUserState,
  daysAgo,
  DOMAIN,
  emailIdOf,
  NOW,
  someRules,
} from './builders.js';

const JOE = `joe@${DOMAIN}`;
type Removed = z.input<typeof RulesConfig>['removed'];

/** Joe is in the organization (in scope) but no longer in the directory. */
function absentJoe(adStatus: AdStatus, record: Partial<UserState> | undefined) {
  return {
    org: anOrgUser({ email: JOE, adStatus }),
    ...(record === undefined
      ? {}
      : { record: aUserState({ email: JOE, rank: 'REGULAR', ...record }) }),
  };
}

describe('two-phase removal of users gone from the directory', () => {
  const delete7: Removed = { action: 'delete', graceDays: 7 };

  it.each<[string, Removed, AdStatus, string | undefined, string[], boolean]>([
    // label, removed, adStatus, missingSince, kinds, timer started
    ['no timer yet: suspend and start the timer', delete7, 'ACTIVE', undefined, ['suspend'], true],
    [
      'no timer, already SUSPENDED: start the timer only',
      delete7,
      'SUSPENDED',
      undefined,
      [],
      true,
    ],
    [
      'timer younger than graceDays, still ACTIVE: suspend',
      delete7,
      'ACTIVE',
      daysAgo(3),
      ['suspend'],
      false,
    ],
    [
      'timer younger than graceDays, SUSPENDED: nothing',
      delete7,
      'SUSPENDED',
      daysAgo(6.9),
      [],
      false,
    ],
    ['timer exactly graceDays old: remove', delete7, 'SUSPENDED', daysAgo(7), ['remove'], false],
    ['timer older than graceDays: remove', delete7, 'SUSPENDED', daysAgo(30), ['remove'], false],
    [
      'timer older than graceDays, ACTIVE again: remove',
      delete7,
      'ACTIVE',
      daysAgo(30),
      ['remove'],
      false,
    ],
    [
      'graceDays 0: remove in the same run, no suspend',
      { action: 'delete', graceDays: 0 },
      'ACTIVE',
      undefined,
      ['remove'],
      true,
    ],
    [
      'action suspend, no timer: suspend',
      { action: 'suspend', graceDays: 7 },
      'ACTIVE',
      undefined,
      ['suspend'],
      true,
    ],
    [
      'action suspend never removes',
      { action: 'suspend', graceDays: 0 },
      'SUSPENDED',
      daysAgo(365),
      [],
      false,
    ],
    [
      'action ignore, ACTIVE: nothing, no timer',
      { action: 'ignore', graceDays: 0 },
      'ACTIVE',
      undefined,
      [],
      false,
    ],
    [
      'action ignore, old timer: nothing',
      { action: 'ignore', graceDays: 0 },
      'SUSPENDED',
      daysAgo(365),
      [],
      false,
    ],
  ])('%s', (_label, removed, adStatus, missingSince, kinds, started) => {
    // Arrange
    const joe = absentJoe(adStatus, missingSince === undefined ? {} : { missingSince });

    // Act
    const result = plan(anInputOf([joe], { rules: someRules({ removed }) }));

    // Assert
    expect(result.actions.map((a) => a.kind)).toEqual(kinds);
    expect(result.timers).toEqual({
      started: started ? { [String(emailIdOf(JOE))]: NOW.toISOString() } : {},
      cleared: [],
    });
    expect(result.notes).toEqual([]);
  });

  it('suspends first, with a reason that names the grace period', () => {
    const result = plan(
      anInputOf([absentJoe('ACTIVE', undefined)], { rules: someRules({ removed: delete7 }) }),
    );

    expect(result.actions).toEqual([
      {
        kind: 'suspend',
        email: JOE,
        emailId: emailIdOf(JOE),
        reason: `not in the directory since ${NOW.toISOString()}: suspended until removal after 7 days`,
        before: 'ACTIVE',
        after: 'SUSPENDED',
      },
    ]);
  });

  it('removes after the grace period, with before the current status and after null', () => {
    const since = daysAgo(8);

    const result = plan(
      anInputOf([absentJoe('SUSPENDED', { missingSince: since })], {
        rules: someRules({ removed: delete7 }),
      }),
    );

    expect(result.actions).toEqual([
      {
        kind: 'remove',
        email: JOE,
        emailId: emailIdOf(JOE),
        reason: `not in the directory since ${since} (8 days, graceDays 7)`,
        before: 'SUSPENDED',
        after: null,
      },
    ]);
  });

  it('only notes an absent PENDING user whose grace is not over (cannot be suspended)', () => {
    const result = plan(
      anInputOf([absentJoe('PENDING', undefined)], { rules: someRules({ removed: delete7 }) }),
    );

    expect(result.actions).toEqual([]);
    expect(result.notes).toEqual([
      { email: JOE, message: 'not in the directory, and cannot be suspended while PENDING' },
    ]);
  });

  it.each<[string, Removed, string | undefined]>([
    ['delete, graceDays 0', { action: 'delete', graceDays: 0 }, undefined],
    ['delete, grace long over', delete7, daysAgo(100)],
    ['suspend', { action: 'suspend', graceDays: 7 }, undefined],
  ])(
    'never suspends or removes a protected absent user (%s): a note',
    (_label, removed, missingSince) => {
      const joe = absentJoe('ACTIVE', missingSince === undefined ? {} : { missingSince });

      const result = plan(
        anInputOf([joe], {
          rules: someRules({ removed }),
          protectedUsers: ['Joe@Corp.Example.Com'],
        }),
      );

      expect(result.actions).toEqual([]);
      expect(result.notes).toEqual([
        { email: JOE, message: 'not in the directory, but protected: left alone' },
      ]);
    },
  );

  describe('a user who comes back', () => {
    it.each<[string, AdStatus, Partial<UserState>, string[], string[]]>([
      [
        'suspended by dirsync: timer cleared and unsuspended',
        'SUSPENDED',
        { suspendedByDirsync: true },
        ['unsuspend'],
        [],
      ],
      ['still ACTIVE: timer cleared, nothing else', 'ACTIVE', {}, [], []],
      [
        'suspended by someone else: timer cleared, left suspended',
        'SUSPENDED',
        {},
        [],
        ['suspended in the organization but not by dirsync: left suspended'],
      ],
    ])('%s', (_label, adStatus, record, kinds, notes) => {
      // Arrange
      const joe = aSyncedPerson(JOE, {
        org: { adStatus },
        record: { missingSince: daysAgo(3), ...record },
      });

      // Act
      const result = plan(anInputOf([joe], { rules: someRules({ removed: delete7 }) }));

      // Assert
      expect(result.timers).toEqual({ started: {}, cleared: [emailIdOf(JOE)] });
      expect(result.actions.map((a) => a.kind)).toEqual(kinds);
      expect(result.notes.map((n) => n.message)).toEqual(notes);
    });

    it('is unsuspended with the reason "back in the directory"', () => {
      const joe = aSyncedPerson(JOE, {
        org: { adStatus: 'SUSPENDED' },
        record: { missingSince: daysAgo(3), suspendedByDirsync: true },
      });

      const result = plan(anInputOf([joe], { rules: someRules({ removed: delete7 }) }));

      expect(result.actions).toEqual([
        {
          kind: 'unsuspend',
          email: JOE,
          emailId: emailIdOf(JOE),
          reason: 'back in the directory',
          before: 'SUSPENDED',
          after: 'ACTIVE',
        },
      ]);
    });

    it('matched through an alias counts as back', () => {
      const joe = aSyncedPerson(`joseph@${DOMAIN}`, { dir: { aliases: [JOE] } });
      const org = anOrgUser({ email: JOE, adStatus: 'SUSPENDED' });
      const record = aUserState({
        email: JOE,
        rank: 'REGULAR',
        computerUsernames: ['joseph'],
        missingSince: daysAgo(3),
        suspendedByDirsync: true,
      });

      const result = plan(
        anInputOf([{ dir: joe.dir, org, record }], { rules: someRules({ removed: delete7 }) }),
      );

      expect(result.timers.cleared).toEqual([emailIdOf(JOE)]);
      expect(result.actions.map((a) => a.kind)).toEqual(['unsuspend']);
    });
  });
});
