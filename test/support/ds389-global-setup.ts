import type { TestProject } from 'vitest/node';
import { ds389UnavailableReason, startDs389, type Ds389Connection } from './ds389.js';
import { queuedFiles } from './queued-files.js';
import { ds389Setup } from './samba-setup.js';

/**
 * Starts the one 389 Directory Server of this test run (about 2.5 s to start, 2 s to stop, so
 * test files share it, each under its own OU) and provides its connection info as
 * `inject('ds389')`, when `ds389Setup` (samba-setup.ts) says the run needs it: locally when a
 * queued test file contains `inject('ds389')`, in CI (`CI=true`) whenever the run queues more than
 * unit tests. Locally the 389-DS tests skip where 389-DS is not installed, or when
 * `DIRSYNC_TEST_DS389=0`; in CI each of these is a failure. It listens on a random loopback port,
 * so concurrent test runs each have their own.
 */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const decision = ds389Setup({
    ci: process.env.CI === 'true',
    optedOut: process.env.DIRSYNC_TEST_DS389 === '0',
    files: await queuedFiles(project),
    unavailable: ds389UnavailableReason(),
  });
  if (decision.action === 'fail') throw new Error(decision.reason);
  if (decision.action !== 'start') {
    if (decision.action === 'skip') {
      console.warn(`389 Directory Server tests will be skipped: ${decision.reason}`);
    }
    project.provide('ds389', undefined);
    return () => Promise.resolve();
  }

  const started = Date.now();
  const server = await startDs389();
  console.info(`389 Directory Server ready on ${server.url} in ${Date.now() - started} ms`);
  const connection: Ds389Connection = {
    url: server.url,
    port: server.port,
    baseDn: server.baseDn,
    bindDn: server.bindDn,
    bindPassword: server.bindPassword,
    dir: server.dir,
  };
  project.provide('ds389', connection);
  return () => server.stop();
}
