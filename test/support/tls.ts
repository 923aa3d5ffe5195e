import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Paths of a throwaway PKI for test servers on loopback. All files are PEM. */
export interface TestCertificates {
  /** CA that signed `certFile`: what a client must trust. */
  caFile: string;
  /** Server certificate, SAN `IP:127.0.0.1, DNS:localhost`. */
  certFile: string;
  /** Unencrypted private key of `certFile`, mode 0600 (Samba refuses any other mode). */
  keyFile: string;
  /** A second CA that signed nothing the servers present: for "wrong CA" tests. */
  unrelatedCaFile: string;
}

/**
 * Absolute path of an executable, looked up in PATH and the sbin directories (slapd, samba and
 * slapadd live in /usr/sbin, which is not always in a non-root PATH); undefined when absent.
 */
export function findExecutable(name: string): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/local/sbin',
    '/usr/sbin',
    '/sbin',
  ].filter((dir) => dir !== '');
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** True when the `openssl` CLI (Debian package `openssl`) is installed. */
export function opensslAvailable(): boolean {
  return findExecutable('openssl') !== undefined;
}

/**
 * Writes a throwaway CA, a server certificate for 127.0.0.1/localhost signed by it and an
 * unrelated second CA into `dir` (created if missing). The caller owns `dir` and removes it.
 * EC P-256 keys keep generation to a few tens of milliseconds.
 */
export async function createTestCertificates(dir: string): Promise<TestCertificates> {
  const openssl = findExecutable('openssl');
  if (openssl === undefined) {
    throw new Error(
      'openssl is not installed. To fix: apt-get install -y openssl (Debian package "openssl").',
    );
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = (name: string): string => join(dir, name);
  const run = async (args: string[]): Promise<void> => {
    try {
      await execFileAsync(openssl, args, { cwd: dir });
    } catch (error) {
      throw new Error(`openssl ${args[0] ?? ''} failed in ${dir}`, { cause: error });
    }
  };
  const newCa = (name: string, subject: string): Promise<void> =>
    run([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '7',
      '-subj',
      subject,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout',
      path(`${name}.key`),
      '-out',
      path(`${name}.pem`),
    ]);

  await Promise.all([
    newCa('ca', '/CN=dirsync test CA'),
    newCa('unrelated-ca', '/CN=dirsync unrelated test CA'),
    run([
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-keyout',
      path('server.key'),
      '-out',
      path('server.csr'),
    ]),
    writeFile(
      path('server.ext'),
      [
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        '',
      ].join('\n'),
    ),
  ]);
  await run([
    'x509',
    '-req',
    '-in',
    path('server.csr'),
    '-CA',
    path('ca.pem'),
    '-CAkey',
    path('ca.key'),
    '-CAcreateserial',
    '-days',
    '7',
    '-extfile',
    path('server.ext'),
    '-out',
    path('server.pem'),
  ]);
  await chmod(path('server.key'), 0o600);
  return {
    caFile: path('ca.pem'),
    certFile: path('server.pem'),
    keyFile: path('server.key'),
    unrelatedCaFile: path('unrelated-ca.pem'),
  };
}
