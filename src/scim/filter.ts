import { parse, type Filter } from 'scim2-parse-filter';
import { badRequest } from './errors.js';
import { findAttribute, splitUrn, type AttributeDef, type ResourceTypeDef } from './schemas.js';

/**
 * SCIM filters (RFC 7644 3.4.2.2): parsed by scim2-parse-filter, evaluated here with the case
 * rules of RFC 7643 (userName, displayName and email values compare case-insensitively; id and
 * externalId exactly). A filter that names an attribute the schema does not have is an
 * invalidFilter error, so a typo never silently matches nothing.
 */

export interface CompiledFilter {
  test(resource: Record<string, unknown>): boolean;
  /** A lookup the store can answer by index, whose results `test` then narrows. */
  index: { by: 'id' | 'name' | 'externalId'; value: string } | undefined;
}

const MAX_FILTER_LENGTH = 4096;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The attribute definition at a dotted path (`emails.value`, `urn:...:User:employeeNumber`). */
export function attributeAt(
  path: string,
  rt: ResourceTypeDef,
): { def: AttributeDef | undefined; steps: string[]; known: boolean } {
  const urn = splitUrn(path, rt);
  const rest = urn === undefined ? path : urn.rest;
  const steps = rest.split('.');
  const first = steps[0]!.toLowerCase();
  if (urn === undefined && ['id', 'externalid'].includes(first) && steps.length === 1)
    return { def: { name: steps[0]!, type: 'string', caseExact: true }, steps, known: true };
  if (urn === undefined && first === 'meta') {
    const sub = steps[1]?.toLowerCase();
    const ok = ['created', 'lastmodified', 'version', 'resourcetype', 'location'].includes(
      sub ?? '',
    );
    return {
      def: { name: steps[1] ?? 'meta', type: 'string', caseExact: true },
      steps,
      known: ok && steps.length === 2,
    };
  }
  let defs: readonly AttributeDef[] | undefined = (urn?.schema ?? rt.schema).attributes;
  let def: AttributeDef | undefined;
  for (const step of steps) {
    def = findAttribute(defs, step);
    if (def === undefined) return { def: undefined, steps, known: false };
    defs = def.subAttributes;
  }
  // `emails` alone in a filter means `emails.value`.
  if (def?.type === 'complex') {
    const value = findAttribute(def.subAttributes, 'value');
    if (value !== undefined) return { def: value, steps: [...steps, 'value'], known: true };
  }
  const prefix = urn === undefined || urn.schema === rt.schema ? [] : [urn.schema.id];
  return { def, steps: [...prefix, ...steps], known: true };
}

/** Every value at `steps` in `resource` (lists flattened), attribute names case-insensitive. */
export function valuesAt(resource: unknown, steps: readonly string[]): unknown[] {
  let current: unknown[] = [resource];
  for (const step of steps) {
    const key = step.toLowerCase();
    const next: unknown[] = [];
    for (const value of current) {
      if (!isObject(value)) continue;
      // The name as spelled first (stored attributes carry the schema's spelling, unique
      // ignoring case): no list of keys per object and step on the usual path.
      const found = Object.hasOwn(value, step)
        ? step
        : Object.keys(value).find((k) => k.toLowerCase() === key);
      if (found === undefined) continue;
      const v = value[found];
      if (Array.isArray(v)) next.push(...(v as unknown[]));
      else if (v !== undefined && v !== null) next.push(v);
    }
    current = next;
  }
  return current;
}

function compare(
  op: string,
  actual: unknown,
  expected: boolean | null | number | string,
  caseExact: boolean,
): boolean {
  if (typeof actual === 'boolean' || typeof expected === 'boolean') {
    const e = typeof expected === 'string' ? expected.toLowerCase() === 'true' : expected;
    return op === 'eq' ? actual === e : op === 'ne' ? actual !== e : false;
  }
  if (typeof actual === 'number' && typeof expected === 'number') {
    switch (op) {
      case 'eq':
        return actual === expected;
      case 'ne':
        return actual !== expected;
      case 'gt':
        return actual > expected;
      case 'ge':
        return actual >= expected;
      case 'lt':
        return actual < expected;
      case 'le':
        return actual <= expected;
      default:
        return false;
    }
  }
  if (typeof actual !== 'string' || expected === null) return op === 'ne';
  const a = caseExact ? actual : actual.toLowerCase();
  const e = caseExact ? String(expected) : String(expected).toLowerCase();
  switch (op) {
    case 'eq':
      return a === e;
    case 'ne':
      return a !== e;
    case 'co':
      return a.includes(e);
    case 'sw':
      return a.startsWith(e);
    case 'ew':
      return a.endsWith(e);
    case 'gt':
      return a > e;
    case 'ge':
      return a >= e;
    case 'lt':
      return a < e;
    case 'le':
      return a <= e;
    default:
      return false;
  }
}

type Test = (resource: unknown) => boolean;

