import { describe, expect, it } from 'vitest';
import type { OrgDetails } from '../../../src/reconcile/model.js';
import { detailReadsNeeded, plan } from '../../../src/reconcile/plan.js';
import type { UserState } from '../../../src/state/model.js';
import {
  actionOf,
  anInputOf,
  aSyncedPerson,
  DOMAIN,
  emailIdOf,
  someDetails,
  someRules,
} from './builders.js';

const JOE = `joe@${DOMAIN}`;

describe('computer usernames', () => {
  it.each<[string, string[], Partial<UserState>, Partial<OrgDetails> | undefined, unknown]>([
    ['record differs', ['jdev', 'joe'], { computerUsernames: ['jdev'] }, undefined, ['jdev']],
    [
      'no record, no details: before unknown',
      ['joe'],
      { computerUsernames: undefined },
      undefined,
      null,
    ],
    [
      'details differ (record agrees)',
      ['joe'],
      { computerUsernames: ['joe'] },
      { computerUsernames: ['JOE', 'x'] },
      ['JOE', 'x'],
    ],
    [
      'details differ, no record',
      ['b', 'a'],
      { computerUsernames: undefined },
      { computerUsernames: ['c'] },
      ['c'],
    ],
    ['details empty', ['joe'], { computerUsernames: ['joe'] }, { computerUsernames: [] }, []],
  ])('sets them when they differ: %s', (_label, logins, record, details, before) => {
    // Arrange
    const joe = aSyncedPerson(JOE, { dir: { logins }, record });
    const input = anInputOf([joe], {
      details: someDetails(details === undefined ? {} : { [JOE]: details }),
    });

    // Act
    const result = plan(input);

    // Assert
    expect(result.actions).toEqual([
      {
        kind: 'set_computer_usernames',
        email: JOE,
        emailId: emailIdOf(JOE),
        reason: `login names from the directory (${joe.dir.dn})`,
        before,
        after: [...logins].sort(),
      },
    ]);
  });

  it.each<[string, string[], Partial<UserState>, Partial<OrgDetails> | undefined]>([
    ['record equal', ['joe', 'jdev'], { computerUsernames: ['jdev', 'joe'] }, undefined],
    [
      'record equal in another order',
      ['joe', 'jdev'],
      { computerUsernames: ['joe', 'jdev'] },
      undefined,
    ],
    [
      'details equal in another order, record stale',
      ['a', 'b'],
      { computerUsernames: ['z'] },
      { computerUsernames: ['b', 'a'] },
    ],
    ['both empty', [], { computerUsernames: [] }, undefined],
  ])('does nothing when they are the same: %s', (_label, logins, record, details) => {
    const joe = aSyncedPerson(JOE, { dir: { logins }, record });

    const result = plan(
      anInputOf([joe], { details: someDetails(details === undefined ? {} : { [JOE]: details }) }),
    );

    expect(result.actions).toEqual([]);
  });

  it('does nothing with computerUsernames: ignore, however they differ', () => {
    const joe = aSyncedPerson(JOE, {
      dir: { logins: ['new'] },
      record: { computerUsernames: undefined },
    });

    const result = plan(
      anInputOf([joe], {
        rules: someRules({ computerUsernames: 'ignore' }),
        details: someDetails({ [JOE]: { computerUsernames: ['old'] } }),
      }),
    );

    expect(result.actions).toEqual([]);
  });
});

describe('smart cards', () => {
  const manage = someRules({ smartcards: 'manage' });

  it('is ignored by default', () => {
    const joe = aSyncedPerson(JOE, {
      dir: { smartcards: ['123'] },
      record: { smartcards: undefined },
    });

    const result = plan(anInputOf([joe]));

    expect(someRules().smartcards).toBe('ignore');
    expect(result.actions).toEqual([]);
  });

  it('sets them when they differ, keeping the labels the organization has', () => {
    // Arrange
    const joe = aSyncedPerson(JOE, { dir: { smartcards: ['333', '111', '222'] } });
    const details = someDetails({
      [JOE]: {
        computerUsernames: ['joe'],
        smartcards: [
          { number: '222', label: 'badge' },
          { number: '999', label: 'old' },
        ],
      },
    });

    // Act
    const result = plan(anInputOf([joe], { rules: manage, details }));

    // Assert
    expect(result.actions).toEqual([
      {
        kind: 'set_smartcards',
        email: JOE,
        emailId: emailIdOf(JOE),
        reason: `smart card numbers from the directory (${joe.dir.dn})`,
        before: ['222', '999'],
        after: ['111', '222', '333'],
        cards: [
          { number: '111', label: '' },
          { number: '222', label: 'badge' },
          { number: '333', label: '' },
        ],
      },
    ]);
  });

  it.each<[string, Partial<UserState>, unknown]>([
    ['from the record when no details were read', { smartcards: ['1'] }, ['1']],
    ['null when nothing is known', { smartcards: undefined }, null],
  ])('takes before %s', (_label, record, before) => {
    const joe = aSyncedPerson(JOE, { dir: { smartcards: ['2'] }, record });

    const result = plan(anInputOf([joe], { rules: manage }));

    expect(actionOf(result, 'set_smartcards')).toMatchObject({
      before,
      after: ['2'],
      cards: [{ number: '2', label: '' }],
    });
  });

  it.each<[string, Partial<UserState>, Partial<OrgDetails> | undefined]>([
    ['record equal in another order', { smartcards: ['2', '1'] }, undefined],
    [
      'details equal, record stale',
      { smartcards: ['9'] },
      {
        computerUsernames: ['joe'],
        smartcards: [
          { number: '1', label: 'x' },
          { number: '2', label: '' },
        ],
      },
    ],
  ])('does nothing when they are the same: %s', (_label, record, details) => {
    const joe = aSyncedPerson(JOE, { dir: { smartcards: ['1', '2'] }, record });

    const result = plan(
      anInputOf([joe], {
        rules: manage,
        details: someDetails(details === undefined ? {} : { [JOE]: details }),
      }),
    );

    expect(result.actions).toEqual([]);
  });

  // BUG: POST /modifysmartcard replaces the whole list, and the state record keeps card numbers
  // only, not labels. When the record vouches for the numbers, no `GET /user` is read, so a
  // change (here: a card added) is planned without the labels and sends '' for the card the user
  // keeps: the label an administrator gave it ("badge") is wiped. A user whose cards are about to
  // change needs their details read first (or the record must keep labels).
  it('keeps the label of a card the user keeps when the record vouches for the numbers', () => {
    // Arrange: the organization has card 111 labelled "badge"; the directory adds 222.
    const joe = aSyncedPerson(JOE, {
      dir: { smartcards: ['111', '222'] },
      record: { smartcards: ['111'] },
    });
    const inOrganization: OrgDetails = {
      computerUsernames: ['joe'],
      smartcards: [{ number: '111', label: 'badge' }],
    };
    const base = anInputOf([joe], { rules: manage });

    // Act: as a run does it: read the details the planner asks for, then plan.
    const ids = detailReadsNeeded(base, { sweep: false });
    const details = new Map(ids.map((id) => [id, inOrganization]));
    const result = plan({ ...base, details });

    // Assert
    expect(actionOf(result, 'set_smartcards')?.cards).toEqual([
      { number: '111', label: 'badge' },
      { number: '222', label: '' },
    ]);
  });
});
