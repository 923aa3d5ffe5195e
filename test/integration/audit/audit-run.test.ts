import { readFileSync, rmSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { auditDir, readAudit } from '../../../src/audit/audit-log.js';
import { openRunContext } from '../../../src/cli/context.js';
import { DirectoryError, SafetyError } from '../../../src/errors.js';
import type { MockServer } from '../../../src/mock/server.js';
import { applyRun, type RunReport } from '../../../src/reconcile/run.js';
import { stateUser } from '../../support/mock.js';
import { demoConfig, startDemoMock } from './support.js';

let mock: MockServer | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await mock?.close();
  mock = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The config as `demoConfig` hands it to a patch. */
type DemoConfig = Record<string, Record<string, unknown>>;

/** A run that writes one `run` line: how its config is patched, what it throws, that line. */
interface FailedRun {
  patch: (c: DemoConfig) => void;
  error: abstract new (...args: never[]) => Error;
  line: Record<string, unknown>;
}

/** Starts the demo mock (`mock`) and writes the demo config for it, patched by `patch`. */
async function demo(
  patch?: (config: DemoConfig) => void,
  options: { cardClash?: boolean } = {},
): Promise<string> {
  mock = await startDemoMock(options);
  const { dir, configFile } = demoConfig(mock.url, patch);
  dirs.push(dir);
  return configFile;
}

/** Opens a run context on `configFile` with its JSON log lines collected. */
function open(configFile: string): {
  run: ReturnType<typeof openRunContext>;
  logs: () => Record<string, unknown>[];
} {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  const run = openRunContext(configFile, {}, stream, { lock: true });
  return {
    run,
    logs: () =>
      text
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('the audit trail of a run', () => {
  it('writes every action applied, failed or skipped once, with who, what, why and the outcome; the report lists them', async () => {
    const { run, logs } = open(await demo(undefined, { cardClash: true }));

    let report: RunReport;
    let reportFile: string;
    try {
      ({ report, reportFile } = await applyRun(run.deps, { runId: run.runId }));
    } finally {
      await run.close();
    }

    const { entries, skipped } = readAudit(auditDir(run.loaded.config));
    expect(skipped).toEqual([]);
    expect(report.actions.length).toBeGreaterThan(10);
    // One line per action of the report, in any order, none twice.
    const key = (a: { kind: string; email: string; outcome: string }): string =>
      `${a.kind} ${a.email} ${a.outcome}`;
    expect(entries.map(key).sort()).toEqual(report.actions.map(key).sort());
    expect(new Set(entries.map((e) => `${e.kind} ${e.email}`)).size).toBe(entries.length);
    expect(entries.every((e) => e.runId === run.runId)).toBe(true);

    const failed = entries.find((e) => e.outcome === 'failed');
    expect(failed).toMatchObject({
      kind: 'set_smartcards',
      email: 'mia.ops@corp.example.com',
      before: [],
      after: ['555001'],
      error: expect.stringContaining('400') as unknown,
    });
    expect(report.actions).toContainEqual({
      kind: 'set_smartcards',
      email: 'mia.ops@corp.example.com',
      outcome: 'failed',
      error: failed!.error,
    });
    const suspend = entries.find((e) => e.kind === 'suspend' && e.email.startsWith('fred.'));
    expect(suspend).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown,
      runId: run.runId,
      kind: 'suspend',
      email: 'fred.former@corp.example.com',
      email_id: expect.any(Number) as unknown,
      before: 'ACTIVE',
      after: 'SUSPENDED',
      reason: expect.stringContaining('not in the directory') as unknown,
      outcome: 'applied',
      error: null,
    });
    // The report on disk lists the actions too, not only counts.
    const onDisk = JSON.parse(readFileSync(reportFile, 'utf8')) as RunReport;
    expect(onDisk.actions).toEqual(report.actions);

    // Applied actions are logged at info, one line each; failures stay at warn.
    const appliedLines = logs().filter((l) => l['message'] === 'action applied');
    const applied = entries.filter((e) => e.outcome === 'applied');
    expect(appliedLines.map((l) => `${String(l['kind'])} ${String(l['email'])}`).sort()).toEqual(
      applied.map((e) => `${e.kind} ${e.email}`).sort(),
    );
    expect(appliedLines.every((l) => l['level'] === 'info' && l['runId'] === run.runId)).toBe(true);
  });

  it('appends each run to the log of the runs before it', async () => {
    // mia's card clashes with rita's: the first run fails it, the second (rita's card gone) sends it again.
    const configFile = await demo(undefined, { cardClash: true });
    const first = open(configFile).run;
    await applyRun(first.deps, { runId: first.runId }).finally(() => first.close());
    const before = readAudit(auditDir(first.loaded.config)).entries;

    const second = open(configFile).run;
    await applyRun(second.deps, { runId: second.runId }).finally(() => second.close());

    const after = readAudit(auditDir(second.loaded.config)).entries;
    expect(after.slice(0, before.length)).toEqual(before);
    const added = after.slice(before.length);
    expect(added.every((e) => e.runId === second.runId)).toBe(true);
    expect(added.map((e) => `${e.kind} ${e.email}`)).toContain(
      'set_smartcards mia.ops@corp.example.com',
    );
  });

  it('writes the actions a budget held back as outcome held, with the rail that held them', async () => {
    const { run } = open(
      await demo((c) => {
        c['safety'] = { maxSuspends: 0, maxSuspendPercent: 0 };
      }),
    );

    const { report } = await applyRun(run.deps, { runId: run.runId }).finally(() => run.close());

    expect(report.held.length).toBeGreaterThan(0);
    const held = readAudit(auditDir(run.loaded.config)).entries.filter((e) => e.outcome === 'held');
    expect(held.map((e) => `${e.kind} ${e.email}`).sort()).toEqual(
      report.held.map((h) => `${h.kind} ${h.email}`).sort(),
    );
    expect(held[0]).toMatchObject({
      runId: run.runId,
      kind: 'suspend',
      before: 'ACTIVE',
      after: 'SUSPENDED',
      error: expect.stringContaining('maxSuspends') as unknown,
    });
  });

  it("writes what it found about a toggle an earlier run left unresolved, completing that run's line", async () => {
    const configFile = await demo();
    const sam = await stateUser(mock!.url, 'sam.sales@corp.example.com', 'corp');
    const { run } = open(configFile);
    // An earlier run sent sam's suspension and died (or lost the answer) before knowing.
    run.deps.store.record({
      type: 'user',
      emailId: sam!.email_id,
      set: {
        email: 'sam.sales@corp.example.com',
        pendingToggle: { want: 'SUSPENDED', from: 'ACTIVE', sentAt: '2026-11-01T00:00:00.000Z' },
      },
    });

    await applyRun(run.deps, { runId: run.runId }).finally(() => run.close());

    const entries = readAudit(auditDir(run.loaded.config), {
      user: 'sam.sales@corp.example.com',
    }).entries;
    expect(entries).toContainEqual(
      expect.objectContaining({
        runId: run.runId,
        kind: 'suspend',
        after: 'SUSPENDED',
        outcome: 'verified-landed',
        reason: expect.stringContaining('2026-11-01T00:00:00.000Z') as unknown,
      }),
    );
  });

  it.each<[string, FailedRun]>([
    [
      'a refused run as one `run` line naming its rails, and no action line',
      {
        // No SUPER group: the plan would leave the organization without a SUPER, an invariant.
        patch: (c: DemoConfig) => {
          c['rules'] = { ...c['rules'], ranks: { SUPER: [], ADMIN: [] } };
        },
        error: SafetyError,
        line: {
          email: '',
          email_id: null,
          outcome: 'refused',
          rails: [{ rail: 'lastSuper', message: expect.stringContaining('SUPER') as unknown }],
        },
      },
    ],
    [
      'a run that stops on an error as one `run` line with the error',
      {
        patch: (c: DemoConfig) => {
          c['source'] = { ...c['source'], file: '/nonexistent/dirsync/missing.ldif' };
        },
        error: DirectoryError,
        line: { outcome: 'failed', error: expect.stringContaining('missing.ldif') as unknown },
      },
    ],
  ])('writes %s', async (_what, { patch, error: errorClass, line }) => {
    const { run } = open(await demo(patch));

    const error = await applyRun(run.deps, { runId: run.runId })
      .catch((e: unknown) => e)
      .finally(() => run.close());

    expect(error).toBeInstanceOf(errorClass);
    expect(readAudit(auditDir(run.loaded.config)).entries).toEqual([
      expect.objectContaining({ runId: run.runId, kind: 'run', ...line }),
    ]);
  });
});
