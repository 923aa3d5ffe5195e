import { Client } from 'ldapts';
import { afterEach, describe, expect, it } from 'vitest';
import { LdaptsSession } from '../../../src/directory/ldap/ldapts-internals.js';
import { pagedSearch, type PagedSearch } from '../../../src/directory/ldap/paging.js';
import {
  pagedScript,
  startFakeLdap,
  type FakeLdap,
  type PageSpec,
} from '../../support/fake-ldap.js';

// A real ldapts client against the in-process fake LDAP server (loopback, port 0, canned BER).

const opened: { server: FakeLdap; client: Client }[] = [];
afterEach(async () => {
  for (const { server, client } of opened.splice(0)) {
    await client.unbind().catch(() => undefined);
    await server.close();
  }
});

async function aSession(pages: PageSpec[]): Promise<{ session: LdaptsSession; server: FakeLdap }> {
  const server = await startFakeLdap(pagedScript(pages));
  const session = LdaptsSession.attach(new Client({ url: server.url }));
  opened.push({ server, client: session.client });
  await session.connect();
  return { session, server };
}

const search: PagedSearch = {
  baseDn: 'dc=x',
  scope: 'sub',
  filter: '(objectClass=*)',
  attributes: ['cn'],
  binaryAttributes: [],
  pageSize: 2,
  timeLimitSeconds: 10,
};

async function readAll(session: LdaptsSession): Promise<string[][]> {
  const pages: string[][] = [];
  for await (const page of pagedSearch(session, search)) pages.push(page.entries.map((e) => e.dn));
  return pages;
}

describe('pagedSearch', () => {
  // An empty page that still carries a cookie, as AD sends on slow scans.
  const withAnEmptyPage: PageSpec[] = [
    { entries: ['cn=a', 'cn=b'] },
    { entries: [] },
    { entries: ['cn=c'] },
  ];

  it('keeps paging past an empty page while the server sends a cookie', async () => {
    const { session } = await aSession(withAnEmptyPage);

    const pages = await readAll(session);

    expect(pages).toEqual([['cn=a', 'cn=b'], [], ['cn=c']]);
  });

  it('is needed: plain ldapts stops at the empty page (if this fails, ldapts fixed it upstream)', async () => {
    const { server } = await aSession(withAnEmptyPage);
    const plain = new Client({ url: server.url });
    opened.push({ server, client: plain });

    const dns: string[] = [];
    for await (const page of plain.searchPaginated('dc=x', { paged: { pageSize: 2 } }))
      dns.push(...page.searchEntries.map((e) => e.dn));

    expect(dns).toEqual(['cn=a', 'cn=b']);
  });

  it('stops when the cookie is empty', async () => {
    const { session, server } = await aSession([{ entries: ['cn=a'] }]);

    expect(await readAll(session)).toEqual([['cn=a']]);
    expect(server.searches).toHaveLength(1);
  });

  it("sends the search and each page's cookie back", async () => {
    const { session, server } = await aSession(withAnEmptyPage);

    await readAll(session);

    expect(server.searches.map((s) => [s.baseDn, s.scope, s.attributes, s.paged])).toEqual([
      ['dc=x', 2, ['cn'], { size: 2, cookie: '' }],
      ['dc=x', 2, ['cn'], { size: 2, cookie: 'page-1' }],
      ['dc=x', 2, ['cn'], { size: 2, cookie: 'page-2' }],
    ]);
  });

  it('fails with the status of a page the server refuses', async () => {
    const { session } = await aSession([{ entries: ['cn=a'] }, { end: { code: 32 } }]);

    await expect(readAll(session)).rejects.toMatchObject({ code: 32 });
  });
});
