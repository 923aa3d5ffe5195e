import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LdapConnection, type LdapConnectOptions } from '../../../src/directory/ldap/connection.js';
import { ConfigError, DirectoryError } from '../../../src/errors.js';

/**
 * One rule for plain traffic to this machine (src/loopback.ts): a simple bind over plain ldap://
 * is allowed to loopback, as plain http:// to the Users API is, and refused to any other host
 * unless source.allowPlaintextBind.
 */
const options = (url: string, allowPlaintextBind = false): LdapConnectOptions => ({
  urls: [url],
  bindDn: 'cn=reader,dc=corp,dc=example,dc=com',
  bindPassword: 'secret',
  startTls: false,
  tls: { rejectUnauthorized: true },
  allowPlaintextBind,
  connectTimeoutMs: 2000,
  timeoutMs: 2000,
});

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

/** A loopback port that accepts and at once closes: the bind is sent, then fails. */
async function closingPort(): Promise<number> {
  const s = createServer((socket) => socket.destroy());
  server = s;
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return (s.address() as { port: number }).port;
}

describe('a simple bind over plain ldap://', () => {
  it.each(['ldap://dc1.corp.example.com', 'ldap://127.0.0.1.nip.io:389', 'ldap://192.0.2.10'])(
    'is refused to %s, a host other than loopback, before anything is sent',
    async (url) => {
      const error = await failure(LdapConnection.open(options(url)));

      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toContain('refusing a simple bind over plain');
    },
  );

  it.each(['127.0.0.1', 'localhost'])(
    'is attempted to loopback (%s) as plain http:// to the API is',
    async (host) => {
      const port = await closingPort();
      const error = await failure(LdapConnection.open(options(`ldap://${host}:${port}`)));

      // It reached the server (which hung up): not refused as a config error.
      expect(error).toBeInstanceOf(DirectoryError);
      expect((error as DirectoryError).message).toContain('no LDAP server could be reached');
    },
  );

  it('is attempted to another host with source.allowPlaintextBind', async () => {
    const error = await failure(
      LdapConnection.open({ ...options('ldap://192.0.2.10:1', true), connectTimeoutMs: 200 }),
    );

    expect(error).toBeInstanceOf(DirectoryError);
  });
});
