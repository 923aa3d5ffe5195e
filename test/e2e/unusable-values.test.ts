import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PlanProblem } from '../../src/reconcile/model.js';
import { startTestMock, aSeed, aSeedUser, SUPER_TOKEN } from '../support/mock.js';
import type { MockServer } from '../../src/mock/server.js';
import { runCli } from './support.js';

const PEOPLE = 'ou=People,dc=corp,dc=example,dc=com';
const b64 = (text: string): string => Buffer.from(text).toString('base64');
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** Joe's card is not digits; Ann's DN and one login hold ESC and a newline; Bob's mail a space. */
const LDIF = [
  `dn: uid=joe,${PEOPLE}`,
  'objectClass: inetOrgPerson',
  'uid: joe',
  'mail: joe@corp.example.com',
  'employeeNumber: AB-77',
  '',
  `dn:: ${b64(`uid=ann\u001b[2K\n    - remove,${PEOPLE}`)}`,
  'objectClass: inetOrgPerson',
  'uid: ann',
  `uid:: ${b64('ann\u001b[2K\n    - remove')}`,
  'mail: ann@corp.example.com',
  '',
  `dn: uid=bob,${PEOPLE}`,
  'objectClass: inetOrgPerson',
  'uid: bob',
  'mail: bob @corp.example.com',
  '',
].join('\n');

let mock: MockServer | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

async function setup(): Promise<string> {
  mock = await startTestMock(
    aSeed(
      [
        aSeedUser({
          email: 'joe@corp.example.com',
          computer_usernames: ['joe'],
          smartcards: [{ number: '999', label: 'badge' }],
        }),
        aSeedUser({ email: 'ann@corp.example.com', computer_usernames: ['old'] }),
        aSeedUser({ email: 'bob@corp.example.com', computer_usernames: ['bob'] }),
      ],
      { otherOrganization: false },
    ),
  );
  const dir = mkdtempSync(join(tmpdir(), 'dirsync-unusable-'));
  writeFileSync(join(dir, 'people.ldif'), LDIF);
  const config = join(dir, 'dirsync.yaml');
  writeFileSync(
    config,
    `source:
  type: ldif
  file: people.ldif
  flavor: openldap
  users: { baseDns: ["${PEOPLE}"] }
  groups: { baseDns: ["${PEOPLE}"] }
  attributes: { smartcards: employeeNumber }
api: { baseUrl: "${mock.url}", token: ${SUPER_TOKEN} }
rules:
  scope: { emailDomains: [corp.example.com], exclude: [owner@corp.example.com, admin@corp.example.com, reader@corp.example.com] }
  ranks: { manage: false }
  computerUsernames: manage
  smartcards: manage
state: { path: state/dirsync.json }
log: { level: error }
`,
  );
  return config;
}

describe('values dirsync cannot use, through the CLI', () => {
  it('plan leaves them alone, lists them, and prints no control character', async () => {
    // Arrange
    const config = await setup();

    // Act
    const human = await runCli(['plan', '--config', config]);
    const json = await runCli(['plan', '--json', '--config', config]);

    // Assert
    expect(human.code).toBe(0);
    expect(human.stdout).not.toMatch(RAW_CONTROL);
    expect(human.stdout.split('\n').filter((l) => l.trimStart().startsWith('- remove'))).toEqual(
      [],
    );
    expect(human.stdout).not.toContain('smart cards: [999] -> []');
    expect(human.stdout).toContain(
      `joe@corp.example.com  uid=joe,${PEOPLE}: employeeNumber "AB-77" is not a string of digits`,
    );
    const plan = JSON.parse(json.stdout) as {
      formatVersion: number;
      actions: { kind: string; email: string }[];
      problems: PlanProblem[];
    };
    expect(plan.formatVersion).toBe(1);
    // Ann's usable login [ann] is not acted on either: her logins are unknown as a whole.
    expect(plan.actions).toEqual([]);
    expect(plan.problems.map((p) => `${p.email ?? '-'} ${p.attribute} ${p.value}`)).toEqual([
      '- mail bob @corp.example.com',
      'ann@corp.example.com uid ann\\x1b[2K\\n    - remove',
      'joe@corp.example.com employeeNumber AB-77',
    ]);
  });

  it('explain and check show the values escaped, and the attribute as unknown', async () => {
    const config = await setup();

    const explain = await runCli(['explain', 'ann@corp.example.com', '--config', config]);
    const check = await runCli(['check', '--config', config]);

    expect(explain.code).toBe(0);
    expect(explain.stdout).not.toMatch(RAW_CONTROL);
    expect(explain.stdout).toContain(`directory: uid=ann\\x1b[2K\\n    - remove,${PEOPLE}`);
    expect(explain.stdout).toContain('logins (unknown: a value cannot be used; usable ones [ann])');
    expect(check.code).toBe(0);
    expect(check.stdout).not.toMatch(RAW_CONTROL);
    expect(check.stdout).toContain('warning    uid=ann\\x1b[2K\\n');
  });
});
