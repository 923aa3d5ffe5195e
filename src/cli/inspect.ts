import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { problemMessage } from '../directory/build.js';
import { unresolvedMessage } from '../directory/groups.js';
import { isKnown } from '../directory/model.js';
import type { ExitCode } from '../errors.js';
import { ApiError, ConfigError, describeError } from '../errors.js';
import { matchUsers } from '../reconcile/match.js';
import type { OrgDetails, OrgUser } from '../reconcile/model.js';
import { checkConfigFiles } from '../config/load.js';
import { durationMs } from '../config/schema.js';
import { detailReadsNeeded, plan } from '../reconcile/plan.js';
import { desiredRank } from '../reconcile/rules.js';
import { compileScope, outOfScopeReason } from '../reconcile/scope.js';
import { jsonText, printable, renderPlan, useColor } from '../reconcile/render.js';
import {
  groupsOfInterest,
  orgDetails,
  planInputs,
  railContext,
  readOrganization,
} from '../reconcile/run.js';
import { judge, subPlan } from '../reconcile/safety.js';
import type { CommandEnv } from './commands.js';
import { checkOrganization } from '../state/organization.js';
import { configPath, openRunContext, type RunContext } from './context.js';
import { plural } from '../text.js';
import { LockBusyError } from '../state/lock.js';
import { writeFileAtomic } from '../state/store.js';

/** A list of directory or API values on one line; `(unknown ...)` when the directory's cannot be used. */
function list(values: readonly string[], known: boolean): string {
  const shown = `[${values.map(printable).join(', ')}]`;
  return known ? shown : `(unknown: a value cannot be used; usable ones ${shown})`;
}

async function readBoth(run: RunContext) {
  const { config, source, api } = run.deps;
  const started = performance.now();
  const snapshot = await source.read({ groupsOfInterest: groupsOfInterest(config) });
  const dirMs = performance.now() - started;
  const organization = await readOrganization(api);
  checkOrganization(run.deps.store.state, organization, run.deps.store.path);
  return { snapshot, organization, dirMs };
}

/**
 * The state folder takes a file (written and removed, atomically as the record is), and the run
 * lock can be taken (taken and released at once; a live run's lock is left alone and said to be
 * held, which is not a failure). A file-system error names the path and the fix.
 */
function checkStateFolder(run: RunContext): string[] {
  const { store, config } = run.deps;
  const probe = join(dirname(store.path), `.dirsync-check-${process.pid}.tmp`);
  writeFileAtomic(probe, 'written by dirsync check, removed at once\n');
  rmSync(probe, { force: true });
  let lock: string;
  try {
    const taken = store.lock({ staleMs: durationMs(config.state.lockStaleAfter) });
    const stale = taken.tookOver;
    store.unlock();
    lock =
      stale === undefined
        ? 'run lock taken and released'
        : `a stale run lock was cleared (${stale.why}); run lock taken and released`;
  } catch (error) {
    if (!(error instanceof LockBusyError)) throw error;
    lock = `run lock held by a live run, left alone: ${error.message}`;
  }
  const lines = [`state      ${store.path}: folder writable; ${lock}`];
  const lost = store.journalLossWarning();
  if (lost !== undefined) lines.push(`warning    ${lost.message}: ${lost.cost}`);
  return lines;
}

/**
 * Write rights, by a write that changes nothing: the token owner's computer usernames set to
 * what they are. Without `api.tokenOwner` there is no user whose data dirsync may rewrite as a
 * test, and check says so.
 */
async function checkWrites(
  run: RunContext,
  organization: readonly Pick<OrgUser, 'emailId' | 'email'>[],
): Promise<{ ok: boolean; line: string }> {
  const { config, api } = run.deps;
  const owner = config.api.tokenOwner?.trim();
  if (owner === undefined || owner === '') {
    return {
      ok: true,
      line: "writes     not tested: set api.tokenOwner (the email of the token's own user) and check re-sets that user's computer usernames to their current value, a write that changes nothing",
    };
  }
  const user = organization.find((u) => u.email.toLowerCase() === owner.toLowerCase());
  if (user === undefined) {
    return {
      ok: false,
      line: `writes     FAILED: api.tokenOwner ${printable(owner)} is in neither listing of the organization, so it is not protected either. To fix: set api.tokenOwner to the email of the token's own user`,
    };
  }
  const id = user.emailId;
  const current = (await api.getUser(id)).computerUsernames;
  try {
    await api.setComputerUsernames(id, current);
  } catch (error) {
    if (!(error instanceof ApiError) || (error.status !== 401 && error.status !== 403)) throw error;
    return {
      ok: false,
      line: `writes     FAILED: the token may read but not write: POST /modifyallusernames answered ${error.status} (${printable(describeError(error))}). To fix: use a token of an ADMIN user (SUPER to grant or remove ADMIN and SUPER); a REGULAR user's token can only read`,
    };
  }
  return {
    ok: true,
    line: `writes     allowed: re-set the computer usernames of ${printable(user.email)} (api.tokenOwner) to their current value [${current.map(printable).join(', ')}]`,
  };
}

