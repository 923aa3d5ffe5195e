import { describe, expect, it } from 'vitest';
import { applyPlan, planProblems } from '../../../src/reconcile/apply.js';
import { aPlan, parseAction, type ActionInput } from '../../unit/reconcile/builders.js';
import { aSeedUser } from '../../support/mock.js';
import { mockApiPerTest } from './harness.js';

const mock = mockApiPerTest();

const joe = { email: 'joe@corp.example.com', emailId: 1004, reason: 'edited by hand' };

describe('a plan that would send a value dirsync refuses (issue 12 item 7)', () => {
  it.each<[string, ActionInput, RegExp]>([
    [
      'a login with ESC and a newline',
      { ...joe, kind: 'set_computer_usernames', before: [], after: ['joe\u001b[2K\nroot'] },
      /action 0 \(set_computer_usernames .*\) holds the login name "joe\\u001b\[2K\\nroot", which holds a control character/,
    ],
    [
      'a login with a space',
      { ...joe, kind: 'set_computer_usernames', before: [], after: ['joe smith'] },
      /holds the login name "joe smith", which holds a space/,
    ],
    [
      'a card that is not digits',
      {
        ...joe,
        kind: 'set_smartcards',
        before: [],
        after: ['AB-77'],
        cards: [{ number: 'AB-77', label: '' }],
      },
      /holds the card number "AB-77", which is not a string of digits/,
    ],
  ])('finds %s', (_what, action, message) => {
    const problems = planProblems([parseAction(action)]);

    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(message);
  });

  it('accepts the values the planner makes', () => {
    expect(
      planProblems(
        [
          { ...joe, kind: 'set_computer_usernames', before: null, after: ['joe', 'jdev'] },
          {
            ...joe,
            kind: 'set_smartcards',
            before: null,
            after: ['0042'],
            cards: [{ number: '0042', label: 'badge\u001b' }],
          },
        ].map((a) => parseAction(a as ActionInput)),
      ),
    ).toEqual([]);
  });

  it('applyPlan refuses such a plan and sends nothing', async () => {
    // Arrange
    await mock.start([aSeedUser({ email: joe.email })], { concurrency: 1 });
    const plan = aPlan({
      actions: [
        parseAction({
          ...joe,
          kind: 'set_computer_usernames',
          before: [],
          after: ['joe\u001b[2K\nroot'],
        }),
      ],
    });

    // Act
    const applying = applyPlan(plan, { api: mock.api, journal: { record: () => undefined } });

    // Assert
    await expect(applying).rejects.toThrow(/the plan is invalid, nothing was sent/);
    expect(mock.server.requests).toEqual([]);
  });
});
