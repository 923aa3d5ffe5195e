import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { readFileSync, writeFileSync } from 'node:fs';
import { writeDaemonConfig } from '../integration/daemon/support.js';
import { runCli } from './support.js';

let held: Server | undefined;
afterEach(() => {
  held?.close();
  held = undefined;
});

/** A loopback port another program holds. */
async function busyPort(): Promise<number> {
  const s = createServer();
  held = s;
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return (s.address() as { port: number }).port;
}

describe('a busy port', () => {
  it('exits 2 in the mock API, naming the port and the fix', async () => {
    const port = await busyPort();

    const result = await runCli([
      'mock-api',
      '--seed',
      'config/demo-org.yaml',
      '--port',
      String(port),
    ]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`cannot listen on 127.0.0.1:${port} (EADDRINUSE)`);
    expect(result.stderr).toContain('To fix: another program uses that port');
  });

  it('exits 2 in the daemon too, and says the errno once', async () => {
    const port = await busyPort();
    const { configFile } = writeDaemonConfig({ apiUrl: 'http://127.0.0.1:9', cron: '0 * * * *' });
    const config = parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(configFile, stringify({ ...config, server: { host: '127.0.0.1', port } }));

    const result = await runCli(['daemon', '--config', configFile]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`cannot listen on 127.0.0.1:${port} (EADDRINUSE)`);
    expect(result.stderr.match(/EADDRINUSE/g)).toHaveLength(1);
  });
});
