import type { LdapSourceConfig } from '../../config/source.js';
import { DirectoryError } from '../../errors.js';
import { createSilentLogger, type Logger } from '../../log.js';
import { assembleSnapshot, logWarnings, mapGroup, mapUser, type MappedUser } from '../build.js';
import { normalizeDn } from '../dn.js';
import {
  FLAVORS,
  flavorOfRootDse,
  withAttributes,
  type Flavor,
  type FlavorName,
} from '../flavors.js';
import { GroupGraph, type GroupNode } from '../groups.js';
import {
  NONE,
  values,
  type DirectorySnapshot,
  type DirectorySource,
  type DirectoryWarning,
  type RawEntry,
  type ReadRequest,
  type UnusableEntry,
} from '../model.js';
import { findRanged, LdapConnection } from './connection.js';
import { appendAll } from '../append.js';

export interface LdapSourceDeps {
  /** The resolved bind password (from bindPasswordFile, ${ENV} or bindPassword). */
  bindPassword?: string | undefined;
  logger?: Logger;
  clock?: () => Date;
  /** Told how the read advances (a page at a time), for a progress line on a terminal. */
  onProgress?: (message: string) => void;
}

const IN_CHAIN = '1.2.840.113556.1.4.1941';

/** Escapes a value for use inside an LDAP filter (RFC 4515). */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The attributes a users search asks for. */
export function userAttributes(flavor: Flavor): string[] {
  const a = flavor.attributes;
  const wanted = [
    a.id,
    a.email,
    ...a.aliases,
    a.firstName,
    a.lastName,
    ...a.logins,
    a.smartcards,
    a.memberOf,
    // posixGroup memberUid names the POSIX uid, whatever the login attributes are.
    'uid',
    ...flavor.statusAttributes,
  ];
  return [...new Set(wanted.filter((x): x is string => x !== undefined))];
}

/** The attributes a groups search asks for; with `rangeSize`, member lists by range. */
export function groupAttributes(flavor: Flavor, rangeSize: number | undefined): string[] {
  const a = flavor.attributes;
  const members = a.members.map((m) =>
    rangeSize === undefined ? m : `${m};range=0-${rangeSize - 1}`,
  );
  return [a.groupName, ...members, a.memberUid, a.memberOf];
}

export function detectFlavor(rootDse: RawEntry | undefined): FlavorName {
  return flavorOfRootDse(rootDse);
}

/**
 * Reads users and groups from a live LDAP server or Active Directory. The read is complete or
 * it is an error: every page to the end, every range to `*`, no silent truncation.
 */
export class LdapSource implements DirectorySource {
  private readonly logger: Logger;
  private readonly clock: () => Date;

  constructor(
    private readonly config: LdapSourceConfig,
    private readonly deps: LdapSourceDeps = {},
  ) {
    this.logger = deps.logger ?? createSilentLogger();
    this.clock = deps.clock ?? (() => new Date());
  }

