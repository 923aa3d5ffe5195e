import { describe, expect, it } from 'vitest';
import type { Rank } from '../../../src/reconcile/model.js';
import { plan } from '../../../src/reconcile/plan.js';
import { desiredRank } from '../../../src/reconcile/rules.js';
import {
  ADMIN_GROUP,
  aDirectoryUser,
  anInputOf,
  aSyncedPerson,
  DOMAIN,
  emailIdOf,
  someRules,
  STAFF_GROUP,
  SUPER_GROUP,
  userIdOf,
} from './builders.js';

const JOE = `joe@${DOMAIN}`;
/** A group nested in IT-Admins: the source resolved it, so the user lists both. */
const NESTED_IN_ADMINS = 'CN=Helpdesk,OU=Groups,DC=corp,DC=example,DC=com';

describe('desiredRank', () => {
  it.each<[string, string[], Rank]>([
    ['no group', [], 'REGULAR'],
    ['an unrelated group', [STAFF_GROUP], 'REGULAR'],
    ['the ADMIN group', [ADMIN_GROUP], 'ADMIN'],
    ['the SUPER group', [SUPER_GROUP], 'SUPER'],
    ['SUPER and ADMIN groups', [ADMIN_GROUP, SUPER_GROUP], 'SUPER'],
    ['ADMIN by nesting', [NESTED_IN_ADMINS, ADMIN_GROUP], 'ADMIN'],
    [
      'the ADMIN group, DN in another case and spacing',
      ['cn=it-admins, ou=GROUPS, dc=corp,dc=example,dc=com'],
      'ADMIN',
    ],
  ])('in %s: %s', (_label, groups, rank) => {
    expect(desiredRank(aDirectoryUser({ groups }), someRules()).rank).toBe(rank);
  });

  it('compares the config DNs case-insensitively', () => {
    const rules = someRules({
      ranks: { SUPER: [], ADMIN: ['cn=IT-ADMINS,ou=groups,DC=CORP,dc=Example,dc=com'] },
    });

    expect(desiredRank(aDirectoryUser({ groups: [ADMIN_GROUP] }), rules)).toEqual({
      rank: 'ADMIN',
      why: 'member of cn=IT-ADMINS,ou=groups,DC=CORP,dc=Example,dc=com',
    });
  });
});

describe('set_rank', () => {
  it.each<[string, string[], Rank | undefined, Rank | null, Rank, string]>([
    [
      'no record: one call, before unknown',
      [],
      undefined,
      null,
      'REGULAR',
      'in no SUPER or ADMIN group; no rank on record yet',
    ],
    [
      'no record, ADMIN group',
      [ADMIN_GROUP],
      undefined,
      null,
      'ADMIN',
      `member of ${ADMIN_GROUP}; no rank on record yet`,
    ],
    ['promotion', [SUPER_GROUP], 'ADMIN', 'ADMIN', 'SUPER', `member of ${SUPER_GROUP}`],
    ['demotion', [], 'SUPER', 'SUPER', 'REGULAR', 'in no SUPER or ADMIN group'],
    [
      'SUPER wins over ADMIN',
      [ADMIN_GROUP, SUPER_GROUP],
      'REGULAR',
      'REGULAR',
      'SUPER',
      `member of ${SUPER_GROUP}`,
    ],
    [
      'ADMIN through a nested group',
      [NESTED_IN_ADMINS, ADMIN_GROUP],
      'REGULAR',
      'REGULAR',
      'ADMIN',
      `member of ${ADMIN_GROUP}`,
    ],
  ])('%s', (_label, groups, recorded, before, after, reason) => {
    // Arrange
    const joe = aSyncedPerson(JOE, { dir: { groups }, record: { rank: recorded } });

    // Act
    const result = plan(anInputOf([joe]));

    // Assert
    expect(result.actions).toEqual([
      {
        kind: 'set_rank',
        email: JOE,
        emailId: emailIdOf(JOE),
        userId: userIdOf(JOE),
        reason,
        before,
        after,
      },
    ]);
  });

  it.each<[string, string[], Rank]>([
    ['REGULAR', [STAFF_GROUP], 'REGULAR'],
    ['ADMIN', [ADMIN_GROUP], 'ADMIN'],
    ['SUPER', [SUPER_GROUP, ADMIN_GROUP], 'SUPER'],
  ])('does nothing when the record already says %s', (_label, groups, rank) => {
    const joe = aSyncedPerson(JOE, { dir: { groups }, record: { rank } });

    expect(plan(anInputOf([joe])).actions).toEqual([]);
  });

  it('does nothing with ranks.manage: false', () => {
    const joe = aSyncedPerson(JOE, { dir: { groups: [SUPER_GROUP] }, record: { rank: undefined } });
    const rules = someRules({ ranks: { SUPER: [SUPER_GROUP], ADMIN: [], manage: false } });

    expect(plan(anInputOf([joe], { rules })).actions).toEqual([]);
  });

  describe('protected users', () => {
    it.each<[string, string[], Rank | undefined, Rank]>([
      ['SUPER -> REGULAR', [], 'SUPER', 'REGULAR'],
      ['SUPER -> ADMIN', [ADMIN_GROUP], 'SUPER', 'ADMIN'],
      ['ADMIN -> REGULAR', [], 'ADMIN', 'REGULAR'],
      ['unknown -> REGULAR (may be a demotion)', [], undefined, 'REGULAR'],
      ['unknown -> ADMIN (may be a demotion)', [ADMIN_GROUP], undefined, 'ADMIN'],
    ])('are never demoted: %s gives a note', (_label, groups, recorded, wanted) => {
      // Arrange
      const joe = aSyncedPerson(JOE, { dir: { groups }, record: { rank: recorded } });

      // Act: the list is matched case-insensitively.
      const result = plan(anInputOf([joe], { protectedUsers: ['  JOE@Corp.Example.com'] }));

      // Assert
      expect(result.actions).toEqual([]);
      expect(result.notes).toEqual([
        { email: JOE, message: expect.stringContaining(`rank not set to ${wanted}`) as unknown },
      ]);
    });

    it.each<[string, string[], Rank | undefined, Rank]>([
      ['REGULAR -> ADMIN', [ADMIN_GROUP], 'REGULAR', 'ADMIN'],
      ['ADMIN -> SUPER', [SUPER_GROUP], 'ADMIN', 'SUPER'],
      ['unknown -> SUPER', [SUPER_GROUP], undefined, 'SUPER'],
    ])('may be promoted: %s', (_label, groups, recorded, wanted) => {
      const joe = aSyncedPerson(JOE, { dir: { groups }, record: { rank: recorded } });

      const result = plan(anInputOf([joe], { protectedUsers: [JOE] }));

      expect(result.actions).toMatchObject([
        { kind: 'set_rank', before: recorded ?? null, after: wanted },
      ]);
      expect(result.notes).toEqual([]);
    });
  });
});
