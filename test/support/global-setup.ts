import { readFile } from 'node:fs/promises';
import type { TestProject } from 'vitest/node';
import {
  SambaBusyError,
  sambaUnavailableReason,
  startSamba,
  type SambaConnection,
  type SambaServer,
} from './samba.js';

/**
 * Starts the one Samba AD DC of this test run (its LDAP ports are fixed, so test files share it)
 * and provides its connection info as `inject('samba')`, if a test file of the run contains that
 * very text `inject('samba')`. Without Samba installed it provides
 * undefined and the Samba tests skip, except in CI (`CI=true`), where that is a failure. Locally
 * the tests also skip when another vitest run holds the machine's one Samba (or ports 389/636), or
 * when `DIRSYNC_TEST_SAMBA=0` (saves the ~6 s startup in unit-test loops); in CI both are ignored.
 */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!(await someQueuedFileInjectsSamba(project))) {
    project.provide('samba', undefined);
    return () => Promise.resolve();
  }
  const isCi = process.env.CI === 'true';
  const unavailable = sambaUnavailableReason();
  if (unavailable !== undefined && isCi) {
    throw new Error(`CI=true and the Samba AD DC cannot run: ${unavailable}`);
  }
  const optedOut =
    !isCi && process.env.DIRSYNC_TEST_SAMBA === '0' ? 'DIRSYNC_TEST_SAMBA=0' : undefined;
  const skipReason = unavailable ?? optedOut;
  if (skipReason !== undefined) return skip(project, skipReason);

  const started = Date.now();
  let samba: SambaServer;
  try {
    samba = await startSamba();
  } catch (error) {
    // Locally another vitest run may hold the one Samba of this machine; CI has no such excuse.
    if (!isCi && error instanceof SambaBusyError) return skip(project, error.message);
    throw error;
  }
  console.info(`Samba AD DC ready on ${samba.url} in ${Date.now() - started} ms`);
  const connection: SambaConnection = {
    url: samba.url,
    ldapUrl: samba.ldapUrl,
    baseDn: samba.baseDn,
    bindDn: samba.bindDn,
    bindPassword: samba.bindPassword,
    realm: samba.realm,
    domain: samba.domain,
    caFile: samba.caFile,
    unrelatedCaFile: samba.unrelatedCaFile,
    dir: samba.dir,
  };
  project.provide('samba', connection);
  return () => samba.stop();
}

function skip(project: TestProject, reason: string): () => Promise<void> {
  console.warn(`Samba AD DC tests will be skipped: ${reason}`);
  project.provide('samba', undefined);
  return () => Promise.resolve();
}

/**
 * Whether a test file of this run contains `inject('samba')`: `vitest run test/unit` then skips
 * the ~5 s Samba start. The CLI filters live in an internal field of Vitest; if it ever goes
 * away every test file counts as queued, which only costs time.
 */
async function someQueuedFileInjectsSamba(project: TestProject): Promise<boolean> {
  const pattern: unknown = Reflect.get(project.vitest, 'filenamePattern');
  const filters =
    Array.isArray(pattern) && pattern.every((item) => typeof item === 'string')
      ? pattern
      : undefined;
  const specs = await project.vitest.globTestSpecifications(filters);
  const files = [...new Set(specs.map((spec) => spec.moduleId))];
  const sources = await Promise.all(files.map((file) => readFile(file, 'utf8').catch(() => '')));
  return sources.some((source) => /\binject\(\s*['"]samba['"]\s*\)/.test(source));
}
