import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../../src/api/client.js';
import type { UsersApi } from '../../../src/api/users-api.js';
import { Config } from '../../../src/config/schema.js';
import { createDirectorySource } from '../../../src/directory/index.js';
import { SafetyError } from '../../../src/errors.js';
import type { MockServer } from '../../../src/mock/server.js';
import type { Plan } from '../../../src/reconcile/model.js';
import { readPlanFile, type SavedPlan } from '../../../src/reconcile/saved-plan.js';
import { applyRun, type RunReport } from '../../../src/reconcile/run.js';
import { StateStore } from '../../../src/state/store.js';
import {
  SUPER_TOKEN,
  aSeed,
  aSeedUser,
  startTestMock,
  type SeedUserInput,
} from '../../support/mock.js';

const DOMAIN = 'corp.example.com';
const PEOPLE = 'ou=People,dc=corp,dc=example,dc=com';
const GROUPS = 'ou=Groups,dc=corp,dc=example,dc=com';
const OWNERS = `cn=Owners,${GROUPS}`;
const LEAVERS = `cn=Leavers,${GROUPS}`;
const T0 = Date.parse('2026-03-02T08:00:00.000Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A directory person: `name@corp.example.com`, uid `name`. */
interface Person {
  name: string;
  groups?: string[];
}

function ldifOf(people: Person[]): string {
  const lines = [
    'version: 1',
    '',
    `dn: ${PEOPLE}`,
    'objectClass: organizationalUnit',
    'ou: People',
    '',
  ];
  for (const p of people) {
    lines.push(
      `dn: uid=${p.name},${PEOPLE}`,
      'objectClass: inetOrgPerson',
      `uid: ${p.name}`,
      `cn: ${p.name}`,
      `sn: ${p.name}`,
      `mail: ${p.name}@${DOMAIN}`,
      `entryUUID: uuid-${p.name}`,
      '',
    );
  }
  for (const group of [OWNERS, LEAVERS]) {
    const members = people.filter((p) => p.groups?.includes(group));
    lines.push(`dn: ${group}`, 'objectClass: groupOfNames', `cn: ${/^cn=([^,]+)/.exec(group)![1]}`);
    for (const m of members) lines.push(`member: uid=${m.name},${PEOPLE}`);
    // groupOfNames must have a member: an empty group names itself (a placeholder, not a member).
    if (members.length === 0) lines.push(`member: ${group}`);
    lines.push('');
  }
  return lines.join('\n');
}

/** The mock's three callers (owner SUPER, admin, reader) plus `names`, all in scope. */
function seedOf(names: string[], extra: Partial<SeedUserInput> = {}) {
  return aSeed(
    names.map((name) => aSeedUser({ email: `${name}@${DOMAIN}`, ...extra })),
    { otherOrganization: false },
  );
}

/** The callers as directory people: the owner in the SUPER group. */
const CALLERS: Person[] = [
  { name: 'owner', groups: [OWNERS] },
  { name: 'admin' },
  { name: 'reader' },
];

let mock: MockServer | undefined;
let api: ApiClient | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await api?.close();
  await mock?.close();
  api = undefined;
  mock = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface World {
  dir: string;
  statePath: string;
  mock: MockServer;
  setDirectory(people: Person[]): void;
  /** One apply run at `at` (a fresh state store, as each run opens it). */
  run(
    at: number,
    options?: { reviewed?: SavedPlan; force?: boolean; api?: (real: ApiClient) => UsersApi },
  ): Promise<{ report: RunReport; reportFile: string }>;
  user(name: string): { ad_status: string; computer_usernames: string[] } | undefined;
  state(): ReturnType<typeof StateStore.open>['state'];
}

async function aWorld(options: {
  people: Person[];
  org: string[];
  orgExtra?: Partial<SeedUserInput>;
  rules?: Record<string, unknown>;
  safety?: Record<string, unknown>;
  filter?: string;
}): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'dirsync-rails-'));
  dirs.push(dir);
  const file = join(dir, 'directory.ldif');
  const statePath = join(dir, 'state', 'dirsync.json');
  writeFileSync(file, ldifOf(options.people));
  const server = await startTestMock(seedOf(options.org, options.orgExtra));
  mock = server;
  api = new ApiClient({
    baseUrl: server.url,
    token: SUPER_TOKEN,
    retry: { baseDelayMs: 1, maxDelayMs: 5, settleMs: 1 },
  });
  const config = Config.parse({
    source: {
      type: 'ldif',
      file,
      users: {
        baseDns: [PEOPLE],
        ...(options.filter === undefined ? {} : { filter: options.filter }),
      },
      groups: { baseDns: [GROUPS] },
    },
    api: { baseUrl: server.url, token: SUPER_TOKEN },
    rules: {
      scope: { emailDomains: [DOMAIN] },
      ranks: { SUPER: [OWNERS] },
      suspend: { groups: [LEAVERS] },
      removed: { action: 'delete', graceDays: 7 },
      ...options.rules,
    },
    safety: options.safety ?? {},
    state: { path: statePath },
  });
  const org = () => server.store.organizations[0]!;
  return {
    dir,
    statePath,
    mock: server,
    setDirectory: (people) => writeFileSync(file, ldifOf(people)),
    async run(at, { api: wrap, ...runOptions } = {}) {
      const store = StateStore.open(statePath, server.url);
      try {
        return await applyRun(
          {
            config,
            source: createDirectorySource(config.source),
            api: wrap === undefined ? api! : wrap(api!),
            store,
            clock: () => new Date(at),
          },
          { runId: `run-${at}`, ...runOptions },
        );
      } finally {
        store.close();
      }
    },
    user: (name) => org().findByEmail(`${name}@${DOMAIN}`),
    state: () => StateStore.open(statePath, server.url).state,
  };
}

