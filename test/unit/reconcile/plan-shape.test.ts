import { describe, expect, it } from 'vitest';
import type { DirectoryUser } from '../../../src/directory/model.js';
import { ACTION_ORDER } from '../../../src/reconcile/model.js';
import { detailReadsNeeded, plan, sweepDue, type PlanInput } from '../../../src/reconcile/plan.js';
import { renderPlan } from '../../../src/reconcile/render.js';
import {
  ADMIN_GROUP,
  aDirectoryUser,
  anInputOf,
  anOrgUser,
  aStateRecord,
  aSyncedPerson,
  aUserState,
  daysAgo,
  DOMAIN,
  emailIdOf,
  kindsOf,
  NOW,
  someRules,
  SUSPEND_GROUP,
} from './builders.js';

const AMY = `amy@${DOMAIN}`;
const BEN = `ben@${DOMAIN}`;
const GIL = `gil@${DOMAIN}`;
const ZED = `zed@${DOMAIN}`;

/** A busy little organization: every kind of action, users listed out of order. */
function aBusyInput(): PlanInput {
  // Gil: a guest dirsync once suspended, back and enabled, an admin with a card: five kinds.
  const gil = aSyncedPerson(GIL, {
    dir: { groups: [ADMIN_GROUP], logins: ['gil'], smartcards: ['42'] },
    org: { tag: 'GUEST', adStatus: 'SUSPENDED' },
    record: {
      rank: undefined,
      computerUsernames: undefined,
      smartcards: undefined,
      suspendedByDirsync: true,
    },
  });
  const zed = aSyncedPerson(ZED, { dir: { groups: [SUSPEND_GROUP] } });
  const amy = aSyncedPerson(AMY, {
    dir: { logins: ['amy', 'amy2'] },
    record: { computerUsernames: ['amy'] },
  });
  const ben = {
    org: anOrgUser({ email: BEN }),
    record: aUserState({ email: BEN, missingSince: daysAgo(10) }),
  };
  const out = aDirectoryUser({ email: `new@${DOMAIN}` });
  return anInputOf([zed, ben, gil, amy, { dir: out }], {
    rules: someRules({
      smartcards: 'manage',
      suspend: { groups: [SUSPEND_GROUP] },
      removed: { action: 'delete', graceDays: 7 },
    }),
  });
}

describe('plan shape', () => {
  it('orders actions by user email, then per user in the fixed order', () => {
    const result = plan(aBusyInput());

    expect(kindsOf(result)).toEqual([
      `set_computer_usernames ${AMY}`,
      `remove ${BEN}`,
      `promote_guest ${GIL}`,
      `unsuspend ${GIL}`,
      `set_computer_usernames ${GIL}`,
      `set_smartcards ${GIL}`,
      `set_rank ${GIL}`,
      `suspend ${ZED}`,
    ]);
  });

  it('keeps the per-user order the design asks for', () => {
    expect(ACTION_ORDER).toEqual([
      'promote_guest',
      'unsuspend',
      'set_computer_usernames',
      'set_smartcards',
      'set_rank',
      'suspend',
      'remove',
    ]);
  });

  it('is deterministic: the same input twice gives equal plans', () => {
    expect(plan(aBusyInput())).toEqual(plan(aBusyInput()));
  });

  it('does not depend on the order of the listings for its actions', () => {
    const input = aBusyInput();
    const reversed = {
      ...input,
      directory: [...input.directory].reverse(),
      organization: [...input.organization].reverse(),
    };

    const a = plan(input);
    const b = plan(reversed);

    expect(b.actions).toEqual(a.actions);
    expect(b.notInOrganization).toEqual(a.notInOrganization);
  });

  it('carries formatVersion 1, the time and the summary counts', () => {
    const result = plan(aBusyInput());

    expect(result.formatVersion).toBe(1);
    expect(result.createdAt).toBe(NOW.toISOString());
    expect(result.summary).toEqual({
      directoryUsers: 4,
      organizationUsers: 4,
      managedUsers: 4,
      matched: 3,
      actions: {
        promote_guest: 1,
        unsuspend: 1,
        set_computer_usernames: 2,
        set_smartcards: 1,
        set_rank: 1,
        suspend: 1,
        remove: 1,
      },
    });
    expect(result.notInOrganization).toEqual([
      { email: `new@${DOMAIN}`, dn: 'CN=new,OU=Staff,DC=corp,DC=example,DC=com' },
    ]);
  });

  it('survives JSON unchanged', () => {
    const result = plan(aBusyInput());

    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });

  it('plans nothing for an organization in step with the directory', () => {
    const people = [
      aSyncedPerson(AMY),
      aSyncedPerson(BEN, { dir: { groups: [ADMIN_GROUP] }, record: { rank: 'ADMIN' } }),
    ];

    const result = plan(anInputOf(people));

    expect(result.actions).toEqual([]);
    expect(result.summary.actions).toEqual({});
  });
});

