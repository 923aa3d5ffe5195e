import { Client, PagedResultsControl, type SearchRequest } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { pagedSearch, type PagedSearch } from '../../../src/directory/ldap/paging.js';
import { LEAN_ENTRIES } from '../../../src/directory/ldap/wire.js';

/** A page as the server sends it: entries, and the paged-results cookie for the next one. */
function aPage(dns: string[], cookie: string, status = 0) {
  return {
    status,
    errorMessage: status === 0 ? '' : 'no such object',
    // As the lean reader hands them over, and as plain ldapts does.
    [LEAN_ENTRIES]: dns.map((dn) => ({ dn, attributes: new Map() })),
    searchEntries: dns.map((dn) => ({ toObject: () => ({ dn }) })),
    searchReferences: [],
    controls: [new PagedResultsControl({ value: { size: 2, cookie: Buffer.from(cookie) } })],
  };
}

/** An ldapts client whose wire is replaced by a script of pages; `sent` logs each request. */
function aScriptedClient(pages: ReturnType<typeof aPage>[]) {
  const client = new Client({ url: 'ldap://127.0.0.1:1' });
  const sent: { cookie: string; at: number }[] = [];
  let consumed = 0;
  const internals = client as unknown as {
    _ensureConnected(): Promise<void>;
    _send(request: SearchRequest): Promise<unknown>;
  };
  internals._ensureConnected = () => Promise.resolve();
  internals._send = (request) => {
    const control = request.controls?.[0] as PagedResultsControl;
    sent.push({ cookie: control.value?.cookie?.toString() ?? '', at: consumed });
    return Promise.resolve(pages.shift());
  };
  return { client, sent, consumedOne: () => consumed++ };
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

async function readAll(scripted: ReturnType<typeof aScriptedClient>): Promise<string[]> {
  const dns: string[] = [];
  for await (const page of pagedSearch(scripted.client, search)) {
    dns.push(...page.entries.map((e) => e.dn));
    scripted.consumedOne();
  }
  return dns;
}

describe('pagedSearch', () => {
  // An empty page that still carries a cookie, as AD sends on slow scans.
  const script = (): ReturnType<typeof aPage>[] => [
    aPage(['cn=a', 'cn=b'], 'c1'),
    aPage([], 'c2'),
    aPage(['cn=c'], ''),
  ];

  it('keeps paging past an empty page while the server sends a cookie', async () => {
    expect(await readAll(aScriptedClient(script()))).toEqual(['cn=a', 'cn=b', 'cn=c']);
  });

  it('is needed: plain ldapts stops at the empty page (if this fails, ldapts fixed it upstream)', async () => {
    const { client } = aScriptedClient(script());
    const dns: string[] = [];
    for await (const page of client.searchPaginated('dc=x', { paged: { pageSize: 2 } }))
      dns.push(...page.searchEntries.map((e) => e.dn));
    expect(dns).toEqual(['cn=a', 'cn=b']);
  });

  it('stops when the cookie is empty', async () => {
    expect(await readAll(aScriptedClient([aPage(['cn=a'], '')]))).toEqual(['cn=a']);
  });

  it("sends each page's cookie back, and asks for the next page before the caller works on this one", async () => {
    const scripted = aScriptedClient(script());
    await readAll(scripted);
    // `at`: how many pages the caller had finished when the request went out.
    expect(scripted.sent).toEqual([
      { cookie: '', at: 0 },
      { cookie: 'c1', at: 0 },
      { cookie: 'c2', at: 1 },
    ]);
  });

  it('refuses a client without the lean reader rather than read entries it cannot see', async () => {
    const plain: Partial<ReturnType<typeof aPage>> = aPage(['cn=a'], '');
    delete plain[LEAN_ENTRIES];
    await expect(readAll(aScriptedClient([plain as ReturnType<typeof aPage>]))).rejects.toThrow(
      /lean LDAP reader is not installed/,
    );
  });

  it('fails with the status of a page the server refuses', async () => {
    const scripted = aScriptedClient([aPage(['cn=a'], 'c1'), aPage([], '', 32)]);
    await expect(readAll(scripted)).rejects.toMatchObject({ code: 32 });
  });
});
