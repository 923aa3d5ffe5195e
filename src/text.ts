/**
 * Text that came from outside (API answers, transport errors, directory values) made safe to
 * print: secrets scrubbed, control characters escaped, length capped, always in that order. A
 * secret is scrubbed before anything is cut, so that no cut can leave a piece of it behind.
 */

export const REDACTED = '[redacted]';

/**
 * Shorter values are not scrubbed from free text: replacing every "abc" in a message would
 * garble it and protect nothing (no real token or password is that short).
 */
export const MIN_SCRUBBED_SECRET_LENGTH = 4;

/** `text` with every occurrence of each secret replaced by `[redacted]`. */
export function scrubSecrets(text: string, secrets: Iterable<string>): string {
  let out = text;
  // Longest first: a secret that contains another is replaced whole.
  const sorted = [...secrets]
    .filter((s) => s.length >= MIN_SCRUBBED_SECRET_LENGTH)
    .sort((a, b) => b.length - a.length);
  for (const secret of sorted) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

// C0 controls, DEL, C1 controls (0x80-0x9f: 0x9b is a one-byte CSI on some terminals), and the
// Unicode line and paragraph separators and bidirectional overrides that reorder what is shown.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const CONTROL_BUT_NEWLINE =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(c: string): string {
  const named = NAMED[c];
  if (named !== undefined) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Control characters as visible escapes (`ESC` -> `\x1b`, newline -> `\n`): an API or directory
 * value can neither drive the terminal nor forge a line of output. With `keepNewlines`, `\n`
 * and `\t` stay (for our own multi-line messages, whose outside values are already escaped).
 */
export function escapeControl(text: string, options: { keepNewlines?: boolean } = {}): string {
  const pattern = options.keepNewlines === true ? CONTROL_BUT_NEWLINE : CONTROL;
  pattern.lastIndex = 0;
  return pattern.test(text) ? text.replace(pattern, escapeOne) : text;
}

/** At most `max` characters (then `...`), never cutting a surrogate pair in two. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}...`;
}

/**
 * The one way outside text becomes part of a message: secrets scrubbed first, then control
 * characters escaped, then the length capped.
 */
export function safeText(
  text: string,
  options: { secrets?: Iterable<string>; max?: number } = {},
): string {
  const scrubbed = options.secrets === undefined ? text : scrubSecrets(text, options.secrets);
  const escaped = escapeControl(scrubbed);
  return options.max === undefined ? escaped : truncate(escaped, options.max);
}

/** A byte count for people: `1 MiB`, `10 MiB`, `1 GiB`, or `1500 bytes`. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}

/** `1 action`, `2 actions`: a count and its noun, singular for one. */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
