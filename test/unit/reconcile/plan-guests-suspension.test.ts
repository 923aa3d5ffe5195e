import { describe, expect, it } from 'vitest';
import type { DirectoryUser } from '../../../src/directory/model.js';
import type { AdStatus } from '../../../src/reconcile/model.js';
import { plan } from '../../../src/reconcile/plan.js';
import type { UserState } from '../../../src/state/model.js';
import {
  ADMIN_GROUP,
  anInputOf,
  anOrgUser,
  aSyncedPerson,
  aUserState,
  daysAgo,
  DOMAIN,
  emailIdOf,
  kindsOf,
  someRules,
  STAFF_GROUP,
  SUSPEND_GROUP,
} from './builders.js';

const GIL = `gil@${DOMAIN}`;
const JOE = `joe@${DOMAIN}`;

/** A guest found in the directory; guests have no record yet. */
function aGuest(dir: Partial<DirectoryUser> = {}) {
  const { dir: d, org } = aSyncedPerson(GIL, { dir, org: { tag: 'GUEST' } });
  return { dir: d, org };
}

describe('guests', () => {
  it('promotes a guest found in the directory', () => {
    const gil = aGuest();

    const result = plan(anInputOf([gil], { rules: someRules({ computerUsernames: 'ignore' }) }));

    expect(result.actions).toEqual([
      {
        kind: 'promote_guest',
        email: GIL,
        emailId: emailIdOf(GIL),
        reason: `guest found in the directory (${gil.dir.dn})`,
        before: 'GUEST',
        after: 'USER',
      },
      expect.objectContaining({ kind: 'set_rank', before: null, after: 'REGULAR' }),
    ]);
    expect(result.notes).toEqual([]);
  });

  it('with promoteGuests.groups, promotes a guest in one of them', () => {
    const gil = aGuest({ groups: [STAFF_GROUP] });
    const rules = someRules({ promoteGuests: { groups: [ADMIN_GROUP, STAFF_GROUP] } });

    const result = plan(anInputOf([gil], { rules }));

    expect(result.actions[0]).toMatchObject({
      kind: 'promote_guest',
      reason: `guest in ${STAFF_GROUP}`,
    });
  });

  it.each<[string, Partial<DirectoryUser>, object, string]>([
    [
      'in none of promoteGuests.groups',
      { groups: [] },
      { promoteGuests: { groups: [STAFF_GROUP] } },
      'in none of promoteGuests.groups',
    ],
    ['disabled in the directory', { disabled: true }, {}, 'guest not promoted: disabled'],
    ['expired in the directory', { expired: true }, {}, 'guest not promoted: account expired'],
    [
      'in a suspend group',
      { groups: [SUSPEND_GROUP] },
      { suspend: { groups: [SUSPEND_GROUP] } },
      'guest not promoted: member of the suspend group',
    ],
  ])('leaves a guest %s a guest, with a note', (_label, dir, rules, message) => {
    // Arrange
    const gil = aGuest(dir);

    // Act
    const result = plan(anInputOf([gil], { rules: someRules(rules) }));

    // Assert
    expect(result.actions).toEqual([]);
    expect(result.notes).toEqual([
      { email: GIL, message: expect.stringContaining(message) as unknown },
    ]);
  });

  it('does nothing at all with guests when promoteGuests.enabled is false', () => {
    const gil = aGuest({ groups: [ADMIN_GROUP] });

    const result = plan(
      anInputOf([gil], { rules: someRules({ promoteGuests: { enabled: false } }) }),
    );

    expect(result.actions).toEqual([]);
    expect(result.notes).toEqual([]);
  });

  it('promotes a guest who is also an admin before setting the rank', () => {
    const gil = aGuest({ groups: [ADMIN_GROUP] });

    const result = plan(anInputOf([gil]));

    expect(kindsOf(result, GIL)).toEqual(['promote_guest', 'set_computer_usernames', 'set_rank']);
    expect(result.actions[2]).toMatchObject({ kind: 'set_rank', before: null, after: 'ADMIN' });
  });

  it.each([
    ['delete, graceDays 0', { action: 'delete', graceDays: 0 }],
    ['delete, graceDays 7', { action: 'delete', graceDays: 7 }],
    ['suspend', { action: 'suspend', graceDays: 7 }],
  ] as const)(
    'never suspends or removes a guest absent from the directory (%s)',
    (_label, removed) => {
      const guest = anOrgUser({ email: GIL, tag: 'GUEST' });
      const record = aUserState({ email: GIL, missingSince: daysAgo(100) });

      const result = plan(anInputOf([{ org: guest, record }], { rules: someRules({ removed }) }));

      expect(result.actions).toEqual([]);
      expect(result.timers.started).toEqual({});
    },
  );
});

