/** Byte-level helpers for JSON bodies read as they arrive (transport and listing decoder). */

/** The UTF-8 byte order mark, which a body may start with. */
export const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export function hasBom(buf: Buffer): boolean {
  return buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;
}

/** The index of the first byte at or after `from` that is not JSON whitespace. */
export function skipJsonWhitespace(buf: Buffer, from: number): number {
  let i = from;
  while (i < buf.length) {
    const b = buf[i];
    if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) break;
    i++;
  }
  return i;
}
