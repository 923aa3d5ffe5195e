import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { parseFaults } from '../../src/mock/faults.js';
import { parseSeed, type SeedInput } from '../../src/mock/seed.js';
import { startMockServer, type MockServer } from '../../src/mock/server.js';
import { runCli, spawnCli } from './support.js';

/**
 * Exactly-once toggles through the built CLI, against the mock API with an LDIF directory:
 * no slapd needed, so these run everywhere (CI included).
 */

const SUPER = 'toggles-super-token';
const READER = 'toggles-reader-token';
const OWNER = 'owner@example.com';
const user = (i: number): string => `u${String(i).padStart(2, '0')}@example.com`;

let mock: MockServer | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

interface World {
  dir: string;
  config: string;
  mock: MockServer;
}

/** `n` users, all in the directory; those in `disabled` are locked there (to be suspended). */
async function setup(options: {
  n: number;
  disabled: number[];
  faults?: unknown;
  token?: string;
  api?: Record<string, number>;
  seedUser?: (i: number) => Record<string, unknown>;
}): Promise<World> {
  const users: NonNullable<SeedInput['organizations'][number]['users']> = [
    { email: OWNER, rank: 'SUPER' },
    { email: 'reader@example.com' },
  ];
  for (let i = 0; i < options.n; i++) users.push({ email: user(i), ...options.seedUser?.(i) });
  mock = await startMockServer({
    seed: parseSeed(
      {
        organizations: [
          {
            name: 'corp',
            tokens: [
              { token: SUPER, email: OWNER },
              { token: READER, email: 'reader@example.com' },
            ],
            users,
          },
        ],
      },
      'toggles seed',
    ),
    ...(options.faults === undefined ? {} : { faults: parseFaults(options.faults, 'faults') }),
    port: 0,
  });
  const dir = mkdtempSync(join(tmpdir(), 'dirsync-toggles-'));
  const entries = [
    OWNER,
    'reader@example.com',
    ...Array.from({ length: options.n }, (_, i) => user(i)),
  ]
    .map((mail, i) => {
      const uid = mail.split('@')[0]!;
      const locked = options.disabled.includes(i - 2)
        ? 'pwdAccountLockedTime: 000001010000Z\n'
        : '';
      return `dn: uid=${uid},ou=People,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\nmail: ${mail}\nentryUUID: 00000000-0000-4000-8000-${String(i).padStart(12, '0')}\n${locked}`;
    })
    .join('\n');
  writeFileSync(join(dir, 'directory.ldif'), `version: 1\n\n${entries}`);
  writeFileSync(join(dir, 'token'), options.token ?? SUPER);
  const api = Object.entries(options.api ?? {})
    .map(([k, v]) => `  ${k}: ${v}\n`)
    .join('');
  const config = join(dir, 'dirsync.yaml');
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
  tokenOwner: ${OWNER}
${api}rules:
  scope: { emailDomains: [example.com] }
  ranks: { SUPER: [], ADMIN: [], manage: false }
  suspend: { disabledAccounts: true }
  removed: { action: suspend }
  computerUsernames: manage
  smartcards: ignore
safety: { maxSuspends: 1000, maxSuspendPercent: 100 }
state: { path: state/dirsync.json }
log: { level: warn, format: json }
`,
  );
  return { dir, config, mock };
}

const toggleCounts = (m: MockServer): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const r of m.requests) {
    if (r.path !== '/togglesuspension' || r.status !== 200) continue;
    const id = String(r.params['email_id']);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
};
const writes = (m: MockServer): { path: string; status: number }[] =>
  m.requests.filter((r) => r.method !== 'GET');
const statusOf = (m: MockServer, email: string): string | undefined =>
  m.store.organizations[0]?.findByEmail(email)?.ad_status;

describe('exactly-once toggles through the CLI (issue 12)', () => {
  it('SIGKILL with slow toggles in flight, restarted at once: nobody is toggled twice', async () => {
    const disabled = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const {
      dir,
      config,
      mock: m,
    } = await setup({
      n: 10,
      disabled,
      faults: { seed: 5, '/togglesuspension': { latencyMs: [1500, 2500] } },
      api: { concurrency: 8, settleMs: 3000 },
    });
    const journal = join(dir, 'state/dirsync.json.journal');
    const sentLines = (): number =>
      existsSync(journal)
        ? readFileSync(journal, 'utf8')
            .split('\n')
            .filter((l) => l.includes('"toggle-sent"')).length
        : 0;

    const child = spawnCli(['apply', '--config', config]);
    for (let i = 0; i < 1000 && sentLines() < 4; i++) await sleep(10);
    // Journaled first, then sent: give the requests a moment to leave (none is answered before
    // 1.5 s), then kill the run with its toggles in flight.
    await sleep(400);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const inFlight = sentLines();
    expect(inFlight).toBeGreaterThanOrEqual(4);
    // Killed before any answer came back: every toggle sent is still in flight.
    expect(toggleCounts(m).size).toBe(0);

    const restart = await runCli(['apply', '--config', config]);

    expect(restart.code, restart.stdout + restart.stderr).toBe(0);
    expect(restart.stdout).toMatch(/earlier toggle of u\d\d@example.com verified: .* landed/);
    const counts = toggleCounts(m);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(counts.size).toBe(10);
    for (const i of disabled) expect(statusOf(m, user(i))).toBe('SUSPENDED');
  }, 30_000);

  it('a toggle left unclear behind a cache that ignores no-cache is verified first by the next run', async () => {
    const { config, mock: m } = await setup({
      n: 12,
      disabled: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      faults: {
        seed: 2,
        '/multipleusers': { cacheListingsMs: 1200, cacheIgnoresNoCache: true },
        '/togglesuspension': { dropAfterCommit: 0.34 },
      },
      api: { settleMs: 100 },
    });
    // The run's own first read fills the gateway's cache; the re-reads after lost answers then
    // get that copy, with the old status, whatever they ask.
    const first = await runCli(['apply', '--config', config]);

    expect(first.code).toBe(4);
    expect(first.stdout).toContain('UNCLEAR suspend');
    expect([...toggleCounts(m).values()].every((n) => n === 1)).toBe(true);

    const dry = await runCli(['plan', '--config', config]);
    expect(dry.stdout).toMatch(
      /\d+ suspension toggles? sent by an earlier run (is|are) not verified yet/,
    );
    await sleep(1300); // the gateway's copy expires
    const second = await runCli(['apply', '--config', config]);

    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toMatch(
      /earlier toggle of u\d\d@example.com verified: the user is SUSPENDED/,
    );
    expect([...toggleCounts(m).values()].every((n) => n === 1)).toBe(true);
    for (let i = 0; i < 12; i++) expect(statusOf(m, user(i))).toBe('SUSPENDED');
  }, 30_000);

  it('a read-only token: one 403, the apply stops, exit non-zero naming the missing right', async () => {
    const { config, mock: m } = await setup({ n: 12, disabled: [0, 1, 2], token: READER });

    const result = await runCli(['apply', '--config', config]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /apply stopped: the token's user may not change the organization \(403/,
    );
    expect(result.stderr).toContain('To fix: use a token of an ADMIN or SUPER user');
    expect(writes(m).map((r) => r.status)).toEqual([403]);
  });

  it('a listing that repeats a row: the run is refused, nothing is written', async () => {
    const { config, mock: m } = await setup({
      n: 6,
      disabled: [0, 1, 2, 3],
      faults: { '/multipleusers': { duplicateRows: [user(1), user(3)] } },
    });

    const result = await runCli(['apply', '--config', config]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /listed 2 email_id\(s\) more than once: \d+ \(u01@example.com, as USER and GUEST\)/,
    );
    expect(writes(m)).toEqual([]);
  });

  it('apply --plan with a toggle listed twice: exit 2 naming the action, nothing sent', async () => {
    const { dir, config, mock: m } = await setup({ n: 3, disabled: [1] });
    const planFile = join(dir, 'plan.json');
    const made = await runCli(['plan', '--config', config, '--out', planFile]);
    expect(made.code).toBe(0);
    const plan = JSON.parse(readFileSync(planFile, 'utf8')) as { actions: { kind: string }[] };
    const suspend = plan.actions.findIndex((a) => a.kind === 'suspend');
    expect(suspend).toBeGreaterThanOrEqual(0);
    plan.actions.push(plan.actions[suspend]!);
    writeFileSync(planFile, JSON.stringify(plan));

    const result = await runCli(['apply', '--config', config, '--plan', planFile]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`action ${plan.actions.length - 1} (suspend u01@example.com`);
    expect(result.stderr).toContain(`repeats action ${suspend}`);
    expect(writes(m)).toEqual([]);
  });
});
