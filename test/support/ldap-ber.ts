/**
 * A small BER encoder and decoder for LDAP (RFC 4511) test traffic, independent of ldapts and of
 * dirsync's reader, so that tests built on it also pin the framing. Definite lengths only.
 */

export function tlv(tag: number, content: Buffer | readonly Buffer[]): Buffer {
  const body = Buffer.isBuffer(content) ? content : Buffer.concat(content);
  const n = body.length;
  let header: number[];
  if (n < 0x80) header = [tag, n];
  else if (n < 0x100) header = [tag, 0x81, n];
  else if (n < 0x10000) header = [tag, 0x82, n >> 8, n & 0xff];
  else header = [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from(header), body]);
}

/** Two's complement, shortest form (RFC X.690 8.3). */
function integerBytes(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  for (;;) {
    bytes.unshift(v & 0xff);
    v >>= 8;
    const top = bytes[0]! & 0x80;
    if ((v === 0 && top === 0) || (v === -1 && top !== 0)) break;
  }
  return Buffer.from(bytes);
}

export const integer = (value: number): Buffer => tlv(0x02, integerBytes(value));
export const enumerated = (value: number): Buffer => tlv(0x0a, integerBytes(value));
export const octets = (value: string | Buffer): Buffer =>
  tlv(0x04, typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
export const sequence = (...parts: Buffer[]): Buffer => tlv(0x30, parts);
export const set = (...parts: Buffer[]): Buffer => tlv(0x31, parts);

export const PAGED_RESULTS_OID = '1.2.840.113556.1.4.319';

/** LDAPMessage: messageID, protocolOp, and [0] controls if any. */
export function ldapMessage(id: number, operation: Buffer, controls: Buffer[] = []): Buffer {
  const parts = [integer(id), operation];
  if (controls.length > 0) parts.push(tlv(0xa0, controls));
  return sequence(...parts);
}

/** An LDAPResult under the operation's [APPLICATION n] tag. */
export function ldapResult(
  tag: number,
  code: number,
  options: { matchedDn?: string; message?: string; referrals?: string[] } = {},
): Buffer {
  const parts = [enumerated(code), octets(options.matchedDn ?? ''), octets(options.message ?? '')];
  if (options.referrals !== undefined) parts.push(tlv(0xa3, options.referrals.map(octets)));
  return tlv(tag, parts);
}

export const bindResponse = (id: number, code = 0, message = ''): Buffer =>
  ldapMessage(id, ldapResult(0x61, code, { message }));

export type Attributes = Record<string, readonly (string | Buffer)[]>;

export const searchEntry = (id: number, dn: string, attributes: Attributes = {}): Buffer =>
  ldapMessage(
    id,
    tlv(0x64, [
      octets(dn),
      sequence(
        ...Object.entries(attributes).map(([name, values]) =>
          sequence(octets(name), set(...values.map(octets))),
        ),
      ),
    ]),
  );

export const searchReference = (id: number, uris: readonly string[]): Buffer =>
  ldapMessage(id, tlv(0x73, uris.map(octets)));

/** The paged-results control of a response (RFC 2696): size estimate 0 and the cookie. */
export const pagedResultsControl = (cookie: string | Buffer): Buffer =>
  sequence(octets(PAGED_RESULTS_OID), octets(sequence(integer(0), octets(cookie))));

/** SearchResultDone; with `cookie`, the paged-results control that carries it. */
export const searchDone = (
  id: number,
  options: { code?: number; message?: string; cookie?: string | Buffer; referrals?: string[] } = {},
): Buffer =>
  ldapMessage(
    id,
    ldapResult(0x65, options.code ?? 0, options),
    options.cookie === undefined ? [] : [pagedResultsControl(options.cookie)],
  );

/** One decoded BER element: constructed ones (bit 0x20 of the tag) have their children read. */
export interface Element {
  tag: number;
  content: Buffer;
  children: Element[];
}

/**
 * The element at `offset` and the offset after it, or undefined while it is not all there.
 * Throws on what is not BER this module writes.
 */
export function readElement(
  buf: Buffer,
  offset = 0,
): { element: Element; end: number } | undefined {
  if (buf.length - offset < 2) return undefined;
  const tag = buf[offset]!;
  let len = buf[offset + 1]!;
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error(`unsupported BER length form 0x${len.toString(16)}`);
    if (buf.length - pos < n) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos++]!;
  }
  if (buf.length - pos < len) return undefined;
  const content = buf.subarray(pos, pos + len);
  const children: Element[] = [];
  if (tag & 0x20) {
    for (let at = 0; at < content.length;) {
      const child = readElement(content, at);
      if (child === undefined) throw new Error('a constructed element runs past its length');
      children.push(child.element);
      at = child.end;
    }
  }
  return { element: { tag, content, children }, end: pos + len };
}

export function readInteger(element: Element): number {
  let value = element.content[0]! & 0x80 ? -1 : 0;
  for (const byte of element.content) value = value * 256 + byte;
  return value;
}
