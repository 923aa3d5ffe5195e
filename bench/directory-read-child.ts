/**
 * One dirsync directory read in its own process, so that its wall time and peak RSS are its
 * own. Started by bench/directory-read.ts as `node --import tsx bench/directory-read-child.ts`
 * with the server in argv (JSON) and the bind password in DIRSYNC_BENCH_BIND_PASSWORD; prints
 * one JSON line (DirectoryReadChildResult) on stdout.
 */
import { LdapSourceConfig } from '../src/config/source.js';
import { LdapSource } from '../src/directory/ldap/source.js';

export interface DirectoryReadChildInput {
  url: string;
  bindDn: string;
  usersBase: string;
  groupsBase: string;
  pageSize: number;
}

export interface DirectoryReadChildResult {
  /** LdapSource.read, from the call to the snapshot. */
  readMs: number;
  /** From process start (performance.timeOrigin) to the end of the read: start-up included. */
  sinceStartMs: number;
  /** Entries the users search returned (stats.usersPerBase). */
  userEntries: number;
  /** Users in the snapshot (entries with an email). */
  users: number;
  /** Entries the groups search returned (stats.groupsPerBase). */
  groupEntries: number;
  /** Groups in the snapshot. */
  groups: number;
  disabled: number;
  /** Sum over users of their effective (nested) groups. */
  memberships: number;
  /** process.resourceUsage().maxRSS: peak resident set, KiB. */
  maxRssKiB: number;
}

function sum(record: Record<string, number>): number {
  return Object.values(record).reduce((a, b) => a + b, 0);
}

export async function readOnce(
  input: DirectoryReadChildInput,
  bindPassword: string,
): Promise<DirectoryReadChildResult> {
  const source = new LdapSource(
    LdapSourceConfig.parse({
      type: 'ldap',
      flavor: 'openldap',
      urls: [input.url],
      bindDn: input.bindDn,
      // Loopback only: plain LDAP on both sides, so TLS cost skews neither.
      allowPlaintextBind: true,
      pageSize: input.pageSize,
      users: { baseDns: [input.usersBase] },
      groups: { baseDns: [input.groupsBase] },
    }),
    { bindPassword },
  );
  const t0 = performance.now();
  const snapshot = await source.read({ groupsOfInterest: [] });
  const readMs = performance.now() - t0;
  return {
    readMs,
    sinceStartMs: performance.now(),
    userEntries: sum(snapshot.stats.usersPerBase),
    users: snapshot.users.length,
    groupEntries: sum(snapshot.stats.groupsPerBase),
    groups: snapshot.groups.size,
    disabled: snapshot.users.filter((u) => u.disabled).length,
    memberships: snapshot.users.reduce((n, u) => n + u.groups.length, 0),
    maxRssKiB: process.resourceUsage().maxRSS,
  };
}

if (import.meta.filename === process.argv[1]) {
  const input = JSON.parse(process.argv[2] ?? '') as DirectoryReadChildInput;
  const password = process.env.DIRSYNC_BENCH_BIND_PASSWORD;
  if (password === undefined) throw new Error('DIRSYNC_BENCH_BIND_PASSWORD is not set');
  process.stdout.write(`${JSON.stringify(await readOnce(input, password))}\n`);
}
