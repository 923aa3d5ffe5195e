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
