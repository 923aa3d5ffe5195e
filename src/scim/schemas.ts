/**
 * The SCIM schemas dirsync serves (RFC 7643 core User and Group, the enterprise extension, and
 * dirsync's own extension for login names): what `/Schemas` lists and what requests are
 * validated against. Attribute names are matched case-insensitively, as RFC 7643 2.1 says.
 */

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const DIRSYNC_SCHEMA = 'urn:ietf:params:scim:schemas:extension:dirsync:2.0:User';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export type AttributeType =
  'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'binary' | 'complex';

export interface AttributeDef {
  name: string;
  type: AttributeType;
  multiValued?: boolean;
  required?: boolean;
  caseExact?: boolean;
  mutability?: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned?: 'always' | 'never' | 'default' | 'request';
  uniqueness?: 'none' | 'server' | 'global';
  subAttributes?: AttributeDef[];
  description?: string;
}

export interface SchemaDef {
  id: string;
  name: string;
  description: string;
  attributes: AttributeDef[];
}

const str = (name: string, extra: Partial<AttributeDef> = {}): AttributeDef => ({
  name,
  type: 'string',
  ...extra,
});

/** value / display / type / primary, the shape of emails, phoneNumbers, ims, photos, roles. */
function multi(name: string, valueType: AttributeType = 'string'): AttributeDef {
  return {
    name,
    type: 'complex',
    multiValued: true,
    subAttributes: [
      { name: 'value', type: valueType },
      str('display'),
      str('type'),
      { name: 'primary', type: 'boolean' },
    ],
  };
}

export const USER: SchemaDef = {
  id: USER_SCHEMA,
  name: 'User',
  description: 'User Account',
  attributes: [
    str('userName', { required: true, uniqueness: 'server' }),
    {
      name: 'name',
      type: 'complex',
      subAttributes: [
        str('formatted'),
        str('familyName'),
        str('givenName'),
        str('middleName'),
        str('honorificPrefix'),
        str('honorificSuffix'),
      ],
    },
    str('displayName'),
    str('nickName'),
    { name: 'profileUrl', type: 'reference' },
    str('title'),
    str('userType'),
    str('preferredLanguage'),
    str('locale'),
    str('timezone'),
    { name: 'active', type: 'boolean' },
    // Accepted and never kept: dirsync has no use for a password.
    str('password', { mutability: 'writeOnly', returned: 'never' }),
    multi('emails'),
    multi('phoneNumbers'),
    multi('ims'),
    multi('photos', 'reference'),
    {
      name: 'addresses',
      type: 'complex',
      multiValued: true,
      subAttributes: [
        str('formatted'),
        str('streetAddress'),
        str('locality'),
        str('region'),
        str('postalCode'),
        str('country'),
        str('type'),
        { name: 'primary', type: 'boolean' },
      ],
    },
    {
      name: 'groups',
      type: 'complex',
      multiValued: true,
      mutability: 'readOnly',
      subAttributes: [
        str('value'),
        { name: '$ref', type: 'reference' },
        str('display'),
        str('type'),
      ],
    },
    multi('entitlements'),
    multi('roles'),
    multi('x509Certificates', 'binary'),
  ],
};

export const ENTERPRISE_USER: SchemaDef = {
  id: ENTERPRISE_SCHEMA,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    str('employeeNumber'),
    str('costCenter'),
    str('organization'),
    str('division'),
    str('department'),
    {
      name: 'manager',
      type: 'complex',
      subAttributes: [str('value'), { name: '$ref', type: 'reference' }, str('displayName')],
    },
  ],
};

export const DIRSYNC_USER: SchemaDef = {
  id: DIRSYNC_SCHEMA,
  name: 'DirsyncUser',
  description: 'What dirsync needs beyond the core schema: workstation login names',
  attributes: [
    str('loginName', {
      description:
        'The workstation login name (e.g. Entra onPremisesSamAccountName); sent to the Users API as a computer username',
    }),
    str('loginNames', {
      multiValued: true,
      description: 'Further workstation login names',
    }),
  ],
};

export const GROUP: SchemaDef = {
  id: GROUP_SCHEMA,
  name: 'Group',
  description: 'Group',
  attributes: [
    str('displayName', { required: true, uniqueness: 'server' }),
    {
      name: 'members',
      type: 'complex',
      multiValued: true,
      subAttributes: [
        str('value', { mutability: 'immutable' }),
        { name: '$ref', type: 'reference', mutability: 'immutable' },
        str('display'),
        str('type', { mutability: 'immutable' }),
      ],
    },
  ],
};

/** Attributes every resource has (RFC 7643 3.1), handled by the service itself. */
export const COMMON_ATTRIBUTES = ['id', 'externalId', 'meta', 'schemas'];

export const SCHEMAS: readonly SchemaDef[] = [USER, ENTERPRISE_USER, DIRSYNC_USER, GROUP];

export interface ResourceTypeDef {
  name: 'User' | 'Group';
  endpoint: '/Users' | '/Groups';
  schema: SchemaDef;
  extensions: SchemaDef[];
}

export const RESOURCE_TYPES: readonly ResourceTypeDef[] = [
  { name: 'User', endpoint: '/Users', schema: USER, extensions: [ENTERPRISE_USER, DIRSYNC_USER] },
  { name: 'Group', endpoint: '/Groups', schema: GROUP, extensions: [] },
];

export function findAttribute(
  list: readonly AttributeDef[] | undefined,
  name: string,
): AttributeDef | undefined {
  if (list === undefined) return undefined;
  const key = name.toLowerCase();
  return list.find((a) => a.name.toLowerCase() === key);
}

/** The schema URN at the start of an attribute path (`urn:...:User:employeeNumber`), if any. */
export function splitUrn(
  path: string,
  resourceType: ResourceTypeDef,
): { schema: SchemaDef; rest: string } | undefined {
  const lower = path.toLowerCase();
  for (const schema of [resourceType.schema, ...resourceType.extensions]) {
    const urn = schema.id.toLowerCase();
    if (lower === urn) return { schema, rest: '' };
    if (lower.startsWith(`${urn}:`)) return { schema, rest: path.slice(urn.length + 1) };
  }
  return undefined;
}
