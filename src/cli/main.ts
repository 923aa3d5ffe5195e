import { Command, CommanderError, InvalidArgumentError } from 'commander';
import {
  ConfigError,
  DirsyncError,
  EXIT_CODES,
  describeError,
  exitCodeFor,
  type ExitCode,
} from '../errors.js';
import { escapeControl } from '../text.js';
import type { Env } from '../config/load.js';
import type { MockApiOptions } from './mock-api-command.js';

// Fast start: this module imports only commander and the error texts. Each command's action
// imports its own modules when it runs (`await import(...)`), so `--version` and `--help` load no
// ldapts, undici, zod, winston or prom-client, and a plan loads no daemon, mock or SCIM code.
// A new command follows the same pattern (test/e2e/lazy-loading.test.ts checks it).

const VERSION = '0.1.0';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new InvalidArgumentError('expected a port number between 0 and 65535');
  }
  return n;
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError('expected a whole number, 1 or more');
  return n;
}

function buildProgram(
  io: CliIo,
  running: Promise<unknown>[],
  result: { code: ExitCode },
  env: Env,
): Command {
  const ctx = { io, env };
  const program = new Command('dirsync')
    .description('Keeps an organization in the Users API in step with LDAP / Active Directory')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });

  program.version(VERSION, '-V, --version', 'print the version');
  program.addHelpText('after', EXIT_CODES_HELP);

  program
    .command('plan')
    .description('dry run: show what would change, and why (writes nothing)')
    .option('--config <file>', 'config file (default: $DIRSYNC_CONFIG or ./dirsync.yaml)')
    .option('--json', 'print the plan as one JSON object')
    .option('--out <file>', 'save the plan for review; apply exactly it with `apply --plan`')
    .action(async (opts: { config?: string; json?: boolean; out?: string }) => {
      const { planCommand } = await import('./commands.js');
      result.code = await planCommand(ctx, opts);
    });

  program
    .command('apply')
    .description('one run: read, plan, check the safety rails, apply and report')
    .option('--config <file>', 'config file (default: $DIRSYNC_CONFIG or ./dirsync.yaml)')
    .option(
      '--plan <file>',
      'apply exactly this reviewed plan (from `plan --out`), skipping actions whose target changed',
    )
    .option('--force', 'apply even when a budget rail (maxDeletes, maxSuspends, ...) trips')
    .option('--json', 'print the run report as JSON')
    .action(async (opts: { config?: string; plan?: string; force?: boolean; json?: boolean }) => {
      const { applyCommand } = await import('./commands.js');
      result.code = await applyCommand(ctx, opts);
    });

  program
    .command('daemon')
    .description(
      'run on schedule.cron (and once at start); serve /healthz, /readyz and /metrics on server.port',
    )
    .option('--config <file>', 'config file (default: $DIRSYNC_CONFIG or ./dirsync.yaml)')
    .action(async (opts: { config?: string }) => {
      const { daemonCommand } = await import('./daemon-command.js');
      result.code = await daemonCommand(ctx, opts);
    });

  program
    .command('check')
    .description(
      'check the config, the state folder and run lock, the LDAP bind and search, API auth and write rights (by a write that changes nothing); print counts',
    )
    .option('--config <file>', 'config file (default: $DIRSYNC_CONFIG or ./dirsync.yaml)')
    .action(async (opts: { config?: string }) => {
      const { checkCommand } = await import('./inspect.js');
      result.code = await checkCommand(ctx, opts);
    });

  program
    .command('explain')
    .argument('<email>', 'the user to explain')
    .description(
      'one user: directory entry, organization entry, the rules that apply and the actions that would follow',
    )
    .option('--config <file>', 'config file (default: $DIRSYNC_CONFIG or ./dirsync.yaml)')
    .action(async (email: string, opts: { config?: string }) => {
      const { explainCommand } = await import('./inspect.js');
      result.code = await explainCommand(ctx, email, opts);
    });

  program
    .command('history')
    .argument('[user]', 'only this user: an email (any case) or an email_id')
    .description('the audit trail: every action applied, failed, skipped or held, oldest first')
    .option('--config <file>', 'config file (default: $DIRSYNC_CONFIG or ./dirsync.yaml)')
    .option('--since <when>', 'only entries since a duration ago (7d, 12h) or a date (2026-11-01)')
    .option('--json', 'print the entries as JSON Lines, one object a line')
    .action(
      async (
        user: string | undefined,
        opts: { config?: string; since?: string; json?: boolean },
      ) => {
        const { historyCommand } = await import('./history.js');
        result.code = historyCommand(ctx, user, opts);
      },
    );

  program
    .command('demo')
    .description('the embedded demo: mock API + bundled directory; plan, apply, plan again')
    .action(async () => {
      const { demoCommand } = await import('./demo.js');
      result.code = await demoCommand(ctx);
    });

  program
    .command('status')
    .description(
      'the last runs: outcome, counts, rails tripped, held actions and the plan to review (from the state folder, offline)',
    )
    .option('--config <file>', 'config file (default: $DIRSYNC_CONFIG or ./dirsync.yaml)')
    .option('--runs <n>', 'how many runs to show', parseCount, 5)
    .option('--json', 'print the runs as one JSON object')
    .action(async (opts: { config?: string; runs: number; json?: boolean }) => {
      const { statusCommand } = await import('./status.js');
      result.code = statusCommand(ctx, opts);
    });

  const config = program.command('config').description('about the config file');
  config
    .command('schema')
    .description('print the JSON Schema of the config file (editors use it for hovers)')
    .action(async () => {
      const { configSchemaText } = await import('../config/json-schema.js');
      io.stdout.write(configSchemaText());
    });
  config
    .command('validate')
    .description(
      'check the config file offline: keys, ${ENV} values, secret files, LDAP filters, CA files',
    )
    .option('--config <file>', 'config file (default: $DIRSYNC_CONFIG or ./dirsync.yaml)')
    .action(async (opts: { config?: string }) => {
      const { configValidateCommand } = await import('./config-init.js');
      result.code = configValidateCommand(ctx, opts);
    });
  config
    .command('init')
    .description('write a commented starter config for Active Directory or OpenLDAP')
    .option('--flavor <flavor>', 'ad or openldap', 'ad')
    .option('--out <file>', 'where to write it (- for stdout)', './dirsync.yaml')
    .option('--force', 'replace the file if it exists')
    .action(async (opts: { flavor: string; out: string; force?: boolean }) => {
      const { configInitCommand } = await import('./config-init.js');
      result.code = configInitCommand(ctx, opts);
    });

  program
    .command('mock-api')
    .description('serve the mock Users API (docs/users-api.md), for tests and demos')
    .requiredOption('--seed <file>', 'seed file (YAML or JSON): organizations, tokens and users')
    .option('--port <port>', 'port to listen on (0 picks a free one)', parsePort, 8080)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option(
      '--faults <file>',
      'faults file (YAML or JSON): latency, 429s, 5xx, dropped answers, cached or repeated listings',
    )
    .option('--log-level <level>', 'error, warn, info or debug', 'info')
    .addHelpText('after', MOCK_API_HELP)
    .action(async (opts: MockApiOptions) => {
      const { mockApiCommand } = await import('./mock-api-command.js');
      running.push((await mockApiCommand(ctx, opts)).closed);
    });

  return program;
}

