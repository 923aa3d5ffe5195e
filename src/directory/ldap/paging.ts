import {
  FilterParser,
  MessageResponseStatus,
  PagedResultsControl,
  SearchRequest,
  StatusCodeParser,
} from 'ldapts';
import type { RawEntry } from '../model.js';
import {
  unsupportedLdapts,
  type LdaptsSession,
  type LeanSearchResponse,
} from './ldapts-internals.js';
import { LEAN_ENTRIES } from './wire.js';

export interface PagedSearch {
  baseDn: string;
  scope: 'base' | 'one' | 'sub';
  filter: string;
  attributes: string[];
  /** Attribute names whose values stay Buffers (AD objectGUID). */
  binaryAttributes: string[];
  pageSize: number;
  /** Server-side time limit of each page, seconds. */
  timeLimitSeconds: number;
}

export interface Page {
  entries: RawEntry[];
  references: string[];
}

/**
 * A paged search (RFC 2696) to the end, a page at a time.
 *
 * Two things differ from ldapts' own `searchPaginated`:
 * - Paging goes on while the server returns a cookie, even after a page with no entry and no
 *   reference. ldapts 8 stops at such a page, and Active Directory sends them on slow scans:
 *   the read would end short without an error.
 * - The next page is asked for as soon as a page arrives, before the caller works on it, so the
 *   server reads page n+1 while dirsync maps page n. Still one request in flight at a time.
 *
 * Built on ldapts' request encoding and its sender, through the adapter that checks them
 * ({@link LdaptsSession}). Entries come decoded by the lean reader ({@link LEAN_ENTRIES}).
 */
export async function* pagedSearch(
  session: LdaptsSession,
  search: PagedSearch,
): AsyncGenerator<Page> {
  const filter = FilterParser.parseString(search.filter);
  const send = async (cookie: Buffer | undefined): Promise<LeanSearchResponse | undefined> => {
    const request = new SearchRequest({
      messageId: session.nextMessageId(),
      baseDN: search.baseDn,
      scope: search.scope,
      filter,
      attributes: search.attributes,
      explicitBufferAttributes: search.binaryAttributes,
      timeLimit: search.timeLimitSeconds,
      controls: [
        new PagedResultsControl({
          value:
            cookie === undefined ? { size: search.pageSize } : { size: search.pageSize, cookie },
        }),
      ],
    });
    return session.send(request);
  };

  let pending: Promise<LeanSearchResponse | undefined> | undefined = send(undefined);
  while (pending !== undefined) {
    const result = await pending;
    pending = undefined;
    if (result?.status !== MessageResponseStatus.Success) {
      throw StatusCodeParser.parse(result);
    }
    const response = (result.controls ?? []).find(
      (c): c is PagedResultsControl => c instanceof PagedResultsControl,
    );
    const cookie = response?.value?.cookie;
    if (cookie !== undefined && cookie.length > 0) {
      pending = send(cookie);
      // Observed on the next turn; if the caller stops first, the rejection is not unhandled.
      pending.catch(() => undefined);
    }
    const entries = result[LEAN_ENTRIES];
    // The reader puts them on the response ldapts emits: a response without them means ldapts
    // passed on another object than the one it was handed, and the page's entries are lost.
    if (entries === undefined)
      throw unsupportedLdapts(["a search response came back without the lean reader's entries"]);
    yield {
      entries,
      references: result.searchReferences.flatMap((r) => r.uris),
    };
  }
}
