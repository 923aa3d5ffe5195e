import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { openRunContext } from '../../../src/cli/context.js';
import { ConfigError } from '../../../src/errors.js';
import type { MockServer } from '../../../src/mock/server.js';
import type { StateRecord } from '../../../src/state/model.js';
import { ORGANIZATION_SAMPLE_SIZE } from '../../../src/state/organization.js';
import { applyRun, planRun } from '../../../src/reconcile/run.js';
import {
  ADMIN_TOKEN,
  OTHER_ORG_TOKEN,
  SUPER_TOKEN,
  aSeed,
  aSeedUser,
  startTestMock,
} from '../../support/mock.js';

/** A person of corp: uid `uid`, mail `uid@corp.example.com`, named `first last`. */
function person(uid: string, first: string, last: string): string {
  return `dn: uid=${uid},ou=People,dc=corp,dc=example,dc=com
objectClass: inetOrgPerson
uid: ${uid}
cn: ${first} ${last}
sn: ${last}
mail: ${uid}@corp.example.com
`;
}

const LDIF = `version: 1

${person('owner', 'Olga', 'Owner')}
${person('admin', 'Alan', 'Admin')}
${person('reader', 'Rita', 'Reader')}
dn: cn=owners,ou=Groups,dc=corp,dc=example,dc=com
objectClass: groupOfNames
cn: owners
member: uid=owner,ou=People,dc=corp,dc=example,dc=com
`;

let mock: MockServer | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await mock?.close();
  mock = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Config files for several organizations of one API, all on the same state.path. */
function configs(apiUrl: string): { dir: string; state: string; forToken(token: string): string } {
  const dir = mkdtempSync(join(tmpdir(), 'dirsync-orgs-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'directory.ldif'), LDIF);
  const state = join(dir, 'state', 'dirsync.json');
  return {
    dir,
    state,
    forToken: (token) => {
      const file = join(dir, `${token}.yaml`);
      writeFileSync(
        file,
        `source: { type: ldif, file: directory.ldif }
api: { baseUrl: ${apiUrl}, token: ${token} }
rules:
  scope: { emailDomains: [corp.example.com, other.example.org] }
  ranks: { SUPER: ["cn=owners,ou=Groups,dc=corp,dc=example,dc=com"] }
  removed: { action: ignore }
  promoteGuests: { enabled: false }
state: { path: ${state} }
log: { format: json }
`,
      );
      return file;
    },
  };
}

async function withRun<T>(
  file: string,
  act: (run: ReturnType<typeof openRunContext>) => Promise<T>,
): Promise<T> {
  const logs = new PassThrough();
  logs.resume();
  const run = openRunContext(file, {}, logs, { lock: true });
  try {
    return await act(run);
  } finally {
    await run.close();
  }
}

describe('a state record names its organization, not only the API', () => {
  it('refuses the record of another organization on the same API, and leaves it as it was', async () => {
    mock = await startTestMock(aSeed());
    const files = configs(mock.url);
    await withRun(files.forToken(SUPER_TOKEN), (run) => applyRun(run.deps, { runId: 'corp-1' }));
    const corpRecord = readFileSync(files.state, 'utf8');
    const ranks = Object.values((JSON.parse(corpRecord) as StateRecord).users).map((u) => u.rank);
    expect(ranks).toContain('SUPER');
    const writesBefore = mock.requests.filter((r) => r.method !== 'GET').length;

    const error = await withRun(files.forToken(OTHER_ORG_TOKEN), (run) =>
      applyRun(run.deps, { runId: 'other-1' }),
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(
      /state record .*dirsync\.json belongs to another organization/,
    );
    expect((error as ConfigError).hint).toMatch(/give each organization its own state\.path/);
    expect(readFileSync(files.state, 'utf8')).toBe(corpRecord);
    expect(mock.requests.filter((r) => r.method !== 'GET').length).toBe(writesBefore);
  });

  it('knows its organization again after a token rotation, and never stores a token', async () => {
    mock = await startTestMock(aSeed());
    const files = configs(mock.url);
    await withRun(files.forToken(SUPER_TOKEN), (run) => applyRun(run.deps, { runId: 'corp-1' }));

    const planned = await withRun(files.forToken(ADMIN_TOKEN), (run) => planRun(run.deps));

    expect(planned.plan.actions).toEqual([]);
    const record = readFileSync(files.state, 'utf8');
    expect((JSON.parse(record) as StateRecord).organization?.sample.length).toBeGreaterThan(0);
    expect(record).not.toContain(SUPER_TOKEN);
    expect(record).not.toContain(ADMIN_TOKEN);
  });

  it('knows its organization again after a run removed all of its oldest users', async () => {
    // Arrange: the 32 oldest users (smallest email_ids, the sample a record keeps) have left.
    const seed = aSeed([], { otherOrganization: false });
    const corp = seed.organizations[0]!;
    const leavers = Array.from({ length: ORGANIZATION_SAMPLE_SIZE }, (_, i) =>
      aSeedUser({ email: `leaver${i}@corp.example.com` }),
    );
    corp.users = [...leavers, ...(corp.users ?? [])];
    mock = await startTestMock(seed);
    const files = configs(mock.url);
    const file = files.forToken(SUPER_TOKEN);
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        'removed: { action: ignore }',
        'removed: { action: delete, graceDays: 0 }',
      ),
    );
    const removed = await withRun(file, (run) =>
      applyRun(run.deps, { runId: 'corp-1', force: true }),
    );
    expect(removed.report.counts).toMatchObject({ remove: { applied: ORGANIZATION_SAMPLE_SIZE } });

    // Act: the next run reads what is left of the organization.
    const planned = await withRun(file, (run) => planRun(run.deps));

    // Assert: the same organization, not another one's record.
    expect(planned.plan.actions).toEqual([]);
    expect(planned.identity.sample.length).toBe(3);
  });
});
