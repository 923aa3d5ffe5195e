import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DirsyncError } from '../errors.js';

/**
 * A file-system error on the state folder, as an administrator can act on it: what dirsync was
 * doing, the path, the errno, and the fix. Never "this looks like a bug".
 */
export function stateFsError(doing: string, path: string, error: unknown): DirsyncError {
  if (error instanceof DirsyncError) return error;
  const e = error as NodeJS.ErrnoException;
  const code = e.code ?? 'error';
  const folder = dirname(path);
  const hints: Record<string, string> = {
    EACCES: `give the user dirsync runs as (uid ${process.getuid?.() ?? '?'}) write access to ${folder}, or point state.path at a folder it owns`,
    EPERM: `give the user dirsync runs as write access to ${folder}, or point state.path at a folder it owns`,
    EROFS: `${folder} is on a read-only file system: point state.path at a writable, persistent volume (the container's is /var/lib/dirsync)`,
    ENOSPC: `the file system of ${folder} is full: free space there (old reports/ may go), then run again`,
    EDQUOT: `the disk quota of the dirsync user on ${folder} is used up: free space or raise the quota`,
    ENOTDIR: `a part of ${path} is a file, not a folder: fix state.path or move that file away`,
    EISDIR: `${path} is a folder: state.path names a file (e.g. /var/lib/dirsync/dirsync.json)`,
    EEXIST: `something already exists at ${path} and is in the way: move it away, or fix state.path`,
    ENOENT: `${folder} cannot hold files (a virtual file system such as /proc or /sys?): point state.path at a writable, persistent folder`,
    ENAMETOOLONG: 'shorten state.path',
    ELOOP: `${path} is a symbolic link loop: fix the links or state.path`,
    EIO: `the disk or network volume under ${folder} failed: check it, then run again`,
  };
  return new DirsyncError(`cannot ${doing} ${path} (${code}: ${plain(e)})`, {
    cause: error,
    hint:
      hints[code] ??
      `check ${folder} (state.path): it must be a writable folder on a persistent volume`,
  });
}

/** The errno's own words, without Node's "CODE: " prefix and the repeated path. */
function plain(error: NodeJS.ErrnoException): string {
  const message = error.message ?? String(error);
  const m = /^[A-Z]+: ([^,]+)/.exec(message);
  return m?.[1] ?? message;
}

/**
 * Creates `dir` and its missing parents. Node's `mkdirSync(..., { recursive: true })` spins at
 * 100% CPU forever where a parent exists but refuses children with ENOENT (under /proc): this
 * walks up once and creates each level once, so every failure ends with its error.
 */
export function makeFolder(dir: string, doing = 'create the state folder', mode?: number): void {
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    let exists: boolean;
    try {
      exists = statSync(d).isDirectory() || raiseNotDir(d);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw stateFsError(doing, d, error);
      exists = false;
    }
    if (exists) break;
    missing.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d, mode);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && isFolder(d)) continue;
      throw stateFsError(doing, d, error);
    }
  }
}

function isFolder(d: string): boolean {
  try {
    return statSync(d).isDirectory();
  } catch {
    return false;
  }
}

function raiseNotDir(d: string): never {
  throw Object.assign(new Error(`ENOTDIR: not a directory, '${d}'`), { code: 'ENOTDIR' });
}
