import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../src/api/client.js';
import { AuditLog, auditDir, auditFileName, type AuditEntry } from '../../src/audit/audit-log.js';
import { Config } from '../../src/config/schema.js';
import type { LdifSourceConfig } from '../../src/config/source.js';
import { LdifSource } from '../../src/directory/ldif/source.js';
import { DirsyncError, SafetyError, describeError } from '../../src/errors.js';
import { mulberry32 } from '../../src/mock/faults.js';
import { parseSeed } from '../../src/mock/seed.js';
import { startMockServer, type MockServer } from '../../src/mock/server.js';
import type { MockOrganization, MockUser } from '../../src/mock/store.js';
import type { ActionResult } from '../../src/reconcile/apply.js';
import { applyRun, planRun, type RunDeps } from '../../src/reconcile/run.js';
import { StateStore } from '../../src/state/store.js';
import { describeScenario } from './describe.js';
import { Gateway, NO_FAULTS, type CrashPlan, type RunFaults } from './gateway.js';
import {
  bump,
  emptyStats,
  POPULATION,
  type ChurnOp,
  type HandOp,
  type SimStats,
  type Step,
  type Violation,
} from './model.js';

const DOMAIN = 'corp.example.com';
const PEOPLE = 'ou=People,dc=corp,dc=example,dc=com';
const GROUPS = 'ou=Groups,dc=corp,dc=example,dc=com';
const SUPER_GROUP = `cn=Owners,${GROUPS}`;
const ADMIN_GROUP = `cn=Admins,${GROUPS}`;
const TOKEN = 'sim-token';
/** The token's own user: a service account outside the managed domain, SUPER so it may set ranks. */
const TOKEN_OWNER = 'sync@svc.example.net';
const GRACE_DAYS = 2;
const DAY_MS = 86_400_000;
/** DIRSYNC_SIM_TRACE=1: every action's outcome and every refusal on stderr. */
const TRACE = process.env['DIRSYNC_SIM_TRACE'] === '1';
const HOUR_MS = 3_600_000;

/** The process of a run died: thrown where the dead process would have gone on. */
export class SimCrash extends Error {
  constructor() {
    super('simulated crash: the process died');
  }
}

const emailOf = (i: number): string => `p${i}@${DOMAIN}`;

interface Person {
  i: number;
  present: boolean;
  disabled: boolean;
  super: boolean;
  admin: boolean;
  logins: string[];
  card: string | undefined;
}

/** What one run's directory read saw of a person. */
interface Seen {
  present: boolean;
  disabled: boolean;
}

interface Intent {
  run: number;
  emailId: number;
  /** The status wanted, or `removed`. */
  want: 'SUSPENDED' | 'ACTIVE' | 'removed';
  consumed: boolean;
}

interface RunRecord {
  run: number;
  at: number;
  crashed: boolean;
  /** What the run's directory read saw, by lower-case email. */
  directory: Map<string, Seen>;
  /** When each email had been missing from the directory since, as of this run. */
  absentSince: Map<string, number>;
  /** An administrator changed a SUPER or a rank during this run: the zero-SUPER check is off. */
  handTouchedSupers: boolean;
}

export interface WorldOptions {
  seed: number;
  /** Keep the state folder (for a post-mortem); removed otherwise. */
  keepState?: boolean;
  /** Members of the SUPER group may be disabled or leave (default true). */
  supersLeave?: boolean;
  /** Told of each violation as it is found. */
  onViolation?: (v: Violation) => void;
}

/**
 * A company over many runs: a directory (an LDIF file rewritten between runs), an organization
 * (the mock API, behind a hostile gateway), an administrator editing the organization by hand,
 * and dirsync run after run through the same `applyRun` as the CLI, each run with a fresh
 * StateStore opened on the same path. Invariants are checked as the organization changes (a
 * hook on the mock's store sees every change and who made it) and after every run.
 */
