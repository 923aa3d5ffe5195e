/**
 * The contract between dirsync's LDAP reader and ldapts: a real ldapts Client, through
 * LdapConnection and LdapSource, against an in-process fake LDAP server that answers with canned
 * BER (test/support/fake-ldap.ts). No slapd. If an ldapts release (or a modified node_modules)
 * changes an internal the reader uses, these tests fail with the version message.
 */
import type * as Ldapts from 'ldapts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LdapSourceConfig } from '../../../src/config/source.js';
import { LdapConnection } from '../../../src/directory/ldap/connection.js';
import { LdapSource } from '../../../src/directory/ldap/source.js';
import type { RawEntry } from '../../../src/directory/model.js';
import { DirectoryError } from '../../../src/errors.js';
import {
  pagedScript,
  startFakeLdap,
  type FakeLdap,
  type FakeLdapScript,
} from '../../support/fake-ldap.js';
import { searchDone } from '../../support/ldap-ber.js';

// The real ldapts Client; a test may rename one of its internals right after construction, as
// another ldapts release would have it. Nothing here defines an internal.
const hooks = vi.hoisted(() => ({ onClient: undefined as ((client: object) => void) | undefined }));
vi.mock('ldapts', async (importOriginal) => {
  const real = await importOriginal<typeof Ldapts>();
  class Client extends real.Client {
    constructor(options: ConstructorParameters<typeof real.Client>[0]) {
      super(options);
      hooks.onClient?.(this);
    }
  }
  return { ...real, Client };
});

