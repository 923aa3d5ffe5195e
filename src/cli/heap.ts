import { setFlagsFromString } from 'node:v8';
import type { Env } from '../config/load.js';

/**
 * How far V8 lets the heap grow past what the last full collection kept, in percent.
 *
 * A run's live data is small next to what it allocates (at 100k users a quiet `dirsync plan`
 * holds ~110 MiB after its reads and allocates ~800 MB on the way), and by default V8 lets
 * garbage pile up to about twice the live size before collecting: the peak RSS was mostly that
 * slack (~450 MiB). At 30 it is ~370 MiB, for half a second to a second more CPU per 100k users
 * (BENCHMARKS.md, "How item 3 was met"). `DIRSYNC_HEAP_GROWING_PERCENT=0` keeps V8's own
 * heuristics.
 */
export const DEFAULT_HEAP_GROWING_PERCENT = 30;

/** The percent to set, undefined for V8's default, or an error message for a bad value. */
export function heapGrowingPercent(env: Env): { percent?: number; error?: string } {
  const raw = env['DIRSYNC_HEAP_GROWING_PERCENT'];
  if (raw === undefined || raw.trim() === '') return { percent: DEFAULT_HEAP_GROWING_PERCENT };
  const value = raw.trim();
  if (!/^\d{1,4}$/.test(value)) {
    return {
      error: `DIRSYNC_HEAP_GROWING_PERCENT ${JSON.stringify(raw)} is not a whole number of percent (hint: unset it for ${DEFAULT_HEAP_GROWING_PERCENT}, or 0 for V8's default)`,
    };
  }
  const percent = Number(value);
  return percent === 0 ? {} : { percent };
}

/** Applies {@link heapGrowingPercent} to this process; returns the error message, if any. */
export function tuneHeap(
  env: Env,
  setFlags: (flags: string) => void = setFlagsFromString,
): string | undefined {
  const { percent, error } = heapGrowingPercent(env);
  if (error !== undefined) return error;
  if (percent !== undefined) setFlags(`--heap-growing-percent=${percent}`);
  return undefined;
}