  async read(request: ReadRequest): Promise<DirectorySnapshot> {
    const started = performance.now();
    const c = this.config;
    const conn = await LdapConnection.open({
      urls: c.urls,
      bindDn: c.bindDn,
      bindPassword: this.deps.bindPassword ?? c.bindPassword,
      startTls: c.startTls,
      tls: c.tls,
      allowPlaintextBind: c.allowPlaintextBind,
      connectTimeoutMs: c.connectTimeoutMs,
      timeoutMs: c.timeoutMs,
      logger: this.logger,
    });
    try {
      const flavorName = c.flavor ?? detectFlavor(await conn.rootDse());
      const flavor = withAttributes(FLAVORS[flavorName], c.attributes);
      const now = this.clock();
      const warnings: DirectoryWarning[] = [];
      const unusable: UnusableEntry[] = [];

      const nested = c.groups.nested === 'auto' ? flavor.nested : c.groups.nested;
      const interest = request.groupsOfInterest;
      const inChain = nested === 'inChain' && interest.length > 0;
      // Client-side nesting: the groups first (a few pages), so that each user's groups are
      // resolved as its page arrives, while the server works on the next one.
      const groupRead = inChain ? undefined : await this.readGroups(conn, flavor);
      const { users, usersPerBase, withoutEmail, effective } = await this.readUsers(
        conn,
        flavor,
        now,
        warnings,
        unusable,
        groupRead?.graph,
      );
      const resolved =
        groupRead === undefined
          ? await this.resolveInChain(conn, flavor, interest)
          : {
              memberships: (i: number) => effective[i]!,
              groupNames: groupRead.groupNames,
              groupsPerBase: groupRead.groupsPerBase,
            };

      logWarnings(this.logger, warnings);
      return assembleSnapshot({
        users,
        memberships: resolved.memberships,
        groupNames: resolved.groupNames,
        groupsOfInterest: interest,
        warnings,
        unusable,
        graph: groupRead?.graph,
        logger: this.logger,
        stats: {
          source: conn.url,
          flavor: flavor.name,
          usersPerBase,
          groupsPerBase: resolved.groupsPerBase,
          referencesSkipped: conn.referencesSkipped,
          usersWithoutEmail: withoutEmail,
          durationMs: performance.now() - started,
        },
        now,
      });
    } finally {
      await conn.close();
    }
  }

  private async readUsers(
    conn: LdapConnection,
    flavor: Flavor,
    now: Date,
    warnings: DirectoryWarning[],
    unusable: UnusableEntry[],
    graph: GroupGraph | undefined,
  ) {
    const attributes = userAttributes(flavor);
    const filter = this.config.users.filter ?? flavor.userFilter;
    const users: MappedUser[] = [];
    /** Each user's effective groups, by index in `users` (with a group graph). */
    const effective: (readonly string[])[] = [];
    const usersPerBase: Record<string, number> = {};
    let withoutEmail = 0;
    for (const base of this.config.users.baseDns) {
      let count = 0;
      for await (const page of conn.search(base, {
        filter,
        attributes,
        pageSize: this.config.pageSize,
        binaryAttributes: flavor.binaryAttributes,
      })) {
        count += page.length;
        this.deps.onProgress?.(`reading users under ${base}: ${count}`);
        for (const entry of page) {
          const mapped = mapUser(entry, flavor, now, warnings, unusable);
          if (mapped === undefined) {
            withoutEmail++;
            continue;
          }
          users.push(mapped);
          if (graph !== undefined && !graph.usesUids)
            effective.push(graph.effectiveGroups(mapped.node));
        }
      }
      if (count === 0) await assertBaseReadable(conn, base, 'source.users.baseDns');
      usersPerBase[base] = count;
      this.logger.debug('LDAP users read', { base, count });
    }
    if (graph?.usesUids === true) {
      // memberUid names logins: whether a login is unique is known only once every user is read.
      appendAll(
        effective,
        graph.resolveAll(
          users.map((u) => u.node),
          warnings,
        ),
      );
    }
    if (users.length === 0) {
      throw new DirectoryError(
        `the users search on ${conn.url} returned no user with an email (${this.config.users.baseDns.join('; ')}, filter ${filter})`,
        {
          hint: "check source.users.baseDns, source.users.filter and the bind account's read rights; an empty read is never trusted",
        },
      );
    }
    return { users, usersPerBase, withoutEmail, effective };
  }

