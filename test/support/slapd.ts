import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'ldapts';
import { freePort } from './ports.js';
import { trackChild, untrackChild } from './children.js';
import { createTestCertificates, findExecutable } from './tls.js';

const execFileAsync = promisify(execFile);

export const DEFAULT_SLAPD_SUFFIX = 'dc=example,dc=com';
const ADMIN_PASSWORD = 'admin-secret';
const READER_PASSWORD = 'reader-secret';
const START_TIMEOUT_MS = 20_000;
const PORT_ATTEMPTS = 4;

const MODULE_DIRS = ['/usr/lib/ldap', '/usr/lib64/openldap', '/usr/lib/openldap'];
const SCHEMA_DIRS = ['/etc/ldap/schema', '/etc/openldap/schema'];
const SCHEMAS = ['core', 'cosine', 'inetorgperson', 'nis'];
const INSTALL_HINT = 'To fix: apt-get install -y slapd ldap-utils openssl';

/** What the test is about; everything else has a working default. */
export interface SlapdOptions {
  /** Naming context of the one mdb database. Default `dc=example,dc=com`. */
  suffix?: string;
  /**
   * Data as LDIF content records (no `changetype:`), in an order where parents precede children.
   * The suffix entry may be included; when it is absent the harness creates it (suffixes whose
   * first RDN is `dc=`, `o=` or `ou=`). `cn=reader,<suffix>` is always created by the harness.
   */
  ldif?: string;
  /**
   * Load the memberof overlay. Groups (entries with `member`/`uniqueMember`) then go in last,
   * through slapadd with a placeholder member, and their real members are added online with
   * ldapmodify once every entry exists, so that the overlay maintains `memberOf` (nested groups
   * and cycles included). Groups therefore must not have child entries. Still fast: 2,500 users
   * and a 1,600-member group start in about 0.3 s.
   */
  memberOf?: boolean;
  /** Load the ppolicy overlay, which defines the operational `pwdAccountLockedTime`. */
  ppolicy?: boolean;
  /**
   * Server-side size limit for `readerDn` (soft and hard, paged searches included). The admin
   * (rootdn) is never limited. Without it the reader is unlimited too.
   */
  sizeLimit?: number;
  /** Let anonymous clients read every entry (by default only bound users may read). */
  anonymousRead?: boolean;
}

/** A running slapd on loopback. */
export interface SlapdServer {
  /** `ldap://127.0.0.1:PORT`, StartTLS available. */
  url: string;
  /** `ldaps://127.0.0.1:PORT2`. */
  ldapsUrl: string;
  port: number;
  ldapsPort: number;
  /** The suffix. */
  baseDn: string;
  /** rootdn `cn=admin,<suffix>`: unlimited, no entry in the database. */
  bindDn: string;
  bindPassword: string;
  /** `cn=reader,<suffix>`: read access to everything, subject to `sizeLimit`. */
  readerDn: string;
  readerPassword: string;
  /** CA of the server certificate (SAN IP:127.0.0.1, DNS:localhost). */
  caFile: string;
  /** A CA that did not sign the server certificate. */
  unrelatedCaFile: string;
  /** Temp dir holding config, database, certificates and LDIF; removed by `stop()`. */
  dataDir: string;
  /** Stops slapd (SIGTERM, then SIGKILL after 5 s) and removes `dataDir`. Idempotent. */
  stop(): Promise<void>;
}

interface Tools {
  slapd: string;
  slapadd: string;
  ldapmodify: string;
  moduleDir: string;
  schemaDir: string;
}

