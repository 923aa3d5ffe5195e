import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'ldapts';
import { atExit, trackChild, untrackChild } from './children.js';
import { createTestCertificates, findExecutable } from './tls.js';
import { isAlive } from '../../src/state/lock.js';

const execFileAsync = promisify(execFile);

const REALM = 'SAMDOM.EXAMPLE.COM';
const DOMAIN = 'SAMDOM';
const BASE_DN = 'DC=samdom,DC=example,DC=com';
const ADMIN_PASSWORD = 'Dirsync-Test-Pa55!';
const START_TIMEOUT_MS = 60_000;
const INSTALL_HINT =
  'To fix: apt-get install -y samba samba-ad-dc samba-ad-provision ldb-tools openssl';

/**
 * Connection info of the Samba AD DC. Plain data (no functions) so that the global setup can
 * hand it to test workers through vitest's `provide`/`inject`.
 */
export interface SambaConnection {
  /** `ldaps://127.0.0.1:636`. Samba refuses simple binds without TLS. */
  url: string;
  /** `ldap://127.0.0.1:389`, for StartTLS (and for "plain bind refused" tests). */
  ldapUrl: string;
  /** `DC=samdom,DC=example,DC=com`. */
  baseDn: string;
  /** `CN=Administrator,CN=Users,<baseDn>`. */
  bindDn: string;
  bindPassword: string;
  /** `SAMDOM.EXAMPLE.COM`; UPNs are `name@samdom.example.com`. */
  realm: string;
  /** NetBIOS domain `SAMDOM` (`SAMDOM\name` logins). */
  domain: string;
  /** CA of the certificate Samba serves (SAN IP:127.0.0.1, DNS:localhost). */
  caFile: string;
  /** A CA that did not sign Samba's certificate. */
  unrelatedCaFile: string;
  /** Provision target dir (etc/smb.conf, private/sam.ldb); removed by `stop()`. */
  dir: string;
}

/** A running Samba AD DC. */
export interface SambaServer extends SambaConnection {
  /** `addSambaLdif(this, ldif)`. */
  addLdif(ldif: string): Promise<void>;
  /** Stops samba (EOF on its stdin, then signals) and removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /**
     * The Samba AD DC started by test/support/global-setup.ts, or undefined when Samba is not
     * installed on this (non-CI) machine: skip with `describe.skipIf(!samba)`.
     */
    samba: SambaConnection | undefined;
  }
}

interface Tools {
  samba: string;
  sambaTool: string;
  ldbadd: string;
}

function findTools(): Tools | string {
  const samba = findExecutable('samba');
  const sambaTool = findExecutable('samba-tool');
  const ldbadd = findExecutable('ldbadd');
  const openssl = findExecutable('openssl');
  const missing = [
    samba === undefined ? 'samba (package samba-ad-dc)' : undefined,
    sambaTool === undefined ? 'samba-tool (package samba-ad-provision)' : undefined,
    ldbadd === undefined ? 'ldbadd (package ldb-tools)' : undefined,
    openssl === undefined ? 'openssl (package openssl)' : undefined,
  ].filter((item) => item !== undefined);
  if (
    missing.length > 0 ||
    samba === undefined ||
    sambaTool === undefined ||
    ldbadd === undefined
  ) {
    return `Samba AD DC is not usable here, missing: ${missing.join(', ')}. ${INSTALL_HINT}`;
  }
  if (process.getuid?.() !== 0) {
    return 'Samba AD DC needs root: it listens on the fixed ports 389 and 636 and checks file ownership. To fix: run the tests as root (CI does).';
  }
  return { samba, sambaTool, ldbadd };
}

/** Why `startSamba` cannot work on this machine, or undefined when it can. */
export function sambaUnavailableReason(): string | undefined {
  const tools = findTools();
  return typeof tools === 'string' ? tools : undefined;
}

/** True when samba, samba-tool, ldbadd and openssl are installed and we are root. */
export function sambaAvailable(): boolean {
  return sambaUnavailableReason() === undefined;
}

