import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { BIN } from './support.js';

/**
 * `dirsync daemon` (the built CLI) with `source.type: scim` and `dirsync mock-api`, both child
 * processes over real HTTP: an identity provider's provisioning cycle in, the organization out.
 */

const TOKEN = 'scim-token-0123456789abcdef';
const API_TOKEN = 'super-token';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const DIRSYNC = 'urn:ietf:params:scim:schemas:extension:dirsync:2.0:User';

interface Child {
  process: ChildProcess;
  out: string;
  err: string;
}

function spawnChild(args: string[]): Child {
  const child: Child = {
    process: spawn(process.execPath, [BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? tmpdir() },
    }),
    out: '',
    err: '',
  };
  child.process.stdout!.on('data', (c: Buffer) => (child.out += c.toString()));
  child.process.stderr!.on('data', (c: Buffer) => (child.err += c.toString()));
  return child;
}

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const logLines = (child: Child): Record<string, unknown>[] =>
  child.err
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

async function stop(child: Child | undefined): Promise<void> {
  if (child === undefined || child.process.exitCode !== null) return;
  const exited = new Promise((r) => child.process.once('exit', r));
  child.process.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
  if (child.process.exitCode === null) child.process.kill('SIGKILL');
}

/** The fields of SCIM answers these tests read. */
interface ScimBody {
  id: string;
  totalResults: number;
  scimType?: string;
  active?: boolean;
  members?: { value: string }[];
  meta: { version: string };
}

interface OrgUser {
  email: string;
  rank: string;
  tag: string;
  ad_status: string;
  computer_usernames: string[];
}

let dir: string;
let mock: Child;
let apiUrl: string;
let daemon: Child | undefined;
let scimUrl: string;
let configFile: string;

