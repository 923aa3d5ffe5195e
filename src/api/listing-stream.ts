import {
  ListingFormatError,
  NOT_AN_ARRAY,
  toOrgUser,
  type OrgUser,
  type UserTag,
} from './schema.js';
import { BOM, hasBom, skipJsonWhitespace } from './json-bytes.js';
import { formatBytes } from '../text.js';
import type { ArraySink } from './transport.js';

export interface ListingDecoderOptions {
  /**
   * Bytes to hold before trying to decode a batch: fewer, larger JSON.parse calls. Tests set 0
   * to exercise every chunk boundary.
   */
  minBatchBytes?: number | undefined;
  /** The largest element accepted, in bytes of JSON (`api.maxListingElementBytes`). */
  maxElementBytes?: number | undefined;
}

/** One user of a listing takes about 200 bytes; a megabyte is a broken or hostile answer. */
export const DEFAULT_MAX_ELEMENT_BYTES = 1024 * 1024;

/** A listing element larger than the limit: the read is refused before it is held whole. */
export class ListingElementTooLargeError extends Error {
  constructor(
    readonly limit: number,
    /** Where the element starts in the body. */
    readonly offset: number,
    /** Its size, or at least this many bytes when it was refused before it ended. */
    readonly bytes: number,
    readonly complete: boolean,
  ) {
    super(
      `the element at byte ${offset} is ${complete ? '' : 'at least '}${bytes} bytes, over the limit of ${formatBytes(limit)}`,
    );
  }
}

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const COMMA = 0x2c;
const BACKSLASH = 0x5c;

/**
 * Decodes a `/multipleusers` body into {@link OrgUser}s batch by batch while it downloads, so
 * that neither the whole text nor all 100k raw objects are ever held at once.
 *
 * Held bytes always start at a top-level position of the array: before its `[`, or right after
 * an element. A batch is the held bytes up to the last `}`, parsed as `<held>]` (first batch) or
 * `[0<held>]` (later ones, whose leading `,` then follows the dummy 0). If that parses, the cut
 * was at the end of a top-level element: a cut inside a string leaves the string unterminated,
 * and a cut inside a nested value leaves one bracket more open than the single `]` closes. So a
 * successful parse yields exactly the complete elements, and JSON.parse itself checks the commas,
 * the closing `]` and anything after it. When it fails (a `}` inside a string or a nested object
 * of the element still arriving), a byte scan from the held start finds the real last element.
 *
 * Cuts are at ASCII `}` bytes, so UTF-8 is only ever decoded across whole characters.
 */
export class ListingDecoder implements ArraySink<OrgUser[]> {
  readonly #tag: UserTag;
  readonly #minBatchBytes: number;
  readonly #maxElementBytes: number;
  readonly #users: OrgUser[] = [];
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** Where the held bytes start in the body, for messages. */
  #offset = 0;
  /** Whether the `[` has been decoded, i.e. held bytes follow an element. */
  #opened = false;
  /**
   * Held size at which to try again after a try found no complete element: doubling it keeps a
   * body with huge (or never-ending) elements linear rather than quadratic.
   */
  #retryAt = 0;

  constructor(tag: UserTag, options: ListingDecoderOptions = {}) {
    this.#tag = tag;
    this.#minBatchBytes = options.minBatchBytes ?? 128 * 1024;
    this.#maxElementBytes = options.maxElementBytes ?? DEFAULT_MAX_ELEMENT_BYTES;
  }

  /** Users decoded so far. */
  get count(): number {
    return this.#users.length;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#held.push(chunk);
    this.#heldBytes += chunk.length;
    if (this.#heldBytes >= this.#minBatchBytes && this.#heldBytes >= this.#retryAt) {
      this.#decodeBatch();
    }
  }

