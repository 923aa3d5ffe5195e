import { setTimeout as delay } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { ConfigError } from '../errors.js';
import { createSilentLogger, type Logger } from '../log.js';
import { isLoopback, plainHttpExposed } from '../loopback.js';
import { UsersEndpoints } from './endpoints.js';
import {
  createDispatcher,
  DEFAULT_TIMEOUTS,
  proxySettingsFrom,
  type Env,
  type Timeouts,
} from './http.js';
import { RequestLimiter, type Clock, type Sleep } from './limiter.js';
import { DEFAULT_MAX_ELEMENT_BYTES } from './listing-stream.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
import { RetryingSender, type RetryEvent } from './sender.js';
import { DEFAULT_BODY_LIMITS, HttpTransport, type BodyLimits } from './transport.js';

// The Users API client is four modules: this one builds it and holds the transport policy (base
// URL, TLS, proxy and loopback, timeouts, size limits); endpoints.ts maps each endpoint (zod);
// sender.ts retries by retry.ts's pure decideRetry; outcome.ts settles the calls that must not be
// repeated blindly. reconcile/ sees only the UsersApi interface (users-api.ts).

/** Everything the client needs; only `baseUrl` and `token` are required. */
export interface ApiClientOptions {
  /** e.g. `https://api.example.com`; a path prefix is kept (`https://host/users-api`). */
  baseUrl: string;
  /** The bearer token. Never logged, never in an error message. */
  token: string;
  /**
   * Other secrets the run knows (the bind password, webhook URLs): scrubbed from every answer
   * quoted in an error, like the token.
   */
  secrets?: readonly (string | undefined)[] | undefined;
  /** Requests in flight at once (`api.concurrency`); 8 by default. */
  concurrency?: number | undefined;
  /** Optional cap on requests started per second, for a service with a published rate limit. */
  requestsPerSecond?: number | undefined;
  timeouts?: Partial<Timeouts> | undefined;
  /** Size limits on answers; see {@link ApiLimits}. */
  limits?: Partial<ApiLimits> | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  /** A PEM bundle trusted on top of the system roots (`api.tls.caFile`). */
  caFile?: string | undefined;
  /** Where HTTP_PROXY, HTTPS_PROXY and NO_PROXY are read from; `process.env` by default. */
  env?: Env | undefined;
  /**
   * The undici dispatcher to send through (tests pass a MockAgent). When given, the client
   * neither builds nor closes one, and `caFile`, `env` and `timeouts` are the caller's business.
   */
  dispatcher?: Dispatcher | undefined;
  logger?: Logger | undefined;
  clock?: Clock | undefined;
  sleep?: Sleep | undefined;
  /** Uniform in [0, 1), for backoff jitter. */
  random?: (() => number) | undefined;
  userAgent?: string | undefined;
  /** Allow a plain http:// baseUrl to a host other than loopback (`api.allowPlaintext`). */
  allowPlaintext?: boolean | undefined;
  /** Told of every retry (for metrics): the status that caused it, if any (429, 503, ...). */
  onRetry?: ((event: RetryEvent) => void) | undefined;
  /**
   * The run's stop signal (SIGTERM, runTimeout, shutdown): reads in flight are cut at once,
   * writes in flight get a few seconds to be answered, nothing new is sent, no retry waits.
   */
  signal?: AbortSignal | undefined;
}

/**
 * The most an answer may weigh, in bytes: an answer over a limit fails the call (never retried)
 * instead of being held in memory. A 400 MB listing element once took 3 GB.
 */
export interface ApiLimits extends BodyLimits {
  /** One element of a listing (`api.maxListingElementBytes`). */
  listingElementBytes: number;
}

export const DEFAULT_API_LIMITS: ApiLimits = {
  ...DEFAULT_BODY_LIMITS,
  listingElementBytes: DEFAULT_MAX_ELEMENT_BYTES,
};

/**
 * The typed, retrying, outcome-aware Users API client.
 *
 * - Calls with replace semantics (usernames, rank, smart cards) and reads are repeated after
 *   429, 502/503/504 and connection errors, with exponential backoff and full jitter.
 * - `/togglesuspension`, `/promoteguest` and `DELETE /user` are not safely repeatable: after an
 *   answer that leaves the outcome unclear, the client re-reads the listings and repeats only if
 *   the intended state is still missing. A 429 or a refused connection changed nothing, so those
 *   are simply retried.
 * - Never retried: 400, 401, 403, 404, 500, or a 2xx whose body has `error`.
 */
export class ApiClient extends UsersEndpoints {
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;

  constructor(options: ApiClientOptions) {
    const parts = assemble(options);
    super(parts.sender, parts);
    this.#dispatcher = parts.dispatcher;
    this.#ownsDispatcher = parts.ownsDispatcher;
  }

  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }
}

/** Builds a client; the same as `new ApiClient(options)`. */
export function createApiClient(options: ApiClientOptions): ApiClient {
  return new ApiClient(options);
}

interface Parts {
  sender: RetryingSender;
  log: Logger;
  listingElementBytes: number;
  dispatcher: Dispatcher;
  ownsDispatcher: boolean;
}

