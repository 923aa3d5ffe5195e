import { describe, expect, it } from 'vitest';
import { DEFAULT_HEAP_GROWING_PERCENT, tuneHeap } from '../../../src/cli/heap.js';

function flagsFor(env: Record<string, string>): { flags: string[]; error: string | undefined } {
  const flags: string[] = [];
  const error = tuneHeap(env, (f) => flags.push(f));
  return { flags, error };
}

describe('tuneHeap', () => {
  it('sets the default heap growth when nothing is configured', () => {
    expect(flagsFor({})).toEqual({
      flags: [`--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`],
      error: undefined,
    });
  });

  it('takes DIRSYNC_HEAP_GROWING_PERCENT, and 0 leaves V8 alone', () => {
    expect(flagsFor({ DIRSYNC_HEAP_GROWING_PERCENT: '50' }).flags).toEqual([
      '--heap-growing-percent=50',
    ]);
    expect(flagsFor({ DIRSYNC_HEAP_GROWING_PERCENT: '0' }).flags).toEqual([]);
  });

  it('refuses a value that is not a whole number, naming the variable', () => {
    const { flags, error } = flagsFor({ DIRSYNC_HEAP_GROWING_PERCENT: '30%' });
    expect(flags).toEqual([]);
    expect(error).toMatch(/DIRSYNC_HEAP_GROWING_PERCENT "30%" is not a whole number/);
  });
});