/** The exit codes, from `errors.ts`'s EXIT_CODES. */
const EXIT_CODES_HELP = `
Exit codes:
${Object.entries(EXIT_CODES)
  .map(([code, meaning]) => `  ${code}  ${meaning}`)
  .join('\n')}
`;

const MOCK_API_HELP = `
Faults file keys, per endpoint path or "*" (an endpoint's entry adds to "*"), plus seed:
  latencyMs: 50 | [1500, 3000]   delay before answering (and before applying a write)
  rate429, retryAfterSeconds     share answered 429 (nothing applied)
  rate5xx                        share answered 503 (nothing applied)
  dropAfterCommit                share applied, then the connection cut unanswered
  "/multipleusers" only:
  cacheListingsMs: 5000          serve a cached copy per token+query, like an API gateway
  cacheIgnoresNoCache: true      ...even when asked with Cache-Control/Pragma: no-cache
  duplicateRows: 0.1 | [emails]  repeat rows (a share of users, or these users)
  duplicateRowsInto: both        same (twice in its listing) | other (also in the other tag's) | both

Test surface (no auth, never faulted):
  GET    /_mock/state              the whole state
  GET    /_mock/requests           every API request served: method, path, params, status, fault
  DELETE /_mock/requests           clear the request log
  POST   /_mock/users/{email_id}   a hand edit, JSON: ad_status, rank, tag, computer_usernames,
                                   smartcards, first_name, last_name
  DELETE /_mock/users/{email_id}   remove a user by hand
  PUT    /_mock/faults             replace the faults (a faults file as JSON); clears the cache
  DELETE /_mock/cache              clear the listing cache
`;

/** Runs the CLI; resolves to the process exit code. Never throws. */
export async function main(
  argv: readonly string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
  env: Env = process.env,
): Promise<ExitCode> {
  const running: Promise<unknown>[] = [];
  const result: { code: ExitCode } = { code: 0 };
  const program = buildProgram(io, running, result, env);
  try {
    await program.parseAsync([...argv]);
    await Promise.all(running);
    return result.code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander already printed its message; help and version are not failures.
      return error.exitCode === 0 ? 0 : 2;
    }
    return reportError(error, io);
  }
}

function reportError(error: unknown, io: CliIo): ExitCode {
  const code = exitCodeFor(error);
  const debug = process.env['DIRSYNC_DEBUG'] === '1';
  // Outside values are escaped where they enter a message; this catches any that were not.
  const safe = (text: string): string => escapeControl(text, { keepNewlines: true });
  io.stderr.write(`error: ${safe(describeError(error))}\n`);
  if (error instanceof DirsyncError && error.hint !== undefined)
    io.stderr.write(`To fix: ${safe(error.hint)}\n`);
  else if (!(error instanceof ConfigError) && !(error instanceof DirsyncError)) {
    io.stderr.write(
      'To fix: this looks like a bug in dirsync; rerun with DIRSYNC_DEBUG=1 and report the output\n',
    );
  }
  if (debug && error instanceof Error && error.stack !== undefined)
    io.stderr.write(`${error.stack}\n`);
  return code;
}
