import { ApiError } from '../errors.js';
import type { Logger } from '../log.js';
import { asEmailId, asUserId, type EmailId, type UserId } from './ids.js';
import { ListingDecoder, ListingElementTooLargeError } from './listing-stream.js';
import { OutcomeVerifier } from './outcome.js';
import {
  ListingFormatError,
  parseListing,
  SmartcardsBody,
  UserDetailsBody,
  type OrgUser,
  type Rank,
  type Smartcard,
  type UserDetails,
} from './schema.js';
import { REPEAT, UNCLEAR, type RetryingSender } from './sender.js';
import type { ApiRequest } from './transport.js';
import type {
  ChangeOutcome,
  ListOptions,
  SetSuspendedOptions,
  SmartcardInput,
  ToggleOutcome,
  UsersApi,
} from './users-api.js';
import type { z } from 'zod';

export interface EndpointOptions {
  log: Logger;
  /** The largest element of a listing, in bytes (`api.maxListingElementBytes`). */
  listingElementBytes: number;
}

/**
 * The Users API endpoints (docs/users-api.md), one method each: a request built from typed
 * arguments, sent by the {@link RetryingSender}, the answer checked and mapped (zod, or the
 * listing decoder). The non-idempotent calls (`/togglesuspension`, `/promoteguest`,
 * `DELETE /user`) are settled by the {@link OutcomeVerifier} when an answer leaves them unclear.
 * `ApiClient` builds one of these with its transport policy.
 */
export abstract class UsersEndpoints implements UsersApi {
  readonly #sender: RetryingSender;
  readonly #outcomes: OutcomeVerifier;
  readonly #log: Logger;
  readonly #listingElementBytes: number;

