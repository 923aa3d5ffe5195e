import { setMaxListeners } from 'node:events';
import type { Dispatcher } from 'undici';
import { ApiError } from '../errors.js';
import type { Clock } from './limiter.js';
import {
  classifyError,
  classifyStatus,
  errorCode,
  isTlsTrustError,
  parseRetryAfter,
  type FailureKind,
} from './retry.js';
import { hasBom, skipJsonWhitespace } from './json-bytes.js';
import { formatBytes, REDACTED, safeText } from '../text.js';

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

/** One call of the API, before encoding. */
export interface ApiRequest {
  method: HttpMethod;
  /** The endpoint, e.g. `/togglesuspension`. */
  path: string;
  /** GET and DELETE parameters. */
  query?: Record<string, string>;
  /** POST parameters, sent form-encoded (arrays already serialised to JSON strings). */
  form?: Record<string, string>;
  /** Ask caches on the way (an API gateway) not to serve a stored copy. */
  noCache?: boolean;
}

/** A sink a 2xx JSON array body is fed to as it arrives. */
export interface ArraySink<T> {
  /** The next bytes of the body; may throw to refuse the body (the download then stops). */
  push(chunk: Buffer): void;
  /** The body is complete: the result, or a throw if the body as a whole is refused. */
  end(): T;
}

/** How a 2xx body becomes the result of a call. */
export interface BodyReader<T> {
  /** Takes the parsed JSON body (undefined when empty); may throw to refuse it. */
  accept(body: unknown): T;
  /**
   * When given, a 2xx body that is a JSON array is fed to a fresh sink from this as it arrives,
   * instead of being collected and parsed whole; `accept` still takes any other 2xx body.
   */
  stream?: (() => ArraySink<T>) | undefined;
}

/** What one HTTP exchange came to. */
export type Attempt<T = unknown> =
  | { ok: true; status: number; body: T }
  | {
      ok: false;
      kind: FailureKind;
      error: ApiError;
      /** The server's `Retry-After`, in milliseconds. */
      retryAfterMs?: number | undefined;
    };

/** The most an answer may weigh, in bytes; a larger one is refused, not held. */
export interface BodyLimits {
  /** A listing streamed into its decoder, whole (`api.maxListingBytes`). */
  listingBytes: number;
  /** Any other body: user details, write answers, error pages (`api.maxBodyBytes`). */
  bodyBytes: number;
}

/**
 * 100k users list in about 20 MB, so a gigabyte leaves room for millions; a detail or write
 * answer is a few hundred bytes, an error page a few kilobytes.
 */
export const DEFAULT_BODY_LIMITS: BodyLimits = {
  listingBytes: 1024 ** 3,
  bodyBytes: 10 * 1024 ** 2,
};

export interface TransportOptions {
  baseUrl: URL;
  token: string;
  /** Other secret values (the bind password, webhook URLs) scrubbed as the token is. */
  secrets?: readonly string[] | undefined;
  /** Defaults: {@link DEFAULT_BODY_LIMITS}. */
  limits?: Partial<BodyLimits> | undefined;
  dispatcher: Dispatcher;
  clock: Clock;
  userAgent: string;
  /** The whole-request deadline (`api.requestTimeoutMs`): headers and the entire body. */
  requestTimeoutMs?: number | undefined;
  /**
   * The run's stop signal. Once aborted, reads in flight are cut at once and nothing new is
   * sent; a write in flight gets {@link WRITE_GRACE_MS} to be answered, so that its outcome is
   * known, then is cut too.
   */
  signal?: AbortSignal | undefined;
}

/** How long a write in flight may still take once the run is stopped. */
export const WRITE_GRACE_MS = 5_000;

/** The longest piece of an answer quoted in an error (after scrubbing and escaping). */
export const MAX_MESSAGE_CHARS = 300;

/**
 * Encodes requests, sends them through the dispatcher and turns every answer or transport error
 * into an {@link Attempt}. The token lives only here, in a private field, and is scrubbed from
 * every message that leaves: a proxy error page or a careless server may echo it back.
 */
export class HttpTransport {
  readonly #token: string;
  readonly #secrets: readonly string[];
  readonly #origin: string;
  readonly #basePath: string;
  readonly #dispatcher: Dispatcher;
  readonly #clock: Clock;
  readonly #userAgent: string;
  readonly #limits: BodyLimits;
  readonly #requestTimeoutMs: number;
  readonly #signal: AbortSignal | undefined;

