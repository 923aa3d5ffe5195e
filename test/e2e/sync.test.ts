import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseFaults } from '../../src/mock/faults.js';
import { parseSeed, type SeedInput } from '../../src/mock/seed.js';
import { startMockServer, type MockServer } from '../../src/mock/server.js';
import { openLdapFixture } from '../fixtures/ldap/openldap-fixture.js';
import {
  slapdAvailable,
  slapdUnavailableReason,
  startSlapd,
  type SlapdServer,
} from '../support/slapd.js';
import { runCli, spawnCli } from './support.js';

const skip = !slapdAvailable() && process.env.CI !== 'true';
if (skip) console.warn(`Skipping end-to-end sync tests: ${slapdUnavailableReason() ?? ''}`);

const fixture = openLdapFixture({ users: 300, ppolicy: true });
const TOKEN = 'e2e-super-token';
const id = (i: number): string => `user${String(i).padStart(4, '0')}@example.com`;
type SeedUser = NonNullable<SeedInput['organizations'][number]['users']>[number];

function seed(extra: SeedUser[] = []): SeedInput {
  const users: SeedUser[] = [{ email: 'owner@example.com', rank: 'SUPER' }];
  for (let i = 0; i < 40; i++) {
    const u: SeedUser = {
      email: i === 5 ? 'USER0005@example.com' : id(i),
      computer_usernames: i % 3 === 0 ? ['stale'] : [],
    };
    if (i === 20) u.tag = 'GUEST';
    if (i === 8) u.ad_status = 'PENDING';
    users.push(u);
  }
  users.push(
    { email: 'leaver1@example.com' },
    { email: 'leaver2@example.com' },
    { email: 'someone@other.example.org' },
  );
  return {
    organizations: [
      {
        name: 'corp',
        tokens: [{ token: TOKEN, email: 'owner@example.com' }],
        users: [...users, ...extra],
      },
    ],
  };
}

type Overrides = NonNullable<Parameters<typeof writeConfig>[3]>;

interface Env {
  dir: string;
  config: string;
  mock: MockServer;
}

function writeConfig(
  dir: string,
  slapd: SlapdServer,
  mockUrl: string,
  overrides: {
    rules?: string;
    safety?: string;
    source?: string;
    api?: string;
    scope?: string;
  } = {},
): string {
  writeFileSync(join(dir, 'ldap-password'), `${slapd.bindPassword}\n`);
  writeFileSync(join(dir, 'token'), TOKEN);
  const path = join(dir, 'dirsync.yaml');
  writeFileSync(
    path,
    `source:
  type: ldap
  flavor: openldap
  urls: [${overrides.source ?? slapd.url}]
  startTls: true
  bindDn: ${slapd.bindDn}
  bindPasswordFile: ldap-password
  tls: { caFile: ${slapd.caFile} }
  users:
    baseDns:
      - ${fixture.peopleBase}
  groups:
    baseDns:
      - ${fixture.groupsBase}
  attributes: { smartcards: employeeNumber }
api:
  baseUrl: ${mockUrl}
  tokenFile: token
  tokenOwner: owner@example.com
${overrides.api ?? ''}
rules:
  scope: ${overrides.scope ?? '{ emailDomains: [example.com] }'}
  ranks:
    SUPER:
      - cn=owners,${fixture.groupsBase}
    ADMIN:
      - CN=Admins,${fixture.groupsBase.toUpperCase()}
  suspend:
    groups:
      - cn=suspended,${fixture.groupsBase}
${overrides.rules ?? '  removed: { action: delete, graceDays: 7 }'}
  computerUsernames: manage
  smartcards: manage
${overrides.safety ?? ''}
state: { path: state/dirsync.json }
log: { level: warn }
`,
  );
  return path;
}

const writes = (mock: MockServer): typeof mock.requests =>
  mock.requests.filter((r) => r.method !== 'GET');