export class World {
  readonly stats: SimStats = emptyStats();
  readonly violations: Violation[] = [];
  private mock!: MockServer;
  private org!: MockOrganization;
  private gateway!: Gateway;
  private dir = '';
  private ldifPath = '';
  private statePath = '';
  private now = Date.parse('2026-01-05T08:00:00Z');
  private run = 0;
  private readonly people: Person[] = [];
  private cardSerial = 700_000;
  private loginSerial = 0;
  private nextEmailId = 900_001;
  private nextUserId = 9_900_001;
  private handEditing = false;
  private readonly intents: Intent[] = [];
  private readonly runs: RunRecord[] = [];
  /** Who last put each user (email_id) into SUSPENDED: dirsync or an administrator. */
  private readonly suspendedBy = new Map<number, 'api' | 'hand'>();
  /** When each email was first seen in the organization but absent from the directory. */
  private readonly absentSince = new Map<string, number>();
  /** Hand status edits since the last listing: at most one per user, so each is observable. */
  private readonly statusEditedSinceListing = new Set<number>();
  /** Users whose rank an administrator changed by hand (rank is unobservable to dirsync). */
  private readonly rankDrift = new Set<number>();
  private readonly random: () => number;
  /** The mock's request log of the last run. */
  private lastRunRequests: MockServer['requests'] = [];

  constructor(private readonly options: WorldOptions) {
    this.random = mulberry32(options.seed);
  }

  // ---------------------------------------------------------------- setup

  async start(): Promise<void> {
    // Memory-backed when the system has it: the journal fsyncs every line, and durability is
    // not what this test is about (a crash here is a dead process, not a lost disk).
    const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
    this.dir = mkdtempSync(join(base, 'dirsync-sim-'));
    this.ldifPath = join(this.dir, 'directory.ldif');
    this.statePath = join(this.dir, 'state', 'dirsync.json');
    for (let i = 0; i < POPULATION; i++) {
      this.people.push({
        i,
        present: i < 18,
        disabled: false,
        super: i === 0 || i === 1,
        admin: i === 2 || i === 3,
        logins: [`p${i}`],
        card: i % 3 === 0 ? String(this.cardSerial++) : undefined,
      });
    }
    const users = [
      { email: TOKEN_OWNER, first_name: 'Sync', last_name: 'Service', rank: 'SUPER' as const },
      ...Array.from({ length: 20 }, (_, i) => ({
        email: emailOf(i),
        first_name: 'P',
        last_name: String(i),
        rank: i === 0 ? ('SUPER' as const) : ('REGULAR' as const),
        tag: i === 16 || i === 17 ? ('GUEST' as const) : ('USER' as const),
        ad_status:
          i === 15 ? ('PENDING' as const) : i === 14 ? ('SUSPENDED' as const) : ('ACTIVE' as const),
        computer_usernames: i % 4 === 0 ? [`old${i}`] : [],
      })),
    ];
    this.mock = await startMockServer({
      seed: parseSeed(
        {
          organizations: [{ name: 'corp', tokens: [{ token: TOKEN, email: TOKEN_OWNER }], users }],
        },
        'simulation seed',
      ),
      port: 0,
    });
    this.org = this.mock.store.organizations[0]!;
    this.hookStore();
    // p14 was suspended by an administrator before dirsync ever ran.
    this.suspendedBy.set(this.org.findByEmail(emailOf(14))!.email_id, 'hand');
    this.gateway = new Gateway(this.mock.url);
    await this.gateway.start();
  }

  async close(): Promise<void> {
    for (const [k, v] of Object.entries(this.gateway.counts) as [string, number][])
      bump(this.stats.faults, k, v);
    await this.gateway.close();
    await this.mock.close();
    if (this.options.keepState !== true) rmSync(this.dir, { recursive: true, force: true });
  }

  get stateFolder(): string {
    return this.dir;
  }

  /** Every change to a user goes through update/remove: see it, and who made it. */
  private hookStore(): void {
    const org = this.org;
    const update = org.update.bind(org);
    org.update = (emailId, change) => {
      const user = org.byEmailId(emailId);
      const before = user === undefined ? undefined : { status: user.ad_status, rank: user.rank };
      update(emailId, change);
      if (user === undefined || before === undefined) return;
      const source = this.handEditing ? 'hand' : 'api';
      if (user.ad_status !== before.status) {
        const lifted = this.suspendedBy.get(emailId);
        if (user.ad_status === 'SUSPENDED') this.suspendedBy.set(emailId, source);
        else this.suspendedBy.delete(emailId);
        if (source === 'api') this.onStatus(user, before.status, user.ad_status, lifted);
      }
      if (user.rank !== before.rank && source === 'hand') this.rankDrift.add(emailId);
      if (user.rank !== before.rank && source === 'api') this.rankDrift.delete(emailId);
    };
    const remove = org.remove.bind(org);
    org.remove = (emailId) => {
      const user = org.byEmailId(emailId);
      const removed = remove(emailId);
      if (user !== undefined && !this.handEditing) this.onRemove(user);
      return removed;
    };
  }

  // ---------------------------------------------------------------- invariants, as changes land