const servers: FakeLdap[] = [];
afterEach(async () => {
  hooks.onClient = undefined;
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function aServer(script: FakeLdapScript): Promise<FakeLdap> {
  const server = await startFakeLdap(script);
  servers.push(server);
  return server;
}

const BIND_DN = 'cn=reader,dc=example,dc=com';
const BASE = 'ou=People,dc=example,dc=com';

function open(server: FakeLdap): Promise<LdapConnection> {
  return LdapConnection.open({
    urls: [server.url],
    bindDn: BIND_DN,
    bindPassword: 'secret',
    startTls: false,
    tls: { rejectUnauthorized: true },
    allowPlaintextBind: true,
    connectTimeoutMs: 5_000,
    timeoutMs: 10_000,
  });
}

async function readAll(server: FakeLdap, binaryAttributes: string[] = []) {
  const conn = await open(server);
  try {
    const entries = await conn.searchAll(BASE, {
      filter: '(objectClass=inetOrgPerson)',
      attributes: ['cn', 'mail', 'objectGUID'],
      pageSize: 2,
      binaryAttributes,
    });
    return { entries, referencesSkipped: conn.referencesSkipped };
  } finally {
    await conn.close();
  }
}

const dns = (entries: RawEntry[]): string[] => entries.map((e) => e.dn);
const person = (name: string): string => `uid=${name},${BASE}`;
const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

describe('ldapts contract: a real Client through the reader against canned BER', () => {
  it('binds, then reads every page in order, sending each cookie back', async () => {
    const server = await aServer(
      pagedScript([
        { entries: [person('a'), person('b')] },
        { entries: [person('c'), person('d')] },
        { entries: [person('e')] },
      ]),
    );

    const { entries } = await readAll(server);

    expect(dns(entries)).toEqual(['a', 'b', 'c', 'd', 'e'].map(person));
    expect(server.binds.map((b) => b.dn)).toEqual([BIND_DN]);
    expect(server.searches.map((s) => s.paged)).toEqual([
      { size: 2, cookie: '' },
      { size: 2, cookie: 'page-1' },
      { size: 2, cookie: 'page-2' },
    ]);
  });

  it('decodes values: UTF-8 as strings, binary attributes and non-UTF-8 values as Buffers', async () => {
    const server = await aServer(
      pagedScript([
        {
          entries: [
            [
              person('zoe'),
              {
                cn: ['Zoë Ångström'],
                mail: ['zoe@example.com', 'z@example.com'],
                objectGUID: [guid],
                photo: [Buffer.from([0xff, 0xfe, 0x41])],
              },
            ],
          ],
        },
      ]),
    );

    const { entries } = await readAll(server, ['objectGUID']);

    const [zoe] = entries;
    expect(zoe?.attributes.get('cn')).toEqual(['Zoë Ångström']);
    expect(zoe?.attributes.get('mail')).toEqual(['zoe@example.com', 'z@example.com']);
    expect(zoe?.attributes.get('objectguid')).toEqual([guid]);
    expect(zoe?.attributes.get('photo')).toEqual([Buffer.from([0xff, 0xfe, 0x41])]);
  });

  it('frames messages the server writes a few bytes at a time', async () => {
    const pages = [{ entries: [person('a'), person('b')] }, { entries: [person('c')] }];
    const server = await aServer(pagedScript(pages, 7));

    const { entries } = await readAll(server);

    expect(dns(entries)).toEqual(['a', 'b', 'c'].map(person));
  });

  it('goes on past an empty page that still carries a cookie', async () => {
    const server = await aServer(
      pagedScript([
        { entries: [person('a'), person('b')] },
        { entries: [] },
        { entries: [] },
        { entries: [person('c')] },
      ]),
    );

    const { entries } = await readAll(server);

    expect(dns(entries)).toEqual(['a', 'b', 'c'].map(person));
    expect(server.searches).toHaveLength(4);
  });

  it("skips a continuation reference to another partition (AD's DNS zones) and reads the rest", async () => {
    const server = await aServer(
      pagedScript([
        {
          entries: [person('a')],
          references: ['ldap://dc1.example.com/DC=DomainDnsZones,DC=example,DC=com'],
        },
        { entries: [person('b')] },
      ]),
    );

    const { entries, referencesSkipped } = await readAll(server);

    expect(dns(entries)).toEqual(['a', 'b'].map(person));
    expect(referencesSkipped).toBe(1);
  });

  it('fails on a continuation reference to entries the read would miss', async () => {
    const server = await aServer(
      pagedScript([
        {
          entries: [person('a')],
          references: ['ldap://other.example.com/ou=Far,dc=example,dc=com'],
        },
      ]),
    );

    await expect(readAll(server)).rejects.toThrow(
      /continuation reference to ldap:\/\/other\.example\.com\/ou=Far.*would be missing/,
    );
  });

  it('fails with the server and base DN on a refused page (no such object)', async () => {
    const server = await aServer(
      pagedScript([{ entries: [person('a')] }, { end: { code: 32, message: 'gone' } }]),
    );

    const error = await readAll(server).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DirectoryError);
    expect((error as Error).message).toBe(
      `search of ${BASE} on ${server.url}: the base DN does not exist`,
    );
  });

  it('fails on a referral (a result, not a continuation reference): the read is incomplete', async () => {
    const server = await aServer(
      pagedScript([
        { entries: [person('a')] },
        { end: { code: 10, referrals: ['ldap://dc2.example.com/ou=People,dc=example,dc=com'] } },
      ]),
    );

    const error = await readAll(server).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DirectoryError);
    expect((error as Error).message).toBe(
      `search of ${BASE} on ${server.url} answered with a referral, which dirsync does not follow: the read is incomplete`,
    );
  });

  it.each([
    ['after the entries of a page', 'cut'],
    ['by a reset after the entries of a page', 'reset'],
    ['in the middle of an entry', 'cut-mid-entry'],
  ] as const)(
    'fails, never returns part of the read, when the connection is cut %s',
    async (_, end) => {
      const server = await aServer(
        pagedScript([
          { entries: [person('a'), person('b')] },
          { entries: [person('c'), person('d')], end },
        ]),
      );

      const error = await readAll(server).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(DirectoryError);
      expect((error as Error).message).toMatch(
        new RegExp(`^search of ${BASE} on ${server.url} failed: .*: the read is incomplete$`),
      );
      expect(server.searches).toHaveLength(2);
    },
  );

  it('fails on a malformed message, and drops the connection at once (no wait for a timeout)', async () => {
    // A SET where an LDAPMessage SEQUENCE must be.
    const server = await aServer({ search: () => [Buffer.from([0x31, 0x03, 0x02, 0x01, 0x07])] });
    const conn = await open(server);
    const search = () => conn.searchAll(BASE, { filter: '(cn=*)', attributes: ['cn'] });
    try {
      const first = await search().catch((e: unknown) => e);
      const again = await search().catch((e: unknown) => e);

      expect(first).toBeInstanceOf(DirectoryError);
      expect((first as Error).message).toMatch(/malformed LDAP message from the server.*tag 0x31/);
      expect((again as Error).message).toMatch(/Socket connection not established/);
    } finally {
      await conn.close();
    }
  });

  it('fails when the connection is cut before any answer', async () => {
    const server = await aServer({ search: () => ['cut'] });

    await expect(readAll(server)).rejects.toThrow(/failed: .*the read is incomplete/);
  });

  it('LdapSource: a connection cut in the users search fails the read, no smaller snapshot', async () => {
    const users = (names: string[]) =>
      names.map(
        (n) =>
          [
            person(n),
            {
              uid: [n],
              mail: [`${n}@example.com`],
              entryUUID: [`uuid-${n}`],
              givenName: [n],
              sn: [n],
            },
          ] as const,
      );
    const whole = pagedScript([{ entries: users(['a', 'b']) }, { entries: users(['c']) }]);
    const cut = pagedScript([
      { entries: users(['a', 'b']) },
      { entries: users(['c']), end: 'cut' },
    ]);
    const source = (server: FakeLdap) =>
      new LdapSource(
        LdapSourceConfig.parse({
          type: 'ldap',
          flavor: 'openldap',
          urls: [server.url],
          bindDn: BIND_DN,
          allowPlaintextBind: true,
          pageSize: 2,
          users: { baseDns: [BASE] },
        }),
        { bindPassword: 'secret' },
      );

    const complete = await source(await aServer(whole)).read({ groupsOfInterest: [] });
    const failed = source(await aServer(cut)).read({ groupsOfInterest: [] });

    expect(complete.users.map((u) => u.email)).toEqual(
      ['a', 'b', 'c'].map((n) => `${n}@example.com`),
    );
    await expect(failed).rejects.toBeInstanceOf(DirectoryError);
    await expect(failed).rejects.toThrow(/the read is incomplete/);
  });

  it('asks for the next page before the caller has worked on this one', async () => {
    const server = await aServer(
      pagedScript([
        { entries: [person('a')] },
        { entries: [person('b')] },
        { entries: [person('c')] },
      ]),
    );
    const conn = await open(server);
    const seenWhileOnPage: number[] = [];
    try {
      for await (const page of conn.search(BASE, {
        filter: '(cn=*)',
        attributes: ['cn'],
        pageSize: 1,
      })) {
        // The request for the next page is already on its way: wait for the server to see it (a
        // reader that asked only after this loop body would never get here, hence the bound).
        const expected = Math.min(seenWhileOnPage.length + 2, 3);
        await Promise.race([
          server.searchesSeen(expected),
          new Promise((r) => setTimeout(r, 5_000)),
        ]);
        seenWhileOnPage.push(server.searches.length);
        expect(page).toHaveLength(1);
      }
    } finally {
      await conn.close();
    }

    expect(seenWhileOnPage).toEqual([2, 3, 3]);
  });
});