  end(): OrgUser[] {
    const buf = this.#takeHeld();
    const arrayStart = this.#opened ? -1 : this.#arrayStart(buf);
    if (arrayStart === undefined) throw new ListingFormatError(NOT_AN_ARRAY);
    this.#checkElementSizes(buf, arrayStart + 1, buf.length);
    this.#convert(this.#parse(buf, buf.length, false), this.#opened ? 1 : 0);
    return this.#users;
  }

  /**
   * Throws if an element in `buf[from, end)` (`from` a top-level position) is over the limit.
   * Only a region longer than the limit can hold one, so a normal listing never scans.
   */
  #checkElementSizes(buf: Buffer, from: number, end: number): void {
    if (end - from <= this.#maxElementBytes) return;
    const largest = largestElement(buf, from, end);
    if (largest.bytes > this.#maxElementBytes) {
      throw new ListingElementTooLargeError(
        this.#maxElementBytes,
        this.#offset + largest.start,
        largest.bytes,
        true,
      );
    }
  }

  #decodeBatch(): void {
    const buf = this.#takeHeld();
    const arrayStart = this.#opened ? 0 : this.#arrayStart(buf);
    let cut = arrayStart === undefined ? -1 : buf.lastIndexOf(CLOSE_BRACE);
    let items = cut < 0 ? undefined : this.#tryParse(buf, cut + 1);
    if (items === undefined && cut >= 0 && arrayStart !== undefined) {
      cut = lastElementEnd(buf, this.#opened ? 0 : arrayStart + 1);
      // At a real element end, a parse failure is the body's fault: report it now.
      if (cut >= 0) items = this.#parse(buf, cut + 1, true);
    }
    if (items === undefined) {
      // Held bytes start where the next element does: none has ended within the limit.
      const start =
        arrayStart === undefined ? 0 : elementStart(buf, this.#opened ? 0 : arrayStart + 1);
      if (arrayStart !== undefined && buf.length - start > this.#maxElementBytes) {
        throw new ListingElementTooLargeError(
          this.#maxElementBytes,
          this.#offset + start,
          buf.length - start,
          false,
        );
      }
      this.#held = [buf];
      this.#retryAt = 2 * buf.length;
      return;
    }
    this.#checkElementSizes(buf, this.#opened ? 0 : (arrayStart ?? 0) + 1, cut + 1);
    this.#convert(items, this.#opened ? 1 : 0);
    this.#opened = true;
    this.#retryAt = 0;
    // A copy: a view would pin the whole batch buffer.
    const rest = Buffer.from(buf.subarray(cut + 1));
    this.#offset += cut + 1;
    this.#held = rest.length === 0 ? [] : [rest];
    this.#heldBytes = rest.length;
  }

  #takeHeld(): Buffer {
    const only = this.#held.length === 1 ? this.#held[0] : undefined;
    const buf = only ?? Buffer.concat(this.#held, this.#heldBytes);
    this.#held = [buf];
    return buf;
  }

  /**
   * Where the `[` is, before the first batch; undefined while only whitespace has come.
   * Throws when the body is something other than an array.
   */
  #arrayStart(buf: Buffer): number | undefined {
    const start = skipJsonWhitespace(buf, hasBom(buf) ? 3 : 0);
    if (start === buf.length || BOM.subarray(0, buf.length).equals(buf)) return undefined;
    if (buf[start] !== OPEN_BRACKET) throw new ListingFormatError(NOT_AN_ARRAY);
    return start;
  }

  /** The elements in `buf` before `end`, or undefined if `end` is not after a whole element. */
  #tryParse(buf: Buffer, end: number): unknown[] | undefined {
    try {
      return JSON.parse(this.#batchText(buf, end, true)) as unknown[];
    } catch {
      return undefined;
    }
  }