  private violate(invariant: string, detail: string): void {
    const v = { run: this.run, invariant, detail };
    this.violations.push(v);
    this.options.onViolation?.(v);
  }

  private personOf(email: string): Person | undefined {
    const m = /^p(\d+)@corp\.example\.com$/i.exec(email);
    return m === null ? undefined : this.people[Number(m[1])];
  }

  /** The intent an API change fulfils: same user, same direction, of this run or a dead one. */
  private takeIntent(emailId: number, want: Intent['want']): Intent | undefined {
    const current = this.run;
    const prev = this.runs.find((r) => r.run === current - 1);
    for (const intent of this.intents) {
      if (intent.consumed || intent.emailId !== emailId || intent.want !== want) continue;
      const live = intent.run === current || (intent.run === current - 1 && prev?.crashed === true);
      if (!live) continue;
      intent.consumed = true;
      return intent;
    }
    return undefined;
  }

  private seenBy(run: number, email: string): Seen | undefined {
    return this.runs.find((r) => r.run === run)?.directory.get(email.toLowerCase());
  }

  private onStatus(
    user: MockUser,
    from: string,
    to: string,
    lifted: 'api' | 'hand' | undefined,
  ): void {
    this.stats.invariantChecks++;
    const want = to === 'SUSPENDED' ? 'SUSPENDED' : 'ACTIVE';
    const intent = this.takeIntent(user.email_id, want);
    if (intent === undefined) {
      const recent = this.intents.filter(
        (i) => i.emailId === user.email_id && i.run >= this.run - 1 && i.want !== 'removed',
      );
      const same = recent.some((i) => i.want === want);
      const opposite = recent.some((i) => i.want !== want);
      this.violate(
        same || opposite ? 'toggled twice for one intended change' : 'toggle on a stale status',
        `${user.email} (email_id ${user.email_id}) was toggled ${from} -> ${to}` +
          (opposite && !same
            ? ', the opposite of what dirsync meant: a second toggle undid its change, or the status it acted on was stale'
            : same
              ? ': one more toggle than dirsync meant'
              : ', and dirsync meant no such change'),
      );
      return;
    }
    if (to === 'SUSPENDED') {
      const seen = this.seenBy(intent.run, user.email);
      if (seen?.present === true && !seen.disabled) {
        this.violate(
          'present and enabled user suspended',
          `${user.email} was suspended by dirsync although run ${intent.run} read them present and enabled in the directory`,
        );
      }
    } else if (lifted === 'hand') {
      this.violate(
        'hand suspension lifted',
        `${user.email} was suspended by an administrator and unsuspended by dirsync`,
      );
    }
  }

  private onRemove(user: MockUser): void {
    this.stats.invariantChecks++;
    const intent = this.takeIntent(user.email_id, 'removed');
    if (intent === undefined) {
      this.violate(
        'removal without intent',
        `${user.email} was removed, and dirsync meant no removal`,
      );
      return;
    }
    const run = this.runs.find((r) => r.run === intent.run)!;
    const key = user.email.toLowerCase();
    if (run.directory.get(key)?.present === true) {
      this.violate(
        'present user removed',
        `${user.email} was removed although run ${intent.run} read them in the directory`,
      );
    }
    const since = run.absentSince.get(key);
    if (since === undefined || run.at - since < GRACE_DAYS * DAY_MS) {
      this.violate(
        'grace period not honoured',
        `${user.email} was removed by run ${intent.run} at ${iso(run.at)}, ` +
          (since === undefined
            ? 'on the first read that found them missing'
            : `missing from the directory only since ${iso(since)} (graceDays ${GRACE_DAYS})`),
      );
    }
  }

  // ---------------------------------------------------------------- the directory

  private applyChurn(op: ChurnOp): void {
    const p = this.people[op.who % POPULATION]!;
    bump(this.stats.churn, op.kind);
    // Without supersLeave, the last SUPER-group member present and enabled stays so.
    const staysSuper =
      this.options.supersLeave === false &&
      p.super &&
      p.present &&
      !p.disabled &&
      this.people.filter((q) => q.super && q.present && !q.disabled).length <= 1;
    switch (op.kind) {
      case 'join':
        p.present = true;
        break;
      case 'leave':
        // An empty directory is refused by design; keep a few people.
        if (this.people.filter((q) => q.present).length > 3 && !staysSuper) p.present = false;
        break;
      case 'disable':
        if (!staysSuper) p.disabled = true;
        break;
      case 'enable':
        p.disabled = false;
        break;
      case 'super':
        if (!staysSuper) p.super = !p.super;
        break;
      case 'admin':
        p.admin = !p.admin;
        break;
      case 'login':
        p.logins = [`p${p.i}x${this.loginSerial++}`, ...(this.random() < 0.3 ? [`alt${p.i}`] : [])];
        break;
      case 'card':
        p.card = this.random() < 0.2 ? undefined : String(this.cardSerial++);
        break;
      case 'dupCard': {
        const other = this.people.find(
          (q) => q !== p && q.card !== undefined && /^\d+$/.test(q.card),
        );
        if (other !== undefined) p.card = other.card;
        break;
      }
      case 'badCard':
        p.card = 'AB-77';
        break;
    }
  }

