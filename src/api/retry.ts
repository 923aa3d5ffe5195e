/**
 * How many times, and how patiently, the client retries. Every limit is bounded: a run that
 * meets a dead API gives up with an error instead of hanging the schedule.
 */
export interface RetryPolicy {
  /** Attempts of one call, the first included. */
  maxAttempts: number;
  /** Give up once this much time has passed since the call began (the next wait included). */
  maxElapsedMs: number;
  /** The ceiling of the first backoff; it doubles with each retry. */
  baseDelayMs: number;
  /** The ceiling of any one backoff (a longer `Retry-After` is still honoured). */
  maxDelayMs: number;
  /**
   * After an unclear answer (502/503/504, a lost answer, a timeout) to a call that must not be
   * repeated blindly (`/togglesuspension`, `/promoteguest`, `DELETE /user`), wait at least this
   * long before the re-read that decides whether to send it again, so that a change still
   * landing behind a gateway is seen rather than repeated.
   */
  settleMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 6,
  maxElapsedMs: 120_000,
  baseDelayMs: 250,
  maxDelayMs: 20_000,
  settleMs: 2_000,
};

/**
 * The wait before retry number `retry` (1 for the first retry): "full jitter", a uniform draw
 * between 0 and the exponential ceiling. Spreading clients over the whole window, rather than
 * around its edge, is what keeps eight (or 32) workers from hitting a recovering server in step.
 * A `Retry-After` is a floor: the server said when it will be ready, sooner is pointless.
 */
export function backoffDelay(
  policy: RetryPolicy,
  retry: number,
  random: () => number,
  retryAfterMs?: number,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  const jittered = Math.floor(random() * ceiling);
  return retryAfterMs === undefined ? jittered : Math.max(retryAfterMs, jittered);
}

/**
 * `Retry-After` in milliseconds: delta-seconds or an HTTP date (RFC 9110 10.2.3); undefined
 * when absent or unreadable, so a garbled header falls back to plain backoff.
 */
export function parseRetryAfter(
  value: string | string[] | undefined,
  nowMs: number,
): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/**
 * What a failed attempt tells us about the server's state, which decides whether and how the
 * call may be repeated:
 * - `not-applied`: the server certainly changed nothing (429, or no connection was made);
 *   any call may be repeated.
 * - `unknown`: the request may have been applied (lost answer, timeout, 502/503/504); only a
 *   call with replace semantics may be repeated blindly, the others must look first.
 * - `final`: an answer that retrying will not change (4xx, 500, a 2xx carrying `error`).
 */
export type FailureKind = 'not-applied' | 'unknown' | 'final';

/** HTTP statuses worth retrying, and what they say about the request. */
export function classifyStatus(status: number): FailureKind {
  if (status === 429) return 'not-applied';
  if (status === 502 || status === 503 || status === 504) return 'unknown';
  return 'final';
}

// Errors raised before a single byte of the request could reach the server.
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

// Errors after the request may have been written: the server may or may not have acted on it.
const IN_FLIGHT_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/** TLS verification failures: retrying cannot help, a CA bundle can. */
export function isTlsTrustError(error: unknown): boolean {
  const code = errorCode(error);
  return (
    code !== undefined &&
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT_ALTNAME|UNABLE_TO_GET_ISSUER/.test(code)
  );
}

/** The `code` of an error or of the first cause that has one. */
export function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Transport errors classified like statuses; anything unrecognised is final (a bug, not a blip). */
export function classifyError(error: unknown): FailureKind {
  const code = errorCode(error);
  if (code === undefined) return 'final';
  if (NOT_SENT_CODES.has(code)) return 'not-applied';
  if (IN_FLIGHT_CODES.has(code)) return 'unknown';
  return 'final';
}

/**
 * How a failed call may be repeated:
 * - `repeat`: blindly (reads, and writes with replace semantics: usernames, rank, smart cards);
 * - `verify`: only after a re-read shows the change still missing (`/promoteguest`,
 *   `DELETE /user`);
 * - `verify-once`: as `verify`, and never after an attempt that got no answer (lost, timed out,
 *   502/504), only after one that said it was not applied (429, 503, no connection): for
 *   `/togglesuspension`, where a repeat that meets a late first one undoes it.
 */
