import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../config/schema.js';
import { DirsyncError } from '../errors.js';
import { makeFolder } from '../state/fs-errors.js';

/**
 * One line of the audit trail: an action and what became of it, or (kind `run`) a run that
 * was refused or failed as a whole. The field names are the administrator-facing format.
 */
export interface AuditEntry {
  /** When the outcome was known (ISO 8601, UTC). */
  time: string;
  runId: string;
  /** The action kind (`suspend`, `set_rank`, ...), or `run` for a whole run. */
  kind: string;
  /** The user's email; empty for a `run` entry. */
  email: string;
  email_id: number | null;
  before: unknown;
  after: unknown;
  /** Why the plan wanted it (the rule and the group or attribute behind it). */
  reason: string;
  /** applied, unchanged, failed, skipped, held, unclear; refused or failed for a `run`. */
  outcome: string;
  /** Why it failed, was skipped or held; null when it applied. */
  error: string | null;
  /** A refused run: the rails that refused it. */
  rails?: { rail: string; message: string }[];
}

/** Where the audit entries of a run go. */
export interface AuditSink {
  /**
   * Makes sure entries can be written (the folder, today's file) before a run changes anything,
   * and deletes files past their keep time; throws a DirsyncError naming the folder otherwise.
   */
  open(): void;
  /** Appends entries; on disk (the OS's) before this returns, fsynced by batch. */
  write(entries: readonly AuditEntry[]): void;
  /** fsyncs what was written: the end of a batch. */
  sync(): void;
}

/** The audit folder a config names: `audit.path`, else `audit/` beside the state record. */
export function auditDir(config: {
  audit: Pick<Config['audit'], 'path'>;
  state: Pick<Config['state'], 'path'>;
}): string {
  return config.audit.path ?? join(dirname(config.state.path), 'audit');
}

const FILE = /^audit-(\d{4}-\d{2}-\d{2})\.jsonl$/;

/** One file per UTC day, so that keeping by age deletes whole files. */
export function auditFileName(time: string): string {
  return `audit-${time.slice(0, 10)}.jsonl`;
}

/** Lines written since the last fsync before one is forced, and the longest gap between them. */
const SYNC_EVERY_LINES = 200;
const SYNC_EVERY_MS = 1_000;

/**
 * The append-only audit log: `<dir>/audit-YYYY-MM-DD.jsonl`, one JSON object a line.
 * Each `write` reaches the file at once (a killed process loses nothing it wrote); fsync runs
 * every few hundred lines or second and on `sync`, so a machine crash loses at most that batch.
 * A line torn by a crash is closed off before the next append, so it never spoils a later one.
 */
export class AuditLog implements AuditSink {
  private fd: number | undefined;
  private fileName: string | undefined;
  private unsynced = 0;
  private lastSync = 0;
  private pruned = false;

  constructor(
    readonly dir: string,
    private readonly options: { keepDays: number; clock?: () => Date },
  ) {}

  static forConfig(config: Pick<Config, 'audit' | 'state'>, clock?: () => Date): AuditLog {
    return new AuditLog(auditDir(config), {
      keepDays: config.audit.keepDays,
      ...(clock === undefined ? {} : { clock }),
    });
  }

  open(): void {
    const now = this.now();
    this.prune(now);
    this.append(auditFileName(now.toISOString()), '');
  }

  write(entries: readonly AuditEntry[]): void {
    if (entries.length === 0) return;
    const now = this.now();
    this.prune(now);
    // Entries of one call may straddle midnight: each goes to its own day's file.
    let i = 0;
    while (i < entries.length) {
      const name = auditFileName(entries[i]!.time);
      let j = i;
      let text = '';
      while (j < entries.length && auditFileName(entries[j]!.time) === name) {
        text += JSON.stringify(entries[j]) + '\n';
        j++;
      }
      this.append(name, text);
      this.unsynced += j - i;
      i = j;
    }
    if (this.unsynced >= SYNC_EVERY_LINES || now.getTime() - this.lastSync >= SYNC_EVERY_MS) {
      this.sync();
      this.lastSync = now.getTime();
    }
  }

  sync(): void {
    if (this.fd !== undefined && this.unsynced > 0) fsyncSync(this.fd);
    this.unsynced = 0;
  }

