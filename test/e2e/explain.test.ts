import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockServer } from '../../src/mock/server.js';
import { SUPER_TOKEN, aSeed, aSeedUser, startTestMock } from '../support/mock.js';
import { runCli } from './support.js';

const PEOPLE = 'ou=People,dc=corp,dc=example,dc=com';
const GROUPS = 'ou=Groups,dc=corp,dc=example,dc=com';

function person(uid: string, mail: string, alias?: string): string {
  return [
    `dn: uid=${uid},${PEOPLE}`,
    'objectClass: inetOrgPerson',
    `uid: ${uid}`,
    `cn: ${uid}`,
    `sn: ${uid}`,
    `mail: ${mail}`,
    ...(alias === undefined ? [] : [`mailAlternateAddress: ${alias}`]),
    `entryUUID: uuid-${uid}`,
    '',
  ].join('\n');
}

let mock: MockServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await mock?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  mock = undefined;
  dir = undefined;
});

describe('dirsync explain', () => {
  it('answers as `plan` does for a user reached through an alias someone else claims', async () => {
    // Arrange: alice's directory entry has a.smith@ as an alias, and the organization lists
    // both alice@ and a.smith@: a.smith@ is ambiguous, so `plan` leaves it alone.
    mock = await startTestMock(
      aSeed(
        [
          aSeedUser({ email: 'alice@corp.example.com', computer_usernames: ['alice'] }),
          aSeedUser({ email: 'a.smith@corp.example.com' }),
        ],
        { otherOrganization: false },
      ),
    );
    dir = mkdtempSync(join(tmpdir(), 'dirsync-explain-'));
    writeFileSync(
      join(dir, 'directory.ldif'),
      [
        'version: 1',
        '',
        person('owner', 'owner@corp.example.com'),
        person('admin', 'admin@corp.example.com'),
        person('reader', 'reader@corp.example.com'),
        person('alice', 'alice@corp.example.com', 'a.smith@corp.example.com'),
        `dn: cn=Owners,${GROUPS}`,
        'objectClass: groupOfNames',
        'cn: Owners',
        `member: uid=owner,${PEOPLE}`,
        '',
      ].join('\n'),
    );
    const config = join(dir, 'dirsync.yaml');
    writeFileSync(
      config,
      `source:
  type: ldif
  file: directory.ldif
  users: { baseDns: ["${PEOPLE}"] }
  groups: { baseDns: ["${GROUPS}"] }
  attributes: { aliases: [mailAlternateAddress] }
api:
  baseUrl: ${mock.url}
  token: ${SUPER_TOKEN}
rules:
  scope: { emailDomains: [corp.example.com] }
  ranks: { SUPER: ["cn=Owners,${GROUPS}"] }
state: { path: state/dirsync.json }
log: { level: warn }
`,
    );

    // Act
    const planned = await runCli(['plan', '--config', config, '--json']);
    const explained = await runCli(['explain', 'a.smith@corp.example.com', '--config', config]);

    // Assert: plan leaves a.smith@ alone, and so does explain.
    const p = JSON.parse(planned.stdout) as {
      actions: { email: string }[];
      ambiguous: { email: string }[];
    };
    expect(p.ambiguous.map((a) => a.email)).toEqual(['a.smith@corp.example.com']);
    expect(p.actions.filter((a) => a.email === 'a.smith@corp.example.com')).toEqual([]);
    expect(explained.stderr).toBe('');
    expect(explained.code).toBe(0);
    expect(explained.stdout).toContain(
      `directory: ambiguous, claimed by uid=alice,${PEOPLE}: left alone`,
    );
    expect(explained.stdout).toContain('Ambiguous matches, left alone: 1');
    // The header counts users: "organization: 4 users", never "organization 4" (an id?).
    expect(explained.stdout).toMatch(
      /\ndirsync plan: 0 actions for 0 users \(directory: 4 users; organization: \d+ users, /,
    );
    expect(explained.stdout).not.toMatch(/set_computer_usernames|set_rank|suspend|remove/);
  });
});
