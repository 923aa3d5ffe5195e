import type { TestProject } from 'vitest/node';
import {
  SambaBusyError,
  sambaUnavailableReason,
  startSamba,
  type SambaConnection,
  type SambaServer,
} from './samba.js';
import { queuedFiles } from './queued-files.js';
import { sambaSetup } from './samba-setup.js';

/**
 * Starts the one Samba AD DC of this test run (its LDAP ports are fixed, so test files share it)
 * and provides its connection info as `inject('samba')`, when `sambaSetup` (samba-setup.ts) says
 * the run needs it: locally when a queued test file uses Samba, in CI (`CI=true`) whenever the run
 * queues more than unit tests. Locally the Samba tests skip where Samba cannot run (not
 * installed, not root), when another vitest run holds the machine's one Samba (or ports
 * 389/636), or when `DIRSYNC_TEST_SAMBA=0` (saves the ~6 s startup in unit-test loops); in CI each
 * of these is a failure.
 */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const isCi = process.env.CI === 'true';
  const decision = sambaSetup({
    ci: isCi,
    optedOut: process.env.DIRSYNC_TEST_SAMBA === '0',
    files: await queuedFiles(project),
    unavailable: sambaUnavailableReason(),
  });
  if (decision.action === 'fail') throw new Error(decision.reason);
  if (decision.action === 'skip') return skip(project, decision.reason);
  if (decision.action === 'none') {
    project.provide('samba', undefined);
    return () => Promise.resolve();
  }

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
