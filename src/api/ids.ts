/**
 * The Users API numbers each user twice: `email_id` (every endpoint but one) and `user_id`
 * (only `/modifyrank`). Branded types keep the two apart at compile time, so passing one where
 * the other belongs is a type error rather than a change to the wrong user.
 */
declare const idSpace: unique symbol;

/** A user's `email_id`: the id of every endpoint except `/modifyrank`. */
export type EmailId = number & { readonly [idSpace]: 'email_id' };

/** A user's `user_id`: only `/modifyrank` (as `admin_user_id`) takes it. */
export type UserId = number & { readonly [idSpace]: 'user_id' };

function checkId(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new TypeError(`${name} must be a positive integer, got ${String(value)}`);
  }
}

/** Brands a number read from the API (or the state record) as an `email_id`. */
export function asEmailId(value: number): EmailId {
  checkId(value, 'email_id');
  return value as EmailId;
}

/** Brands a number read from the API (or the state record) as a `user_id`. */
export function asUserId(value: number): UserId {
  checkId(value, 'user_id');
  return value as UserId;
}
