import { escapeControl, truncate } from '../text.js';

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

/**
 * Characters no login, card number or address may hold: controls (C0 with newline and ESC, DEL,
 * C1), format characters (bidi overrides, zero-width characters), line and paragraph
 * separators, lone surrogates. Such a value is refused, never sent to the API.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
/** The ones `escapeControl` leaves as they are: invisible, so escaped here for display. */
const INVISIBLE = /[\p{Cf}\p{Cs}]/gu;

/**
 * Only printable ASCII (no space, no control): nearly every login and address, checked without
 * the Unicode-aware expressions below, which cost more than the rest of an entry's mapping.
 */
export function printableAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (!plain(value.charCodeAt(i))) return false;
  return true;
}

export function hasUnsafeCharacters(value: string): boolean {
  return UNSAFE.test(value);
}

/** A directory value for a warning or a plan: every unsafe character visible, at most `max` long. */
export function displayValue(value: string, max = 80): string {
  const visible = value.replace(
    INVISIBLE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return truncate(escapeControl(visible), max);
}