function findTools(): Tools | string {
  const slapd = findExecutable('slapd');
  const slapadd = findExecutable('slapadd');
  const ldapmodify = findExecutable('ldapmodify');
  const openssl = findExecutable('openssl');
  const moduleDir = MODULE_DIRS.find((dir) => existsSync(join(dir, 'back_mdb.so')));
  const schemaDir = SCHEMA_DIRS.find((dir) => existsSync(join(dir, 'core.ldif')));
  const missing = [
    slapd === undefined ? 'slapd (package slapd)' : undefined,
    slapadd === undefined ? 'slapadd (package slapd)' : undefined,
    ldapmodify === undefined ? 'ldapmodify (package ldap-utils)' : undefined,
    openssl === undefined ? 'openssl (package openssl)' : undefined,
    moduleDir === undefined ? `back_mdb.so in ${MODULE_DIRS.join(' or ')}` : undefined,
    schemaDir === undefined ? `core.ldif in ${SCHEMA_DIRS.join(' or ')}` : undefined,
  ].filter((item) => item !== undefined);
  if (
    missing.length > 0 ||
    slapd === undefined ||
    slapadd === undefined ||
    ldapmodify === undefined ||
    moduleDir === undefined ||
    schemaDir === undefined
  ) {
    return `OpenLDAP is not usable here, missing: ${missing.join(', ')}. ${INSTALL_HINT}`;
  }
  return { slapd, slapadd, ldapmodify, moduleDir, schemaDir };
}

/** Why `startSlapd` cannot work on this machine, or undefined when it can. */
export function slapdUnavailableReason(): string | undefined {
  const tools = findTools();
  return typeof tools === 'string' ? tools : undefined;
}

/** True when slapd, slapadd, ldapmodify, openssl, back_mdb and the schemas are installed. */
export function slapdAvailable(): boolean {
  return slapdUnavailableReason() === undefined;
}

/**
 * Starts slapd on two random loopback ports with its own cn=config, an mdb database loaded from
 * `options.ldif`, TLS (ldaps and StartTLS) and an admin and a reader bind DN.
 */
export async function startSlapd(options: SlapdOptions = {}): Promise<SlapdServer> {
  const tools = findTools();
  if (typeof tools === 'string') throw new Error(tools);
  const suffix = options.suffix ?? DEFAULT_SLAPD_SUFFIX;
  const bindDn = `cn=admin,${suffix}`;
  const readerDn = `cn=reader,${suffix}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'dirsync-slapd-'));
  try {
    const certs = await createTestCertificates(join(dataDir, 'tls'));
    const configDir = join(dataDir, 'slapd.d');
    const dbDir = join(dataDir, 'db');
    await Promise.all([mkdir(configDir), mkdir(dbDir)]);

    const configLdif = join(dataDir, 'config.ldif');
    await writeFile(
      configLdif,
      buildConfigLdif({ ...options, suffix, bindDn, readerDn, dbDir, dataDir, tools, certs }),
    );
    await runTool(tools.slapadd, ['-n0', '-F', configDir, '-l', configLdif]);

    const records = parseLdif(options.ldif ?? '');
    const hasSuffix = records.some((record) => sameDn(record.dn, suffix));
    const groups = options.memberOf === true ? records.filter(isGroup) : [];
    const plain = records.filter((record) => !groups.includes(record));
    const placeholder = `cn=dirsync-member-placeholder,${suffix}`;
    // Groups go in with a placeholder member (MUST member) that names no entry; the online
    // modify below swaps in the real members once every entry exists, so that nested groups
    // and cycles get their memberOf too.
    const entries = [
      ...(hasSuffix ? [] : [suffixRecord(suffix)]),
      ...plain,
      readerRecord(readerDn),
      ...groups.map((group) => withPlaceholderMembers(group, placeholder)),
    ];
    const dataLdif = join(dataDir, 'data.ldif');
    await writeFile(dataLdif, serialize(entries));
    await runTool(tools.slapadd, ['-q', '-F', configDir, '-b', suffix, '-l', dataLdif]);

    const running = await spawnOnFreePorts(tools.slapd, configDir, dataDir, bindDn);
    const server: SlapdServer = {
      url: `ldap://127.0.0.1:${running.port}`,
      ldapsUrl: `ldaps://127.0.0.1:${running.ldapsPort}`,
      port: running.port,
      ldapsPort: running.ldapsPort,
      baseDn: suffix,
      bindDn,
      bindPassword: ADMIN_PASSWORD,
      readerDn,
      readerPassword: READER_PASSWORD,
      caFile: certs.caFile,
      unrelatedCaFile: certs.unrelatedCaFile,
      dataDir,
      stop: () => stopChild(running.child, dataDir),
    };
    if (groups.length > 0) {
      try {
        const modifyLdif = join(dataDir, 'members.ldif');
        await writeFile(
          modifyLdif,
          groups.map((group) => memberModification(group, placeholder)).join('\n'),
        );
        await runTool(tools.ldapmodify, [
          '-x',
          '-H',
          server.url,
          '-D',
          bindDn,
          '-w',
          ADMIN_PASSWORD,
          '-f',
          modifyLdif,
        ]);
      } catch (error) {
        await server.stop();
        throw error;
      }
    }
    return server;
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

