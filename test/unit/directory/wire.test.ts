import { Client, SearchResponse } from 'ldapts';
import { describe, expect, it } from 'vitest';
import type { RawEntry } from '../../../src/directory/model.js';
import {
  decodeSearchEntry,
  installLeanReader,
  LdapWireError,
  LEAN_ENTRIES,
  type WithLeanEntries,
} from '../../../src/directory/ldap/wire.js';

// A small BER encoder, independent of the code under test, so the tests also pin the framing.
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let header: number[];
  if (n < 0x80) header = [tag, n];
  else if (n < 0x100) header = [tag, 0x81, n];
  else if (n < 0x10000) header = [tag, 0x82, n >> 8, n & 0xff];
  else header = [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from(header), content]);
}
const octets = (v: string | Buffer): Buffer =>
  tlv(0x04, typeof v === 'string' ? Buffer.from(v, 'utf8') : v);
const int = (v: number): Buffer => tlv(0x02, Buffer.from([v]));
const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));

function entryBody(dn: string, attributes: [string, (string | Buffer)[]][]): Buffer {
  return Buffer.concat([
    octets(dn),
    seq(
      ...attributes.map(([name, vals]) =>
        seq(octets(name), tlv(0x31, Buffer.concat(vals.map(octets)))),
      ),
    ),
  ]);
}
const entryMessage = (id: number, dn: string, attributes: [string, (string | Buffer)[]][]) =>
  seq(int(id), tlv(0x64, entryBody(dn, attributes)));
/** SearchResultDone: resultCode success, matchedDN '', diagnosticMessage ''. */
const doneMessage = (id: number) =>
  seq(int(id), tlv(0x65, Buffer.concat([tlv(0x0a, Buffer.from([0])), octets(''), octets('')])));

const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const notUtf8 = Buffer.from([0xff, 0xfe, 0x41]);

describe('decodeSearchEntry', () => {
  it('decodes the DN and every attribute, names lower-cased, values as strings', () => {
    const body = entryBody('uid=Zoë,ou=People,dc=x', [
      ['mail', ['zoe@x.com']],
      ['givenName', ['Zoë']],
      ['memberOf', ['cn=a,dc=x', 'cn=b,dc=x']],
      ['empty', []],
    ]);
    const entry = decodeSearchEntry(body, 0, body.length, new Set());
    expect(entry.dn).toBe('uid=Zoë,ou=People,dc=x');
    expect([...entry.attributes]).toEqual([
      ['mail', ['zoe@x.com']],
      ['givenname', ['Zoë']],
      ['memberof', ['cn=a,dc=x', 'cn=b,dc=x']],
      ['empty', []],
    ]);
  });

  it('keeps the named binary attributes and values that are not UTF-8 as Buffers (copies)', () => {
    const body = entryBody('cn=x', [
      ['objectGUID', [guid]],
      ['photo', [notUtf8]],
    ]);
    const entry = decodeSearchEntry(body, 0, body.length, new Set(['objectguid']));
    const [id] = entry.attributes.get('objectguid')!;
    const [photo] = entry.attributes.get('photo')!;
    expect(Buffer.isBuffer(id) && id.equals(guid)).toBe(true);
    expect(Buffer.isBuffer(photo) && photo.equals(notUtf8)).toBe(true);
    body.fill(0);
    expect((id as Buffer).equals(guid)).toBe(true);
  });

  it('reads long-form lengths (a value and an entry over 64 KiB)', () => {
    const big = 'm'.repeat(70_000);
    const body = entryBody('cn=big', [['member', [big, 'cn=small']]]);
    const entry = decodeSearchEntry(body, 0, body.length, new Set());
    expect(entry.attributes.get('member')).toEqual([big, 'cn=small']);
  });

  it('refuses an element that runs past its message', () => {
    const body = entryBody('cn=x', [['mail', ['a@x.com']]]);
    expect(() => decodeSearchEntry(body, 0, body.length - 3, new Set())).toThrow(LdapWireError);
  });
});

/** A client with the lean reader, fed bytes directly; what it hands to ldapts is recorded. */
function aReader() {
  const client = new Client({ url: 'ldap://127.0.0.1:1' });
  installLeanReader(client);
  const parser = (
    client as unknown as {
      messageParser: NodeJS.EventEmitter & {
        read(data: Buffer, details: Map<string, unknown>): void;
      };
    }
  ).messageParser;
  parser.removeAllListeners('message');
  parser.removeAllListeners('error');
  const messages: unknown[] = [];
  const rejected: unknown[] = [];
  parser.on('message', (m: unknown) => messages.push(m));
  const details = new Map<string, unknown>([
    [
      '7',
      {
        message: { explicitBufferAttributes: ['objectGUID'] },
        reject: (e: unknown) => rejected.push(e),
      },
    ],
  ]);
  return { feed: (data: Buffer) => parser.read(data, details), messages, rejected, details };
}

const dnsOf = (m: unknown): string[] =>
  ((m as WithLeanEntries)[LEAN_ENTRIES] ?? []).map((e: RawEntry) => e.dn);

describe('installLeanReader', () => {
  const stream = Buffer.concat([
    entryMessage(7, 'cn=a,dc=x', [
      ['objectGUID', [guid]],
      ['cn', ['a']],
    ]),
    entryMessage(7, 'cn=b,dc=x', [['cn', ['b']]]),
    doneMessage(7),
  ]);

  it('hands the entries of a page over with its SearchResultDone, whatever the chunking', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const r = aReader();
      r.feed(stream.subarray(0, cut));
      r.feed(stream.subarray(cut));
      expect(r.messages).toHaveLength(1);
      expect(r.messages[0]).toBeInstanceOf(SearchResponse);
      expect(dnsOf(r.messages[0])).toEqual(['cn=a,dc=x', 'cn=b,dc=x']);
      const first = (r.messages[0] as WithLeanEntries)[LEAN_ENTRIES]![0]!;
      expect(Buffer.isBuffer(first.attributes.get('objectguid')![0])).toBe(true);
    }
  });

  it('frames a message split over many small chunks, and several messages in one chunk', () => {
    const r = aReader();
    const twice = Buffer.concat([stream, stream]);
    for (let i = 0; i < twice.length; i += 3) r.feed(twice.subarray(i, i + 3));
    expect(r.messages.map(dnsOf)).toEqual([
      ['cn=a,dc=x', 'cn=b,dc=x'],
      ['cn=a,dc=x', 'cn=b,dc=x'],
    ]);
  });

  it('refuses a message whose length is larger than it accepts, without waiting for its bytes', () => {
    const r = aReader();
    // SEQUENCE with a 4-byte length of 2 GiB: nothing should be buffered toward it.
    r.feed(Buffer.from([0x30, 0x84, 0x80, 0x00, 0x00, 0x00, 0x02, 0x01, 0x07]));
    expect(r.rejected).toHaveLength(1);
    expect((r.rejected[0] as Error).message).toMatch(/message of 2147483648 bytes is larger/);
  });

  it('fails every pending request, naming the problem, when a message is malformed', () => {
    const r = aReader();
    r.feed(Buffer.from([0x31, 0x03, 0x02, 0x01, 0x07]));
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0]).toBeInstanceOf(LdapWireError);
    expect((r.rejected[0] as Error).message).toMatch(/malformed LDAP message.*tag 0x31/);
    expect(r.details.size).toBe(0);
    // Nothing after a malformed message is trusted.
    r.feed(stream);
    expect(r.messages).toHaveLength(0);
  });
});