/**
 * Renames `name` on `target`, or on a copy of the prototype that holds it (the shared prototypes
 * stay as they are): what an ldapts release that renamed the internal would look like.
 */
function rename(target: object, name: string): void {
  const descriptor = Object.getOwnPropertyDescriptor(target, name);
  if (descriptor !== undefined) {
    Reflect.deleteProperty(target, name);
    Object.defineProperty(target, `${name}2`, descriptor);
    return;
  }
  const proto = Object.getPrototypeOf(target) as object | null;
  if (proto === null) throw new Error(`${name} is not on the object`);
  const copy = Object.create(
    Object.getPrototypeOf(proto) as object | null,
    Object.getOwnPropertyDescriptors(proto),
  ) as object;
  rename(copy, name);
  Object.setPrototypeOf(target, copy);
}

/** A copy of a message: its prototype and string-keyed fields (no symbol-keyed ones). */
const copyOf = (message: object): object =>
  Object.assign(
    Object.create(Object.getPrototypeOf(message) as object) as object,
    Object.fromEntries(Object.entries(message)),
  );

describe('ldapts contract: an internal the reader needs is renamed', () => {
  const onClient = (name: string) => (client: object) => rename(client, name);
  const onParser = (name: string) => (client: object) =>
    rename((client as { messageParser: object }).messageParser, name);

  it.each([
    ['Client._send', onClient('_send')],
    ['Client._nextMessageId', onClient('_nextMessageId')],
    ['Client._connect', onClient('_connect')],
    ['Client._destroySocket', onClient('_destroySocket')],
    ['Client.messageParser', onClient('messageParser')],
    ['Client.messageDetailsByMessageId', onClient('messageDetailsByMessageId')],
    ['MessageParser.read', onParser('read')],
    [
      'MessageParser._getMessageFromProtocolOperation',
      onParser('_getMessageFromProtocolOperation'),
    ],
  ])(
    '%s: the connection fails with the ldapts version message, before any byte is sent',
    async (name, renamer) => {
      const server = await aServer(pagedScript([{ entries: [person('a')] }]));
      hooks.onClient = renamer;

      const error = await readAll(server).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(DirectoryError);
      expect((error as Error).message).toContain(`${name} is missing`);
      expect((error as Error).message).toMatch(/ldapts 8\.\d+\.\d+ is installed.*dirsync supports/);
      expect((error as DirectoryError).hint).toMatch(/npm ci.*ldapts 8\.2\.0/);
      expect(server.binds).toEqual([]);
    },
  );

  it('a search response that comes back without the lean entries is the version message', async () => {
    // A release whose parser copies each message before the client gets it would lose them.
    const server = await aServer({
      search: (request) => [searchDone(request.messageId, { cookie: '' })],
    });
    hooks.onClient = (client) => {
      const parser = (client as { messageParser: NodeJS.EventEmitter }).messageParser;
      const emit = parser.emit.bind(parser);
      parser.emit = (event: string, message: unknown) =>
        emit(event, event === 'message' ? copyOf(message as object) : message);
    };

    await expect(readAll(server)).rejects.toThrow(
      /without the lean reader's entries.*dirsync supports/,
    );
  });
});
