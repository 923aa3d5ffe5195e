import { randomUUID } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  futimesSync,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { hostname } from 'node:os';
import { DirsyncError } from '../errors.js';
import { stateFsError } from './fs-errors.js';

/**
 * The run lock: `<state>.lock`, a small JSON file that a live run keeps fresh.
 *
 * Why a heartbeat and not a pid check or an OS lock: in a container dirsync is pid 1, so a
 * restarted container (pid 1 again) or a new pod (another host name) cannot tell from a pid
 * whether the holder is gone; Node has no flock/fcntl in core (only native add-ons), and an OS
 * lock on a network volume shared by pods is not dependable. So the holder rewrites the lock's
 * mtime every `heartbeatMs` while the run lives, and a lock whose heartbeat is older than
 * `staleMs` (three missed beats by default) is taken over. A pid still says more when the holder
 * is provably in the same pid namespace of the same boot: then a holder that has exited, or
 * whose pid now belongs to another process, is stale at once.
 *
 * Takeover is single-winner: a contender must first create `<lock>.takeover-<token>` exclusively
 * (O_EXCL), for the token of the very lock it judged stale; only then, after re-checking that the
 * lock is still that one, does it rename its own lock over it. (proper-lockfile's rmdir-then-mkdir
 * takeover lets two contenders both win, its issue #121.) The holder checks at every beat that
 * the lock is still its own, and is told (`onLost`) if not, so the run stops.
 */

/** The lock is held by a live run: not a failure of this one's setup. */
export class LockBusyError extends DirsyncError {
  constructor(
    message: string,
    readonly holder: LockHolder,
    options: { hint: string },
  ) {
    super(message, options);
  }
}

/** What a lock file says about its holder. */
export interface LockHolder {
  token?: string;
  pid?: number;
  host?: string;
  bootId?: string;
  pidNs?: string;
  /** The holder's start time in clock ticks since boot (/proc/<pid>/stat field 22). */
  pidStart?: string;
  startedAt?: string;
  heartbeatMs?: number;
}

export interface LockOptions {
  /** A lock whose last heartbeat is older than this is taken over. */
  staleMs: number;
  /** How often the holder refreshes the lock; a third of `staleMs` by default. */
  heartbeatMs?: number;
  /** Told once when the lock is found taken over or removed while held: the run must stop. */
  onLost?: (reason: string) => void;
  /** Epoch milliseconds; injected by tests. */
  now?: () => number;
  /** What this process is; injected by tests. */
  identity?: ProcessIdentity;
}

/** A lock written by a dirsync that kept no heartbeat counts as live for this long (6 h). */
export const LEGACY_LOCK_STALE_MS = 6 * 3_600_000;

/** The stale time when `state.lockStaleAfter` is not set: three missed 30 s heartbeats. */
export const DEFAULT_LOCK_STALE_MS = 90_000;

export interface ProcessIdentity {
  pid: number;
  host: string;
  bootId: string | undefined;
  pidNs: string | undefined;
  pidStart: string | undefined;
}

function readProc(path: string, read: (p: string) => string): string | undefined {
  try {
    return read(path).trim();
  } catch {
    return undefined; // not Linux, or /proc not mounted: the heartbeat alone decides
  }
}

