import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';
import { createDispatcher, type Env } from '../api/http.js';
import { parseRetryAfter } from '../api/retry.js';
import { NOTIFY_EVENTS, type Config, type NotifyEvent } from '../config/schema.js';
import { ConfigError, describeError, SafetyError } from '../errors.js';
import { writeFileAtomic } from '../state/store.js';
import type { Logger } from '../log.js';
import { plural } from '../text.js';
import { EVENT_ORDER, payloadFor, SAMPLE_SIZE, type Notification } from './payloads.js';

/** What the notifier is told about a finished run: its report, or the error that stopped it. */
export interface RunNotice {
  runId: string;
  report?: {
    failures: readonly { kind: string; email: string; error: string }[];
    /** Actions a budget held back for review. */
    held?: readonly { kind: string; email: string; reason?: string; heldBy?: string }[];
    rails?: { tripped: readonly { rail: string; message: string }[]; forced?: boolean };
    /** Toggles whose outcome could not be established: counted with the failed actions. */
    unclear?: readonly { kind: string; email: string; reason: string }[];
    /** Where the held actions are saved for review (`apply --plan`). */
    planFile?: string;
    /** The apply stopped sending (the token was refused): the run failed. */
    stopped?: { reason: string; hint: string };
  };
  error?: unknown;
}

/** A webhook ready to post to: its URL resolved (a secret: never logged). */
export interface WebhookTarget {
  /** How logs and errors name it. */
  name: string;
  url: string;
  format: 'json' | 'slack' | 'teams';
  events: readonly NotifyEvent[];
  timeoutMs: number;
}

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 500, maxDelayMs: 5_000 };

/** How long the end of a process waits for posts still in flight. */
export const DEFAULT_DRAIN_MS = 5_000;

export interface NotifierOptions {
  webhooks: readonly WebhookTarget[];
  /** Where the last run's status is kept, to post `recovered` once (beside the state record). */
  statusFile: string;
  logger: Logger;
  /** For proxies (HTTPS_PROXY, NO_PROXY); never `process.env` implicitly. */
  env?: Env;
  dispatcher?: Dispatcher;
  retry?: RetryPolicy;
  clock?: () => Date;
  host?: string;
}

interface NotifyStatus {
  status: 'good' | 'bad';
  events: NotifyEvent[];
  runId: string;
  at: string;
}

/** The webhooks of a config, their URLs read from `urlFile` where given. */
export function webhookTargets(config: Pick<Config, 'notify'>): WebhookTarget[] {
  return config.notify.webhooks.map((w, i) => {
    const key = `notify.webhooks[${i}]`;
    let url = w.url;
    if (w.urlFile !== undefined) {
      try {
        url = readFileSync(w.urlFile, 'utf8').trim();
      } catch (error) {
        throw new ConfigError(
          `config key ${key}.urlFile names ${w.urlFile}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
          { hint: `create ${w.urlFile} holding the webhook URL, or fix ${key}.urlFile` },
        );
      }
      if (!/^https?:\/\/[^\s]+$/.test(url) || !URL.canParse(url)) {
        // Never quote the file's content: it is meant to be a secret.
        throw new ConfigError(
          `config key ${key}.urlFile: ${w.urlFile} does not hold an http(s) URL`,
          {
            hint: `write only the webhook URL (https://...) into ${w.urlFile}`,
          },
        );
      }
    }
    return {
      name: w.name ?? `webhook ${i + 1}`,
      url: url!,
      format: w.format,
      events: w.events ?? NOTIFY_EVENTS,
      timeoutMs: w.timeoutMs,
    };
  });
}

/** `notify-status.json` beside the state record. */
export function notifyStatusFile(config: Pick<Config, 'state'>): string {
  return join(dirname(config.state.path), 'notify-status.json');
}

/** The events of a run, most serious first; none for a good run. */
export function runEvents(notice: RunNotice): NotifyEvent[] {
  const events: NotifyEvent[] = [];
  if (notice.error !== undefined)
    events.push(notice.error instanceof SafetyError ? 'refused' : 'failed');
  if (notice.report?.stopped !== undefined) events.push('failed');
  if ((notice.report?.held?.length ?? 0) > 0) events.push('held');
  if (failuresOf(notice).length > 0) events.push('actions_failed');
  return EVENT_ORDER.filter((e) => events.includes(e));
}

/** Failed actions, and toggles whose outcome is unclear (they may need a person too). */
function failuresOf(notice: RunNotice): { kind: string; email: string; error: string }[] {
  return [
    ...(notice.report?.failures ?? []),
    ...(notice.report?.unclear ?? []).map((u) => ({
      kind: u.kind,
      email: u.email,
      error: `unclear: ${u.reason}`,
    })),
  ];
}

/** What stopped the run: the error it threw, or the reason the apply stopped sending. */
function stopReason(notice: RunNotice): string | undefined {
  if (notice.error !== undefined) return describeError(notice.error);
  const stopped = notice.report?.stopped;
  return stopped === undefined ? undefined : `${stopped.reason} (to fix: ${stopped.hint})`;
}

