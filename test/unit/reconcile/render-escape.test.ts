import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asEmailId } from '../../../src/api/ids.js';
import { plan } from '../../../src/reconcile/plan.js';
import { jsonText, renderPlan } from '../../../src/reconcile/render.js';
import {
  aDirectoryUser,
  anInputOf,
  anOrgUser,
  aPlan,
  aUserState,
  DOMAIN,
  someRules,
} from './builders.js';

const JOE = `joe@${DOMAIN}`;
/** ESC [2K erases the line; the newline and the text after it would print as a plan line. */
const FORGED = '\u001b[2K\n    - remove    # forged';
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function rendered(dn: string): string {
  const joe = aDirectoryUser({ email: JOE, dn, logins: ['joe'] });
  const input = anInputOf([{ dir: joe, org: anOrgUser({ email: JOE }), record: aUserState() }], {
    rules: someRules({ ranks: { manage: false } }),
  });
  return renderPlan(plan(input));
}

describe('values with control characters in the plan a person reads', () => {
  it('renders a directory value with ESC[2K and a newline as visible escapes on one line', () => {
    // Arrange
    const plain = rendered('CN=Joe,OU=Staff,DC=corp,DC=example,DC=com');

    // Act
    const forged = rendered(`CN=Joe${FORGED},OU=Staff,DC=corp,DC=example,DC=com`);

    // Assert
    expect(forged).not.toMatch(RAW_CONTROL);
    expect(forged.split('\n')).toHaveLength(plain.split('\n').length);
    expect(forged).toContain('(CN=Joe\\x1b[2K\\n    - remove    # forged,OU=Staff');
    expect(forged.split('\n').filter((l) => l.startsWith('    - remove'))).toEqual([]);
  });

  it('escapes an email from the API listing, notes, problems and before/after values', () => {
    // Arrange
    const eve = `eve\u001b]0;owned\u0007${FORGED}@${DOMAIN}`;
    const result = aPlan({
      actions: [
        {
          kind: 'set_computer_usernames',
          email: eve,
          emailId: asEmailId(1),
          reason: `login names from the directory (${FORGED})`,
          before: [`old${FORGED}`],
          after: ['new'],
        },
      ],
    });
    result.notes = [{ email: eve, message: `note${FORGED}` }];
    result.notInOrganization = [{ email: `ann${FORGED}@${DOMAIN}`, dn: `CN=Ann${FORGED}` }];
    result.ambiguous = [{ email: eve, dns: [`CN=A${FORGED}`, 'CN=B'] }];
    result.problems = [
      {
        email: null,
        dn: `CN=Bob${FORGED}`,
        field: 'email',
        attribute: 'mail',
        value: 'bob\\x1b@x',
        problem: 'holds a control character',
      },
    ];

    // Act
    const text = renderPlan(result);

    // Assert
    expect(text).not.toMatch(RAW_CONTROL);
    expect(text.split('\n').filter((l) => l.startsWith('    - remove'))).toEqual([]);
    expect(text).toContain('  eve\\x1b]0;owned\\x07\\x1b[2K\\n    - remove    # forged@');
    expect(text).toContain(
      '    (no usable address)  CN=Bob\\x1b[2K\\n    - remove    # forged: mail "bob\\x1b@x" holds a control character; the user cannot be matched by this address',
    );
  });

  it('prints the problems section with the DN, the attribute and what is left alone', () => {
    const result = aPlan();
    result.problems = [
      {
        email: JOE,
        dn: 'CN=Joe,DC=corp',
        field: 'smartcards',
        attribute: 'employeeNumber',
        value: 'AB-77',
        problem: 'is not a string of digits',
      },
    ];

    expect(renderPlan(result)).toContain(
      `Directory values dirsync cannot use: 1\n    ${JOE}  CN=Joe,DC=corp: employeeNumber "AB-77" is not a string of digits; the organization's smart cards are left as they are\n`,
    );
  });
});

describe('jsonText', () => {
  it('writes DEL, C1 controls and bidi overrides as \\u escapes and parses back the same', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const text = jsonText({ s });
        expect(text).not.toMatch(RAW_CONTROL);
        expect(JSON.parse(text)).toEqual({ s });
      }),
    );
  });
});
