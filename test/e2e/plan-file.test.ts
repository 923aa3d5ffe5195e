import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSeed } from '../../src/mock/seed.js';
import { startMockServer, type MockServer } from '../../src/mock/server.js';
import { runCli } from './support.js';

/**
 * Plan files through the built CLI (issue 15 item 4): `apply --plan` checks a plan file against
 * the plan's schema, and sends it only to the API and organization it was made for. An LDIF
 * directory and the mock API on port 0: no slapd needed.
 */

const CORP_TOKEN = 'plan-file-corp-token';
const OTHER_TOKEN = 'plan-file-other-token';
const OWNER = 'owner@example.com';
const LEAVER = 'leaver@example.com';

const mocks: MockServer[] = [];
afterEach(async () => {
  await Promise.all(mocks.splice(0).map((m) => m.close()));
});

/** Two organizations on one API: `corp` (the directory's) and `other`, each with its owner. */
async function aMock(): Promise<MockServer> {
  const mock = await startMockServer({
    seed: parseSeed(
      {
        organizations: [
          {
            name: 'corp',
            tokens: [{ token: CORP_TOKEN, email: OWNER }],
            users: [{ email: OWNER, rank: 'SUPER' }, { email: LEAVER }],
          },
          {
            name: 'other',
            tokens: [{ token: OTHER_TOKEN, email: 'boss@example.com' }],
            users: [{ email: 'boss@example.com', rank: 'SUPER' }, { email: LEAVER }],
          },
        ],
      },
      'plan-file seed',
    ),
    port: 0,
  });
  mocks.push(mock);
  return mock;
}

const dir = (): string => mkdtempSync(join(tmpdir(), 'dirsync-plan-file-'));

/** A config in its own folder (own state record): the directory disables LEAVER. */
function aConfig(mock: MockServer, token: string, owner: string): string {
  const d = dir();
  const entry = (mail: string, i: number, locked: boolean): string => {
    const uid = mail.split('@')[0]!;
    return `dn: uid=${uid},ou=People,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\nmail: ${mail}\nentryUUID: 00000000-0000-4000-8000-00000000000${i}\n${locked ? 'pwdAccountLockedTime: 000001010000Z\n' : ''}`;
  };
  writeFileSync(
    join(d, 'directory.ldif'),
    `version: 1\n\n${[entry(OWNER, 1, false), entry('boss@example.com', 2, false), entry(LEAVER, 3, true)].join('\n')}`,
  );
  writeFileSync(join(d, 'token'), token);
  const config = join(d, 'dirsync.yaml');
  writeFileSync(
    config,
    `source:
  type: ldif
  file: directory.ldif
  flavor: openldap
  users: { baseDns: [ "ou=People,dc=example,dc=com" ] }
  groups: { baseDns: [ "ou=People,dc=example,dc=com" ] }
api:
  baseUrl: ${mock.url}
  tokenFile: token
  tokenOwner: ${owner}
rules:
  scope: { emailDomains: [example.com] }
  ranks: { SUPER: [], ADMIN: [], manage: false }
  suspend: { disabledAccounts: true }
  removed: { action: ignore }
  computerUsernames: ignore
  smartcards: ignore
state: { path: state/dirsync.json }
log: { level: warn, format: json }
`,
  );
  return config;
}

const writes = (m: MockServer): { path: string }[] => m.requests.filter((r) => r.method !== 'GET');
const leaverIn = (m: MockServer, org: number): string | undefined =>
  m.store.organizations[org]?.findByEmail(LEAVER)?.ad_status;

/** `dirsync plan --out` for corp: one action, suspend LEAVER. */
async function aPlanFile(mock: MockServer): Promise<{ config: string; file: string }> {
  const config = aConfig(mock, CORP_TOKEN, OWNER);
  const file = join(dir(), 'plan.json');
  const planned = await runCli(['plan', '--config', config, '--out', file]);
  expect(planned.code).toBe(0);
  return { config, file };
}

