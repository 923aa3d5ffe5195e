import { z } from 'zod';
import { domainEntryProblem } from '../reconcile/scope.js';
import { dnList, SourceConfig } from './source.js';

/**
 * The dirsync config file, one table that yields validation, the JSON Schema
 * (`dirsync config schema`) and the documentation in config/example.yaml. Strict: an unknown
 * key is an error with a "did you mean", never silently ignored.
 */

const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'expected a duration such as 30m, 24h or 7d');

/**
 * Groups named in the rules: DNs for LDAP and LDIF (checked against YAML flow-list splitting
 * below), display names or externalIds for SCIM.
 */
const dns = z.array(z.string().min(1)).default([]);

export const ApiConfig = z.strictObject({
  baseUrl: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
  /** The bearer token; prefer tokenFile or ${ENV}. */
  token: z.string().min(1).optional(),
  tokenFile: z.string().min(1).optional(),
  /** The email of the token's own user: always protected (the API cannot tell who it is). */
  tokenOwner: z.string().optional(),
  /** Allow http:// to a host other than loopback: the token would cross the network in clear. */
  allowPlaintext: z.boolean().default(false),
  concurrency: z.number().int().min(1).max(64).default(8),
  /**
   * The whole of one request, headers and every byte of the body, in milliseconds: a server that
   * trickles its answer is cut off here (the silence timeouts never trip on a trickle).
   */
  requestTimeoutMs: z.number().int().min(1000).default(120_000),
  requestsPerSecond: z.number().positive().optional(),
  /** Size limits on answers, in bytes: over one, the read fails instead of filling memory. */
  maxListingElementBytes: z
    .number()
    .int()
    .min(1024)
    .default(1024 ** 2),
  maxListingBytes: z
    .number()
    .int()
    .min(1024)
    .default(1024 ** 3),
  maxBodyBytes: z
    .number()
    .int()
    .min(1024)
    .default(10 * 1024 ** 2),
  /** After a toggle with no answer, or one a killed run left in flight: wait this long, then read. */
  settleMs: z.number().int().min(0).max(600_000).default(2000),
  tls: z.strictObject({ caFile: z.string().optional() }).default({}),
});
export type ApiConfig = z.infer<typeof ApiConfig>;

export const RulesConfig = z.strictObject({
  scope: z.strictObject({
    /**
     * Only organization users with these email domains are ever changed; `*.example.com` is
     * every subdomain of example.com (not example.com itself). Case-insensitive.
     */
    emailDomains: z
      .array(
        z
          .string()
          .min(1)
          .superRefine((entry, ctx) => {
            const problem = domainEntryProblem(entry);
            if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
          }),
      )
      .min(1, 'name at least one email domain dirsync manages'),
    /** Emails never touched, even inside the domains. */
    exclude: z.array(z.string()).default([]),
  }),
  ranks: z
    .strictObject({ SUPER: dns, ADMIN: dns, manage: z.boolean().default(true) })
    .default({ SUPER: [], ADMIN: [], manage: true }),
  promoteGuests: z
    .strictObject({ enabled: z.boolean().default(true), groups: dns })
    .default({ enabled: true, groups: [] }),
  suspend: z
    .strictObject({ disabledAccounts: z.boolean().default(true), groups: dns })
    .default({ disabledAccounts: true, groups: [] }),
  removed: z
    .strictObject({
      action: z.enum(['delete', 'suspend', 'ignore']).default('suspend'),
      graceDays: z.number().min(0).default(7),
    })
    .default({ action: 'suspend', graceDays: 7 }),
  computerUsernames: z.enum(['manage', 'ignore']).default('manage'),
  smartcards: z.enum(['manage', 'ignore']).default('ignore'),
});
export type RulesConfig = z.infer<typeof RulesConfig>;

export const SafetyConfig = z.strictObject({
  maxDeletes: z.number().int().min(0).default(25),
  maxDeletePercent: z.number().min(0).max(100).default(5),
  maxSuspends: z.number().int().min(0).default(50),
  maxSuspendPercent: z.number().min(0).max(100).default(25),
  maxUnsuspends: z.number().int().min(0).default(50),
  maxRankChanges: z.number().int().min(0).default(10),
  /** Grants of ADMIN or SUPER, a tighter budget inside maxRankChanges. */
  maxPrivilegedGrants: z.number().int().min(0).default(3),
  /** A percent budget never allows fewer changes than this (a small organization's one leaver). */
  minBudget: z.number().int().min(0).default(3),
  /** Budgets count over this rolling window (e.g. 24h) instead of per run. */
  window: duration.optional(),
  maxSourceDropPercent: z.number().min(0).max(100).default(10),
  /** An organization that lists nobody is refused unless this is true. */
  allowEmptyOrganization: z.boolean().default(false),
  /** Emails never demoted, suspended or removed (the token's own user is always protected). */
  protectedUsers: z.array(z.string()).default([]),
});
export type SafetyConfig = z.infer<typeof SafetyConfig>;

/** Where the audit trail goes and how long it is kept. */
export const AuditConfig = z.strictObject({
  /** The folder of the audit log (one JSON Lines file per day); default `audit/` beside state.path. */
  path: z.string().min(1).optional(),
  /** Days an audit file is kept; older files are deleted. By age only, never by run count. */
  keepDays: z.number().int().min(1).default(400),
});
export type AuditConfig = z.infer<typeof AuditConfig>;