interface ConfigInput extends SlapdOptions {
  suffix: string;
  bindDn: string;
  readerDn: string;
  dbDir: string;
  dataDir: string;
  tools: Tools;
  certs: { caFile: string; certFile: string; keyFile: string };
}

function buildConfigLdif(input: ConfigInput): string {
  const modules = ['back_mdb', ...(input.memberOf === true ? ['memberof'] : [])];
  if (input.ppolicy === true) modules.push('ppolicy');
  const limits =
    input.sizeLimit === undefined
      ? []
      : [
          `olcLimits: {0}dn.exact="${input.readerDn}" size.soft=${input.sizeLimit} size.hard=${input.sizeLimit} size.prtotal=${input.sizeLimit}`,
        ];
  const overlays: string[] = [];
  if (input.memberOf === true) {
    overlays.push(
      [
        `dn: olcOverlay={${overlays.length}}memberof,olcDatabase={1}mdb,cn=config`,
        'objectClass: olcOverlayConfig',
        'objectClass: olcMemberOf',
        `olcOverlay: {${overlays.length}}memberof`,
        'olcMemberOfRefInt: TRUE',
      ].join('\n'),
    );
  }
  if (input.ppolicy === true) {
    overlays.push(
      [
        `dn: olcOverlay={${overlays.length}}ppolicy,olcDatabase={1}mdb,cn=config`,
        'objectClass: olcOverlayConfig',
        'objectClass: olcPPolicyConfig',
        `olcOverlay: {${overlays.length}}ppolicy`,
      ].join('\n'),
    );
  }
  return [
    [
      'dn: cn=config',
      'objectClass: olcGlobal',
      'cn: config',
      `olcPidFile: ${join(input.dataDir, 'slapd.pid')}`,
      `olcTLSCACertificateFile: ${input.certs.caFile}`,
      `olcTLSCertificateFile: ${input.certs.certFile}`,
      `olcTLSCertificateKeyFile: ${input.certs.keyFile}`,
      'olcLogLevel: none',
    ].join('\n'),
    [
      'dn: cn=module{0},cn=config',
      'objectClass: olcModuleList',
      'cn: module{0}',
      `olcModulePath: ${input.tools.moduleDir}`,
      ...modules.map((name) => `olcModuleLoad: ${name}`),
    ].join('\n'),
    ['dn: cn=schema,cn=config', 'objectClass: olcSchemaConfig', 'cn: schema'].join('\n'),
    ...SCHEMAS.map((name) => `include: file://${join(input.tools.schemaDir, `${name}.ldif`)}`),
    [
      'dn: olcDatabase={-1}frontend,cn=config',
      'objectClass: olcDatabaseConfig',
      'objectClass: olcFrontendConfig',
      'olcDatabase: {-1}frontend',
      // The default of 500 would cut the reader's reads short; limits are per test.
      'olcSizeLimit: unlimited',
    ].join('\n'),
    [
      'dn: olcDatabase={0}config,cn=config',
      'objectClass: olcDatabaseConfig',
      'olcDatabase: {0}config',
      'olcAccess: {0}to * by * none',
    ].join('\n'),
    [
      'dn: olcDatabase={1}mdb,cn=config',
      'objectClass: olcDatabaseConfig',
      'objectClass: olcMdbConfig',
      'olcDatabase: {1}mdb',
      `olcSuffix: ${input.suffix}`,
      `olcDbDirectory: ${input.dbDir}`,
      `olcRootDN: ${input.bindDn}`,
      `olcRootPW: ${ADMIN_PASSWORD}`,
      'olcDbMaxSize: 4294967296',
      'olcDbNoSync: TRUE',
      'olcDbIndex: objectClass eq',
      'olcDbIndex: uid,mail,cn eq',
      'olcDbIndex: member,uniqueMember,memberUid eq',
      ...limits,
      'olcAccess: {0}to attrs=userPassword by anonymous auth by * none',
      `olcAccess: {1}to * by users read by * ${input.anonymousRead === true ? 'read' : 'none'}`,
    ].join('\n'),
    ...overlays,
    '',
  ].join('\n\n');
}

