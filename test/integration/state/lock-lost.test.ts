import { renameSync, readFileSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { openRunContext, type RunContext } from '../../../src/cli/context.js';
import { writeDaemonConfig } from '../daemon/support.js';

let run: RunContext | undefined;
afterEach(async () => {
  await run?.close();
  run = undefined;
});

describe('a run whose lock is taken from it', () => {
  it('is stopped (signal reason lock-lost) and leaves the new holder its lock', async () => {
    // Arrange: a run holding its lock, with a heartbeat every third of a second.
    const { configFile, statePath } = writeDaemonConfig({
      apiUrl: 'http://127.0.0.1:9',
      cron: '0 * * * *',
    });
    const config = parse(readFileSync(configFile, 'utf8')) as Record<string, object>;
    config['state'] = { ...config['state'], lockStaleAfter: '1s' };
    writeFileSync(configFile, stringify(config));
    const logs = new PassThrough();
    let logged = '';
    logs.on('data', (c: Buffer) => (logged += c.toString()));
    run = openRunContext(configFile, {}, logs, { lock: true });
    const signal = run.deps.signal!;

    // Act: another run takes it over (it judged this one stale).
    writeFileSync(`${statePath}.lock.other`, '{"token":"other","pid":4242,"heartbeatMs":333}');
    renameSync(`${statePath}.lock.other`, `${statePath}.lock`);
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));

    // Assert
    expect(signal.reason).toBe('lock-lost');
    expect(logged).toContain('run lock lost: stopping this run');
    await run.close();
    run = undefined;
    expect(JSON.parse(readFileSync(`${statePath}.lock`, 'utf8'))).toMatchObject({ token: 'other' });
  });
});
