import winston from 'winston';

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

const REDACTED = '[redacted]';

export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_]/g, '');
  return SECRET_KEYS.some((s) => k === s || k.endsWith(s));
}

/** A deep copy of `value` with every secret-keyed value replaced. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) ? REDACTED : redact(v, depth + 1);
  }
  return out;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (isSecretKey(key)) info[key] = REDACTED;
    else if (typeof info[key] === 'object' && info[key] !== null) info[key] = redact(info[key]);
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
}

/** The root logger. JSON when stderr is not a TTY, human-readable when it is. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const isTty = 'isTTY' in stream && stream.isTTY === true;
  const format = options.format ?? (isTty ? 'human' : 'json');
  const human = winston.format.printf((info) => {
    const { level, message, timestamp, ...meta } = info;
    const rest = Object.keys(meta).length > 0 ? ' ' + JSON.stringify(meta) : '';
    return `${String(timestamp)} ${level}: ${String(message)}${rest}`;
  });
  return winston.createLogger({
    level: options.level ?? 'info',
    format: winston.format.combine(
      redactFormat(),
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