describe('renderPlan', () => {
  it('shows each change with its symbol, grouped by user, and a summary line', () => {
    const text = renderPlan(plan(aBusyInput()));

    expect(text).toContain(`\n  ${BEN}\n    - remove    # not in the directory since`);
    expect(text).toContain(`\n  ${GIL}\n    + promote guest    # guest found in the directory`);
    expect(text).toContain('    + unsuspend    # enabled again in the directory');
    expect(text).toContain(
      `    ~ rank: (unknown) -> ADMIN    # member of ${ADMIN_GROUP}; no rank on record yet`,
    );
    expect(text).toContain(`    ! suspend    # member of the suspend group ${SUSPEND_GROUP}`);
    expect(text.trimEnd().split('\n').at(-1)).toBe(
      'Plan: 1 to promote, 1 to unsuspend, 2 username changes, 1 smart card change, 1 rank change, 1 to suspend, 1 to remove.',
    );
  });

  it('counts in words that agree with the number: one action, one user, one change', () => {
    const one = aSyncedPerson(AMY, {
      dir: { logins: ['amy', 'amy2'] },
      record: { computerUsernames: ['amy'] },
    });

    const text = renderPlan(plan(anInputOf([one])));

    expect(text.split('\n')[0]).toBe(
      'dirsync plan: 1 action for 1 user (directory: 1 user; organization: 1 user, 1 in scope, 1 matched)',
    );
    expect(text.trimEnd().split('\n').at(-1)).toContain(
      ' 1 username change, 0 smart card changes,',
    );
  });

  it('lists users by email in any case: Bea between abe and cy, not before both', () => {
    const gone = (email: string) => ({
      org: anOrgUser({ email }),
      record: aUserState({ email, missingSince: daysAgo(10) }),
    });
    const input = anInputOf([gone(`cy@${DOMAIN}`), gone(`Bea@${DOMAIN}`), gone(`abe@${DOMAIN}`)], {
      rules: someRules({ removed: { action: 'delete', graceDays: 7 } }),
    });

    const emails = [...new Set(plan(input).actions.map((a) => a.email))];

    expect(emails).toEqual([`abe@${DOMAIN}`, `Bea@${DOMAIN}`, `cy@${DOMAIN}`]);
  });

  it('says "No changes." when there is nothing to do', () => {
    const text = renderPlan(plan(anInputOf([aSyncedPerson(AMY)])));

    expect(text.trimEnd().split('\n').at(-1)).toBe(
      'No changes. The organization matches the directory.',
    );
  });
});

