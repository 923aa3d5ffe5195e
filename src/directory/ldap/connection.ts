import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import {
  Client,
  InvalidCredentialsError,
  ResultCodeError,
  SizeLimitExceededError,
  TimeLimitExceededError,
} from 'ldapts';
import { ConfigError, DirectoryError } from '../../errors.js';
import { createSilentLogger, type Logger } from '../../log.js';
import { plainBindExposed } from '../../loopback.js';
import type { RawEntry } from '../model.js';
import { pagedSearch } from './paging.js';
import { LdaptsSession, SUPPORTED_LDAPTS_VERSION } from './ldapts-internals.js';
import { appendAll } from '../append.js';

export interface LdapConnectOptions {
  urls: readonly string[];
  bindDn?: string | undefined;
  bindPassword?: string | undefined;
  startTls: boolean;
  tls: {
    caFile?: string | undefined;
    rejectUnauthorized: boolean;
    servername?: string | undefined;
  };
  allowPlaintextBind: boolean;
  connectTimeoutMs: number;
  timeoutMs: number;
  logger?: Logger;
}

export interface SearchOptions {
  filter: string;
  attributes: string[];
  scope?: 'base' | 'one' | 'sub';
  pageSize?: number;
  binaryAttributes?: string[];
}

const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
]);

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let i = 0; i < 4 && current instanceof Error; i++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return undefined;
}

/**
 * One bound LDAP connection: failover across `urls`, TLS verified by default, paged search
 * to the end, ranged attribute retrieval, and errors that name the server and base DN.
 */
export class LdapConnection {
  /** Search continuation references met and skipped. */
  referencesSkipped = 0;

  private constructor(
    private readonly session: LdaptsSession,
    readonly url: string,
    private readonly timeoutMs: number,
  ) {}

  static async open(options: LdapConnectOptions): Promise<LdapConnection> {
    const logger = options.logger ?? createSilentLogger();
    const ldapts = LdaptsSession.version();
    if (!ldapts.supported)
      logger.warn('ldapts is not the version dirsync was tested with', {
        found: ldapts.found ?? 'unknown',
        supported: SUPPORTED_LDAPTS_VERSION,
      });
    const tls = tlsOptions(options);
    const failures: string[] = [];
    for (const url of options.urls) {
      const plain = url.toLowerCase().startsWith('ldap://');
      // Loopback is allowed as plain http:// to the API is (loopback.ts): it never leaves the machine.
      if (plainBindExposed(url, options)) {
        throw new ConfigError(
          `refusing a simple bind over plain ${url}: the password would cross the network unencrypted`,
          {
            hint: 'use an ldaps:// URL, or set source.startTls: true; source.allowPlaintextBind: true is for a lab network you trust',
          },
        );
      }
      // Before any byte is sent: ldapts internals that are not what dirsync expects fail here,
      // naming the installed version, not as an unreachable server.
      const session = LdaptsSession.attach(
        new Client({
          url,
          connectTimeout: options.connectTimeoutMs,
          timeout: options.timeoutMs,
          ...(plain ? {} : { tlsOptions: tls }),
          strictDN: false,
        }),
      );
      const { client } = session;
      try {
        if (plain && options.startTls) await client.startTLS(tls);
        if (options.bindDn !== undefined)
          await client.bind(options.bindDn, options.bindPassword ?? '');
        // Anonymous: connect now, so that failover and TLS errors are met here. (Searches do not
        // connect by themselves: a dropped connection must fail the read, not come back unbound.)
        else await session.connect();
        session.checkConnected();
        logger.debug('LDAP connected', { url, ldapts: ldapts.found });
        return new LdapConnection(session, url, options.timeoutMs);
      } catch (error) {
        await client.unbind().catch(() => undefined);
        if (error instanceof DirectoryError) throw error;
        if (error instanceof InvalidCredentialsError) {
          // Same credentials on every server: trying the next one only risks a lockout.
          throw new DirectoryError(
            `LDAP bind as ${options.bindDn ?? '(anonymous)'} to ${url} was refused: invalid credentials`,
            {
              cause: error,
              hint: 'check source.bindDn and the password in source.bindPasswordFile (or bindPassword)',
            },
          );
        }
        const code = errorCode(error);
        if (code !== undefined && TLS_VERIFY_CODES.has(code)) {
          failures.push(`${url}: TLS certificate not trusted (${code})`);
          logger.warn('LDAP server certificate not trusted, trying next', { url, code });
        } else {
          // Node's message names the code already (`connect ECONNREFUSED 127.0.0.1:389`).
          const message = (error as Error).message;
          const said = code === undefined || message.includes(code);
          failures.push(`${url}: ${message}${said ? '' : ` (${code})`}`);
          logger.warn('LDAP server unreachable, trying next', {
            url,
            error: (error as Error).message,
          });
        }
      }
    }
    const tlsFailed = failures.some((f) => f.includes('TLS certificate not trusted'));
    throw new DirectoryError(`no LDAP server could be reached: ${failures.join('; ')}`, {
      hint: tlsFailed
        ? "set source.tls.caFile to the CA certificate that signed the server's certificate (and source.tls.servername if the URL's host differs from the certificate's name)"
        : 'check source.urls, the network path to the servers, and source.connectTimeoutMs',
    });
  }

