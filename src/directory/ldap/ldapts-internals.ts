import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { BerReader, type Client, type SearchRequest, type SearchResponse } from 'ldapts';
import { DirectoryError } from '../../errors.js';
import { LdapWireError, LEAN_ENTRIES, LeanReader, type WithLeanEntries } from './wire.js';

/**
 * The one place dirsync touches ldapts' private internals.
 *
 * The lean reader (wire.ts) and the pipelined paged search (paging.ts) need what ldapts does not
 * export: its message framing, its request sender and message ids, a connect without a bind,
 * and its socket teardown. They are checked here, when a client is taken into use, against the
 * shapes of the ldapts version package.json pins; anything else fails with a DirectoryError that
 * names the installed version, instead of surfacing later as a network failure or an empty read.
 */

/** The ldapts version these internals were written and tested against: package.json pins it. */
export const SUPPORTED_LDAPTS_VERSION = '8.2.0';

/** A request waiting for its response, as ldapts keeps it in `messageDetailsByMessageId`. */
interface PendingRequest {
  message?: { explicitBufferAttributes?: string[] };
  reject(error: unknown): void;
}

interface ParserInternals {
  read(data: Buffer, details: Map<string, PendingRequest>): void;
  emit(event: 'message' | 'error', payload: unknown): boolean;
  listenerCount(event: string): number;
  _getMessageFromProtocolOperation(
    messageId: number,
    protocolOperation: number,
    reader: BerReader,
    request: unknown,
  ): unknown;
}

interface ClientInternals {
  messageParser: ParserInternals;
  messageDetailsByMessageId: Map<string, PendingRequest>;
  socket?: Socket;
  _connect(): Promise<void> | void;
  _send(request: SearchRequest): Promise<SearchResponse | undefined>;
  _nextMessageId(): number;
  _destroySocket(socket?: Socket): void;
}

/** A search's final response, with the entries the lean reader decoded for it. */
export type LeanSearchResponse = SearchResponse & WithLeanEntries;

/** Methods dirsync calls, with their ldapts 8.2 arity (a changed signature is a changed method). */
const CLIENT_METHODS = [
  ['_connect', 0],
  ['_send', 1],
  ['_nextMessageId', 0],
  ['_destroySocket', 1],
] as const;
const PARSER_METHODS = [
  ['read', 2],
  ['_getMessageFromProtocolOperation', 4],
] as const;

/** What differs from the expected shape, one phrase per internal; empty when all is as expected. */
export function internalsProblems(client: Client): string[] {
  const c = client as unknown as Record<string, unknown>;
  const problems: string[] = [];
  const method = (owner: string, value: unknown, name: string, arity: number): void => {
    if (typeof value !== 'function') problems.push(`${owner}.${name} is missing`);
    else if (value.length !== arity)
      problems.push(`${owner}.${name} takes ${value.length} arguments, not ${arity}`);
  };
  for (const [name, arity] of CLIENT_METHODS) method('Client', c[name], name, arity);
  if (!(c.messageDetailsByMessageId instanceof Map))
    problems.push('Client.messageDetailsByMessageId is missing or not a Map');
  const parser = c.messageParser;
  // An EventEmitter whose events the client listens to (ldapts' MessageParser).
  if (!(parser instanceof EventEmitter)) {
    problems.push('Client.messageParser is missing or not an event emitter');
  } else {
    const p = parser as unknown as Record<string, unknown>;
    for (const [name, arity] of PARSER_METHODS) method('MessageParser', p[name], name, arity);
    // The client takes parsed messages from its parser's events: without listeners, no response
    // would ever reach a pending request.
    for (const event of ['message', 'error'])
      if (parser.listenerCount(event) === 0)
        problems.push(`the client does not listen to its parser's '${event}' events`);
  }
  return problems;
}

/** The error for internals that are not what dirsync expects: names the versions found and supported. */
export function unsupportedLdapts(problems: readonly string[]): DirectoryError {
  const found = installedLdaptsVersion();
  const what = `the ldapts internals dirsync's LDAP reader uses are not as expected (${problems.join('; ')})`;
  if (found === SUPPORTED_LDAPTS_VERSION) {
    return new DirectoryError(
      `${what}: ldapts ${found} is installed, the version dirsync supports, but its files differ from the published ${found}`,
      {
        hint: `reinstall dirsync's dependencies with npm ci (node_modules/ldapts was modified or patched); dirsync supports ldapts ${SUPPORTED_LDAPTS_VERSION}, which package.json pins`,
      },
    );
  }
  return new DirectoryError(
    `${what}: ldapts ${found ?? '(version unknown)'} is installed; dirsync supports ldapts ${SUPPORTED_LDAPTS_VERSION} only`,
    {
      hint: `reinstall dirsync's dependencies with npm ci, which installs the ldapts ${SUPPORTED_LDAPTS_VERSION} that package.json pins; do not upgrade ldapts on its own (a dirsync release moves the pin)`,
    },
  );
}

