// One dirsync directory read in its own process, so that its wall time and peak RSS are its own.
// Plain JavaScript on the built code (dist/, from `npm ci` or `npm run build`): the read is timed
// the way dirsync runs, without a TypeScript loader in the way. Started by
// bench/directory-read.ts as `node bench/directory-read-child.mjs '<input JSON>'` with the bind
// password in DIRSYNC_BENCH_BIND_PASSWORD; prints one JSON line (DirectoryReadChildResult).
import { LdapSourceConfig } from '../dist/config/source.js';
import { LdapSource } from '../dist/directory/ldap/source.js';

/** @param {Record<string, number>} record */
const sum = (record) => Object.values(record).reduce((a, b) => a + b, 0);

const input = JSON.parse(process.argv[2] ?? '');
const password = process.env.DIRSYNC_BENCH_BIND_PASSWORD;
if (password === undefined) throw new Error('DIRSYNC_BENCH_BIND_PASSWORD is not set');

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
  { bindPassword: password },
);
const t0 = performance.now();
const snapshot = await source.read({ groupsOfInterest: [] });
const readMs = performance.now() - t0;
const result = {
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
process.stdout.write(`${JSON.stringify(result)}\n`);