/**
 * Another Samba holds what a Samba AD DC needs exclusively: the lock of another test run on this
 * machine, or the fixed ports 389/636. The global setup skips on it locally and fails in CI.
 */
export class SambaBusyError extends Error {
  override name = 'SambaBusyError';
}

// Provisioning takes seconds before the ports are bound, so a port check alone would let two
// concurrent test runs both start a Samba. A pid lock file closes that window.
const LOCK_FILE = join(tmpdir(), 'dirsync-samba.lock');

function acquireLock(): void {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      writeFileSync(LOCK_FILE, String(process.pid), { flag: 'wx' });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readFileSync(LOCK_FILE, 'utf8'));
    if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
      throw new SambaBusyError(
        `Another test run (pid ${holder}) runs the Samba AD DC on this machine (${LOCK_FILE}).`,
      );
    }
    rmSync(LOCK_FILE, { force: true });
  }
  throw new SambaBusyError(`Could not take ${LOCK_FILE}.`);
}

function releaseLock(): void {
  try {
    if (readFileSync(LOCK_FILE, 'utf8') === String(process.pid)) rmSync(LOCK_FILE, { force: true });
  } catch {
    // already gone
  }
}

async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new (error.code === 'EADDRINUSE' ? SambaBusyError : Error)(
          error.code === 'EADDRINUSE'
            ? `Port ${port} on 127.0.0.1 is in use, and Samba's LDAP ports are fixed. To fix: stop what holds it (ss -ltnp 'sport = :${port}'; often a system slapd or samba: service slapd stop; service samba-ad-dc stop), or another test run's Samba.`
            : `Cannot probe port ${port} on 127.0.0.1 (${error.code ?? error.message})`,
          { cause: error },
        ),
      );
    });
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

async function run(file: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, { maxBuffer: 64 * 1024 * 1024 });
    return `${stdout}${stderr}`;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: unknown; stderr?: unknown };
    const output = [stdout, stderr].filter((part) => typeof part === 'string').join('\n');
    throw new Error(`${file} ${args.join(' ')} failed: ${output.trim().slice(-3000)}`, {
      cause: error,
    });
  }
}

/**
 * Provisions a fresh AD domain into a temp dir (about 4 s) and starts `samba -i -M single` with
 * only the ldap service, bound to the lo interface (ports 389/636/3268/3269 of 127.0.0.1 and
 * ::1). Only one can run per machine at a time: the ports are fixed.
 */
export async function startSamba(): Promise<SambaServer> {
  const tools = findTools();
  if (typeof tools === 'string') throw new Error(tools);
  acquireLock();
  try {
    await assertPortFree(389);
    await assertPortFree(636);
    return await provisionAndStart(tools);
  } catch (error) {
    releaseLock();
    throw error;
  }
}

