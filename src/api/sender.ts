import { ApiError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Clock, RequestLimiter, Sleep } from './limiter.js';
import { decideRetry, type RepeatMode, type RetryDecision, type RetryPolicy } from './retry.js';
import type { ApiRequest, ArraySink, Attempt, HttpTransport } from './transport.js';

export interface RetryEvent {
  method: string;
  path: string;
  status: number | undefined;
  attempt: number;
  delayMs: number;
}

/** What a re-read says of an unclear change: there (`done`), or still missing. */
export type Verdict = 'done' | 'retry';

/** How a failed call may be repeated: blindly, or only after looking at the server's state. */
type Repeat = { mode: 'repeat' };
export type Recovery =
  | Repeat
  | {
      mode: Exclude<RepeatMode, 'repeat'>;
      /**
       * Called the moment a failure is seen: the check it returns decides from state read after
       * that moment whether the intended change is there. It may throw an `ApiError` for this
       * request's path (the user is gone, PENDING), a finding that ends the call.
       */
      lookAfterNow(): () => Promise<Verdict>;
    };

export const REPEAT: Repeat = { mode: 'repeat' };
export const VERIFIED = Symbol('verified by a re-read');
export const UNCLEAR = Symbol('unclear: no answer, not seen by a re-read');

export interface SenderOptions {
  transport: HttpTransport;
  limiter: RequestLimiter;
  policy: RetryPolicy;
  log: Logger;
  clock: Clock;
  sleep: Sleep;
  /** Uniform in [0, 1), for backoff jitter. */
  random: () => number;
  onRetry?: ((event: RetryEvent) => void) | undefined;
}

type Failure = Attempt & { ok: false };

/**
 * Sends a request through the limiter and the transport, and acts on {@link decideRetry}'s
 * decision after each failure: waits and sends again, gives up, or looks at the server's state
 * with the call's {@link Recovery} before anything else.
 */
export class RetryingSender {
  constructor(private readonly options: SenderOptions) {}

  /**
   * `accept` turns a 2xx body into the result (and may throw an `ApiError`); `stream`, when
   * given, decodes a 2xx JSON array body as it arrives instead (a fresh sink for each attempt).
   */
  send<T>(
    request: ApiRequest,
    recovery: Repeat,
    accept: (body: unknown) => T,
    stream?: () => ArraySink<T>,
  ): Promise<T>;
  send<T>(
    request: ApiRequest,
    recovery: Recovery,
    accept: (body: unknown) => T,
  ): Promise<T | typeof VERIFIED | typeof UNCLEAR>;
  async send<T>(
    request: ApiRequest,
    recovery: Recovery,
    accept: (body: unknown) => T,
    stream?: () => ArraySink<T>,
  ): Promise<T | typeof VERIFIED | typeof UNCLEAR> {
    const { clock, limiter, transport, log, policy } = this.options;
    const reader = { accept, stream };
    const started = clock.now();
    const debug = log.isDebugEnabled();
    for (let attempt = 1; ; attempt++) {
      const sentAt = clock.now();
      const result = await limiter.run(() => transport.attempt(request, reader));
      if (debug) {
        log.debug('API request', {
          method: request.method,
          path: request.path,
          status: result.ok ? result.status : result.error.status,
          attempt,
          ms: Math.round(clock.now() - sentAt),
        });
      }
      if (result.ok) return result.body;
      if (result.kind === 'final') throw result.error;

      const now = clock.now();
      if (result.retryAfterMs !== undefined) limiter.pauseUntil(now + result.retryAfterMs);
      const decision = decideRetry(policy, {
        failure: {
          kind: result.kind,
          status: result.error.status,
          retryAfterMs: result.retryAfterMs,
        },
        attempt,
        elapsedMs: now - started,
        mode: recovery.mode,
        jitter: this.options.random(),
      });
      if (decision.kind === 'give-up') {
        throw this.giveUp(request, result, attempt, decision.reason === 'deadline', false);
      }
      // Only now, with the failure seen, may a re-read count as "after" it; only an unclear
      // outcome is looked at (a 429 or a refused connection is sent again without one).
      const look =
        decision.kind === 'unclear' && recovery.mode !== 'repeat'
          ? recovery.lookAfterNow()
          : undefined;
      // A retry is announced; the last look, once the budget has run out, is not.
      if (decision.kind === 'retry' || decision.budget === 'left') {
        this.announce(request, result, attempt, decision.delayMs);
      }
      await this.options.sleep(decision.delayMs);
      if (decision.kind === 'retry' || look === undefined) continue;

      const next = await this.settle(request, result, attempt, decision, look);
      if (next === VERIFIED || next === UNCLEAR) return next;
    }
  }

  /** Told of a retry: `onRetry` (metrics) and a warning. */
  private announce(request: ApiRequest, result: Failure, attempt: number, delayMs: number): void {
    const { method, path } = request;
    const status = result.error.status;
    this.options.onRetry?.({ method, path, status, attempt, delayMs });
    this.options.log.warn('API request failed, retrying', {
      method,
      path,
      status,
      outcome: result.kind,
      attempt,
      delayMs,
    });
  }

  /** Looks at the server's state after an unclear failure: returns, or undefined to send again. */
  private async settle(
    request: ApiRequest,
    result: Failure,
    attempt: number,
    decision: RetryDecision & { kind: 'unclear' },
    look: () => Promise<Verdict>,
  ): Promise<typeof VERIFIED | typeof UNCLEAR | undefined> {
    let verdict: Verdict | 'unreadable';
    let cause: unknown;
    try {
      verdict = await look();
    } catch (error) {
      // A definite finding about this call (user gone, PENDING) is the better error.
      if (error instanceof ApiError && error.path === request.path) throw error;
      verdict = 'unreadable';
      cause = error;
    }
    if (verdict === 'done') {
      this.options.log.info('API change confirmed by a re-read after a lost answer', {
        method: request.method,
        path: request.path,
        attempt,
      });
      return VERIFIED;
    }
    const next = verdict === 'retry' ? decision.ifNotSeen : decision.ifUnreadable;
    if (next === 'unclear') return UNCLEAR;
    if (next === 'retry') return undefined;
    if (decision.budget !== 'left') {
      throw this.giveUp(
        request,
        result,
        attempt,
        decision.budget === 'deadline',
        verdict === 'unreadable',
      );
    }
    throw new ApiError(
      `${request.method} ${request.path}: the answer was lost and the outcome could not be checked`,
      { method: request.method, path: request.path },
      {
        cause,
        hint: 'the change may or may not have been applied; the next run re-reads the organization and corrects it',
      },
    );
  }

  private giveUp(
    request: ApiRequest,
    result: Failure,
    attempts: number,
    outOfTime: boolean,
    unclear: boolean,
  ): ApiError {
    const maxElapsedMs = this.options.policy.maxElapsedMs;
    const last = result.error;
    const why = outOfTime
      ? result.retryAfterMs !== undefined
        ? `the server asked to wait ${Math.ceil(result.retryAfterMs / 1000)}s, beyond the retry budget of ${maxElapsedMs / 1000}s`
        : `the retry budget of ${maxElapsedMs / 1000}s ran out`
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
