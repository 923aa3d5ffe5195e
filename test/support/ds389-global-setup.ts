import { readFile } from 'node:fs/promises';
import type { TestProject } from 'vitest/node';
import { ds389UnavailableReason, startDs389, type Ds389Connection } from './ds389.js';

/**
 * Starts the one 389 Directory Server of this test run (about 2.5 s to start, 2 s to stop, so
 * test files share it, each under its own OU) and provides its connection info as
 * `inject('ds389')`, if a test file of the run contains that very text `inject('ds389')`.
 * Without 389-DS installed it provides undefined and the 389-DS tests skip, except in CI
 * (`CI=true`), where that is a failure. Locally `DIRSYNC_TEST_DS389=0` skips them too (ignored
 * in CI). It listens on a random loopback port, so concurrent test runs each have their own.
 */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!(await someQueuedFileInjectsDs389(project))) {
    project.provide('ds389', undefined);
    return () => Promise.resolve();
  }
  const isCi = process.env.CI === 'true';
  const unavailable = ds389UnavailableReason();
  if (unavailable !== undefined && isCi) {
    throw new Error(`CI=true and 389 Directory Server cannot run: ${unavailable}`);
  }
  const optedOut =
    !isCi && process.env.DIRSYNC_TEST_DS389 === '0' ? 'DIRSYNC_TEST_DS389=0' : undefined;
  const skipReason = unavailable ?? optedOut;
  if (skipReason !== undefined) {
    console.warn(`389 Directory Server tests will be skipped: ${skipReason}`);
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

/**
 * Whether a test file of this run contains `inject('ds389')`: `vitest run test/unit` then skips
 * the 389-DS start. The CLI filters live in an internal field of Vitest; if it ever goes away
 * every test file counts as queued, which only costs time.
 */
async function someQueuedFileInjectsDs389(project: TestProject): Promise<boolean> {
  const pattern: unknown = Reflect.get(project.vitest, 'filenamePattern');
  const filters =
    Array.isArray(pattern) && pattern.every((item) => typeof item === 'string')
      ? pattern
      : undefined;
  const specs = await project.vitest.globTestSpecifications(filters);
  const files = [...new Set(specs.map((spec) => spec.moduleId))];
  const sources = await Promise.all(files.map((file) => readFile(file, 'utf8').catch(() => '')));
  return sources.some((source) => /\binject\(\s*['"]ds389['"]\s*\)/.test(source));
}
