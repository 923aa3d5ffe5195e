/** The Users API client: see {@link ApiClient}. */
export { ApiClient, createApiClient, type ApiClientOptions } from './client.js';
export { DEFAULT_TIMEOUTS, proxySettingsFrom, type Env, type Timeouts } from './http.js';
export { asEmailId, asUserId, type EmailId, type UserId } from './ids.js';
export type { Clock, Sleep } from './limiter.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
export type { AdStatus, OrgUser, Rank, Smartcard, UserDetails, UserTag } from './schema.js';
/** The interface reconcile/ uses, and the types of its arguments and outcomes. */
export type * from './users-api.js';
