import { describe, expect, it } from 'vitest';
import { mapUser } from '../../../src/directory/build.js';
import { activeDirectory, withAttributes } from '../../../src/directory/flavors.js';
import type {
  DirectoryUser,
  DirectoryWarning,
  UnusableEntry,
} from '../../../src/directory/model.js';
import { detailReadsNeeded, plan } from '../../../src/reconcile/plan.js';
import {
  aDirectoryUser,
  anInputOf,
  anOrgUser,
  aSyncedPerson,
  aUserState,
  daysAgo,
  DOMAIN,
  emailIdOf,
  kindsOf,
  NOW,
  someDetails,
  someRules,
} from './builders.js';

const JOE = `joe@${DOMAIN}`;
const JOE_DN = 'CN=Joe,OU=Staff,DC=corp,DC=example,DC=com';
const manage = someRules({ smartcards: 'manage', computerUsernames: 'manage' });

/** A directory user as the AD mapping makes it from these attributes (Joe's DN). */
function mapped(attrs: Record<string, string[]>): {
  user: DirectoryUser | undefined;
  unusable: UnusableEntry[];
} {
  const flavor = withAttributes(activeDirectory, { smartcards: 'employeeNumber' });
  const warnings: DirectoryWarning[] = [];
  const unusable: UnusableEntry[] = [];
  const entry = {
    dn: JOE_DN,
    attributes: new Map(Object.entries(attrs).map(([k, v]) => [k.toLowerCase(), v])),
  };
  return { user: mapUser(entry, flavor, NOW, warnings, unusable)?.user, unusable };
}

describe('a directory value that cannot be used leaves the organization value as it is', () => {
  it('plans no set_smartcards for employeeNumber AB-77 when the organization has card 999', () => {
    // Arrange: the case. Today's code plans `smart cards: [999] -> []`.
    const { user } = mapped({ mail: [JOE], sAMAccountName: ['joe'], employeeNumber: ['AB-77'] });
    const input = anInputOf(
      [{ dir: user!, org: anOrgUser({ email: JOE }), record: aUserState({ email: JOE }) }],
      {
        rules: manage,
        details: someDetails({
          [JOE]: { computerUsernames: ['joe'], smartcards: [{ number: '999', label: 'badge' }] },
        }),
      },
    );

    // Act
    const result = plan(input);

    // Assert
    expect(kindsOf(result, JOE)).not.toContain('set_smartcards');
    expect(result.problems).toEqual([
      {
        email: JOE,
        dn: JOE_DN,
        field: 'smartcards',
        attribute: 'employeeNumber',
        value: 'AB-77',
        problem: 'is not a string of digits',
      },
    ]);
    expect(result.notes).toEqual([
      {
        email: JOE,
        message: `smart cards left as they are: employeeNumber value "AB-77" of ${JOE_DN} is not a string of digits`,
      },
    ]);
  });

  it('leaves the cards alone when one of several values is bad (the attribute is unknown)', () => {
    const { user } = mapped({ mail: [JOE], employeeNumber: ['123', 'AB-77'] });
    const input = anInputOf([{ dir: user!, org: anOrgUser({ email: JOE }) }], {
      rules: manage,
      details: someDetails({ [JOE]: { smartcards: [{ number: '999', label: '' }] } }),
    });

    expect(kindsOf(plan(input), JOE)).not.toContain('set_smartcards');
  });

  it.each([
    ['a space', 'joe smith'],
    ['ESC and a newline', 'joe\u001b[2K\n    + promote guest'],
    ['a NUL', 'jo\u0000e'],
  ])('plans no set_computer_usernames for a login with %s', (_label, login) => {
    // Arrange: the organization has [jdev]; the directory's only login cannot be used.
    const { user } = mapped({ mail: [JOE], sAMAccountName: [login] });
    const input = anInputOf([{ dir: user!, org: anOrgUser({ email: JOE }) }], {
      rules: manage,
      details: someDetails({ [JOE]: { computerUsernames: ['jdev'] } }),
    });

    // Act
    const result = plan(input);

    // Assert
    expect(kindsOf(result, JOE)).not.toContain('set_computer_usernames');
    expect(result.problems).toEqual([
      expect.objectContaining({
        email: JOE,
        dn: JOE_DN,
        field: 'logins',
        attribute: 'sAMAccountName',
      }) as unknown,
    ]);
    expect(result.notes[0]?.message).toMatch(/^computer usernames left as they are: /);
  });

  it('still plans what it can: a good login changes while the cards stay unknown', () => {
    const { user } = mapped({ mail: [JOE], sAMAccountName: ['joe'], employeeNumber: ['x1'] });
    const input = anInputOf([{ dir: user!, org: anOrgUser({ email: JOE }) }], {
      rules: manage,
      details: someDetails({
        [JOE]: { computerUsernames: ['old'], smartcards: [{ number: '1', label: '' }] },
      }),
    });

    expect(kindsOf(plan(input), JOE)).toEqual(['set_computer_usernames', 'set_rank']);
  });

  it('does not read details only to change cards it cannot know', () => {
    const joe = aSyncedPerson(JOE, {
      dir: {
        smartcards: [],
        problems: [
          { field: 'smartcards', attribute: 'employeeNumber', value: 'AB-77', problem: 'x' },
        ],
      },
      record: { smartcards: ['999'] },
    });

    expect(detailReadsNeeded(anInputOf([joe], { rules: manage }), { sweep: false })).toEqual([]);
  });

  it('acts on a smart card attribute only when it is read whole (a partial range is unknown)', () => {
    const { user } = mapped({ mail: [JOE], 'employeeNumber;range=0-1499': ['1'] });
    const input = anInputOf([{ dir: user!, org: anOrgUser({ email: JOE }) }], {
      rules: manage,
      details: someDetails({ [JOE]: { smartcards: [{ number: '999', label: '' }] } }),
    });

    const result = plan(input);

    expect(kindsOf(result, JOE)).not.toContain('set_smartcards');
    expect(result.problems?.[0]).toMatchObject({ field: 'smartcards', value: '' });
  });
});

