import { createHash } from 'node:crypto';
import type { DuplicateInto } from './faults.js';
import type { AdStatus, Rank, Seed, SeedUser, Tag } from './seed.js';

export interface Smartcard {
  number: string;
  label: string;
}

export interface MockUser {
  email: string;
  email_id: number;
  user_id: number;
  first_name: string;
  last_name: string;
  username: string;
  unique_id: string;
  rank: Rank;
  tag: Tag;
  ad_status: AdStatus;
  email_status: string;
  computer_usernames: string[];
  smartcards: Smartcard[];
  groups: string[];
  policies: string[];
  created: string;
  confirmed: string | null;
  active_date: string | null;
  device_added: string | null;
}

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

interface Entry {
  user: MockUser;
  /**
   * Cached `/multipleusers` element as UTF-8, without and with the email in `name`; cleared on
   * change. Buffers, not strings: joining 100k strings and encoding the result costs more than
   * copying ready bytes.
   */
  listed?: Buffer;
  listedWithEmail?: Buffer;
}

export class MockOrganization {
  readonly name: string;
  /** By email_id, in creation order (the listing order). */
  readonly entries = new Map<number, Entry>();
  readonly byEmail = new Map<string, Entry>();
  readonly byUserId = new Map<number, Entry>();
  /** Smart card number -> email_ids holding it, for the duplicate rule. */
  readonly cardHolders = new Map<string, Set<number>>();

  constructor(name: string) {
    this.name = name;
  }

  add(user: MockUser): void {
    const entry: Entry = { user };
    this.entries.set(user.email_id, entry);
    this.byEmail.set(user.email.toLowerCase(), entry);
    this.byUserId.set(user.user_id, entry);
    this.indexCards(user.email_id, user.smartcards);
  }

  byEmailId(emailId: number): MockUser | undefined {
    return this.entries.get(emailId)?.user;
  }

  findByEmail(email: string): MockUser | undefined {
    return this.byEmail.get(email.toLowerCase())?.user;
  }

  findByUserId(userId: number): MockUser | undefined {
    return this.byUserId.get(userId)?.user;
  }

  /** Applies `change` to a user and drops its cached listing. */
  update(emailId: number, change: (user: MockUser) => void): void {
    const entry = this.entries.get(emailId);
    if (entry === undefined) return;
    change(entry.user);
    entry.listed = undefined;
    entry.listedWithEmail = undefined;
  }

  setSmartcards(emailId: number, cards: Smartcard[]): void {
    const entry = this.entries.get(emailId);
    if (entry === undefined) return;
    this.unindexCards(emailId, entry.user.smartcards);
    entry.user.smartcards = cards;
    this.indexCards(emailId, cards);
  }

  /** Numbers among `numbers` held by a user other than `emailId`. */
  cardsHeldByOthers(emailId: number, numbers: readonly string[]): string[] {
    return numbers.filter((n) => {
      const holders = this.cardHolders.get(n);
      if (holders === undefined) return false;
      return holders.size > (holders.has(emailId) ? 1 : 0);
    });
  }

  remove(emailId: number): MockUser | undefined {
    const entry = this.entries.get(emailId);
    if (entry === undefined) return undefined;
    this.entries.delete(emailId);
    this.byEmail.delete(entry.user.email.toLowerCase());
    this.byUserId.delete(entry.user.user_id);
    this.unindexCards(emailId, entry.user.smartcards);
    return entry.user;
  }

  /**
   * The `/multipleusers` body for one tag, as JSON bytes, built from per-user cached fragments.
   * `duplicate` (a fault) says where a user's row is repeated: again in its own listing, in the
   * other tag's listing, or both.
   */
  listingJson(
    tag: Tag,
    withEmail: boolean,
    duplicate?: (user: MockUser) => DuplicateInto | undefined,
  ): Buffer {
    const parts: Buffer[] = [OPEN];
    const push = (entry: Entry): void => {
      if (parts.length > 1) parts.push(COMMA);
      if (withEmail) {
        entry.listedWithEmail ??= Buffer.from(JSON.stringify(listedUser(entry.user, true)));
        parts.push(entry.listedWithEmail);
      } else {
        entry.listed ??= Buffer.from(JSON.stringify(listedUser(entry.user, false)));
        parts.push(entry.listed);
      }
    };
    for (const entry of this.entries.values()) {
      const dup = duplicate?.(entry.user);
      if (entry.user.tag === tag) {
        push(entry);
        if (dup === 'same' || dup === 'both') push(entry);
      } else if (dup === 'other' || dup === 'both') {
        push(entry);
      }
    }
    parts.push(CLOSE);
    return Buffer.concat(parts);
  }

  countByRank(rank: Rank): number {
    let n = 0;
    for (const entry of this.entries.values()) if (entry.user.rank === rank) n++;
    return n;
  }

