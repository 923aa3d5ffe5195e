import {
  MessageResponseStatus,
  PagedResultsControl,
  StatusCodeParser,
  type Client,
  type Entry,
} from 'ldapts';

/** The parts of an ldapts search response the page step reads. */
interface SearchResponseLike {
  status: number;
  searchEntries: { toObject(attributes: string[], buffers: string[]): Entry }[];
  searchReferences: { uris: string[] }[];
  controls?: unknown[];
}

interface SearchRequestLike {
  messageId: number;
  sizeLimit?: number;
  attributes: string[];
  explicitBufferAttributes: string[];
}

interface ClientInternals {
  _send(request: SearchRequestLike): Promise<SearchResponseLike | undefined>;
  _nextMessageId(): number;
  _sendSearch: unknown;
}

/**
 * ldapts 8 stops paging when a page holds no entry and no reference, even if the server sent a
 * cookie for more: Active Directory does send such empty pages on slow scans, and the read would
 * end short without an error. This gives one client the same page step minus that condition:
 * paging goes on while the server returns a cookie. (Checked against ldapts 8.2's
 * `Client._sendSearch`; the lockfile pins the version.)
 */
export function pageUntilCookieEnds(client: Client): void {
  const internals = client as unknown as ClientInternals;
  internals._sendSearch = async function sendSearch(
    this: ClientInternals,
    searchRequest: SearchRequestLike,
    searchResult: { searchEntries: Entry[]; searchReferences: string[] },
    paged: boolean,
    pageSize: number,
    pagedResultsControl: PagedResultsControl | undefined,
    fetchAll = true,
  ): Promise<PagedResultsControl | undefined> {
    searchRequest.messageId = this._nextMessageId();
    const result = await this._send(searchRequest);
    if (
      result?.status !== MessageResponseStatus.Success &&
      !(result?.status === MessageResponseStatus.SizeLimitExceeded && searchRequest.sizeLimit)
    ) {
      throw StatusCodeParser.parse(result as Parameters<typeof StatusCodeParser.parse>[0]);
    }
    for (const entry of result.searchEntries) {
      searchResult.searchEntries.push(
        entry.toObject(searchRequest.attributes, searchRequest.explicitBufferAttributes),
      );
    }
    for (const reference of result.searchReferences)
      searchResult.searchReferences.push(...reference.uris);
    if (paged && pagedResultsControl !== undefined) {
      const response = (result.controls ?? []).find(
        (c): c is PagedResultsControl => c instanceof PagedResultsControl,
      );
      const cookie = response?.value?.cookie;
      if (cookie !== undefined && cookie.length > 0) {
        pagedResultsControl.value = pagedResultsControl.value ?? { size: pageSize };
        pagedResultsControl.value.cookie = cookie;
        if (fetchAll)
          return sendSearch.call(
            this,
            searchRequest,
            searchResult,
            paged,
            pageSize,
            pagedResultsControl,
            true,
          );
        return pagedResultsControl;
      }
    }
    return undefined;
  };
}