  /** Before a convergence check: no conflicting or unreadable values, and a SUPER to keep. */
  private heal(): void {
    const seen = new Set<string>();
    for (const p of this.people) {
      if (p.card !== undefined && (!/^\d+$/.test(p.card) || seen.has(p.card)))
        p.card = String(this.cardSerial++);
      if (p.card !== undefined) seen.add(p.card);
    }
    const live = (p: Person): boolean => {
      const u = this.org.findByEmail(emailOf(p.i));
      return (
        p.present &&
        !p.disabled &&
        u !== undefined &&
        u.tag === 'USER' &&
        u.ad_status !== 'SUSPENDED'
      );
    };
    if (!this.people.some((p) => p.super && live(p))) {
      const p = this.people.find(live);
      if (p !== undefined) p.super = true;
    }
  }

  private writeLdif(): void {
    const out: string[] = [
      'version: 1',
      '',
      `dn: ${PEOPLE}`,
      'objectClass: organizationalUnit',
      'ou: People',
      '',
      `dn: ${GROUPS}`,
      'objectClass: organizationalUnit',
      'ou: Groups',
      '',
    ];
    const dnOf = (p: Person): string => `uid=p${p.i},${PEOPLE}`;
    for (const p of this.people) {
      if (!p.present) continue;
      out.push(
        `dn: ${dnOf(p)}`,
        'objectClass: inetOrgPerson',
        ...p.logins.map((l) => `uid: ${l}`),
        `cn: P ${p.i}`,
        'givenName: P',
        `sn: ${p.i}`,
        `mail: ${emailOf(p.i)}`,
        `entryUUID: 00000000-0000-4000-8000-${String(p.i).padStart(12, '0')}`,
        ...(p.card === undefined ? [] : [`employeeNumber: ${p.card}`]),
        ...(p.disabled ? ['pwdAccountLockedTime: 000001010000Z'] : []),
        '',
      );
    }
    for (const [dn, cn, pick] of [
      [SUPER_GROUP, 'Owners', (p: Person) => p.super],
      [ADMIN_GROUP, 'Admins', (p: Person) => p.admin],
    ] as const) {
      out.push(`dn: ${dn}`, 'objectClass: groupOfNames', `cn: ${cn}`);
      for (const p of this.people) if (p.present && pick(p)) out.push(`member: ${dnOf(p)}`);
      out.push('');
    }
    writeFileSync(this.ldifPath, out.join('\n'));
  }

  // ---------------------------------------------------------------- the administrator

  private pendingToggle(emailId: number): boolean {
    return this.intents.some(
      (i) => i.emailId === emailId && i.want !== 'removed' && i.run >= this.run - 1,
    );
  }

  /** One hand edit, if it makes sense now; returns whether it touched a SUPER or a rank. */
  private hand(op: HandOp): boolean {
    const email = emailOf(op.who % POPULATION);
    if (TRACE) console.error(`  run ${this.run}: by hand ${op.kind} ${email}`);
    const user = this.org.findByEmail(email);
    const wasSuper = user?.rank === 'SUPER';
    this.handEditing = true;
    try {
      switch (op.kind) {
        case 'invite': {
          if (user !== undefined) return false;
          this.org.add(this.newUser(email, op.guest));
          break;
        }
        case 'delete':
          if (user === undefined) return false;
          this.org.remove(user.email_id);
          this.statusEditedSinceListing.add(user.email_id);
          break;
        case 'suspend':
          // Only observable edits: one status change per user between two listings, and none
          // on a user whose toggle may be in flight or unresolved (dirsync cannot tell those
          // apart from its own toggle landing).
          if (
            user?.ad_status !== 'ACTIVE' ||
            this.statusEditedSinceListing.has(user.email_id) ||
            this.pendingToggle(user.email_id)
          )
            return false;
          this.org.update(user.email_id, (u) => (u.ad_status = 'SUSPENDED'));
          this.statusEditedSinceListing.add(user.email_id);
          break;
        case 'unsuspend':
          if (user?.ad_status !== 'SUSPENDED' || this.statusEditedSinceListing.has(user.email_id))
            return false;
          this.org.update(user.email_id, (u) => (u.ad_status = 'ACTIVE'));
          this.statusEditedSinceListing.add(user.email_id);
          break;
        case 'rank':
          if (user === undefined || user.rank === op.rank) return false;
          this.org.update(user.email_id, (u) => (u.rank = op.rank));
          break;
      }
    } finally {
      this.handEditing = false;
    }
    bump(this.stats.handEdits, op.kind);
    return wasSuper || op.kind === 'rank';
  }

