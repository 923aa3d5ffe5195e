import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  LdifSourceConfig,
  type LdifSourceConfig as LdifConfig,
} from '../../../src/config/source.js';
import { looksLikeDn, normalizeDn, withoutOptionalUid } from '../../../src/directory/dn.js';
import { LdifSource } from '../../../src/directory/ldif/source.js';
import { DirectoryError } from '../../../src/errors.js';
import { plan } from '../../../src/reconcile/plan.js';
import { desiredRank } from '../../../src/reconcile/rules.js';
import { renderPlan } from '../../../src/reconcile/render.js';
import {
  ADMINS,
  GHOSTS,
  GROUPS,
  HELPDESK,
  LDIF,
  OWNERS,
  PEOPLE,
  SERVICES,
} from '../../fixtures/ldap/member-values-fixture.js';
import { anInputOf, someRules } from '../reconcile/builders.js';

const dir = mkdtempSync(join(tmpdir(), 'dirsync-members-'));
const file = join(dir, 'members.ldif');
writeFileSync(file, `${LDIF}\n`);

function source(extra: Partial<LdifConfig> = {}): LdifSource {
  return new LdifSource(
    LdifSourceConfig.parse({
      type: 'ldif',
      file,
      users: { baseDns: [PEOPLE] },
      groups: { baseDns: [GROUPS] },
      ...extra,
    }),
  );
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the read to fail');
}

describe('DN shapes', () => {
  it.each([
    [`uid=ann,${PEOPLE}`, true],
    ['UID=Ann, OU=People, DC=example, DC=com', true],
    ['cn=a+sn=b,dc=x', true],
    ['2.5.4.3=ann,dc=x', true],
    ['cn=smith\\, john,dc=x', true],
    ['ann', false],
    ['ann.smith', false],
    ['=ann,dc=x', false],
    ['a b=c,dc=x', false],
    ['ann,dc=x', false],
  ])('%s looks like a DN: %s', (value, expected) => {
    expect(looksLikeDn(value)).toBe(expected);
  });

  it.each([
    [`uid=ann,${PEOPLE}#'0101'B`, `uid=ann,${PEOPLE}`],
    [`uid=ann,${PEOPLE}#''B`, `uid=ann,${PEOPLE}`],
    [`uid=ann,${PEOPLE}`, `uid=ann,${PEOPLE}`],
    // An escaped # belongs to the value; a # that starts a value is hex BER, not a UID.
    [`cn=a\\#'01'B,${PEOPLE}`, `cn=a\\#'01'B,${PEOPLE}`],
    [`cn=#04024869,${PEOPLE}`, `cn=#04024869,${PEOPLE}`],
    [`cn=#'01'B`, `cn=#'01'B`],
    [`cn=a\\\\#'01'B`, `cn=a\\\\`],
    // Not a BitString: stays.
    [`cn=a#'012'B,${PEOPLE}`, `cn=a#'012'B,${PEOPLE}`],
    [`cn=a#'01'B,${PEOPLE}`, `cn=a#'01'B,${PEOPLE}`],
  ])('%s without its optional UID is %s', (value, expected) => {
    expect(withoutOptionalUid(value)).toBe(expected);
  });
});

