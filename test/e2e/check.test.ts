import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadSeedFile } from '../../src/mock/seed.js';
import { startMockServer, type MockServer } from '../../src/mock/server.js';
import { RunLock } from '../../src/state/lock.js';
import { ROOT, writeDaemonConfig, writesOf } from '../integration/daemon/support.js';
import { runCli } from './support.js';

let mock: MockServer | undefined;
const locks: RunLock[] = [];
afterEach(async () => {
  for (const l of locks.splice(0)) l.release();
  await mock?.close();
  mock = undefined;
});

/** The demo directory against the demo organization (config/demo-org.yaml), edited by `edit`. */
async function demoConfig(
  edit: (
    config: Record<string, Record<string, unknown>>,
    written: { configFile: string; statePath: string },
  ) => void = () => undefined,
): Promise<{ configFile: string; statePath: string }> {
  mock = await startMockServer({
    seed: loadSeedFile(join(ROOT, 'config/demo-org.yaml')),
    port: 0,
  });
  const written = writeDaemonConfig({ apiUrl: mock.url, cron: '0 * * * *' });
  const config = parse(readFileSync(written.configFile, 'utf8')) as Record<
    string,
    Record<string, unknown>
  >;
  edit(config, written);
  mkdirSync(dirname(written.statePath), { recursive: true });
  writeFileSync(written.configFile, stringify(config));
  return written;
}

describe('dirsync check', () => {
  it("proves write rights by re-setting the token owner's computer usernames to their value", async () => {
    const { configFile, statePath } = await demoConfig();

    const result = await runCli(['check', '--config', configFile]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `state      ${statePath}: folder writable; run lock taken and released`,
    );
    // The demo's rules name two groups (IT-Owners for SUPER, IT-Admins for ADMIN).
    expect(result.stdout).toContain(', 2 of 2 groups the rules name found, ');
    expect(result.stdout).toMatch(
      /writes {5}allowed: re-set the computer usernames of olga\.owner@corp\.example\.com \(api\.tokenOwner\) to their current value \[.*\]/,
    );
    const writes = writesOf(mock!.requests);
    expect(writes.map((w) => w.path)).toEqual(['/modifyallusernames']);
  });

  it('fails, naming the missing right, with a read-only (REGULAR) token', async () => {
    const { configFile } = await demoConfig((c) => {
      c['api'] = {
        ...c['api'],
        token: 'demo-reader-token',
        tokenOwner: 'rita.reader@corp.example.com',
      };
    });

    const result = await runCli(['check', '--config', configFile]);

    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      'writes     FAILED: the token may read but not write: POST /modifyallusernames answered 403',
    );
    expect(result.stdout).toContain('use a token of an ADMIN user');
    expect(mock!.requests.filter((r) => r.status === 200 && r.method === 'POST')).toEqual([]);
  });

  it('says clearly when it cannot test writes (no api.tokenOwner)', async () => {
    const { configFile } = await demoConfig((c) => {
      delete c['api']!['tokenOwner'];
    });

    const result = await runCli(['check', '--config', configFile]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('writes     not tested: set api.tokenOwner');
    expect(writesOf(mock!.requests)).toEqual([]);
  });

  it("leaves a running daemon's lock alone and says it is held, without failing", async () => {
    const { configFile, statePath } = await demoConfig();
    const held = RunLock.acquire(`${statePath}.lock`, statePath, { staleMs: 90_000 });
    locks.push(held);

    const result = await runCli(['check', '--config', configFile]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `state      ${statePath}: folder writable; run lock held by a live run, left alone: another dirsync run (pid ${process.pid} on`,
    );
    expect(JSON.parse(readFileSync(`${statePath}.lock`, 'utf8'))).toMatchObject({
      token: held.token,
    });
  });

  it('warns about journal lines that cannot be read, naming the journal and what they may cost', async () => {
    const { configFile, statePath } = await demoConfig();
    appendFileSync(
      `${statePath}.journal`,
      '{"type":"user","emailId":3,"set":{"email":"x@y","susp\n',
    );

    const result = await runCli(['check', '--config', configFile]);
    const planned = await runCli(['plan', '--config', configFile]);

    expect(result.stdout).toContain(
      `warning    1 line of the journal ${statePath}.journal could not be read and was skipped: an outcome of the last run may be lost`,
    );
    expect(result.stdout).toContain(
      'a lost suspendedByDirsync flag makes a suspension dirsync made look manual',
    );
    const warning = planned.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l['level'] === 'warn' && String(l['message']).includes('of the journal'));
    expect(warning).toMatchObject({ journal: `${statePath}.journal`, lines: 1 });
  });

  it.each([
    [
      'under /proc',
      '/proc/dirsync/state/dirsync.json',
      'cannot create the state folder /proc/dirsync (ENOENT',
      'cannot hold files',
    ],
    [
      'through a file',
      'FILE/state/dirsync.json',
      'cannot create the state folder',
      'is a file, not a folder',
    ],
  ])(
    'a state.path %s fails at once with the path and the fix',
    async (_name, path, message, fix) => {
      const { configFile } = await demoConfig((c, written) => {
        c['state'] = { path: path.replace('FILE', written.configFile) };
      });

      const result = await runCli(['check', '--config', configFile]);

      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`error: ${message}`);
      expect(result.stderr).toContain(`To fix: `);
      expect(result.stderr).toContain(fix);
      expect(result.stderr).not.toContain('looks like a bug');
    },
    15_000,
  );

  it('refuses a CA file that is not PEM before it calls the config valid', async () => {
    const { configFile } = await demoConfig((c, written) => {
      const ca = join(dirname(written.configFile), 'ldap-ca.pem');
      writeFileSync(ca, 'this is not a certificate\n');
      // Nothing listens on port 1: only the config is under test.
      c['source'] = {
        type: 'ldap',
        urls: ['ldaps://127.0.0.1:1'],
        tls: { caFile: ca },
        users: { baseDns: ['dc=corp,dc=example,dc=com'] },
      };
    });

    const result = await runCli(['check', '--config', configFile]);

    expect(result.code).toBe(2);
    expect(result.stdout).not.toContain('valid');
    expect(result.stderr).toContain('config key source.tls.caFile');
    expect(result.stderr).toContain('which holds no PEM certificate');
  });
});