  /** fsyncs and closes the open file. */
  close(): void {
    this.sync();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.fileName = undefined;
  }

  private now(): Date {
    return (this.options.clock ?? (() => new Date()))();
  }

  private prune(now: Date): void {
    if (this.pruned) return;
    this.pruned = true;
    try {
      pruneAudit(this.dir, this.options.keepDays, now);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw new DirsyncError(`audit log ${this.dir} cannot be pruned (${code})`, {
        cause: error,
        hint: `make ${this.dir} writable by dirsync, or point audit.path at a folder that is`,
      });
    }
  }

  private append(name: string, text: string): void {
    const path = join(this.dir, name);
    try {
      if (this.fileName !== name) {
        this.sync();
        if (this.fd !== undefined) closeSync(this.fd);
        this.fd = undefined;
        // Not mkdirSync({ recursive }): it spins for ever under /proc (makeFolder says why).
        makeFolder(this.dir, 'create the audit folder', 0o700);
        this.fd = openSync(path, 'a+', 0o600);
        this.fileName = name;
        if (endsTorn(this.fd)) writeSync(this.fd, '\n');
      }
      if (text !== '') writeSync(this.fd!, text);
    } catch (error) {
      const errno = error instanceof DirsyncError ? error.cause : error;
      const code = (errno as NodeJS.ErrnoException | undefined)?.code ?? 'error';
      throw new DirsyncError(`audit log ${path} cannot be written (${code})`, {
        cause: error,
        hint: `make ${this.dir} writable by dirsync, or point audit.path at a folder that is`,
      });
    }
  }
}

/** Whether a file ends in the middle of a line (a crash tore its last append). */
function endsTorn(fd: number): boolean {
  const size = fstatSync(fd).size;
  if (size === 0) return false;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  return last[0] !== 0x0a;
}

/** Deletes the audit files of days older than `keepDays` before `now`; returns their names. */
export function pruneAudit(dir: string, keepDays: number, now: Date): string[] {
  const cutoff = new Date(now.getTime() - keepDays * 86_400_000).toISOString().slice(0, 10);
  const removed: string[] = [];
  for (const name of listAuditFiles(dir)) {
    const day = FILE.exec(name)![1]!;
    if (day < cutoff) {
      rmSync(join(dir, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}

function listAuditFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names.filter((n) => FILE.test(n)).sort();
}

export interface AuditQuery {
  /** Only entries at or after this time. */
  since?: Date;
  /** Only this user: an email (case-insensitive) or an email_id. */
  user?: string;
}

export interface AuditRead {
  /** Oldest first. */
  entries: AuditEntry[];
  /** Lines that are not an audit entry (a line torn by a crash), by file and 1-based line. */
  skipped: { file: string; line: number }[];
}

/** Whether an entry is about `user`: its email (case-insensitive) or its email_id. */
export function entryMatches(entry: AuditEntry, user: string): boolean {
  const wanted = user.trim().toLowerCase();
  return entry.email.toLowerCase() === wanted || String(entry.email_id) === wanted;
}

/** Reads the audit log in `dir` (a missing folder is an empty log). */
export function readAudit(dir: string, query: AuditQuery = {}): AuditRead {
  const since = query.since?.toISOString();
  const firstDay = since?.slice(0, 10);
  const entries: AuditEntry[] = [];
  const skipped: AuditRead['skipped'] = [];
  for (const name of listAuditFiles(dir)) {
    if (firstDay !== undefined && FILE.exec(name)![1]! < firstDay) continue;
    const file = join(dir, name);
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, index) => {
      if (line.trim() === '') return;
      const entry = parseEntry(line);
      if (entry === undefined) {
        skipped.push({ file, line: index + 1 });
        return;
      }
      if (since !== undefined && entry.time < since) return;
      if (query.user !== undefined && !entryMatches(entry, query.user)) return;
      entries.push(entry);
    });
  }
  // Appends are in time order already; a stable sort keeps it so across files and clocks.
  entries.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  return { entries, skipped };
}

function parseEntry(line: string): AuditEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const e = value as Record<string, unknown>;
  if (
    typeof e['time'] !== 'string' ||
    typeof e['kind'] !== 'string' ||
    typeof e['outcome'] !== 'string' ||
    typeof e['email'] !== 'string'
  )
    return undefined;
  return value as AuditEntry;
}
