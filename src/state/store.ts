import type { ToggleStatus } from '../api/schema.js';
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { sameBaseUrl } from '../base-url.js';
import { ConfigError, DirsyncError } from '../errors.js';
import { makeFolder, stateFsError } from './fs-errors.js';
import { DEFAULT_LOCK_STALE_MS, RunLock, type LockOptions } from './lock.js';
import {
  emptyState,
  parseStateRecord,
  type OrganizationIdentity,
  type StateRecord,
  type UserState,
} from './model.js';

/**
 * One change to the state record, journaled the moment an action's outcome is known, so that
 * a process killed mid-apply loses nothing: the next load replays the journal over the record.
 */
export type StatePatch =
  | { type: 'user'; emailId: number; set: Partial<UserState> & { email: string } }
  | { type: 'forget'; emailId: number }
  | { type: 'read'; at: string; directoryUsers: number }
  | { type: 'verified'; at: string }
  /** Budgeted changes applied by the run that started `at` (added to its entry). */
  | { type: 'spent'; at: string; counts: Record<string, number> }
  /** Forget what runs that started before `before` applied (out of the budget window). */
  | { type: 'spentPruned'; before: string }
  /** The organization a complete listing showed (state/organization.ts). */
  | { type: 'organization'; identity: OrganizationIdentity }
  | ToggleSent
  | ToggleResolved;

/** Journaled just before a `/togglesuspension` is sent: the toggle may land from here on. */
export interface ToggleSent {
  type: 'toggle-sent';
  emailId: number;
  email: string;
  want: ToggleStatus;
  from: ToggleStatus;
  at: string;
}

/**
 * The toggle's outcome, once known: `landed`, `not-landed` (refused, or a later read shows it did
 * not), `gone` (the user left the organization); `unclear` keeps it pending, for the next run.
 */
export interface ToggleResolved {
  type: 'toggle-resolved';
  emailId: number;
  result: 'landed' | 'not-landed' | 'gone' | 'unclear';
  at: string;
}

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
    case 'spent': {
      const list = (state.spent ??= []);
      let entry = list.find((e) => e.at === patch.at);
      if (entry === undefined) list.push((entry = { at: patch.at, counts: {} }));
      for (const [k, n] of Object.entries(patch.counts))
        entry.counts[k] = (entry.counts[k] ?? 0) + n;
      break;
    }
    case 'organization':
      state.organization = patch.identity;
      break;
    case 'spentPruned': {
      const before = Date.parse(patch.before);
      const kept = (state.spent ?? []).filter((e) => Date.parse(e.at) >= before);
      if (kept.length === 0) delete state.spent;
      else state.spent = kept;
      break;
    }
    case 'toggle-sent': {
      const key = String(patch.emailId);
      const pendingToggle = { want: patch.want, from: patch.from, sentAt: patch.at };
      state.users[key] = { ...state.users[key], email: patch.email, pendingToggle };
      break;
    }
    case 'toggle-resolved': {
      const user = state.users[String(patch.emailId)];
      if (user?.pendingToggle === undefined) break;
      if (patch.result === 'unclear') user.pendingToggle = { ...user.pendingToggle, unclear: true };
      else delete user.pendingToggle;
      break;
    }
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

/**
 * Writes `text` to `path` atomically: temp file, fsync, rename, fsync of the folder. A failure
 * (EACCES, ENOSPC, EROFS...) is a DirsyncError naming the path and the fix.
 */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw stateFsError('write', path, error);
  }
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
  private runLock: RunLock | undefined;
  readonly lockPath: string;
  /** Journal lines that could not be read (a torn last line after a crash). */
  readonly skippedJournalLines: number;

  /**
   * What lost journal lines mean, for a warning (undefined when none were lost): they are
   * outcomes of the last run that did not make it to disk whole.
   */
  journalLossWarning():
    { message: string; journal: string; lines: number; cost: string } | undefined {
    if (this.skippedJournalLines === 0) return undefined;
    const n = this.skippedJournalLines;
    return {
      message: `${n} line${n === 1 ? '' : 's'} of the journal ${this.path}.journal could not be read and ${n === 1 ? 'was' : 'were'} skipped`,
      journal: `${this.path}.journal`,
      lines: n,
      cost: 'an outcome of the last run may be lost (a torn last line after a crash is the usual cause): the next run re-reads the organization and corrects values; but a lost suspendedByDirsync flag makes a suspension dirsync made look manual, so dirsync will not lift it: check users it suspended in the last run (dirsync history)',
    };
  }

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
    makeFolder(dirname(path));
    let state = emptyState(apiBaseUrl);
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        throw stateFsError('read the state record', path, error);
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
      const record = parseStateRecord(parsed);
      if (record === undefined) {
        throw new DirsyncError(`state record ${path} has an unexpected shape`, {
          hint: `restore ${path} from a backup; deleting it makes dirsync re-read every user and set every rank again`,
        });
      }
      state = record;
    }
    // Compared as plan files are (no trailing slash, no credentials): `https://x/` is `https://x`.
    if (state.apiBaseUrl !== undefined && !sameBaseUrl(state.apiBaseUrl, apiBaseUrl)) {
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
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        throw stateFsError('read the journal', `${path}.journal`, error);
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
   * Takes the run lock (see {@link RunLock}): fails with a DirsyncError naming the holder if a
   * live run has it; takes over one whose heartbeat is older than `staleMs`. `onLost` is told if
   * the lock is taken from us while held (the run must stop).
   */
  lock(options: Partial<LockOptions> = {}): RunLock {
    if (this.runLock?.held === true) return this.runLock;
    this.runLock = RunLock.acquire(this.lockPath, this.path, {
      staleMs: DEFAULT_LOCK_STALE_MS,
      ...options,
    });
    return this.runLock;
  }

  /** Releases the run lock if held. Never throws. */
  unlock(): void {
    this.runLock?.release();
    this.runLock = undefined;
  }

  /** Applies a patch and appends it to the journal, durable before this returns. */
  record(patch: StatePatch): void {
    applyPatch(this.state, patch);
    const journal = `${this.path}.journal`;
    try {
      this.journalFd ??= openSync(journal, 'a', 0o600);
      // undefined would vanish from the line, and a replay would then not clear the key.
      writeSync(
        this.journalFd,
        JSON.stringify(patch, (_key, value: unknown) => (value === undefined ? null : value)) +
          '\n',
      );
      fsyncSync(this.journalFd);
    } catch (error) {
      throw stateFsError('append to the journal', journal, error);
    }
  }

  /** Folds the journal into the record: atomic write of the record, then an empty journal. */
  compact(): void {
    writeFileAtomic(this.path, JSON.stringify(this.state) + '\n');
    if (this.journalFd !== undefined) {
      closeSync(this.journalFd);
      this.journalFd = undefined;
    }
    try {
      rmSync(`${this.path}.journal`, { force: true });
    } catch (error) {
      throw stateFsError('empty the journal', `${this.path}.journal`, error);
    }
  }

  close(): void {
    if (this.journalFd !== undefined) closeSync(this.journalFd);
    this.journalFd = undefined;
  }
}
