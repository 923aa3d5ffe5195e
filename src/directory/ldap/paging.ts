import {
  FilterParser,
  MessageResponseStatus,
  PagedResultsControl,
  SearchRequest,
  StatusCodeParser,
  type Client,
} from 'ldapts';
import type { RawEntry } from '../model.js';
import { LEAN_ENTRIES, type WithLeanEntries } from './wire.js';

/** The parts of an ldapts search response a page step reads. */
interface SearchResponseLike extends WithLeanEntries {
  status: number;
  errorMessage?: string;
  searchEntries: unknown[];
  searchReferences: { uris: string[] }[];
  controls?: unknown[];
}

interface ClientInternals {
  _send(request: SearchRequest): Promise<SearchResponseLike | undefined>;
  _nextMessageId(): number;
}

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
 * Built on ldapts' request encoding and `_send` (checked against ldapts 8.2; the lockfile pins
 * the version). Entries come decoded by the lean reader ({@link LEAN_ENTRIES}): the client must
 * have it installed.
 */
export async function* pagedSearch(client: Client, search: PagedSearch): AsyncGenerator<Page> {
  const internals = client as unknown as ClientInternals;
  const filter = FilterParser.parseString(search.filter);
  const send = async (cookie: Buffer | undefined): Promise<SearchResponseLike | undefined> => {
    const request = new SearchRequest({
      messageId: internals._nextMessageId(),
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
    return internals._send(request);
  };

  let pending: Promise<SearchResponseLike | undefined> | undefined = send(undefined);
  while (pending !== undefined) {
    const result = await pending;
    pending = undefined;
    if (result?.status !== MessageResponseStatus.Success) {
      throw StatusCodeParser.parse(result as Parameters<typeof StatusCodeParser.parse>[0]);
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
    if (entries === undefined)
      throw new Error('the lean LDAP reader is not installed on this client (installLeanReader)');
    yield {
      entries,
      references: result.searchReferences.flatMap((r) => r.uris),
    };
  }
}
