import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LdapSourceConfig } from '../../../src/config/source.js';
import { LdapSource } from '../../../src/directory/ldap/source.js';
import type { DirectorySnapshot } from '../../../src/directory/model.js';
import {
  slapdAvailable,
  slapdUnavailableReason,
  startSlapd,
  type SlapdServer,
} from '../../support/slapd.js';

// In CI a missing slapd fails (startSlapd throws and says what to install); locally it skips.
const skip = !slapdAvailable() && process.env.CI !== 'true';
if (skip) console.warn(`Skipping OpenLDAP shadowExpire tests: ${slapdUnavailableReason() ?? ''}`);

const PEOPLE = 'ou=People,dc=example,dc=com';
/** Days since 1970-01-01 UTC, as shadowExpire counts. */
const today = Math.floor(Date.now() / 86_400_000);
/** uid -> shadowExpire value (undefined: no shadowAccount at all). */
const USERS: Record<string, string | undefined> = {
  past: String(today - 1),
  today: String(today),
  future: String(today + 1),
  zero: '0',
  never: '-1',
  plain: undefined,
};

function ldif(): string {
  const blocks = [`dn: ${PEOPLE}\nobjectClass: organizationalUnit\nou: People`];
  for (const [uid, expire] of Object.entries(USERS)) {
    blocks.push(
      [
        `dn: uid=${uid},${PEOPLE}`,
        'objectClass: inetOrgPerson',
        ...(expire === undefined ? [] : ['objectClass: shadowAccount', `shadowExpire: ${expire}`]),
        `uid: ${uid}`,
        `cn: ${uid}`,
        `sn: ${uid}`,
        `mail: ${uid}@example.com`,
      ].join('\n'),
    );
  }
  return blocks.join('\n\n') + '\n';
}

describe.skipIf(skip)('OpenLDAP shadowExpire (RFC 2307 shadowAccount) against slapd', () => {
  let server: SlapdServer;
  let snapshot: DirectorySnapshot;

  beforeAll(async () => {
    server = await startSlapd({ ldif: ldif() });
    snapshot = await new LdapSource(
      LdapSourceConfig.parse({
        type: 'ldap',
        urls: [server.url],
        startTls: true,
        bindDn: server.bindDn,
        tls: { caFile: server.caFile },
        users: { baseDns: [PEOPLE] },
      }),
      { bindPassword: server.bindPassword },
    ).read({ groupsOfInterest: [] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('makes a user expired from the day shadowExpire names; 0, -1 and no value never expire', () => {
    const expired = Object.fromEntries(snapshot.users.map((u) => [u.logins[0] ?? u.dn, u.expired]));
    expect(snapshot.stats.flavor).toBe('openldap');
    expect(expired).toEqual({
      past: true,
      today: true,
      future: false,
      zero: false,
      never: false,
      plain: false,
    });
    expect(snapshot.users.every((u) => !u.disabled)).toBe(true);
  });
});
