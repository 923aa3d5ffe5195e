import type { EmailId, UserId } from './ids.js';
import type { AdStatus, OrgUser, Rank, Smartcard, UserDetails, UserTag } from './schema.js';

// The Users API as reconcile/ sees it: types only, no implementation. `ApiClient`
// (src/api/client.ts) implements it; reconcile/ imports this module and never the client
// (a lint rule in eslint.config.js holds it).

/** A smart card to set; the label may be left out. */
export interface SmartcardInput {
  /** Digits only, as a string (contract note 9). */
  number: string;
  label?: string | undefined;
}

/**
 * How a change ended: `applied` when this call made it (including when its answer was lost
 * and a re-read showed it had landed), `unchanged` when the user was already in that state
 * and nothing was sent.
 */
export type ChangeOutcome = 'applied' | 'unchanged';

/**
 * How a toggle ended: as {@link ChangeOutcome}, or `unclear` when no answer came back and a fresh
 * re-read after the settle wait still showed the old status. Such a toggle is never sent again by
 * this client: it may still land, and a second one would undo it.
 */
export type ToggleOutcome = ChangeOutcome | 'unclear';

export interface ListOptions {
  /** `GUEST` lists the guests; the default lists users tagged `USER` (contract note 6). */
  tag?: UserTag | undefined;
  /** Makes `name` read `First Last (email)`. */
  emailInName?: boolean | undefined;
  /** Ask caches on the way not to serve a stored copy (`Cache-Control: no-cache`, `Pragma`). */
  fresh?: boolean | undefined;
}

export interface SetSuspendedOptions {
  /**
   * The `ad_status` the caller saw in a fresh listing. When given, the first toggle is sent (or
   * skipped) on its word; when left out, the client reads the listing first. Either way, an
   * unclear outcome is settled by a re-read, never by a blind second toggle.
   */
  observed?: AdStatus | undefined;
}

/** The Users API (docs/users-api.md), one method per endpoint; see `ApiClient`. */
export interface UsersApi {
  /** `GET /multipleusers`: one listing, USER or GUEST. */
  listUsers(options?: ListOptions): Promise<OrgUser[]>;
  /**
   * Both listings, users then guests: the whole organization. An email_id listed twice (within a
   * listing or in both) makes the read invalid: an `ApiError` naming the ids, so that no plan is
   * made from it (two rows could mean two toggles for one user).
   */
  listOrganization(options?: Omit<ListOptions, 'tag'>): Promise<OrgUser[]>;
  /** `GET /user`. */
  getUser(emailId: EmailId): Promise<UserDetails>;
  /** `GET /modifysmartcard`. */
  getSmartcards(emailId: EmailId): Promise<Smartcard[]>;
  /** `POST /modifyallusernames`: replaces the whole list; an empty list clears it. */
  setComputerUsernames(emailId: EmailId, usernames: readonly string[]): Promise<void>;
  /** `POST /modifyrank`: takes the **user_id**. */
  setRank(userId: UserId, rank: Rank): Promise<void>;
  /** `POST /modifysmartcard`: replaces the whole list; an empty list clears it. */
  setSmartcards(
    emailId: EmailId,
    cards: readonly SmartcardInput[],
    options?: { allowDuplicates?: boolean | undefined },
  ): Promise<void>;
  /** `POST /promoteguest`, checked against the listings before any repeat. */
  promoteGuest(emailId: EmailId): Promise<ChangeOutcome>;
  /**
   * `POST /togglesuspension`, driven by the intended state rather than as a blind toggle, and
   * sent at most once per call unless an answer said it was not applied.
   */
  setSuspended(
    emailId: EmailId,
    suspended: boolean,
    options?: SetSuspendedOptions,
  ): Promise<ToggleOutcome>;
  /** `DELETE /user` by email_id, checked against the listings before any repeat. */
  deleteUser(emailId: EmailId): Promise<ChangeOutcome>;
  /** Closes the connection pool the client built (not an injected dispatcher). */
  close(): Promise<void>;
}
