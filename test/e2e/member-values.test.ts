import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadSeedFile } from '../../src/mock/seed.js';
import { startMockServer, type MockServer } from '../../src/mock/server.js';
import { ROOT, writeDaemonConfig } from '../integration/daemon/support.js';
import { runCli } from './support.js';

const GROUPS = 'ou=Groups,dc=corp,dc=example,dc=com';
const ADMINS = `cn=it-admins,${GROUPS.toLowerCase()}`;
const SERVICE = 'uid=svc-backup,ou=services,dc=corp,dc=example,dc=com';
const AUDITORS = `cn=Auditors,${GROUPS}`;

let mock: MockServer | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

/**
 * The demo, with a service account (outside the users base) listed in IT-Admins and a group
 * Auditors whose only members are outside the users base and gone; `edit` changes the config.
 */
async function demo(
  edit: (config: Record<string, Record<string, unknown>>) => void = () => undefined,
): Promise<string> {
  mock = await startMockServer({ seed: loadSeedFile(join(ROOT, 'config/demo-org.yaml')), port: 0 });
  const written = writeDaemonConfig({ apiUrl: mock.url, cron: '0 * * * *' });
  const ldif = readFileSync(join(ROOT, 'config/demo-directory.ldif'), 'utf8')
    .replace(
      'cn: IT-Admins\n',
      'cn: IT-Admins\nmember: uid=svc-backup,ou=Services,dc=corp,dc=example,dc=com\n',
    )
    .concat(
      '\ndn: cn=Auditors,ou=Groups,dc=corp,dc=example,dc=com\nobjectClass: posixGroup\ncn: Auditors\ngidNumber: 5100\n' +
        'memberUid: uid=svc-backup,ou=Services,dc=corp,dc=example,dc=com\nmemberUid: ghost\n',
    );
  const file = join(written.dir, 'directory.ldif');
  writeFileSync(file, ldif);
  const config = parse(readFileSync(written.configFile, 'utf8')) as Record<
    string,
    Record<string, unknown>
  >;
  config['source'] = { ...config['source'], file };
  edit(config);
  mkdirSync(dirname(written.statePath), { recursive: true });
  writeFileSync(written.configFile, stringify(config));
  return written.configFile;
}

const withRuleGroup = (group: string) => (c: Record<string, Record<string, unknown>>) => {
  const ranks = c['rules']!['ranks'] as { ADMIN: string[] };
  ranks.ADMIN = [...ranks.ADMIN, group];
};

describe('member values that resolve to no user', () => {
  it('plan notes them, with a warning naming the group and a sample value', async () => {
    const configFile = await demo();

    const text = await runCli(['plan', '--config', configFile]);
    const json = await runCli(['plan', '--json', '--config', configFile]);

    expect(text.code).toBe(0);
    expect(text.stdout).toContain(
      `    group ${ADMINS}: 1 member value resolves to no user read (${SERVICE}): it gets nothing from the group.`,
    );
    const warning = text.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l['message'] === 'members of a rule group resolve to no user read');
    expect(warning).toMatchObject({ level: 'warn', group: ADMINS, count: 1, sample: [SERVICE] });
    const plan = JSON.parse(json.stdout) as { notes: { email: string; group?: string }[] };
    expect(plan.notes.filter((n) => n.group !== undefined)).toEqual([
      expect.objectContaining({ email: '', group: ADMINS }),
    ]);
  });

  it('check and explain show them', async () => {
    const configFile = await demo();

    const check = await runCli(['check', '--config', configFile]);
    const explain = await runCli([
      'explain',
      'alan.admin@corp.example.com',
      '--config',
      configFile,
    ]);

    expect(check.code).toBe(0);
    expect(check.stdout).toContain(
      `warning    group ${ADMINS}: 1 member value resolves to no user read (${SERVICE})`,
    );
    expect(explain.code).toBe(0);
    expect(explain.stdout).toContain(
      `  rule group ${ADMINS}: 1 member value resolves to no user read (${SERVICE})`,
    );
  });

  it('refuses a rule group none of whose members resolves, as it refuses a missing group', async () => {
    const empty = await demo(withRuleGroup(AUDITORS));
    const missing = await demo(withRuleGroup('cn=Nowhere,ou=Groups,dc=corp,dc=example,dc=com'));

    const plan = await runCli(['plan', '--config', empty]);
    const check = await runCli(['check', '--config', empty]);
    const planMissing = await runCli(['plan', '--config', missing]);

    expect(planMissing.code).not.toBe(0);
    for (const result of [plan, check]) {
      expect(result.code).toBe(planMissing.code);
      expect(result.stderr).toContain(
        `the group ${AUDITORS}, named in the rules, has 2 member values and none is a user read under source.users.baseDns with source.users.filter (${SERVICE}; ghost)`,
      );
      expect(result.stderr).toContain(
        'To fix: make source.users.baseDns and source.users.filter cover its members',
      );
    }
    expect(planMissing.stderr).toContain('named in the rules, was not found');
  });
});
