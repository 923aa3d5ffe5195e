import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { accessSync, constants, existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'ldapts';
import { freePort, portTaken } from './ports.js';
import { trackChild, untrackChild } from './children.js';
import { findExecutable } from './tls.js';

const execFileAsync = promisify(execFile);

export const DEFAULT_DS389_SUFFIX = 'dc=example,dc=com';
const ROOT_DN = 'cn=Directory Manager';
const START_TIMEOUT_MS = 60_000;
const PORT_ATTEMPTS = 4;
const TEMPLATE = '/usr/share/dirsrv/data/template-dse.ldif';
/** The schema files `dscreate` copies into every instance (the system ones load by themselves). */
const SYSTEM_CONFIG = '/etc/dirsrv';
/** What every instance needs from SYSTEM_CONFIG, which 389-ds-base keeps to its dirsrv user. */
const COLLATIONS = join(SYSTEM_CONFIG, 'config', 'slapd-collations.conf');
const CERTMAP = join(SYSTEM_CONFIG, 'config', 'certmap.conf');
/** FreeIPA's Kerberos schema (krbPrincipalAux, krbPrincipalExpiration), shipped with 389-DS. */
const KERBEROS_SCHEMA = '/usr/share/dirsrv/data/60kerberos.ldif';
const INSTALL_HINT = 'To fix: apt-get install -y --no-install-recommends 389-ds-base ldap-utils';

/**
 * Connection info of a running 389 Directory Server. Plain data (no functions) so that the global
 * setup can hand it to test workers through vitest's `provide`/`inject`.
 */
export interface Ds389Connection {
  /** `ldap://127.0.0.1:PORT` (a random free port; plain LDAP, loopback only). */
  url: string;
  port: number;
  /** The suffix of the one database, `dc=example,dc=com`. */
  baseDn: string;
  /** `cn=Directory Manager`: unlimited, not subject to ACIs. */
  bindDn: string;
  bindPassword: string;
  /** The instance's temp dir (config, database, logs); removed by `stop()`. */
  dir: string;
}

/** A running 389-DS. */
export interface Ds389Server extends Ds389Connection {
  /** Stops ns-slapd (SIGTERM, SIGKILL after 10 s) and removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /**
     * The 389 Directory Server started by test/support/ds389-global-setup.ts, or undefined when
     * it is not installed on this (non-CI) machine or DIRSYNC_TEST_DS389=0: skip with
     * `describe.skipIf(!ds389)`.
     */
    ds389: Ds389Connection | undefined;
  }
}

interface Tools {
  nsSlapd: string;
  ldapmodify: string;
}

function findTools(): Tools | string {
  const nsSlapd = findExecutable('ns-slapd');
  const ldapmodify = findExecutable('ldapmodify');
  const missing = [
    nsSlapd === undefined ? 'ns-slapd (package 389-ds-base)' : undefined,
    existsSync(TEMPLATE) ? undefined : `${TEMPLATE} (package 389-ds-base)`,
    ldapmodify === undefined ? 'ldapmodify (package ldap-utils)' : undefined,
  ].filter((item) => item !== undefined);
  if (missing.length > 0 || nsSlapd === undefined || ldapmodify === undefined) {
    return `389 Directory Server is not usable here, missing: ${missing.join(', ')}. ${INSTALL_HINT}`;
  }
  const unreadable = [COLLATIONS, CERTMAP].filter((path) => !readable(path));
  if (unreadable.length > 0) {
    return `389 Directory Server is not usable here: cannot read ${unreadable.join(', ')} (389-ds-base keeps ${SYSTEM_CONFIG} to its dirsrv user). To fix: run the tests as root, or as a member of the dirsrv group`;
  }
  return { nsSlapd, ldapmodify };
}

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** Why `startDs389` cannot work on this machine, or undefined when it can. */
export function ds389UnavailableReason(): string | undefined {
  const tools = findTools();
  return typeof tools === 'string' ? tools : undefined;
}

/** `{SSHA}` of a password: what 389-DS keeps as nsslapd-rootpw. */
function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/**
 * Creates a 389-DS instance the way `dscreate` does, without its system paths and systemd: the
 * package's template-dse.ldif filled in with directories of a temp dir, the memberOf plugin on,
 * one database for the suffix; then runs `ns-slapd -d 0` in the foreground (our child) on a
 * random loopback port. About 2-3 s, most of it the server's own start.
 */