  private newUser(email: string, guest: boolean): MockUser {
    const at = '2026-01-05 08:00:00';
    return {
      email,
      email_id: this.nextEmailId++,
      user_id: this.nextUserId++,
      first_name: 'P',
      last_name: 'Invited',
      username: email.split('@')[0]!,
      unique_id: `sim-${this.nextEmailId}`,
      rank: 'REGULAR',
      tag: guest ? 'GUEST' : 'USER',
      ad_status: 'ACTIVE',
      email_status: 'CONFIRMED',
      computer_usernames: [],
      smartcards: [],
      groups: [],
      policies: [],
      created: at,
      confirmed: at,
      active_date: at,
      device_added: at,
    };
  }

  // ---------------------------------------------------------------- runs

  private config(smallBudgets: boolean, generous = false): Config {
    const safety = smallBudgets
      ? {
          maxDeletes: 0,
          maxDeletePercent: 1,
          maxSuspends: 1,
          maxRankChanges: 1,
          maxPrivilegedGrants: 0,
          maxSourceDropPercent: 5,
        }
      : generous
        ? {
            maxDeletes: 100,
            maxDeletePercent: 100,
            maxSuspends: 100,
            maxRankChanges: 100,
            maxPrivilegedGrants: 100,
            maxSourceDropPercent: 100,
          }
        : {
            maxDeletes: 25,
            maxDeletePercent: 25,
            maxSuspends: 50,
            maxRankChanges: 10,
            maxPrivilegedGrants: 4,
            maxSourceDropPercent: 30,
          };
    return Config.parse({
      source: {
        type: 'ldif',
        file: this.ldifPath,
        flavor: 'openldap',
        users: { baseDns: [PEOPLE] },
        groups: { baseDns: [GROUPS] },
        attributes: { smartcards: 'employeeNumber' },
      },
      api: { baseUrl: this.gateway.url, token: TOKEN, tokenOwner: TOKEN_OWNER, concurrency: 4 },
      rules: {
        scope: { emailDomains: [DOMAIN] },
        ranks: { SUPER: [SUPER_GROUP], ADMIN: [ADMIN_GROUP] },
        suspend: { disabledAccounts: true },
        removed: { action: 'delete', graceDays: GRACE_DAYS },
        computerUsernames: 'manage',
        smartcards: 'manage',
      },
      safety,
      verifyEvery: '24h',
      state: { path: this.statePath },
      log: { level: 'error' },
    });
  }

  /** Live in-scope SUPERs: listed, not suspended. */
  private liveSupers(): number {
    let n = 0;
    for (const u of this.org.entries.values()) {
      const user = u.user;
      if (
        user.rank === 'SUPER' &&
        user.ad_status !== 'SUSPENDED' &&
        user.email.endsWith(`@${DOMAIN}`)
      )
        n++;
    }
    return n;
  }

  /** A user as the organization and the directory see it, for a violation's text. */
  private describeUser(emailId: number): string {
    const u = this.org.byEmailId(emailId);
    if (u === undefined) return '';
    const p = this.personOf(u.email);
    const dir =
      p === undefined
        ? 'not a directory person'
        : `${p.present ? 'in the directory' : 'not in the directory'}${p.disabled ? ', disabled' : ''}, card ${p.card ?? 'none'}`;
    return ` (${u.email}: ${u.tag} ${u.ad_status}, cards [${u.smartcards.map((c) => c.number).join(',')}]; ${dir})`;
  }

  private supersByRank(): string {
    const list = [...this.org.entries.values()]
      .map((e) => e.user)
      .filter((u) => u.rank === 'SUPER' && u.email.endsWith(`@${DOMAIN}`))
      .map((u) => `${u.email} ${u.ad_status}`);
    return list.length === 0 ? 'none' : list.join(', ');
  }

