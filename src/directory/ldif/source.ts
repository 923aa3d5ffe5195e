import { readFile } from 'node:fs/promises';
import type { LdifSourceConfig } from '../../config/source.js';
import { DirectoryError } from '../../errors.js';
import { createSilentLogger, type Logger } from '../../log.js';
import { assembleSnapshot, logWarnings, mapGroup, mapUser, type MappedUser } from '../build.js';
import { isUnder, normalizeDn } from '../dn.js';
import { compileFilter } from '../filter.js';
import { FLAVORS, withAttributes, type Flavor } from '../flavors.js';
import { GroupGraph, type GroupNode } from '../groups.js';
import {
  values,
  type DirectorySnapshot,
  type DirectorySource,
  type DirectoryWarning,
  type ReadRequest,
  type UnusableEntry,
} from '../model.js';
import { parseLdif } from './parse.js';

/**
 * Reads an LDIF export (ldapsearch -LLL, ldifde) into the same snapshot as a live server,
 * with the same filters and client-side nested group resolution.
 */
export class LdifSource implements DirectorySource {
  private readonly flavor: Flavor;

  constructor(
    private readonly config: LdifSourceConfig,
    private readonly clock: () => Date = () => new Date(),
    private readonly logger: Logger = createSilentLogger(),
  ) {
    this.flavor = withAttributes(FLAVORS[config.flavor], config.attributes);
  }

  async read(request: ReadRequest): Promise<DirectorySnapshot> {
    const started = performance.now();
    const now = this.clock();
    let text: string;
    try {
      text = await readFile(this.config.file, 'utf8');
    } catch (error) {
      throw new DirectoryError(
        `LDIF file ${this.config.file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
        {
          cause: error,
          hint: `check source.file: ${this.config.file} must exist and be readable`,
        },
      );
    }
    const entries = parseLdif(text, this.config.file, this.flavor.binaryAttributes);
    let isUser: (e: (typeof entries)[number]) => boolean;
    let isGroup: (e: (typeof entries)[number]) => boolean;
    try {
      isUser = compileFilter(this.config.users.filter ?? this.flavor.userFilter);
      isGroup = compileFilter(this.config.groups.filter ?? this.flavor.groupFilter);
    } catch (error) {
      throw new DirectoryError(
        `source filter cannot be used on an LDIF file: ${(error as Error).message}`,
        {
          cause: error,
          hint: 'use plain (attr=value), presence, substring, &, | and ! in source.users.filter and source.groups.filter',
        },
      );
    }
    const userBases = this.config.users.baseDns.map(normalizeDn);
    const groupBases = this.config.groups.baseDns.map(normalizeDn);
    const inBases = (dn: string, bases: string[]): string | undefined =>
      bases.length === 0 ? '' : bases.find((b) => isUnder(dn, b));

    const warnings: DirectoryWarning[] = [];
    const unusable: UnusableEntry[] = [];
    const users: MappedUser[] = [];
    const groups: GroupNode[] = [];
    const usersPerBase: Record<string, number> = {};
    const groupsPerBase: Record<string, number> = {};
    let withoutEmail = 0;
    for (const entry of entries) {
      const dn = normalizeDn(entry.dn);
      const userBase = inBases(dn, userBases);
      if (userBase !== undefined && isUser(entry)) {
        usersPerBase[userBase] = (usersPerBase[userBase] ?? 0) + 1;
        const mapped = mapUser(entry, this.flavor, now, warnings, unusable);
        if (mapped === undefined) withoutEmail++;
        else users.push(mapped);
        continue;
      }
      const groupBase = inBases(dn, groupBases);
      if (groupBase !== undefined && isGroup(entry)) {
        groupsPerBase[groupBase] = (groupsPerBase[groupBase] ?? 0) + 1;
        groups.push(
          mapGroup(
            entry,
            this.flavor,
            this.flavor.attributes.members.flatMap((a) => values(entry, a)),
          ),
        );
      }
    }
    if (users.length === 0) {
      throw new DirectoryError(
        `LDIF file ${this.config.file} holds no user that matches the users filter and base DNs`,
        {
          hint: 'check source.users.filter and source.users.baseDns against the file; an empty read is never trusted',
        },
      );
    }
    const graph = new GroupGraph(groups);
    const memberships = graph.resolveAll(
      users.map((u) => u.node),
      warnings,
    );
    logWarnings(this.logger, warnings);
    return assembleSnapshot({
      users,
      memberships: (i) => memberships[i]!,
      groupNames: new Map(groups.map((g) => [g.dn, g.name])),
      groupsOfInterest: request.groupsOfInterest,
      warnings,
      unusable,
      graph,
      logger: this.logger,
      stats: {
        source: this.config.file,
        flavor: this.flavor.name,
        usersPerBase,
        groupsPerBase,
        referencesSkipped: 0,
        usersWithoutEmail: withoutEmail,
        durationMs: performance.now() - started,
      },
      now,
    });
  }
}