export type RepeatMode = 'repeat' | 'verify' | 'verify-once';

/** A failed attempt, as much of it as the retry decision looks at. */
export interface FailedAttempt {
  kind: FailureKind;
  /** The HTTP status, if an answer came. */
  status?: number | undefined;
  /** The server's `Retry-After`, in milliseconds. */
  retryAfterMs?: number | undefined;
}

export interface RetryInput {
  failure: FailedAttempt;
  /** The attempt that failed: 1 for the first. */
  attempt: number;
  /** Time since the call began, in milliseconds. */
  elapsedMs: number;
  mode: RepeatMode;
  /** A uniform draw in [0, 1), for the backoff's jitter. */
  jitter: number;
}

/** What the retry budget says: attempts and time left, or which of the two ran out. */
export type RetryBudget = 'left' | 'attempts' | 'deadline';

/**
 * What to do after a failed attempt:
 * - `retry`: send again after `delayMs`;
 * - `give-up`: fail the call with the attempt's error (`final`) or for want of budget;
 * - `unclear`: the change may have landed, so look before anything else: wait `delayMs`, re-read;
 *   if the change is there the call is done, otherwise do `ifNotSeen`, or `ifUnreadable` when the
 *   re-read itself fails. `unclear` there means: end the call as unclear, never send it again.
 */
export type RetryDecision =
  | { kind: 'retry'; delayMs: number }
  | { kind: 'give-up'; reason: 'final' | Exclude<RetryBudget, 'left'> }
  | {
      kind: 'unclear';
      delayMs: number;
      budget: RetryBudget;
      ifNotSeen: 'retry' | 'give-up' | 'unclear';
      ifUnreadable: 'give-up' | 'unclear';
    };

/**
 * Whether a failure was an answer saying the request was not carried out (503: the service
 * refused it while overloaded). A lost answer, a timeout or a gateway's 502/504 say nothing of
 * the kind.
 */
export function answeredNotDone(failure: FailedAttempt): boolean {
  return failure.kind === 'unknown' && failure.status === 503;
}

/**
 * The retry decision, a pure function of the failure, the attempt, the time spent and how the
 * call may be repeated. The budget counts attempts of this request and time since the call
 * began, the next wait included; re-reads made to settle an unclear outcome have budgets of their
 * own.
 */
export function decideRetry(policy: RetryPolicy, input: RetryInput): RetryDecision {
  const { failure, attempt, elapsedMs, mode } = input;
  if (failure.kind === 'final') return { kind: 'give-up', reason: 'final' };
  const backoff = backoffDelay(policy, attempt, () => input.jitter, failure.retryAfterMs);
  const mayHaveLanded = failure.kind === 'unknown' && mode !== 'repeat';
  // After an unclear outcome, give a change still landing behind a gateway time to show.
  const delayMs = mayHaveLanded ? Math.max(backoff, policy.settleMs) : backoff;
  const budget: RetryBudget =
    elapsedMs + delayMs > policy.maxElapsedMs
      ? 'deadline'
      : attempt >= policy.maxAttempts
        ? 'attempts'
        : 'left';
  if (!mayHaveLanded) {
    return budget === 'left' ? { kind: 'retry', delayMs } : { kind: 'give-up', reason: budget };
  }
  // With no answer, a toggle may still land: a second one would then undo it.
  const neverResend = mode === 'verify-once' && !answeredNotDone(failure);
  if (budget === 'left') {
    return {
      kind: 'unclear',
      delayMs,
      budget,
      ifNotSeen: neverResend ? 'unclear' : 'retry',
      ifUnreadable: mode === 'verify-once' ? 'unclear' : 'give-up',
    };
  }
  // Out of budget: one last look, after the settle wait, turns "maybe" into an answer.
  const last = neverResend ? 'unclear' : 'give-up';
  return { kind: 'unclear', delayMs: policy.settleMs, budget, ifNotSeen: last, ifUnreadable: last };
}
