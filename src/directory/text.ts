/**
 * Lower-casing and trimming that return the string itself when there is nothing to change.
 * `toLowerCase()` and `trim()` build a new string every time; at 100k users, on every DN, email
 * and login, that is a few hundred thousand strings for the garbage collector.
 */

/** `value.toLowerCase()`, without a copy when `value` has no upper-case or non-ASCII letter. */
export function lower(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c > 127) return value.toLowerCase();
  }
  return value;
}

/** Printable ASCII: certainly not whitespace. */
const plain = (c: number): boolean => c > 32 && c < 127;

/** `value.trim()`, without a copy when neither end can be whitespace. */
export function trimmed(value: string): string {
  if (value.length === 0) return value;
  if (plain(value.charCodeAt(0)) && plain(value.charCodeAt(value.length - 1))) return value;
  return value.trim();
}