describe.skipIf(skip)('dirsync plan and apply against slapd and the mock API', () => {
  let slapd: SlapdServer;
  let env: Env | undefined;

  beforeAll(async () => {
    slapd = await startSlapd({ ldif: fixture.ldif, ppolicy: true });
  });
  afterAll(async () => {
    await slapd?.stop();
  });
  afterEach(async () => {
    await env?.mock.close();
    env = undefined;
  });

  async function setup(
    options: {
      seed?: SeedInput;
      faults?: unknown;
      overrides?: Parameters<typeof writeConfig>[3];
    } = {},
  ): Promise<Env> {
    const mock = await startMockServer({
      seed: parseSeed(options.seed ?? seed(), 'e2e seed'),
      ...(options.faults === undefined
        ? {}
        : { faults: parseFaults(options.faults, 'e2e faults') }),
      port: 0,
    });
    const dir = mkdtempSync(join(tmpdir(), 'dirsync-e2e-'));
    env = { dir, mock, config: writeConfig(dir, slapd, mock.url, options.overrides) };
    return env;
  }

  function orgUser(mock: MockServer, email: string) {
    return mock.store.organizations[0]?.findByEmail(email);
  }

  it('plans, applies, and then has nothing left to do: a second apply sends no write', async () => {
    const { config, mock } = await setup();

    const dry = await runCli(['plan', '--config', config, '--json']);
    expect(dry.stderr).not.toContain('error');
    expect(dry.code).toBe(0);
    const plan = JSON.parse(dry.stdout) as {
      formatVersion: number;
      actions: { kind: string; email: string; reason: string; before: unknown; after: unknown }[];
      notInOrganization: unknown[];
      summary: unknown;
    };
    expect(plan.formatVersion).toBe(1);
    expect(plan.actions.length).toBeGreaterThan(40);
    for (const a of plan.actions)
      expect(Object.keys(a)).toEqual(
        expect.arrayContaining(['kind', 'email', 'reason', 'before', 'after']),
      );
    expect(writes(mock)).toEqual([]);

    const applied = await runCli(['apply', '--config', config]);
    expect(applied.stderr).not.toContain('error');
    expect(applied.code).toBe(0);

    // Check the organization user by user.
    for (let i = 0; i < 40; i++) {
      const u = orgUser(mock, i === 5 ? 'USER0005@example.com' : id(i));
      const login = `user${String(i).padStart(4, '0')}`;
      if (i === 9) {
        // Its entry has no mail: unmatched, so it is treated as gone (suspended, grace period).
        expect(u).toMatchObject({ computer_usernames: ['stale'], ad_status: 'SUSPENDED' });
        continue;
      }
      expect(u?.computer_usernames, login).toEqual([login]);
      expect(
        u?.smartcards.map((c) => c.number),
        login,
      ).toEqual(i % 10 === 0 ? [String(100000 + i)] : []);
      expect(u?.rank, login).toBe(i === 1 ? 'SUPER' : i === 2 || i === 3 ? 'ADMIN' : 'REGULAR');
      expect(u?.tag, login).toBe('USER');
      const status = i === 8 ? 'PENDING' : i === 6 || i === 13 ? 'SUSPENDED' : 'ACTIVE';
      expect(u?.ad_status, login).toBe(status);
    }
    expect(orgUser(mock, 'leaver1@example.com')?.ad_status).toBe('SUSPENDED');
    expect(orgUser(mock, 'owner@example.com')?.rank).toBe('SUPER');
    expect(orgUser(mock, 'someone@other.example.org')).toMatchObject({
      ad_status: 'ACTIVE',
      computer_usernames: [],
    });

    const again = await runCli(['plan', '--config', config, '--json']);
    expect((JSON.parse(again.stdout) as { actions: unknown[] }).actions).toEqual([]);

    mock.requests.length = 0;
    const quiet = await runCli(['apply', '--config', config]);
    expect(quiet.code).toBe(0);
    expect(mock.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /multipleusers',
      'GET /multipleusers',
    ]);
  });

  /**
   * Issue 13 item 4: users the plan leaves alone cost nothing. Each shape is added to the
   * organization above; once converged, a plan and an apply make exactly the two listings (no
   * GET /user, no write), and the plan is empty.
   */
  const QUIET_SHAPES: Record<
    string,
    { users: SeedUser[]; overrides: Overrides; byHand?: string[] }
  > = {
    'guests in none of promoteGuests.groups': {
      users: [id(100), id(101), id(102)].map((email) => ({ email, tag: 'GUEST' })),
      overrides: {
        rules: `  removed: { action: delete, graceDays: 7 }\n  promoteGuests:\n    groups:\n      - cn=owners,${fixture.groupsBase}`,
      },
    },
    'users out of scope (another domain, an excluded address)': {
      users: [{ email: 'contractor0@partner.example.net' }, { email: id(103) }],
      overrides: { scope: `{ emailDomains: [example.com], exclude: [${id(103)}] }` },
    },
    'protected users (locked, would be demoted, gone from the directory)': {
      users: [{ email: id(104), rank: 'ADMIN' }],
      overrides: {
        safety: `safety:\n  protectedUsers: [${id(6)}, ${id(104)}, leaver1@example.com]`,
      },
    },
    'users suspended by hand (before and after convergence)': {
      users: [{ email: id(105), ad_status: 'SUSPENDED' }],
      overrides: {},
      byHand: [id(11), id(12)],
    },
  };
  const quietShapes = Object.keys(QUIET_SHAPES);

  it.each([...quietShapes.map((s) => [s]), ['all of them together']])(
    'a converged organization with %s: a quiet plan and apply make exactly the 2 listings',
    async (shape) => {
      const shapes = shape === 'all of them together' ? quietShapes : [shape];
      const parts = shapes.map((s) => QUIET_SHAPES[s]!);
      // Each shape overrides different keys (only the guests' touches rules).
      const overrides: Overrides = {};
      for (const p of parts) Object.assign(overrides, p.overrides);
      const { config, mock } = await setup({
        seed: seed(parts.flatMap((p) => p.users)),
        overrides,
      });
      let applies = 0;
      for (;;) {
        const planned = await runCli(['plan', '--config', config, '--json']);
        expect(planned.code, planned.stderr).toBe(0);
        if ((JSON.parse(planned.stdout) as { actions: unknown[] }).actions.length === 0) break;
        expect(applies++, planned.stdout).toBeLessThan(3);
        expect((await runCli(['apply', '--config', config])).code).toBe(0);
      }
      for (const email of parts.flatMap((p) => p.byHand ?? [])) {
        const res = await fetch(`${mock.url}/_mock/users/${orgUser(mock, email)!.email_id}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ad_status: 'SUSPENDED' }),
        });
        expect(res.status).toBe(200);
      }
      const emailOf = new Map(
        mock.store.snapshot().organizations[0]!.users.map((u) => [u.email_id, u.email]),
      );
      const calls = (): Record<string, number | string[]> => {
        const out: Record<string, number | string[]> = {};
        for (const r of mock.requests) {
          const key = `${r.method} ${r.path}`;
          out[key] = (typeof out[key] === 'number' ? out[key] : 0) + 1;
        }
        // Name the users whose details were read, so that a failure says which shape it was.
        const read = mock.requests.filter((r) => r.path === '/user');
        if (read.length > 0)
          out['users read'] = read.map((r) => emailOf.get(Number(r.params['email_id'])) ?? '?');
        mock.requests.length = 0;
        return out;
      };
      calls();

      const quietPlan = await runCli(['plan', '--config', config, '--json']);
      expect(quietPlan.code).toBe(0);
      expect((JSON.parse(quietPlan.stdout) as { actions: unknown[] }).actions).toEqual([]);
      expect(calls()).toEqual({ 'GET /multipleusers': 2 });

      const quietApply = await runCli(['apply', '--config', config]);
      expect(quietApply.code).toBe(0);
      expect(calls()).toEqual({ 'GET /multipleusers': 2 });
    },
  );

  it('check binds, searches, authenticates and prints counts; explain shows one user', async () => {
    const { config, mock } = await setup();
    const check = await runCli(['check', '--config', config]);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain(
      `directory  ${slapd.url} (openldap): 299 users with email, 1 without (skipped), 3 of 3 groups the rules name found`,
    );
    expect(check.stdout).toContain(
      `api        ${mock.url}: authenticated; 44 users (43 USER, 1 GUEST)`,
    );
    expect(check.stdout).toContain(
      'matching   39 matched, 43 in scope, 260 in the directory only, 4 in scope but not in the directory, 0 ambiguous',
    );

    const explain = await runCli(['explain', 'user0002@example.com', '--config', config]);
    expect(explain.code).toBe(0);
    expect(explain.stdout).toContain(`directory: uid=user0002,${fixture.peopleBase}`);
    expect(explain.stdout).toContain(
      `rank by the rules: ADMIN (member of CN=Admins,${fixture.groupsBase.toUpperCase()})`,
    );
    expect(explain.stdout).toContain('~ rank: (unknown) -> ADMIN');
    // check's one write, which changes nothing: the token owner's usernames set to what they are.
    expect(check.stdout).toContain('writes     allowed: re-set the computer usernames of');
    expect(writes(mock).map((w) => w.path)).toEqual(['/modifyallusernames']);
  });

  it('holds an over-budget kind with exit 3, applies the rest; the held plan or --force applies it', async () => {
    const leavers: SeedUser[] = Array.from({ length: 30 }, (_, i) => ({
      email: `gone${i}@example.com`,
    }));
    const { config, mock, dir } = await setup({
      seed: seed(leavers),
      overrides: { rules: '  removed: { action: delete, graceDays: 0 }' },
    });

    const planFile = join(dir, 'plan.json');
    const planned = await runCli(['plan', '--config', config, '--out', planFile]);
    expect(planned.code).toBe(3);
    expect(planned.stdout).toContain(
      'maxDeletes: the plan removes 33 users (limit 25) (holds back these 33 actions; the rest applies)',
    );
    expect(planned.stdout).toContain(`dirsync apply --plan ${planFile}`);

    const held = await runCli(['apply', '--config', config]);
    expect(held.code).toBe(3);
    expect(held.stdout).toContain('Held back by safety budgets, not sent (33):');
    expect(held.stdout).toContain(
      'held remove gone0@example.com: maxDeletes: the plan removes 33 users (limit 25); maxDeletePercent:',
    );
    const heldFile = /saved in (\S+)\.\n/.exec(held.stdout)?.[1];
    expect(heldFile).toMatch(/state\/plans\/held-.*\.json$/);
    expect(held.stdout).toContain(`dirsync apply --config ${config} --plan ${heldFile}`);
    // Everything but the removals was applied.
    expect(writes(mock).filter((r) => r.path === '/user')).toEqual([]);
    expect(orgUser(mock, id(11))?.computer_usernames).toEqual(['user0011']);
    expect(orgUser(mock, 'gone0@example.com')).toBeDefined();

    const reviewed = await runCli(['apply', '--config', config, '--plan', heldFile!]);
    expect(reviewed.code).toBe(0);
    expect(orgUser(mock, 'gone0@example.com')).toBeUndefined();
    expect(writes(mock).filter((r) => r.path === '/user')).toHaveLength(33);
  });

  it('applies an over-budget plan with --force', async () => {
    const leavers: SeedUser[] = Array.from({ length: 30 }, (_, i) => ({
      email: `gone${i}@example.com`,
    }));
    const { config, mock } = await setup({
      seed: seed(leavers),
      overrides: { rules: '  removed: { action: delete, graceDays: 0 }' },
    });
    const forced = await runCli(['apply', '--config', config, '--force']);
    expect(forced.code).toBe(0);
    expect(orgUser(mock, 'gone29@example.com')).toBeUndefined();
  });

  it.each([
    [
      'the directory server is down',
      { source: 'ldap://127.0.0.1:1' },
      'no LDAP server could be reached',
    ],
  ])('exits 1 with no write when %s', async (_name, overrides, message) => {
    const { config, mock } = await setup({ overrides });
    const result = await runCli(['apply', '--config', config]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(message);
    expect(mock.requests).toEqual([]);
  });

  it('exits 4 and lists the failure when an action fails, after applying the others', async () => {
    // An out-of-scope user already holds user0010's card number: its set_smartcards gets a 400.
    const { config, mock } = await setup({
      seed: seed([{ email: 'holder@other.example.org', smartcards: [{ number: '100010' }] }]),
    });
    const result = await runCli(['apply', '--config', config]);
    expect(result.code).toBe(4);
    expect(result.stdout).toMatch(/FAILED set_smartcards user0010@example.com: .*100010/);
    expect(orgUser(mock, id(11))?.computer_usernames).toEqual(['user0011']);
    expect(orgUser(mock, id(10))?.smartcards).toEqual([]);
  });

  it('exits 1 with no write when the users search finds nobody', async () => {
    const { mock, dir } = await setup();
    const empty = writeConfig(dir, slapd, mock.url, {});
    writeFileSync(
      empty,
      readFileSync(empty, 'utf8').replace(
        `      - ${fixture.peopleBase}\n`,
        `      - ${fixture.groupsBase}\n`,
      ),
    );
    const result = await runCli(['apply', '--config', empty]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('returned no user with an email');
    expect(mock.requests).toEqual([]);
  });

  it('stops with exit 3 and no write when the directory shrank past maxSourceDropPercent', async () => {
    const { config, mock, dir } = await setup();
    expect((await runCli(['apply', '--config', config])).code).toBe(0);
    const before = writes(mock).length;
    // The same directory, now read through a filter that hides most users.
    const narrowed = writeConfig(dir, slapd, mock.url, {});
    writeFileSync(
      narrowed,
      (await import('node:fs'))
        .readFileSync(narrowed, 'utf8')
        .replace('  attributes:', '  attributes:')
        .replace(
          `      - ${fixture.peopleBase}\n`,
          `      - ${fixture.peopleBase}\n    filter: "(&(objectClass=inetOrgPerson)(uid=user00*))"\n`,
        ),
    );
    const result = await runCli(['apply', '--config', narrowed]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('maxSourceDropPercent');
    // The refused plan is saved, with a report, and the commands to review and apply it.
    const saved =
      /The plan is saved in (\S+\/state\/plans\/refused-\S+\.json); the report in (\S+\.json)/.exec(
        result.stderr,
      );
    expect(saved).not.toBeNull();
    expect(JSON.parse(readFileSync(saved![2]!, 'utf8'))).toMatchObject({ outcome: 'refused' });
    expect(result.stderr).toContain(`\`dirsync plan --config ${narrowed}\``);
    expect(result.stderr).toContain(`\`dirsync apply --config ${narrowed} --plan ${saved![1]}\``);
    expect(writes(mock)).toHaveLength(before);
  });

  it('resumes after being killed mid-apply: converges, and repeats no toggle', async () => {
    const { config, mock } = await setup({
      faults: {
        '*': { latencyMs: 25 },
        '/multipleusers': { latencyMs: 0 },
        '/user': { latencyMs: 0 },
      },
      overrides: { api: '  concurrency: 1' },
    });
    const child = spawnCli(['apply', '--config', config]);
    for (let i = 0; i < 400 && writes(mock).length < 15; i++) await sleep(10);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const firstRun = writes(mock).length;
    expect(firstRun).toBeGreaterThanOrEqual(15);

    const resumed = await runCli(['apply', '--config', config]);
    expect(resumed.stderr).not.toContain('error');
    expect(resumed.code).toBe(0);

    const done = await runCli(['plan', '--config', config, '--json']);
    expect((JSON.parse(done.stdout) as { actions: unknown[] }).actions).toEqual([]);

    // Toggles are never repeated for the same user; at most the one write in flight at the kill
    // (a rank, which cannot be read back) may be sent twice.
    const all = writes(mock).map((r) => `${r.path} ${JSON.stringify(r.params)}`);
    const toggles = writes(mock)
      .filter((r) => r.path === '/togglesuspension')
      .map((r) => String(r.params['email_id']));
    expect(new Set(toggles).size).toBe(toggles.length);
    expect(all.length - new Set(all).size).toBeLessThanOrEqual(1);
  });
});