  /** Pages of a search until the server's cookie is empty; errors name the server and base. */
  async *search(baseDn: string, options: SearchOptions): AsyncGenerator<RawEntry[]> {
    const binary = options.binaryAttributes ?? [];
    try {
      const pages = pagedSearch(this.session, {
        baseDn,
        scope: options.scope ?? 'sub',
        filter: options.filter,
        attributes: options.attributes,
        binaryAttributes: [...binary, ...binary.map((b) => b.toLowerCase())],
        pageSize: options.pageSize ?? 500,
        timeLimitSeconds: Math.ceil(this.timeoutMs / 1000),
      });
      for await (const page of pages) {
        for (const reference of page.references) {
          if (!isOtherPartition(reference)) {
            throw new DirectoryError(
              `search of ${baseDn} on ${this.url} returned a continuation reference to ${reference}, which dirsync does not follow: the entries under it would be missing from the read`,
              {
                hint: 'point source.users.baseDns / source.groups.baseDns at the server that holds those entries, or below the delegated subtree',
              },
            );
          }
          this.referencesSkipped++;
        }
        yield page.entries;
      }
    } catch (error) {
      throw this.searchError(error, baseDn, options.filter);
    }
  }

  /** All entries of a search, in memory. */
  async searchAll(baseDn: string, options: SearchOptions): Promise<RawEntry[]> {
    const out: RawEntry[] = [];
    for await (const page of this.search(baseDn, options)) appendAll(out, page);
    return out;
  }

  async rootDse(): Promise<RawEntry | undefined> {
    const entries = await this.searchAll('', {
      scope: 'base',
      filter: '(objectClass=*)',
      attributes: [
        'supportedCapabilities',
        'defaultNamingContext',
        'vendorName',
        'supportedControl',
      ],
      pageSize: 10,
    }).catch((error: unknown) => {
      throw new DirectoryError(
        `the RootDSE of ${this.url} cannot be read to detect the directory flavor: ${(error as Error).message}`,
        {
          cause: error,
          hint: 'set source.flavor (ad, openldap or 389ds) so no detection is needed',
        },
      );
    });
    return entries[0];
  }

  /**
   * Every value of a ranged attribute (`member;range=0-1499` ...), following the ranges from
   * `start` to the one that ends in `*`. A range that stops short is an incomplete read.
   */
  async readRange(
    dn: string,
    attribute: string,
    start: number,
    rangeSize: number | undefined,
  ): Promise<string[]> {
    const out: string[] = [];
    let next = start;
    for (let round = 0; round < 100_000; round++) {
      const requested = `${attribute};range=${next}-${rangeSize === undefined ? '*' : next + rangeSize - 1}`;
      const entries = await this.searchAll(dn, {
        scope: 'base',
        filter: '(objectClass=*)',
        attributes: [requested],
      });
      const entry = entries[0];
      const found = entry === undefined ? undefined : findRanged(entry, attribute);
      if (found === undefined) {
        // No ranged attribute back: the server holds no values past `next`... unless it said
        // there were more, which is why callers only come here after a range without `*`.
        throw new DirectoryError(
          `LDAP server ${this.url} did not finish the ranged attribute ${attribute} of ${dn}: asked for ${requested}, got nothing`,
          { hint: 'the group may have changed during the read; run again' },
        );
      }
      appendAll(out, found.values);
      if (found.end === '*') return out;
      next = Number(found.end) + 1;
    }
    throw new DirectoryError(`ranged attribute ${attribute} of ${dn} on ${this.url} never ended`);
  }

