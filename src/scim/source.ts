import type { ScimConfig } from '../config/schema.js';
import {
  addressProblem,
  logWarnings,
  normalizeEmail,
  problemMessage,
  usableCards,
  usableLogins,
  valueProblem,
} from '../directory/build.js';
import { normalizeDn } from '../directory/dn.js';
import { GroupGraph, type GroupNode } from '../directory/groups.js';
import type {
  DirectorySnapshot,
  DirectorySource,
  DirectoryUser,
  DirectoryWarning,
  ReadRequest,
  UnusableEntry,
  ValueField,
  ValueProblem,
} from '../directory/model.js';
import { DirectoryError } from '../errors.js';
import { createSilentLogger, type Logger } from '../log.js';
import type { ScimError } from './errors.js';
import { compilePath } from './filter.js';
import { RESOURCE_TYPES } from './schemas.js';
import { SqliteScimStore } from './store.js';

const USER_TYPE = RESOURCE_TYPES.find((t) => t.name === 'User')!;

type Mapping = ScimConfig['attributes'];

const NO_GROUPS: readonly string[] = Object.freeze([]);

function compile(path: string, key: string): (r: unknown) => string[] {
  try {
    return compilePath(path, USER_TYPE);
  } catch (error) {
    throw new DirectoryError(`scim.attributes.${key}: ${(error as ScimError).message}`, {
      hint: 'name a SCIM attribute path such as emails[type eq "work"].value or urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber',
    });
  }
}

/** The mapping compiled once: SCIM attribute paths to the fields of a DirectoryUser. */
export function compileMapping(mapping: Mapping) {
  const email = mapping.email.map((p) => compile(p, 'email'));
  const aliases = mapping.aliases.map((p) => compile(p, 'aliases'));
  const firstName = compile(mapping.firstName, 'firstName');
  const lastName = compile(mapping.lastName, 'lastName');
  const logins = mapping.logins.map((p) => compile(p, 'logins'));
  const smartcards =
    mapping.smartcards === undefined ? undefined : compile(mapping.smartcards, 'smartcards');
  return (
    id: string,
    r: Record<string, unknown>,
    warnings: DirectoryWarning[],
    unusable?: UnusableEntry[],
  ): DirectoryUser | undefined => {
    const dn = typeof r['userName'] === 'string' ? r['userName'] : id;
    // A value that cannot be used makes its field unknown, as for LDAP (directory/build.ts).
    let problems: ValueProblem[] | undefined;
    const problem = (field: ValueField, attribute: string, raw: string, why: string): void => {
      const p = valueProblem(field, attribute, raw, why);
      (problems ??= []).push(p);
      warnings.push({ dn, message: `SCIM user ${id}: ${problemMessage(p)}` });
    };
    /**
     * The usable addresses of a path into `into` (skipping `except` and those already there); an
     * address-like value that is malformed is a problem. Plain loops: this runs once per user.
     */
    const addresses = (
      read: (r: unknown) => string[],
      path: string,
      field: ValueField,
      into: string[],
      except?: string,
    ): void => {
      for (const raw of read(r)) {
        const value = normalizeEmail(raw);
        if (!value.includes('@')) continue;
        const why = addressProblem(value);
        if (why !== undefined) problem(field, path, raw, why);
        else if (value !== except && !into.includes(value)) into.push(value);
      }
    };
    let address: string | undefined;
    const found: string[] = [];
    for (let i = 0; i < email.length && address === undefined; i++) {
      addresses(email[i]!, mapping.email[i]!, 'email', found);
      address = found[0];
    }
    if (address === undefined) {
      if (problems !== undefined) unusable?.push({ dn, problems });
      warnings.push({
        dn,
        message: `SCIM user ${id} has no ${problems === undefined ? '' : 'usable '}email address (scim.attributes.email): it cannot be matched and is skipped`,
      });
      return undefined;
    }
    const main = address;
    const aliasList: string[] = [];
    for (let i = 0; i < aliases.length; i++)
      addresses(aliases[i]!, mapping.aliases[i]!, 'aliases', aliasList, main);
    const loginList: string[] = [];
    for (let i = 0; i < logins.length; i++) {
      const path = mapping.logins[i]!;
      const usable = usableLogins(logins[i]!(r), (raw, why) => problem('logins', path, raw, why));
      for (const login of usable) if (!loginList.includes(login)) loginList.push(login);
    }
    const cardPath = mapping.smartcards;
    const cards =
      smartcards === undefined || cardPath === undefined
        ? []
        : usableCards(smartcards(r), (raw, why) => problem('smartcards', cardPath, raw, why));
    const user: DirectoryUser = {
      id,
      dn,
      email: main,
      aliases: aliasList,
      firstName: (firstName(r)[0] ?? '').trim(),
      lastName: (lastName(r)[0] ?? '').trim(),
      logins: loginList,
      smartcards: cards,
      disabled: r['active'] === false,
      expired: false,
      groups: NO_GROUPS,
    };
    if (problems !== undefined) user.problems = problems;
    return user;
  };
}

/**
 * The directory as identity providers pushed it over SCIM: the users and groups in the store.
 * Groups are named in the rules by displayName (case-insensitive) or externalId; nested groups
 * (a member of type Group) resolve with the same cycle-safe resolver as LDAP's.
 */
export class ScimSource implements DirectorySource {
  readonly #map: ReturnType<typeof compileMapping>;

  constructor(
    private readonly config: ScimConfig,
    private readonly clock: () => Date = () => new Date(),
    private readonly logger: Logger = createSilentLogger(),
  ) {
    this.#map = compileMapping(config.attributes);
  }

