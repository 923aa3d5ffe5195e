import { Client, PagedResultsControl, type Entry } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { pageUntilCookieEnds } from '../../../src/directory/ldap/paging.js';

/** A page as the server sends it: entries, and the paged-results cookie for the next one. */
function aPage(dns: string[], cookie: string) {
  return {
    status: 0,
    searchEntries: dns.map((dn) => ({ toObject: (): Entry => ({ dn }) })),
    searchReferences: [],
    controls: [new PagedResultsControl({ value: { size: 2, cookie: Buffer.from(cookie) } })],
  };
}

/** An ldapts client whose wire is replaced by a script of pages. */
function aScriptedClient(pages: ReturnType<typeof aPage>[]): Client {
  const client = new Client({ url: 'ldap://127.0.0.1:1' });
  const internals = client as unknown as {
    _ensureConnected(): Promise<void>;
    _send(): Promise<unknown>;
  };
  internals._ensureConnected = () => Promise.resolve();
  internals._send = () => Promise.resolve(pages.shift());
  return client;
}

async function readAll(client: Client): Promise<string[]> {
  const dns: string[] = [];
  for await (const page of client.searchPaginated('dc=x', { paged: { pageSize: 2 } })) {
    dns.push(...page.searchEntries.map((e) => e.dn));
  }
  return dns;
}

describe('pageUntilCookieEnds', () => {
  // An empty page that still carries a cookie, as AD sends on slow scans.
  const script = (): ReturnType<typeof aPage>[] => [
    aPage(['cn=a', 'cn=b'], 'c1'),
    aPage([], 'c2'),
    aPage(['cn=c'], ''),
  ];

  it('keeps paging past an empty page while the server sends a cookie', async () => {
    const client = aScriptedClient(script());
    pageUntilCookieEnds(client);
    expect(await readAll(client)).toEqual(['cn=a', 'cn=b', 'cn=c']);
  });

  it('is needed: plain ldapts stops at the empty page (if this fails, ldapts fixed it upstream)', async () => {
    expect(await readAll(aScriptedClient(script()))).toEqual(['cn=a', 'cn=b']);
  });

  it('stops when the cookie is empty', async () => {
    const client = aScriptedClient([aPage(['cn=a'], '')]);
    pageUntilCookieEnds(client);
    expect(await readAll(client)).toEqual(['cn=a']);
  });
});
