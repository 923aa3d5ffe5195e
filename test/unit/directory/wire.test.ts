import { describe, expect, it } from 'vitest';
import type { RawEntry } from '../../../src/directory/model.js';
import { decodeSearchEntry, LdapWireError, LeanReader } from '../../../src/directory/ldap/wire.js';
import {
  bindResponse,
  octets,
  searchDone,
  searchEntry,
  searchReference,
  sequence,
  set,
  tlv,
} from '../../support/ldap-ber.js';

// BER from test/support/ldap-ber.ts, independent of the code under test, so the tests also pin
// the framing.
function entryBody(dn: string, attributes: [string, (string | Buffer)[]][]): Buffer {
  return Buffer.concat([
    octets(dn),
    sequence(...attributes.map(([name, vals]) => sequence(octets(name), set(...vals.map(octets))))),
  ]);
}

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

/** A lean reader fed bytes directly; what it hands on is recorded. */
function aReader(options: { failing?: number } = {}) {
  const messages: { messageId: number; bytes: Buffer; entries: RawEntry[] | undefined }[] = [];
  const broken: LdapWireError[] = [];
  const reader = new LeanReader({
    binaryAttributes: (messageId) => (messageId === 7 ? ['objectGUID'] : []),
    message: (buf, start, end, messageId, entries) => {
      messages.push({ messageId, bytes: Buffer.from(buf.subarray(start, end)), entries });
      // `failing`: a message (not the final one) that fails its search, as a bad reference would.
      return !(messageId === options.failing && entries === undefined);
    },
    broken: (error) => broken.push(error),
  });
  return { feed: (data: Buffer) => reader.read(data), messages, broken };
}

const dnsOf = (m: { entries: RawEntry[] | undefined }): string[] | undefined =>
  m.entries?.map((e) => e.dn);

describe('LeanReader', () => {
  const stream = Buffer.concat([
    searchEntry(7, 'cn=a,dc=x', { objectGUID: [guid], cn: ['a'] }),
    searchEntry(7, 'cn=b,dc=x', { cn: ['b'] }),
    searchDone(7),
  ]);

  it('hands the entries of a page over with its SearchResultDone, whatever the chunking', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const r = aReader();
      r.feed(stream.subarray(0, cut));
      r.feed(stream.subarray(cut));
      expect(r.messages).toHaveLength(1);
      expect(r.messages[0]?.messageId).toBe(7);
      expect(r.messages[0]?.bytes).toEqual(searchDone(7));
      expect(dnsOf(r.messages[0]!)).toEqual(['cn=a,dc=x', 'cn=b,dc=x']);
      const first = r.messages[0]!.entries![0]!;
      expect(Buffer.isBuffer(first.attributes.get('objectguid')![0])).toBe(true);
      expect(r.broken).toEqual([]);
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

  it('hands every other message on as it came, without entries', () => {
    const r = aReader();
    r.feed(Buffer.concat([bindResponse(1), searchDone(2)]));
    expect(r.messages).toEqual([
      { messageId: 1, bytes: bindResponse(1), entries: undefined },
      { messageId: 2, bytes: searchDone(2), entries: [] },
    ]);
  });

  it('drops the entries of a search whose message failed its request', () => {
    const page = [
      searchEntry(7, 'cn=a,dc=x'),
      searchReference(7, ['ldap://elsewhere/dc=y']),
      searchDone(7),
    ];
    const ok = aReader();
    const failing = aReader({ failing: 7 });
    ok.feed(Buffer.concat(page));
    failing.feed(Buffer.concat(page));
    expect(ok.messages.map(dnsOf)).toEqual([undefined, ['cn=a,dc=x']]);
    expect(failing.messages.map(dnsOf)).toEqual([undefined, []]);
  });

  it('refuses a message whose length is larger than it accepts, without waiting for its bytes', () => {
    const r = aReader();
    // SEQUENCE with a 4-byte length of 2 GiB: nothing should be buffered toward it.
    r.feed(Buffer.from([0x30, 0x84, 0x80, 0x00, 0x00, 0x00, 0x02, 0x01, 0x07]));
    expect(r.broken).toHaveLength(1);
    expect(r.broken[0]?.message).toMatch(/message of 2147483648 bytes is larger/);
  });

  it('reports a malformed message once, naming the problem, and trusts nothing after it', () => {
    const r = aReader();
    r.feed(Buffer.from([0x31, 0x03, 0x02, 0x01, 0x07]));
    expect(r.broken).toHaveLength(1);
    expect(r.broken[0]).toBeInstanceOf(LdapWireError);
    expect(r.broken[0]?.message).toMatch(/malformed LDAP message.*tag 0x31/);
    r.feed(stream);
    expect(r.messages).toHaveLength(0);
    expect(r.broken).toHaveLength(1);
  });

  it('refuses a message without an operation', () => {
    const r = aReader();
    r.feed(Buffer.concat([sequence(tlv(0x02, Buffer.from([7]))), searchDone(7)]));
    expect(r.broken[0]?.message).toMatch(/message without an operation/);
    expect(r.messages).toHaveLength(0);
  });
});
