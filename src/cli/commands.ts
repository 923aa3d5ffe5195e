import { writeFileSync } from 'node:fs';
import type { Env } from '../config/load.js';
import type { ExitCode } from '../errors.js';
import type { Notifier } from '../notify/notifier.js';
import { readPlanFile } from '../reconcile/saved-plan.js';
import { pendingToggles } from '../reconcile/pending-toggles.js';
import { jsonText, printable, renderPlan, useColor } from '../reconcile/render.js';
import { applyRun, planRun } from '../reconcile/run.js';
import { plural } from '../text.js';
import { configPath, openRunContext } from './context.js';
import type { CliIo } from './main.js';

export interface CommandEnv {
  io: CliIo;
  env: Env;
}

/** `dirsync plan`: the dry run. Prints what would change and why; writes nothing. */
export async function planCommand(
  ctx: CommandEnv,
  opts: { config?: string; json?: boolean; out?: string },
): Promise<ExitCode> {
  const run = openRunContext(configPath(opts.config, ctx.env), ctx.env, ctx.io.stderr, {
    lock: false,
  });
  try {
    const planned = await planRun(run.deps);
    if (opts.out !== undefined)
      writeFileSync(opts.out, JSON.stringify(planned.plan, null, 2) + '\n');
    if (opts.json === true) {
      ctx.io.stdout.write(
        jsonText({ ...planned.plan, rails: planned.trips, held: planned.verdict.held }) + '\n',
      );
    } else {
      ctx.io.stdout.write(renderPlan(planned.plan, { color: useColor(ctx.io.stdout, ctx.env) }));
      const pending = pendingToggles(run.deps.store.state);
      if (pending.length > 0) {
        ctx.io.stdout.write(
          `\n${plural(pending.length, 'suspension toggle')} sent by an earlier run ${pending.length === 1 ? 'is' : 'are'} not verified yet (${pending
            .slice(0, 5)
            .map((p) => printable(p.email))
            .join(
              ', ',
            )}${pending.length > 5 ? ', ...' : ''}): \`dirsync apply\` first waits api.settleMs from when each was sent, re-reads, and reports whether it landed; this plan may change then.\n`,
        );
      }
      if (planned.trips.length > 0) {
        const scope = (t: (typeof planned.trips)[number]): string => {
          if (!t.overridable) return 'stops the whole run';
          const n = planned.verdict.held.filter((h) => h.rails.includes(t.rail)).length;
          return `holds back ${n === 1 ? 'this action' : `these ${n} actions`}; the rest applies`;
        };
        ctx.io.stdout.write(
          `\nSafety rails that \`dirsync apply\` would trip:\n${planned.trips.map((t) => `  ${t.rail}: ${printable(t.message)} (${scope(t)})`).join('\n')}\n`,
        );
      }
      if (opts.out !== undefined)
        ctx.io.stdout.write(
          `\nPlan saved to ${opts.out}; apply exactly it with: dirsync apply --plan ${opts.out}\n`,
        );
    }
    // Exit 3 tells a script that apply would refuse this plan; --out has still saved it.
    return planned.trips.length > 0 ? 3 : 0;
  } finally {
    await run.close();
  }
}

/**
 * The line above apply's counts: what was sent and how much of it applied, so that a run whose
 * every action was skipped does not read "Applied".
 */
export function appliedHeadline(report: {
  durationMs: number;
  actions: readonly { outcome: string }[];
  held: readonly unknown[];
}): string {
  const took = `${(report.durationMs / 1000).toFixed(1)} s`;
  const sent = report.actions.length;
  const applied = report.actions.filter((a) => a.outcome === 'applied').length;
  if (sent === 0)
    return report.held.length > 0
      ? `Nothing applied (${took}): every planned action was held back.`
      : `Nothing to apply (${took}).`;
  if (applied === sent) return `Applied ${plural(applied, 'action')} in ${took}:`;
  return `${applied} of ${plural(sent, 'action')} applied in ${took}:`;
}