const names = (prefix: string, n: number): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const writesTo = (path: string): number =>
  mock!.requests.filter((r) => r.method !== 'GET' && r.path === path).length;

/** The plan with its first `n` actions only. */
function subPlanOf(plan: SavedPlan, n: number): SavedPlan {
  return { ...plan, actions: plan.actions.slice(0, n) };
}

async function refusal(promise: Promise<unknown>): Promise<SafetyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SafetyError);
  return error as SafetyError;
}

describe('applyRun: budgets hold only the actions they count', () => {
  it('does not trip maxDeletePercent 5 on one leaver of 15 managed users, and applies the rest', async () => {
    // Arrange: 15 managed users (3 callers + 12), one of them gone from the directory.
    const staff = names('staff', 12);
    const w = await aWorld({
      people: [...CALLERS, ...staff.slice(1).map((name) => ({ name }))],
      org: staff,
      rules: { removed: { action: 'delete', graceDays: 0 } },
      safety: { maxDeletePercent: 5 },
    });

    // Act
    const { report } = await w.run(T0);

    // Assert
    expect(report.outcome).toBe('applied');
    expect(report.summary.managedUsers).toBe(15);
    expect(report.held).toEqual([]);
    expect(w.user('staff0')).toBeUndefined();
    expect(w.user('staff1')?.computer_usernames).toEqual(['staff1']);
  });

  it('holds the suspensions over budget, applies the login names, and saves the held ones for review', async () => {
    // Arrange: 5 of 13 in the Leavers group, maxSuspends 2.
    const staff = names('staff', 10);
    const w = await aWorld({
      people: [...CALLERS, ...staff.map((name, i) => ({ name, groups: i < 5 ? [LEAVERS] : [] }))],
      org: staff,
      safety: { maxSuspends: 2, maxSuspendPercent: 100 },
    });

    // Act
    const { report, reportFile } = await w.run(T0);

    // Assert: nobody suspended, every login name set, the suspensions held and saved.
    expect(report.outcome).toBe('held');
    expect(writesTo('/togglesuspension')).toBe(0);
    expect(w.user('staff0')).toMatchObject({ ad_status: 'ACTIVE', computer_usernames: ['staff0'] });
    expect(w.user('staff9')?.computer_usernames).toEqual(['staff9']);
    expect(report.held.map((h) => [h.kind, h.email, h.rails])).toEqual(
      names('staff', 5).map((n) => ['suspend', `${n}@${DOMAIN}`, ['maxSuspends']]),
    );
    expect(report.held[0]).toMatchObject({
      before: 'ACTIVE',
      after: 'SUSPENDED',
      heldBy: 'maxSuspends: the plan suspends 5 users (limit 2)',
    });
    expect(report.planFile).toMatch(/plans\/held-.*\.json$/);
    const held = readPlanFile(report.planFile!);
    expect(held.actions.map((a) => a.kind)).toEqual(Array(5).fill('suspend'));
    expect(JSON.parse(readFileSync(reportFile, 'utf8'))).toMatchObject({
      outcome: 'held',
      planFile: report.planFile,
    });

    // Act: a person reviews the held plan and applies exactly it.
    const reviewed = await w.run(T0 + HOUR, { reviewed: held });

    // Assert
    expect(reviewed.report.outcome).toBe('applied');
    expect(writesTo('/togglesuspension')).toBe(5);
    expect(w.user('staff4')?.ad_status).toBe('SUSPENDED');
  });

  it('holds 19 suspensions of 20 users on a first run through a narrowed filter (maxSuspendPercent)', async () => {
    // Arrange: 20 managed users; the filter now finds only the owner; leavers are suspended.
    const staff = names('staff', 17);
    const w = await aWorld({
      people: [...CALLERS, ...staff.map((name) => ({ name }))],
      org: staff,
      filter: '(uid=owner)',
      rules: { removed: { action: 'suspend', graceDays: 7 } },
    });

    // Act
    const { report } = await w.run(T0);

    // Assert: maxSuspends (50) alone would have let them through.
    expect(report.outcome).toBe('held');
    expect(report.held).toHaveLength(19);
    expect(report.rails.tripped.map((t) => t.rail)).toEqual(['maxSuspendPercent']);
    expect(writesTo('/togglesuspension')).toBe(0);
  });

  it('keeps a frequent schedule within a window budget across runs', async () => {
    // Arrange: at most 3 suspensions per 24h; leavers arrive two by two, every 30 minutes.
    const staff = names('staff', 6);
    const leaving = (n: number): Person[] => [
      ...CALLERS,
      ...staff.map((name, i) => ({ name, groups: i < n ? [LEAVERS] : [] })),
    ];
    const w = await aWorld({
      people: leaving(2),
      org: staff,
      safety: { maxSuspends: 3, maxSuspendPercent: 100, window: '24h' },
    });

    // Act
    const first = await w.run(T0);
    w.setDirectory(leaving(4));
    const second = await w.run(T0 + HOUR / 2);
    const third = await w.run(T0 + HOUR);
    const nextDay = await w.run(T0 + 25 * HOUR);

    // Assert
    expect(first.report.outcome).toBe('applied');
    expect(second.report.outcome).toBe('held');
    expect(second.report.rails.tripped[0]?.message).toBe(
      'the plan suspends 2 users, 4 with the 2 applied within the last 24h (limit 3 per 24h)',
    );
    expect(third.report.outcome).toBe('held');
    expect(w.user('staff3')?.ad_status).toBe('SUSPENDED');
    expect(nextDay.report.outcome).toBe('applied');
    expect(writesTo('/togglesuspension')).toBe(4);
    expect(w.state().spent).toEqual([
      { at: new Date(T0 + 25 * HOUR).toISOString(), counts: { suspends: 2 } },
    ]);
  });
  it("spends nothing of the window on a reviewed plan or --force: they are a person's call", async () => {
    // Arrange: 3 leavers, at most 1 suspension per 24h.
    const staff = names('staff', 6);
    const w = await aWorld({
      people: [...CALLERS, ...staff.map((name, i) => ({ name, groups: i < 3 ? [LEAVERS] : [] }))],
      org: staff,
      safety: { maxSuspends: 1, maxSuspendPercent: 100, window: '24h' },
    });
    const { report } = await w.run(T0);
    const held = readPlanFile(report.planFile!);

    // Act
    const reviewed = await w.run(T0 + HOUR, { reviewed: subPlanOf(held, 1) });
    const forced = await w.run(T0 + 2 * HOUR, { force: true });

    // Assert
    expect(report.held).toHaveLength(3);
    expect(reviewed.report.outcome).toBe('applied');
    expect(forced.report).toMatchObject({ outcome: 'applied', rails: { forced: true } });
    expect(writesTo('/togglesuspension')).toBe(3);
    // Only the first, automatic run spent (the owner's first SUPER grant).
    expect(w.state().spent).toEqual([
      { at: new Date(T0).toISOString(), counts: { privilegedGrants: 1 } },
    ]);
  });
});

