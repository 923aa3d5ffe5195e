/**
 * `api.baseUrl` as dirsync records and compares it (plan files, the state record): pure, no I/O,
 * so reconcile/ and state/ may both use it without reaching into the API client.
 */

/** What {@link recordedBaseUrl} gives for a value that is not a URL: nothing of it is kept. */
export const NOT_A_URL = '(not a URL)';

/**
 * `api.baseUrl` as a plan records it: never a user name, password, query or fragment (a
 * credential must not end up in a file), no trailing slash. A value that is not a URL gives
 * {@link NOT_A_URL}, since whatever it holds might be a credential.
 */
export function recordedBaseUrl(baseUrl: string): string {
  try {
    const url = new URL(baseUrl);
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    return url.href.replace(/\/+$/, '');
  } catch {
    return NOT_A_URL;
  }
}

/**
 * Whether two `api.baseUrl` values name the same API as {@link recordedBaseUrl} records it
 * (`https://x/` and `https://x` do). Values that are not URLs match only when spelled the same.
 */
export function sameBaseUrl(a: string, b: string): boolean {
  if (a === b) return true;
  const recorded = recordedBaseUrl(a);
  return recorded !== NOT_A_URL && recorded === recordedBaseUrl(b);
}
