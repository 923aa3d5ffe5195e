import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DirsyncError } from '../../../src/errors.js';
import { LEGACY_LOCK_STALE_MS } from '../../../src/state/lock.js';
import { StateStore } from '../../../src/state/store.js';

const API = 'https://api.example.com';
const fresh = (): string =>
  join(mkdtempSync(join(tmpdir(), 'dirsync-state-')), 'state', 'dirsync.json');

describe('StateStore', () => {
  it('starts empty when there is no record', () => {
    const store = StateStore.open(fresh(), API);
    expect(store.state).toEqual({ version: 1, apiBaseUrl: API, users: {} });
  });

  it('journals every patch durably and replays the journal after a crash (no compact)', () => {
    const path = fresh();
    const a = StateStore.open(path, API);
    a.record({ type: 'user', emailId: 7, set: { email: 'a@x.com', rank: 'ADMIN' } });
    a.record({ type: 'user', emailId: 7, set: { email: 'a@x.com', computerUsernames: ['a'] } });
    a.record({ type: 'read', at: '2026-01-01T00:00:00.000Z', directoryUsers: 10 });
    // The process dies here: no compact, no close.
    const b = StateStore.open(path, API);
    expect(b.state.users['7']).toEqual({
      email: 'a@x.com',
      rank: 'ADMIN',
      computerUsernames: ['a'],
    });
    expect(b.state.lastCompleteRead).toEqual({
      at: '2026-01-01T00:00:00.000Z',
      directoryUsers: 10,
    });
  });

  it('ignores a torn last journal line and counts it', () => {
    const path = fresh();
    const a = StateStore.open(path, API);
    a.record({ type: 'user', emailId: 1, set: { email: 'a@x.com', rank: 'SUPER' } });
    appendFileSync(`${path}.journal`, '{"type":"user","emailId":2,"se');
    const b = StateStore.open(path, API);
    expect(b.state.users['1']?.rank).toBe('SUPER');
    expect(b.state.users['2']).toBeUndefined();
    expect(b.skippedJournalLines).toBe(1);
  });

  it('compacts into the record atomically and empties the journal', () => {
    const path = fresh();
    const a = StateStore.open(path, API);
    a.record({
      type: 'user',
      emailId: 1,
      set: { email: 'a@x.com', missingSince: '2026-01-01T00:00:00.000Z' },
    });
    a.record({
      type: 'user',
      emailId: 1,
      set: { email: 'a@x.com', missingSince: undefined, rank: 'REGULAR' },
    });
    a.record({ type: 'user', emailId: 2, set: { email: 'b@x.com' } });
    a.record({ type: 'forget', emailId: 2 });
    a.compact();
    expect(existsSync(`${path}.journal`)).toBe(false);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({
      version: 1,
      apiBaseUrl: API,
      users: { '1': { email: 'a@x.com', rank: 'REGULAR' } },
    });
    expect(StateStore.open(path, API).state.users).toEqual({
      '1': { email: 'a@x.com', rank: 'REGULAR' },
    });
  });

  it('refuses a record of another organization', () => {
    const path = fresh();
    StateStore.open(path, API).compact();
    expect(() => StateStore.open(path, 'https://other.example.com')).toThrow(ConfigError);
  });

  it('accepts a record made with api.baseUrl https://x/ when the config now says https://x', () => {
    const path = fresh();
    StateStore.open(path, `${API}/`).compact();
    expect(StateStore.open(path, API).state.apiBaseUrl).toBe(API);
  });

  it('refuses a corrupt record with a hint instead of starting over', () => {
    const path = fresh();
    StateStore.open(path, API).compact();
    writeFileSync(path, '{"version": 1, "users": ');
    let error: unknown;
    try {
      StateStore.open(path, API);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DirsyncError);
    expect((error as DirsyncError).hint).toContain('backup');
  });

  it('locks out a second live run and takes over a stale lock', () => {
    const path = fresh();
    const a = StateStore.open(path, API);
    a.lock();
    // A lock held by another live process (pid 1 is always alive).
    writeFileSync(`${path}.lock`, '1');
    expect(() => StateStore.open(path, API).lock()).toThrow(/another dirsync run \(pid 1\)/);
    // A lock left by a process that no longer exists.
    writeFileSync(`${path}.lock`, '999999999');
    const b = StateStore.open(path, API);
    b.lock();
    expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({
      pid: process.pid,
      host: hostname(),
    });
    b.unlock();
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('treats a lock from another host or container as live, whatever its pid, until it is old', () => {
    const path = fresh();
    const a = StateStore.open(path, API);
    a.lock();
    // Another container: same pid as ours (PID 1 in both, say), another host name.
    writeFileSync(
      `${path}.lock`,
      JSON.stringify({ pid: process.pid, host: 'other-pod', at: new Date().toISOString() }),
    );
    expect(() => StateStore.open(path, API).lock()).toThrow(
      /another dirsync run \(pid \d+ on other-pod\)/,
    );
    const old = new Date(Date.now() - LEGACY_LOCK_STALE_MS - 60_000);
    utimesSync(`${path}.lock`, old, old);
    StateStore.open(path, API).lock();
    expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({ host: hostname() });
  });
});

describe('StateStore journal replay of cleared keys', () => {
  it('replays a patch that clears a key (a returning user, a lifted suspension)', () => {
    const path = fresh();
    const a = StateStore.open(path, API);
    a.record({
      type: 'user',
      emailId: 3,
      set: { email: 'c@x.com', missingSince: '2026-01-01T00:00:00.000Z', suspendedByDirsync: true },
    });
    a.compact();
    const b = StateStore.open(path, API);
    b.record({
      type: 'user',
      emailId: 3,
      set: { email: 'c@x.com', missingSince: undefined, suspendedByDirsync: undefined },
    });
    // Killed before compaction: the journal alone must carry the clearing.
    expect(StateStore.open(path, API).state.users['3']).toEqual({ email: 'c@x.com' });
  });
});