  /** The read this run is about to make, as the invariants will judge it. */
  private recordRead(crashed: boolean): RunRecord {
    const directory = new Map<string, Seen>();
    for (const p of this.people) {
      directory.set(emailOf(p.i), { present: p.present, disabled: p.disabled });
    }
    for (const p of this.people) {
      const email = emailOf(p.i);
      const inOrg = this.org.findByEmail(email) !== undefined;
      if (p.present || !inOrg) this.absentSince.delete(email);
      else if (!this.absentSince.has(email)) this.absentSince.set(email, this.now);
    }
    const record: RunRecord = {
      run: this.run,
      at: this.now,
      crashed,
      directory,
      absentSince: new Map(this.absentSince),
      handTouchedSupers: false,
    };
    this.runs.push(record);
    while (this.runs.length > 3) this.runs.shift();
    return record;
  }

  /** One step of the scenario: churn, hand edits, time, then one run of dirsync. */
  async step(step: Step): Promise<void> {
    if (TRACE)
      console.error(
        `run ${this.run + 1}: ${describeScenario({ seed: 0, steps: [step], supersLeave: true }).replace(/^ +run 1: /, '')}`,
      );
    for (const op of step.churn) this.applyChurn(op);
    this.writeLdif();
    for (const op of step.handBefore) this.hand(op);
    this.now += Math.max(1, step.advanceHours) * HOUR_MS;
    let faults = step.faults;
    if (faults.duplicateRows.churned) {
      const churned = step.churn
        .map((c) => this.org.findByEmail(emailOf(c.who % POPULATION))?.email_id)
        .filter((id): id is number => id !== undefined);
      faults = {
        ...faults,
        duplicateRows: {
          ...faults.duplicateRows,
          emailIds: [...new Set([...faults.duplicateRows.emailIds, ...churned])],
        },
      };
    }
    await this.oneRun({
      faults,
      crash: step.crash,
      smallBudgets: step.smallBudgets,
      during: step.handDuring,
    });
  }

  /**
   * After the churn stops: heal the directory, let the grace periods run out, and two runs must
   * leave nothing to do; the next apply is exactly the two listings.
   */
  async converge(): Promise<void> {
    this.stats.convergenceChecks++;
    this.heal();
    this.writeLdif();
    this.now += (GRACE_DAYS + 1) * DAY_MS;
    await this.quietRun();
    this.now += HOUR_MS;
    await this.quietRun();
    this.stats.invariantChecks++;
    const planned = await this.withDeps(this.config(false, true), this.run, false, async (deps) =>
      planRun(deps),
    );
    if (planned.plan.actions.length > 0) {
      this.violate(
        'no convergence',
        `two quiet runs after the churn stopped, the plan still holds ${planned.plan.actions.length} action(s): ` +
          planned.plan.actions
            .slice(0, 6)
            .map((a) => `${a.kind} ${a.email} (${a.reason})`)
            .join('; '),
      );
    }
    if (planned.trips.length > 0) {
      this.violate(
        'no convergence',
        `two quiet runs after the churn stopped, rails still trip: ${planned.trips.map((t) => t.rail).join(', ')}`,
      );
    }
    await this.quietRun();
    this.stats.invariantChecks++;
    const requests = this.lastRunRequests;
    const listings = requests.filter((r) => r.method === 'GET' && r.path === '/multipleusers');
    if (listings.length !== 2 || requests.length !== 2) {
      this.violate(
        'quiet run not quiet',
        `the apply after convergence made ${requests.length} request(s), ${listings.length} of them listings: ` +
          requests
            .filter((r) => r.path !== '/multipleusers')
            .slice(0, 6)
            .map(
              (r) =>
                `${r.method} ${r.path} ${JSON.stringify(r.params)}${this.describeUser(Number(r.params['email_id']))}`,
            )
            .join('; '),
      );
    }
  }

