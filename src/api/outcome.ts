import { ApiError } from '../errors.js';
import { FreshRead } from './fresh-read.js';
import type { EmailId } from './ids.js';
import type { AdStatus, UserTag } from './schema.js';
import type { Recovery, Verdict } from './sender.js';
import type { ApiRequest } from './transport.js';

/** Where a user is listed, or undefined when in neither listing. */
type Location = { tag: UserTag; adStatus: AdStatus } | undefined;

/** Reads one listing fresh (past any cache) as `email_id -> ad_status`. */
export type StatusReader = (tag: UserTag) => Promise<Map<number, AdStatus>>;

/**
 * Decides how the calls that must not be repeated blindly ended (`/togglesuspension`,
 * `/promoteguest`, `DELETE /user`) from the listings read fresh after the failure: the change is
 * there (applied), still missing (not applied), or, for a toggle that got no answer, unclear.
 *
 * Tickets number the failures seen; a check after failure N is served only by a listing fetched
 * after it ({@link FreshRead}), so that a hundred lost answers at once make one or two listings.
 */
export class OutcomeVerifier {
  /** Numbers the events (lost answers) that listings must be newer than. */
  #events = 0;
  readonly #listings: Record<UserTag, FreshRead<Map<number, AdStatus>>>;

  constructor(readStatuses: StatusReader) {
    const fresh = (tag: UserTag): FreshRead<Map<number, AdStatus>> =>
      new FreshRead(
        () => readStatuses(tag),
        () => this.#events,
      );
    this.#listings = { USER: fresh('USER'), GUEST: fresh('GUEST') };
  }

  /** `/promoteguest`: done once the user is listed as USER. */
  promoted(request: ApiRequest, emailId: EmailId): Recovery {
    return this.#verify('verify', emailId, (where) => {
      if (where === undefined) throw notListed(request, emailId);
      return where.tag === 'USER' ? 'done' : 'retry';
    });
  }

  /** `DELETE /user`: done once the user is in neither listing. */
  deleted(emailId: EmailId): Recovery {
    return this.#verify('verify', emailId, (where) => (where === undefined ? 'done' : 'retry'));
  }

  /**
   * Whether a toggle is needed to make the user `suspended`: judged on the `observed` status, or
   * on a fresh read when none is given. Throws for a user in neither listing or PENDING.
   */
  async toggleNeeded(
    request: ApiRequest,
    emailId: EmailId,
    suspended: boolean,
    observed: AdStatus | undefined,
  ): Promise<boolean> {
    let current = observed;
    if (current === undefined) {
      const where = await this.#locate(emailId, this.#mark());
      if (where === undefined) throw notListed(request, emailId);
      current = where.adStatus;
    }
    if (isWanted(current, suspended)) return false;
    if (current === 'PENDING') throw refusePending(emailId);
    return true;
  }

  /** `/togglesuspension`: done once the status is the wanted one; never resent without an answer. */
  toggled(request: ApiRequest, emailId: EmailId, suspended: boolean): Recovery {
    return this.#verify('verify-once', emailId, (where) => {
      if (where === undefined) throw notListed(request, emailId);
      if (isWanted(where.adStatus, suspended)) return 'done';
      if (where.adStatus === 'PENDING') throw refusePending(emailId);
      return 'retry';
    });
  }

  #verify(
    mode: 'verify' | 'verify-once',
    emailId: EmailId,
    judge: (where: Location) => Verdict,
  ): Recovery {
    return {
      mode,
      lookAfterNow: () => {
        const ticket = this.#mark();
        return async () => judge(await this.#locate(emailId, ticket));
      },
    };
  }

  /** A ticket for something that just happened: listings read from now on are newer. */
  #mark(): number {
    return ++this.#events;
  }

  /** Where the user is listed now (a listing fetched after `ticket`), or undefined if nowhere. */
  async #locate(emailId: EmailId, ticket: number): Promise<Location> {
    const asUser = (await this.#listings.USER.read(ticket)).get(emailId);
    if (asUser !== undefined) return { tag: 'USER', adStatus: asUser };
    const asGuest = (await this.#listings.GUEST.read(ticket)).get(emailId);
    if (asGuest !== undefined) return { tag: 'GUEST', adStatus: asGuest };
    return undefined;
  }
}

function isWanted(status: AdStatus, suspended: boolean): boolean {
  return (status === 'SUSPENDED') === suspended;
}

function refusePending(emailId: EmailId): ApiError {
  return new ApiError(
    `POST /togglesuspension refused for email_id ${emailId}: the user is PENDING (no device activated yet) and cannot be suspended`,
    { method: 'POST', path: '/togglesuspension' },
    { hint: 'the user must activate a device first; a later run suspends them then' },
  );
}

function notListed(request: ApiRequest, emailId: EmailId): ApiError {
  return new ApiError(
    `${request.method} ${request.path}: email_id ${emailId} is in neither the USER nor the GUEST listing`,
    { method: request.method, path: request.path },
    { hint: 'the user was removed from the organization meanwhile; the next run re-plans' },
  );
}