/** The start time of a process, from /proc (undefined when it cannot be read). */
export function processStartTime(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`, (p) => readFileSync(p, 'utf8'));
  if (stat === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19]; // field 22 overall
}

let selfIdentity: ProcessIdentity | undefined;
export function currentIdentity(): ProcessIdentity {
  selfIdentity ??= {
    pid: process.pid,
    host: hostname(),
    bootId: readProc('/proc/sys/kernel/random/boot_id', (p) => readFileSync(p, 'utf8')),
    pidNs: readProc('/proc/self/ns/pid', readlinkSync),
    pidStart: processStartTime(process.pid),
  };
  return selfIdentity;
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

/** Tokens of the locks this process holds: a lock of ours is never stale to us. */
const heldTokens = new Set<string>();
const heldLocks = new Set<RunLock>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Every exit path: an uncaught error, process.exit after a timed-out shutdown. (SIGKILL leaves
  // the lock behind; its heartbeat stops and it goes stale.)
  process.on('exit', () => {
    for (const lock of [...heldLocks]) lock.release();
  });
}

export function parseHolder(text: string): LockHolder {
  const trimmed = text.trim();
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    const pid = Number(trimmed);
    return Number.isInteger(pid) && pid > 0 ? { pid } : {};
  }
  if (typeof parsed === 'number')
    return Number.isInteger(parsed) && parsed > 0 ? { pid: parsed } : {};
  if (typeof parsed !== 'object' || parsed === null) return {};
  const o = parsed as Record<string, unknown>;
  const holder: LockHolder = {};
  for (const key of ['token', 'host', 'bootId', 'pidNs', 'pidStart', 'startedAt'] as const)
    if (typeof o[key] === 'string') holder[key] = o[key];
  if (typeof o['pid'] === 'number') holder.pid = o['pid'];
  if (typeof o['heartbeatMs'] === 'number') holder.heartbeatMs = o['heartbeatMs'];
  return holder;
}

export interface Verdict {
  stale: boolean;
  /** Why, for the log and the error. */
  why: string;
}

/**
 * Whether a lock is stale. Pure but for `isAlive`/`startTimeOf`, which tests may replace.
 * `ageMs` is the time since the lock's last heartbeat (its mtime).
 */
export function judgeLock(
  holder: LockHolder,
  ageMs: number,
  staleMs: number,
  self: ProcessIdentity,
  probes: {
    isAlive: (pid: number) => boolean;
    startTimeOf: (pid: number) => string | undefined;
  } = {
    isAlive,
    startTimeOf: processStartTime,
  },
): Verdict {
  const seconds = Math.round(ageMs / 1000);
  if (holder.token !== undefined && heldTokens.has(holder.token))
    return { stale: false, why: 'held by this process' };
  const legacy = holder.heartbeatMs === undefined;
  const limit = legacy ? LEGACY_LOCK_STALE_MS : staleMs;
  if (ageMs > limit) {
    return {
      stale: true,
      why: legacy
        ? `written ${seconds} s ago by a dirsync without heartbeat`
        : `its last heartbeat was ${seconds} s ago (stale after ${Math.round(staleMs / 1000)} s)`,
    };
  }
  const pid = holder.pid;
  // A pid means something here only in the same pid namespace of the same boot. A lock without
  // those (an older dirsync) is checked by pid on the same host, as before.
  const samePidSpace =
    holder.bootId !== undefined || holder.pidNs !== undefined
      ? holder.bootId === self.bootId && holder.pidNs === self.pidNs && self.pidNs !== undefined
      : legacy && (holder.host === undefined || holder.host === self.host);
  if (pid !== undefined && samePidSpace) {
    if (!probes.isAlive(pid)) return { stale: true, why: `its process ${pid} has exited` };
    if (holder.pidStart !== undefined) {
      const start = probes.startTimeOf(pid);
      if (start !== undefined && start !== holder.pidStart)
        return { stale: true, why: `pid ${pid} is now another process` };
    }
    // Our own pid (and start time), yet not one of our tokens: a lock this process let go of.
    if (pid === self.pid && (legacy || holder.pidStart === self.pidStart))
      return { stale: true, why: `pid ${pid} is this process, which does not hold it` };
  }
  return { stale: false, why: legacy ? `written ${seconds} s ago` : `heartbeat ${seconds} s ago` };
}

function describeHolder(holder: LockHolder): string {
  return `pid ${holder.pid ?? '?'}${holder.host === undefined ? '' : ` on ${holder.host}`}`;
}

function isCode(error: unknown, ...codes: string[]): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && codes.includes(code);
}

/** The lock file, or undefined if there is none. */
function look(lockPath: string): { stat: Stats; holder: LockHolder } | undefined {
  try {
    const stat = statSync(lockPath);
    return { stat, holder: parseHolder(readFileSync(lockPath, 'utf8')) };
  } catch (error) {
    if (isCode(error, 'ENOENT')) return undefined;
    throw stateFsError('read the lock', lockPath, error);
  }
}

function sameLock(a: { stat: Stats; holder: LockHolder }, b: { stat: Stats; holder: LockHolder }) {
  return (
    a.stat.ino === b.stat.ino && a.stat.dev === b.stat.dev && a.holder.token === b.holder.token
  );
}

/** A held run lock. */
export class RunLock {
  readonly path: string;
  readonly token: string;
  #fd: number | undefined;
  #ino: number;
  #timer: NodeJS.Timeout | undefined;
  #lost = false;
  readonly #options: LockOptions;

  private constructor(path: string, token: string, fd: number, options: LockOptions) {
    this.path = path;
    this.token = token;
    this.#fd = fd;
    this.#ino = fstatSync(fd).ino;
    this.#options = options;
    heldTokens.add(token);
    heldLocks.add(this);
    installExitHook();
    const every = options.heartbeatMs ?? Math.max(1, Math.floor(options.staleMs / 3));
    this.#timer = setInterval(() => this.beat(), every);
    this.#timer.unref();
  }

  /**
   * Takes the lock at `lockPath`, taking over a stale one; throws a DirsyncError naming the
   * holder when a live run has it. `what` names the state record in messages.
   */
  static acquire(lockPath: string, what: string, options: LockOptions): RunLock {
    const now = options.now ?? Date.now;
    const self = options.identity ?? currentIdentity();
    const heartbeatMs = options.heartbeatMs ?? Math.max(1, Math.floor(options.staleMs / 3));
    const token = randomUUID();
    const content = (): string =>
      JSON.stringify({
        token,
        pid: self.pid,
        host: self.host,
        ...(self.bootId === undefined ? {} : { bootId: self.bootId }),
        ...(self.pidNs === undefined ? {} : { pidNs: self.pidNs }),
        ...(self.pidStart === undefined ? {} : { pidStart: self.pidStart }),
        startedAt: new Date(now()).toISOString(),
        heartbeatMs,
      }) + '\n';
    const busy = (found: { holder: LockHolder }, verdict: Verdict): LockBusyError =>
      new LockBusyError(
        `another dirsync run (${describeHolder(found.holder)}) holds the lock on ${what}: ${found.holder.startedAt === undefined ? '' : `started ${found.holder.startedAt}, `}${verdict.why}`,
        found.holder,
        {
          hint:
            found.holder.heartbeatMs === undefined
              ? `wait for it to finish; if no dirsync is running, remove ${lockPath}`
              : `wait for it to finish (a run is bounded by schedule.runTimeout); a lock whose run has died is taken over ${Math.round(options.staleMs / 1000)} s after its last heartbeat (state.lockStaleAfter). If you are sure no dirsync is running, remove ${lockPath}`,
        },
      );

    for (let attempt = 0; attempt < 20; attempt++) {
      // 1. No lock: create it exclusively.
      let fd: number | undefined;
      try {
        fd = openSync(lockPath, 'wx', 0o600);
      } catch (error) {
        if (!isCode(error, 'EEXIST')) throw stateFsError('create the lock', lockPath, error);
      }
      if (fd !== undefined) {
        try {
          writeSync(fd, content());
          fsyncSync(fd);
        } catch (error) {
          closeSync(fd);
          rmSync(lockPath, { force: true });
          throw stateFsError('write the lock', lockPath, error);
        }
        return new RunLock(lockPath, token, fd, options);
      }

      // 2. A lock exists: live, or stale?
      const found = look(lockPath);
      if (found === undefined) continue; // released meanwhile
      const verdict = judgeLock(found.holder, now() - found.stat.mtimeMs, options.staleMs, self);
      if (!verdict.stale) throw busy(found, verdict);

      // 3. Stale: only the one contender that creates the claim for this very lock may replace it.
      const id = found.holder.token ?? `${found.stat.ino}-${Math.trunc(found.stat.mtimeMs)}`;
      const claim = `${lockPath}.takeover-${id.replace(/[^\w-]/g, '_')}`;
      try {
        closeSync(openSync(claim, 'wx', 0o600));
      } catch (error) {
        if (!isCode(error, 'EEXIST')) throw stateFsError('create the lock', claim, error);
        // Another run is taking this lock over right now (it takes milliseconds); a claim that
        // old is left by a contender that died mid-takeover.
        let claimAge: number;
        try {
          claimAge = now() - statSync(claim).mtimeMs;
        } catch {
          continue;
        }
        if (claimAge > options.staleMs) {
          rmSync(claim, { force: true });
          continue;
        }
        throw busy(found, { stale: false, why: 'another run is taking the stale lock over' });
      }
      const tmp = `${lockPath}.${token}.tmp`;
      try {
        const again = look(lockPath);
        if (again === undefined || !sameLock(found, again)) continue;
        const recheck = judgeLock(again.holder, now() - again.stat.mtimeMs, options.staleMs, self);
        if (!recheck.stale) throw busy(again, recheck); // its holder beat again meanwhile
        const mine = openSync(tmp, 'wx', 0o600);
        try {
          writeSync(mine, content());
          fsyncSync(mine);
          renameSync(tmp, lockPath);
        } catch (error) {
          closeSync(mine);
          rmSync(tmp, { force: true });
          throw stateFsError('write the lock', lockPath, error);
        }
        const lock = new RunLock(lockPath, token, mine, options);
        lock.tookOver = { holder: found.holder, why: verdict.why };
        return lock;
      } finally {
        rmSync(claim, { force: true });
      }
    }
    const last = look(lockPath);
    throw busy(last ?? { holder: {} }, { stale: false, why: 'it keeps changing hands' });
  }

  /** The stale lock this one replaced, if any: for the log. */
  tookOver: { holder: LockHolder; why: string } | undefined;

  get held(): boolean {
    return this.#fd !== undefined && !this.#lost;
  }

  /** Refreshes the heartbeat and checks the lock is still ours. */
  beat(): void {
    if (this.#fd === undefined || this.#lost) return;
    let reason: string | undefined;
    try {
      const now = new Date((this.#options.now ?? Date.now)());
      futimesSync(this.#fd, now, now);
      const st = statSync(this.path);
      if (st.ino !== this.#ino) reason = `${this.path} was taken over by another run`;
    } catch (error) {
      reason = isCode(error, 'ENOENT')
        ? `${this.path} was removed`
        : `${this.path} cannot be refreshed (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
    }
    if (reason === undefined) return;
    this.#lost = true;
    this.#stopTimer();
    this.#options.onLost?.(reason);
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Stops the heartbeat and removes the lock if it is still ours. Idempotent, never throws. */
  release(): void {
    this.#stopTimer();
    heldLocks.delete(this);
    heldTokens.delete(this.token);
    const fd = this.#fd;
    if (fd === undefined) return;
    this.#fd = undefined;
    try {
      if (!this.#lost && statSync(this.path).ino === this.#ino) rmSync(this.path, { force: true });
    } catch {
      // already gone
    }
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
}