  private async withDeps<T>(
    config: Config,
    run: number,
    crashable: boolean,
    body: (deps: RunDeps) => Promise<T>,
  ): Promise<T> {
    const real = StateStore.open(this.statePath, config.api.baseUrl);
    const gateway = this.gateway;
    // A dead process writes nothing more: no journal line, no compaction, no report.
    const store = new Proxy(real, {
      get(target, prop) {
        if (crashable && prop === 'record')
          return (patch: Parameters<StateStore['record']>[0]) => {
            if (!gateway.crashed) target.record(patch);
          };
        if (crashable && prop === 'compact')
          return () => {
            if (gateway.crashed) throw new SimCrash();
            target.compact();
          };
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function'
          ? (value as (...a: unknown[]) => unknown).bind(target)
          : value;
      },
    });
    const client = new ApiClient({
      baseUrl: config.api.baseUrl,
      token: TOKEN,
      concurrency: config.api.concurrency,
      userAgent: `dirsync-sim/${run}`,
      // Backoff shortened, but the settle window kept longer than the slowest toggle (60 ms):
      // compressing it below the API's latency would ask dirsync for the impossible.
      retry: { baseDelayMs: 1, maxDelayMs: 4, settleMs: 100, maxElapsedMs: 20_000 },
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 200))),
      random: mulberry32(this.options.seed ^ run),
    });
    // The intended changes: every toggle and removal dirsync asks the client for.
    const intents = this.intents;
    const api = new Proxy(client, {
      get(target, prop) {
        if (prop === 'setSuspended')
          return (...args: Parameters<ApiClient['setSuspended']>) => {
            intents.push({
              run,
              emailId: Number(args[0]),
              want: args[1] ? 'SUSPENDED' : 'ACTIVE',
              consumed: false,
            });
            return target.setSuspended(...args);
          };
        if (prop === 'deleteUser')
          return (...args: Parameters<ApiClient['deleteUser']>) => {
            intents.push({ run, emailId: Number(args[0]), want: 'removed', consumed: false });
            return target.deleteUser(...args);
          };
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function'
          ? (value as (...a: unknown[]) => unknown).bind(target)
          : value;
      },
    });
    const source = new LdifSource(config.source as LdifSourceConfig, () => new Date(this.now));
    // The audit trail as the CLI keeps it; a dead process appends nothing more to it.
    const log = AuditLog.forConfig(config, () => new Date(this.now));
    const audit = new Proxy(log, {
      get(target, prop) {
        if (crashable && prop === 'write')
          return (entries: readonly AuditEntry[]) => {
            if (!gateway.crashed) target.write(entries);
          };
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function'
          ? (value as (...a: unknown[]) => unknown).bind(target)
          : value;
      },
    });
    try {
      return await body({ config, source, api, store, audit, clock: () => new Date(this.now) });
    } finally {
      log.close();
      real.close();
      await client.close();
    }
  }

  /** A run with no fault, no crash, no hand edit and generous budgets (convergence). */
  private quietRun(): Promise<void> {
    return this.oneRun({
      faults: NO_FAULTS,
      crash: null,
      smallBudgets: false,
      during: null,
      generous: true,
    });
  }

  private async oneRun(run: {
    faults: RunFaults;
    crash: CrashPlan | null;
    smallBudgets: boolean;
    during: Step['handDuring'];
    generous?: boolean;
  }): Promise<void> {
    this.run++;
    this.stats.runs++;
    const previous = this.runs[this.runs.length - 1];
    const record = this.recordRead(false);
    this.statusEditedSinceListing.clear();
    this.gateway.beginRun(
      this.run,
      run.faults,
      run.crash ?? undefined,
      this.options.seed ^ (this.run * 7919),
    );
    const requestsFrom = this.mock.requests.length;
    const supersBefore = this.liveSupers();
    let results = 0;
    let duringDone = run.during === null;
    const during = (): void => {
      if (duringDone || this.gateway.crashed) return;
      duringDone = true;
      for (const op of run.during!.ops) {
        const touched = this.hand(op);
        if (touched) record.handTouchedSupers = true;
      }
    };
    const applied: string[] = [];
    const onResult = (r: ActionResult): void => {
      if (r.outcome === 'applied' && !this.gateway.crashed)
        applied.push(`${r.action.kind} ${r.action.emailId}`);
      if (TRACE)
        console.error(
          `  run ${this.run}: ${r.outcome} ${r.action.kind} ${r.action.email} ${JSON.stringify(r.action.before)} -> ${JSON.stringify(r.action.after)}${r.error === undefined ? '' : `: ${r.error}`}`,
        );
      bump((this.stats.actions[r.action.kind] ??= {}), r.outcome);
      results++;
      if (run.during !== null && results > run.during.afterResults) during();
    };
    const config = this.config(run.smallBudgets, run.generous === true);
    // The dead process starts nothing more (its requests would be cut anyway, only slower).
    const stop = new AbortController();
    this.gateway.onCrash = () => stop.abort();
    try {
      await this.withDeps(config, this.run, true, (deps) =>
        applyRun(deps, { runId: `sim-${this.run}`, onResult, signal: stop.signal }),
      );
      if (this.gateway.crashed) throw new SimCrash();
      this.stats.runsApplied++;
    } catch (error) {
      if (this.gateway.crashed) {
        record.crashed = true;
        this.stats.runsCrashed++;
      } else if (error instanceof SafetyError) {
        if (TRACE) console.error(`  run ${this.run}: refused: ${error.message}`);
        this.stats.runsRefused++;
        for (const rail of error.rails) bump(this.stats.railTrips, rail);
      } else if (error instanceof DirsyncError) {
        this.stats.runsFailed++;
        bump(this.stats.runFailures, describeError(error).replace(/\d+/g, 'N').slice(0, 60));
      } else {
        this.violate('unexpected error', describeError(error));
      }
    }
    // An administrator who meant to act during the run acts after it instead.
    if (!duringDone && run.during !== null) {
      duringDone = true;
      for (const op of run.during.ops) if (this.hand(op)) record.handTouchedSupers = true;
    }
    // A dead run's requests in flight land during the next run at the latest.
    if (previous?.crashed === true) await this.gateway.settle();
    this.afterRun(record, requestsFrom, supersBefore);
    this.checkAudit(record, applied, config);
  }

  /** Every action applied is in the audit log exactly once (a dead run's: at most once). */
  private checkAudit(record: RunRecord, applied: string[], config: Config): void {
    this.stats.invariantChecks++;
    const file = join(auditDir(config), auditFileName(new Date(record.at).toISOString()));
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      // no file: no line
    }
    const runId = `sim-${record.run}`;
    const logged = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (!line.includes(runId)) continue;
      let entry: AuditEntry;
      try {
        entry = JSON.parse(line) as AuditEntry;
      } catch {
        continue; // a line torn by a crash
      }
      if (entry.runId !== runId || entry.outcome !== 'applied') continue;
      const key = `${entry.kind} ${String(entry.email_id)}`;
      logged.set(key, (logged.get(key) ?? 0) + 1);
    }
    const wanted = new Map<string, number>();
    for (const key of applied) wanted.set(key, (wanted.get(key) ?? 0) + 1);
    for (const key of new Set([...wanted.keys(), ...logged.keys()])) {
      const want = wanted.get(key) ?? 0;
      const got = logged.get(key) ?? 0;
      if (got === want) continue;
      if (record.crashed && got <= 1 && want <= 1) continue; // the dead process may not have written it
      this.violate(
        'audit log',
        `run ${record.run}: ${key} applied ${want} time(s), in the audit log ${got} time(s) (${file})`,
      );
    }
  }

  private afterRun(record: RunRecord, requestsFrom: number, supersBefore: number): void {
    const requests = this.mock.requests.slice(requestsFrom);
    this.lastRunRequests = requests;
    this.stats.apiRequests += requests.length;
    // From the mock's request log: the toggles that landed in this run, per user. More than
    // one for a user is a double toggle unless dirsync meant both (checked as they landed).
    this.stats.invariantChecks++;
    const landed = new Map<string, number>();
    for (const r of requests) {
      if (r.path !== '/togglesuspension' || r.status !== 200) continue;
      const id = String(r.params['email_id']);
      landed.set(id, (landed.get(id) ?? 0) + 1);
    }
    for (const [id, n] of landed) {
      const meant = this.intents.filter(
        (i) => String(i.emailId) === id && i.want !== 'removed' && i.run >= this.run - 1,
      ).length;
      if (n > Math.max(1, meant)) {
        this.violate(
          'toggled twice for one intended change',
          `the mock's request log shows ${n} toggles of email_id ${id} landing in run ${this.run} for ${meant} intended change(s)`,
        );
      }
    }
    // Never zero SUPERs by dirsync's hand.
    this.stats.invariantChecks++;
    const drift = [...this.rankDrift].some((id) => this.org.byEmailId(id) !== undefined);
    if (supersBefore > 0 && this.liveSupers() === 0 && !record.handTouchedSupers && !drift) {
      this.violate(
        'zero SUPERs',
        `run ${this.run} left the organization without a live SUPER (there were ${supersBefore}); SUPER by rank now: ${this.supersByRank()}`,
      );
    }
    // The request log of a long life would only grow: keep what the next checks read.
    this.mock.requests.splice(0, this.mock.requests.length);
    // Keep the intents of the last two runs only.
    while (this.intents.length > 0 && this.intents[0]!.run < this.run - 1) this.intents.shift();
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
