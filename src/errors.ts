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

/** A safety rail refused the plan (exit code 3). */
export class SafetyError extends DirsyncError {
  /** The rails that refused the plan (`maxDeletes`, `lastSuper`, ...). */
  readonly rails: readonly string[];

  constructor(
    message: string,
    options?: { cause?: unknown; hint?: string; rails?: readonly string[] },
  ) {
    super(message, options);
    this.rails = options?.rails ?? [];
  }
}

export type ExitCode = 0 | 1 | 2 | 3 | 4;

export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof ConfigError) return 2;
  if (error instanceof SafetyError) return 3;
  return 1;
}

/** Message chain of an error and its causes, without stack traces. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    if (current instanceof Error) {
      if (!parts.includes(current.message)) parts.push(current.message);
      current = current.cause;
    } else {
      parts.push(typeof current === 'string' ? current : JSON.stringify(current));
      break;
    }
  }
  return parts.join(': ');
}