describe('detailReadsNeeded', () => {
  const known = aSyncedPerson(AMY);
  const unknown = aSyncedPerson(BEN, { record: { computerUsernames: undefined } });
  const noRecord = { ...aSyncedPerson(GIL), record: undefined };
  const other = aSyncedPerson('sam@other.example.com', {
    record: { computerUsernames: undefined },
  });
  const excluded = aSyncedPerson(`breakglass@${DOMAIN}`, {
    record: { computerUsernames: undefined },
  });
  const absent = { org: anOrgUser({ email: `gone@${DOMAIN}` }) };
  const notInOrg = { dir: aDirectoryUser({ email: `new@${DOMAIN}` }) };
  const twice = { org: anOrgUser({ email: ZED }) };
  const zed1 = aDirectoryUser({ email: ZED, dn: 'CN=zed,OU=A' });
  const zed2 = aDirectoryUser({ email: ZED, dn: 'CN=zed,OU=B' });
  const people = [
    known,
    unknown,
    noRecord,
    other,
    excluded,
    absent,
    notInOrg,
    twice,
    { dir: zed1 },
    { dir: zed2 },
  ];
  const input = (rules: Parameters<typeof someRules>[0]) =>
    anInputOf(people, {
      rules: someRules({
        scope: { emailDomains: [DOMAIN], exclude: [`breakglass@${DOMAIN}`] },
        ...rules,
      }),
    });

  it.each<[string, Parameters<typeof someRules>[0], boolean, string[]]>([
    ['both ignored', { computerUsernames: 'ignore', smartcards: 'ignore' }, false, []],
    [
      'both ignored, even on a sweep',
      { computerUsernames: 'ignore', smartcards: 'ignore' },
      true,
      [],
    ],
    ['usernames managed: users the record cannot vouch for', {}, false, [BEN, GIL]],
    ['usernames managed, sweep: every matched in-scope user', {}, true, [AMY, BEN, GIL]],
    [
      'smart cards managed only',
      { computerUsernames: 'ignore', smartcards: 'manage' },
      false,
      [GIL],
    ],
  ])('%s', (_label, rules, sweep, emails) => {
    const ids = detailReadsNeeded(input(rules), { sweep });

    expect([...ids].sort()).toEqual(emails.map(emailIdOf).sort());
  });

  it('reads a user whose record vouches for usernames but not for smart cards', () => {
    const amy = aSyncedPerson(AMY, { record: { smartcards: undefined } });

    const ids = detailReadsNeeded(
      anInputOf([amy], { rules: someRules({ smartcards: 'manage' }) }),
      {
        sweep: false,
      },
    );

    expect(ids).toEqual([emailIdOf(AMY)]);
  });

  it.each<[string, Partial<DirectoryUser>]>([
    ['in none of promoteGuests.groups', {}],
    ['disabled in the directory', { disabled: true }],
  ])('skips a guest the plan leaves a guest (%s), whatever its cards', (_label, dir) => {
    // Arrange: the record's card differs from the directory's; no action will change it.
    const gil = aSyncedPerson(GIL, {
      org: { tag: 'GUEST' },
      dir: { smartcards: ['222'], ...dir },
      record: { smartcards: ['111'] },
    });
    const rules = someRules({
      smartcards: 'manage',
      promoteGuests: { enabled: true, groups: 'disabled' in dir ? [] : [ADMIN_GROUP] },
    });

    // Act
    const ids = detailReadsNeeded(anInputOf([gil], { rules }), { sweep: false });

    // Assert
    expect(ids).toEqual([]);
  });

  it('skips guests when guests are not promoted', () => {
    const gil = { ...aSyncedPerson(GIL, { org: { tag: 'GUEST' } }), record: undefined };
    const rules = someRules({ promoteGuests: { enabled: false } });

    expect(detailReadsNeeded(anInputOf([gil], { rules }), { sweep: true })).toEqual([]);
  });
});

describe('sweepDue', () => {
  const DAY = 86_400_000;

  it.each<[string, string | undefined, boolean]>([
    ['never swept', undefined, true],
    ['swept an hour ago', daysAgo(1 / 24), false],
    ['swept just under a day ago', new Date(NOW.getTime() - DAY + 1).toISOString(), false],
    ['swept exactly a day ago', daysAgo(1), true],
    ['swept two days ago', daysAgo(2), true],
  ])('%s: %s', (_label, lastVerifyAt, due) => {
    const state = aStateRecord(lastVerifyAt === undefined ? {} : { lastVerifyAt });

    expect(sweepDue(state, NOW, DAY)).toBe(due);
  });
});