/** The rails behind a refusal (from the error) or behind held actions (from the report). */
function railsOf(notice: RunNotice): Notification['rails'] {
  if (notice.error instanceof SafetyError) {
    return notice.error.refusals.map(({ rail, message }) => ({ rail, message }));
  }
  const rails = notice.report?.rails;
  if (rails === undefined || rails.forced === true) return [];
  return rails.tripped.map((t) => ({ rail: t.rail, message: t.message }));
}

function summaryOf(
  events: readonly NotifyEvent[],
  notice: RunNotice,
  rails: Notification['rails'],
  previous: NotifyEvent[] | undefined,
): string {
  const railNames = rails.map((r) => r.rail).join(', ');
  const parts = events.map((e) => {
    switch (e) {
      case 'failed':
        return `the run failed: ${stopReason(notice) ?? 'unknown error'}`;
      case 'refused':
        return `the safety rails refused the run (${railNames}); nothing was changed`;
      case 'held': {
        const n = notice.report?.held?.length ?? 0;
        return `${plural(n, 'action')} held back for review${railNames === '' ? '' : ` (${railNames})`}; the rest applied`;
      }
      case 'actions_failed': {
        const n = notice.report?.failures.length ?? 0;
        const u = notice.report?.unclear?.length ?? 0;
        const failed = n === 0 ? [] : [`${plural(n, 'action')} failed`];
        const unclear = u === 0 ? [] : [`${plural(u, 'toggle')} unclear`];
        return [...failed, ...unclear].join(', ');
      }
      case 'recovered':
        return `a run succeeded again after an earlier one that ${(previous ?? []).join(', ').replace(/_/g, ' ') || 'went wrong'}`;
    }
  });
  return parts.join('; ');
}

/** Why an attempt failed, with the webhook URL (a secret) never in it. */
function scrub(text: string, url: string): string {
  let out = text.split(url).join('<webhook url>');
  try {
    const u = new URL(url);
    for (const part of [u.pathname + u.search, u.search, u.username, u.password])
      if (part.length > 1) out = out.split(part).join('<redacted>');
    // The whole URL is the secret: even its host is not repeated.
    for (const part of [u.host, u.hostname]) if (part !== '') out = out.split(part).join('<host>');
  } catch {
    // not a URL: nothing more to hide
  }
  return out;
}

/**
 * Posts run notifications to webhooks in the background: a run never waits for a post.
 * Retries 429, 5xx and network errors with a short backoff; each attempt has the webhook's
 * timeout; `close` waits a bounded time for posts still in flight, then drops them.
 */
export class Notifier {
  /** Posts in flight, each with the name of its webhook. */
  private readonly inFlight = new Map<Promise<void>, string>();
  private readonly stopping = new AbortController();
  private readonly dispatcher: Dispatcher | undefined;
  private readonly ownsDispatcher: boolean;
  private readonly clock: () => Date;
  private readonly host: string;

  constructor(private readonly options: NotifierOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.host = options.host ?? hostname();
    this.ownsDispatcher = options.dispatcher === undefined && options.webhooks.length > 0;
    this.dispatcher =
      options.dispatcher ??
      (options.webhooks.length === 0
        ? undefined
        : createDispatcher({
            connections: 2,
            timeouts: {
              connectMs: 10_000,
              headersMs: Math.max(...options.webhooks.map((w) => w.timeoutMs)),
              bodyMs: Math.max(...options.webhooks.map((w) => w.timeoutMs)),
            },
            env: options.env ?? {},
          }));
  }

  /** Notifications for the config's webhooks; none configured is a notifier that does nothing. */
  static forConfig(
    config: Pick<Config, 'notify' | 'state'>,
    deps: { logger: Logger; env?: Env },
  ): Notifier {
    return new Notifier({
      webhooks: webhookTargets(config),
      statusFile: notifyStatusFile(config),
      logger: deps.logger,
      ...(deps.env === undefined ? {} : { env: deps.env }),
    });
  }

  /** Posts in flight. */
  get pending(): number {
    return this.inFlight.size;
  }