function compile(filter: Filter, rt: ResourceTypeDef, base: string[]): Test {
  switch (filter.op) {
    case 'and': {
      const parts = filter.filters.map((f) => compile(f, rt, base));
      return (r) => parts.every((p) => p(r));
    }
    case 'or': {
      const parts = filter.filters.map((f) => compile(f, rt, base));
      return (r) => parts.some((p) => p(r));
    }
    case 'not': {
      const inner = compile(filter.filter, rt, base);
      return (r) => !inner(r);
    }
    case '[]': {
      const at = attributeAt([...base, filter.attrPath].join('.'), rt);
      if (!at.known || at.def === undefined)
        throw badRequest(
          `the filter names an unknown attribute ${filter.attrPath}`,
          'invalidFilter',
        );
      const outer = attributeAt(filter.attrPath, rt);
      const listSteps = outer.steps.at(-1) === 'value' ? outer.steps.slice(0, -1) : outer.steps;
      const inner = compile(filter.valFilter, rt, [...base, filter.attrPath]);
      return (r) => valuesAt(r, listSteps).some((element) => inner({ __element: element }));
    }
    default: {
      const path = [...base, filter.attrPath].join('.');
      const at = attributeAt(path, rt);
      if (!at.known)
        throw badRequest(
          `the filter names an unknown attribute ${filter.attrPath}`,
          'invalidFilter',
        );
      const caseExact = at.def?.caseExact === true;
      // Inside a value filter (`emails[type eq "work"]`) paths are relative to the element.
      const steps =
        base.length === 0 ? at.steps : [filter.attrPath.split('.').at(-1)!].filter(Boolean);
      const read = (r: unknown): unknown[] =>
        base.length === 0
          ? valuesAt(r, steps)
          : valuesAt((r as { __element: unknown }).__element, steps);
      if (filter.op === 'pr')
        return (r) => read(r).some((v) => v !== '' && !(Array.isArray(v) && v.length === 0));
      const { op, compValue } = filter;
      if (!['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'lt', 'ge', 'le'].includes(op))
        throw badRequest(`unknown filter operator ${op}`, 'invalidFilter');
      if (op === 'ne') return (r) => read(r).every((v) => compare('ne', v, compValue, caseExact));
      return (r) => read(r).some((v) => compare(op, v, compValue, caseExact));
    }
  }
}

function indexOf(filter: Filter, rt: ResourceTypeDef): CompiledFilter['index'] {
  if (filter.op === 'and') {
    for (const f of filter.filters) {
      const found = indexOf(f, rt);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (filter.op !== 'eq' || typeof filter.compValue !== 'string') return undefined;
  const attr = filter.attrPath.toLowerCase();
  const nameAttr = rt.name === 'User' ? 'username' : 'displayname';
  const core = rt.schema.id.toLowerCase();
  const bare = attr.startsWith(`${core}:`) ? attr.slice(core.length + 1) : attr;
  if (bare === 'id') return { by: 'id', value: filter.compValue };
  if (bare === 'externalid') return { by: 'externalId', value: filter.compValue };
  if (bare === nameAttr) return { by: 'name', value: filter.compValue.trim().toLowerCase() };
  return undefined;
}

export function compileFilter(text: string, rt: ResourceTypeDef): CompiledFilter {
  if (text.length > MAX_FILTER_LENGTH)
    throw badRequest(`the filter is longer than ${MAX_FILTER_LENGTH} characters`, 'invalidFilter');
  let ast: Filter;
  try {
    ast = parse(text);
  } catch (error) {
    throw badRequest(
      `the filter ${JSON.stringify(text.slice(0, 200))} is not a SCIM filter: ${(error as Error).message}`,
      'invalidFilter',
    );
  }
  const test = compile(ast, rt, []);
  return { test, index: indexOf(ast, rt) };
}

/**
 * An attribute path as the mapping config names it: `userName`, `name.givenName`,
 * `emails[type eq "work"].value`, `urn:...:enterprise:2.0:User:employeeNumber`. Returns the
 * string values found there.
 */
export function compilePath(path: string, rt: ResourceTypeDef): (resource: unknown) => string[] {
  const urn = splitUrn(path, rt);
  const rest = urn === undefined ? path : urn.rest;
  const match = /^([A-Za-z$][\w$]*)(?:\[(.*)\])?(?:\.([A-Za-z$][\w$]*))?$/.exec(rest);
  if (match === null) throw badRequest(`${path} is not an attribute path`, 'invalidPath');
  const [, attr, filterText, sub] = match as unknown as [string, string, string?, string?];
  const prefix = urn === undefined || urn.schema === rt.schema ? [] : [urn.schema.id];
  const head = urn === undefined ? attr : `${urn.schema.id}:${attr}`;
  const at = attributeAt([head, ...(sub === undefined ? [] : [sub])].join('.'), rt);
  if (!at.known)
    throw badRequest(`${path} names an attribute the schema does not have`, 'invalidPath');
  const strings = (values: unknown[]): string[] =>
    values.filter((v): v is string => typeof v === 'string');
  if (filterText === undefined) {
    const steps = [...prefix, attr, ...(sub === undefined ? [] : [sub])];
    return (r) => strings(valuesAt(r, steps));
  }
  let ast: Filter;
  try {
    ast = parse(filterText);
  } catch (error) {
    throw badRequest(`${path}: ${(error as Error).message}`, 'invalidPath');
  }
  const extension = urn !== undefined && urn.schema !== rt.schema;
  const test = compile(ast, rt, [extension ? head : attr]);
  const listSteps = [...prefix, attr];
  return (r) => {
    const elements = valuesAt(r, listSteps).filter((e) => test({ __element: e }));
    return strings(sub === undefined ? elements : elements.flatMap((e) => valuesAt(e, [sub])));
  };
}