let versionRead: { version: string | undefined } | undefined;

/** The version of the ldapts that `import 'ldapts'` loads, from its package.json; undefined if unknown. */
export function installedLdaptsVersion(): string | undefined {
  versionRead ??= { version: readLdaptsVersion() };
  return versionRead.version;
}

function readLdaptsVersion(): string | undefined {
  let dir: string;
  try {
    // ldapts' exports do not include ./package.json: find it above its entry point.
    dir = dirname(createRequire(import.meta.url).resolve('ldapts'));
  } catch {
    return undefined;
  }
  for (let depth = 0; depth < 6; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === 'ldapts') return typeof pkg.version === 'string' ? pkg.version : undefined;
    } catch {
      // No package.json here (or not JSON): look further up.
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

/**
 * One ldapts client with the lean reader installed, and the internal calls the paged search
 * makes. The public API (bind, startTLS, unbind) is used on `client` directly.
 */
export class LdaptsSession {
  private constructor(
    readonly client: Client,
    private readonly internals: ClientInternals,
  ) {}

  /**
   * Takes a new, unconnected client into use: checks ldapts' internals (a DirectoryError naming
   * the installed version if they are not as expected) and installs the lean reader.
   */
  static attach(client: Client): LdaptsSession {
    const problems = internalsProblems(client);
    if (problems.length > 0) throw unsupportedLdapts(problems);
    const internals = client as unknown as ClientInternals;
    installLeanReader(internals);
    return new LdaptsSession(client, internals);
  }

  /** The installed ldapts version (for the log), and whether it is the supported one. */
  static version(): { found: string | undefined; supported: boolean } {
    const found = installedLdaptsVersion();
    return { found, supported: found === SUPPORTED_LDAPTS_VERSION };
  }

  /** Opens the socket without binding. */
  async connect(): Promise<void> {
    await this.internals._connect();
  }

  /**
   * After a connect or a bind: the socket the client keeps is where the reader expects it (the
   * reader drops it on a malformed message).
   */
  checkConnected(): void {
    if (!(this.internals.socket instanceof Socket))
      throw unsupportedLdapts(['Client.socket is missing after a connect']);
  }

  nextMessageId(): number {
    return this.internals._nextMessageId();
  }

  /**
   * Sends a request on the connection as it is: no reconnect, so a dropped connection fails the
   * read rather than coming back unbound. Resolves with the search's SearchResultDone.
   */
  async send(request: SearchRequest): Promise<LeanSearchResponse | undefined> {
    return this.internals._send(request);
  }
}

/**
 * Replaces the message framing of one ldapts client with the lean reader; every message it does
 * not decode itself is parsed by ldapts and emitted to the client as ldapts would.
 */
function installLeanReader(client: ClientInternals): void {
  const parser = client.messageParser;
  const pending = client.messageDetailsByMessageId;
  const getMessage = parser._getMessageFromProtocolOperation.bind(parser);

  const reader = new LeanReader({
    binaryAttributes: (messageId) =>
      pending.get(String(messageId))?.message?.explicitBufferAttributes ?? [],
    message: (buf, start, end, messageId, entries) => {
      // Over this message's bytes alone; a message that does not frame as BER is a broken stream.
      const ber = new BerReader(buf.subarray(start, end));
      ber.readSequence();
      const id = ber.readInt() ?? messageId;
      const protocolOperation = ber.readSequence();
      if (protocolOperation === null) throw new LdapWireError('message without an operation');
      try {
        const message = getMessage(
          id,
          protocolOperation,
          ber,
          pending.get(String(id))?.message,
        ) as WithLeanEntries;
        if (entries !== undefined) message[LEAN_ENTRIES] = entries;
        parser.emit('message', message);
        return true;
      } catch (error) {
        // As ldapts' own parser does: the request this message answers fails with the reason.
        (error as { messageDetails?: unknown }).messageDetails = { messageId: id };
        parser.emit('error', error);
        return false;
      }
    },
    broken: (error: LdapWireError) => {
      for (const [id, request] of pending) {
        pending.delete(id);
        request.reject(error);
      }
      // ldapts' own teardown marks the client disconnected at once (a bare destroy() would leave
      // it "connected" until the close event, and a request sent meanwhile would wait for its
      // timeout).
      client._destroySocket(client.socket);
    },
  });
  parser.read = (data: Buffer): void => {
    reader.read(data);
  };
}