  constructor(options: TransportOptions) {
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 120_000;
    this.#signal = options.signal;
    // One abort listener per request in flight (api.concurrency, up to 64) is expected, not a leak.
    if (options.signal !== undefined) setMaxListeners(0, options.signal);
    this.#token = options.token;
    this.#secrets = [options.token, ...(options.secrets ?? [])];
    this.#limits = { ...DEFAULT_BODY_LIMITS, ...options.limits };
    this.#origin = options.baseUrl.origin;
    // A base URL may carry a path prefix (https://host/api); endpoints go under it.
    this.#basePath = options.baseUrl.pathname.replace(/\/+$/, '');
    this.#dispatcher = options.dispatcher;
    this.#clock = options.clock;
    this.#userAgent = options.userAgent;
  }

  /** Replaces the token wherever it appears in `text`. */
  scrub(text: string): string {
    return text.includes(this.#token) ? text.split(this.#token).join(REDACTED) : text;
  }

  /**
   * Text from the other side made fit for a message: the token scrubbed before anything else
   * (a cut made first could leave part of it), control characters escaped, the length capped.
   */
  quote(text: string): string {
    return safeText(text, { secrets: this.#secrets, max: MAX_MESSAGE_CHARS });
  }

  /**
   * One exchange. A refusal by `reader` (a throw from `accept` or the sink) is thrown as is,
   * not turned into a failed attempt: it is the caller's to wrap, and never retried.
   */
  async attempt<T>(request: ApiRequest, reader: BodyReader<T>): Promise<Attempt<T>> {
    const { method, path } = request;
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#token}`,
      accept: 'application/json',
      'user-agent': this.#userAgent,
    };
    if (request.noCache === true) {
      headers['cache-control'] = 'no-cache';
      headers['pragma'] = 'no-cache';
    }
    let body: string | undefined;
    if (request.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(request.form).toString();
    }
    const query = request.query === undefined ? '' : new URLSearchParams(request.query).toString();
    const fullPath = `${this.#basePath}${path}${query === '' ? '' : `?${query}`}`;

    if (this.#signal?.aborted === true) return this.stopped(request, this.#signal);
    const deadline = new RequestDeadline(
      method === 'GET' ? 0 : WRITE_GRACE_MS,
      this.#requestTimeoutMs,
      this.#signal,
    );
    let status: number;
    let responseHeaders: Record<string, string | string[] | undefined>;
    let read: BodyRead<T>;
    try {
      const response = await this.#dispatcher.request({
        origin: this.#origin,
        path: fullPath,
        method,
        headers,
        body,
        signal: deadline.signal,
      });
      status = response.statusCode;
      responseHeaders = response.headers;
      read =
        reader.stream !== undefined && status >= 200 && status < 300
          ? await streamArray(response.body, reader.stream, this.#limits)
          : await readText(response.body, this.#limits.bodyBytes);
    } catch (error) {
      if (deadline.cut === 'stopped') return this.stopped(request, this.#signal, error);
      if (deadline.cut === 'deadline') {
        // Headers late, or a body still coming (a trickle never trips the silence timeout): the
        // server may have acted, so for a write the outcome is unknown.
        return this.failure(
          request,
          'unknown',
          undefined,
          `no complete answer within ${formatSeconds(this.#requestTimeoutMs)} (api.requestTimeoutMs)`,
          'the API or something in between answered too slowly or stalled mid-answer: check its health; raise api.requestTimeoutMs only if whole listings really take longer',
        );
      }
      // The body stream failed (a cut connection, a stall): the same as a failed request.
      return this.transportFailure(request, error);
    } finally {
      deadline.dispose();
    }
    if (read.kind === 'decoded') return { ok: true, status, body: read.value };
    if (read.kind === 'refused') throw read.error;
    const ok = status >= 200 && status < 300;
    if (read.kind === 'tooLarge' && (ok || read.limit === 'listingBytes')) {
      const key = read.limit === 'listingBytes' ? 'api.maxListingBytes' : 'api.maxBodyBytes';
      return this.failure(
        request,
        'final',
        status,
        `the answer is larger than ${formatBytes(this.#limits[read.limit])} (${key}); it was not read further`,
        `no answer of the Users API should be this large: check api.baseUrl and any proxy; raise ${key} only if it really is`,
      );
    }
    // An error page over the limit: its beginning says enough.
    const text = read.text;

    let parsed: unknown;
    let isJson = true;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        isJson = false;
      }
    }
    const serverMessage = errorMessageOf(parsed);

    if (status >= 200 && status < 300) {
      if (serverMessage !== undefined) {
        // Contract note 5: a 2xx whose body has `error` is a failure.
        return this.failure(request, 'final', status, this.quote(serverMessage));
      }
      if (!isJson) {
        return this.failure(
          request,
          'final',
          status,
          `the answer is not JSON: ${this.snippet(text)}`,
          'a proxy or gateway may be answering instead of the Users API: check api.baseUrl and the proxy settings',
        );
      }
      return { ok: true, status, body: reader.accept(parsed) };
    }

    const kind = classifyStatus(status);
    const message =
      serverMessage !== undefined
        ? this.quote(serverMessage)
        : `HTTP ${status}${text === '' ? '' : `: ${this.snippet(text)}`}`;
    const retryAfterMs =
      kind === 'final'
        ? undefined
        : parseRetryAfter(responseHeaders['retry-after'], this.#clock.now());
    return { ...this.failure(request, kind, status, message, hintForStatus(status)), retryAfterMs };
  }

  private snippet(text: string): string {
    return this.quote(this.scrub(text).replace(/\s+/g, ' ').trim());
  }

  private failure(
    request: ApiRequest,
    kind: FailureKind,
    status: number | undefined,
    message: string,
    hint?: string,
    cause?: unknown,
  ): Attempt & { ok: false } {
    const { method, path } = request;
    const what = status === undefined ? '' : ` (${status})`;
    const error = new ApiError(
      `${method} ${path} failed${what}: ${message}`,
      status === undefined ? { method, path } : { method, path, status },
      { ...(cause === undefined ? {} : { cause }), ...(hint === undefined ? {} : { hint }) },
    );
    return { ok: false, kind, error };
  }

  /** A request not sent, or cut, because the run was stopped: final, never retried. */
  private stopped(
    request: ApiRequest,
    signal: AbortSignal | undefined,
    cause?: unknown,
  ): Attempt & { ok: false } {
    const reason = typeof signal?.reason === 'string' ? signal.reason : 'stopped';
    return this.failure(
      request,
      'final',
      undefined,
      `not finished: the run was stopped (${reason})`,
      request.method === 'GET'
        ? 'the next run reads again'
        : 'the change may or may not have been applied; the next run re-reads the organization and corrects it',
      cause === undefined ? undefined : this.safeCause(cause),
    );
  }

  private transportFailure(request: ApiRequest, error: unknown): Attempt & { ok: false } {
    const code = errorCode(error);
    const raw = error instanceof Error ? error.message : String(error);
    const message = this.quote(code === undefined || raw.includes(code) ? raw : `${raw} (${code})`);
    const cause = this.safeCause(error);
    if (isTlsTrustError(error)) {
      return this.failure(
        request,
        'final',
        undefined,
        message,
        'the server certificate is not trusted: if a proxy inspects TLS, set api.tls.caFile to its root CA (PEM)',
        cause,
      );
    }
    const kind = classifyError(error);
    const hint =
      kind === 'final'
        ? undefined
        : 'check api.baseUrl, the network, and the proxy settings (HTTPS_PROXY, NO_PROXY)';
    return this.failure(request, kind, undefined, message, hint, cause);
  }

  /** The transport error as a cause, unless its text holds the token: then a scrubbed copy. */
  private safeCause(error: unknown): unknown {
    if (!(error instanceof Error)) return error;
    const leaks = (e: Error): boolean =>
      e.message.includes(this.#token) || (e.stack ?? '').includes(this.#token);
    if (!leaks(error) && !(error.cause instanceof Error && leaks(error.cause))) return error;
    const copy = new Error(this.quote(error.message));
    const code = errorCode(error);
    return code === undefined ? copy : Object.assign(copy, { code });
  }
}

type BodyRead<T> =
  | { kind: 'text'; text: string }
  | { kind: 'decoded'; value: T }
  | { kind: 'refused'; error: unknown }
  /** Over a limit: reading stopped there; `text` is what came before it. */
  | { kind: 'tooLarge'; limit: keyof BodyLimits; text: string };

/** The body as text, or as much of it as the limit allows (reading stops there). */
async function readText(
  body: AsyncIterable<unknown>,
  limit: number,
): Promise<BodyRead<never> & { kind: 'text' | 'tooLarge' }> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const data of body) {
    const chunk = data as Buffer;
    if (bytes + chunk.length > limit) {
      chunks.push(chunk.subarray(0, limit - bytes));
      // Leaving the loop destroys the body: the rest is never downloaded.
      return { kind: 'tooLarge', limit: 'bodyBytes', text: decodeText(chunks) };
    }
    chunks.push(chunk);
    bytes += chunk.length;
  }
  return { kind: 'text', text: decodeText(chunks) };
}

const OPEN_BRACKET = 0x5b;

/**
 * Reads a 2xx body: into a sink from `open` if its first byte (past whitespace and a BOM) is
 * `[`, else whole as text for the usual checks (`{"error": ...}`, not JSON). Errors of the body
 * stream propagate; a throw from the sink comes back as `refused`, and stops the download; so
 * does a body over its limit (`listingBytes` for an array, `bodyBytes` for anything else).
 */
async function streamArray<T>(
  body: AsyncIterable<unknown>,
  open: () => ArraySink<T>,
  limits: BodyLimits,
): Promise<BodyRead<T>> {
  const held: Buffer[] = [];
  let bytes = 0;
  let sink: ArraySink<T> | undefined;
  let collect = false;
  let refusal: { error: unknown } | undefined;
  const feed = (into: ArraySink<T>, chunks: readonly Buffer[]): boolean => {
    try {
      for (const chunk of chunks) into.push(chunk);
      return true;
    } catch (error) {
      refusal = { error };
      return false;
    }
  };
  for await (const data of body) {
    const chunk = data as Buffer;
    bytes += chunk.length;
    if (sink !== undefined) {
      if (bytes > limits.listingBytes) return { kind: 'tooLarge', limit: 'listingBytes', text: '' };
      // Leaving the loop destroys the body: no point downloading the rest of a refused one.
      if (!feed(sink, [chunk])) break;
      continue;
    }
    held.push(chunk);
    if (!collect) {
      const first = firstSignificantByte(chunk, held.length === 1);
      if (first === OPEN_BRACKET) {
        if (bytes > limits.listingBytes)
          return { kind: 'tooLarge', limit: 'listingBytes', text: '' };
        sink = open();
        if (!feed(sink, held)) break;
        held.length = 0;
        continue;
      }
      if (first !== undefined) collect = true;
    }
    if (bytes > limits.bodyBytes)
      return { kind: 'tooLarge', limit: 'bodyBytes', text: decodeText(held) };
  }
  if (refusal !== undefined) return { kind: 'refused', error: refusal.error };
  if (sink === undefined) return { kind: 'text', text: decodeText(held) };
  try {
    return { kind: 'decoded', value: sink.end() };
  } catch (error) {
    return { kind: 'refused', error };
  }
}

function firstSignificantByte(chunk: Buffer, atStart: boolean): number | undefined {
  const i = skipJsonWhitespace(chunk, atStart && hasBom(chunk) ? 3 : 0);
  return i < chunk.length ? chunk[i] : undefined;
}

/** As undici's `body.text()`: UTF-8, a leading BOM dropped. */
function decodeText(chunks: Buffer[]): string {
  const buf = Buffer.concat(chunks);
  return buf.toString('utf8', hasBom(buf) ? 3 : 0);
}

/** The `error` text of an error body, if the body is one. */
function errorMessageOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !('error' in body)) {
    return undefined;
  }
  const value: unknown = body.error;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function hintForStatus(status: number): string | undefined {
  switch (status) {
    case 401:
      return 'the API refused the token: check api.token (it belongs to one user of one organization)';
    case 403:
      return "the token's user lacks the rank for this call: writes need ADMIN, granting or removing ADMIN/SUPER needs SUPER";
    case 429:
    case 502:
    case 503:
    case 504:
      return 'the API is overloaded or rate limiting: try again later, or lower api.concurrency or api.requestsPerSecond';
    default:
      return undefined;
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/**
 * The signal one request is sent with: aborted at the whole-request deadline, or when the run is
 * stopped (at once, or after `graceMs` for a write in flight). `cut` says which came first.
 */
class RequestDeadline {
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  #grace: NodeJS.Timeout | undefined;
  readonly #run: AbortSignal | undefined;
  readonly #onStop: () => void;
  cut: 'deadline' | 'stopped' | undefined;

  constructor(graceMs: number, timeoutMs: number, run: AbortSignal | undefined) {
    this.#run = run;
    this.#timer = setTimeout(() => this.#abort('deadline'), timeoutMs);
    this.#onStop = () => {
      if (graceMs <= 0) this.#abort('stopped');
      else this.#grace = setTimeout(() => this.#abort('stopped'), graceMs);
    };
    run?.addEventListener('abort', this.#onStop, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  #abort(why: 'deadline' | 'stopped'): void {
    if (this.cut !== undefined) return;
    this.cut = why;
    this.#controller.abort(why);
  }

  dispose(): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#grace);
    this.#run?.removeEventListener('abort', this.#onStop);
  }
}
