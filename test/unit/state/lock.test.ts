import {
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DirsyncError } from '../../../src/errors.js';
import {
  judgeLock,
  type RunLock,
  type LockHolder,
  type ProcessIdentity,
} from '../../../src/state/lock.js';
import { stateFsError } from '../../../src/state/fs-errors.js';
import { StateStore } from '../../../src/state/store.js';

const API = 'https://api.example.com';
const STALE = 90_000;
const fresh = (): string =>
  join(mkdtempSync(join(tmpdir(), 'dirsync-lock-')), 'state', 'dirsync.json');

const self: ProcessIdentity = {
  pid: 1,
  host: 'dirsync-7f9c',
  bootId: 'boot-a',
  pidNs: 'pid:[4026532178]',
  pidStart: '1000',
};
const alive = { isAlive: () => true, startTimeOf: () => '1000' };
const dead = { isAlive: () => false, startTimeOf: () => undefined };

/** A lock written by a dirsync with heartbeats (another run, another container or pod). */
function holder(overrides: Partial<LockHolder> = {}): LockHolder {
  return {
    token: 'other-token',
    pid: 1,
    host: 'dirsync-7f9c',
    bootId: 'boot-a',
    pidNs: 'pid:[4026532999]',
    pidStart: '1000',
    startedAt: '2026-01-01T00:00:00.000Z',
    heartbeatMs: 30_000,
    ...overrides,
  };
}

function thrown(fn: () => unknown): DirsyncError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DirsyncError);
    return error as DirsyncError;
  }
  throw new Error('expected a DirsyncError, nothing was thrown');
}

const held: RunLock[] = [];
afterEach(() => {
  for (const l of held.splice(0)) l.release();
});

describe('judgeLock', () => {
  it.each([
    [
      'pid 1 of another pid namespace (a restarted container), heartbeat fresh',
      holder(),
      10_000,
      alive,
      false,
    ],
    [
      'pid 1 of another pid namespace, heartbeat older than the stale time',
      holder(),
      91_000,
      alive,
      true,
    ],
    [
      'another pod (host name), heartbeat fresh',
      holder({ host: 'dirsync-new' }),
      89_000,
      dead,
      false,
    ],
    ['another pod, heartbeat stale', holder({ host: 'dirsync-new' }), 95_000, alive, true],
    [
      'same pid namespace, its process has exited',
      holder({ pidNs: self.pidNs, pid: 42 }),
      1_000,
      dead,
      true,
    ],
    [
      'same pid namespace, pid reused by another process',
      holder({ pidNs: self.pidNs, pid: 42, pidStart: '5' }),
      1_000,
      alive,
      true,
    ],
    [
      'same pid namespace, holder alive',
      holder({ pidNs: self.pidNs, pid: 42 }),
      1_000,
      alive,
      false,
    ],
    [
      'same pid namespace, alive but silent past the stale time',
      holder({ pidNs: self.pidNs, pid: 42 }),
      100_000,
      alive,
      true,
    ],
    [
      'an older dirsync (no heartbeat) on another host, 5 h old',
      { pid: 1, host: 'x' },
      5 * 3_600_000,
      alive,
      false,
    ],
    [
      'an older dirsync (no heartbeat) on another host, 7 h old',
      { pid: 1, host: 'x' },
      7 * 3_600_000,
      alive,
      true,
    ],
    [
      'an older dirsync on this host as pid 1, which we are now',
      { pid: 1, host: self.host },
      1_000,
      alive,
      true,
    ],
  ] as const)('%s', (_name, lock, ageMs, probes, stale) => {
    expect(judgeLock(lock, ageMs, STALE, self, probes).stale).toBe(stale);
  });
});