  private indexCards(emailId: number, cards: readonly Smartcard[]): void {
    for (const card of cards) {
      let holders = this.cardHolders.get(card.number);
      if (holders === undefined) {
        holders = new Set();
        this.cardHolders.set(card.number, holders);
      }
      holders.add(emailId);
    }
  }

  private unindexCards(emailId: number, cards: readonly Smartcard[]): void {
    for (const card of cards) {
      const holders = this.cardHolders.get(card.number);
      holders?.delete(emailId);
      if (holders?.size === 0) this.cardHolders.delete(card.number);
    }
  }
}

/** One user as `/multipleusers` shows it: every field of the reference, in its order. */
export function listedUser(user: MockUser, withEmail: boolean): Record<string, unknown> {
  const fullName = `${user.first_name} ${user.last_name}`.trim();
  return {
    ad_status: user.ad_status,
    active_date: user.active_date,
    confirmed: user.confirmed,
    created: user.created,
    device_added: user.device_added,
    email: user.email,
    email_id: user.email_id,
    email_status: user.email_status,
    first_name: user.first_name,
    last_name: user.last_name,
    groups: user.groups.map((g) => [g]),
    name: withEmail ? `${fullName} (${user.email})` : fullName,
    user_id: user.user_id,
    username: user.username,
    unique_id: user.unique_id,
  };
}

/**
 * email_id and user_id come from disjoint ranges, so that a client that sends one where the
 * other is expected gets a 400 instead of silently changing someone else.
 */
export const FIRST_EMAIL_ID = 1001;
export const FIRST_USER_ID = 5_000_001;

const DEFAULT_TIME = '2024-01-15 09:00:00';

export interface TokenOwner {
  organization: MockOrganization;
  email: string;
}

export class MockStore {
  readonly organizations: MockOrganization[] = [];
  private readonly tokens = new Map<string, TokenOwner>();
  private nextEmailId = FIRST_EMAIL_ID;
  private nextUserId = FIRST_USER_ID;

  static fromSeed(seed: Seed): MockStore {
    const store = new MockStore();
    for (const seedOrg of seed.organizations) {
      const org = new MockOrganization(seedOrg.name);
      store.organizations.push(org);
      for (const seedUser of seedOrg.users) org.add(store.newUser(seedOrg.name, seedUser));
      for (const t of seedOrg.tokens)
        store.tokens.set(t.token, { organization: org, email: t.email });
    }
    return store;
  }

  /** The organization and user behind a bearer token, or undefined (401). */
  authenticate(token: string): { organization: MockOrganization; caller: MockUser } | undefined {
    const owner = this.tokens.get(token);
    if (owner === undefined) return undefined;
    const caller = owner.organization.findByEmail(owner.email);
    // A token whose user was removed from the organization no longer authenticates.
    if (caller === undefined) return undefined;
    return { organization: owner.organization, caller };
  }

  /** The organization and user with this email_id (ids are unique across organizations). */
  findByEmailId(emailId: number): { organization: MockOrganization; user: MockUser } | undefined {
    for (const organization of this.organizations) {
      const user = organization.byEmailId(emailId);
      if (user !== undefined) return { organization, user };
    }
    return undefined;
  }

  /** The whole state, shaped like the seed plus ids (`GET /_mock/state`). */
  snapshot(): { organizations: { name: string; users: MockUser[] }[] } {
    return {
      organizations: this.organizations.map((org) => ({
        name: org.name,
        users: [...org.entries.values()].map((e) => e.user),
      })),
    };
  }

  private newUser(orgName: string, seed: SeedUser): MockUser {
    const pending = seed.ad_status === 'PENDING';
    const emailId = this.nextEmailId++;
    const userId = this.nextUserId++;
    return {
      email: seed.email,
      email_id: emailId,
      user_id: userId,
      first_name: seed.first_name,
      last_name: seed.last_name,
      username: seed.username ?? seed.email.split('@')[0] ?? seed.email,
      unique_id:
        seed.unique_id ??
        createHash('sha256')
          .update(`${orgName}\0${seed.email.toLowerCase()}`)
          .digest('hex')
          .slice(0, 32),
      rank: seed.rank,
      tag: seed.tag,
      ad_status: seed.ad_status,
      email_status: seed.email_status,
      computer_usernames: [...seed.computer_usernames],
      smartcards: seed.smartcards.map((c) => ({ number: c.number, label: c.label })),
      groups: [...seed.groups],
      policies: [...seed.policies],
      created: seed.created ?? DEFAULT_TIME,
      confirmed: seed.confirmed ?? DEFAULT_TIME,
      active_date: seed.active_date ?? (pending ? null : DEFAULT_TIME),
      device_added: seed.device_added ?? (pending ? null : DEFAULT_TIME),
    };
  }
}