  read(request: ReadRequest): Promise<DirectorySnapshot> {
    const started = performance.now();
    const now = this.clock();
    const path = this.config.store.path;
    let store: SqliteScimStore;
    try {
      store = SqliteScimStore.open(path, { readonly: true });
    } catch (error) {
      return Promise.reject(
        new DirectoryError(`the SCIM store ${path} cannot be opened: ${(error as Error).message}`, {
          cause: error,
          hint: 'check scim.store.path; the store is created when dirsync daemon first starts with source.type scim',
        }),
      );
    }
    try {
      const snapshot = store.snapshot(() => this.#build(request, store, now, started));
      return Promise.resolve(snapshot);
    } catch (error) {
      return Promise.reject(
        error instanceof DirectoryError
          ? error
          : new DirectoryError(
              `the SCIM store ${path} cannot be read: ${(error as Error).message}`,
              {
                cause: error,
                hint: 'check that scim.store.path is the file dirsync daemon writes',
              },
            ),
      );
    } finally {
      store.close();
    }
  }

  /**
   * The snapshot, built while the users stream out of the store: each user is mapped and given
   * its groups as its row is read, so neither the rows nor their parsed attributes are held.
   */
  #build(
    request: ReadRequest,
    store: SqliteScimStore,
    now: Date,
    started: number,
  ): DirectorySnapshot {
    if (store.count('User') === 0)
      throw new DirectoryError('no user has been pushed over SCIM yet', {
        hint: 'start provisioning in the identity provider (Entra ID: "Provision on demand" or start provisioning; Okta: assign users to the app); an empty read is never trusted',
      });
    const storedGroups = store.list('Group');
    const warnings: DirectoryWarning[] = [];
    const membersOf = new Map<string, string[]>();
    store.scanMemberships((groupId, value) => {
      const list = membersOf.get(groupId);
      if (list === undefined) membersOf.set(groupId, [value]);
      else list.push(value);
    });
    const groupNodes: GroupNode[] = storedGroups.map((g) => ({
      dn: g.id,
      name: (g.data['displayName'] as string | undefined) ?? g.id,
      members: membersOf.get(g.id) ?? [],
      memberUids: [],
      memberOf: [],
    }));
    membersOf.clear();
    // Each rule group, by displayName (case-insensitive) or externalId.
    const ruleGroups = new Map<string, { keys: string[]; name: string }>();
    for (const rule of request.groupsOfInterest) {
      const wanted = rule.trim().toLowerCase();
      const hits = storedGroups.filter(
        (g) => g.nameKey === wanted || (g.externalId !== undefined && g.externalId === rule.trim()),
      );
      if (hits.length === 0)
        throw new DirectoryError(
          `the group ${rule}, named in the rules, has not been pushed over SCIM (no group with that displayName or externalId)`,
          {
            hint: 'fix the group name in the rules (a displayName, or the externalId that survives renames), or assign the group to the dirsync app in the identity provider; without it every member would lose what the group grants',
          },
        );
      if (hits.length > 1)
        throw new DirectoryError(
          `the group ${rule}, named in the rules, matches several SCIM groups (${hits.map((h) => `${String(h.data['displayName'])} ${h.id}`).join('; ')})`,
          { hint: 'name the group by an externalId that only it has' },
        );
      const hit = hits[0]!;
      const entry = ruleGroups.get(hit.id) ?? { keys: [], name: String(hit.data['displayName']) };
      entry.keys.push(normalizeDn(rule));
      ruleGroups.set(hit.id, entry);
    }
    const all = request.groupsOfInterest.length === 0;
    const groups = new Map<string, string>();
    if (all) for (const g of groupNodes) groups.set(normalizeDn(g.name), g.name);
    else for (const g of ruleGroups.values()) for (const key of g.keys) groups.set(key, g.name);
    const byName = new Map(groupNodes.map((g) => [g.dn, normalizeDn(g.name)]));
    // No memberUid in SCIM: each user resolves alone, from its id. Users with the same effective
    // groups share one result (as GroupGraph's), so their group keys are built once per set.
    const graph = new GroupGraph(groupNodes);
    for (const g of groupNodes) g.members = [];
    const keysOf = new Map<readonly string[], readonly string[]>();
    const keysFor = (ids: readonly string[]): readonly string[] => {
      let keys = keysOf.get(ids);
      if (keys === undefined) {
        const list: string[] = [];
        for (const id of ids) {
          if (all) list.push(byName.get(id)!);
          else {
            const rule = ruleGroups.get(id);
            if (rule !== undefined) list.push(...rule.keys);
          }
        }
        keys = list.sort();
        keysOf.set(ids, keys);
      }
      return keys;
    };
    const users: DirectoryUser[] = [];
    const unusable: UnusableEntry[] = [];
    let read = 0;
    let withoutEmail = 0;
    const node: { dn: string; uids: readonly string[]; memberOf: readonly string[] } = {
      dn: '',
      uids: NO_GROUPS,
      memberOf: NO_GROUPS,
    };
    store.scan('User', (id, data) => {
      read++;
      const user = this.#map(id, data, warnings, unusable);
      if (user === undefined) {
        withoutEmail++;
        return;
      }
      node.dn = id;
      user.groups = keysFor(graph.effectiveGroups(node));
      users.push(user);
    });
    logWarnings(this.logger, warnings);
    return {
      users,
      groups,
      warnings,
      unusable,
      stats: {
        source: `SCIM store ${this.config.store.path}`,
        flavor: 'scim',
        usersPerBase: { '/Users': read },
        groupsPerBase: { '/Groups': storedGroups.length },
        referencesSkipped: 0,
        usersWithoutEmail: withoutEmail,
        durationMs: performance.now() - started,
      },
      readAt: now.toISOString(),
    };
  }
}
