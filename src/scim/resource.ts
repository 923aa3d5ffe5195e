import { badRequest, ScimError, type ScimType } from './errors.js';
import {
  COMMON_ATTRIBUTES,
  findAttribute,
  type AttributeDef,
  type ResourceTypeDef,
} from './schemas.js';
import type { Member, ResourceType } from './store.js';

/** A resource body after validation: what the store keeps, plus a group's members. */
export interface ValidResource {
  data: Record<string, unknown>;
  nameKey: string;
  externalId: string | undefined;
  /** Groups only: the members as sent (their existence is checked by the service). */
  members: { value: string; type: ResourceType | undefined; display: string | undefined }[];
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Identity providers' booleans: Entra ID sends `"True"` / `"False"` strings in PATCH values.
 * Any case of true/false is read as the boolean; anything else is a type error.
 */
function booleanOf(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (v === 'true') return true;
    if (v === 'false') return false;
  }
  return undefined;
}

interface Context {
  /** scimType for an attribute the schema does not have (invalidPath inside a PATCH). */
  unknownType: ScimType;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `the ${typeof value} ${JSON.stringify(value)}`;
}

function singleValue(def: AttributeDef, value: unknown, where: string, ctx: Context): unknown {
  switch (def.type) {
    case 'boolean': {
      const b = booleanOf(value);
      if (b === undefined)
        throw badRequest(`${where} must be a boolean, not ${describeType(value)}`, 'invalidValue');
      return b;
    }
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value))
        throw badRequest(`${where} must be an integer, not ${describeType(value)}`, 'invalidValue');
      return value;
    case 'decimal':
      if (typeof value !== 'number')
        throw badRequest(`${where} must be a number, not ${describeType(value)}`, 'invalidValue');
      return value;
    case 'complex': {
      // Entra sends the enterprise manager as the manager's id alone: {"value": id}.
      if (typeof value === 'string' && findAttribute(def.subAttributes, 'value') !== undefined)
        return { value };
      if (!isObject(value))
        throw badRequest(`${where} must be an object, not ${describeType(value)}`, 'invalidValue');
      return complexValue(def.subAttributes ?? [], value, where, ctx);
    }
    default:
      if (typeof value !== 'string')
        throw badRequest(`${where} must be a string, not ${describeType(value)}`, 'invalidValue');
      return value;
  }
}

function attributeValue(def: AttributeDef, value: unknown, where: string, ctx: Context): unknown {
  if (def.multiValued === true) {
    const list = Array.isArray(value) ? value : [value];
    return list.filter((v) => v !== null).map((v, i) => singleValue(def, v, `${where}[${i}]`, ctx));
  }
  if (Array.isArray(value)) {
    // A one-element list for a single value: some providers wrap every PATCH value.
    if (value.length === 1) return singleValue(def, value[0], where, ctx);
    throw badRequest(`${where} takes one value, not a list`, 'invalidValue');
  }
  return singleValue(def, value, where, ctx);
}

function complexValue(
  defs: readonly AttributeDef[],
  value: Record<string, unknown>,
  where: string,
  ctx: Context,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === null) continue;
    const def = findAttribute(defs, key);
    if (def === undefined)
      throw badRequest(`${where}.${key} is not an attribute of the schema`, ctx.unknownType);
    out[def.name] = attributeValue(def, v, `${where}.${def.name}`, ctx);
  }
  return out;
}

/**
 * Validates a User or Group body (POST, PUT, or the result of a PATCH) against the resource
 * type's schemas: known schemas only, known attributes only, the right types (booleans sent as
 * strings read as booleans), read-only attributes and passwords dropped, nulls as absent.
 */