describe('an address that cannot be used', () => {
  it('cannot match by that address: the user matches through a usable alias instead', () => {
    // Arrange: mail is malformed, the primary SMTP address is fine.
    const { user } = mapped({
      mail: ['joe @corp.example.com'],
      proxyAddresses: [`SMTP:${JOE}`],
      sAMAccountName: ['joe'],
    });
    const input = anInputOf([{ dir: user!, org: anOrgUser({ email: JOE }) }]);

    // Act
    const result = plan(input);

    // Assert
    expect(result.summary.matched).toBe(1);
    expect(result.problems).toEqual([
      {
        email: JOE,
        dn: JOE_DN,
        field: 'email',
        attribute: 'mail',
        value: 'joe @corp.example.com',
        problem: 'holds a space',
      },
    ]);
  });

  it('does not suspend or remove the organization user an unusable address looks like', () => {
    // Arrange: Joe's only address holds a space; the organization has joe@, missing for 30 days.
    const { user, unusable } = mapped({ mail: ['joe @corp.example.com'] });
    const input = anInputOf(
      [{ org: anOrgUser({ email: JOE }), record: aUserState({ missingSince: daysAgo(30) }) }],
      { unusable, rules: someRules({ removed: { action: 'delete', graceDays: 7 } }) },
    );

    // Act
    const result = plan(input);

    // Assert
    expect(user).toBeUndefined();
    expect(result.actions).toEqual([]);
    expect(result.timers.cleared).toEqual([emailIdOf(JOE)]);
    expect(result.notes[0]?.message).toContain(
      `mail value "joe @corp.example.com" of ${JOE_DN} holds a space and looks like this address`,
    );
    expect(result.problems).toEqual([
      expect.objectContaining({ email: null, dn: JOE_DN, field: 'email' }) as unknown,
    ]);
  });

  it('treats an organization user no entry resembles as gone, as before', () => {
    const { unusable } = mapped({ mail: ['someone else@corp.example.com'] });
    const input = anInputOf([{ org: anOrgUser({ email: JOE }), record: aUserState() }], {
      unusable,
    });

    expect(kindsOf(plan(input), JOE)).toEqual(['suspend']);
  });

  it('lists the problems of directory users in scope who are not in the organization', () => {
    const ann = aDirectoryUser({
      email: `ann@${DOMAIN}`,
      problems: [{ field: 'logins', attribute: 'uid', value: 'a b', problem: 'holds a space' }],
    });
    const outside = aDirectoryUser({
      email: 'bob@elsewhere.example',
      problems: [{ field: 'logins', attribute: 'uid', value: 'b c', problem: 'holds a space' }],
    });

    const result = plan(anInputOf([{ dir: ann }, { dir: outside }]));

    expect(result.problems?.map((p) => p.email)).toEqual([`ann@${DOMAIN}`]);
  });
});
