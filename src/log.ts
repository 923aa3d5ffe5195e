import winston from 'winston';
import { escapeControl, REDACTED, scrubSecrets } from './text.js';

/**
 * The one list of keys whose values are secrets. The logger redacts them at any depth, and
 * the config and API layers use the same list when they print or dump anything.
 */
export const SECRET_KEYS: readonly string[] = [
  'token',
  'authorization',
  'password',
  'bindpassword',
  'secret',
  'apikey',
];

export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_]/g, '');
  return SECRET_KEYS.some((s) => k === s || k.endsWith(s));
}

/**
 * A deep copy of `value` with every secret-keyed value replaced, and every string scrubbed of
 * the secret values given (a token echoed inside an error text has no secret key).
 */
export function redact(value: unknown, depth = 0, secrets: readonly string[] = []): unknown {
  if (typeof value === 'string') return secrets.length === 0 ? value : scrubSecrets(value, secrets);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, secrets));
  if (value instanceof Error) return secrets.length === 0 ? value : scrubbedError(value, secrets);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) ? REDACTED : redact(v, depth + 1, secrets);
  }
  return out;
}

function scrubbedError(error: Error, secrets: readonly string[]): Error {
  const text = `${error.message}\n${error.stack ?? ''}`;
  if (scrubSecrets(text, secrets) === text) return error;
  const copy = new Error(scrubSecrets(error.message, secrets));
  copy.name = error.name;
  copy.stack = scrubSecrets(error.stack ?? '', secrets);
  return copy;
}

const redactFormat = winston.format((info, opts: unknown) => {
  const secrets = (opts as { secrets?: readonly string[] } | undefined)?.secrets ?? [];
  // `message` is one of the keys: the string branch below scrubs it.
  for (const key of Object.keys(info)) {
    if (isSecretKey(key)) info[key] = REDACTED;
    else if (typeof info[key] === 'object' && info[key] !== null)
      info[key] = redact(info[key], 0, secrets);
    else if (typeof info[key] === 'string' && secrets.length > 0)
      info[key] = scrubSecrets(info[key], secrets);
  }
  return info;
});

export type Logger = winston.Logger;
export type LogFormat = 'json' | 'human';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where log lines go; stderr by default so stdout stays clean for plans and JSON. */
  stream?: NodeJS.WritableStream;
  /**
   * Secret values (the API token, the bind password, webhook URLs) scrubbed from every message
   * and every string of metadata, wherever they appear, before a line is written.
   */
  secrets?: readonly (string | undefined)[];
}

/** The root logger. JSON when stderr is not a TTY, human-readable when it is. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const isTty = 'isTTY' in stream && stream.isTTY === true;
  const format = options.format ?? (isTty ? 'human' : 'json');
  const human = winston.format.printf((info) => {
    const { level, message, timestamp, ...meta } = info;
    const rest = Object.keys(meta).length > 0 ? ' ' + JSON.stringify(meta) : '';
    // JSON escapes control characters in the metadata; the message gets the same care.
    return `${String(timestamp)} ${level}: ${escapeControl(String(message))}${rest}`;
  });
  return winston.createLogger({
    level: options.level ?? 'info',
    format: winston.format.combine(
      redactFormat({
        secrets: (options.secrets ?? []).filter((s): s is string => s !== undefined),
      }),
      winston.format.timestamp(),
      format === 'json' ? winston.format.json() : human,
    ),
    transports: [new winston.transports.Stream({ stream })],
  });
}

/** A logger that drops everything, for tests and library use. */
export function createSilentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console()] });
}
