import { z } from 'zod';
import { formatPath, parseWith, readStructuredFile } from '../config/file.js';
import { ConfigError } from '../errors.js';
import { API_PATHS } from './routes.js';

const rate = z.number().min(0, 'a rate is between 0 and 1').max(1, 'a rate is between 0 and 1');

const ms = z.number().int().min(0).max(60_000);

export const FaultSpec = z.strictObject({
  /**
   * Delay added before every answer of the endpoint (and before a write is applied): a number, or
   * `[min, max]` for a delay drawn uniformly between the two on each request.
   */
  latencyMs: z
    .union([ms, z.tuple([ms, ms]).refine(([a, b]) => a <= b, 'latencyMs [min, max]: min > max')])
    .optional(),
  /** Share of requests answered 429 with a Retry-After header, nothing applied. */
  rate429: rate.optional(),
  retryAfterSeconds: z.number().int().min(0).max(3600).optional(),
  /** Share of requests answered 503, nothing applied. */
  rate5xx: rate.optional(),
  /** Share of requests whose change is applied, and then the connection is cut unanswered. */
  dropAfterCommit: rate.optional(),
  /**
   * `/multipleusers` only: serve a copy of a listing (per token and query) for this long after it
   * was built, like an API gateway that caches GETs. A request with `Cache-Control: no-cache` or
   * `Pragma: no-cache` is served fresh unless `cacheIgnoresNoCache` is true.
   */
  cacheListingsMs: z.number().int().min(0).max(3_600_000).optional(),
  cacheIgnoresNoCache: z.boolean().optional(),
  /**
   * `/multipleusers` only: repeat rows. A rate (each user chosen or not, the same on every
   * listing, from the seed) or a list of emails. Where the copy goes: `duplicateRowsInto`.
   */
  duplicateRows: z.union([rate, z.array(z.string().min(1))]).optional(),
  /**
   * `same`: twice in the user's own listing; `other`: also in the other tag's listing (USER and
   * GUEST); `both` (the default): both of those.
   */
  duplicateRowsInto: z.enum(['same', 'other', 'both']).optional(),
});
export type FaultSpec = z.infer<typeof FaultSpec>;

export const Faults = z.object({ seed: z.number().int().default(1) }).catchall(FaultSpec);
export type Faults = z.infer<typeof Faults>;

const LISTING_ONLY = [
  'cacheListingsMs',
  'cacheIgnoresNoCache',
  'duplicateRows',
  'duplicateRowsInto',
] as const;
export const LISTING_PATH = '/multipleusers';

export function parseFaults(data: unknown, source: string): Faults {
  const faults = parseWith(Faults, data ?? {}, source, 'faults file');
  for (const key of Object.keys(faults)) {
    if (key !== 'seed' && key !== '*' && !API_PATHS.includes(key)) {
      throw new ConfigError(
        `faults file ${source} is invalid:\n  ${formatPath([key])}: not an endpoint; use "*" or one of ${API_PATHS.join(', ')}`,
        { hint: `correct the key ${JSON.stringify(key)} in ${source}` },
      );
    }
    const spec = key === 'seed' ? undefined : faults[key];
    const misplaced = LISTING_ONLY.find((k) => spec?.[k] !== undefined);
    if (key !== 'seed' && key !== LISTING_PATH && misplaced !== undefined) {
      throw new ConfigError(
        `faults file ${source} is invalid:\n  ${formatPath([key, misplaced])}: only ${LISTING_PATH} takes it`,
        { hint: `move ${misplaced} under "${LISTING_PATH}" in ${source}` },
      );
    }
  }
  return faults;
}

export function loadFaultsFile(path: string): Faults {
  return parseFaults(readStructuredFile(path, 'faults file'), path);
}

/** Where a duplicated row of `/multipleusers` is repeated. */
export type DuplicateInto = 'same' | 'other' | 'both';