export async function startDs389(suffix = DEFAULT_DS389_SUFFIX): Promise<Ds389Server> {
  const tools = findTools();
  if (typeof tools === 'string') throw new Error(tools);
  const dir = await mkdtemp(join(tmpdir(), 'dirsync-ds389-'));
  // One per instance: a bind with it succeeds only against this instance, never against another
  // test run's 389-DS that took the probed port first.
  const rootPassword = `Dirsync-389-${randomBytes(12).toString('base64url')}`;
  try {
    const paths = await makeTree(dir);
    const template = await readFile(TEMPLATE, 'utf8');
    let lastError: unknown;
    for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt += 1) {
      const port = await freePort();
      await writeFile(
        join(paths.config, 'dse.ldif'),
        buildDse(template, paths, port, suffix, rootPassword),
      );
      await rm(paths.db, { recursive: true, force: true });
      await mkdir(paths.db);
      const child = spawnServer(tools.nsSlapd, paths, dir);
      const connection: Ds389Connection = {
        url: `ldap://127.0.0.1:${port}`,
        port,
        baseDn: suffix,
        bindDn: ROOT_DN,
        bindPassword: rootPassword,
        dir,
      };
      try {
        await waitUntilBound(child, connection, paths.errorLog);
      } catch (error) {
        await stopChild(child);
        lastError = error;
        // Another process took the probed port between probe and bind: try another one. (In the
        // foreground ns-slapd logs nothing, not even "address in use": ask the port itself.)
        if (await portTaken(port)) continue;
        throw error;
      }
      const server: Ds389Server = { ...connection, stop: () => stopServer(child, dir) };
      try {
        await addDs389Ldif(server, suffixRecord(suffix));
      } catch (error) {
        await server.stop();
        throw error;
      }
      return server;
    }
    throw new Error(`ns-slapd could not bind a free port in ${PORT_ATTEMPTS} attempts`, {
      cause: lastError,
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

interface Paths {
  config: string;
  schema: string;
  db: string;
  lock: string;
  log: string;
  run: string;
  tmp: string;
  ldif: string;
  bak: string;
  certs: string;
  errorLog: string;
}

async function makeTree(dir: string): Promise<Paths> {
  const config = join(dir, 'config');
  const paths: Paths = {
    config,
    schema: join(config, 'schema'),
    db: join(dir, 'db'),
    lock: join(dir, 'lock'),
    log: join(dir, 'log'),
    run: join(dir, 'run'),
    tmp: join(dir, 'tmp'),
    ldif: join(dir, 'ldif'),
    bak: join(dir, 'bak'),
    certs: join(dir, 'certs'),
    errorLog: join(dir, 'log', 'errors'),
  };
  for (const path of [config, paths.schema, paths.db, paths.lock, paths.log, paths.run]) {
    await mkdir(path);
  }
  await Promise.all([paths.tmp, paths.ldif, paths.bak, paths.certs].map((path) => mkdir(path)));
  // What dscreate copies from /etc/dirsrv: collation and certificate-map config, the (empty)
  // user schema. Plus FreeIPA's Kerberos schema, so that tests can set krbPrincipalExpiration.
  await copyFile(COLLATIONS, join(config, 'slapd-collations.conf'));
  await copyFile(CERTMAP, join(config, 'certmap.conf'));
  const userSchema = join(SYSTEM_CONFIG, 'schema', '99user.ldif');
  if (existsSync(userSchema)) await copyFile(userSchema, join(paths.schema, '99user.ldif'));
  if (existsSync(KERBEROS_SCHEMA)) {
    await copyFile(KERBEROS_SCHEMA, join(paths.schema, '60kerberos.ldif'));
  }
  return paths;
}

function buildDse(
  template: string,
  paths: Paths,
  port: number,
  suffix: string,
  rootPassword: string,
): string {
  const values: Record<string, string> = {
    schema_dir: paths.schema,
    lock_dir: paths.lock,
    tmp_dir: paths.tmp,
    cert_dir: paths.certs,
    ldif_dir: paths.ldif,
    bak_dir: paths.bak,
    run_dir: paths.run,
    inst_dir: join(paths.config, '..', 'inst'),
    log_dir: paths.log,
    fqdn: 'localhost',
    ds_port: String(port),
    // ns-slapd refuses to switch to a user it is not allowed to: run as whoever runs the tests.
    ds_user: userInfo().username,
    rootdn: ROOT_DN,
    ds_passwd: ssha(rootPassword),
    ldapi_enabled: 'off',
    ldapi: join(paths.run, 'slapd.socket'),
    ldapi_autobind: 'off',
    ds_suffix: suffix,
    config_dir: paths.config,
    db_dir: paths.db,
    db_home_dir: paths.db,
    db_lib: 'bdb',
  };
  let dse = template.replace(/%(\w+)%/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`${TEMPLATE} has an unknown placeholder ${whole}`);
    return value;
  });
  // Loopback only.
  dse = dse.replace(/^nsslapd-port: .*$/m, (line) => `${line}\nnsslapd-listenhost: 127.0.0.1`);
  // The memberOf plugin (FreeIPA and most 389-DS deployments run it), for both member attributes.
  dse = dse.replace(
    /(dn: cn=MemberOf Plugin,cn=plugins,cn=config\n(?:.+\n)*?)nsslapd-pluginenabled: off\n/,
    '$1nsslapd-pluginenabled: on\nmemberOfGroupAttr: uniqueMember\n',
  );
  if (!dse.includes('nsslapd-pluginenabled: on\nmemberOfGroupAttr: uniqueMember\n')) {
    throw new Error(`${TEMPLATE}: the MemberOf plugin entry is not where it was expected`);
  }
  const records = [
    [
      'dn: cn=userRoot,cn=ldbm database,cn=plugins,cn=config',
      'objectClass: top',
      'objectClass: extensibleObject',
      'objectClass: nsBackendInstance',
      'cn: userRoot',
      `nsslapd-suffix: ${suffix}`,
      // A small entry cache: the machines running the tests are small and shared.
      'nsslapd-cachememsize: 33554432',
    ],
    [
      `dn: cn="${suffix}",cn=mapping tree,cn=config`,
      'objectClass: top',
      'objectClass: extensibleObject',
      'objectClass: nsMappingTree',
      `cn: "${suffix}"`,
      'nsslapd-state: backend',
      'nsslapd-backend: userRoot',
    ],
  ];
  return `${dse.trimEnd()}\n\n${records.map((r) => r.join('\n')).join('\n\n')}\n`;
}

function spawnServer(nsSlapd: string, paths: Paths, dir: string): ChildProcess {
  const args = [nsSlapd, '-D', paths.config, '-i', join(paths.run, 'slapd.pid'), '-d', '0'];
  const setpriv = findExecutable('setpriv');
  // PR_SET_PDEATHSIG (setpriv): a SIGKILLed test process takes the server along.
  const [file, ...rest] = setpriv === undefined ? args : [setpriv, '--pdeathsig', 'KILL', ...args];
  const child = spawn(file ?? nsSlapd, rest, { stdio: 'ignore' });
  trackChild(child, dir);
  return child;
}

async function waitUntilBound(
  child: ChildProcess,
  connection: Ds389Connection,
  errorLog: string,
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = await readFile(errorLog, 'utf8').catch(() => '');
      const errors = log
        .split('\n')
        .filter((line) => / - (ERR|CRIT|EMERG) - /.test(line))
        .slice(-15)
        .join('\n');
      // With -d (the foreground) ns-slapd 2.x writes no startup errors, to the log or stderr.
      const why =
        errors === ''
          ? 'it logs no startup errors in the foreground: run ns-slapd -D <config dir> without -d to see them in its errors log'
          : `${errorLog}:\n${errors}`;
      throw new Error(
        `ns-slapd exited during startup (code ${child.exitCode ?? child.signalCode}): ${why}`,
      );
    }
    const client = new Client({ url: connection.url, connectTimeout: 1000, timeout: 5000 });
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
    `ns-slapd did not accept a bind on ${connection.url} within ${START_TIMEOUT_MS} ms`,
    {
      cause: lastError,
    },
  );
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  untrackChild(child);
}

