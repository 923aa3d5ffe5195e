import { randomUUID } from 'node:crypto';
import { scimPatch, type ScimPatchOperation, type ScimResource } from 'scim-patch';
import { badRequest, ScimError } from './errors.js';
import { attributeAt, compileFilter, type CompiledFilter } from './filter.js';
import { memberList, resolveMembers, validateResource, type ValidResource } from './resource.js';
import {
  LIST_SCHEMA,
  PATCH_SCHEMA,
  RESOURCE_TYPES,
  SCHEMAS,
  type AttributeDef,
  type ResourceTypeDef,
  type SchemaDef,
} from './schemas.js';
import type { Member, ResourceType, ScimStore, StoredResource } from './store.js';

export interface ScimRequest {
  method: string;
  /** The path below the base path: `/Users`, `/Groups/abc`. */
  path: string;
  query: URLSearchParams;
  /** The parsed JSON body, when there is one. */
  body?: unknown;
  ifMatch?: string | undefined;
  /** The base URL as the client reached it (Host header), for `meta.location`. */
  baseUrl?: string | undefined;
}

export interface ScimResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ScimServiceOptions {
  store: ScimStore;
  /** The absolute URL of the base path, for `meta.location`: `https://dirsync:9465/scim/v2`. */
  baseUrl: string;
  clock?: () => Date;
  /** Called after each write is committed (schedules the reconcile). */
  onWrite?: (what: { method: string; type: ResourceType; id: string }) => void;
  newId?: () => string;
}

const DEFAULT_COUNT = 100;
const MAX_COUNT = 1000;

const typeOf = (name: string): ResourceTypeDef | undefined =>
  RESOURCE_TYPES.find((t) => t.endpoint.toLowerCase() === `/${name.toLowerCase()}`);

const etag = (version: number): string => `W/"${version}"`;

/**
 * The SCIM 2.0 service provider (RFC 7644) over a {@link ScimStore}, independent of HTTP: each
 * request is handled synchronously inside one store transaction, so concurrent requests never
 * interleave and a PATCH is applied whole or not at all.
 */
export class ScimService {
  readonly #store: ScimStore;
  readonly #defaultBase: string;
  /** The base URL of the request being handled (handling is synchronous). */
  #base: string;
  readonly #clock: () => Date;
  readonly #newId: () => string;
  readonly #onWrite: ScimServiceOptions['onWrite'];

  constructor(options: ScimServiceOptions) {
    this.#store = options.store;
    this.#defaultBase = options.baseUrl.replace(/\/+$/, '');
    this.#base = this.#defaultBase;
    this.#clock = options.clock ?? (() => new Date());
    this.#newId = options.newId ?? randomUUID;
    this.#onWrite = options.onWrite;
  }

  handle(request: ScimRequest): ScimResponse {
    this.#base = request.baseUrl?.replace(/\/+$/, '') ?? this.#defaultBase;
    try {
      return this.#route(request);
    } catch (error) {
      if (error instanceof ScimError) return { status: error.status, body: error.toJSON() };
      throw error;
    }
  }