describe('applyRun: a refused run records what its read established', () => {
  it('gives a user who came back and left again during refused runs a fresh grace period', async () => {
    // Arrange: day 0, carol has left (suspended, removal timer started).
    const staff = names('staff', 10).map((name) => ({ name }));
    const w = await aWorld({
      people: [...CALLERS, ...staff],
      org: [...names('staff', 10), 'carol'],
    });
    await w.run(T0);
    expect(w.user('carol')?.ad_status).toBe('SUSPENDED');
    // The owner leaves the SUPER group: every run is refused by lastSuper from now on.
    const ownerDemoted = [{ name: 'owner' }, ...CALLERS.slice(1)];

    // Act: day 2 carol is back, day 5 she leaves again, both during refused runs.
    w.setDirectory([...ownerDemoted, ...staff, { name: 'carol' }]);
    const back = await refusal(w.run(T0 + 2 * DAY));
    w.setDirectory([...ownerDemoted, ...staff]);
    await refusal(w.run(T0 + 5 * DAY));
    // Day 10: the SUPER group is fixed; carol has been gone 5 days, not 10.
    w.setDirectory([...CALLERS, ...staff]);
    const { report } = await w.run(T0 + 10 * DAY);

    // Assert
    expect(back.rails).toEqual(['lastSuper']);
    expect(w.user('carol')).toBeDefined();
    expect(report.outcome).toBe('applied');
    const carol = Object.values(w.state().users).find((u) => u.email === `carol@${DOMAIN}`);
    expect(carol?.missingSince).toBe(new Date(T0 + 5 * DAY).toISOString());
  });

  it('saves the refused plan and a refused report, and names them with the commands', async () => {
    // Arrange
    const w = await aWorld({ people: [...CALLERS, { name: 'bob' }], org: ['bob'] });
    await w.run(T0);
    w.setDirectory([{ name: 'owner' }, ...CALLERS.slice(1), { name: 'bob' }]);

    // Act
    const error = await refusal(w.run(T0 + HOUR));

    // Assert
    const planFile = /saved in (\S+);/.exec(error.message)?.[1];
    const reportFile = /the report in (\S+)$/m.exec(error.message)?.[1];
    expect(planFile).toMatch(/plans\/refused-.*\.json$/);
    expect(existsSync(planFile!)).toBe(true);
    expect((JSON.parse(readFileSync(planFile!, 'utf8')) as Plan).actions).toMatchObject([
      { kind: 'set_rank', email: `owner@${DOMAIN}`, before: 'SUPER', after: 'REGULAR' },
    ]);
    expect(JSON.parse(readFileSync(reportFile!, 'utf8'))).toMatchObject({
      outcome: 'refused',
      planFile,
      rails: { tripped: [{ rail: 'lastSuper', overridable: false }] },
      held: [],
    });
    expect(error.hint).toContain(`\`dirsync apply --plan ${planFile}\``);
    expect(error.hint).toContain('`dirsync plan`');
    // The command it names reads the file: it says which API and organization it was made for.
    expect(readPlanFile(planFile!).madeFor).toMatchObject({
      apiBaseUrl: w.mock.url.replace(/\/+$/, ''),
      organization: { sample: expect.arrayContaining([expect.any(Array)]) as unknown },
    });
  });
});

