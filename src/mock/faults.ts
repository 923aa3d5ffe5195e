import { z } from 'zod';
import { formatPath, parseWith, readStructuredFile } from '../config/file.js';
import { ConfigError } from '../errors.js';
import { API_PATHS } from './routes.js';

const rate = z.number().min(0, 'a rate is between 0 and 1').max(1, 'a rate is between 0 and 1');

export const FaultSpec = z.strictObject({
  /** Delay added before every answer of the endpoint. */
  latencyMs: z.number().int().min(0).max(60_000).optional(),
  /** Share of requests answered 429 with a Retry-After header, nothing applied. */
  rate429: rate.optional(),
  retryAfterSeconds: z.number().int().min(0).max(3600).optional(),
  /** Share of requests answered 503, nothing applied. */
  rate5xx: rate.optional(),
  /** Share of requests whose change is applied, and then the connection is cut unanswered. */
  dropAfterCommit: rate.optional(),
});
export type FaultSpec = z.infer<typeof FaultSpec>;

export const Faults = z.object({ seed: z.number().int().default(1) }).catchall(FaultSpec);
export type Faults = z.infer<typeof Faults>;

export function parseFaults(data: unknown, source: string): Faults {
  const faults = parseWith(Faults, data ?? {}, source, 'faults file');
  for (const key of Object.keys(faults)) {
    if (key !== 'seed' && key !== '*' && !API_PATHS.includes(key)) {
      throw new ConfigError(
        `faults file ${source} is invalid:\n  ${formatPath([key])}: not an endpoint; use "*" or one of ${API_PATHS.join(', ')}`,
        { hint: `correct the key ${JSON.stringify(key)} in ${source}` },
      );
    }
  }
  return faults;
}

export function loadFaultsFile(path: string): Faults {
  return parseFaults(readStructuredFile(path, 'faults file'), path);
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

  constructor(faults: Faults | undefined) {
    this.seed = faults?.seed ?? 1;
    const star = faults?.['*'];
    for (const path of API_PATHS) {
      const own = faults?.[path];
      if (star !== undefined || own !== undefined) this.specs.set(path, { ...star, ...own });
    }
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
      latencyMs: spec.latencyMs ?? 0,
      retryAfter: is429 ? (spec.retryAfterSeconds ?? 1) : undefined,
      serverError: is5xx,
      drop: !is429 && !is5xx && rDrop < (spec.dropAfterCommit ?? 0),
    };
  }
}