export const NOTIFY_EVENTS = ['refused', 'held', 'failed', 'actions_failed', 'recovered'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export const WebhookConfig = z
  .strictObject({
    /** Names the webhook in logs and errors: its URL is a secret and is never shown. */
    name: z.string().min(1).optional(),
    /** The webhook URL, a secret: prefer urlFile or ${ENV}. */
    url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
    /** A file holding the webhook URL. */
    urlFile: z.string().min(1).optional(),
    format: z.enum(['json', 'slack', 'teams']).default('json'),
    /** The events posted; every event when left out. */
    events: z.array(z.enum(NOTIFY_EVENTS)).min(1).optional(),
    /** Time allowed for one post (each attempt). */
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  })
  .refine((w) => (w.url === undefined) !== (w.urlFile === undefined), {
    error: 'set exactly one of url and urlFile',
  });
export type WebhookConfig = z.infer<typeof WebhookConfig>;

export const NotifyConfig = z.strictObject({
  webhooks: z.array(WebhookConfig).default([]),
});
export type NotifyConfig = z.infer<typeof NotifyConfig>;

/** The SCIM listener of `dirsync daemon` and its store (with `source.type: scim`). */
export const ScimConfig = z.strictObject({
  port: z.number().int().min(0).max(65535).default(9465),
  host: z.string().default('0.0.0.0'),
  basePath: z.string().regex(/^\//, 'expected a path such as /scim/v2').default('/scim/v2'),
  /** Accepted bearer tokens; prefer tokenFiles or ${ENV}. */
  tokens: z.array(z.string().min(16, 'a SCIM token needs at least 16 characters')).default([]),
  tokenFiles: z.array(z.string().min(1)).default([]),
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
  maxBodyBytes: z
    .number()
    .int()
    .min(1024)
    .default(4 * 1024 * 1024),
  /** A write schedules a run this long after the last write... */
  debounce: duration.default('10s'),
  /** ...but no later than this after the first unreconciled write. */
  maxDelay: duration.default('2m'),
  store: z
    .strictObject({ path: z.string().default('./state/scim.sqlite') })
    .default({ path: './state/scim.sqlite' }),
  /** SCIM attribute paths the directory user is read from; each list is tried in order. */
  attributes: z
    .strictObject({
      email: z
        .array(z.string().min(1))
        .min(1)
        .default(['emails[type eq "work"].value', 'emails[primary eq true].value', 'userName']),
      aliases: z.array(z.string().min(1)).default(['emails.value']),
      firstName: z.string().min(1).default('name.givenName'),
      lastName: z.string().min(1).default('name.familyName'),
      logins: z
        .array(z.string().min(1))
        .default([
          'urn:ietf:params:scim:schemas:extension:dirsync:2.0:User:loginName',
          'urn:ietf:params:scim:schemas:extension:dirsync:2.0:User:loginNames',
        ]),
      smartcards: z.string().min(1).optional(),
    })
    .prefault({}),
});
export type ScimConfig = z.infer<typeof ScimConfig>;

export const Config = z
  .strictObject({
    source: SourceConfig,
    scim: ScimConfig.optional(),
    api: ApiConfig,
    rules: RulesConfig,
    safety: SafetyConfig.default(SafetyConfig.parse({})),
    /** How often every user's details are re-read to catch changes made by hand. */
    verifyEvery: duration.default('24h'),
    schedule: z
      .strictObject({
        cron: z.string().default('*/30 * * * *'),
        timezone: z.string().default('UTC'),
        runTimeout: duration.default('1h'),
      })
      .default({ cron: '*/30 * * * *', timezone: 'UTC', runTimeout: '1h' }),
    server: z
      .strictObject({
        port: z.number().int().min(0).max(65535).default(9464),
        host: z.string().default('0.0.0.0'),
      })
      .default({ port: 9464, host: '0.0.0.0' }),
    state: z
      .strictObject({
        path: z.string().default('./state/dirsync.json'),
        /**
         * A run refreshes its lock every third of this; a lock not refreshed for this long is left
         * by a run that died (SIGKILL, a lost container) and is taken over.
         */
        lockStaleAfter: duration
          .refine((v) => durationMs(v) >= 1000, 'expected at least 1s')
          .default('90s'),
      })
      .default({ path: './state/dirsync.json', lockStaleAfter: '90s' }),
    audit: AuditConfig.default({ keepDays: 400 }),
    notify: NotifyConfig.default({ webhooks: [] }),
    log: z
      .strictObject({
        level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
        format: z.enum(['auto', 'json', 'human']).default('auto'),
      })
      .default({ level: 'info', format: 'auto' }),
  })
  .superRefine((config, ctx) => {
    if (config.source.type === 'scim') {
      if (config.scim === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['scim'],
          message:
            'source.type scim needs a scim: section with at least scim.tokens or scim.tokenFiles',
        });
      return;
    }
    // LDAP and LDIF rules name groups by DN: refuse DNs a YAML flow list split at their commas.
    const r = config.rules;
    const lists = {
      'ranks.SUPER': r.ranks.SUPER,
      'ranks.ADMIN': r.ranks.ADMIN,
      'promoteGuests.groups': r.promoteGuests.groups,
      'suspend.groups': r.suspend.groups,
    };
    for (const [key, list] of Object.entries(lists)) {
      const checked = dnList.safeParse(list);
      if (!checked.success)
        for (const issue of checked.error.issues)
          ctx.addIssue({
            code: 'custom',
            path: ['rules', ...key.split('.')],
            message: issue.message,
          });
    }
  });
export type Config = z.infer<typeof Config>;

/** `30m` -> milliseconds. */
export function durationMs(value: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(value);
  if (match === null) throw new Error(`not a duration: ${value}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    match[2] as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Number(match[1]) * unit;
}