async function stopServer(child: ChildProcess, dir: string): Promise<void> {
  await stopChild(child);
  await rm(dir, { recursive: true, force: true });
}

function suffixRecord(suffix: string): string {
  const [first = ''] = suffix.split(',');
  const [type = '', value = ''] = first.split('=').map((part) => part.trim());
  const objectClass: Record<string, string[]> = {
    dc: ['objectClass: top', 'objectClass: domain', `dc: ${value}`],
    o: ['objectClass: top', 'objectClass: organization', `o: ${value}`],
    ou: ['objectClass: top', 'objectClass: organizationalUnit', `ou: ${value}`],
  };
  const lines = objectClass[type.toLowerCase()];
  if (lines === undefined) throw new Error(`startDs389 cannot create a suffix entry for ${suffix}`);
  return [`dn: ${suffix}`, ...lines, ''].join('\n');
}

/**
 * Applies LDIF over LDAP as the Directory Manager with `ldapmodify -a`: content records are
 * added (parents before children), `changetype:` records applied as they say. Online, so the
 * memberOf plugin keeps `memberOf` of members, nested groups included, when groups come after
 * their members. About 400 entries a second. Test files share one server: use an OU per file.
 */
export async function addDs389Ldif(
  server: Pick<Ds389Connection, 'url' | 'bindDn' | 'bindPassword' | 'dir'>,
  ldif: string,
): Promise<void> {
  const ldapmodify = findExecutable('ldapmodify');
  if (ldapmodify === undefined) throw new Error(`ldapmodify is not installed. ${INSTALL_HINT}`);
  const file = join(server.dir, `add-${randomUUID()}.ldif`);
  await writeFile(file, ldif);
  const args = ['-a', '-x', '-H', server.url, '-D', server.bindDn, '-w', server.bindPassword];
  try {
    await execFileAsync(ldapmodify, [...args, '-f', file], { maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    const detail = typeof stderr === 'string' ? stderr.trim().slice(-2000) : '';
    throw new Error(`ldapmodify -a -f ${file} against ${server.url} failed: ${detail}`, {
      cause: error,
    });
  } finally {
    await rm(file, { force: true });
  }
}

/**
 * What a 389-DS test file does with `inject('ds389')`: locally an absent server skips its tests
 * (the global setup said why); in CI it fails the file, so that no 389-DS test is skipped there.
 */
export function ds389OrSkip<T>(
  provided: T | undefined,
  ci: boolean = process.env.CI === 'true',
): T | undefined {
  if (provided === undefined && ci) {
    throw new Error(
      "CI=true but the global setup provided no 389 Directory Server, so these tests would be skipped. To fix: install 389-ds-base, and check that test/support/ds389-global-setup.ts sees this file (its text must say inject('ds389')).",
    );
  }
  return provided;
}
