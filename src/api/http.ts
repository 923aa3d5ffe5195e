import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, EnvHttpProxyAgent, type Dispatcher } from 'undici';
import { ConfigError } from '../errors.js';
import { isLoopback } from '../loopback.js';

/** Limits on each phase of a request; all in milliseconds. */
export interface Timeouts {
  /** TCP + TLS handshake (and the proxy's CONNECT). */
  connectMs: number;
  /** From the request sent to the response headers: the server's think time. */
  headersMs: number;
  /** Longest silence between two body chunks (not the whole body: a 100k listing is big). */
  bodyMs: number;
  /**
   * The whole request, headers and every byte of the body (`api.requestTimeoutMs`): a body that
   * trickles a byte every few seconds never trips `bodyMs`, and must not hang a run.
   */
  requestMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  connectMs: 10_000,
  headersMs: 30_000,
  bodyMs: 30_000,
  requestMs: 120_000,
};

export type Env = Readonly<Record<string, string | undefined>>;

/** The proxy settings found in an environment; empty strings mean "none". */
export interface ProxySettings {
  httpProxy: string;
  httpsProxy: string;
  noProxy: string;
}

/**
 * Proxy variables as curl and most tools read them: lower case wins over upper case, and
 * HTTPS_PROXY falls back to HTTP_PROXY (undici does that last step itself).
 */
export function proxySettingsFrom(env: Env): ProxySettings {
  const pick = (name: string): string =>
    (env[name.toLowerCase()] ?? env[name.toUpperCase()] ?? '').trim();
  return {
    httpProxy: pick('http_proxy'),
    httpsProxy: pick('https_proxy'),
    noProxy: pick('no_proxy'),
  };
}

export interface DispatcherOptions {
  /**
   * The one origin the dispatcher serves. A loopback origin never goes through a proxy: the
   * token would cross a proxied hop, in clear over http://, to reach this very machine.
   */
  origin?: URL | undefined;
  /** Sockets per origin; the client keeps it equal to its concurrency. */
  connections: number;
  /** `requestMs` is not the pool's: the transport enforces it per request. */
  timeouts: Omit<Timeouts, 'requestMs'>;
  /** Extra PEM bundle trusted on top of the system roots (TLS-inspecting proxies). */
  caFile?: string | undefined;
  /** Where HTTP(S)_PROXY and NO_PROXY are read from; never `process.env` implicitly. */
  env: Env;
}

/**
 * The client's one connection pool. Keep-alive sockets are reused across calls (a run is
 * thousands of small requests), and a proxy from the environment is used when one is set.
 */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const ca = options.caFile === undefined ? undefined : readCaBundle(options.caFile);
  const tls = {
    timeout: options.timeouts.connectMs,
    // `ca` replaces Node's built-in roots rather than adding to them; keep both so that a
    // corporate CA does not cost us every public one.
    ...(ca === undefined ? {} : { ca: [...rootCertificates, ca] }),
  };
  const common = {
    connections: options.connections,
    pipelining: 1,
    keepAliveTimeout: 10_000,
    keepAliveMaxTimeout: 60_000,
    headersTimeout: options.timeouts.headersMs,
    bodyTimeout: options.timeouts.bodyMs,
    connect: tls,
  };
  const proxy = proxySettingsFrom(options.env);
  if (proxy.httpProxy === '' && proxy.httpsProxy === '') return new Agent(common);
  if (options.origin !== undefined && isLoopback(options.origin.hostname)) return new Agent(common);
  // Every value is passed explicitly (an empty string for "unset"): EnvHttpProxyAgent would
  // otherwise fall back to process.env, and the environment is injected here.
  return new EnvHttpProxyAgent({
    ...common,
    httpProxy: proxy.httpProxy,
    httpsProxy: proxy.httpsProxy,
    noProxy: proxy.noProxy,
    // The TLS session to the API runs inside the proxy's tunnel: the CA bundle applies to it,
    // and to an https:// proxy itself.
    requestTls: tls,
    proxyTls: tls,
  });
}

function readCaBundle(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(`api.tls.caFile ${path} cannot be read (${code ?? 'unknown error'})`, {
      cause: error,
      hint: `check that ${path} exists and is readable by the dirsync user`,
    });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(`api.tls.caFile ${path} holds no PEM certificate`, {
      hint: `point api.tls.caFile at a PEM file (-----BEGIN CERTIFICATE-----), e.g. your proxy's root CA`,
    });
  }
  return pem;
}
