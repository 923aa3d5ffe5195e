import { z } from 'zod';

/**
 * The `source:` section of the config: where the directory is read from. Strict: an unknown
 * key is an error, so a typo never silently falls back to a default.
 */

/** Unescaped commas in a DN: `cn=a\,b,dc=x` has one. */
function rdnCount(dn: string): number {
  return dn.split(/(?<!\\),/).length;
}

/**
 * A list of DNs. In a YAML flow list (`[a, b]`) commas separate items, so
 * `[cn=Admins,ou=Groups,dc=corp]` arrives as three one-RDN "DNs": refuse that with a fix.
 */
export const dnList = z.array(z.string().min(1)).superRefine((dns, ctx) => {
  const single = dns.filter((d) => rdnCount(d) === 1);
  if (single.length >= 2) {
    ctx.addIssue({
      code: 'custom',
      message: `these look like pieces of DNs split at their commas (${single.slice(0, 3).join(' | ')}): in a YAML [flow, list] commas separate items; put each DN on its own "- " line, or quote it`,
    });
  }
});

const Attributes = z.strictObject({
  id: z.string().optional(),
  email: z.string().optional(),
  aliases: z.array(z.string()).optional(),
  firstName: z.string().optional(),
  lastName: z.string().optional(),
  logins: z.array(z.string()).min(1).optional(),
  smartcards: z.string().optional(),
  memberOf: z.string().optional(),
  members: z.array(z.string()).optional(),
  memberUid: z.string().optional(),
  groupName: z.string().optional(),
});

const Flavor = z.enum(['ad', 'openldap', '389ds']);

/** An LDAP filter; an empty one is refused rather than read as "everything". */
const nonEmptyFilter = z
  .string()
  .trim()
  .min(1, "an empty filter is not allowed: remove the key to use the flavor's default filter");

export const LdapSourceConfig = z.strictObject({
  type: z.literal('ldap'),
  /** Omitted: detected from the RootDSE. */
  flavor: Flavor.optional(),
  urls: z
    .array(
      z
        .string()
        .regex(/^ldaps?:\/\/[^/]+\/?$/i, 'expected ldap://host[:port] or ldaps://host[:port]'),
    )
    .min(1),
  bindDn: z.string().optional(),
  bindPassword: z.string().optional(),
  bindPasswordFile: z.string().optional(),
  startTls: z.boolean().default(false),
  tls: z
    .strictObject({
      caFile: z.string().optional(),
      rejectUnauthorized: z.boolean().default(true),
      servername: z.string().optional(),
    })
    .default({ rejectUnauthorized: true }),
  allowPlaintextBind: z.boolean().default(false),
  connectTimeoutMs: z.number().int().positive().default(10_000),
  timeoutMs: z.number().int().positive().default(120_000),
  pageSize: z.number().int().min(1).max(100_000).default(500),
  users: z.strictObject({
    baseDns: dnList.pipe(z.array(z.string()).min(1)),
    filter: nonEmptyFilter.optional(),
  }),
  groups: z
    .strictObject({
      baseDns: dnList.default([]),
      filter: nonEmptyFilter.optional(),
      /** auto: the flavor's way (AD: in-chain matching rule; OpenLDAP: client-side). */
      nested: z.enum(['auto', 'inChain', 'client']).default('auto'),
      /** Ask for `member;range=0-(n-1)` and follow the ranges; omitted: the server decides. */
      rangeSize: z.number().int().min(1).optional(),
    })
    .default({ baseDns: [], nested: 'auto' }),
  attributes: Attributes.optional(),
});
export type LdapSourceConfig = z.infer<typeof LdapSourceConfig>;

export const LdifSourceConfig = z.strictObject({
  type: z.literal('ldif'),
  file: z.string().min(1),
  flavor: Flavor.default('openldap'),
  users: z
    .strictObject({ baseDns: dnList.default([]), filter: nonEmptyFilter.optional() })
    .default({ baseDns: [] }),
  groups: z
    .strictObject({ baseDns: dnList.default([]), filter: nonEmptyFilter.optional() })
    .default({ baseDns: [] }),
  attributes: Attributes.optional(),
});
export type LdifSourceConfig = z.infer<typeof LdifSourceConfig>;

/** The users and groups identity providers push to the SCIM listener (the `scim:` section). */
export const ScimSourceConfig = z.strictObject({ type: z.literal('scim') });
export type ScimSourceConfig = z.infer<typeof ScimSourceConfig>;

export const SourceConfig = z.discriminatedUnion('type', [
  LdapSourceConfig,
  LdifSourceConfig,
  ScimSourceConfig,
]);
export type SourceConfig = z.infer<typeof SourceConfig>;