async function startDaemon(): Promise<void> {
  daemon = spawnChild(['daemon', '--config', configFile]);
  const d = daemon;
  const line = await waitFor('the SCIM listener', () =>
    logLines(d).find((l) => l['message'] === 'SCIM listener started'),
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\n${d.err}`);
  });
  scimUrl = line['url'] as string;
}

async function scim(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: ScimBody }> {
  const res = await request(`${scimUrl}${path}`, {
    method: method as 'GET',
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: (text === '' ? {} : JSON.parse(text)) as ScimBody };
}

async function orgUsers(): Promise<Map<string, OrgUser>> {
  const res = await request(`${apiUrl}/_mock/state`);
  const state = (await res.body.json()) as { organizations: { name: string; users: OrgUser[] }[] };
  return new Map(state.organizations[0]!.users.map((u) => [u.email, u]));
}

/** The organization once it matches `expected` (or as it is after 20 s, for the failure). */
async function settled(
  expected: Record<string, Partial<OrgUser>>,
): Promise<Record<string, OrgUser | undefined>> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const users = await orgUsers();
    const picked = Object.fromEntries(Object.keys(expected).map((e) => [e, users.get(e)]));
    const matches = Object.entries(expected).every(([email, want]) =>
      Object.entries(want).every(
        ([k, v]) => JSON.stringify(picked[email]?.[k as keyof OrgUser]) === JSON.stringify(v),
      ),
    );
    if (matches || Date.now() > deadline) return picked;
    await sleep(100);
  }
}

const aUser = (email: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  schemas: [USER, DIRSYNC],
  userName: email,
  active: true,
  emails: [{ type: 'work', value: email, primary: true }],
  name: { givenName: email.split('@')[0], familyName: 'Test' },
  ...extra,
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dirsync-scim-e2e-'));
  const seed = join(dir, 'seed.yaml');
  writeFileSync(
    seed,
    stringify({
      organizations: [
        {
          name: 'corp',
          tokens: [{ token: API_TOKEN, email: 'owner@corp.example.com' }],
          users: [
            {
              email: 'owner@corp.example.com',
              first_name: 'Olga',
              last_name: 'Owner',
              rank: 'SUPER',
            },
            { email: 'ann@corp.example.com', first_name: 'Ann', last_name: 'Test' },
            { email: 'bob@corp.example.com', first_name: 'Bob', last_name: 'Test' },
            {
              email: 'carol@corp.example.com',
              first_name: 'Carol',
              last_name: 'Test',
              tag: 'GUEST',
            },
            { email: 'dave@corp.example.com', first_name: 'Dave', last_name: 'Test' },
          ],
        },
      ],
    }),
  );
  mock = spawnChild(['mock-api', '--port', '0', '--seed', seed]);
  apiUrl = await waitFor('the mock API', () => /listening on (\S+)/.exec(mock.out)?.[1]);
  configFile = join(dir, 'dirsync.yaml');
  writeFileSync(
    configFile,
    stringify({
      source: { type: 'scim' },
      scim: {
        host: '127.0.0.1',
        port: 0,
        tokens: [TOKEN],
        debounce: '500ms',
        maxDelay: '2s',
        store: { path: './scim.sqlite' },
      },
      api: { baseUrl: apiUrl, token: API_TOKEN, tokenOwner: 'owner@corp.example.com' },
      rules: {
        scope: { emailDomains: ['corp.example.com'] },
        ranks: { SUPER: ['IT Owners'], ADMIN: ['it admins'] },
        removed: { action: 'delete', graceDays: 7 },
      },
      schedule: { cron: '0 0 1 1 *', timezone: 'UTC', runTimeout: '30s' },
      server: { host: '127.0.0.1', port: 0 },
      state: { path: './state/dirsync.json' },
      log: { level: 'info', format: 'json' },
    }),
  );
  await startDaemon();
}, 60_000);

afterAll(async () => {
  await stop(daemon);
  await stop(mock);
  rmSync(dir, { recursive: true, force: true });
});

describe('dirsync daemon with source.type scim', () => {
  const ids = new Map<string, string>();

  it('replays an Entra ID cycle (query, create, group with members, disable, hard delete) and reconciles the organization', async () => {
    // Entra asks before it creates.
    const query = await scim(
      'GET',
      `/Users?filter=${encodeURIComponent('userName eq "ann@corp.example.com"')}`,
    );
    expect(query.status).toBe(200);
    expect(query.body.totalResults).toBe(0);
    for (const who of ['owner', 'ann', 'bob', 'carol', 'dave']) {
      const email = `${who}@corp.example.com`;
      const created = await scim(
        'POST',
        '/Users',
        aUser(email, { externalId: who, [DIRSYNC]: { loginName: `CORP\\${who}` } }),
      );
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      ids.set(who, created.body.id);
    }
    const duplicate = await scim('POST', '/Users', aUser('ANN@corp.example.com'));
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.scimType).toBe('uniqueness');

    const owners = await scim('POST', '/Groups', {
      schemas: [GROUP],
      displayName: 'IT Owners',
      members: [{ value: ids.get('owner') }],
    });
    expect(owners.status).toBe(201);
    const groupQuery = await scim(
      'GET',
      `/Groups?filter=${encodeURIComponent('displayName eq "IT Admins"')}&excludedAttributes=members`,
    );
    expect(groupQuery.body.totalResults).toBe(0);
    const admins = await scim('POST', '/Groups', { schemas: [GROUP], displayName: 'IT Admins' });
    expect(admins.status).toBe(201);
    ids.set('admins', admins.body.id);
    const add = await scim('PATCH', `/Groups/${admins.body.id}`, {
      schemas: [PATCH],
      Operations: [
        {
          op: 'Add',
          path: 'members',
          value: [{ value: ids.get('ann') }, { value: ids.get('bob') }],
        },
      ],
    });
    expect(add.status).toBe(204);
    // Entra's Remove with a value list removes only those members.
    const remove = await scim('PATCH', `/Groups/${admins.body.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'Remove', path: 'members', value: [{ value: ids.get('bob') }] }],
    });
    expect(remove.status).toBe(204);
    const afterRemove = await scim('GET', `/Groups/${admins.body.id}`);
    expect(afterRemove.body.members?.map((m) => m.value)).toEqual([ids.get('ann')]);
    const disable = await scim('PATCH', `/Users/${ids.get('bob')}`, {
      schemas: [PATCH],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });
    expect(disable.status).toBe(200);
    expect(disable.body.active).toBe(false);
    const gone = await scim('DELETE', `/Users/${ids.get('dave')}`);
    expect(gone.status).toBe(204);

    const expected = {
      'ann@corp.example.com': { rank: 'ADMIN', computer_usernames: ['ann'] },
      'owner@corp.example.com': { rank: 'SUPER', ad_status: 'ACTIVE' },
      'bob@corp.example.com': { ad_status: 'SUSPENDED' },
      'carol@corp.example.com': { tag: 'USER' },
      // Removal with grace: suspended now, still in the organization.
      'dave@corp.example.com': { ad_status: 'SUSPENDED' },
    };
    expect(await settled(expected)).toMatchObject(expected);
    // Counted on the metrics port: five users and two groups created, one duplicate refused.
    const metricsUrl = logLines(daemon!).find((l) => l['message'] === 'daemon started')!['url'];
    const metrics = await (await request(`${metricsUrl as string}/metrics`)).body.text();
    expect(metrics).toContain('dirsync_scim_requests_total{method="POST",status="201"} 7');
    expect(metrics).toContain('dirsync_scim_requests_total{method="POST",status="409"} 1');
  }, 60_000);

  it('replays an Okta group push (PUT replaces the members) and demotes the member it dropped', async () => {
    const put = await scim('PUT', `/Groups/${ids.get('admins')}`, {
      schemas: [GROUP],
      displayName: 'IT Admins',
      members: [{ value: ids.get('carol'), display: 'carol@corp.example.com' }],
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);

    const expected = {
      'carol@corp.example.com': { rank: 'ADMIN' },
      'ann@corp.example.com': { rank: 'REGULAR' },
    };
    expect(await settled(expected)).toMatchObject(expected);
  }, 60_000);

  it('keeps every pushed resource across a restart, and loses no write of a concurrent burst', async () => {
    const burst = await scim('POST', '/Groups', { schemas: [GROUP], displayName: 'Burst' });
    const created: string[] = [];
    for (let i = 0; i < 40; i++) {
      const u = await scim('POST', '/Users', aUser(`burst${i}@elsewhere.example.net`));
      created.push(u.body.id);
    }
    // Hundreds of PATCHes at once: each adds one member, or renames a user.
    const answers = await Promise.all([
      ...created.map((id) =>
        scim('PATCH', `/Groups/${burst.body.id}`, {
          schemas: [PATCH],
          Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }],
        }),
      ),
      ...created.flatMap((id, i) =>
        Array.from({ length: 5 }, (_, k) =>
          scim('PATCH', `/Users/${id}`, {
            schemas: [PATCH],
            Operations: [{ op: 'replace', path: `name.familyName`, value: `v${i}-${k}` }],
          }),
        ),
      ),
    ]);
    expect(answers.filter((a) => a.status !== 200 && a.status !== 204)).toEqual([]);

    await stop(daemon);
    await startDaemon();

    const group = await scim('GET', `/Groups/${burst.body.id}`);
    expect((group.body.members as { value: string }[]).map((m) => m.value).sort()).toEqual(
      [...created].sort(),
    );
    const users = await scim('GET', '/Users?count=1000');
    // Five pushed by the Entra cycle, one of them deleted, and the forty of the burst.
    expect(users.body.totalResults).toBe(44);
    const versions = await Promise.all(created.map((id) => scim('GET', `/Users/${id}`)));
    // Created (1) and five renames each: every write kept, none lost to another.
    expect(versions.map((v) => v.body.meta.version)).toEqual(created.map(() => 'W/"6"'));
  }, 90_000);
});
