import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { mulberry32 } from '../../src/mock/faults.js';

/**
 * The faults of one run, set by the simulation before the run starts. Every rate is a share of
 * the requests it applies to, drawn from the run's own seeded stream.
 */
export interface RunFaults {
  /** Answered 429 (Retry-After: 0), nothing forwarded. */
  rate429: number;
  /** Answered 503, nothing forwarded. */
  rate5xx: number;
  /** Writes: forwarded, applied, then the connection is cut unanswered (a lost answer). */
  dropAfterCommit: number;
  /** Writes: forwarded, applied, then answered 502 (an outcome the client cannot know). */
  badGatewayAfterCommit: number;
  /** `/togglesuspension`: a delay before the toggle reaches the API (a slow API). */
  toggleLatencyMs: number;
  /**
   * `/multipleusers` served from a gateway cache for this long (real ms) after it was fetched,
   * within one run. A request with `Cache-Control: no-cache` is served fresh unless
   * `cacheIgnoresNoCache`.
   */
  cacheListingsMs: number;
  cacheIgnoresNoCache: boolean;
  /**
   * `/multipleusers`: the rows of these email_ids are repeated (`same` listing or `other`);
   * with `churned`, also the rows of the people whose directory entry changed before this run
   * (the ones most likely to be toggled).
   */
  duplicateRows: { emailIds: number[]; churned: boolean; into: 'same' | 'other' };
}

export const NO_FAULTS: RunFaults = {
  rate429: 0,
  rate5xx: 0,
  dropAfterCommit: 0,
  badGatewayAfterCommit: 0,
  toggleLatencyMs: 0,
  cacheListingsMs: 0,
  cacheIgnoresNoCache: false,
  duplicateRows: { emailIds: [], churned: false, into: 'same' },
};

/** A crash of the run's process at its `atWrite`-th write (0-based), before or after sending it. */
export interface CrashPlan {
  atWrite: number;
  /** The write is sent (it lands, after any latency) and the process dies while it is in flight. */
  inFlight: boolean;
}

export interface FaultCounts {
  '429': number;
  '5xx': number;
  dropAfterCommit: number;
  badGatewayAfterCommit: number;
  cachedListings: number;
  duplicatedRows: number;
  slowToggles: number;
  crashes: number;
}

/**
 * A hostile gateway between dirsync and the mock API: the faults of each run (429, 5xx, lost
 * answers after the change landed, slow toggles, a listing cache, repeated rows) and the death
 * of the run's process. The mock's own faults are fixed for a server's life; a simulation needs
 * them to change from run to run, and to stop for the convergence check.
 *
 * The run a request belongs to is read from its user agent (`dirsync-sim/<run>`). Once a run has
 * crashed, its process is dead: whatever it still sends is cut before reaching the API, and the
 * answers of its requests in flight are lost (the requests themselves still land).
 */
export class Gateway {
  url = '';
  faults: RunFaults = NO_FAULTS;
  crash: CrashPlan | undefined;
  /** The run whose process is alive; requests of any other run are cut. */
  run = 0;
  /** Set when the current run's process died. */
  crashed = false;
  /** Told when the current run's process dies (to stop what it would have gone on doing). */
  onCrash: (() => void) | undefined;
  readonly counts: FaultCounts = {
    '429': 0,
    '5xx': 0,
    dropAfterCommit: 0,
    badGatewayAfterCommit: 0,
    cachedListings: 0,
    duplicatedRows: 0,
    slowToggles: 0,
    crashes: 0,
  };
  /** Requests still travelling to the API (a dead run's slow toggles among them). */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly pending = new Set<ServerResponse>();
  private readonly cache = new Map<string, { at: number; body: Buffer }>();
  private random: () => number = mulberry32(1);
  private writes = 0;
  private readonly agent = new Agent({ connections: 32, pipelining: 1 });
  private server: ReturnType<typeof createServer> | undefined;

