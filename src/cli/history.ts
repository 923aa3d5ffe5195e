import { auditDir, readAudit, type AuditEntry } from '../audit/audit-log.js';
import { loadConfig } from '../config/load.js';
import { durationMs } from '../config/schema.js';
import { ConfigError, type ExitCode } from '../errors.js';
import type { CommandEnv } from './commands.js';
import { configPath } from './config-path.js';

/**
 * `--since`: a duration back from now (`7d`, `12h`, `30m`), a day (`2026-11-01`, UTC) or an
 * ISO 8601 time.
 */
export function parseSince(value: string, now: Date): Date {
  const text = value.trim();
  if (/^\d+(ms|s|m|h|d)$/.test(text)) return new Date(now.getTime() - durationMs(text));
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const day = new Date(`${text}T00:00:00.000Z`);
    if (!Number.isNaN(day.getTime()) && day.toISOString().startsWith(text)) return day;
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(text)) {
    const time = new Date(text);
    if (!Number.isNaN(time.getTime())) return time;
  }
  throw new ConfigError(`--since ${JSON.stringify(value)} is neither a duration nor a date`, {
    hint: 'give a duration back from now (7d, 12h, 30m), a day (2026-11-01) or an ISO time (2026-11-01T08:00:00Z)',
  });
}

/** Control characters (a hostile directory value) shown escaped, never sent to the terminal. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) =>
    c === '\n' ? '\\n' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function value(v: unknown): string {
  if (v === null || v === undefined) return '(none)';
  if (Array.isArray(v)) return v.length === 0 ? '[]' : `[${v.map((x) => value(x)).join(', ')}]`;
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** One entry for people: time, outcome, kind, email, before -> after, reason (or error). */
export function formatEntry(e: AuditEntry): string {
  const time = `${e.time.slice(0, 10)} ${e.time.slice(11, 19)}Z`;
  const who = e.kind === 'run' ? '-' : e.email;
  const change = e.kind === 'run' ? '' : `  ${value(e.before)} -> ${value(e.after)}`;
  const why =
    e.kind === 'run'
      ? (e.error ?? e.reason)
      : e.error === null || e.error === ''
        ? e.reason
        : `${e.error} (planned: ${e.reason})`;
  return printable(
    `${time}  ${e.outcome.padEnd(9)} ${e.kind.padEnd(22)} ${who}${change}  ${why}  [run ${e.runId}]`,
  );
}

/** `dirsync history [<user>] [--since D] [--json]`: the audit trail, oldest first. */
export function historyCommand(
  ctx: CommandEnv,
  user: string | undefined,
  opts: { config?: string; since?: string; json?: boolean },
  now: Date = new Date(),
): ExitCode {
  const since = opts.since === undefined ? undefined : parseSince(opts.since, now);
  const { config } = loadConfig(configPath(opts.config, ctx.env), ctx.env);
  const dir = auditDir(config);
  const { entries, skipped } = readAudit(dir, {
    ...(since === undefined ? {} : { since }),
    ...(user === undefined ? {} : { user }),
  });
  for (const s of skipped) {
    ctx.io.stderr.write(
      `warning: audit log ${s.file} line ${s.line} is not a whole entry (cut short by a crash?); skipped\n`,
    );
  }
  if (entries.length === 0) {
    const filters = [
      ...(user === undefined ? [] : [`for ${printable(user)}`]),
      ...(since === undefined ? [] : [`since ${since.toISOString()}`]),
    ];
    ctx.io.stdout.write(
      `no audit entries${filters.length === 0 ? '' : ' ' + filters.join(' ')} in ${dir}\n`,
    );
    return 0;
  }
  // `dirsync history | head` closes the pipe early: that is not an error.
  ctx.io.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  const lines = entries.map((e) => (opts.json === true ? JSON.stringify(e) : formatEntry(e)));
  ctx.io.stdout.write(lines.join('\n') + '\n');
  return 0;
}