describe('member values that mean something else', () => {
  it('resolves a memberUid holding a DN as that DN, and a plain uid as before; the group grants its rank', async () => {
    const snapshot = await source().read({ groupsOfInterest: [ADMINS] });
    const byEmail = new Map(snapshot.users.map((u) => [u.email, u]));
    const rules = someRules({ ranks: { SUPER: [], ADMIN: [ADMINS] } });

    expect(byEmail.get('ann@example.com')?.groups).toEqual([normalizeDn(ADMINS)]);
    expect(byEmail.get('bob@example.com')?.groups).toEqual([normalizeDn(ADMINS)]);
    expect(desiredRank(byEmail.get('ann@example.com')!, rules).rank).toBe('ADMIN');
    expect(desiredRank(byEmail.get('cy@example.com')!, rules).rank).toBe('REGULAR');
    expect(snapshot.unresolvedMembers).toEqual([]);
  });

  it("resolves a uniqueMember with an optional UID (#'0101'B) as its DN", async () => {
    const snapshot = await source().read({ groupsOfInterest: [OWNERS] });
    const cy = snapshot.users.find((u) => u.email === 'cy@example.com');
    const rules = someRules({ ranks: { SUPER: [OWNERS], ADMIN: [] } });

    expect(cy?.groups).toEqual([normalizeDn(OWNERS)]);
    expect(desiredRank(cy!, rules).rank).toBe('SUPER');
  });

  it('counts the member values of a rule group that resolve to no user read, not its nested groups', async () => {
    const snapshot = await source().read({ groupsOfInterest: [HELPDESK, ADMINS] });

    expect(snapshot.unresolvedMembers).toEqual([
      {
        group: normalizeDn(HELPDESK),
        count: 2,
        sample: [normalizeDn(`uid=svc-backup,${SERVICES}`), normalizeDn(`uid=gone,${PEOPLE}`)],
        all: false,
      },
    ]);
    // Those that resolve still do, nesting included.
    const cy = snapshot.users.find((u) => u.email === 'cy@example.com');
    expect(cy?.groups).toEqual([normalizeDn(HELPDESK)]);
  });

  it('reports nothing for groups the rules do not name', async () => {
    const snapshot = await source().read({ groupsOfInterest: [ADMINS] });
    expect(snapshot.unresolvedMembers).toEqual([]);
  });

  it('counts a memberUid naming no login', async () => {
    const ldif = LDIF.replace('memberUid: bob', 'memberUid: nobody');
    const other = join(dir, 'nobody.ldif');
    writeFileSync(other, `${ldif}\n`);
    const snapshot = await source({ file: other }).read({ groupsOfInterest: [ADMINS] });
    expect(snapshot.unresolvedMembers).toEqual([
      { group: normalizeDn(ADMINS), count: 1, sample: ['nobody'], all: false },
    ]);
  });

  it('refuses a rule group none of whose members resolves, as it refuses a missing one', async () => {
    const error = await failure(source().read({ groupsOfInterest: [GHOSTS] }));
    const missing = await failure(source().read({ groupsOfInterest: [`cn=nowhere,${GROUPS}`] }));

    expect(error).toBeInstanceOf(DirectoryError);
    expect(missing).toBeInstanceOf(DirectoryError);
    const e = error as DirectoryError;
    expect(e.message).toBe(
      `the group ${GHOSTS}, named in the rules, has 2 member values and none is a user read under source.users.baseDns with source.users.filter (${normalizeDn(`uid=svc-backup,${SERVICES}`)}; ${normalizeDn(`uid=gone,${PEOPLE}`)})`,
    );
    expect(e.hint).toContain('source.users.baseDns');
    expect(e.hint).toContain('every member would lose what the group grants');
  });

  it('counts a value listed twice once, and does not refuse a group a user reaches by its own memberOf', async () => {
    const ldif = LDIF.replace(
      `cn: ghosts\nmember: uid=svc-backup,${SERVICES}`,
      `cn: ghosts\nmember: uid=svc-backup,${SERVICES}\nmember: UID=svc-backup, ${SERVICES}`,
    ).replace(`uid: dee\n`, `uid: dee\nmemberOf: ${GHOSTS}\n`);
    const other = join(dir, 'memberof.ldif');
    writeFileSync(other, `${ldif}\n`);

    const snapshot = await source({ file: other }).read({ groupsOfInterest: [GHOSTS] });

    expect(snapshot.unresolvedMembers).toEqual([
      {
        group: normalizeDn(GHOSTS),
        count: 2,
        sample: [normalizeDn(`uid=svc-backup,${SERVICES}`), normalizeDn(`uid=gone,${PEOPLE}`)],
        all: true,
      },
    ]);
    const dee = snapshot.users.find((u) => u.email === 'dee@example.com');
    expect(dee?.groups).toEqual([normalizeDn(GHOSTS)]);
  });

  it('reads the same group once the users base covers its member', async () => {
    const snapshot = await source({ users: { baseDns: [PEOPLE, SERVICES] } }).read({
      groupsOfInterest: [GHOSTS],
    });
    expect(snapshot.unresolvedMembers).toEqual([
      {
        group: normalizeDn(GHOSTS),
        count: 1,
        sample: [normalizeDn(`uid=gone,${PEOPLE}`)],
        all: false,
      },
    ]);
  });
});