describe('applyRun: an empty organization', () => {
  it('is refused with no write, and prunes no record', async () => {
    // Arrange: a first run fills the record; then the API lists nobody (a wrong URL, a fault).
    const w = await aWorld({ people: [...CALLERS, { name: 'bob' }], org: ['bob'] });
    await w.run(T0);
    const writes = mock!.requests.filter((r) => r.method !== 'GET').length;
    const empty = (real: ApiClient): UsersApi =>
      Object.assign(Object.create(real) as ApiClient, {
        listOrganization: () => Promise.resolve([]),
      });

    // Act
    const error = await refusal(w.run(T0 + HOUR, { api: empty }));

    // Assert
    expect(error.rails).toEqual(['emptyOrganization']);
    expect(error.hint).toContain('safety.allowEmptyOrganization');
    expect(mock!.requests.filter((r) => r.method !== 'GET')).toHaveLength(writes);
    expect(Object.keys(w.state().users)).toHaveLength(4);
  });
});

describe('applyRun: the state record stays true', () => {
  it('forgets the record of a user deleted by hand after a complete read', async () => {
    // Arrange
    const w = await aWorld({
      people: [...CALLERS, { name: 'bob' }, { name: 'dan' }],
      org: ['bob', 'dan'],
    });
    await w.run(T0);
    const dan = w.user('dan') as unknown as { email_id: number };
    expect(w.state().users[String(dan.email_id)]).toBeDefined();
    w.mock.store.organizations[0]!.remove(dan.email_id);

    // Act
    await w.run(T0 + HOUR);

    // Assert
    expect(w.state().users[String(dan.email_id)]).toBeUndefined();
    expect(
      Object.values(w.state().users)
        .map((u) => u.email)
        .sort(),
    ).toEqual(['admin', 'bob', 'owner', 'reader'].map((n) => `${n}@${DOMAIN}`));
  });
});
