import { BlockList, isIP } from 'node:net';

/**
 * The one rule for "this machine", shared by the Users API client (plain `http://` allowed to
 * loopback) and the LDAP source (a simple bind over plain `ldap://` allowed to loopback): traffic
 * to loopback never leaves the machine, so a token or a password sent there in clear is not
 * exposed on a network.
 */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Whether a host (as `URL.hostname` gives it: IPv6 in brackets) is this machine: an IP literal
 * in 127.0.0.0/8, `::1` in any spelling (the URL parser normalises `[0:0::1]`, `127.1` and
 * `2130706433` for http URLs; IPv4-mapped `::ffff:127.x.y.z` counts), or the name `localhost`
 * exactly. Any other name, `127.0.0.1.nip.io` included, may resolve anywhere.
 */
export function isLoopback(hostname: string): boolean {
  if (hostname.toLowerCase() === 'localhost') return true;
  const bare =
    hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  const family = isIP(bare);
  return family !== 0 && LOOPBACK.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/** Whether a URL (`ldap://127.0.0.1:389`, `http://[::1]:8080`) points at this machine. */
export function isLoopbackUrl(url: string): boolean {
  try {
    return isLoopback(new URL(url).hostname);
  } catch {
    return false;
  }
}

/** What decides whether a simple bind may go over plain `ldap://` (the `source:` keys). */
export interface PlainBindSettings {
  startTls: boolean;
  bindDn?: string | undefined;
  allowPlaintextBind: boolean;
}

/**
 * Whether a simple bind to `url` would send the password across a network in clear: plain
 * `ldap://` without StartTLS, with a bind DN, to a host other than loopback, and not allowed by
 * `source.allowPlaintextBind`. The connection refuses it; `check` and `config validate` say so
 * before they call the config valid.
 */
export function plainBindExposed(url: string, settings: PlainBindSettings): boolean {
  return (
    url.toLowerCase().startsWith('ldap://') &&
    !settings.startTls &&
    settings.bindDn !== undefined &&
    !settings.allowPlaintextBind &&
    !isLoopbackUrl(url)
  );
}

/**
 * Whether the Users API token would cross a network in clear: a plain `http://` base URL to a
 * host other than loopback, not allowed by `api.allowPlaintext`.
 */
export function plainHttpExposed(baseUrl: string, allowPlaintext: boolean): boolean {
  return !allowPlaintext && baseUrl.toLowerCase().startsWith('http://') && !isLoopbackUrl(baseUrl);
}
