/**
 * An in-process fake LDAP server on loopback (port 0) that answers with canned BER: binds
 * succeed, searches are answered by a script. Enough for a real ldapts Client and dirsync's
 * reader to run against, without slapd.
 */
import { createServer, type Server, type Socket } from 'node:net';
import {
  bindResponse,
  PAGED_RESULTS_OID,
  readElement,
  readInteger,
  searchDone,
  searchEntry,
  searchReference,
  type Attributes,
  type Element,
} from './ldap-ber.js';

export interface SearchSeen {
  messageId: number;
  baseDn: string;
  /** 0 base, 1 one level, 2 subtree. */
  scope: number;
  attributes: string[];
  /** The paged-results control's size and cookie (utf8), if the request carried one. */
  paged: { size: number; cookie: string } | undefined;
}

export interface BindSeen {
  messageId: number;
  dn: string;
}

/**
 * What the server sends: messages, `cut` (the connection is closed), `reset` (a TCP reset once
 * what was written is out), or a pause.
 */
export type Reply = (Buffer | 'cut' | 'reset' | Promise<void>)[];

export interface FakeLdapScript {
  search(request: SearchSeen): Reply;
  /** Writes each reply in chunks of this many bytes (the client frames them back together). */
  chunkSize?: number;
}

export interface FakeLdap {
  url: string;
  binds: BindSeen[];
  searches: SearchSeen[];
  /** Resolves once the server has seen `count` search requests. */
  searchesSeen(count: number): Promise<void>;
  close(): Promise<void>;
}

const text = (element: Element | undefined): string => element?.content.toString('utf8') ?? '';

function parseSearch(messageId: number, op: Element, controls: Element | undefined): SearchSeen {
  const [base, scope, , , , , , attributes] = op.children;
  let paged: SearchSeen['paged'];
  for (const control of controls?.children ?? []) {
    const [oid, ...rest] = control.children;
    if (text(oid) !== PAGED_RESULTS_OID) continue;
    const value = rest.find((e) => e.tag === 0x04);
    const parsed = value === undefined ? undefined : readElement(value.content)?.element;
    const [size, cookie] = parsed?.children ?? [];
    paged = { size: size === undefined ? 0 : readInteger(size), cookie: text(cookie) };
  }
  return {
    messageId,
    baseDn: text(base),
    scope: scope === undefined ? -1 : readInteger(scope),
    attributes: (attributes?.children ?? []).map(text),
    paged,
  };
}

export async function startFakeLdap(script: FakeLdapScript): Promise<FakeLdap> {
  const binds: BindSeen[] = [];
  const searches: SearchSeen[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const sockets = new Set<Socket>();

  const send = async (socket: Socket, reply: Reply): Promise<void> => {
    for (const part of reply) {
      if (socket.destroyed) return;
      if (part === 'cut') {
        // What was written goes out first, then the server goes away without a SearchResultDone.
        socket.end(() => socket.destroy());
        return;
      }
      if (part === 'reset') {
        await new Promise<void>((resolve) => socket.write(Buffer.alloc(0), () => resolve()));
        socket.resetAndDestroy();
        return;
      }
      if (!Buffer.isBuffer(part)) {
        await part;
        continue;
      }
      const size = script.chunkSize ?? part.length;
      for (let at = 0; at < part.length; at += size) socket.write(part.subarray(at, at + size));
    }
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    // Replies go out in request order, each after the one before it.
    let queue = Promise.resolve();
    socket.on('data', (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      for (;;) {
        const read = readElement(pending);
        if (read === undefined) break;
        pending = pending.subarray(read.end);
        const [id, op, controls] = read.element.children;
        if (id === undefined || op === undefined) continue;
        const messageId = readInteger(id);
        let reply: Reply = [];
        if (op.tag === 0x60) {
          binds.push({ messageId, dn: text(op.children[1]) });
          reply = [bindResponse(messageId)];
        } else if (op.tag === 0x63) {
          const request = parseSearch(messageId, op, controls);
          searches.push(request);
          for (const w of waiters) if (searches.length >= w.count) w.resolve();
          reply = script.search(request);
        } else if (op.tag === 0x42) {
          socket.end();
          continue;
        }
        queue = queue.then(() => send(socket, reply));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');

  return {
    url: `ldap://127.0.0.1:${address.port}`,
    binds,
    searches,
    searchesSeen: (count) =>
      searches.length >= count
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ count, resolve })),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One page of a paged search as the server answers it. */
export interface PageSpec {
  /** Entry DNs (with a `cn`), or DNs with their attributes. */
  entries?: readonly (string | readonly [string, Attributes])[];
  /** Search continuation references (SearchResultReference), sent after the entries. */
  references?: readonly string[];
  /**
   * How the page ends: `done` (default: a SearchResultDone with the next page's cookie, empty on
   * the last page), a failing result code, or the connection cut (closed, or reset) after the
   * entries, or closed in the middle of the last entry.
   */
  end?:
    | 'done'
    | { code: number; message?: string; referrals?: string[] }
    | 'cut'
    | 'reset'
    | 'cut-mid-entry';
}

/**
 * A script that answers a paged search page by page. Page i+1 is given for the cookie `page-i+1`
 * the server sent with page i; any other cookie is refused (so a client that does not send the
 * cookie back fails visibly).
 */
export function pagedScript(pages: readonly PageSpec[], chunkSize?: number): FakeLdapScript {
  return {
    ...(chunkSize === undefined ? {} : { chunkSize }),
    search(request) {
      const id = request.messageId;
      const cookie = request.paged?.cookie ?? '';
      const index = cookie === '' ? 0 : Number(/^page-(\d+)$/.exec(cookie)?.[1] ?? NaN);
      const page = pages[index];
      if (page === undefined)
        return [searchDone(id, { code: 53, message: `unknown paged results cookie ${cookie}` })];
      const entries = (page.entries ?? []).map((e) => {
        const [dn, attributes] = typeof e === 'string' ? [e, undefined] : e;
        return searchEntry(id, dn, attributes ?? { cn: [/^[^=]*=([^,]*)/.exec(dn)?.[1] ?? dn] });
      });
      const references = (page.references ?? []).map((uri) => searchReference(id, [uri]));
      const end = page.end ?? 'done';
      if (end === 'cut' || end === 'reset') return [...entries, ...references, end];
      if (end === 'cut-mid-entry') {
        const last = entries.pop() ?? searchEntry(id, 'cn=cut');
        return [...entries, last.subarray(0, Math.ceil(last.length / 2)), 'cut'];
      }
      const done =
        end === 'done'
          ? searchDone(id, { cookie: index + 1 < pages.length ? `page-${index + 1}` : '' })
          : searchDone(id, { ...end, message: end.message ?? '', cookie: '' });
      return [...entries, ...references, done];
    },
  };
}