describe('unresolved member values in the plan', () => {
  it('makes one note per group, with the count and a sample, shown by the plan', () => {
    const unresolved = {
      group: normalizeDn(HELPDESK),
      count: 5,
      sample: ['uid=a,dc=x', 'uid=b,dc=x', 'uid=c,dc=x'],
      all: false,
    };

    const result = plan(anInputOf([], { unresolvedMembers: [unresolved] }));

    expect(result.notes).toEqual([
      {
        email: '',
        group: normalizeDn(HELPDESK),
        message: expect.stringMatching(
          /^5 member values resolve to no user read \(uid=a,dc=x; uid=b,dc=x; uid=c,dc=x, 2 more\): they get nothing from the group\./,
        ) as string,
      },
    ]);
    expect(renderPlan(result)).toContain(
      `    group ${normalizeDn(HELPDESK)}: 5 member values resolve to no user read`,
    );
  });
});

describe('placeholder member values (groupOfNames must have a member)', () => {
  const LEAVERS = `cn=leavers,${GROUPS}`;

  /** The fixture with a groupOfNames `cn=leavers` holding `members`. */
  function withLeavers(name: string, members: string[]): LdifSource {
    const group = [`dn: ${LEAVERS}`, 'objectClass: groupOfNames', 'cn: leavers'];
    for (const m of members) group.push(m === '' ? 'member:' : `member: ${m}`);
    const other = join(dir, `${name}.ldif`);
    writeFileSync(other, `${LDIF}\n\n${group.join('\n')}\n`);
    return source({ file: other });
  }

  it.each([
    ['self', [LEAVERS]],
    ['self-spelled', [`CN=Leavers, ou=Groups, dc=example, dc=com`]],
    ['keycloak', ['cn=empty-membership-placeholder']],
    ['keycloak-upper', ['CN=Empty-Membership-Placeholder']],
    ['empty', ['']],
  ])(
    'a group holding only a placeholder (%s) is an empty group: no error, nothing unresolved',
    async (name, members) => {
      const snapshot = await withLeavers(name, members).read({ groupsOfInterest: [LEAVERS] });

      expect(snapshot.unresolvedMembers).toEqual([]);
      expect(snapshot.users.filter((u) => u.groups.length > 0)).toEqual([]);
    },
  );

  it('does not count a placeholder next to real members', async () => {
    const snapshot = await withLeavers('mixed', [
      'cn=empty-membership-placeholder',
      LEAVERS,
      `uid=ann,${PEOPLE}`,
      `uid=gone,${PEOPLE}`,
    ]).read({ groupsOfInterest: [LEAVERS] });

    expect(snapshot.unresolvedMembers).toEqual([
      {
        group: normalizeDn(LEAVERS),
        count: 1,
        sample: [normalizeDn(`uid=gone,${PEOPLE}`)],
        all: false,
      },
    ]);
    const ann = snapshot.users.find((u) => u.email === 'ann@example.com');
    expect(ann?.groups).toEqual([normalizeDn(LEAVERS)]);
  });

  it('still refuses a group whose every other value resolves to nobody, a self-reference notwithstanding', async () => {
    const error = await failure(
      withLeavers('self-and-gone', [LEAVERS, `uid=gone,${PEOPLE}`]).read({
        groupsOfInterest: [LEAVERS],
      }),
    );

    expect(error).toBeInstanceOf(DirectoryError);
    expect((error as DirectoryError).message).toContain(
      'has 1 member value and none is a user read',
    );
  });

  it('counts a placeholder it does not know (uid=nobody), and its hint says how to mark one', async () => {
    const error = await failure(
      withLeavers('nobody', [`uid=nobody,${PEOPLE}`]).read({ groupsOfInterest: [LEAVERS] }),
    );

    expect(error).toBeInstanceOf(DirectoryError);
    const e = error as DirectoryError;
    expect(e.message).toContain(`(${normalizeDn(`uid=nobody,${PEOPLE}`)})`);
    expect(e.hint).toContain(`the group's own DN (member: ${LEAVERS})`);
    expect(e.hint).toContain('cn=empty-membership-placeholder');
  });

  it('a memberUid holding the group DN is a placeholder too: beside only a missing member, the group is refused', async () => {
    const ldif = LDIF.replace('memberUid: bob', `memberUid: ${ADMINS}`).replace(
      `memberUid: uid=ann,${PEOPLE}\n`,
      `memberUid: uid=gone,${PEOPLE}\n`,
    );
    const other = join(dir, 'memberuid-self.ldif');
    writeFileSync(other, `${ldif}\n`);

    const error = await failure(source({ file: other }).read({ groupsOfInterest: [ADMINS] }));

    expect(error).toBeInstanceOf(DirectoryError);
    expect((error as DirectoryError).message).toContain(
      'has 1 member value and none is a user read',
    );
  });
});