  /**
   * Like {@link #tryParse}, where failing means the body is not valid JSON. Without `close`,
   * the held bytes are the rest of the body and must end the array themselves.
   */
  #parse(buf: Buffer, end: number, close: boolean): unknown[] {
    let parsed: unknown;
    try {
      parsed = JSON.parse(this.#batchText(buf, end, close));
    } catch (error) {
      const reason = syntaxReason(error);
      const message =
        !close && /end of JSON input|Unterminated string/.test(reason)
          ? `the body ends before its array does: cut short after ${this.#offset + end} bytes`
          : `the body is not valid JSON: ${reason} (in bytes ${this.#offset}-${this.#offset + end})`;
      throw new ListingFormatError(message, { cause: error });
    }
    // Only reachable for a whole body (`#arrayStart` checked its first byte), kept for safety.
    if (!Array.isArray(parsed)) throw new ListingFormatError(NOT_AN_ARRAY);
    return parsed as unknown[];
  }

  #batchText(buf: Buffer, end: number, close: boolean): string {
    const start = !this.#opened && hasBom(buf) ? 3 : 0;
    const text = buf.toString('utf8', start, end);
    const closing = close ? ']' : '';
    return this.#opened ? `[0${text}${closing}` : `${text}${closing}`;
  }

  /** Converts parsed elements from `from` on (after the dummy 0 of a later batch). */
  #convert(items: unknown[], from: number): void {
    const users = this.#users;
    for (let i = from; i < items.length; i++) {
      users.push(toOrgUser(items[i], users.length, this.#tag));
    }
  }
}

/**
 * The index of the `"` that closes the string opened at `open`: the next one not preceded by an
 * odd run of backslashes; -1 if the string does not end in `buf`.
 */
function closingQuote(buf: Buffer, open: number): number {
  let close = buf.indexOf(QUOTE, open + 1);
  while (close > 0) {
    let slashes = 0;
    while (buf[close - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) break;
    close = buf.indexOf(QUOTE, close + 1);
  }
  return close;
}

/**
 * The index of the last `}` that closes a top-level element, scanning from `from`, a top-level
 * position inside the array; -1 if no element is complete. Stops at the array's closing `]`.
 * Only exact for valid JSON; the caller's JSON.parse catches the rest.
 */
export function lastElementEnd(buf: Buffer, from: number): number {
  let depth = 0;
  let last = -1;
  for (let i = from; i < buf.length; i++) {
    const b = buf[i];
    if (b === QUOTE) {
      const close = closingQuote(buf, i);
      if (close < 0) break;
      i = close;
    } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      depth++;
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      depth--;
      if (depth < 0) break;
      if (depth === 0 && b === CLOSE_BRACE) last = i;
    }
  }
  return last;
}

/** Where the next element starts: past whitespace, and past the comma before it. */
function elementStart(buf: Buffer, from: number): number {
  const i = skipJsonWhitespace(buf, from);
  return buf[i] === COMMA ? skipJsonWhitespace(buf, i + 1) : i;
}

/**
 * The largest top-level element in `buf[from, end)`, `from` a top-level position inside the
 * array: where it starts (past the comma and whitespace) and its length in bytes.
 */
export function largestElement(
  buf: Buffer,
  from: number,
  end: number,
): { start: number; bytes: number } {
  let depth = 0;
  let start = -1;
  let best = { start: from, bytes: 0 };
  for (let i = from; i < end; i++) {
    const b = buf[i];
    if (b === QUOTE) {
      const close = closingQuote(buf, i);
      if (close < 0 || close >= end) break;
      i = close;
    } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      if (depth === 0) start = i;
      depth++;
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      depth--;
      if (depth < 0) break;
      if (depth === 0 && i + 1 - start > best.bytes) best = { start, bytes: i + 1 - start };
    }
  }
  return best;
}

/** JSON.parse's reason without its quote of the body (which could hold anything) or position. */
function syntaxReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const reason = message
    .replace(/,?\s*(\.\.\.)?"[\s\S]*" is not valid JSON[\s\S]*$/, '')
    .replace(/\s*(in JSON )?at position \d+[\s\S]*$/, '');
  return reason === '' ? 'unexpected token' : reason;
}
