import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseSeed, type SeedInput } from '../../src/mock/seed.js';
import { startMockServer, type MockServer } from '../../src/mock/server.js';
import { addDs389Ldif, ds389OrSkip, ds389UnavailableReason } from '../support/ds389.js';
import { runCli } from './support.js';

const ds = ds389OrSkip(inject('ds389'));
if (ds === undefined) {
  console.warn(
    `Skipping 389-DS end-to-end tests: ${ds389UnavailableReason() ?? 'not started, see the global setup warning'}`,
  );
}

const TOKEN = 'e2e-389-token';
const USERS = 30;
const email = (i: number): string => `ipa${i}@example.com`;

/** A FreeIPA-shaped tree (cn=users / cn=groups under cn=accounts) of its own. */
function ldif(root: string): string {
  const users = `cn=users,cn=accounts,${root}`;
  const groups = `cn=groups,cn=accounts,${root}`;
  const container = (dn: string, cn: string): string =>
    [`dn: ${dn}`, 'objectClass: top', 'objectClass: nsContainer', `cn: ${cn}`].join('\n');
  const blocks = [
    [`dn: ${root}`, 'objectClass: top', 'objectClass: organizationalUnit', 'ou: dirsync-e2e'].join(
      '\n',
    ),
    container(`cn=accounts,${root}`, 'accounts'),
    container(users, 'users'),
    container(groups, 'groups'),
  ];
  for (let i = 0; i < USERS; i++) {
    blocks.push(
      [
        `dn: uid=ipa${i},${users}`,
        'objectClass: top',
        'objectClass: inetOrgPerson',
        `uid: ipa${i}`,
        `cn: Ipa ${i}`,
        `givenName: Ipa`,
        `sn: User${i}`,
        `mail: ${email(i)}`,
        ...(i === 3 ? ['nsAccountLock: TRUE'] : []),
      ].join('\n'),
    );
  }
  const group = (cn: string, members: string[]): string =>
    [
      `dn: cn=${cn},${groups}`,
      'objectClass: top',
      'objectClass: groupOfNames',
      `cn: ${cn}`,
      ...members.map((m) => `member: ${m}`),
    ].join('\n');
  blocks.push(
    group('owners', [`uid=ipa0,${users}`]),
    group('helpdesk', [`uid=ipa2,${users}`]),
    group('admins', [`uid=ipa1,${users}`, `cn=helpdesk,${groups}`]),
  );
  return blocks.join('\n\n') + '\n';
}

function seed(): SeedInput {
  const users: NonNullable<SeedInput['organizations'][number]['users']> = [
    { email: 'owner@example.com', rank: 'SUPER' },
  ];
  for (let i = 0; i < 10; i++) users.push({ email: email(i) });
  users.push({ email: 'leaver@example.com' });
  return {
    organizations: [{ name: 'ipa', tokens: [{ token: TOKEN, email: 'owner@example.com' }], users }],
  };
}

describe.skipIf(ds === undefined)('dirsync plan and apply against 389 Directory Server', () => {
  const server = ds!;
  const root = `ou=dirsync-e2e,${server?.baseDn ?? ''}`;
  const groups = `cn=groups,cn=accounts,${root}`;
  let mock: MockServer;
  let dir: string;
  let config: string;

  beforeAll(async () => {
    await addDs389Ldif(server, ldif(root));
    mock = await startMockServer({ seed: parseSeed(seed(), 'e2e seed'), port: 0 });
    dir = mkdtempSync(join(tmpdir(), 'dirsync-e2e-389-'));
    writeFileSync(join(dir, 'ldap-password'), `${server.bindPassword}\n`);
    writeFileSync(join(dir, 'token'), TOKEN);
    config = join(dir, 'dirsync.yaml');
    // No flavor: dirsync detects 389-DS from the RootDSE.
    writeFileSync(
      config,
      `source:
  type: ldap
  urls: [${server.url}]
  allowPlaintextBind: true
  bindDn: ${server.bindDn}
  bindPasswordFile: ldap-password
  users:
    baseDns:
      - cn=users,cn=accounts,${root}
  groups:
    baseDns:
      - ${groups}
api:
  baseUrl: ${mock.url}
  tokenFile: token
  tokenOwner: owner@example.com
rules:
  scope: { emailDomains: [example.com] }
  ranks:
    SUPER:
      - cn=owners,${groups}
    ADMIN:
      - cn=admins,${groups}
  suspend:
    disabledAccounts: true
  removed: { action: suspend, graceDays: 0 }
state: { path: state/dirsync.json }
log: { level: warn }
`,
    );
  });
  afterAll(async () => {
    await mock?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const orgUser = (address: string) => mock.store.organizations[0]?.findByEmail(address);

  it('check detects the 389ds flavor; apply ranks nested admins, suspends nsAccountLock, then is quiet', async () => {
    const check = await runCli(['check', '--config', config]);
    expect(check.stderr).not.toContain('error');
    expect(check.code).toBe(0);
    expect(check.stdout).toContain(`directory  ${server.url} (389ds): ${USERS} users with email`);

    const applied = await runCli(['apply', '--config', config]);
    expect(applied.stderr).not.toContain('error');
    expect(applied.code).toBe(0);
    expect(
      [0, 1, 2, 3, 4].map((i) => [orgUser(email(i))?.rank, orgUser(email(i))?.ad_status]),
    ).toEqual([
      ['SUPER', 'ACTIVE'],
      ['ADMIN', 'ACTIVE'],
      ['ADMIN', 'ACTIVE'],
      ['REGULAR', 'SUSPENDED'],
      ['REGULAR', 'ACTIVE'],
    ]);
    expect(orgUser('leaver@example.com')?.ad_status).toBe('SUSPENDED');
    expect(orgUser('owner@example.com')?.rank).toBe('SUPER');

    mock.requests.length = 0;
    const quiet = await runCli(['apply', '--config', config]);
    expect(quiet.code).toBe(0);
    expect(mock.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /multipleusers',
      'GET /multipleusers',
    ]);
  });

  it('plans the suspension of a user locked with nsAccountLock after a rename', async () => {
    await addDs389Ldif(
      server,
      [
        `dn: uid=ipa4,cn=users,cn=accounts,${root}`,
        'changetype: modify',
        'add: nsAccountLock',
        'nsAccountLock: true',
        '',
        `dn: uid=ipa4,cn=users,cn=accounts,${root}`,
        'changetype: modrdn',
        'newrdn: uid=ipa4-renamed',
        'deleteoldrdn: 1',
        '',
      ].join('\n'),
    );
    const planned = await runCli(['plan', '--config', config, '--json']);
    expect(planned.code).toBe(0);
    const plan = JSON.parse(planned.stdout) as { actions: { kind: string; email: string }[] };
    expect(plan.actions.filter((a) => a.email === email(4)).map((a) => a.kind)).toContain(
      'suspend',
    );
  });
});
