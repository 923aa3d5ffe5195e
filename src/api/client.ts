import { setTimeout as delay } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { ApiError, ConfigError } from '../errors.js';
import { createSilentLogger, type Logger } from '../log.js';
import { FreshRead } from './fresh-read.js';
import {
  createDispatcher,
  DEFAULT_TIMEOUTS,
  isLoopback,
  proxySettingsFrom,
  type Env,
  type Timeouts,
} from './http.js';
import { asEmailId, asUserId, type EmailId, type UserId } from './ids.js';
import { RequestLimiter, type Clock, type Sleep } from './limiter.js';
import {
  DEFAULT_MAX_ELEMENT_BYTES,
  ListingDecoder,
  ListingElementTooLargeError,
} from './listing-stream.js';
import { backoffDelay, DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
import {
  ListingFormatError,
  parseListing,
  SmartcardsBody,
  UserDetailsBody,
  type AdStatus,
  type OrgUser,
  type Rank,
  type Smartcard,
  type UserDetails,
  type UserTag,
} from './schema.js';
import {
  DEFAULT_BODY_LIMITS,
  HttpTransport,
  type ApiRequest,
  type BodyLimits,
  type ArraySink,
  type Attempt,
  type BodyReader,
} from './transport.js';
import type { z } from 'zod';

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

export interface RetryEvent {
  method: string;
  path: string;
  status: number | undefined;
  attempt: number;
  delayMs: number;
}

/** A smart card to set; the label may be left out. */
export interface SmartcardInput {
  /** Digits only, as a string (contract note 9). */
  number: string;
  label?: string | undefined;
}

/**
 * How a change ended: `applied` when this call made it (including when its answer was lost
 * and a re-read showed it had landed), `unchanged` when the user was already in that state
 * and nothing was sent.
 */
export type ChangeOutcome = 'applied' | 'unchanged';

/**
 * How a toggle ended: as {@link ChangeOutcome}, or `unclear` when no answer came back and a fresh
 * re-read after the settle wait still showed the old status. Such a toggle is never sent again by
 * this client: it may still land, and a second one would undo it.
 */
export type ToggleOutcome = ChangeOutcome | 'unclear';

export interface ListOptions {
  /** `GUEST` lists the guests; the default lists users tagged `USER` (contract note 6). */
  tag?: UserTag | undefined;
  /** Makes `name` read `First Last (email)`. */
  emailInName?: boolean | undefined;
  /** Ask caches on the way not to serve a stored copy (`Cache-Control: no-cache`, `Pragma`). */
  fresh?: boolean | undefined;
}

export interface SetSuspendedOptions {
  /**
   * The `ad_status` the caller saw in a fresh listing. When given, the first toggle is sent (or
   * skipped) on its word; when left out, the client reads the listing first. Either way, an
   * unclear outcome is settled by a re-read, never by a blind second toggle.
   */
  observed?: AdStatus | undefined;
}

/** The Users API (docs/users-api.md), one method per endpoint; see {@link ApiClient}. */
export interface UsersApi {
  /** `GET /multipleusers`: one listing, USER or GUEST. */
  listUsers(options?: ListOptions): Promise<OrgUser[]>;
  /**
   * Both listings, users then guests: the whole organization. An email_id listed twice (within a
   * listing or in both) makes the read invalid: an `ApiError` naming the ids, so that no plan is
   * made from it (two rows could mean two toggles for one user).
   */
  listOrganization(options?: Omit<ListOptions, 'tag'>): Promise<OrgUser[]>;
  /** `GET /user`. */
  getUser(emailId: EmailId): Promise<UserDetails>;
  /** `GET /modifysmartcard`. */
  getSmartcards(emailId: EmailId): Promise<Smartcard[]>;
  /** `POST /modifyallusernames`: replaces the whole list; an empty list clears it. */
  setComputerUsernames(emailId: EmailId, usernames: readonly string[]): Promise<void>;
  /** `POST /modifyrank`: takes the **user_id**. */
  setRank(userId: UserId, rank: Rank): Promise<void>;
  /** `POST /modifysmartcard`: replaces the whole list; an empty list clears it. */
  setSmartcards(
    emailId: EmailId,
    cards: readonly SmartcardInput[],
    options?: { allowDuplicates?: boolean | undefined },
  ): Promise<void>;
  /** `POST /promoteguest`, checked against the listings before any repeat. */
  promoteGuest(emailId: EmailId): Promise<ChangeOutcome>;
  /**
   * `POST /togglesuspension`, driven by the intended state rather than as a blind toggle, and
   * sent at most once per call unless an answer said it was not applied.
   */
  setSuspended(
    emailId: EmailId,
    suspended: boolean,
    options?: SetSuspendedOptions,
  ): Promise<ToggleOutcome>;
  /** `DELETE /user` by email_id, checked against the listings before any repeat. */
  deleteUser(emailId: EmailId): Promise<ChangeOutcome>;
  /** Closes the connection pool the client built (not an injected dispatcher). */
  close(): Promise<void>;
}

/** How a failed call may be repeated: blindly, or only after looking at the server's state. */
type Repeat = { kind: 'repeat' };
type Recovery =
  | Repeat
  | {
      kind: 'verify';
      /** After an unclear outcome at `ticket`: is the intended state already there? */
      check(ticket: number): Promise<'done' | 'retry'>;
      /**
       * Never repeat after an attempt that got no answer (lost, timed out, 502/504): only after
       * one that said it was not applied (429, 503, no connection). Then the call ends `UNCLEAR`
       * when the re-read does not show the change. For `/togglesuspension`, where a repeat that
       * meets a late first one undoes it.
       */
      onlyAfterAnAnswer?: boolean;
    };

const REPEAT: Repeat = { kind: 'repeat' };
const VERIFIED = Symbol('verified by a re-read');
const UNCLEAR = Symbol('unclear: no answer, not seen by a re-read');

type Location = { tag: UserTag; adStatus: AdStatus } | undefined;

/**
 * Whether an answer said the request was not carried out (503: the service refused it while
 * overloaded). A lost answer, a timeout or a gateway's 502/504 say nothing of the kind.
 */
function answeredNotDone(result: Attempt & { ok: false }): boolean {
  return result.error.status === 503;
}

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
export class ApiClient implements UsersApi {
  private readonly onRetry: ((event: RetryEvent) => void) | undefined;
  private readonly transport: HttpTransport;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly limiter: RequestLimiter;
  private readonly policy: RetryPolicy;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  /** The listings read fresh (no cache), shared by the checks after lost answers. */
  private readonly listings: Record<UserTag, FreshRead<Map<number, AdStatus>>>;
  private readonly limits: ApiLimits;
  /** Numbers the events (lost answers) that listings must be newer than. */
  private events = 0;

  constructor(options: ApiClientOptions) {
    const baseUrl = parseBaseUrl(options.baseUrl);
    if (options.token.trim() === '') {
      throw new ConfigError('api.token is empty', {
        hint: 'set api.token (e.g. token: ${DIRSYNC_API_TOKEN}) to a bearer token of the organization',
      });
    }
    const concurrency = options.concurrency ?? 8;
    this.clock = options.clock ?? { now: () => Date.now() };
    const stop = options.signal;
    const sleep: Sleep =
      options.sleep ??
      ((ms) =>
        // The timer goes with the wait: a stopped run must not be held open by a 20 s backoff.
        delay(ms, undefined, stop === undefined ? {} : { signal: stop }).catch(() => undefined));
    // A retry or settle wait ends early when the run is stopped: the next attempt then fails
    // as stopped, at once, without being sent.
    this.sleep =
      stop === undefined
        ? sleep
        : (ms) =>
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
    this.random = options.random ?? Math.random;
    this.onRetry = options.onRetry;
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.log = (options.logger ?? createSilentLogger()).child({ component: 'api' });
    this.limits = { ...DEFAULT_API_LIMITS, ...options.limits };
    try {
      this.limiter = new RequestLimiter({
        concurrency,
        requestsPerSecond: options.requestsPerSecond,
        clock: this.clock,
        sleep: this.sleep,
      });
    } catch (error) {
      throw new ConfigError(`api settings are invalid: ${(error as Error).message}`, {
        cause: error,
        hint: 'set api.concurrency to a whole number of at least 1 and api.requestsPerSecond above 0',
      });
    }
    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher =
      options.dispatcher ??
      createDispatcher({
        origin: baseUrl,
        connections: concurrency,
        timeouts: { ...DEFAULT_TIMEOUTS, ...options.timeouts },
        caFile: options.caFile,
        env: options.env ?? process.env,
      });
    this.transport = new HttpTransport({
      baseUrl,
      token: options.token,
      secrets: (options.secrets ?? []).filter((v): v is string => v !== undefined),
      limits: this.limits,
      dispatcher: this.dispatcher,
      clock: this.clock,
      userAgent: options.userAgent ?? 'dirsync',
      requestTimeoutMs: options.timeouts?.requestMs ?? DEFAULT_TIMEOUTS.requestMs,
      signal: options.signal,
    });
    if (baseUrl.protocol === 'http:' && !isLoopback(baseUrl.hostname)) {
      if (options.allowPlaintext !== true) {
        throw new ConfigError(
          `api.baseUrl ${baseUrl.origin} is plain http: the token would cross the network unencrypted`,
          {
            hint: 'use https://, or set api.allowPlaintext: true for a lab network you trust',
          },
        );
      }
      this.log.warn('api.baseUrl is plain http: the token crosses the network unencrypted', {
        baseUrl: baseUrl.origin,
      });
    }
    const proxy = proxySettingsFrom(options.env ?? process.env);
    if (
      this.ownsDispatcher &&
      isLoopback(baseUrl.hostname) &&
      (proxy.httpProxy !== '' || proxy.httpsProxy !== '')
    ) {
      this.log.info('api.baseUrl is this machine: sent direct, not through the proxy', {
        baseUrl: baseUrl.origin,
      });
    }
    const statusMap = async (tag: UserTag): Promise<Map<number, AdStatus>> => {
      // Asked past any cache: a gateway's stored copy would show the status before the change.
      const users = await this.listUsers({ tag, fresh: true });
      return new Map(users.map((u) => [u.emailId, u.adStatus]));
    };
    this.listings = {
      USER: new FreshRead(
        () => statusMap('USER'),
        () => this.events,
      ),
      GUEST: new FreshRead(
        () => statusMap('GUEST'),
        () => this.events,
      ),
    };
  }

  async listUsers(options: ListOptions = {}): Promise<OrgUser[]> {
    const tag = options.tag ?? 'USER';
    const query: Record<string, string> = {};
    if (options.emailInName === true) query['email'] = 'true';
    if (tag === 'GUEST') query['user_tag'] = 'GUEST';
    const request: ApiRequest = {
      method: 'GET',
      path: '/multipleusers',
      query,
      ...(options.fresh === true ? { noCache: true } : {}),
    };
    try {
      // Decoded as it downloads: the whole 20 MB text and 100k raw objects are never held.
      return await this.run(
        request,
        REPEAT,
        (body) => parseListing(body, tag),
        () => new ListingDecoder(tag, { maxElementBytes: this.limits.listingElementBytes }),
      );
    } catch (error) {
      if (error instanceof ListingElementTooLargeError) {
        throw new ApiError(
          `${request.method} ${request.path} refused: ${error.message} (api.maxListingElementBytes); the listing was not read further`,
          { method: request.method, path: request.path, status: 200 },
          {
            cause: error,
            hint: "one user's entry is far larger than any real one: check api.baseUrl and any proxy; raise api.maxListingElementBytes only if the API really sends entries this big",
          },
        );
      }
      if (!(error instanceof ListingFormatError)) throw error;
      return unexpectedAnswer(request, error.message, error);
    }
  }

  async listOrganization(options: Omit<ListOptions, 'tag'> = {}): Promise<OrgUser[]> {
    const [users, guests] = await Promise.all([
      this.listUsers({ ...options, tag: 'USER' }),
      this.listUsers({ ...options, tag: 'GUEST' }),
    ]);
    const all = users.concat(guests);
    const seen = new Map<number, OrgUser>();
    const twice = new Map<number, string>();
    for (const u of all) {
      const first = seen.get(u.emailId);
      if (first === undefined) seen.set(u.emailId, u);
      else twice.set(u.emailId, first.tag === u.tag ? `twice as ${u.tag}` : 'as USER and GUEST');
    }
    if (twice.size > 0) {
      const list = [...twice]
        .slice(0, 10)
        .map(([id, how]) => `${id} (${seen.get(id)?.email ?? '?'}, ${how})`);
      throw new ApiError(
        `GET /multipleusers listed ${twice.size} email_id(s) more than once: ${list.join(', ')}${twice.size > 10 ? ', ...' : ''}; the organization read is not trusted and nothing is changed`,
        { method: 'GET', path: '/multipleusers', status: 200 },
        {
          hint: 'a repeated row could make dirsync change a user twice; check for a proxy or gateway between dirsync and the API, or report it to the API provider, then run again',
        },
      );
    }
    return all;
  }

  async getUser(emailId: EmailId): Promise<UserDetails> {
    const request: ApiRequest = { method: 'GET', path: '/user', query: idParam(emailId) };
    const body = await this.run(request, REPEAT, (b) => validate(request, UserDetailsBody, b));
    return {
      policies: body.policies,
      computerUsernames: body.computer_usernames,
      smartcards: body.smartcards,
    };
  }

  async getSmartcards(emailId: EmailId): Promise<Smartcard[]> {
    const request: ApiRequest = {
      method: 'GET',
      path: '/modifysmartcard',
      query: idParam(emailId),
    };
    const body = await this.run(request, REPEAT, (b) => validate(request, SmartcardsBody, b));
    return body.smartcards;
  }

  async setComputerUsernames(emailId: EmailId, usernames: readonly string[]): Promise<void> {
    const list = usernames.map((name) => ({ computer_username: name }));
    await this.run(
      {
        method: 'POST',
        path: '/modifyallusernames',
        form: { ...idParam(emailId), computer_usernames: JSON.stringify(list) },
      },
      REPEAT,
      ignoreBody,
    );
  }

  async setRank(userId: UserId, rank: Rank): Promise<void> {
    await this.run(
      {
        method: 'POST',
        path: '/modifyrank',
        form: { admin_user_id: String(asUserId(userId)), rank },
      },
      REPEAT,
      ignoreBody,
    );
  }

  async setSmartcards(
    emailId: EmailId,
    cards: readonly SmartcardInput[],
    options: { allowDuplicates?: boolean | undefined } = {},
  ): Promise<void> {
    const list = cards.map((c) =>
      c.label === undefined ? { number: c.number } : { number: c.number, label: c.label },
    );
    const form: Record<string, string> = {
      ...idParam(emailId),
      smartcards: JSON.stringify(list),
    };
    if (options.allowDuplicates === true) form['allow_duplicates'] = 'true';
    await this.run({ method: 'POST', path: '/modifysmartcard', form }, REPEAT, ignoreBody);
  }

  async promoteGuest(emailId: EmailId): Promise<ChangeOutcome> {
    const request: ApiRequest = { method: 'POST', path: '/promoteguest', form: idParam(emailId) };
    await this.run(
      request,
      {
        kind: 'verify',
        check: async (ticket) => {
          const where = await this.locate(emailId, ticket);
          if (where === undefined) throw notListed(request, emailId);
          return where.tag === 'USER' ? 'done' : 'retry';
        },
      },
      ignoreBody,
    );
    return 'applied';
  }

  async setSuspended(
    emailId: EmailId,
    suspended: boolean,
    options: SetSuspendedOptions = {},
  ): Promise<ToggleOutcome> {
    const request: ApiRequest = {
      method: 'POST',
      path: '/togglesuspension',
      form: idParam(emailId),
    };
    const isWanted = (status: AdStatus): boolean => (status === 'SUSPENDED') === suspended;
    const refusePending = (): ApiError =>
      new ApiError(
        `POST /togglesuspension refused for email_id ${emailId}: the user is PENDING (no device activated yet) and cannot be suspended`,
        { method: 'POST', path: '/togglesuspension' },
        { hint: 'the user must activate a device first; a later run suspends them then' },
      );

    let current = options.observed;
    if (current === undefined) {
      const where = await this.locate(emailId, this.markListings());
      if (where === undefined) throw notListed(request, emailId);
      current = where.adStatus;
    }
    if (isWanted(current)) return 'unchanged';
    if (current === 'PENDING') throw refusePending();

    const result = await this.run(
      request,
      {
        kind: 'verify',
        onlyAfterAnAnswer: true,
        check: async (ticket) => {
          const where = await this.locate(emailId, ticket);
          if (where === undefined) throw notListed(request, emailId);
          if (isWanted(where.adStatus)) return 'done';
          if (where.adStatus === 'PENDING') throw refusePending();
          return 'retry';
        },
      },
      ignoreBody,
    );
    if (result === UNCLEAR) {
      this.log.warn('toggle outcome unclear: no answer, and a fresh re-read shows the old status', {
        emailId,
      });
      return 'unclear';
    }
    return 'applied';
  }

  async deleteUser(emailId: EmailId): Promise<ChangeOutcome> {
    await this.run(
      { method: 'DELETE', path: '/user', query: idParam(emailId) },
      {
        kind: 'verify',
        check: async (ticket) =>
          (await this.locate(emailId, ticket)) === undefined ? 'done' : 'retry',
      },
      ignoreBody,
    );
    return 'applied';
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  /** A ticket for something that just happened: listings read from now on are newer. */
  private markListings(): number {
    return ++this.events;
  }

  /** Where the user is listed now (a listing fetched after `ticket`), or undefined if nowhere. */
  private async locate(emailId: EmailId, ticket: number): Promise<Location> {
    const asUser = (await this.listings.USER.read(ticket)).get(emailId);
    if (asUser !== undefined) return { tag: 'USER', adStatus: asUser };
    const asGuest = (await this.listings.GUEST.read(ticket)).get(emailId);
    if (asGuest !== undefined) return { tag: 'GUEST', adStatus: asGuest };
    return undefined;
  }

  /**
   * The retry loop. `accept` turns a 2xx body into the result (and may throw an `ApiError`);
   * `stream`, when given, decodes a 2xx JSON array body as it arrives instead (a fresh sink for
   * each attempt). The budget is counted in attempts of this request and in time since the
   * call began; re-reads made to settle an unclear outcome have budgets of their own.
   */
  private async run<T>(
    request: ApiRequest,
    recovery: Repeat,
    accept: (body: unknown) => T,
    stream?: () => ArraySink<T>,
  ): Promise<T>;
  private async run<T>(
    request: ApiRequest,
    recovery: Recovery,
    accept: (body: unknown) => T,
  ): Promise<T | typeof VERIFIED | typeof UNCLEAR>;
  private async run<T>(
    request: ApiRequest,
    recovery: Recovery,
    accept: (body: unknown) => T,
    stream?: () => ArraySink<T>,
  ): Promise<T | typeof VERIFIED | typeof UNCLEAR> {
    const reader: BodyReader<T> = { accept, stream };
    const started = this.clock.now();
    const debug = this.log.isDebugEnabled();
    for (let attempt = 1; ; attempt++) {
      const sentAt = this.clock.now();
      const result = await this.limiter.run(() => this.transport.attempt(request, reader));
      if (debug) {
        this.log.debug('API request', {
          method: request.method,
          path: request.path,
          status: result.ok ? result.status : result.error.status,
          attempt,
          ms: Math.round(this.clock.now() - sentAt),
        });
      }
      if (result.ok) return result.body;
      if (result.kind === 'final') throw result.error;

      // Only now, with the failure seen, may a re-read count as "after" it.
      const ticket = this.markListings();
      const now = this.clock.now();
      if (result.retryAfterMs !== undefined) this.limiter.pauseUntil(now + result.retryAfterMs);
      const backoff = backoffDelay(this.policy, attempt, this.random, result.retryAfterMs);
      const settling = result.kind === 'unknown' && recovery.kind === 'verify';
      const wait = settling ? Math.max(backoff, this.policy.settleMs) : backoff;
      const outOfTime = now + wait - started > this.policy.maxElapsedMs;
      if (attempt >= this.policy.maxAttempts || outOfTime) {
        // Out of retries with the outcome unclear: one last look turns "maybe" into an answer.
        if (result.kind === 'unknown' && recovery.kind === 'verify') {
          await this.sleep(this.policy.settleMs);
          const verdict = await recovery.check(ticket).catch((error: unknown) => {
            // A definite finding about this call (user gone, PENDING) is the better error.
            if (error instanceof ApiError && error.path === request.path) throw error;
            return 'unclear' as const;
          });
          if (verdict === 'done') return VERIFIED;
          if (recovery.onlyAfterAnAnswer === true && !answeredNotDone(result)) return UNCLEAR;
          throw this.giveUp(request, result, attempt, outOfTime, verdict === 'unclear');
        }
        throw this.giveUp(request, result, attempt, outOfTime, false);
      }
      this.onRetry?.({
        method: request.method,
        path: request.path,
        status: result.error.status,
        attempt,
        delayMs: wait,
      });
      this.log.warn('API request failed, retrying', {
        method: request.method,
        path: request.path,
        status: result.error.status,
        outcome: result.kind,
        attempt,
        delayMs: wait,
      });
      await this.sleep(wait);

      if (result.kind === 'unknown' && recovery.kind === 'verify') {
        let verdict: 'done' | 'retry';
        try {
          verdict = await recovery.check(ticket);
        } catch (error) {
          if (error instanceof ApiError && error.path === request.path) throw error;
          if (recovery.onlyAfterAnAnswer === true) return UNCLEAR;
          throw new ApiError(
            `${request.method} ${request.path}: the answer was lost and the outcome could not be checked`,
            { method: request.method, path: request.path },
            {
              cause: error,
              hint: 'the change may or may not have been applied; the next run re-reads the organization and corrects it',
            },
          );
        }
        if (verdict === 'done') {
          this.log.info('API change confirmed by a re-read after a lost answer', {
            method: request.method,
            path: request.path,
            attempt,
          });
          return VERIFIED;
        }
        // The re-read shows the old status, but with no answer the request may still land:
        // a second one would then undo it.
        if (recovery.onlyAfterAnAnswer === true && !answeredNotDone(result)) return UNCLEAR;
      }
    }
  }

  private giveUp(
    request: ApiRequest,
    result: Attempt & { ok: false },
    attempts: number,
    outOfTime: boolean,
    unclear: boolean,
  ): ApiError {
    const last = result.error;
    const why = outOfTime
      ? result.retryAfterMs !== undefined
        ? `the server asked to wait ${Math.ceil(result.retryAfterMs / 1000)}s, beyond the retry budget of ${this.policy.maxElapsedMs / 1000}s`
        : `the retry budget of ${this.policy.maxElapsedMs / 1000}s ran out`
      : `gave up after ${attempts} attempts`;
    return new ApiError(
      `${last.message} (${why})`,
      last.status === undefined
        ? { method: request.method, path: request.path }
        : { method: request.method, path: request.path, status: last.status },
      {
        cause: last,
        hint: unclear
          ? 'the last answer was lost, so the change may or may not have been applied; the next run re-reads the organization and corrects it'
          : (last.hint ??
            'the API is overloaded or unreachable: try again later, or lower api.concurrency'),
      },
    );
  }
}

/** Builds a client; the same as `new ApiClient(options)`. */
export function createApiClient(options: ApiClientOptions): ApiClient {
  return new ApiClient(options);
}

function ignoreBody(): void {}

function idParam(emailId: EmailId): Record<string, string> {
  // Re-checked at the edge: an id from a JSON state file may be anything at runtime.
  return { email_id: String(asEmailId(emailId)) };
}

function validate<S extends z.ZodType>(request: ApiRequest, schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue === undefined ? '' : `${issue.path.join('.') || '(top level)'}: `;
  return unexpectedAnswer(request, `${where}${issue?.message ?? 'invalid'}`, result.error);
}

function unexpectedAnswer(request: ApiRequest, problem: string, cause: unknown): never {
  throw new ApiError(
    `${request.method} ${request.path} gave an unexpected answer: ${problem}`,
    { method: request.method, path: request.path, status: 200 },
    {
      cause,
      hint: 'the Users API changed or something between us rewrote the answer; check api.baseUrl and any proxy',
    },
  );
}

function notListed(request: ApiRequest, emailId: EmailId): ApiError {
  return new ApiError(
    `${request.method} ${request.path}: email_id ${emailId} is in neither the USER nor the GUEST listing`,
    { method: request.method, path: request.path },
    { hint: 'the user was removed from the organization meanwhile; the next run re-plans' },
  );
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