  protected constructor(sender: RetryingSender, options: EndpointOptions) {
    this.#sender = sender;
    this.#log = options.log;
    this.#listingElementBytes = options.listingElementBytes;
    this.#outcomes = new OutcomeVerifier(async (tag) => {
      // Asked past any cache: a gateway's stored copy would show the status before the change.
      const users = await this.listUsers({ tag, fresh: true });
      return new Map(users.map((u) => [u.emailId, u.adStatus]));
    });
  }

  abstract close(): Promise<void>;

  async listUsers(options: ListOptions = {}): Promise<OrgUser[]> {
    const tag = options.tag ?? 'USER';
    const query: Record<string, string> = {};
    if (options.emailInName === true) query['email'] = 'true';
    if (tag === 'GUEST') query['user_tag'] = 'GUEST';
    const request: ApiRequest = {
      method: 'GET',
      path: '/multipleusers',
      query,
      ...(options.fresh === true ? { noCache: true } : {}),
    };
    try {
      // Decoded as it downloads: the whole 20 MB text and 100k raw objects are never held.
      return await this.#sender.send(
        request,
        REPEAT,
        (body) => parseListing(body, tag),
        () => new ListingDecoder(tag, { maxElementBytes: this.#listingElementBytes }),
      );
    } catch (error) {
      if (error instanceof ListingElementTooLargeError) {
        throw new ApiError(
          `${request.method} ${request.path} refused: ${error.message} (api.maxListingElementBytes); the listing was not read further`,
          { method: request.method, path: request.path, status: 200 },
          {
            cause: error,
            hint: "one user's entry is far larger than any real one: check api.baseUrl and any proxy; raise api.maxListingElementBytes only if the API really sends entries this big",
          },
        );
      }
      if (!(error instanceof ListingFormatError)) throw error;
      return unexpectedAnswer(request, error.message, error);
    }
  }

  async listOrganization(options: Omit<ListOptions, 'tag'> = {}): Promise<OrgUser[]> {
    const [users, guests] = await Promise.all([
      this.listUsers({ ...options, tag: 'USER' }),
      this.listUsers({ ...options, tag: 'GUEST' }),
    ]);
    const all = users.concat(guests);
    const seen = new Map<number, OrgUser>();
    const twice = new Map<number, string>();
    for (const u of all) {
      const first = seen.get(u.emailId);
      if (first === undefined) seen.set(u.emailId, u);
      else twice.set(u.emailId, first.tag === u.tag ? `twice as ${u.tag}` : 'as USER and GUEST');
    }
    if (twice.size > 0) {
      const list = [...twice]
        .slice(0, 10)
        .map(([id, how]) => `${id} (${seen.get(id)?.email ?? '?'}, ${how})`);
      throw new ApiError(
        `GET /multipleusers listed ${twice.size} email_id(s) more than once: ${list.join(', ')}${twice.size > 10 ? ', ...' : ''}; the organization read is not trusted and nothing is changed`,
        { method: 'GET', path: '/multipleusers', status: 200 },
        {
          hint: 'a repeated row could make dirsync change a user twice; check for a proxy or gateway between dirsync and the API, or report it to the API provider, then run again',
        },
      );
    }
    return all;
  }

  async getUser(emailId: EmailId): Promise<UserDetails> {
    const request: ApiRequest = { method: 'GET', path: '/user', query: idParam(emailId) };
    const body = await this.#sender.send(request, REPEAT, (b) =>
      validate(request, UserDetailsBody, b),
    );
    return {
      policies: body.policies,
      computerUsernames: body.computer_usernames,
      smartcards: body.smartcards,
    };
  }

  async getSmartcards(emailId: EmailId): Promise<Smartcard[]> {
    const request: ApiRequest = {
      method: 'GET',
      path: '/modifysmartcard',
      query: idParam(emailId),
    };
    const body = await this.#sender.send(request, REPEAT, (b) =>
      validate(request, SmartcardsBody, b),
    );
    return body.smartcards;
  }

  async setComputerUsernames(emailId: EmailId, usernames: readonly string[]): Promise<void> {
    const list = usernames.map((name) => ({ computer_username: name }));
    const form = { ...idParam(emailId), computer_usernames: JSON.stringify(list) };
    await this.#sender.send(
      { method: 'POST', path: '/modifyallusernames', form },
      REPEAT,
      ignoreBody,
    );
  }

  async setRank(userId: UserId, rank: Rank): Promise<void> {
    const form = { admin_user_id: String(asUserId(userId)), rank };
    await this.#sender.send({ method: 'POST', path: '/modifyrank', form }, REPEAT, ignoreBody);
  }

  async setSmartcards(
    emailId: EmailId,
    cards: readonly SmartcardInput[],
    options: { allowDuplicates?: boolean | undefined } = {},
  ): Promise<void> {
    const list = cards.map((c) =>
      c.label === undefined ? { number: c.number } : { number: c.number, label: c.label },
    );
    const form: Record<string, string> = {
      ...idParam(emailId),
      smartcards: JSON.stringify(list),
    };
    if (options.allowDuplicates === true) form['allow_duplicates'] = 'true';
    await this.#sender.send({ method: 'POST', path: '/modifysmartcard', form }, REPEAT, ignoreBody);
  }

  async promoteGuest(emailId: EmailId): Promise<ChangeOutcome> {
    const request: ApiRequest = { method: 'POST', path: '/promoteguest', form: idParam(emailId) };
    await this.#sender.send(request, this.#outcomes.promoted(request, emailId), ignoreBody);
    return 'applied';
  }

  async setSuspended(
    emailId: EmailId,
    suspended: boolean,
    options: SetSuspendedOptions = {},
  ): Promise<ToggleOutcome> {
    const request: ApiRequest = {
      method: 'POST',
      path: '/togglesuspension',
      form: idParam(emailId),
    };
    const outcomes = this.#outcomes;
    if (!(await outcomes.toggleNeeded(request, emailId, suspended, options.observed))) {
      return 'unchanged';
    }
    const recovery = outcomes.toggled(request, emailId, suspended);
    if ((await this.#sender.send(request, recovery, ignoreBody)) === UNCLEAR) {
      this.#log.warn(
        'toggle outcome unclear: no answer, and a fresh re-read shows the old status',
        {
          emailId,
        },
      );
      return 'unclear';
    }
    return 'applied';
  }

  async deleteUser(emailId: EmailId): Promise<ChangeOutcome> {
    const request: ApiRequest = { method: 'DELETE', path: '/user', query: idParam(emailId) };
    await this.#sender.send(request, this.#outcomes.deleted(emailId), ignoreBody);
    return 'applied';
  }
}

function ignoreBody(): void {}

function idParam(emailId: EmailId): Record<string, string> {
  // Re-checked at the edge: an id from a JSON state file may be anything at runtime.
  return { email_id: String(asEmailId(emailId)) };
}

function validate<S extends z.ZodType>(request: ApiRequest, schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue === undefined ? '' : `${issue.path.join('.') || '(top level)'}: `;
  return unexpectedAnswer(request, `${where}${issue?.message ?? 'invalid'}`, result.error);
}

function unexpectedAnswer(request: ApiRequest, problem: string, cause: unknown): never {
  throw new ApiError(
    `${request.method} ${request.path} gave an unexpected answer: ${problem}`,
    { method: request.method, path: request.path, status: 200 },
    {
      cause,
      hint: 'the Users API changed or something between us rewrote the answer; check api.baseUrl and any proxy',
    },
  );
}