  /**
   * Several requests in one transaction (group commit): each is a savepoint of its own, so one
   * failing undoes only its own writes, and the batch costs one sync to disk. Answer them only
   * after this returns: then every write is stored.
   */
  handleAll(requests: readonly ScimRequest[]): (ScimResponse | Error)[] {
    return this.#store.transaction(() =>
      requests.map((request) => {
        try {
          return this.handle(request);
        } catch (error) {
          return error instanceof Error ? error : new Error(String(error));
        }
      }),
    );
  }

  #route(req: ScimRequest): ScimResponse {
    const parts = req.path.split('/').filter((p) => p !== '');
    const [first, second, ...more] = parts;
    if (first === undefined || more.length > 0) throw notFound(req.path);
    const method = req.method.toUpperCase();
    switch (first.toLowerCase()) {
      case 'serviceproviderconfig':
        return this.#readOnly(method, () => this.#serviceProviderConfig());
      case 'resourcetypes':
        return this.#readOnly(method, () => this.#resourceTypes(second));
      case 'schemas':
        return this.#readOnly(method, () => this.#schemas(second));
      default:
        break;
    }
    const rt = typeOf(first);
    if (rt === undefined) throw notFound(req.path);
    if (second === undefined) {
      if (method === 'GET') return this.#list(rt, req.query);
      if (method === 'POST') return this.#write(method, rt, () => this.#create(rt, req.body));
      throw methodNotAllowed(method, rt.endpoint, 'GET, POST');
    }
    const id = decodeURIComponent(second);
    switch (method) {
      case 'GET':
        return this.#get(rt, id, req.query);
      case 'PUT':
        return this.#write(method, rt, () => this.#replace(rt, id, req.body, req.ifMatch));
      case 'PATCH':
        return this.#write(method, rt, () => this.#patch(rt, id, req.body, req.ifMatch));
      case 'DELETE':
        return this.#write(method, rt, () => this.#delete(rt, id, req.ifMatch));
      default:
        throw methodNotAllowed(method, `${rt.endpoint}/{id}`, 'GET, PUT, PATCH, DELETE');
    }
  }

  #readOnly(method: string, answer: () => unknown): ScimResponse {
    if (method !== 'GET') throw methodNotAllowed(method, 'this endpoint', 'GET');
    return { status: 200, body: answer() };
  }

  #write(
    method: string,
    rt: ResourceTypeDef,
    fn: () => { response: ScimResponse; id: string; changed: boolean },
  ): ScimResponse {
    const result = this.#store.transaction(fn);
    if (result.changed) this.#onWrite?.({ method, type: rt.name, id: result.id });
    return result.response;
  }

  // --- reads -------------------------------------------------------------------------------

  #get(rt: ResourceTypeDef, id: string, query: URLSearchParams): ScimResponse {
    const stored = this.#store.get(rt.name, id);
    if (stored === undefined) throw notFound(`${rt.endpoint}/${id}`);
    const projection = projectionOf(query, rt);
    const body = project(this.#render(stored, projection.wantsMembers), projection);
    return { status: 200, body, headers: { etag: etag(stored.version) } };
  }

  #list(rt: ResourceTypeDef, query: URLSearchParams): ScimResponse {
    const startIndex = positiveInt(query.get('startIndex'), 1, 'startIndex');
    const count = Math.min(
      positiveInt(query.get('count'), DEFAULT_COUNT, 'count', { zero: true }),
      MAX_COUNT,
    );
    const projection = projectionOf(query, rt);
    const filterText = query.get('filter');
    const filter: CompiledFilter | undefined =
      filterText === null || filterText.trim() === '' ? undefined : compileFilter(filterText, rt);
    let total: number;
    let page: StoredResource[];
    if (filter === undefined) {
      total = this.#store.count(rt.name);
      page = count === 0 ? [] : this.#store.list(rt.name, { offset: startIndex - 1, limit: count });
    } else {
      const candidates =
        filter.index === undefined
          ? this.#store.list(rt.name)
          : filter.index.by === 'id'
            ? [this.#store.get(rt.name, filter.index.value)].filter(
                (r): r is StoredResource => r !== undefined,
              )
            : filter.index.by === 'name'
              ? this.#store.findByName(rt.name, filter.index.value)
              : this.#store.findByExternalId(rt.name, filter.index.value);
      // Members are part of what a filter may test (`members[value eq "..."]`).
      const matching = candidates.filter((r) => filter.test(this.#render(r, true)));
      total = matching.length;
      page = matching.slice(startIndex - 1, startIndex - 1 + count);
    }
    return {
      status: 200,
      body: {
        schemas: [LIST_SCHEMA],
        totalResults: total,
        startIndex,
        itemsPerPage: page.length,
        Resources: page.map((r) => project(this.#render(r, projection.wantsMembers), projection)),
      },
    };
  }

  #render(stored: StoredResource, withMembers: boolean): Record<string, unknown> {
    const rt = typeOf(stored.type === 'User' ? 'Users' : 'Groups')!;
    const extensions = rt.extensions.filter((s) => s.id in stored.data).map((s) => s.id);
    const location = `${this.#base}${rt.endpoint}/${encodeURIComponent(stored.id)}`;
    return {
      schemas: [rt.schema.id, ...extensions],
      id: stored.id,
      ...(stored.externalId === undefined ? {} : { externalId: stored.externalId }),
      ...stored.data,
      ...(stored.type === 'Group' && withMembers
        ? {
            members: this.#store.members(stored.id).map((m) => ({
              value: m.value,
              type: m.type,
              ...(m.display === undefined ? {} : { display: m.display }),
              $ref: `${this.#base}/${m.type === 'User' ? 'Users' : 'Groups'}/${encodeURIComponent(m.value)}`,
            })),
          }
        : {}),
      meta: {
        resourceType: stored.type,
        created: stored.created,
        lastModified: stored.lastModified,
        location,
        version: etag(stored.version),
      },
    };
  }

  // --- writes ------------------------------------------------------------------------------

  #lookup(id: string): ResourceType | undefined {
    if (this.#store.get('User', id) !== undefined) return 'User';
    if (this.#store.get('Group', id) !== undefined) return 'Group';
    return undefined;
  }

  #checkUnique(rt: ResourceTypeDef, nameKey: string, self: string | undefined): void {
    const taken = this.#store.findByName(rt.name, nameKey).find((r) => r.id !== self);
    if (taken !== undefined) {
      const attr = rt.name === 'User' ? 'userName' : 'displayName';
      throw new ScimError(
        409,
        `a ${rt.name} with this ${attr} exists already (id ${taken.id})`,
        'uniqueness',
      );
    }
  }

  #created(stored: StoredResource, status: number): ScimResponse {
    const body = this.#render(stored, true);
    return {
      status,
      body,
      headers: {
        etag: etag(stored.version),
        ...(status === 201 ? { location: (body['meta'] as { location: string }).location } : {}),
      },
    };
  }

  #create(
    rt: ResourceTypeDef,
    body: unknown,
  ): { response: ScimResponse; id: string; changed: true } {
    const valid = validateResource(body, rt);
    this.#checkUnique(rt, valid.nameKey, undefined);
    const id = this.#newId();
    const members =
      rt.name === 'Group' ? resolveMembers(id, valid.members, (m) => this.#lookup(m)) : [];
    const now = this.#clock().toISOString();
    const stored: StoredResource = {
      type: rt.name,
      id,
      data: valid.data,
      nameKey: valid.nameKey,
      externalId: valid.externalId,
      created: now,
      lastModified: now,
      version: 1,
    };
    this.#store.insert(stored);
    if (members.length > 0) this.#store.addMembers(id, members);
    return { response: this.#created(stored, 201), id, changed: true };
  }

  #existing(rt: ResourceTypeDef, id: string, ifMatch: string | undefined): StoredResource {
    const stored = this.#store.get(rt.name, id);
    if (stored === undefined) throw notFound(`${rt.endpoint}/${id}`);
    if (ifMatch !== undefined && ifMatch.trim() !== '*') {
      const wanted = ifMatch.split(',').map((t) => t.trim());
      if (!wanted.includes(etag(stored.version)) && !wanted.includes(`"${stored.version}"`))
        throw new ScimError(
          412,
          `the ${rt.name} changed since it was read (version ${etag(stored.version)})`,
        );
    }
    return stored;
  }

  /** Stores the new state of an existing resource; `changed` false when it is the same. */
  #store_(
    rt: ResourceTypeDef,
    before: StoredResource,
    valid: ReturnType<typeof validateResource>,
    members: Member[] | undefined,
  ): { response: ScimResponse; id: string; changed: boolean } {
    this.#checkUnique(rt, valid.nameKey, before.id);
    let membersChanged = false;
    if (members !== undefined) {
      const old = new Map(this.#store.members(before.id).map((m) => [m.value, m]));
      const next = new Set(members.map((m) => m.value));
      const removed = [...old.keys()].filter((v) => !next.has(v));
      const added = members.filter((m) => !old.has(m.value));
      if (removed.length > 0) this.#store.removeMembers(before.id, removed);
      if (added.length > 0) this.#store.addMembers(before.id, added);
      membersChanged = removed.length > 0 || added.length > 0;
    }
    const same =
      !membersChanged &&
      valid.externalId === before.externalId &&
      JSON.stringify(valid.data) === JSON.stringify(before.data);
    if (same) return { response: this.#created(before, 200), id: before.id, changed: false };
    const after: StoredResource = {
      ...before,
      data: valid.data,
      nameKey: valid.nameKey,
      externalId: valid.externalId,
      lastModified: this.#clock().toISOString(),
      version: before.version + 1,
    };
    this.#store.update(after);
    return { response: this.#created(after, 200), id: before.id, changed: true };
  }

  #replace(
    rt: ResourceTypeDef,
    id: string,
    body: unknown,
    ifMatch: string | undefined,
  ): { response: ScimResponse; id: string; changed: boolean } {
    const before = this.#existing(rt, id, ifMatch);
    const valid = validateResource(body, rt);
    if (isObject(body) && typeof body['id'] === 'string' && body['id'] !== id)
      throw badRequest(
        `id is immutable: the body names ${body['id']}, the URL ${id}`,
        'mutability',
      );
    const members =
      rt.name === 'Group' ? resolveMembers(id, valid.members, (m) => this.#lookup(m)) : undefined;
    return this.#store_(rt, before, valid, members);
  }

  #patch(
    rt: ResourceTypeDef,
    id: string,
    body: unknown,
    ifMatch: string | undefined,
  ): { response: ScimResponse; id: string; changed: boolean } {
    const operations = patchOperations(body, rt);
    const before = this.#existing(rt, id, ifMatch);
    if (rt.name === 'Group') {
      const fast = this.#patchMembers(before, operations);
      if (fast !== undefined) return fast;
    }
    const current = this.#render(before, true);
    delete current['meta'];
    // Members as values only: a remove's value list then matches whatever else was stored.
    const displays = new Map<string, string>();
    if (Array.isArray(current['members'])) {
      const members = current['members'] as { value: string; display?: string }[];
      for (const m of members) if (m.display !== undefined) displays.set(m.value, m.display);
      current['members'] = members.map((m) => ({ value: m.value }));
    }
    let patched: ScimResource;
    try {
      patched = scimPatch(current as unknown as ScimResource, operations, {
        treatMissingAsAdd: true,
      });
    } catch (error) {
      throw patchError(error);
    }
    const result = patched as unknown as Record<string, unknown>;
    if (result['id'] !== id) throw badRequest('id is immutable', 'mutability');
    // Schemas of extensions the PATCH filled in (`urn:...:enterprise:2.0:User:employeeNumber`).
    const schemas = new Set((result['schemas'] as string[] | undefined) ?? [rt.schema.id]);
    for (const s of rt.extensions) if (s.id in result) schemas.add(s.id);
    result['schemas'] = [...schemas];
    if (rt.name === 'User' && 'groups' in result)
      throw badRequest('groups is read-only: change membership through /Groups', 'mutability');
    const valid = validateResource(result, rt, { unknownType: 'invalidPath' });
    for (const m of valid.members) m.display ??= displays.get(m.value);
    const members =
      rt.name === 'Group' ? resolveMembers(id, valid.members, (m) => this.#lookup(m)) : undefined;
    return this.#store_(rt, before, valid, members);
  }

  /**
   * A PATCH that only adds members or removes them by value (Entra's and Okta's membership
   * batches), applied to the member rows directly: a large group is not rendered and rewritten
   * for each batch. Undefined when the PATCH does anything else.
   */
  #patchMembers(
    before: StoredResource,
    operations: ScimPatchOperation[],
  ): { response: ScimResponse; id: string; changed: boolean } | undefined {
    const adds: ValidResource['members'] = [];
    const removes: string[] = [];
    for (const op of operations) {
      const path = 'path' in op ? op.path : undefined;
      if (op.op === 'add' && path?.toLowerCase() === 'members') {
        adds.push(...memberList(op.value));
        continue;
      }
      const match =
        op.op === 'remove' && path !== undefined
          ? /^members\[value eq ("(?:[^"\\]|\\.)*")\]$/i.exec(path)
          : null;
      if (match === null) return undefined;
      removes.push(JSON.parse(match[1]!) as string);
    }
    // In order: a member added then removed in one PATCH is out, removed then added is in.
    const toAdd = resolveMembers(before.id, adds, (m) => this.#lookup(m));
    const existing = this.#store.membersAmong(before.id, [
      ...new Set([...toAdd.map((m) => m.value), ...removes]),
    ]);
    const final = new Set(existing);
    let a = 0;
    for (const op of operations) {
      if (op.op === 'add') {
        const count = memberList(op.value).length;
        for (const m of toAdd.slice(a, a + count)) {
          final.add(m.value);
        }
        a += count;
      } else {
        const value = removes.shift()!;
        final.delete(value);
      }
    }
    const touched = [...existing];
    const added = toAdd.filter(
      (m, i, all) =>
        final.has(m.value) &&
        !existing.has(m.value) &&
        all.findIndex((x) => x.value === m.value) === i,
    );
    const removed = touched.filter((v) => !final.has(v));
    if (removed.length > 0) this.#store.removeMembers(before.id, removed);
    if (added.length > 0) this.#store.addMembers(before.id, added);
    // 204 No Content (RFC 7644 3.5.2, what Entra and Okta expect for membership PATCHes): the
    // answer of a large group's batch does not carry its whole member list.
    if (added.length === 0 && removed.length === 0)
      return {
        response: { status: 204, headers: { etag: etag(before.version) } },
        id: before.id,
        changed: false,
      };
    const after: StoredResource = {
      ...before,
      lastModified: this.#clock().toISOString(),
      version: before.version + 1,
    };
    this.#store.update(after);
    return {
      response: { status: 204, headers: { etag: etag(after.version) } },
      id: before.id,
      changed: true,
    };
  }

  #delete(
    rt: ResourceTypeDef,
    id: string,
    ifMatch: string | undefined,
  ): { response: ScimResponse; id: string; changed: true } {
    this.#existing(rt, id, ifMatch);
    this.#store.delete(rt.name, id);
    return { response: { status: 204 }, id, changed: true };
  }

  // --- discovery ---------------------------------------------------------------------------

  #serviceProviderConfig(): unknown {
    return {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
      documentationUri: 'https://github.com/dirsync/dirsync#connect-microsoft-entra-id--okta',
      patch: { supported: true },
      bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
      filter: { supported: true, maxResults: MAX_COUNT },
      changePassword: { supported: false },
      sort: { supported: false },
      etag: { supported: true },
      authenticationSchemes: [
        {
          type: 'oauthbearertoken',
          name: 'Bearer token',
          description: 'Authorization: Bearer <one of scim.tokens>',
          primary: true,
        },
      ],
      meta: {
        resourceType: 'ServiceProviderConfig',
        location: `${this.#base}/ServiceProviderConfig`,
      },
    };
  }

  #resourceTypes(name: string | undefined): unknown {
    const render = (rt: ResourceTypeDef): unknown => ({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: rt.name,
      name: rt.name,
      endpoint: rt.endpoint,
      schema: rt.schema.id,
      schemaExtensions: rt.extensions.map((s) => ({ schema: s.id, required: false })),
      meta: { resourceType: 'ResourceType', location: `${this.#base}/ResourceTypes/${rt.name}` },
    });
    if (name !== undefined) {
      const rt = RESOURCE_TYPES.find((t) => t.name.toLowerCase() === name.toLowerCase());
      if (rt === undefined) throw notFound(`/ResourceTypes/${name}`);
      return render(rt);
    }
    return listOf(RESOURCE_TYPES.map(render));
  }

  #schemas(id: string | undefined): unknown {
    const render = (s: SchemaDef): unknown => ({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
      id: s.id,
      name: s.name,
      description: s.description,
      attributes: s.attributes.map(renderAttribute),
      meta: { resourceType: 'Schema', location: `${this.#base}/Schemas/${s.id}` },
    });
    if (id !== undefined) {
      const s = SCHEMAS.find((x) => x.id.toLowerCase() === decodeURIComponent(id).toLowerCase());
      if (s === undefined) throw notFound(`/Schemas/${id}`);
      return render(s);
    }
    return listOf(SCHEMAS.map(render));
  }
}

