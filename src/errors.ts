/**
 * The one error hierarchy of dirsync. Every adapter wraps what it catches into one of these,
 * with context (config key, DN, URL) and a `hint` that tells the administrator how to fix it.
 * The top-level handler in `src/cli` maps them to exit codes and a "To fix: ..." line.
 */
export class DirsyncError extends Error {
  /** A sentence that tells the operator what to do about it. */
  readonly hint: string | undefined;

  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options?.hint;
  }
}

/** Bad configuration, seed or faults file, or bad command-line usage (exit code 2). */
export class ConfigError extends DirsyncError {}

/** A directory (LDAP, LDIF) read failed or was incomplete. */
export class DirectoryError extends DirsyncError {}

/** A Users API call failed. */
export class ApiError extends DirsyncError {
  readonly method: string;
  readonly path: string;
  readonly status: number | undefined;

  constructor(
    message: string,
    details: { method: string; path: string; status?: number },
    options?: { cause?: unknown; hint?: string },
  ) {
    super(message, options);
    this.method = details.method;
    this.path = details.path;
    this.status = details.status;
  }
}

/** One rail that refused a plan, and what it found. */
export interface RailRefusal {
  /** `maxDeletes`, `lastSuper`, ... */
  readonly rail: string;
  /** What the rail found, e.g. "the plan removes 30 users (limit 25)". */
  readonly message: string;
}

/** A safety rail refused the plan (exit code 3). */
export class SafetyError extends DirsyncError {
  /** The rails that refused the plan, each with its message (metrics, audit, notifications). */
  readonly refusals: readonly RailRefusal[];
  /** Their names (`maxDeletes`, `lastSuper`, ...). */
  readonly rails: readonly string[];

  constructor(
    message: string,
    options?: { cause?: unknown; hint?: string; refusals?: readonly RailRefusal[] },
  ) {
    super(message, options);
    this.refusals = (options?.refusals ?? []).map(({ rail, message }) => ({ rail, message }));
    this.rails = this.refusals.map((r) => r.rail);
  }
}

/**
 * A run stopped before it finished (exit code 5): SIGTERM or SIGINT, the daemon's
 * `schedule.runTimeout` or shutdown, or its run lock taken over. What landed is journaled; the
 * next run re-reads and carries on.
 */
export class StoppedError extends DirsyncError {
  /** `SIGTERM`, `SIGINT`, `timeout`, `shutdown`, `lock-lost`. */
  readonly reason: string;

  constructor(message: string, reason: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options);
    this.reason = reason;
  }
}

/** dirsync's exit codes and what each means: `--help` prints them, the README's table says the same. */
export const EXIT_CODES = {
  0: 'success',
  1: 'failure: directory or API unreachable, a read incomplete, the token refused',
  2: 'bad config or usage (also an invalid plan file, a port already in use)',
  3: 'a safety rail refused the run, or a budget held some actions back (the rest applied)',
  4: 'applied, but some actions failed or are unclear (the report lists each; 4 wins over 3)',
  5: 'stopped before finishing: SIGTERM or SIGINT, schedule.runTimeout, a lost run lock',
} as const;

export type ExitCode = keyof typeof EXIT_CODES;

export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof ConfigError) return 2;
  if (error instanceof SafetyError) return 3;
  if (error instanceof StoppedError) return 5;
  return 1;
}

/**
 * The message of an error and of its causes, each said once, without stack traces. A wrapper's
 * message often quotes its cause already (`GET /user failed (503): HTTP 503 (gave up after 5
 * attempts)` around `GET /user failed (503): HTTP 503`): a cause whose text has been said is
 * left out, and a cause that restates the message before it and adds to it replaces it; a
 * system error whose code (ENOENT, EADDRINUSE) the text has named is left out too.
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    if (seen.has(current)) break;
    seen.add(current);
    const message =
      current instanceof Error
        ? current.message
        : typeof current === 'string'
          ? current
          : (JSON.stringify(current) ?? typeof current);
    const said = parts.join(': ');
    const last = parts[parts.length - 1];
    // A system error wrapped with its code (`cannot be read (ENOENT)`) adds only Node's wording
    // of that code and the path the wrapper names already.
    const code = current instanceof Error ? (current as NodeJS.ErrnoException).code : undefined;
    const codeSaid = depth > 0 && typeof code === 'string' && code !== '' && said.includes(code);
    if (message === '' || said.includes(message) || codeSaid) {
      // Said already.
    } else if (last !== undefined && message.includes(last)) {
      parts[parts.length - 1] = message;
    } else {
      parts.push(message);
    }
    if (!(current instanceof Error)) break;
    current = current.cause;
  }
  return parts.join(': ');
}