describe('suspension', () => {
  const causes: [string, Partial<DirectoryUser>, string][] = [
    [
      'disabled',
      { disabled: true },
      'disabled in the directory (CN=joe,OU=Staff,DC=corp,DC=example,DC=com)',
    ],
    [
      'expired',
      { expired: true },
      'account expired in the directory (CN=joe,OU=Staff,DC=corp,DC=example,DC=com)',
    ],
    [
      'in a suspend group',
      { groups: [SUSPEND_GROUP] },
      `member of the suspend group ${SUSPEND_GROUP}`,
    ],
  ];
  const rules = someRules({ suspend: { groups: [SUSPEND_GROUP] } });

  it.each(causes)('suspends an ACTIVE user who is %s, naming the cause', (_label, dir, reason) => {
    // Arrange
    const joe = aSyncedPerson(JOE, { dir });

    // Act
    const result = plan(anInputOf([joe], { rules }));

    // Assert
    expect(result.actions).toEqual([
      {
        kind: 'suspend',
        email: JOE,
        emailId: emailIdOf(JOE),
        reason,
        before: 'ACTIVE',
        after: 'SUSPENDED',
      },
    ]);
  });

  it.each(causes)('only notes a PENDING user who is %s (cannot be suspended)', (_label, dir) => {
    const joe = aSyncedPerson(JOE, { dir, org: { adStatus: 'PENDING' } });

    const result = plan(anInputOf([joe], { rules }));

    expect(result.actions).toEqual([]);
    expect(result.notes).toEqual([
      {
        email: JOE,
        message: expect.stringContaining('cannot be suspended while PENDING') as unknown,
      },
    ]);
  });

  it.each(causes)('leaves an already SUSPENDED user who is %s alone', (_label, dir) => {
    const joe = aSyncedPerson(JOE, {
      dir,
      org: { adStatus: 'SUSPENDED' },
      record: { suspendedByDirsync: true },
    });

    const result = plan(anInputOf([joe], { rules }));

    expect(result.actions).toEqual([]);
    expect(result.notes).toEqual([]);
  });

  it.each(causes)('never suspends a protected user who is %s: a note instead', (_label, dir) => {
    const joe = aSyncedPerson(JOE, { dir });

    const result = plan(anInputOf([joe], { rules, protectedUsers: ['JOE@corp.example.com'] }));

    expect(result.actions).toEqual([]);
    expect(result.notes).toEqual([
      { email: JOE, message: expect.stringContaining('protected user not suspended') as unknown },
    ]);
  });

  it.each<[string, AdStatus, Partial<UserState>, string[], string[]]>([
    [
      're-enabled, suspended by dirsync: unsuspend',
      'SUSPENDED',
      { suspendedByDirsync: true },
      ['unsuspend'],
      [],
    ],
    [
      'suspended by someone else: left, with a note',
      'SUSPENDED',
      {},
      [],
      ['suspended in the organization but not by dirsync: left suspended'],
    ],
    ['ACTIVE and enabled: nothing', 'ACTIVE', {}, [], []],
    ['PENDING and enabled: nothing', 'PENDING', {}, [], []],
  ])('an enabled user %s', (_label, adStatus, record, kinds, messages) => {
    const joe = aSyncedPerson(JOE, { org: { adStatus }, record });

    const result = plan(anInputOf([joe], { rules }));

    expect(kindsOf(result, JOE)).toEqual(kinds);
    expect(result.notes.map((n) => n.message)).toEqual(messages);
  });

  it('unsuspends with before SUSPENDED and after ACTIVE, saying why', () => {
    const joe = aSyncedPerson(JOE, {
      org: { adStatus: 'SUSPENDED' },
      record: { suspendedByDirsync: true },
    });

    expect(plan(anInputOf([joe])).actions).toEqual([
      {
        kind: 'unsuspend',
        email: JOE,
        emailId: emailIdOf(JOE),
        reason: 'enabled again in the directory',
        before: 'SUSPENDED',
        after: 'ACTIVE',
      },
    ]);
  });

  it.each<[string, Partial<DirectoryUser>]>([
    ['disabled', { disabled: true }],
    ['expired', { expired: true }],
  ])('ignores the %s flag with suspend.disabledAccounts: false', (_label, dir) => {
    const joe = aSyncedPerson(JOE, { dir });

    const result = plan(
      anInputOf([joe], { rules: someRules({ suspend: { disabledAccounts: false } }) }),
    );

    expect(result.actions).toEqual([]);
  });

  it('still suspends a member of a suspend group with suspend.disabledAccounts: false', () => {
    const joe = aSyncedPerson(JOE, { dir: { groups: [SUSPEND_GROUP] } });
    const noFlags = someRules({ suspend: { disabledAccounts: false, groups: [SUSPEND_GROUP] } });

    expect(kindsOf(plan(anInputOf([joe], { rules: noFlags })), JOE)).toEqual(['suspend']);
  });

  it('matches the suspend group DN case-insensitively', () => {
    const joe = aSyncedPerson(JOE, { dir: { groups: [SUSPEND_GROUP] } });
    const shouting = someRules({ suspend: { groups: [SUSPEND_GROUP.toUpperCase()] } });

    expect(kindsOf(plan(anInputOf([joe], { rules: shouting })), JOE)).toEqual(['suspend']);
  });
});