async function runTool(file: string, args: string[]): Promise<void> {
  try {
    await execFileAsync(file, args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    const detail = typeof stderr === 'string' ? `: ${stderr.trim().slice(-2000)}` : '';
    throw new Error(`${file} ${args.join(' ')} failed${detail}`, { cause: error });
  }
}

interface RunningSlapd {
  child: ChildProcess;
  port: number;
  ldapsPort: number;
}

async function spawnOnFreePorts(
  slapd: string,
  configDir: string,
  dataDir: string,
  bindDn: string,
): Promise<RunningSlapd> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt += 1) {
    const port = await freePort();
    const ldapsPort = await freePort();
    const args = [
      slapd,
      '-F',
      configDir,
      '-h',
      `ldap://127.0.0.1:${port}/ ldaps://127.0.0.1:${ldapsPort}/`,
      // -d keeps slapd in the foreground (our child); "none" plus -s any prints only errors.
      '-d',
      'none',
      '-s',
      'any',
    ];
    const setpriv = findExecutable('setpriv');
    const [file, ...rest] =
      setpriv === undefined ? args : [setpriv, '--pdeathsig', 'KILL', ...args];
    const child = spawn(file ?? slapd, rest, { stdio: ['ignore', 'ignore', 'pipe'] });
    // slapd is also started with PR_SET_PDEATHSIG (setpriv): a SIGKILLed worker takes it along.
    trackChild(child, dataDir);
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    try {
      await waitUntilBound(child, `ldap://127.0.0.1:${port}`, bindDn, () => stderr);
      return { child, port, ldapsPort };
    } catch (error) {
      await stopChild(child, undefined);
      lastError = error;
      // Another process took a probed port between probe and bind: try new ports.
      if (!/Address already in use/.test(stderr)) throw error;
    }
  }
  throw new Error(`slapd could not bind free ports in ${PORT_ATTEMPTS} attempts`, {
    cause: lastError,
  });
}

async function waitUntilBound(
  child: ChildProcess,
  url: string,
  bindDn: string,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exited || child.exitCode !== null) {
      throw new Error(`slapd exited during startup: ${output().trim()}`);
    }
    const client = new Client({ url, connectTimeout: 1000, timeout: 2000 });
    try {
      await client.bind(bindDn, ADMIN_PASSWORD);
      await client.unbind();
      return;
    } catch (error) {
      lastError = error;
      await client.unbind().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`slapd did not answer a bind on ${url} within ${START_TIMEOUT_MS} ms`, {
    cause: lastError,
  });
}

async function stopChild(child: ChildProcess, dir: string | undefined): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  untrackChild(child);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}

// --- LDIF handling: just enough of RFC 2849 to split records and move member values ---

interface LdifRecord {
  /** DN as text (base64 `dn::` decoded). */
  dn: string;
  /** Unfolded lines including the `dn` line, without comments. */
  lines: string[];
}

const MEMBER_ATTRIBUTES = new Set(['member', 'uniquemember']);