export function validateResource(
  body: unknown,
  rt: ResourceTypeDef,
  options: { unknownType?: ScimType } = {},
): ValidResource {
  const ctx: Context = { unknownType: options.unknownType ?? 'invalidSyntax' };
  if (!isObject(body))
    throw badRequest(`the body must be a JSON object, not ${describeType(body)}`, 'invalidSyntax');
  const schemas = body['schemas'];
  if (!Array.isArray(schemas) || schemas.some((s) => typeof s !== 'string'))
    throw badRequest(
      `schemas must be a list of schema URNs including ${rt.schema.id}`,
      'invalidSyntax',
    );
  const known = [rt.schema, ...rt.extensions];
  for (const urn of schemas as string[]) {
    if (!known.some((s) => s.id.toLowerCase() === urn.toLowerCase()))
      throw badRequest(
        `unknown schema ${JSON.stringify(urn)} for a ${rt.name}; known: ${known.map((s) => s.id).join(', ')}`,
        'invalidValue',
      );
  }
  if (!(schemas as string[]).some((s) => s.toLowerCase() === rt.schema.id.toLowerCase()))
    throw badRequest(`schemas must include ${rt.schema.id}`, 'invalidValue');

  const data: Record<string, unknown> = {};
  let externalId: string | undefined;
  let members: ValidResource['members'] = [];
  for (const [key, value] of Object.entries(body)) {
    const lower = key.toLowerCase();
    if (COMMON_ATTRIBUTES.some((c) => c.toLowerCase() === lower)) {
      if (lower === 'externalid' && value !== null) {
        if (typeof value !== 'string')
          throw badRequest(
            `externalId must be a string, not ${describeType(value)}`,
            'invalidValue',
          );
        externalId = value;
      }
      continue;
    }
    if (value === null) continue;
    const extension = rt.extensions.find((s) => s.id.toLowerCase() === lower);
    if (extension !== undefined) {
      if (!isObject(value))
        throw badRequest(`${extension.id} must be an object of its attributes`, 'invalidValue');
      const ext = complexValue(extension.attributes, value, extension.id, ctx);
      if (Object.keys(ext).length > 0) data[extension.id] = ext;
      continue;
    }
    const def = findAttribute(rt.schema.attributes, key);
    if (def === undefined)
      throw badRequest(
        `${key} is not an attribute of ${rt.schema.id} or its extensions`,
        ctx.unknownType,
      );
    if (def.mutability === 'readOnly' || def.returned === 'never') continue;
    if (rt.name === 'Group' && def.name === 'members') {
      members = memberList(value);
      continue;
    }
    data[def.name] = attributeValue(def, value, def.name, ctx);
  }
  const nameAttr = rt.name === 'User' ? 'userName' : 'displayName';
  const name = data[nameAttr];
  if (typeof name !== 'string' || name.trim() === '')
    throw badRequest(`${nameAttr} is required and must not be empty`, 'invalidValue');
  return { data, nameKey: name.trim().toLowerCase(), externalId, members };
}

export function memberList(value: unknown): ValidResource['members'] {
  const list = Array.isArray(value) ? value : [value];
  return list
    .filter((m) => m !== null)
    .map((m, i) => {
      if (!isObject(m) || typeof m['value'] !== 'string' || m['value'] === '')
        throw badRequest(`members[${i}] must be an object with a string value`, 'invalidValue');
      const type = m['type'];
      let memberType: ResourceType | undefined;
      if (type !== undefined && type !== null) {
        const t = typeof type === 'string' ? type.toLowerCase() : '';
        if (t !== 'user' && t !== 'group')
          throw badRequest(`members[${i}].type must be User or Group`, 'invalidValue');
        memberType = t === 'user' ? 'User' : 'Group';
      }
      const display = typeof m['display'] === 'string' ? m['display'] : undefined;
      return { value: m['value'], type: memberType, display };
    });
}

/** The members of a group as the store keeps them, from the validated list. */
export function resolveMembers(
  groupId: string,
  members: ValidResource['members'],
  lookup: (id: string) => ResourceType | undefined,
): Member[] {
  const out = new Map<string, Member>();
  const unknown: string[] = [];
  for (const m of members) {
    const found = lookup(m.value);
    if (found === undefined || (m.type !== undefined && m.type !== found)) {
      unknown.push(m.value);
      continue;
    }
    if (found === 'Group' && m.value === groupId)
      throw badRequest(`a group cannot be a member of itself (${m.value})`, 'invalidValue');
    out.set(m.value, { value: m.value, type: found, display: m.display });
  }
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 10).join(', ');
    throw new ScimError(
      400,
      `members name ${unknown.length === 1 ? 'a resource' : 'resources'} that do${unknown.length === 1 ? 'es' : ''} not exist: ${shown}${unknown.length > 10 ? `, and ${unknown.length - 10} more` : ''}; create the users first`,
      'invalidValue',
    );
  }
  return [...out.values()];
}