/** `dirsync apply`: one run, or exactly a reviewed plan with --plan. */
export async function applyCommand(
  ctx: CommandEnv,
  opts: { config?: string; plan?: string; force?: boolean; json?: boolean },
): Promise<ExitCode> {
  const reviewed = opts.plan === undefined ? undefined : readPlanFile(opts.plan);
  const configFile = configPath(opts.config, ctx.env);
  // SIGTERM or SIGINT stops the run within seconds: reads are cut, writes in flight get a few
  // seconds to be answered and are journaled, the lock is released, and apply exits 5. A second
  // signal exits at once (the lock goes with the process's exit hook).
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stop.signal.aborted) process.exit(5);
    ctx.io.stderr.write(
      `dirsync: ${signal}: stopping; no new action starts, writes in flight get a few seconds\n`,
    );
    stop.abort(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let run: ReturnType<typeof openRunContext> | undefined;
  let notifier: Notifier | undefined;
  try {
    run = openRunContext(configFile, ctx.env, ctx.io.stderr, {
      lock: true,
      signal: stop.signal,
    });
    const runId = run.runId;
    // Without webhooks there is nothing to notify: the notifier's code is not even loaded.
    if (run.loaded.config.notify.webhooks.length > 0) {
      const { Notifier } = await import('../notify/notifier.js');
      notifier = Notifier.forConfig(run.loaded.config, { logger: run.logger, env: ctx.env });
    }
    const { report, reportFile, plan } = await applyRun(run.deps, {
      runId: run.runId,
      force: opts.force === true,
      signal: stop.signal,
      ...(opts.config === undefined ? {} : { configFile }),
      ...(reviewed === undefined ? {} : { reviewed, reviewedFile: opts.plan }),
    }).catch((error: unknown) => {
      notifier?.runFinished({ runId, error });
      throw error;
    });
    notifier?.runFinished({ runId, report });
    if (opts.json === true) {
      ctx.io.stdout.write(jsonText(report) + '\n');
    } else {
      ctx.io.stdout.write(renderPlan(plan, { color: useColor(ctx.io.stdout, ctx.env) }));
      const lines = Object.entries(report.counts).map(
        ([kind, c]) =>
          `  ${kind}: ${Object.entries(c)
            .map(([o, n]) => `${n} ${o}`)
            .join(', ')}`,
      );
      ctx.io.stdout.write(`\n${appliedHeadline(report)}\n${lines.map((l) => `${l}\n`).join('')}`);
      for (const f of report.failures)
        ctx.io.stdout.write(`  FAILED ${f.kind} ${printable(f.email)}: ${printable(f.error)}\n`);
      for (const s of report.skipped)
        ctx.io.stdout.write(`  skipped ${s.kind} ${printable(s.email)}: ${printable(s.reason)}\n`);
      if (report.held.length > 0) {
        const cfg = opts.config === undefined ? '' : ` --config ${configFile}`;
        ctx.io.stdout.write(
          `\nHeld back by safety budgets, not sent (${report.held.length}):\n` +
            report.held
              .map((h) => `  held ${h.kind} ${printable(h.email)}: ${printable(h.heldBy)}\n`)
              .join('') +
            `Everything else was applied. The held actions are saved in ${report.planFile ?? '(not saved)'}.\n` +
            `Review them, then apply exactly them with: dirsync apply${cfg} --plan ${report.planFile ?? 'FILE'}\n` +
            `(or send everything with: dirsync apply${cfg} --force; or raise the limits under safety: in the config)\n`,
        );
      }
      for (const u of report.unclear)
        ctx.io.stdout.write(`  UNCLEAR ${u.kind} ${printable(u.email)}: ${printable(u.reason)}\n`);
      for (const v of report.togglesVerified)
        ctx.io.stdout.write(
          `  earlier toggle of ${printable(v.email)} verified: ${printable(v.detail)}\n`,
        );
      if (report.stopped !== undefined)
        ctx.io.stdout.write(
          `STOPPED: ${report.stopped.reason}\n  To fix: ${report.stopped.hint}\n`,
        );
      ctx.io.stdout.write(`Report: ${reportFile}\n`);
    }
    if (report.stopped !== undefined) {
      ctx.io.stderr.write(
        `dirsync: apply stopped: ${report.stopped.reason}\nTo fix: ${report.stopped.hint}\n`,
      );
      // 5: stopped by a signal or a lost lock; 1: the token was refused.
      return report.stopped.signal === undefined ? 1 : 5;
    }
    // 4: some actions failed or are unclear; 3: a budget held some back (the rest applied).
    return report.failures.length > 0 || report.unclear.length > 0
      ? 4
      : report.held.length > 0
        ? 3
        : 0;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await run?.close();
    // The run is over: posts still in flight get a few seconds, never more.
    await notifier?.close();
    // A directory read that cannot be cut may still hold a socket: do not let it keep a
    // stopped run alive.
    if (stop.signal.aborted) setTimeout(() => process.exit(process.exitCode ?? 5), 2_000).unref();
  }
}