/** `dirsync check`: config, state folder and lock, LDAP bind and search, API auth and write rights, counts. */
export async function checkCommand(ctx: CommandEnv, opts: { config?: string }): Promise<ExitCode> {
  const path = configPath(opts.config, ctx.env);
  const run = openRunContext(path, ctx.env, ctx.io.stderr, { lock: false });
  const out = (s: string): void => {
    ctx.io.stdout.write(`${s}\n`);
  };
  try {
    const { config } = run.deps;
    checkConfigFiles(run.loaded);
    out(`config     ${path}: valid`);
    for (const line of checkStateFolder(run)) out(line);
    const { snapshot, organization, dirMs } = await readBoth(run);
    const s = snapshot.stats;
    out(
      `directory  ${s.source} (${s.flavor}): ${snapshot.users.length} users with email` +
        `${s.usersWithoutEmail > 0 ? `, ${s.usersWithoutEmail} without (skipped)` : ''}, ${snapshot.groups.size} of ${plural(groupsOfInterest(config).length, 'group')} the rules name found, ` +
        `${s.referencesSkipped} continuation references skipped, read in ${(dirMs / 1000).toFixed(1)} s`,
    );
    const guests = organization.filter((u) => u.tag === 'GUEST').length;
    out(
      `api        ${config.api.baseUrl}: authenticated; ${organization.length} users (${organization.length - guests} USER, ${guests} GUEST)`,
    );
    const { matches, ambiguous, unmatched } = matchUsers(snapshot.users, organization);
    const scope = compileScope(config.rules.scope);
    const scoped = organization.filter((u) => scope.includes(u.email));
    const absent = scoped.filter((u) => u.tag === 'USER' && !matches.has(u.emailId)).length;
    out(
      `matching   ${matches.size} matched, ${scoped.length} in scope, ${unmatched.filter((u) => scope.includes(u.email)).length} in the directory only, ` +
        `${absent} in scope but not in the directory, ${ambiguous.length} ambiguous`,
    );
    for (const w of snapshot.warnings.slice(0, 5))
      out(`warning    ${printable(w.dn)}: ${printable(w.message)}`);
    if (snapshot.warnings.length > 5)
      out(`warning    ... and ${snapshot.warnings.length - 5} more (\`dirsync plan\` lists them)`);
    for (const u of snapshot.unresolvedMembers ?? [])
      out(`warning    group ${printable(u.group)}: ${printable(unresolvedMessage(u))}`);
    const sample = scoped.filter((u) => matches.has(u.emailId)).slice(0, 3);
    for (const u of sample) {
      const d = matches.get(u.emailId)!;
      const rank = desiredRank(d, config.rules);
      out(
        `sample     ${printable(u.email)}: rank ${rank.rank} (${printable(rank.why)}), logins ${list(d.logins, isKnown(d, 'logins'))}${d.disabled || d.expired ? ', disabled' : ''}`,
      );
    }
    const writes = await checkWrites(run, organization);
    out(writes.line);
    return writes.ok ? 0 : 1;
  } finally {
    await run.close();
  }
}