function renderAttribute(a: AttributeDef): Record<string, unknown> {
  return {
    name: a.name,
    type: a.type,
    multiValued: a.multiValued ?? false,
    ...(a.description === undefined ? {} : { description: a.description }),
    required: a.required ?? false,
    caseExact: a.caseExact ?? false,
    mutability: a.mutability ?? 'readWrite',
    returned: a.returned ?? 'default',
    uniqueness: a.uniqueness ?? 'none',
    ...(a.subAttributes === undefined
      ? {}
      : { subAttributes: a.subAttributes.map(renderAttribute) }),
  };
}

function listOf(resources: unknown[]): unknown {
  return {
    schemas: [LIST_SCHEMA],
    totalResults: resources.length,
    startIndex: 1,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function notFound(what: string): ScimError {
  return new ScimError(404, `${what} not found`);
}

function methodNotAllowed(method: string, where: string, allowed: string): ScimError {
  return new ScimError(405, `${method} is not supported on ${where}; use ${allowed}`);
}

function positiveInt(
  raw: string | null,
  fallback: number,
  name: string,
  options: { zero?: boolean } = {},
): number {
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw badRequest(`${name} must be a whole number`, 'invalidValue');
  const n = Number(raw);
  if (n === 0 && options.zero !== true) return 1;
  return n;
}

/**
 * The PATCH body, its providers' quirks normalized before scim-patch sees them: `op` in any
 * case (Entra's `Replace`, `Add`, `Remove`), a `path` that repeats the core schema URN.
 */
function patchOperations(body: unknown, rt: ResourceTypeDef): ScimPatchOperation[] {
  if (!isObject(body)) throw badRequest('the PATCH body must be a JSON object', 'invalidSyntax');
  const schemas = body['schemas'];
  if (
    !Array.isArray(schemas) ||
    !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === PATCH_SCHEMA.toLowerCase())
  )
    throw badRequest(`a PATCH body must have schemas [${PATCH_SCHEMA}]`, 'invalidValue');
  const ops = body['Operations'] ?? body['operations'];
  if (!Array.isArray(ops) || ops.length === 0)
    throw badRequest('a PATCH body must have a non-empty Operations list', 'invalidSyntax');
  return ops.flatMap((raw, i): ScimPatchOperation[] => {
    if (!isObject(raw)) throw badRequest(`Operations[${i}] must be an object`, 'invalidSyntax');
    const op = typeof raw['op'] === 'string' ? raw['op'].toLowerCase() : '';
    if (op !== 'add' && op !== 'remove' && op !== 'replace')
      throw badRequest(
        `Operations[${i}].op must be add, remove or replace, not ${JSON.stringify(raw['op'])}`,
        'invalidSyntax',
      );
    let path = raw['path'];
    if (path !== undefined && path !== null && typeof path !== 'string')
      throw badRequest(`Operations[${i}].path must be a string`, 'invalidPath');
    if (typeof path === 'string') {
      path = path.trim();
      const core = `${rt.schema.id}:`;
      if ((path as string).toLowerCase().startsWith(core.toLowerCase()))
        path = (path as string).slice(core.length);
      if (path === '') path = undefined;
    }
    const value = raw['value'];
    if (op === 'remove') {
      if (path === undefined || path === null)
        throw badRequest(`Operations[${i}]: remove needs a path`, 'noTarget');
      // Entra's {"op": "Remove", "path": "members", "value": [{"value": "<id>"}, ...]} removes
      // only the members listed: one value-filter remove each (a member not there: a no-op).
      if ((path as string).toLowerCase() === 'members' && value !== undefined) {
        const list = Array.isArray(value) ? (value as unknown[]) : [value];
        return list.map((m, k): ScimPatchOperation => {
          if (!isObject(m) || typeof m['value'] !== 'string')
            throw badRequest(
              `Operations[${i}].value[${k}] must be an object with a string value`,
              'invalidValue',
            );
          return { op: 'remove', path: `members[value eq ${JSON.stringify(m['value'])}]` };
        });
      }
      return [
        value === undefined
          ? { op: 'remove', path: path as string }
          : { op: 'remove', path: path as string, value },
      ];
    }
    if (value === undefined)
      throw badRequest(`Operations[${i}]: ${op} needs a value`, 'invalidValue');
    if (path === undefined || path === null) {
      if (!isObject(value))
        throw badRequest(
          `Operations[${i}]: without a path, the value must be an object of attributes`,
          'invalidValue',
        );
      return noPathOperations(op, value, rt);
    }
    return [{ op, path: path as string, value }];
  });
}

/**
 * A no-path add or replace (Entra sends `{"op": "Replace", "value": {"active": false,
 * "name.givenName": "Ann"}}`) as one operation per attribute: scim-patch reads the dots of an
 * extension URN (`...:enterprise:2.0:User`) as path separators, so extension attributes, named
 * by their full path or as the extension's object, become `urn:...:User:attribute` paths.
 */
function noPathOperations(
  op: 'add' | 'replace',
  value: Record<string, unknown>,
  rt: ResourceTypeDef,
): ScimPatchOperation[] {
  const out: ScimPatchOperation[] = [];
  const core = `${rt.schema.id.toLowerCase()}:`;
  for (const [key, v] of Object.entries(value)) {
    const lower = key.toLowerCase();
    if (lower === 'schemas') continue;
    const ext = rt.extensions.find((s) => lower === s.id.toLowerCase());
    if (ext !== undefined && isObject(v)) {
      for (const [attr, sub] of Object.entries(v))
        out.push({ op, path: `${ext.id}:${attr}`, value: sub });
      continue;
    }
    const path = lower.startsWith(core) ? key.slice(core.length) : key;
    out.push({ op, path, value: v });
  }
  return out;
}

const PATCH_SCIM_TYPES = new Set([
  'invalidSyntax',
  'invalidPath',
  'noTarget',
  'invalidValue',
  'mutability',
]);

/** scim-patch's errors carry their scimType as `scimCode`. */
function patchError(error: unknown): ScimError {
  const e = error as { message?: string; scimCode?: string };
  const message = (e.message ?? String(error))
    .replace(/^Invalid SCIM Patch:\s*/, '')
    .replace(/\s*\[object Object\]\s*$/, '');
  const type = PATCH_SCIM_TYPES.has(e.scimCode ?? '') ? e.scimCode : 'invalidValue';
  return badRequest(message, type as 'invalidValue');
}

interface Projection {
  attributes: string[][] | undefined;
  excluded: string[][];
  wantsMembers: boolean;
}

function projectionOf(query: URLSearchParams, rt: ResourceTypeDef): Projection {
  const parse = (raw: string | null): string[][] | undefined => {
    if (raw === null || raw.trim() === '') return undefined;
    return raw
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== '')
      .map((a) => {
        const at = attributeAt(a, rt);
        if (!at.known) throw badRequest(`${a} is not an attribute of a ${rt.name}`, 'invalidValue');
        // `emails` means the whole attribute, not only emails.value.
        const asked = a.split(/[.:]/).at(-1)!.toLowerCase();
        return at.steps.at(-1)?.toLowerCase() === 'value' && asked !== 'value'
          ? at.steps.slice(0, -1)
          : at.steps;
      });
  };
  const attributes = parse(query.get('attributes'));
  const excluded = parse(query.get('excludedAttributes')) ?? [];
  const named = (list: string[][], attr: string): boolean =>
    list.some((p) => p[0]?.toLowerCase() === attr);
  const wantsMembers =
    rt.name === 'Group' &&
    (attributes === undefined ? !named(excluded, 'members') : named(attributes, 'members'));
  return { attributes, excluded, wantsMembers };
}

