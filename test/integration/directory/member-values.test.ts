import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LdapSourceConfig } from '../../../src/config/source.js';
import { normalizeDn } from '../../../src/directory/dn.js';
import { LdapSource } from '../../../src/directory/ldap/source.js';
import { DirectoryError } from '../../../src/errors.js';
import { desiredRank } from '../../../src/reconcile/rules.js';
import {
  ADMINS,
  EMPTIED,
  GHOSTS,
  HELPDESK,
  LDIF,
  OWNERS,
  PEOPLE,
  GROUPS,
  SERVICES,
} from '../../fixtures/ldap/member-values-fixture.js';
import {
  slapdAvailable,
  slapdUnavailableReason,
  startSlapd,
  type SlapdServer,
} from '../../support/slapd.js';
import { someRules } from '../../unit/reconcile/builders.js';

// In CI a missing slapd fails (startSlapd throws and says what to install); locally it skips.
const skip = !slapdAvailable() && process.env.CI !== 'true';
if (skip) console.warn(`Skipping member-value tests: ${slapdUnavailableReason() ?? ''}`);

describe.skipIf(skip)('member values against OpenLDAP slapd', () => {
  let server: SlapdServer;

  const source = (): LdapSource =>
    new LdapSource(
      LdapSourceConfig.parse({
        type: 'ldap',
        urls: [server.url],
        startTls: true,
        bindDn: server.bindDn,
        tls: { caFile: server.caFile },
        users: { baseDns: [PEOPLE] },
        groups: { baseDns: [GROUPS] },
      }),
      { bindPassword: server.bindPassword },
    );

  beforeAll(async () => {
    server = await startSlapd({ ldif: LDIF });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('gives the rank of a posixGroup whose memberUid holds a DN', async () => {
    const snapshot = await source().read({ groupsOfInterest: [ADMINS] });
    const ann = snapshot.users.find((u) => u.email === 'ann@example.com');

    expect(ann?.groups).toEqual([normalizeDn(ADMINS)]);
    expect(desiredRank(ann!, someRules({ ranks: { SUPER: [], ADMIN: [ADMINS] } })).rank).toBe(
      'ADMIN',
    );
  });

  it("resolves a groupOfUniqueNames uniqueMember with an optional UID (#'0101'B)", async () => {
    const snapshot = await source().read({ groupsOfInterest: [OWNERS] });
    const cy = snapshot.users.find((u) => u.email === 'cy@example.com');

    expect(cy?.groups).toEqual([normalizeDn(OWNERS)]);
    expect(desiredRank(cy!, someRules({ ranks: { SUPER: [OWNERS], ADMIN: [] } })).rank).toBe(
      'SUPER',
    );
  });

  it('reports member values of a rule group that resolve to no user read', async () => {
    const snapshot = await source().read({ groupsOfInterest: [HELPDESK] });

    expect(snapshot.unresolvedMembers).toEqual([
      {
        group: normalizeDn(HELPDESK),
        count: 2,
        sample: [normalizeDn(`uid=svc-backup,${SERVICES}`), normalizeDn(`uid=gone,${PEOPLE}`)],
        all: false,
      },
    ]);
  });

  it('refuses a rule group none of whose member values resolves', async () => {
    const error = await source()
      .read({ groupsOfInterest: [GHOSTS] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );

    expect(error).toBeInstanceOf(DirectoryError);
    expect((error as DirectoryError).message).toContain(
      `the group ${GHOSTS}, named in the rules, has 2 member values and none is a user read`,
    );
  });

  it("reads a groupOfNames holding only placeholders (its own DN, Keycloak's) as an empty group", async () => {
    const snapshot = await source().read({ groupsOfInterest: [EMPTIED] });

    expect(snapshot.unresolvedMembers).toEqual([]);
    expect(snapshot.groups.has(normalizeDn(EMPTIED))).toBe(true);
    expect(snapshot.users.filter((u) => u.groups.length > 0)).toEqual([]);
  });
});
