/**
 * Appends every item of `source` to `target`. Not `target.push(...source)`: spreading passes each
 * item as an argument, and a list of about 120k (an "all staff" group's members) overflows the
 * call stack.
 */
export function appendAll<T>(target: T[], source: readonly T[]): void {
  for (let i = 0; i < source.length; i++) target.push(source[i]!);
}