  constructor(private readonly upstream: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.socket?.destroy();
      });
    });
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A new run: its faults, its crash point, its own random stream; the cache starts empty. */
  beginRun(run: number, faults: RunFaults, crash: CrashPlan | undefined, seed: number): void {
    this.run = run;
    this.faults = faults;
    this.crash = crash;
    this.crashed = false;
    this.writes = 0;
    this.cache.clear();
    this.random = mulberry32(seed);
  }

  /** Waits until every request a dead run left in flight has reached the API. */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  async close(): Promise<void> {
    await this.settle();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
    await this.agent.close();
  }

  private die(): void {
    this.crashed = true;
    this.onCrash?.();
    this.counts.crashes++;
    for (const res of this.pending) res.socket?.destroy();
    this.pending.clear();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://gateway');
    const path = url.pathname;
    const runOf = /dirsync-sim\/(\d+)/.exec(req.headers['user-agent'] ?? '')?.[1];
    if (runOf === undefined || Number(runOf) !== this.run || this.crashed) {
      res.socket?.destroy(); // a dead process sends nothing
      return;
    }
    const f = this.faults;
    const write = req.method !== 'GET';
    // Every request draws the same numbers, so a run's faults depend only on its requests.
    const r429 = this.random();
    const r5xx = this.random();
    const rLost = this.random();
    if (r429 < f.rate429) {
      this.counts['429']++;
      this.reply(res, 429, { error: 'rate limit exceeded' }, { 'retry-after': '0' });
      return;
    }
    if (r5xx < f.rate5xx) {
      this.counts['5xx']++;
      this.reply(res, 503, { error: 'service temporarily overloaded' });
      return;
    }

    if (path === '/multipleusers' && req.method === 'GET') {
      await this.listing(req, res, url);
      return;
    }

    let crashHere = false;
    if (write) {
      const n = this.writes++;
      if (this.crash !== undefined && n === this.crash.atWrite) {
        if (!this.crash.inFlight) {
          this.die();
          res.socket?.destroy();
          return;
        }
        crashHere = true;
      }
    }
    this.pending.add(res);
    const forward = async (): Promise<{ status: number; body: Buffer }> => {
      if (path === '/togglesuspension' && f.toggleLatencyMs > 0) {
        this.counts.slowToggles++;
        await sleep(f.toggleLatencyMs);
      }
      return this.forward(req, url, body);
    };
    const sent = forward();
    // Tracked until it reaches the API, whatever becomes of the process that sent it.
    const travelling = sent.catch(() => undefined);
    this.inFlight.add(travelling);
    void travelling.finally(() => this.inFlight.delete(travelling));
    if (crashHere) {
      this.die(); // the request is on its way; the process that sent it dies now
      return;
    }
    const answer = await sent;
    if (!this.pending.delete(res)) return; // cut by a crash meanwhile
    if (write && answer.status < 300 && rLost < f.dropAfterCommit) {
      this.counts.dropAfterCommit++;
      res.socket?.destroy();
      return;
    }
    if (
      write &&
      answer.status < 300 &&
      rLost < f.dropAfterCommit + f.badGatewayAfterCommit &&
      rLost >= f.dropAfterCommit
    ) {
      this.counts.badGatewayAfterCommit++;
      this.reply(res, 502, { error: 'bad gateway' });
      return;
    }
    this.send(res, answer.status, answer.body);
  }

  private async listing(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const f = this.faults;
    const key = url.search;
    const noCache =
      /no-cache/i.test(String(req.headers['cache-control'] ?? '')) ||
      /no-cache/i.test(String(req.headers['pragma'] ?? ''));
    const cached = this.cache.get(key);
    const usable =
      f.cacheListingsMs > 0 &&
      cached !== undefined &&
      performance.now() - cached.at <= f.cacheListingsMs &&
      (!noCache || f.cacheIgnoresNoCache);
    let bodyOut: Buffer;
    if (usable) {
      this.counts.cachedListings++;
      bodyOut = cached.body;
    } else {
      this.pending.add(res);
      const answer = await this.forward(req, url, Buffer.alloc(0));
      if (!this.pending.delete(res)) return;
      if (answer.status !== 200) {
        this.send(res, answer.status, answer.body);
        return;
      }
      bodyOut = await this.duplicate(req, url, answer.body);
      if (f.cacheListingsMs > 0) this.cache.set(key, { at: performance.now(), body: bodyOut });
    }
    this.send(res, 200, bodyOut);
  }

  /** Repeats the chosen rows: again in their own listing, or in the other tag's listing too. */
  private async duplicate(req: IncomingMessage, url: URL, body: Buffer): Promise<Buffer> {
    const { emailIds, into } = this.faults.duplicateRows;
    if (emailIds.length === 0) return body;
    const chosen = new Set(emailIds);
    const rows = JSON.parse(body.toString('utf8')) as { email_id: number }[];
    let extra: { email_id: number }[];
    if (into === 'same') {
      extra = rows.filter((r) => chosen.has(r.email_id));
    } else {
      const other = new URL(url);
      if (other.searchParams.get('user_tag') === 'GUEST') other.searchParams.delete('user_tag');
      else other.searchParams.set('user_tag', 'GUEST');
      const answer = await this.forward(req, other, Buffer.alloc(0));
      extra =
        answer.status === 200
          ? (JSON.parse(answer.body.toString('utf8')) as { email_id: number }[]).filter((r) =>
              chosen.has(r.email_id),
            )
          : [];
    }
    this.counts.duplicatedRows += extra.length;
    return Buffer.from(JSON.stringify([...rows, ...extra]));
  }

  private async forward(
    req: IncomingMessage,
    url: URL,
    body: Buffer,
  ): Promise<{ status: number; body: Buffer }> {
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'content-type', 'user-agent']) {
      const v = req.headers[name];
      if (typeof v === 'string') headers[name] = v;
    }
    const res = await request(`${this.upstream}${url.pathname}${url.search}`, {
      method: (req.method ?? 'GET') as 'GET',
      headers,
      dispatcher: this.agent,
      ...(req.method === 'GET' || req.method === 'DELETE' ? {} : { body }),
    });
    return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()) };
  }

  private reply(
    res: ServerResponse,
    status: number,
    json: unknown,
    headers: Record<string, string> = {},
  ): void {
    this.send(res, status, Buffer.from(JSON.stringify(json)), headers);
  }

  private send(
    res: ServerResponse,
    status: number,
    body: Buffer,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': body.length,
      ...headers,
    });
    res.end(body);
  }
}