  /** AD: one in-chain search per group of interest gives its nested members directly. */
  private async resolveInChain(conn: LdapConnection, flavor: Flavor, interest: readonly string[]) {
    const memberships = new Map<string, string[]>();
    const groupNames = new Map<string, string>();
    const groupsPerBase: Record<string, number> = {};
    const userFilter = this.config.users.filter ?? flavor.userFilter;
    for (const groupDn of interest) {
      const group = await conn
        .searchAll(groupDn, {
          scope: 'base',
          filter: '(objectClass=*)',
          attributes: [flavor.attributes.groupName],
        })
        .catch((error: unknown) => {
          throw missingGroup(groupDn, error);
        });
      const normalized = normalizeDn(groupDn);
      groupNames.set(
        normalized,
        (group[0] && values(group[0], flavor.attributes.groupName)[0]) ?? groupDn,
      );
      const filter = `(&${userFilter}(${flavor.attributes.memberOf}:${IN_CHAIN}:=${escapeFilterValue(groupDn)}))`;
      for (const base of this.config.users.baseDns) {
        for await (const page of conn.search(base, {
          filter,
          attributes: ['1.1'],
          pageSize: this.config.pageSize,
        })) {
          for (const entry of page) {
            const dn = normalizeDn(entry.dn);
            const list = memberships.get(dn);
            if (list === undefined) memberships.set(dn, [normalized]);
            else list.push(normalized);
          }
        }
      }
    }
    groupsPerBase['(in-chain)'] = interest.length;
    return {
      memberships: (_index: number, dn: string): readonly string[] => memberships.get(dn) ?? NONE,
      groupNames,
      groupsPerBase,
    };
  }

  /** Reads every group, its member ranges followed to the end, into a graph for nesting. */
  private async readGroups(conn: LdapConnection, flavor: Flavor): Promise<GroupRead> {
    const a = flavor.attributes;
    const rangeSize = this.config.groups.rangeSize;
    const attributes = groupAttributes(flavor, rangeSize);
    const filter = this.config.groups.filter ?? flavor.groupFilter;
    const groups: GroupNode[] = [];
    const groupsPerBase: Record<string, number> = {};
    for (const base of this.config.groups.baseDns) {
      let count = 0;
      for await (const page of conn.search(base, {
        filter,
        attributes,
        pageSize: this.config.pageSize,
      })) {
        count += page.length;
        for (const entry of page) {
          const members: string[] = [];
          for (const attr of a.members) {
            appendAll(members, values(entry, attr));
            const ranged = findRanged(entry, attr);
            if (ranged === undefined) continue;
            appendAll(members, ranged.values);
            if (ranged.end !== '*')
              appendAll(
                members,
                await conn.readRange(entry.dn, attr, Number(ranged.end) + 1, rangeSize),
              );
          }
          groups.push(mapGroup(entry, flavor, members));
        }
      }
      if (count === 0) await assertBaseReadable(conn, base, 'source.groups.baseDns');
      groupsPerBase[base] = count;
    }
    return {
      graph: new GroupGraph(groups),
      groupNames: new Map(groups.map((g) => [g.dn, g.name])),
      groupsPerBase,
    };
  }
}

interface GroupRead {
  graph: GroupGraph;
  groupNames: Map<string, string>;
  groupsPerBase: Record<string, number>;
}

/**
 * A base that gave no entry must at least be there: 389-DS answers a paged search under a DN that
 * does not exist with success and no entries (not noSuchObject), and so does a server that hides
 * the base from the bind account. One base-scope read tells an empty base from a missing one.
 */
async function assertBaseReadable(conn: LdapConnection, base: string, key: string): Promise<void> {
  const found = await conn.searchAll(base, {
    scope: 'base',
    filter: '(objectClass=*)',
    attributes: ['1.1'],
    pageSize: 1,
  });
  if (found.length > 0) return;
  throw new DirectoryError(
    `search of ${base} on ${conn.url}: the base DN does not exist or the bind account cannot read it`,
    { hint: `check ${key} and the bind account's read rights (ACIs) on that entry` },
  );
}

function missingGroup(groupDn: string, cause: unknown): DirectoryError {
  return new DirectoryError(
    `the group ${groupDn}, named in the rules, cannot be read: ${(cause as Error).message}`,
    {
      cause,
      hint: 'fix the group DN in the rules; without it every member would lose what the group grants',
    },
  );
}
