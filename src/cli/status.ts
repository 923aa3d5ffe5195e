import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { auditDir, readAudit } from '../audit/audit-log.js';
import { loadConfig } from '../config/load.js';
import type { ExitCode } from '../errors.js';
import { printable } from '../reconcile/render.js';
import { reportsFolder } from '../state/folders.js';
import { plural } from '../text.js';
import type { CommandEnv } from './commands.js';
import { configPath } from './config-path.js';

/**
 * What `dirsync status` reads of a run report (reconcile/run.ts's RunReport), permissively: a
 * report written by another version still shows what it has.
 */
const SavedReport = z.looseObject({
  runId: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  durationMs: z.number().optional(),
  mode: z.string().optional(),
  outcome: z.string(),
  rails: z
    .looseObject({
      tripped: z.array(z.looseObject({ rail: z.string(), message: z.string() })).default([]),
      forced: z.boolean().default(false),
    })
    .optional(),
  held: z.array(z.looseObject({ kind: z.string(), email: z.string() })).default([]),
  planFile: z.string().optional(),
  counts: z.record(z.string(), z.record(z.string(), z.number())).default({}),
  failures: z.array(z.unknown()).default([]),
  unclear: z.array(z.unknown()).default([]),
  stopped: z.looseObject({ reason: z.string() }).optional(),
});

/** One run as `status` shows it: from its report, or from the audit line of a failed run. */
export interface RunStatus {
  runId: string;
  startedAt: string;
  /** applied, held, refused (from the report) or failed (the run stopped on an error). */
  outcome: string;
  mode?: string;
  durationMs?: number;
  /** Actions by outcome, over every kind: `{ applied: 9, failed: 1 }`. */
  totals: Record<string, number>;
  /** Actions by kind and outcome, as the report has them. */
  counts: Record<string, Record<string, number>>;
  railsTripped: { rail: string; message: string }[];
  forced: boolean;
  held: number;
  /** The saved plan to review (held actions, or the whole refused plan). */
  planFile?: string;
  reportFile?: string;
  /** Why a failed or stopped run ended. */
  error?: string;
}

function fromReport(file: string): RunStatus | undefined {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const parsed = SavedReport.safeParse(data);
  if (!parsed.success) return undefined;
  const r = parsed.data;
  const totals: Record<string, number> = {};
  for (const byOutcome of Object.values(r.counts))
    for (const [outcome, n] of Object.entries(byOutcome))
      totals[outcome] = (totals[outcome] ?? 0) + n;
  return {
    runId: r.runId,
    startedAt: r.startedAt,
    outcome: r.outcome,
    ...(r.mode === undefined ? {} : { mode: r.mode }),
    ...(r.durationMs === undefined ? {} : { durationMs: r.durationMs }),
    totals,
    counts: r.counts,
    railsTripped: (r.rails?.tripped ?? []).map((t) => ({ rail: t.rail, message: t.message })),
    forced: r.rails?.forced ?? false,
    held: r.held.length,
    ...(r.planFile === undefined ? {} : { planFile: r.planFile }),
    reportFile: file,
    ...(r.stopped === undefined ? {} : { error: `stopped: ${r.stopped.reason}` }),
  };
}

/**
 * The newest `limit` runs recorded beside the state record, newest first: each run report
 * (`reports/run-*.json`), and the audit log's line for each run that stopped on an error
 * (which writes no report).
 */
export function recentRuns(
  config: Parameters<typeof auditDir>[0],
  limit: number,
): { runs: RunStatus[]; reportsDir: string } {
  const reportsDir = reportsFolder(config.state.path);
  let names: string[] = [];
  try {
    names = readdirSync(reportsDir).filter((f) => /^run-.*\.json$/.test(f));
  } catch {
    // No run has written a report yet.
  }
  // The names carry the start time, so they sort by it.
  const reports = names
    .sort()
    .reverse()
    .slice(0, limit)
    .map((f) => fromReport(join(reportsDir, f)))
    .filter((r): r is RunStatus => r !== undefined);
  // Failed runs since the oldest report shown (or all, when fewer reports than asked for).
  const since =
    reports.length >= limit ? new Date(reports[reports.length - 1]!.startedAt) : undefined;
  const failed: RunStatus[] = [];
  try {
    const { entries } = readAudit(auditDir(config), since === undefined ? {} : { since });
    for (const e of entries)
      if (e.kind === 'run' && e.outcome === 'failed')
        failed.push({
          runId: e.runId,
          startedAt: e.time,
          outcome: 'failed',
          totals: {},
          counts: {},
          railsTripped: [],
          forced: false,
          held: 0,
          ...(e.error === null ? {} : { error: e.error }),
        });
  } catch {
    // No audit log (yet): reports only.
  }
  const runs = [...reports, ...failed]
    .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0))
    .slice(0, limit);
  return { runs, reportsDir };
}

/** One run in a few lines: when, outcome, counts; rails, held actions and the plan to review. */
export function formatRun(run: RunStatus, configOption: string): string[] {
  const when = `${run.startedAt.slice(0, 10)} ${run.startedAt.slice(11, 19)}Z`;
  const totals = Object.entries(run.totals)
    .filter(([, n]) => n > 0)
    .map(([o, n]) => `${n} ${o}`);
  const took = run.durationMs === undefined ? '' : ` in ${(run.durationMs / 1000).toFixed(1)} s`;
  const what =
    run.outcome === 'failed'
      ? 'failed'
      : run.outcome === 'refused'
        ? 'refused by the safety rails, nothing sent'
        : totals.length === 0
          ? `${run.outcome}${took}: nothing to do`
          : `${run.outcome}${took}: ${totals.join(', ')}`;
  const lines = [
    `${when}  run ${run.runId}${run.mode === 'apply-plan' ? ' (apply --plan)' : ''}  ${what}`,
  ];
  if (run.error !== undefined) lines.push(`    error: ${printable(run.error)}`);
  for (const t of run.railsTripped)
    lines.push(`    rail ${t.rail}${run.forced ? ' (forced)' : ''}: ${printable(t.message)}`);
  if (run.held > 0) lines.push(`    held back: ${plural(run.held, 'action')}, not sent`);
  if (run.planFile !== undefined)
    lines.push(
      `    review: ${printable(run.planFile)}; apply exactly it with: dirsync apply${configOption} --plan ${printable(run.planFile)}`,
    );
  return lines;
}

/** `dirsync status [--runs N] [--json]`: the last runs, from the state folder and the audit log. */
export function statusCommand(
  ctx: CommandEnv,
  opts: { config?: string; runs?: number; json?: boolean },
): ExitCode {
  const path = configPath(opts.config, ctx.env);
  const { config } = loadConfig(path, ctx.env);
  const { runs, reportsDir } = recentRuns(config, opts.runs ?? 5);
  if (opts.json === true) {
    ctx.io.stdout.write(
      JSON.stringify({ statePath: config.state.path, reportsDir, runs }, null, 2) + '\n',
    );
    return 0;
  }
  if (runs.length === 0) {
    ctx.io.stdout.write(
      `no runs recorded yet in ${reportsDir} (\`dirsync apply\` or the daemon writes one per run)\n`,
    );
    return 0;
  }
  const cfg = opts.config === undefined ? '' : ` --config ${opts.config}`;
  const lines = [
    `Last ${plural(runs.length, 'run')}, newest first (reports in ${reportsDir}):`,
    ...runs.flatMap((r) => formatRun(r, cfg).map((l) => `  ${l}`)),
  ];
  ctx.io.stdout.write(lines.join('\n') + '\n');
  return 0;
}
