import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { openRunContext } from '../../../src/cli/context.js';
import { writeDaemonConfig } from '../../integration/daemon/support.js';

/** What a terminal shows: each line as the last `\r` + erase-line left it. */
function rendered(output: string): string[] {
  return output.split('\n').map((line) => line.split('\r\x1b[K').at(-1)!);
}

function aTerminal(): { stream: PassThrough; output: () => string } {
  const stream = new PassThrough();
  Object.assign(stream, { isTTY: true });
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return { stream, output: () => text };
}

describe('the progress line on a terminal', () => {
  it('is never written over by a log line: the log takes its own line, the progress follows', async () => {
    const terminal = aTerminal();
    const { configFile } = writeDaemonConfig({ apiUrl: 'http://127.0.0.1:9', cron: '0 * * * *' });
    const run = openRunContext(configFile, {}, terminal.stream, { lock: false });

    run.deps.progress!('reading the directory');
    run.logger.warn('LDAP server unreachable, trying next');
    run.deps.progress!('');
    await run.close();

    const lines = rendered(terminal.output());
    expect(lines[0]).toMatch(/^\{.*"message":"LDAP server unreachable, trying next"/);
    expect(lines[1]).toBe('');
    expect(lines).toHaveLength(2);
  });

  it('is cleared when a run closes mid-read, so that the error printed next has its own line', async () => {
    const terminal = aTerminal();
    const { configFile } = writeDaemonConfig({ apiUrl: 'http://127.0.0.1:9', cron: '0 * * * *' });
    const run = openRunContext(configFile, {}, terminal.stream, { lock: false });

    run.deps.progress!('reading the directory');
    await run.close();
    terminal.stream.write('error: no LDAP server could be reached\n');

    expect(rendered(terminal.output())[0]).toBe('error: no LDAP server could be reached');
  });

  it('leaves log lines alone when no progress is shown', async () => {
    const terminal = aTerminal();
    const { configFile } = writeDaemonConfig({ apiUrl: 'http://127.0.0.1:9', cron: '0 * * * *' });
    const run = openRunContext(configFile, {}, terminal.stream, { lock: false });

    run.logger.warn('first');
    run.logger.warn('second');
    await run.close();

    expect(terminal.output()).not.toContain('\r');
    expect(rendered(terminal.output()).filter((l) => l !== '')).toHaveLength(2);
  });
});