const ALWAYS = new Set(['id', 'schemas', 'meta']);

function project(resource: Record<string, unknown>, p: Projection): Record<string, unknown> {
  let out = resource;
  if (p.attributes !== undefined) {
    out = {};
    for (const [k, v] of Object.entries(resource)) if (ALWAYS.has(k)) out[k] = v;
    for (const steps of p.attributes) copyPath(resource, out, steps);
  }
  for (const steps of p.excluded) {
    if (steps.length === 1 && ALWAYS.has(steps[0]!)) continue;
    deletePath(out, steps);
  }
  return out;
}

function keyOf(obj: Record<string, unknown>, name: string): string | undefined {
  const lower = name.toLowerCase();
  return Object.keys(obj).find((k) => k.toLowerCase() === lower);
}

function copyPath(
  from: Record<string, unknown>,
  to: Record<string, unknown>,
  steps: string[],
): void {
  const key = keyOf(from, steps[0]!);
  if (key === undefined) return;
  const value = from[key];
  if (steps.length === 1) {
    to[key] = value;
    return;
  }
  if (Array.isArray(value)) {
    to[key] = value.map((element) => {
      const sub: Record<string, unknown> = {};
      if (isObject(element)) copyPath(element, sub, steps.slice(1));
      return sub;
    });
  } else if (isObject(value)) {
    const sub = isObject(to[key]) ? to[key] : {};
    copyPath(value, sub, steps.slice(1));
    to[key] = sub;
  }
}

function deletePath(obj: Record<string, unknown>, steps: string[]): void {
  const key = keyOf(obj, steps[0]!);
  if (key === undefined) return;
  if (steps.length === 1) {
    delete obj[key];
    return;
  }
  const value = obj[key];
  const copy: unknown = Array.isArray(value)
    ? value.map((e: unknown) => (isObject(e) ? { ...e } : e))
    : isObject(value)
      ? { ...value }
      : value;
  obj[key] = copy;
  for (const element of Array.isArray(copy) ? copy : [copy])
    if (isObject(element)) deletePath(element, steps.slice(1));
}
