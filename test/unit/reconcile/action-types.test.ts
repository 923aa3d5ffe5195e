import { describe, expect, expectTypeOf, it } from 'vitest';
import type { EmailId, UserId } from '../../../src/api/ids.js';
import {
  Plan,
  type Action,
  type ActionOf,
  type AdStatus,
  type Card,
  type Rank,
} from '../../../src/reconcile/model.js';
import { plan } from '../../../src/reconcile/plan.js';
import {
  ADMIN_GROUP,
  aSyncedPerson,
  aUserState,
  anInputOf,
  daysAgo,
  someRules,
} from './builders.js';

// Issue 15 item 4, seen on main: "a plan's actions are before/after: unknown and are cast in
// apply.ts". Each kind now says what its before and after hold; tsc checks these.
describe('typed actions', () => {
  it('give each kind its own before and after', () => {
    expectTypeOf<ActionOf<'set_rank'>['before']>().toEqualTypeOf<Rank | null>();
    expectTypeOf<ActionOf<'set_rank'>['after']>().toEqualTypeOf<Rank>();
    expectTypeOf<ActionOf<'set_rank'>['userId']>().toEqualTypeOf<UserId>();
    expectTypeOf<ActionOf<'set_computer_usernames'>['after']>().toEqualTypeOf<string[]>();
    expectTypeOf<ActionOf<'set_smartcards'>['cards']>().toEqualTypeOf<Card[]>();
    expectTypeOf<ActionOf<'suspend'>['after']>().toEqualTypeOf<'SUSPENDED'>();
    expectTypeOf<ActionOf<'unsuspend'>['after']>().toEqualTypeOf<'ACTIVE'>();
    expectTypeOf<ActionOf<'promote_guest'>['after']>().toEqualTypeOf<'USER'>();
    expectTypeOf<ActionOf<'remove'>['before']>().toEqualTypeOf<AdStatus>();
    expectTypeOf<ActionOf<'remove'>['after']>().toEqualTypeOf<null>();
    expectTypeOf<Action['emailId']>().toEqualTypeOf<EmailId>();
    // A rank that does not exist, and a user_id where it does not belong, do not compile.
    expectTypeOf<{ kind: 'set_rank'; after: 'OWNER' }>().not.toExtend<ActionOf<'set_rank'>>();
    expectTypeOf<ActionOf<'suspend'>>().not.toHaveProperty('userId');
  });

  it('a plan survives JSON and the schema unchanged: every action the planner makes is valid', () => {
    // Arrange: one person with every kind of change but promotion, one leaver past grace.
    const joe = aSyncedPerson('joe@corp.example.com', {
      dir: { groups: [ADMIN_GROUP], logins: ['joe'], smartcards: ['0042'], disabled: true },
      record: { rank: 'REGULAR', computerUsernames: ['old'], smartcards: [] },
    });
    const gone = aSyncedPerson('gone@corp.example.com', {
      record: { missingSince: daysAgo(30) },
    });
    const input = anInputOf([joe, { org: gone.org, record: aUserState(gone.record) }], {
      rules: someRules({ smartcards: 'manage', removed: { action: 'delete', graceDays: 7 } }),
    });
    const made = plan(input);

    // Act
    const read = Plan.parse(JSON.parse(JSON.stringify(made)));

    // Assert
    expect(made.actions.map((a) => a.kind).sort()).toEqual([
      'remove',
      'set_computer_usernames',
      'set_rank',
      'set_smartcards',
      'suspend',
    ]);
    expect(read).toEqual(made);
  });
});
