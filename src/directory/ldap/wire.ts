import { TextDecoder } from 'node:util';
import type { RawEntry } from '../model.js';

/**
 * A lean reader of the LDAP messages one ldapts client receives.
 *
 * ldapts decodes every attribute value of a search entry into a Buffer view plus a string, then
 * copies the entry into a plain object; at 100k users that is millions of short-lived objects,
 * and the decoding alone costs about twice what `ldapsearch` spends on the whole read. This reader
 * frames the messages itself and decodes a SearchResultEntry (RFC 4511 4.5.2) straight into the
 * {@link RawEntry} dirsync maps: one string per value (ASCII sliced without a UTF-8 pass), one
 * Map per entry, handed over with the page's SearchResultDone ({@link LEAN_ENTRIES}) rather than
 * as a message object each. Every other message (bind, search done with its controls, references,
 * extended responses) goes to a {@link LeanReaderSink}: the ldapts adapter (`ldapts-internals.ts`)
 * hands it to ldapts' own parser, so errors and controls behave as before. This module knows
 * nothing of ldapts.
 *
 * Values that are not valid UTF-8 stay Buffers, as in ldapts; attributes the search names in
 * `explicitBufferAttributes` (AD objectGUID) are always Buffers.
 */

/**
 * Where the entries of a search page are: on the SearchResultDone message (an ldapts
 * SearchResponse) under this key, in the order the server sent them.
 */
export const LEAN_ENTRIES = Symbol('dirsync.leanEntries');

export interface WithLeanEntries {
  [LEAN_ENTRIES]?: RawEntry[];
}

/** The wire-level error a malformed message raises. */
export class LdapWireError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The largest LDAP message read (a group of millions of members is far below it). */
export const MAX_MESSAGE_BYTES = 1024 ** 3;

const TAG_SEQUENCE = 0x30;
const TAG_SET = 0x31;
const TAG_OCTET_STRING = 0x04;
const TAG_INTEGER = 0x02;
const TAG_SEARCH_ENTRY = 0x64;
const TAG_SEARCH_DONE = 0x65;

/**
 * Cursor over one message: `pos` moves as it reads; `len` is the length of the element whose
 * header was read last.
 */
class Cursor {
  pos: number;
  len = 0;

  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  /** Reads a tag and a definite length; returns the tag, leaves `pos` at the contents. */
  header(expected?: number): number {
    const { buf } = this;
    if (this.pos + 2 > this.end) throw new LdapWireError('truncated BER element');
    const tag = buf[this.pos++]!;
    if (expected !== undefined && tag !== expected)
      throw new LdapWireError(
        `expected BER tag 0x${expected.toString(16)}, got 0x${tag.toString(16)}`,
      );
    let len = buf[this.pos++]!;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4) throw new LdapWireError('unsupported BER length');
      if (this.pos + n > this.end) throw new LdapWireError('truncated BER length');
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[this.pos++]!;
    }
    if (this.pos + len > this.end) throw new LdapWireError('BER element runs past its message');
    this.len = len;
    return tag;
  }

  integer(): number {
    this.header(TAG_INTEGER);
    const { buf, len } = this;
    if (len < 1 || len > 4) throw new LdapWireError('unsupported BER integer');
    let value = buf[this.pos]! & 0x80 ? -1 : 0;
    for (let i = 0; i < len; i++) value = value * 256 + buf[this.pos++]!;
    return value;
  }
}

/** The text of `buf[start, end)`: ASCII without a decoding pass, else strict UTF-8. */
function decodeText(buf: Buffer, start: number, end: number): string | Buffer {
  for (let i = start; i < end; i++) {
    if (buf[i]! > 0x7f) {
      const view = buf.subarray(start, end);
      try {
        return utf8.decode(view);
      } catch {
        return Buffer.from(view);
      }
    }
  }
  return buf.toString('latin1', start, end);
}

/**
 * Attribute names repeat on every entry, in the same order: the name at each position of the
 * last entry is kept with its bytes, and reused without decoding when the bytes match.
 */
const namesAt: { bytes: Buffer; name: string }[] = [];
const lowerNames = new Map<string, string>();
function attributeName(buf: Buffer, start: number, end: number, position: number): string {
  const known = namesAt[position];
  const len = end - start;
  if (known !== undefined && known.bytes.length === len) {
    const bytes = known.bytes;
    let same = true;
    for (let i = 0; i < len; i++) {
      if (bytes[i] !== buf[start + i]) {
        same = false;
        break;
      }
    }
    if (same) return known.name;
  }
  const raw = buf.toString('utf8', start, end);
  let name = lowerNames.get(raw);
  if (name === undefined) {
    name = raw.toLowerCase();
    if (lowerNames.size < 10_000) lowerNames.set(raw, name);
  }
  if (position < 64) namesAt[position] = { bytes: Buffer.from(buf.subarray(start, end)), name };
  return name;
}

/**
 * Decodes the contents of a SearchResultEntry (`buf[start, end)`, after its [APPLICATION 4]
 * header): objectName, then the PartialAttributeList. `binary`: lower-cased names whose values
 * are kept as Buffers.
 */
