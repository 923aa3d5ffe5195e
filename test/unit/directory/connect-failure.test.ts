import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { LdapConnection } from '../../../src/directory/ldap/connection.js';
import { DirectoryError } from '../../../src/errors.js';

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('an LDAP server that cannot be reached', () => {
  it('is named with its system error code once, not twice', async () => {
    // Arrange
    const url = `ldap://127.0.0.1:${await closedPort()}`;

    // Act
    const error = await LdapConnection.open({
      urls: [url],
      startTls: false,
      tls: { rejectUnauthorized: true },
      allowPlaintextBind: false,
      connectTimeoutMs: 2000,
      timeoutMs: 2000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );

    // Assert
    expect(error).toBeInstanceOf(DirectoryError);
    const message = (error as DirectoryError).message;
    expect(message).toContain(`${url}: connect ECONNREFUSED`);
    expect(message.match(/ECONNREFUSED/g)).toHaveLength(1);
  });
});