/** `dirsync explain <email>`: one user's directory entry, organization entry, rules and actions. */
export async function explainCommand(
  ctx: CommandEnv,
  email: string,
  opts: { config?: string },
): Promise<ExitCode> {
  const run = openRunContext(configPath(opts.config, ctx.env), ctx.env, ctx.io.stderr, {
    lock: false,
  });
  const out = (s: string): void => {
    ctx.io.stdout.write(`${s}\n`);
  };
  try {
    const { config, api, store } = run.deps;
    const { snapshot, organization } = await readBoth(run);
    const now = (run.deps.clock ?? (() => new Date()))();
    const wanted = email.trim().toLowerCase();
    const org = organization.find((u) => u.email.toLowerCase() === wanted);
    // The whole organization, matched as `plan` matches it: an alias another user's primary
    // email already claims is ambiguous here exactly as it is there.
    const match = matchUsers(snapshot.users, organization);
    const dir =
      org === undefined
        ? snapshot.users.find((u) => u.email === wanted || u.aliases.includes(wanted))
        : match.matches.get(org.emailId);
    if (org === undefined && dir === undefined) {
      throw new ConfigError(`${email} is neither in the directory nor in the organization`, {
        hint: 'check the spelling; `dirsync check` shows counts',
      });
    }
    out(printable(email));
    out(
      `  in scope: ${compileScope(config.rules.scope).includes(email) ? 'yes' : `no (${printable(outOfScopeReason(email, config.rules.scope))})`}`,
    );
    const ambiguity =
      org === undefined ? undefined : match.ambiguous.find((a) => a.email === org.email);
    if (ambiguity !== undefined) {
      out(`  directory: ambiguous, claimed by ${printable(ambiguity.dns.join(' | '))}: left alone`);
    } else if (dir === undefined) out('  directory: not found (no entry with this email or alias)');
    else {
      out(`  directory: ${printable(dir.dn)}`);
      out(
        `    id ${printable(dir.id)}; email ${printable(dir.email)}; aliases ${list(dir.aliases, true)}`,
      );
      out(
        `    logins ${list(dir.logins, isKnown(dir, 'logins'))}; smart cards ${list(dir.smartcards, isKnown(dir, 'smartcards'))}; disabled ${dir.disabled}; expired ${dir.expired}`,
      );
      for (const p of dir.problems ?? []) out(`    cannot use: ${printable(problemMessage(p))}`);
      out(
        `    groups that rules name: ${dir.groups.length === 0 ? '(none)' : printable(dir.groups.map((g) => snapshot.groups.get(g) ?? g).join(', '))}`,
      );
      const rank = desiredRank(dir, config.rules);
      out(`    rank by the rules: ${rank.rank} (${printable(rank.why)})`);
    }
    for (const u of snapshot.unresolvedMembers ?? [])
      out(`  rule group ${printable(u.group)}: ${printable(unresolvedMessage(u))}`);
    if (org === undefined) {
      out('  organization: not found (this API cannot create users)');
      return 0;
    }
    const live = orgDetails(await api.getUser(org.emailId));
    out(
      `  organization: ${printable(org.email)}, email_id ${org.emailId}, user_id ${org.userId}, ${org.tag}, ${org.adStatus}`,
    );
    out(
      `    computer usernames ${list(live.computerUsernames, true)}; smart cards ${list(
        live.smartcards.map((c) => c.number),
        true,
      )}`,
    );
    const record = store.state.users[String(org.emailId)];
    out(`    state record: ${record === undefined ? '(none yet)' : jsonText(record)}`);

    // The plan `plan` would make, for this user: same organization, same match, and this
    // user's details only where `plan` would read them (otherwise the record vouches).
    const { base, sweep } = planInputs(config, snapshot, organization, store.state, now, match);
    const readsDetails = detailReadsNeeded(base, { sweep }).includes(org.emailId);
    if (!readsDetails && record?.verifiedAt !== undefined)
      out(`    (plan trusts the state record's values, verified ${record.verifiedAt})`);
    const whole = plan({
      ...base,
      details: readsDetails ? new Map([[org.emailId, live]]) : new Map<number, OrgDetails>(),
    });
    const verdict = judge(whole, railContext(config, store.state, organization, now));
    const mine = (e: string): boolean => e.toLowerCase() === org.email.toLowerCase();
    const own = {
      ...whole,
      actions: whole.actions.filter((a) => a.emailId === org.emailId),
      notes: whole.notes.filter((n) => mine(n.email)),
      ambiguous: whole.ambiguous.filter((a) => mine(a.email)),
      notInOrganization: [],
      ...(whole.problems === undefined
        ? {}
        : {
            problems: whole.problems.filter(
              (p) => (p.email !== null && mine(p.email)) || p.dn === dir?.dn,
            ),
          }),
    };
    own.summary = { ...whole.summary, actions: subPlan(own, own.actions).summary.actions };
    out('');
    ctx.io.stdout.write(renderPlan(own, { color: useColor(ctx.io.stdout, ctx.env) }));
    for (const t of verdict.stops)
      out(`  the run would be refused: ${t.rail}: ${printable(t.message)}`);
    for (const h of verdict.held.filter((x) => x.emailId === org.emailId))
      out(`  ${h.kind} would be held back: ${printable(h.heldBy)}`);
    return 0;
  } finally {
    await run.close();
  }
}