async function provisionAndStart(tools: Tools): Promise<SambaServer> {
  const dir = await mkdtemp(join(tmpdir(), 'dirsync-samba-'));
  try {
    const certs = await createTestCertificates(join(dir, 'tls'));
    const runDir = join(dir, 'run');
    await Promise.all([mkdir(runDir), mkdir(join(dir, 'log'))]);
    // An empty config keeps the host's /etc/samba/smb.conf (shares, log paths) out of ours.
    const emptyConf = join(dir, 'empty.conf');
    await writeFile(emptyConf, '');
    const options = {
      interfaces: 'lo',
      'bind interfaces only': 'yes',
      'server services': 'ldap',
      'tls enabled': 'yes',
      'tls certfile': certs.certFile,
      'tls keyfile': certs.keyFile,
      'tls cafile': certs.caFile,
      'pid directory': runDir,
      'ncalrpc dir': join(runDir, 'ncalrpc'),
      'winbindd socket directory': join(runDir, 'winbindd'),
      'ntp signd socket directory': join(runDir, 'ntp_signd'),
      'log file': join(dir, 'log', 'samba.log'),
    } satisfies Record<string, string>;
    await run(tools.sambaTool, [
      'domain',
      'provision',
      `--configfile=${emptyConf}`,
      `--realm=${REALM}`,
      `--domain=${DOMAIN}`,
      // The machine's hostname may be longer than NetBIOS' 15 characters.
      '--host-name=dc1',
      '--server-role=dc',
      '--dns-backend=NONE',
      `--adminpass=${ADMIN_PASSWORD}`,
      `--targetdir=${dir}`,
      ...Object.entries(options).map(([name, value]) => `--option=${name}=${value}`),
    ]);

    const child = spawn(tools.samba, ['-s', join(dir, 'etc', 'smb.conf'), '-i', '-M', 'single'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // samba -i also exits on EOF on its stdin, which the kernel delivers when this process dies.
    trackChild(child, dir);
    atExit(releaseLock);
    let output = '';
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-8000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);

    const connection: SambaConnection = {
      url: 'ldaps://127.0.0.1:636',
      ldapUrl: 'ldap://127.0.0.1:389',
      baseDn: BASE_DN,
      bindDn: `CN=Administrator,CN=Users,${BASE_DN}`,
      bindPassword: ADMIN_PASSWORD,
      realm: REALM,
      domain: DOMAIN,
      caFile: certs.caFile,
      unrelatedCaFile: certs.unrelatedCaFile,
      dir,
    };
    const stop = (): Promise<void> => stopSamba(child, dir);
    try {
      await waitUntilBound(child, connection, () => output);
    } catch (error) {
      await stop();
      throw error;
    }
    return { ...connection, addLdif: (ldif) => addSambaLdif(connection, ldif), stop };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function waitUntilBound(
  child: ChildProcess,
  connection: SambaConnection,
  output: () => string,
): Promise<void> {
  const ca = readFileSync(connection.caFile);
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`samba exited during startup: ${output().trim()}`);
    }
    // A bind over verified LDAPS proves it is our Samba answering, not some other server.
    const client = new Client({
      url: connection.url,
      tlsOptions: { ca: [ca] },
      connectTimeout: 1000,
      timeout: 5000,
    });
    try {
      await client.bind(connection.bindDn, connection.bindPassword);
      await client.unbind();
      return;
    } catch (error) {
      lastError = error;
      await client.unbind().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `samba did not accept an LDAPS bind within ${START_TIMEOUT_MS} ms: ${output().trim()}`,
    { cause: lastError },
  );
}

async function stopSamba(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin?.end();
    const term = setTimeout(() => child.kill('SIGTERM'), 5000);
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(term);
    clearTimeout(kill);
  }
  untrackChild(child);
  await rm(dir, { recursive: true, force: true });
  releaseLock();
}

/**
 * Adds LDIF content records straight into the running DC's sam.ldb with ldbadd (thousands of
 * entries in seconds; the running samba sees them at once). Samba fills in objectGUID,
 * objectSid, objectCategory, sAMAccountType, whenCreated, `memberOf` back links and so on.
 *
 * AD users: `objectClass: user`, `sAMAccountName`, `userPrincipalName`, `mail`,
 * `proxyAddresses`, `userAccountControl` (512 enabled, 514 disabled, no password needed here),
 * `accountExpires` (0, 9223372036854775807 or a FILETIME). Groups: `objectClass: group`,
 * `member` (members must exist first: add them earlier in the same LDIF or in an earlier call).
 *
 * Refused: `memberOf` (a linked back link: set `member` on the group instead), `objectGUID`
 * (always generated), and attributes outside Samba's schema such as Exchange's
 * `extensionAttribute1..15`. Entries of concurrent test files share one DC: use an OU per file.
 */
export async function addSambaLdif(
  samba: Pick<SambaConnection, 'dir'>,
  ldif: string,
): Promise<void> {
  const ldbadd = findExecutable('ldbadd');
  if (ldbadd === undefined) throw new Error(`ldbadd is not installed. ${INSTALL_HINT}`);
  const file = join(samba.dir, `add-${randomUUID()}.ldif`);
  await writeFile(file, ldif);
  try {
    await run(ldbadd, [
      `--configfile=${join(samba.dir, 'etc', 'smb.conf')}`,
      '-H',
      join(samba.dir, 'private', 'sam.ldb'),
      file,
    ]);
  } finally {
    await rm(file, { force: true });
  }
}