export function decodeSearchEntry(
  buf: Buffer,
  start: number,
  end: number,
  binary: ReadonlySet<string>,
): RawEntry {
  const c = new Cursor(buf, start, end);
  c.header(TAG_OCTET_STRING);
  const dnValue = decodeText(buf, c.pos, c.pos + c.len);
  const dn = typeof dnValue === 'string' ? dnValue : dnValue.toString('utf8');
  c.pos += c.len;
  const attributes = new Map<string, (string | Buffer)[]>();
  c.header(TAG_SEQUENCE);
  const listEnd = c.pos + c.len;
  for (let position = 0; c.pos < listEnd; position++) {
    c.header(TAG_SEQUENCE);
    const attributeEnd = c.pos + c.len;
    c.header(TAG_OCTET_STRING);
    const name = attributeName(buf, c.pos, c.pos + c.len, position);
    c.pos += c.len;
    const keepBytes = binary.has(name);
    let values: (string | Buffer)[];
    if (c.pos < attributeEnd) {
      c.header(TAG_SET);
      const setEnd = c.pos + c.len;
      // Most attributes hold one value: an array of exactly one (a growing one reserves 17).
      values = [];
      for (let first = true; c.pos < setEnd; first = false) {
        c.header(TAG_OCTET_STRING);
        const valueStart = c.pos;
        c.pos += c.len;
        const value = keepBytes
          ? Buffer.from(buf.subarray(valueStart, c.pos))
          : decodeText(buf, valueStart, c.pos);
        if (first && c.pos >= setEnd) values = [value];
        else values.push(value);
      }
    } else {
      values = [];
    }
    const existing = attributes.get(name);
    if (existing === undefined) attributes.set(name, values);
    else for (const v of values) existing.push(v);
    c.pos = attributeEnd;
  }
  return { dn, attributes };
}

/**
 * What the lean reader hands on: everything it does not decode itself. The ldapts adapter
 * ({@link ./ldapts-internals.ts}) implements it over ldapts' own parser and pending requests.
 */
export interface LeanReaderSink {
  /** The attribute names whose values the pending search `messageId` keeps as Buffers. */
  binaryAttributes(messageId: number): readonly string[];
  /**
   * A message other than a SearchResultEntry: `buf[start, end)` is the whole LDAPMessage.
   * `entries`: for a SearchResultDone, the entries read for its search, in order. Returns false
   * when the message failed its request (its entries are then dropped).
   */
  message(
    buf: Buffer,
    start: number,
    end: number,
    messageId: number,
    entries: RawEntry[] | undefined,
  ): boolean;
  /**
   * The stream cannot be framed or decoded: nothing after it can be trusted. Every pending request
   * must fail with `error`, and the connection be dropped.
   */
  broken(error: LdapWireError): void;
}

/**
 * Frames the LDAP messages of one connection and decodes its SearchResultEntry messages into
 * {@link RawEntry}; every other message goes to the sink. `read` takes the socket's chunks.
 */
export class LeanReader {
  // Bytes not yet framed: chunks kept as they came until a whole message is there, so a
  // megabyte-long group entry is copied once, not once per socket chunk.
  private chunks: Buffer[] = [];
  private buffered = 0;
  private needed = 0;
  // Entries decoded per search message, until its SearchResultDone.
  private readonly entries = new Map<number, RawEntry[]>();
  // The binary attribute set of the search the last entry belonged to.
  private binaryFor = -1;
  private binary: ReadonlySet<string> = new Set();
  private isBroken = false;

  constructor(private readonly sink: LeanReaderSink) {}

  read(data: Buffer): void {
    if (this.isBroken) return;
    this.chunks.push(data);
    this.buffered += data.length;
    if (this.buffered < this.needed) return;
    const buf = this.chunks.length === 1 ? data : Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    this.needed = 0;
    let offset = 0;
    try {
      while (offset < buf.length) {
        const total = frameLength(buf, offset);
        if (total === undefined || offset + total > buf.length) {
          const rest = buf.subarray(offset);
          this.chunks.push(rest);
          this.buffered = rest.length;
          this.needed = total ?? 0;
          return;
        }
        this.handle(buf, offset, offset + total);
        offset += total;
      }
    } catch (error) {
      this.isBroken = true;
      this.entries.clear();
      this.chunks = [];
      this.sink.broken(
        new LdapWireError(`malformed LDAP message from the server: ${(error as Error).message}`),
      );
    }
  }

  private handle(buf: Buffer, start: number, end: number): void {
    const c = new Cursor(buf, start, end);
    c.header(TAG_SEQUENCE);
    const messageId = c.integer();
    if (c.pos >= end) throw new LdapWireError('message without an operation');
    const operation = buf[c.pos];
    if (operation === TAG_SEARCH_ENTRY) {
      c.header(TAG_SEARCH_ENTRY);
      if (messageId !== this.binaryFor) {
        const names = this.sink.binaryAttributes(messageId);
        this.binary = new Set(names.map((n) => n.toLowerCase()));
        this.binaryFor = messageId;
      }
      const raw = decodeSearchEntry(buf, c.pos, c.pos + c.len, this.binary);
      const list = this.entries.get(messageId);
      if (list === undefined) this.entries.set(messageId, [raw]);
      else list.push(raw);
      return;
    }
    let entries: RawEntry[] | undefined;
    if (operation === TAG_SEARCH_DONE) {
      entries = this.entries.get(messageId) ?? [];
      this.entries.delete(messageId);
    }
    if (!this.sink.message(buf, start, end, messageId, entries)) this.entries.delete(messageId);
  }
}

/**
 * The whole length of the LDAPMessage at `offset` (header included), or undefined while its
 * header is not all there.
 */
function frameLength(buf: Buffer, offset: number): number | undefined {
  if (buf.length - offset < 2) return undefined;
  if (buf[offset] !== TAG_SEQUENCE)
    throw new LdapWireError(`expected an LDAPMessage, got tag 0x${buf[offset]!.toString(16)}`);
  const first = buf[offset + 1]!;
  if ((first & 0x80) === 0) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 4) throw new LdapWireError('unsupported BER length');
  if (buf.length - offset < 2 + n) return undefined;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i]!;
  // A bogus length would have the reader buffer until memory runs out.
  if (len > MAX_MESSAGE_BYTES)
    throw new LdapWireError(`a message of ${len} bytes is larger than dirsync accepts`);
  return 2 + n + len;
}