  /**
   * Tells the notifier how a run ended. Returns at once: the status is recorded now, the posts
   * go out in the background. Returns the events of the run (`recovered` included).
   */
  runFinished(notice: RunNotice): NotifyEvent[] {
    if (this.options.webhooks.length === 0) return [];
    const at = this.clock().toISOString();
    const bad = runEvents(notice);
    const last = this.readStatus();
    let events = bad;
    let previous: NotifyEvent[] | undefined;
    if (bad.length === 0 && last?.status === 'bad') {
      events = ['recovered'];
      previous = last.events;
    }
    if (bad.length > 0 || last?.status !== 'good') {
      this.writeStatus({
        status: bad.length > 0 ? 'bad' : 'good',
        events: bad,
        runId: notice.runId,
        at,
      });
    }
    if (events.length === 0) return [];

    const rails = railsOf(notice);
    const failures = failuresOf(notice);
    const error = stopReason(notice);
    const held = notice.report?.held ?? [];
    const base = {
      events,
      runId: notice.runId,
      at,
      host: this.host,
      summary: summaryOf(events, notice, rails, previous),
      rails,
      failures: failures
        .slice(0, SAMPLE_SIZE)
        .map((f) => ({ kind: f.kind, email: f.email, error: f.error })),
      failuresTotal: failures.length,
      held: held
        .slice(0, SAMPLE_SIZE)
        .map((h) => ({ kind: h.kind, email: h.email, reason: h.heldBy ?? h.reason ?? '' })),
      heldTotal: held.length,
      ...(error === undefined ? {} : { error }),
      ...(held.length === 0 || notice.report?.planFile === undefined
        ? {}
        : { planFile: notice.report.planFile }),
      ...(previous === undefined ? {} : { previous }),
    };
    for (const target of this.options.webhooks) {
      const event = events.find((e) => target.events.includes(e));
      if (event === undefined) continue;
      this.track(this.post(target, { event, ...base }), target.name);
    }
    return events;
  }

  /**
   * Waits at most `maxWaitMs` for the posts in flight, then drops the rest (logged) and closes
   * the connections, so that a hanging receiver cannot keep the process alive.
   */
  async close(maxWaitMs = DEFAULT_DRAIN_MS): Promise<void> {
    if (this.inFlight.size > 0) {
      const timer = new AbortController();
      const settled = await Promise.race([
        Promise.allSettled([...this.inFlight.keys()]).then(() => true),
        sleep(maxWaitMs, false, { signal: timer.signal }).catch(() => false),
      ]);
      timer.abort();
      if (!settled) {
        this.options.logger.warn('notifications still in flight at exit; dropped', {
          webhooks: [...new Set(this.inFlight.values())],
          waitedMs: maxWaitMs,
        });
      }
    }
    this.stopping.abort();
    await Promise.allSettled([...this.inFlight.keys()]);
    if (this.ownsDispatcher) await this.dispatcher?.destroy();
  }

  private track(promise: Promise<void>, name: string): void {
    this.inFlight.set(promise, name);
    void promise.finally(() => this.inFlight.delete(promise));
  }

  private readStatus(): NotifyStatus | undefined {
    try {
      const parsed = JSON.parse(readFileSync(this.options.statusFile, 'utf8')) as NotifyStatus;
      return parsed.status === 'good' || parsed.status === 'bad' ? parsed : undefined;
    } catch {
      return undefined; // none yet, or unreadable: no recovery to announce
    }
  }

  private writeStatus(status: NotifyStatus): void {
    try {
      writeFileAtomic(this.options.statusFile, JSON.stringify(status) + '\n');
    } catch (error) {
      this.options.logger.warn(
        'notification status cannot be saved; a recovery may go unannounced',
        {
          file: this.options.statusFile,
          error: describeError(error),
        },
      );
    }
  }

  private async post(target: WebhookTarget, n: Notification): Promise<void> {
    const { logger } = this.options;
    const retry = this.options.retry ?? DEFAULT_RETRY;
    const body = JSON.stringify(payloadFor(target.format, n));
    const meta = { webhook: target.name, format: target.format, event: n.event, runId: n.runId };
    for (let attempt = 1; ; attempt++) {
      let problem: string;
      let retryable: boolean;
      let waitMs = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
      const timeout = AbortSignal.timeout(target.timeoutMs);
      try {
        const res = await request(target.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'dirsync' },
          body,
          ...(this.dispatcher === undefined ? {} : { dispatcher: this.dispatcher }),
          signal: AbortSignal.any([timeout, this.stopping.signal]),
        });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) {
          logger.info('notification sent', { ...meta, attempts: attempt });
          return;
        }
        problem = `HTTP ${res.statusCode}`;
        retryable = res.statusCode === 429 || res.statusCode >= 500;
        // Delta-seconds or an HTTP date, read as the API client reads it.
        const after = parseRetryAfter(res.headers['retry-after'], this.clock().getTime());
        if (after !== undefined) waitMs = Math.min(30_000, after);
      } catch (error) {
        if (this.stopping.signal.aborted) return;
        problem = timeout.aborted
          ? `no answer within ${target.timeoutMs} ms`
          : scrub(describeError(error), target.url);
        retryable = true;
      }
      if (!retryable || attempt >= retry.attempts) {
        logger.warn('notification failed', { ...meta, attempts: attempt, error: problem });
        return;
      }
      logger.debug('notification attempt failed; retrying', {
        ...meta,
        attempt,
        error: problem,
        retryInMs: waitMs,
      });
      try {
        await sleep(waitMs, undefined, { signal: this.stopping.signal });
      } catch {
        return;
      }
    }
  }
}
