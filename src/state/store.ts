import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { ConfigError, DirsyncError } from '../errors.js';
import { emptyState, StateRecord, type UserState } from './model.js';

/**
 * One change to the state record, journaled the moment an action's outcome is known, so that
 * a process killed mid-apply loses nothing: the next load replays the journal over the record.
 */
export type StatePatch =
  | { type: 'user'; emailId: number; set: Partial<UserState> & { email: string } }
  | { type: 'forget'; emailId: number }
  | { type: 'read'; at: string; directoryUsers: number }
  | { type: 'verified'; at: string };

export function applyPatch(state: StateRecord, patch: StatePatch): void {
  switch (patch.type) {
    case 'user': {
      const key = String(patch.emailId);
      const merged: UserState = { ...state.users[key], ...patch.set };
      for (const k of Object.keys(merged) as (keyof UserState)[])
        if (merged[k] === undefined || merged[k] === null) delete merged[k]; // null: cleared, from the journal
      state.users[key] = merged;
      break;
    }
    case 'forget':
      delete state.users[String(patch.emailId)];
      break;
    case 'read':
      state.lastCompleteRead = { at: patch.at, directoryUsers: patch.directoryUsers };
      break;
    case 'verified':
      state.lastVerifyAt = patch.at;
      break;
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems do not allow fsync on a directory; the rename is still atomic.
  }
}

/** Writes `text` to `path` atomically: temp file, fsync, rename, fsync of the folder. */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/**
 * The state record on disk: `<path>` (a JSON snapshot written atomically) and
 * `<path>.journal` (one JSON patch a line, appended and fsynced as outcomes land).
 * A lock file keeps two runs (a daemon and a cron job, say) from writing at once.
 */
export class StateStore {
  readonly state: StateRecord;
  private journalFd: number | undefined;
  private locked = false;
  private readonly lockPath: string;
  /** Journal lines that could not be read (a torn last line after a crash). */
  readonly skippedJournalLines: number;

  private constructor(
    readonly path: string,
    state: StateRecord,
    skipped: number,
  ) {
    this.state = state;
    this.skippedJournalLines = skipped;
    this.lockPath = `${path}.lock`;
  }

  /** Loads the record and replays its journal. A missing record is an empty one. */
  static open(path: string, apiBaseUrl: string): StateStore {
    mkdirSync(dirname(path), { recursive: true });
    let state = emptyState(apiBaseUrl);
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new DirsyncError(
          `state record ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
          {
            cause: error,
            hint: `check the permissions of ${path} (state.path)`,
          },
        );
      }
    }
    if (text !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        throw new DirsyncError(`state record ${path} is not valid JSON`, {
          cause: error,
          hint: `restore ${path} from a backup; deleting it makes dirsync re-read every user and set every rank again`,
        });
      }
      const result = StateRecord.safeParse(parsed);
      if (!result.success) {
        throw new DirsyncError(`state record ${path} has an unexpected shape`, {
          hint: `restore ${path} from a backup; deleting it makes dirsync re-read every user and set every rank again`,
        });
      }
      state = result.data;
    }
    if (state.apiBaseUrl !== undefined && state.apiBaseUrl !== apiBaseUrl) {
      throw new ConfigError(
        `state record ${path} belongs to ${state.apiBaseUrl}, not to api.baseUrl ${apiBaseUrl}`,
        {
          hint: 'give each organization its own state.path',
        },
      );
    }
    state.apiBaseUrl = apiBaseUrl;
    let skipped = 0;
    let journal: string;
    try {
      journal = readFileSync(`${path}.journal`, 'utf8');
    } catch {
      journal = '';
    }
    for (const line of journal.split('\n')) {
      if (line.trim() === '') continue;
      try {
        applyPatch(state, JSON.parse(line) as StatePatch);
      } catch {
        skipped++;
      }
    }
    return new StateStore(path, state, skipped);
  }

  /**
   * Takes the run lock; fails if another live run holds it. The lock names its pid and host: a
   * pid is only checked on the same host, and a lock from another host or container (where the
   * pid means nothing here) counts as live until it is older than LOCK_STALE_MS.
   */
  lock(): void {
    const mine = JSON.stringify({
      pid: process.pid,
      host: hostname(),
      at: new Date().toISOString(),
    });
    try {
      const fd = openSync(this.lockPath, 'wx', 0o600);
      writeSync(fd, mine);
      closeSync(fd);
      this.locked = true;
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readLock(this.lockPath);
    const age = Date.now() - statSync(this.lockPath).mtimeMs;
    const sameHost = holder.host === undefined || holder.host === hostname();
    const stale =
      age > LOCK_STALE_MS ||
      (sameHost && holder.pid !== undefined && holder.pid !== process.pid && !isAlive(holder.pid));
    if (!stale) {
      const who = `pid ${holder.pid ?? '?'}${holder.host === undefined ? '' : ` on ${holder.host}`}`;
      throw new DirsyncError(`another dirsync run (${who}) is using ${this.path}`, {
        hint: `wait for it to finish; if no dirsync is running, remove ${this.lockPath}`,
      });
    }
    rmSync(this.lockPath, { force: true });
    this.lock();
  }

  unlock(): void {
    if (this.locked) rmSync(this.lockPath, { force: true });
    this.locked = false;
  }

  /** Applies a patch and appends it to the journal, durable before this returns. */
  record(patch: StatePatch): void {
    applyPatch(this.state, patch);
    this.journalFd ??= openSync(`${this.path}.journal`, 'a', 0o600);
    // undefined would vanish from the line, and a replay would then not clear the key.
    writeSync(
      this.journalFd,
      JSON.stringify(patch, (_key, value: unknown) => (value === undefined ? null : value)) + '\n',
    );
    fsyncSync(this.journalFd);
  }

  /** Folds the journal into the record: atomic write of the record, then an empty journal. */
  compact(): void {
    writeFileAtomic(this.path, JSON.stringify(this.state) + '\n');
    if (this.journalFd !== undefined) {
      closeSync(this.journalFd);
      this.journalFd = undefined;
    }
    rmSync(`${this.path}.journal`, { force: true });
  }

  close(): void {
    if (this.journalFd !== undefined) closeSync(this.journalFd);
    this.journalFd = undefined;
  }
}

/** A lock older than this is taken over whoever holds it (runs are bounded by runTimeout). */
export const LOCK_STALE_MS = 6 * 3_600_000;

function readLock(path: string): { pid?: number; host?: string } {
  const text = readFileSync(path, 'utf8').trim();
  try {
    const parsed = JSON.parse(text) as { pid?: unknown; host?: unknown } | number;
    if (typeof parsed === 'number')
      return Number.isInteger(parsed) && parsed > 0 ? { pid: parsed } : {};
    return {
      ...(typeof parsed.pid === 'number' ? { pid: parsed.pid } : {}),
      ...(typeof parsed.host === 'string' ? { host: parsed.host } : {}),
    };
  } catch {
    const pid = Number(text);
    return Number.isInteger(pid) && pid > 0 ? { pid } : {};
  }
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
