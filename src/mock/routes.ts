import type { MockOrganization, MockUser, Smartcard } from './store.js';
import type { DuplicateInto } from './faults.js';
import { Rank } from './seed.js';

/** A refusal: the server answers `status` with `{"error": message}` and changes nothing. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export type Params = Record<string, unknown>;

export interface RouteContext {
  organization: MockOrganization;
  caller: MockUser;
  params: Params;
  /** A fault: where `/multipleusers` repeats a user's row. */
  duplicateRow?: ((user: MockUser) => DuplicateInto | undefined) | undefined;
}

export interface Reply {
  status: number;
  /** A value to serialise, or JSON bytes already built (the 100k-user listing). */
  body: unknown;
  json?: Buffer;
}

/** `read`: any rank; `write`: ADMIN or SUPER (rank grants are checked by the route itself). */
export type Access = 'read' | 'write';

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  access: Access;
  handle(ctx: RouteContext): Reply;
}

const ok = (message: string): Reply => ({ status: 200, body: { success: message } });

// --- parameter parsing: each failure names the parameter and what was wrong ---

function present(params: Params, name: string): boolean {
  const v = params[name];
  return v !== undefined && v !== null && v !== '';
}

function intParam(params: Params, name: string): number {
  if (!present(params, name)) throw new HttpError(400, `${name} is required`);
  const raw = params[name];
  const n =
    typeof raw === 'number'
      ? raw
      : typeof raw === 'string' && /^\d+$/.test(raw.trim())
        ? Number(raw)
        : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new HttpError(400, `${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function boolParam(params: Params, name: string): boolean {
  if (!present(params, name)) return false;
  const raw = params[name];
  if (typeof raw === 'boolean') return raw;
  const s = String(raw).toLowerCase();
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  throw new HttpError(400, `${name} must be true or false, got ${JSON.stringify(raw)}`);
}

/** A "serialized JSON array": a JSON string in a form body, or an array (or string) in a JSON body. */
function jsonArrayParam(params: Params, name: string): unknown[] {
  const raw = params[name];
  if (raw === undefined || raw === null) throw new HttpError(400, `${name} is required`);
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new HttpError(
        400,
        `${name} must be a serialized JSON array, got ${JSON.stringify(raw.slice(0, 80))}`,
      );
    }
  }
  if (!Array.isArray(value)) throw new HttpError(400, `${name} must be a JSON array`);
  return value;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function userByEmailId(ctx: RouteContext): MockUser {
  const emailId = intParam(ctx.params, 'email_id');
  const user = ctx.organization.byEmailId(emailId);
  if (user === undefined)
    throw new HttpError(400, `no user with email_id ${emailId} in this organization`);
  return user;
}

const isPrivileged = (rank: Rank): boolean => rank === 'SUPER' || rank === 'ADMIN';

// --- the endpoints of docs/users-api.md ---

export const routes: readonly Route[] = [
  {
    method: 'GET',
    path: '/multipleusers',
    access: 'read',
    handle(ctx) {
      const withEmail = boolParam(ctx.params, 'email');
      const rawTag = ctx.params['user_tag'];
      let tag: 'USER' | 'GUEST' = 'USER';
      if (present(ctx.params, 'user_tag')) {
        const t = String(rawTag).toUpperCase();
        if (t !== 'GUEST' && t !== 'USER') {
          throw new HttpError(400, `user_tag must be GUEST or USER, got ${JSON.stringify(rawTag)}`);
        }
        tag = t;
      }
      return {
        status: 200,
        body: undefined,
        json: ctx.organization.listingJson(tag, withEmail, ctx.duplicateRow),
      };
    },
  },
  {
    method: 'GET',
    path: '/user',
    access: 'read',
    handle(ctx) {
      const user = userByEmailId(ctx);
      return {
        status: 200,
        body: {
          policies: user.policies.map((p) => [p]),
          computer_usernames: [...user.computer_usernames],
          smartcards: user.smartcards.map((c) => ({ label: c.label, number: c.number })),
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/modifysmartcard',
    access: 'read',
    handle(ctx) {
      const user = userByEmailId(ctx);
      return {
        status: 200,
        body: {
          email_id: user.email_id,
          smartcards: user.smartcards.map((c) => ({ label: c.label, number: c.number })),
        },
      };
    },
  },
  {
    method: 'POST',
    path: '/modifyallusernames',
    access: 'write',
    handle(ctx) {
      const user = userByEmailId(ctx);
      const list = jsonArrayParam(ctx.params, 'computer_usernames');
      const names = list.map((item, i) => {
        const name = isObject(item) ? item['computer_username'] : undefined;
        if (typeof name !== 'string' || name.trim() === '') {
          throw new HttpError(
            400,
            `computer_usernames[${i}] must be {"computer_username": "<non-empty string>"}, got ${JSON.stringify(item)}`,
          );
        }
        return name;
      });
      ctx.organization.update(user.email_id, (u) => (u.computer_usernames = names));
      return ok(`Computer usernames of ${user.email} were set (${names.length}).`);
    },
  },
  {
    method: 'POST',
    path: '/modifyrank',
    access: 'write',
    handle(ctx) {
      const userId = intParam(ctx.params, 'admin_user_id');
      const rawRank = ctx.params['rank'];
      if (!present(ctx.params, 'rank')) throw new HttpError(400, 'rank is required');
      const parsed = Rank.safeParse(String(rawRank).toUpperCase());
      if (!parsed.success) {
        throw new HttpError(
          400,
          `rank must be ADMIN, REGULAR or SUPER, got ${JSON.stringify(rawRank)}`,
        );
      }
      const rank = parsed.data;
      const user = ctx.organization.findByUserId(userId);
      if (user === undefined) {
        throw new HttpError(
          400,
          `no user with user_id ${userId} in this organization (admin_user_id takes a user_id)`,
        );
      }
      if (ctx.caller.rank !== 'SUPER' && (isPrivileged(rank) || isPrivileged(user.rank))) {
        throw new HttpError(
          403,
          `only a SUPER may grant or remove ADMIN or SUPER rank (caller is ${ctx.caller.rank})`,
        );
      }
      ctx.organization.update(user.email_id, (u) => (u.rank = rank));
      return ok(`Rank of ${user.email} set to ${rank}.`);
    },
  },
  {
    method: 'POST',
    path: '/modifysmartcard',
    access: 'write',
    handle(ctx) {
      const user = userByEmailId(ctx);
      const list = jsonArrayParam(ctx.params, 'smartcards');
      const allowDuplicates = boolParam(ctx.params, 'allow_duplicates');
      const seen = new Set<string>();
      const cards: Smartcard[] = list.map((item, i) => {
        if (!isObject(item))
          throw new HttpError(400, `smartcards[${i}] must be an object with a number`);
        const number = item['number'];
        if (typeof number !== 'string' || !/^\d+$/.test(number)) {
          throw new HttpError(
            400,
            `smartcards[${i}].number must be a string of digits, got ${JSON.stringify(number)}`,
          );
        }
        const label = item['label'] ?? '';
        if (typeof label !== 'string')
          throw new HttpError(400, `smartcards[${i}].label must be a string`);
        if (seen.has(number))
          throw new HttpError(400, `smartcards[${i}].number ${number} appears twice in the list`);
        seen.add(number);
        return { number, label };
      });
      if (!allowDuplicates) {
        const taken = ctx.organization.cardsHeldByOthers(user.email_id, [...seen]);
        if (taken.length > 0) {
          throw new HttpError(
            400,
            `smart card number ${taken.join(', ')} is already held by another user of this organization (set allow_duplicates to true to allow it)`,
          );
        }
      }
      ctx.organization.setSmartcards(user.email_id, cards);
      return ok(`Smart cards of ${user.email} were set (${cards.length}).`);
    },
  },
  {
    method: 'POST',
    path: '/promoteguest',
    access: 'write',
    handle(ctx) {
      const user = userByEmailId(ctx);
      if (user.tag !== 'GUEST')
        throw new HttpError(400, `${user.email} is not a GUEST (tag is ${user.tag})`);
      ctx.organization.update(user.email_id, (u) => (u.tag = 'USER'));
      return ok(`${user.email} was promoted from GUEST to USER.`);
    },
  },
  {
    method: 'POST',
    path: '/togglesuspension',
    access: 'write',
    handle(ctx) {
      const user = userByEmailId(ctx);
      if (user.ad_status === 'PENDING') {
        throw new HttpError(
          400,
          `${user.email} is PENDING (no device activated yet) and cannot be suspended`,
        );
      }
      const next = user.ad_status === 'ACTIVE' ? 'SUSPENDED' : 'ACTIVE';
      ctx.organization.update(user.email_id, (u) => (u.ad_status = next));
      return ok(`${user.email} is now ${next}.`);
    },
  },
  {
    method: 'DELETE',
    path: '/user',
    access: 'write',
    handle(ctx) {
      let user: MockUser | undefined;
      if (present(ctx.params, 'email_id')) {
        user = userByEmailId(ctx);
      } else if (present(ctx.params, 'email')) {
        const email = String(ctx.params['email']);
        user = ctx.organization.findByEmail(email);
        if (user === undefined)
          throw new HttpError(400, `no user with email ${email} in this organization`);
      } else {
        throw new HttpError(400, 'email_id or email is required');
      }
      if (ctx.caller.rank !== 'SUPER' && isPrivileged(user.rank)) {
        throw new HttpError(
          403,
          `only a SUPER may remove an ${user.rank} user (caller is ${ctx.caller.rank})`,
        );
      }
      ctx.organization.remove(user.email_id);
      return ok(
        `User ${user.email}/${user.username} was successfully deleted from your organization.`,
      );
    },
  },
];

/** The paths the API serves, for the faults file's keys. */
export const API_PATHS: readonly string[] = [...new Set(routes.map((r) => r.path))];