/** The `/multipleusers` faults: a gateway cache and repeated rows. */
export interface ListingFaults {
  cacheMs: number;
  cacheIgnoresNoCache: boolean;
  /** Where this user's row is repeated, or undefined when it is not. */
  duplicate: (user: { email: string; email_id: number }) => DuplicateInto | undefined;
}

export interface FaultDecision {
  latencyMs: number;
  /** Answer 429 with this Retry-After (seconds). */
  retryAfter: number | undefined;
  /** Answer 503. */
  serverError: boolean;
  /** Apply, then cut the connection. */
  drop: boolean;
}

const NO_FAULT: FaultDecision = {
  latencyMs: 0,
  retryAfter: undefined,
  serverError: false,
  drop: false,
};

/** mulberry32: small, fast, and good enough to spread faults evenly from a seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * Decides the faults of each request. An endpoint's own entry is merged over `"*"` key by key.
 * Each endpoint has its own random stream, and every request draws the same three numbers, so
 * the same sequence of requests to an endpoint meets the same faults on every run.
 */
export class FaultInjector {
  private readonly specs = new Map<string, FaultSpec>();
  private readonly streams = new Map<string, () => number>();
  private readonly seed: number;

  readonly listing: ListingFaults | undefined;

  constructor(faults: Faults | undefined) {
    this.seed = faults?.seed ?? 1;
    const star = faults?.['*'];
    for (const path of API_PATHS) {
      const own = faults?.[path];
      if (star !== undefined || own !== undefined) this.specs.set(path, { ...star, ...own });
    }
    this.listing = listingFaults(faults?.[LISTING_PATH], this.seed);
  }

  get active(): boolean {
    return this.specs.size > 0;
  }

  decide(path: string): FaultDecision {
    const spec = this.specs.get(path);
    if (spec === undefined) return NO_FAULT;
    let next = this.streams.get(path);
    if (next === undefined) {
      next = mulberry32(this.seed ^ hashString(path));
      this.streams.set(path, next);
    }
    const r429 = next();
    const r5xx = next();
    const rDrop = next();
    const is429 = r429 < (spec.rate429 ?? 0);
    const is5xx = !is429 && r5xx < (spec.rate5xx ?? 0);
    return {
      latencyMs: this.latency(path, spec.latencyMs),
      retryAfter: is429 ? (spec.retryAfterSeconds ?? 1) : undefined,
      serverError: is5xx,
      drop: !is429 && !is5xx && rDrop < (spec.dropAfterCommit ?? 0),
    };
  }

  /** A range draws from a stream of its own, so adding one leaves the other faults' sequence. */
  private latency(path: string, spec: FaultSpec['latencyMs']): number {
    if (spec === undefined) return 0;
    if (typeof spec === 'number') return spec;
    const key = `${path}#latency`;
    let next = this.streams.get(key);
    if (next === undefined) {
      next = mulberry32(this.seed ^ hashString(key));
      this.streams.set(key, next);
    }
    const [min, max] = spec;
    return min + Math.floor(next() * (max - min + 1));
  }
}

function listingFaults(spec: FaultSpec | undefined, seed: number): ListingFaults | undefined {
  if (spec === undefined) return undefined;
  const { cacheListingsMs, duplicateRows } = spec;
  if ((cacheListingsMs ?? 0) === 0 && duplicateRows === undefined) return undefined;
  const into = spec.duplicateRowsInto ?? 'both';
  const emails = Array.isArray(duplicateRows)
    ? new Set(duplicateRows.map((e) => e.toLowerCase()))
    : undefined;
  const share = typeof duplicateRows === 'number' ? duplicateRows : 0;
  return {
    cacheMs: cacheListingsMs ?? 0,
    cacheIgnoresNoCache: spec.cacheIgnoresNoCache === true,
    duplicate: (user) => {
      if (emails !== undefined) return emails.has(user.email.toLowerCase()) ? into : undefined;
      if (share === 0) return undefined;
      // The same users on every listing: a draw keyed by the user, not by the request.
      return mulberry32(seed ^ hashString(`dup#${user.email_id}`))() < share ? into : undefined;
    },
  };
}
