import { rmSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { auditDir, readAudit } from '../../../src/audit/audit-log.js';
import { openRunContext } from '../../../src/cli/context.js';
import { startDaemon, type Daemon } from '../../../src/daemon/daemon.js';
import type { Trigger } from '../../../src/daemon/scheduler.js';
import { createLogger } from '../../../src/log.js';
import type { MockServer } from '../../../src/mock/server.js';
import { Notifier } from '../../../src/notify/notifier.js';
import { startReceiver, type Answer, type Receiver } from '../../support/receiver.js';
import { demoConfig, startDemoMock } from '../audit/support.js';

/** Never due by itself: the tests tick the scheduler. */
const idle: Trigger = { start: () => {}, stop: () => {}, intervalMs: () => 60_000 };
const SECRET_PATH = '/hooks/daemon-s3cr3t';

let mock: MockServer | undefined;
let daemon: Daemon | undefined;
let receiver: Receiver | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await daemon?.stop('test over');
  daemon = undefined;
  await receiver?.close();
  receiver = undefined;
  await mock?.close();
  mock = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The daemon in-process on the demo directory, rita holding mia's card, one webhook. */
async function daemonWith(
  answer: () => Answer,
): Promise<{ logs: () => string; configFile: string }> {
  mock = await startDemoMock({ cardClash: true });
  receiver = await startReceiver(answer);
  const webhookUrl = receiver.url + SECRET_PATH;
  const { dir, configFile } = demoConfig(mock.url, (c) => {
    c['notify'] = { webhooks: [{ name: 'ops', url: webhookUrl, timeoutMs: 60_000 }] };
  });
  dirs.push(dir);
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  const logger = createLogger({ level: 'debug', format: 'json', stream });
  const probe = openRunContext(configFile, {}, stream, { lock: false });
  await probe.close();
  const { config } = probe.loaded;
  daemon = await startDaemon({
    schedule: config.schedule,
    server: config.server,
    openRun: (observer) => openRunContext(configFile, {}, stream, { lock: true, observer }),
    logger,
    notifier: Notifier.forConfig(config, { logger, env: {} }),
    trigger: idle,
    shutdownTimeoutMs: 5_000,
  });
  return { logs: () => text, configFile };
}

describe('dirsync daemon: audit and notifications', () => {
  it('writes each run to the audit log, notifies failed actions, then once when a run recovers', async () => {
    const { logs, configFile } = await daemonWith(() => ({ status: 200 }));
    await daemon!.scheduler.idle();
    await receiver!.waitFor(1);

    // The first run failed mia's card (rita held it) and took rita's away: the next one succeeds.
    daemon!.scheduler.tick('schedule');
    await daemon!.scheduler.idle();
    await receiver!.waitFor(2);
    daemon!.scheduler.tick('schedule');
    await daemon!.scheduler.idle();

    const bodies = receiver!.received.map((r) => r.body as Record<string, unknown>);
    expect(bodies.map((b) => b['event'])).toEqual(['actions_failed', 'recovered']);
    expect(bodies[0]).toMatchObject({
      failuresTotal: 1,
      failures: [expect.objectContaining({ email: 'mia.ops@corp.example.com' })],
    });
    const config = openRunContext(configFile, {}, new PassThrough(), { lock: false });
    await config.close();
    const runs = new Set(readAudit(auditDir(config.loaded.config)).entries.map((e) => e.runId));
    expect(runs.size).toBe(2); // the third run had nothing to do
    expect(logs()).not.toContain('s3cr3t');
  });

  it('finishes a run while its notification hangs, and stops within the bounded wait', async () => {
    const { logs } = await daemonWith(() => 'hang');
    await daemon!.scheduler.idle();
    await receiver!.waitFor(1);

    expect(daemon!.readiness.check()).toMatchObject({ lastRun: { outcome: 'partial' } });
    const began = Date.now();
    expect(await daemon!.stop('test')).toBe('clean');
    daemon = undefined;

    expect(Date.now() - began).toBeLessThan(5_000 + 2_000);
    expect(logs()).toContain('notifications still in flight at exit; dropped');
    expect(logs()).not.toContain('s3cr3t');
  });
});
