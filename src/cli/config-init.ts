import { writeFileSync } from 'node:fs';
import { checkConfigFiles, loadConfig } from '../config/load.js';
import { insecureSettings } from '../config/warnings.js';
import { validateSchedule } from '../daemon/scheduler.js';
import { ConfigError, type ExitCode } from '../errors.js';
import { webhookTargets } from '../notify/notifier.js';
import type { CommandEnv } from './commands.js';
import { configPath, DEFAULT_CONFIG } from './config-path.js';

export type StarterFlavor = 'ad' | 'openldap';

/** What differs between the two starters: the server, the bind account, the DNs. */
const FLAVORS: Record<
  StarterFlavor,
  {
    title: string;
    urls: string;
    startTls: string;
    bindDn: string;
    users: string;
    groups: string;
    admins: string;
    owners: string;
    logins: string;
    domain: string;
  }
> = {
  ad: {
    title: 'an Active Directory domain',
    urls: `  # Domain controllers, tried in order: ldaps://host[:port] (or ldap:// with startTls: true).
  urls:
    - ldaps://dc1.corp.example.com
    - ldaps://dc2.corp.example.com`,
    startTls: '',
    bindDn: 'CN=svc-dirsync,OU=Service Accounts,DC=corp,DC=example,DC=com',
    users: 'OU=Staff,DC=corp,DC=example,DC=com',
    groups: 'OU=Groups,DC=corp,DC=example,DC=com',
    admins: 'CN=IT-Admins,OU=Groups,DC=corp,DC=example,DC=com',
    owners: 'CN=IT-Owners,OU=Groups,DC=corp,DC=example,DC=com',
    logins: 'sAMAccountName',
    domain: 'corp.example.com',
  },
  openldap: {
    title: 'an OpenLDAP directory',
    urls: `  # Servers, tried in order: ldaps://host[:port], or ldap:// with startTls: true as here.
  urls:
    - ldap://ldap.example.com`,
    startTls: `  # Upgrade the ldap:// connection with StartTLS before binding (ldaps:// URLs need not).
  startTls: true
`,
    bindDn: 'cn=dirsync,ou=services,dc=example,dc=com',
    users: 'ou=people,dc=example,dc=com',
    groups: 'ou=groups,dc=example,dc=com',
    admins: 'cn=it-admins,ou=groups,dc=example,dc=com',
    owners: 'cn=it-owners,ou=groups,dc=example,dc=com',
    logins: 'uid',
    domain: 'example.com',
  },
};

/**
 * A short, commented config to start from: the required keys and the few every site changes,
 * with safe choices (removed users suspended, not deleted; ranks left alone until the groups
 * are right). config/example.yaml documents every key.
 */