/** Checks the options and builds what a client is made of, under the transport policy. */
function assemble(options: ApiClientOptions): Parts {
  const baseUrl = parseBaseUrl(options.baseUrl);
  if (options.token.trim() === '') {
    throw new ConfigError('api.token is empty', {
      hint: 'set api.token (e.g. token: ${DIRSYNC_API_TOKEN}) to a bearer token of the organization',
    });
  }
  const concurrency = options.concurrency ?? 8;
  const clock = options.clock ?? { now: () => Date.now() };
  const sleep = stoppable(options.sleep, options.signal);
  const log = (options.logger ?? createSilentLogger()).child({ component: 'api' });
  const limits = { ...DEFAULT_API_LIMITS, ...options.limits };
  let limiter: RequestLimiter;
  try {
    limiter = new RequestLimiter({
      concurrency,
      requestsPerSecond: options.requestsPerSecond,
      clock,
      sleep,
    });
  } catch (error) {
    throw new ConfigError(`api settings are invalid: ${(error as Error).message}`, {
      cause: error,
      hint: 'set api.concurrency to a whole number of at least 1 and api.requestsPerSecond above 0',
    });
  }
  const ownsDispatcher = options.dispatcher === undefined;
  const env = options.env ?? process.env;
  const dispatcher =
    options.dispatcher ??
    createDispatcher({
      origin: baseUrl,
      connections: concurrency,
      timeouts: { ...DEFAULT_TIMEOUTS, ...options.timeouts },
      caFile: options.caFile,
      env,
    });
  const transport = new HttpTransport({
    baseUrl,
    token: options.token,
    secrets: (options.secrets ?? []).filter((v): v is string => v !== undefined),
    limits,
    dispatcher,
    clock,
    userAgent: options.userAgent ?? 'dirsync',
    requestTimeoutMs: options.timeouts?.requestMs ?? DEFAULT_TIMEOUTS.requestMs,
    signal: options.signal,
  });
  checkPlaintext(baseUrl, options.allowPlaintext === true, log);
  const proxy = proxySettingsFrom(env);
  if (
    ownsDispatcher &&
    isLoopback(baseUrl.hostname) &&
    (proxy.httpProxy !== '' || proxy.httpsProxy !== '')
  ) {
    log.info('api.baseUrl is this machine: sent direct, not through the proxy', {
      baseUrl: baseUrl.origin,
    });
  }
  const sender = new RetryingSender({
    transport,
    limiter,
    policy: { ...DEFAULT_RETRY_POLICY, ...options.retry },
    log,
    clock,
    sleep,
    random: options.random ?? Math.random,
    onRetry: options.onRetry,
  });
  return {
    sender,
    log,
    listingElementBytes: limits.listingElementBytes,
    dispatcher,
    ownsDispatcher,
  };
}

/**
 * The wait between retries and before a settling re-read. It ends early when the run is stopped:
 * the next attempt then fails as stopped, at once, without being sent.
 */
function stoppable(given: Sleep | undefined, stop: AbortSignal | undefined): Sleep {
  const sleep: Sleep =
    given ??
    ((ms) =>
      // The timer goes with the wait: a stopped run must not be held open by a 20 s backoff.
      delay(ms, undefined, stop === undefined ? {} : { signal: stop }).catch(() => undefined));
  if (stop === undefined) return sleep;
  return (ms) =>
    stop.aborted
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const done = (): void => {
            stop.removeEventListener('abort', done);
            resolve();
          };
          stop.addEventListener('abort', done, { once: true });
          void sleep(ms).then(done);
        });
}

/**
 * Plain http:// only to this machine, or where the administrator allowed it (a warning then).
 * The rule is loopback.ts's, as config validation applies it; asked without the allowance, it
 * says whether the token would cross a network in clear at all.
 */
function checkPlaintext(baseUrl: URL, allowPlaintext: boolean, log: Logger): void {
  if (!plainHttpExposed(baseUrl.href, false)) return;
  if (!allowPlaintext) {
    throw new ConfigError(
      `api.baseUrl ${baseUrl.origin} is plain http: the token would cross the network unencrypted`,
      { hint: 'use https://, or set api.allowPlaintext: true for a lab network you trust' },
    );
  }
  log.warn('api.baseUrl is plain http: the token crosses the network unencrypted', {
    baseUrl: baseUrl.origin,
  });
}

function parseBaseUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch (error) {
    throw new ConfigError(`api.baseUrl ${JSON.stringify(value)} is not a URL`, {
      cause: error,
      hint: 'set api.baseUrl to the API root, e.g. https://api.example.com',
    });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(`api.baseUrl must be http(s), got ${url.protocol}`, {
      hint: 'set api.baseUrl to the API root, e.g. https://api.example.com',
    });
  }
  if (url.username !== '' || url.password !== '' || url.search !== '') {
    throw new ConfigError('api.baseUrl must not carry credentials or a query', {
      hint: 'put the bearer token in api.token and give api.baseUrl as scheme://host[:port][/path]',
    });
  }
  return url;
}