function attributeName(line: string): string {
  return (line.split(':', 1)[0] ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
}

function parseLdif(text: string): LdifRecord[] {
  const unfolded: string[] = [];
  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    const last = unfolded.length - 1;
    if (line.startsWith(' ') && last >= 0 && unfolded[last] !== '') {
      unfolded[last] += line.slice(1);
    } else {
      unfolded.push(line);
    }
  }
  const records: LdifRecord[] = [];
  let current: string[] = [];
  const flush = (): void => {
    if (current.length === 0) return;
    const [first] = current;
    if (first === undefined || attributeName(first) !== 'dn') {
      throw new Error(`LDIF record does not start with dn: ${first ?? ''}`);
    }
    if (current.some((line) => attributeName(line) === 'changetype')) {
      throw new Error(`startSlapd takes content records only, not changetype: ${first}`);
    }
    const dn = first.startsWith('dn::')
      ? Buffer.from(first.slice(4).trim(), 'base64').toString('utf8')
      : first.slice(3).trim();
    records.push({ dn, lines: current });
    current = [];
  };
  for (const line of unfolded) {
    if (line.trim() === '') flush();
    else if (line.startsWith('#')) continue;
    else if (current.length === 0 && attributeName(line) === 'version') continue;
    else current.push(line);
  }
  flush();
  return records;
}

function serialize(records: LdifRecord[]): string {
  return records.map((record) => record.lines.join('\n')).join('\n\n') + '\n';
}

function normalizeDn(dn: string): string {
  return dn
    .split(',')
    .map((rdn) =>
      rdn
        .split('=')
        .map((part) => part.trim())
        .join('='),
    )
    .join(',')
    .toLowerCase();
}

function sameDn(a: string, b: string): boolean {
  return normalizeDn(a) === normalizeDn(b);
}

function isGroup(record: LdifRecord): boolean {
  return record.lines.some((line) => MEMBER_ATTRIBUTES.has(attributeName(line)));
}

function membersByAttribute(record: LdifRecord): Map<string, string[]> {
  const byAttribute = new Map<string, string[]>();
  for (const line of record.lines) {
    const name = attributeName(line);
    if (!MEMBER_ATTRIBUTES.has(name)) continue;
    byAttribute.set(name, [...(byAttribute.get(name) ?? []), line]);
  }
  return byAttribute;
}

function withPlaceholderMembers(record: LdifRecord, placeholder: string): LdifRecord {
  const attributes = [...membersByAttribute(record).keys()];
  return {
    dn: record.dn,
    lines: [
      ...record.lines.filter((line) => !MEMBER_ATTRIBUTES.has(attributeName(line))),
      ...attributes.map((name) => `${name}: ${placeholder}`),
    ],
  };
}

function memberModification(record: LdifRecord, placeholder: string): string {
  const changes = [...membersByAttribute(record)].map(([name, lines]) => [
    `add: ${name}`,
    ...lines,
    '-',
    `delete: ${name}`,
    `${name}: ${placeholder}`,
    '-',
  ]);
  return [record.lines[0] ?? '', 'changetype: modify', ...changes.flat(), ''].join('\n');
}

function suffixRecord(suffix: string): LdifRecord {
  const [first] = suffix.split(',');
  const [type = '', value = ''] = (first ?? '').split('=').map((part) => part.trim());
  const attrs: Record<string, string[]> = {
    dc: ['objectClass: dcObject', 'objectClass: organization', `dc: ${value}`, `o: ${value}`],
    o: ['objectClass: organization', `o: ${value}`],
    ou: ['objectClass: organizationalUnit', `ou: ${value}`],
  };
  const lines = attrs[type.toLowerCase()];
  if (lines === undefined) {
    throw new Error(
      `Cannot create a suffix entry for ${suffix}. To fix: include the suffix entry in options.ldif.`,
    );
  }
  return { dn: suffix, lines: [`dn: ${suffix}`, ...lines] };
}

function readerRecord(readerDn: string): LdifRecord {
  return {
    dn: readerDn,
    lines: [
      `dn: ${readerDn}`,
      'objectClass: applicationProcess',
      'objectClass: simpleSecurityObject',
      'cn: reader',
      `userPassword: ${READER_PASSWORD}`,
    ],
  };
}