  async close(): Promise<void> {
    await this.session.client.unbind().catch(() => undefined);
  }

  private searchError(error: unknown, baseDn: string, filter: string): DirectoryError {
    const where = `search of ${baseDn} on ${this.url}`;
    if (error instanceof DirectoryError) return error;
    if (error instanceof SizeLimitExceededError) {
      return new DirectoryError(`${where} hit the server's size limit: the read is incomplete`, {
        cause: error,
        hint: 'the server must allow paged results past its size limit for the bind account (OpenLDAP: limits ... size.pr=unlimited; AD: MaxPageSize is fine, MaxResultSetSize is not), or narrow source.users.baseDns / filter',
      });
    }
    if (error instanceof TimeLimitExceededError) {
      return new DirectoryError(`${where} hit the time limit: the read is incomplete`, {
        cause: error,
        hint: 'raise source.timeoutMs or the server time limit, or narrow the search',
      });
    }
    if (error instanceof ResultCodeError && error.code === 10) {
      return new DirectoryError(
        `${where} answered with a referral, which dirsync does not follow: the read is incomplete`,
        {
          cause: error,
          hint: 'point source.urls at a server that holds the base DN (a global catalog or the domain controller of that domain)',
        },
      );
    }
    if (error instanceof ResultCodeError && error.code === 32) {
      return new DirectoryError(`${where}: the base DN does not exist`, {
        cause: error,
        hint: `check the base DN ${baseDn} in source.users.baseDns / source.groups.baseDns`,
      });
    }
    if (error instanceof ResultCodeError && error.code === 87) {
      return new DirectoryError(`${where}: the server refused the filter ${filter}`, {
        cause: error,
        hint: 'fix source.users.filter / source.groups.filter',
      });
    }
    // One line: ldapts puts the socket's own error on a second line ("Socket error. Message type:
    // SearchRequest (0x63)\nread ECONNRESET"), as it does for a reset mid-search on Node 26.
    const message = (error instanceof Error ? error.message : String(error)).replace(
      /\s*\n\s*/g,
      ': ',
    );
    return new DirectoryError(`${where} failed: ${message}: the read is incomplete`, {
      cause: error,
      hint: 'check the server and the network; nothing was changed',
    });
  }
}

function tlsOptions(options: LdapConnectOptions): ConnectionOptions {
  const tls: ConnectionOptions = { rejectUnauthorized: options.tls.rejectUnauthorized };
  if (options.tls.servername !== undefined) tls.servername = options.tls.servername;
  if (options.tls.caFile !== undefined) {
    try {
      tls.ca = [readFileSync(options.tls.caFile)];
    } catch (error) {
      throw new ConfigError(
        `source.tls.caFile ${options.tls.caFile} cannot be read (${errorCode(error) ?? 'error'})`,
        {
          cause: error,
          hint: 'point source.tls.caFile at a PEM file with the CA certificate',
        },
      );
    }
  }
  return tls;
}

/**
 * AD answers a subtree search from the domain root with continuation references to its other
 * naming contexts (DNS zones, Configuration). They hold no users and are skipped; any other
 * reference points at entries the read would miss.
 */
export function isOtherPartition(reference: string): boolean {
  const match = /^ldaps?:\/\/[^/]*\/([^?]*)/i.exec(reference);
  if (match === null) return false;
  let dn: string;
  try {
    dn = decodeURIComponent(match[1] ?? '').toLowerCase();
  } catch {
    return false;
  }
  return /^(dc=domaindnszones|dc=forestdnszones|cn=configuration),/.test(dn);
}

/** The `attr;range=a-b` attribute of an entry, if any. */
export function findRanged(
  entry: RawEntry,
  attribute: string,
): { values: string[]; end: string } | undefined {
  const prefix = `${attribute.toLowerCase()};range=`;
  for (const [name, vals] of entry.attributes) {
    if (!name.startsWith(prefix)) continue;
    const end = name.slice(prefix.length).split('-')[1] ?? '*';
    return { values: vals.map((v) => (typeof v === 'string' ? v : v.toString('utf8'))), end };
  }
  return undefined;
}