describe('RunLock', () => {
  it('takes over a lock whose heartbeat is stale, and says whose it was and why', () => {
    const path = fresh();
    const store = StateStore.open(path, API);
    writeFileSync(store.lockPath, JSON.stringify(holder({ host: 'old-pod' })));
    const old = new Date(Date.now() - STALE - 5_000);
    utimesSync(store.lockPath, old, old);

    const lock = store.lock({ staleMs: STALE });
    held.push(lock);

    expect(lock.tookOver?.holder.host).toBe('old-pod');
    expect(lock.tookOver?.why).toMatch(/last heartbeat was 9\d s ago \(stale after 90 s\)/);
    expect(JSON.parse(readFileSync(store.lockPath, 'utf8'))).toMatchObject({
      token: lock.token,
      pid: process.pid,
      heartbeatMs: 30_000,
    });
    expect(existsSync(`${store.lockPath}.takeover-other-token`)).toBe(false);
  });

  it('refuses a live lock, naming the holder, when it goes stale, and how to clear it', () => {
    const path = fresh();
    const store = StateStore.open(path, API);
    writeFileSync(store.lockPath, JSON.stringify(holder({ host: 'other-pod', pid: 7 })));

    let error: unknown;
    try {
      store.lock({ staleMs: STALE });
    } catch (e) {
      error = e;
    }

    expect(error).toBeInstanceOf(DirsyncError);
    expect((error as DirsyncError).message).toMatch(
      /another dirsync run \(pid 7 on other-pod\) holds the lock on .*dirsync\.json: started 2026-01-01T00:00:00\.000Z, heartbeat 0 s ago/,
    );
    expect((error as DirsyncError).hint).toContain('taken over 90 s after its last heartbeat');
    expect((error as DirsyncError).hint).toContain(store.lockPath);
  });

  it('refuses while another run holds the claim on the stale lock (a takeover in progress)', () => {
    const path = fresh();
    const store = StateStore.open(path, API);
    writeFileSync(store.lockPath, JSON.stringify(holder()));
    const old = new Date(Date.now() - STALE - 5_000);
    utimesSync(store.lockPath, old, old);
    writeFileSync(`${store.lockPath}.takeover-other-token`, '');

    expect(() => store.lock({ staleMs: STALE })).toThrow(/taking the stale lock over/);
    // The claim of a contender that died mid-takeover goes stale too.
    utimesSync(`${store.lockPath}.takeover-other-token`, old, old);
    held.push(store.lock({ staleMs: STALE }));
  });

  it('heartbeats refresh the lock; a lock taken from its holder tells it, and is not removed by it', () => {
    const path = fresh();
    const store = StateStore.open(path, API);
    const lost: string[] = [];
    let now = Date.now();
    const lock = store.lock({ staleMs: STALE, onLost: (why) => lost.push(why), now: () => now });
    held.push(lock);
    const old = new Date(now - 60_000);
    utimesSync(store.lockPath, old, old);

    now += 1_000;
    lock.beat();
    expect(Math.abs(statSync(store.lockPath).mtimeMs - now)).toBeLessThan(1_000);
    expect(lost).toEqual([]);

    // Another run replaced it (it judged us stale): we must stop, and leave its lock alone.
    writeFileSync(`${store.lockPath}.other`, JSON.stringify(holder()));
    renameSync(`${store.lockPath}.other`, store.lockPath);
    lock.beat();
    expect(lost).toEqual([`${store.lockPath} was taken over by another run`]);
    lock.release();
    expect(JSON.parse(readFileSync(store.lockPath, 'utf8'))).toMatchObject({
      token: 'other-token',
    });
  });

  it('a second run in the same process is refused, and may lock once the first released', () => {
    const path = fresh();
    const a = StateStore.open(path, API);
    held.push(a.lock({ staleMs: STALE }));
    expect(() => StateStore.open(path, API).lock({ staleMs: STALE })).toThrow(
      /held by this process/,
    );
    a.unlock();
    expect(existsSync(a.lockPath)).toBe(false);
    held.push(StateStore.open(path, API).lock({ staleMs: STALE }));
  });
});

describe('state folder errors', () => {
  it('a state.path under /proc fails at once with the path and the fix, not a spin', () => {
    let error: unknown;
    try {
      StateStore.open('/proc/dirsync/state/dirsync.json', API);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DirsyncError);
    expect((error as DirsyncError).message).toBe(
      'cannot create the state folder /proc/dirsync (ENOENT: no such file or directory)',
    );
    expect((error as DirsyncError).hint).toContain('cannot hold files');
  });

  it('a state.path through a file fails with ENOTDIR, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dirsync-lock-'));
    writeFileSync(join(dir, 'state'), 'not a folder');
    const error = thrown(() => StateStore.open(join(dir, 'state', 'dirsync.json'), API));
    expect(error.message).toContain(`${join(dir, 'state')} (ENOTDIR`);
    expect(error.hint).toContain('is a file, not a folder');
  });

  it('a full disk while journaling names the journal and the fix (ENOSPC, via /dev/full)', () => {
    const path = fresh();
    const store = StateStore.open(path, API);
    symlinkSync('/dev/full', `${path}.journal`);
    const error = thrown(() => store.record({ type: 'verified', at: '2026-01-01T00:00:00.000Z' }));
    expect(error.message).toBe(
      `cannot append to the journal ${path}.journal (ENOSPC: no space left on device)`,
    );
    expect(error.hint).toContain('is full');
  });

  it.each([
    ['EACCES', 'write access to'],
    ['EROFS', 'read-only file system'],
    ['ENOSPC', 'is full'],
    ['EEXIST', 'is in the way'],
    ['ENOTDIR', 'is a file, not a folder'],
  ])('%s names the path and says how to fix it', (code, fix) => {
    const error = stateFsError(
      'write',
      '/var/lib/dirsync/dirsync.json',
      Object.assign(new Error(`${code}: some words, open '/var/lib/dirsync/dirsync.json'`), {
        code,
      }),
    );
    expect(error.message).toBe(`cannot write /var/lib/dirsync/dirsync.json (${code}: some words)`);
    expect(error.hint).toContain(fix);
  });
});