function edited(file: string, edit: (plan: Record<string, unknown>) => void): string {
  const plan = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(plan);
  const out = join(dir(), 'edited.json');
  writeFileSync(out, JSON.stringify(plan, null, 2));
  return out;
}

describe('apply --plan: a plan file is checked before anything is sent (issue 15 item 4)', () => {
  it('records the API and the organization, never the token, and applies on them', async () => {
    // Arrange
    const mock = await aMock();
    const { config, file } = await aPlanFile(mock);
    const text = readFileSync(file, 'utf8');

    // Act
    const applied = await runCli(['apply', '--config', config, '--plan', file]);

    // Assert
    const plan = JSON.parse(text) as { madeFor: unknown; actions: { kind: string }[] };
    expect(plan.actions.map((a) => a.kind)).toEqual(['suspend']);
    expect(plan.madeFor).toMatchObject({
      apiBaseUrl: mock.url.replace(/\/+$/, ''),
      organization: { tokenOwner: OWNER },
    });
    expect(text).not.toContain(CORP_TOKEN);
    expect(applied.code).toBe(0);
    expect(leaverIn(mock, 0)).toBe('SUSPENDED');
  });

  it('refuses a plan made for another organization on the same API, exit 2, nothing sent', async () => {
    // Arrange: the same directory, but the token of `other`, where LEAVER has another email_id.
    const mock = await aMock();
    const { file } = await aPlanFile(mock);
    const otherConfig = aConfig(mock, OTHER_TOKEN, 'boss@example.com');

    // Act
    const result = await runCli(['apply', '--config', otherConfig, '--plan', file]);

    // Assert
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `plan file ${file} was made for another organization (the one of api.tokenOwner ${OWNER}) on ${mock.url.replace(/\/+$/, '')}: none of the`,
    );
    expect(result.stderr).toContain('To fix: apply it with the config (api.token)');
    expect(writes(mock)).toEqual([]);
    expect(leaverIn(mock, 1)).toBe('ACTIVE');
  });

  it('refuses a plan made against another API, exit 2, before reading anything there', async () => {
    // Arrange: a second mock with the same seed, so the same ids: only the URL tells them apart.
    const first = await aMock();
    const { file } = await aPlanFile(first);
    const second = await aMock();
    const secondConfig = aConfig(second, CORP_TOKEN, OWNER);

    // Act
    const result = await runCli(['apply', '--config', secondConfig, '--plan', file]);

    // Assert
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `plan file ${file} was made for the API at ${first.url.replace(/\/+$/, '')}, not api.baseUrl ${second.url.replace(/\/+$/, '')}: nothing was sent`,
    );
    expect(second.requests).toEqual([]);
    expect(leaverIn(second, 0)).toBe('ACTIVE');
  });

  it.each<[string, (plan: Record<string, unknown>) => void, string]>([
    [
      'a suspend edited to want another status',
      (p) => ((p['actions'] as Record<string, unknown>[])[0]!['after'] = 'DELETED'),
      'actions[0].after: expected the value SUSPENDED, got "DELETED"',
    ],
    [
      'an action of a kind that does not exist',
      (p) => ((p['actions'] as Record<string, unknown>[])[0]!['kind'] = 'purge'),
      'actions[0].kind: expected one of promote_guest, unsuspend, set_computer_usernames, set_smartcards, set_rank, suspend, remove, got "purge"',
    ],
    [
      'a plan made before plans said where they were made',
      (p) => delete p['madeFor'],
      'does not say which API and organization it was made for',
    ],
  ])('refuses %s, exit 2, nothing sent', async (_what, edit, message) => {
    // Arrange
    const mock = await aMock();
    const { config, file } = await aPlanFile(mock);
    const bad = edited(file, edit);

    // Act
    const result = await runCli(['apply', '--config', config, '--plan', bad]);

    // Assert
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`plan file ${bad}`);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain('To fix:');
    expect(writes(mock)).toEqual([]);
    expect(leaverIn(mock, 0)).toBe('ACTIVE');
  });
});