export function starterConfig(flavor: StarterFlavor): string {
  const f = FLAVORS[flavor];
  return `# dirsync config for ${f.title}: a starter from \`dirsync config init --flavor ${flavor}\`.
#
# Replace the example names below with yours, then:
#   dirsync config validate   checks this file, offline
#   dirsync check             connects: LDAP bind and search, API token and write rights
#   dirsync plan              shows what would change, and why (writes nothing)
# Every key is documented in config/example.yaml; \`dirsync config schema\` prints the JSON
# Schema. For hovers and completion in editors with the YAML language server, write it beside
# this file (dirsync config schema > dirsync.schema.json); the next line points at it.
# yaml-language-server: $schema=./dirsync.schema.json
#
# \${NAME} is replaced by the environment variable NAME. Relative paths are relative to this file.

# Where users and groups are read from.
source:
  type: ldap
  # ad | openldap | 389ds: attribute names, filters and nested groups follow it.
  flavor: ${flavor}
${f.urls}
${f.startTls}  # A read-only service account.
  bindDn: ${f.bindDn}
  # Its password, from the environment; or bindPasswordFile: a file holding it.
  bindPassword: \${DIRSYNC_LDAP_PASSWORD}
  # tls:
  #   # PEM file of the CA that signed the servers' certificates (a private CA).
  #   caFile: ./ldap-ca.pem
  users:
    # Where users are searched (subtree). DNs go one per "- " line.
    baseDns:
      - ${f.users}
  groups:
    baseDns:
      - ${f.groups}
  attributes:
    # Workstation login names, sent as computer usernames.
    logins:
      - ${f.logins}

# The Users API and the token dirsync acts with.
api:
  baseUrl: https://api.example.com
  # The bearer token, from the environment; or tokenFile: a file holding it.
  token: \${DIRSYNC_API_TOKEN}
  # The email of the token's own user: never demoted, suspended or removed.
  # tokenOwner: svc-dirsync@${f.domain}

# What the organization should look like. Only users inside the scope are ever changed.
rules:
  scope:
    # Only organization users with these email domains are changed.
    emailDomains:
      - ${f.domain}
    # Emails never touched (break-glass accounts).
    exclude: []
  ranks:
    # Members (nested membership counts) of these groups get SUPER, of these ADMIN; everyone
    # else in scope REGULAR.
    SUPER:
      - ${f.owners}
    ADMIN:
      - ${f.admins}
    # Left off until SUPER and ADMIN name the right groups: with wrong groups every user in
    # scope would become REGULAR. Set true once \`dirsync plan\` shows the ranks you expect.
    manage: false
  removed:
    # Users gone from the directory are suspended (delete: suspended, then deleted after
    # graceDays). Start with suspend until the first runs have been reviewed.
    action: suspend

# The safety rails keep their defaults (config/example.yaml lists them): a run that would
# delete, suspend or change ranks beyond them holds those actions back for review (exit 3).
`;
}

/** `dirsync config init`: writes a starter config; never overwrites a file without --force. */
export function configInitCommand(
  ctx: CommandEnv,
  opts: { flavor?: string; out?: string; force?: boolean },
): ExitCode {
  const flavor = opts.flavor ?? 'ad';
  if (flavor !== 'ad' && flavor !== 'openldap')
    throw new ConfigError(`--flavor ${flavor} is not one dirsync has a starter for`, {
      hint: 'use --flavor ad or --flavor openldap (for 389-DS, start from openldap and set flavor: 389ds)',
    });
  const text = starterConfig(flavor);
  if (opts.out === '-') {
    ctx.io.stdout.write(text);
    return 0;
  }
  const out = opts.out ?? DEFAULT_CONFIG;
  try {
    writeFileSync(out, text, { flag: opts.force === true ? 'w' : 'wx' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new ConfigError(`${out} exists already; nothing was written`, {
        hint: `write elsewhere with --out FILE, or replace it with --force`,
      });
    throw new ConfigError(`cannot write ${out} (${code ?? 'error'})`, {
      hint: `check that the folder of ${out} exists and is writable, or choose another with --out`,
    });
  }
  ctx.io.stdout.write(
    `Wrote a starter config for ${FLAVORS[flavor].title} to ${out}.\n` +
      `Edit the names in it, set DIRSYNC_LDAP_PASSWORD and DIRSYNC_API_TOKEN, then run:\n` +
      `  dirsync config validate --config ${out}\n  dirsync check --config ${out}\n`,
  );
  return 0;
}

/**
 * `dirsync config validate`: the config file, offline: the schema, \${ENV} values, secret files
 * (webhook URL files included), LDAP filters, CA files, plain-text URLs and the schedule. Warns
 * about settings that weaken security, as every run does.
 */
export function configValidateCommand(ctx: CommandEnv, opts: { config?: string }): ExitCode {
  const path = configPath(opts.config, ctx.env);
  const loaded = loadConfig(path, ctx.env);
  checkConfigFiles(loaded);
  // What the daemon and the notifier would refuse only when they start: their own checks.
  validateSchedule(loaded.config.schedule);
  webhookTargets(loaded.config);
  for (const setting of insecureSettings(loaded.config))
    ctx.io.stderr.write(`warning: ${setting.message}\n`);
  ctx.io.stdout.write(`config ${path}: valid\n`);
  return 0;
}
