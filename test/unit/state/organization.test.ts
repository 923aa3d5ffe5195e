import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import type { StateRecord } from '../../../src/state/model.js';
import {
  checkOrganization,
  judgeOrganization,
  organizationIdentity,
  ORGANIZATION_SAMPLE_SIZE,
  type ListedUser,
} from '../../../src/state/organization.js';
import { StateStore } from '../../../src/state/store.js';

const API = 'https://api.example.com';

/** Users of one organization: email_ids from `firstEmailId`, user_ids from another range. */
function anOrganization(count: number, firstEmailId: number, domain: string): ListedUser[] {
  return Array.from({ length: count }, (_, i) => ({
    emailId: firstEmailId + i,
    userId: 900_000 + firstEmailId + i,
    email: `user${i}@${domain}`,
  }));
}

function aRecord(overrides: Partial<StateRecord> = {}): StateRecord {
  return { version: 1, apiBaseUrl: API, users: {}, ...overrides };
}

const corp = anOrganization(100, 1000, 'corp.example.com');
const other = anOrganization(100, 5000, 'other.example.org');

describe('organizationIdentity', () => {
  it('keeps the id pairs of the oldest users and the token owner, nothing else', () => {
    const identity = organizationIdentity([...corp].reverse(), 'svc@corp.example.com');

    expect(identity.sample).toHaveLength(ORGANIZATION_SAMPLE_SIZE);
    expect(identity.sample[0]).toEqual([1000, 901_000]);
    expect(identity.tokenOwner).toBe('svc@corp.example.com');
    expect(Object.keys(identity).sort()).toEqual(['sample', 'tokenOwner']);
  });
});

describe('judgeOrganization', () => {
  const recorded = aRecord({ organization: organizationIdentity(corp, 'svc@corp.example.com') });

  it('knows its organization again, after most of the sample has left', () => {
    expect(judgeOrganization(recorded, corp.slice(ORGANIZATION_SAMPLE_SIZE - 1))).toEqual({
      same: true,
    });
  });

  it('refuses another organization on the same API', () => {
    const verdict = judgeOrganization(recorded, other);
    expect(verdict.same).toBe(false);
  });

  it('refuses an organization whose email_ids collide but whose user_ids differ', () => {
    const lookalike = corp.map((u) => ({ ...u, userId: u.userId + 1 }));
    expect(judgeOrganization(recorded, lookalike).same).toBe(false);
  });

  it('judges a record written before samples were kept by the users it records', () => {
    const old = aRecord({
      users: {
        '1003': { email: 'USER3@corp.example.com', rank: 'SUPER' },
        '1004': { email: 'user4@corp.example.com', rank: 'ADMIN' },
      },
    });
    expect(judgeOrganization(old, corp)).toEqual({ same: true });
    expect(judgeOrganization(old, other).same).toBe(false);
  });

  it('has no evidence from an empty listing or an empty record', () => {
    expect(judgeOrganization(recorded, [])).toEqual({ same: undefined });
    expect(judgeOrganization(aRecord(), other)).toEqual({ same: undefined });
  });
});

describe('checkOrganization', () => {
  it('names the organization the record belongs to, and the fix', () => {
    const recorded = aRecord({ organization: organizationIdentity(corp, 'svc@corp.example.com') });

    const error = (() => {
      try {
        checkOrganization(recorded, other, '/var/lib/dirsync/state.json');
        return undefined;
      } catch (e) {
        return e;
      }
    })();

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(
      'state record /var/lib/dirsync/state.json belongs to another organization (the one of api.tokenOwner svc@corp.example.com)',
    );
    expect((error as ConfigError).hint).toMatch(/give each organization its own state\.path/);
  });
});

describe('a record file with and without the organization', () => {
  it('loads a version 1 record written before the organization was kept, and keeps it after', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dirsync-org-'));
    const path = join(dir, 'dirsync.json');
    writeFileSync(
      path,
      JSON.stringify({ version: 1, apiBaseUrl: API, users: { '1003': { email: 'a@x.com' } } }),
    );

    const store = StateStore.open(path, API);
    expect(store.state.organization).toBeUndefined();
    store.record({ type: 'organization', identity: organizationIdentity(corp, undefined) });
    store.close();

    expect(StateStore.open(path, API).state.organization?.sample[0]).toEqual([1000, 901_000]);
  });
});
