import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { NOTIFY_EVENTS, type NotifyEvent } from '../../../src/config/schema.js';
import { ConfigError, DirectoryError, SafetyError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import {
  Notifier,
  webhookTargets,
  type RunNotice,
  type WebhookTarget,
} from '../../../src/notify/notifier.js';
import { startReceiver, type Answer, type Receiver } from '../../support/receiver.js';

const receivers: Receiver[] = [];
const notifiers: Notifier[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const n of notifiers.splice(0)) await n.close(0);
  for (const r of receivers.splice(0)) await r.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A webhook path shaped like Slack's: the secret part of the URL. */
const SECRET_PATH = '/services/T0001/B0002/s3cr3tWebhookPath';

async function receiver(answer?: (index: number) => Answer): Promise<Receiver> {
  const r = await startReceiver(answer === undefined ? undefined : (i) => answer(i));
  receivers.push(r);
  return r;
}

function aNotifier(
  webhooks: (Partial<WebhookTarget> & { url: string })[],
  options: { statusFile?: string } = {},
): { notifier: Notifier; logs: () => string; statusFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dirsync-notify-'));
  dirs.push(dir);
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  const statusFile = options.statusFile ?? join(dir, 'notify-status.json');
  const notifier = new Notifier({
    webhooks: webhooks.map((w, i) => ({
      name: `webhook ${i + 1}`,
      format: 'json',
      events: NOTIFY_EVENTS,
      timeoutMs: 2_000,
      ...w,
    })),
    statusFile,
    logger: createLogger({ level: 'debug', format: 'json', stream }),
    retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 },
    host: 'dirsync-test',
    clock: () => new Date('2026-11-30T10:00:00.000Z'),
  });
  notifiers.push(notifier);
  return { notifier, logs: () => text, statusFile };
}

const refused: RunNotice = {
  runId: 'run-refused',
  // The rails come from the error's structure, not from its message text.
  error: new SafetyError('safety rails refused the plan', {
    refusals: [
      { rail: 'lastSuper', message: 'the plan leaves no SUPER' },
      { rail: 'emptyRead', message: 'the read found no users' },
    ],
  }),
};
const failed: RunNotice = {
  runId: 'run-failed',
  error: new DirectoryError('LDAP server unreachable: ldaps://dc1.corp.example.com'),
};
const withFailures: RunNotice = {
  runId: 'run-partial',
  report: {
    failures: Array.from({ length: 12 }, (_, i) => ({
      kind: 'set_smartcards',
      email: `user${i}@corp.example.com`,
      error: 'HTTP 400: card held by another user',
    })),
  },
};
const withHeld: RunNotice = {
  runId: 'run-held',
  report: {
    failures: [],
    held: [
      {
        kind: 'remove',
        email: 'leaver@corp.example.com',
        reason: 'gone for 8 days',
        heldBy: 'maxDeletes: 30 removals, over 25',
      },
    ],
    rails: { tripped: [{ rail: 'maxDeletes', message: '30 removals, over 25' }], forced: false },
    planFile: '/var/lib/dirsync/plans/held-2026-11-30T10-00-00-000Z.json',
  },
};
const good: RunNotice = { runId: 'run-good', report: { failures: [] } };

async function bodyOf(notice: RunNotice): Promise<Record<string, unknown>> {
  const r = await receiver();
  const { notifier } = aNotifier([{ url: r.url + SECRET_PATH }]);
  notifier.runFinished(notice);
  const [got] = await r.waitFor(1);
  return got!.body as Record<string, unknown>;
}

describe('notifications: events', () => {
  it('posts a refused run with its rails, and nothing changed', async () => {
    const body = await bodyOf(refused);

    expect(body).toMatchObject({
      source: 'dirsync',
      event: 'refused',
      events: ['refused'],
      runId: 'run-refused',
      host: 'dirsync-test',
      at: '2026-11-30T10:00:00.000Z',
      rails: [
        { rail: 'lastSuper', message: 'the plan leaves no SUPER' },
        { rail: 'emptyRead', message: 'the read found no users' },
      ],
      failuresTotal: 0,
    });
    expect(body['summary']).toContain('refused the run (lastSuper, emptyRead)');
  });

  it('posts a run that failed with its error', async () => {
    const body = await bodyOf(failed);

    expect(body).toMatchObject({
      event: 'failed',
      runId: 'run-failed',
      error: 'LDAP server unreachable: ldaps://dc1.corp.example.com',
      rails: [],
    });
  });

  it('posts failed actions: a sample of ten and the total', async () => {
    const body = await bodyOf(withFailures);

    expect(body).toMatchObject({ event: 'actions_failed', failuresTotal: 12 });
    expect(body['failures']).toHaveLength(10);
    expect((body['failures'] as unknown[])[0]).toEqual({
      kind: 'set_smartcards',
      email: 'user0@corp.example.com',
      error: 'HTTP 400: card held by another user',
    });
    expect(body['summary']).toContain('12 actions failed');
  });

  it('posts held actions with the rail that held them', async () => {
    const body = await bodyOf(withHeld);

    expect(body).toMatchObject({
      event: 'held',
      heldTotal: 1,
      held: [
        {
          kind: 'remove',
          email: 'leaver@corp.example.com',
          reason: 'maxDeletes: 30 removals, over 25',
        },
      ],
      rails: [{ rail: 'maxDeletes', message: '30 removals, over 25' }],
      planFile: '/var/lib/dirsync/plans/held-2026-11-30T10-00-00-000Z.json',
    });
  });

  it('counts unclear toggles with the failed actions, and a stopped apply as a failed run', async () => {
    const unclear = await bodyOf({
      runId: 'run-unclear',
      report: {
        failures: [],
        unclear: [{ kind: 'suspend', email: 'joe@corp.example.com', reason: 'no answer' }],
      },
    });
    const stopped = await bodyOf({
      runId: 'run-stopped',
      report: {
        failures: [],
        stopped: { reason: 'the API refused the token (403)', hint: 'give it write rights' },
      },
    });

    expect(unclear).toMatchObject({
      event: 'actions_failed',
      failures: [{ kind: 'suspend', email: 'joe@corp.example.com', error: 'unclear: no answer' }],
      summary: '1 toggle unclear',
    });
    expect(stopped).toMatchObject({
      event: 'failed',
      error: 'the API refused the token (403) (to fix: give it write rights)',
    });
  });

  it('posts nothing for a good run, then once `recovered` after a bad one, kept across processes', async () => {
    const r = await receiver();
    const first = aNotifier([{ url: r.url }]);
    expect(first.notifier.runFinished(good)).toEqual([]);
    expect(first.notifier.runFinished(failed)).toEqual(['failed']);
    await r.waitFor(1);
    await first.notifier.close();

    // A later process (the next cron run) reads the status beside the state record.
    const second = aNotifier([{ url: r.url }], { statusFile: first.statusFile });
    expect(second.notifier.runFinished(good)).toEqual(['recovered']);
    expect(second.notifier.runFinished(good)).toEqual([]);
    await r.waitFor(2);
    await second.notifier.close();

    expect(r.received.map((x) => (x.body as { event: string }).event)).toEqual([
      'failed',
      'recovered',
    ]);
    expect(r.received[1]!.body).toMatchObject({ runId: 'run-good', previous: ['failed'] });
  });

  it('sends a webhook only the events it asked for, the most serious first', async () => {
    const all = await receiver();
    const onlyRefusals = await receiver();
    const { notifier } = aNotifier([
      { url: all.url },
      { url: onlyRefusals.url, events: ['refused', 'recovered'] satisfies NotifyEvent[] },
    ]);

    notifier.runFinished({
      ...withHeld,
      report: { ...withHeld.report!, failures: withFailures.report!.failures },
    });
    notifier.runFinished(refused);
    await all.waitFor(2);
    await onlyRefusals.waitFor(1);
    await notifier.close();

    expect(all.received.map((x) => x.body)).toEqual([
      expect.objectContaining({ event: 'held', events: ['held', 'actions_failed'] }),
      expect.objectContaining({ event: 'refused' }),
    ]);
    expect(onlyRefusals.received.map((x) => (x.body as { event: string }).event)).toEqual([
      'refused',
    ]);
  });
});

describe('notifications: formats', () => {
  it('posts Slack-compatible {"text"} with the headline, the summary and the details, escaped', async () => {
    const r = await receiver();
    const { notifier } = aNotifier([{ url: r.url, format: 'slack' }]);

    notifier.runFinished({
      runId: 'run-x',
      report: {
        failures: [{ kind: 'set_rank', email: 'a<b>@corp.example.com', error: 'HTTP 403 & more' }],
      },
    });
    const [got] = await r.waitFor(1);

    expect(got!.contentType).toBe('application/json');
    expect(Object.keys(got!.body as object)).toEqual(['text']);
    const text = (got!.body as { text: string }).text;
    expect(text.split('\n')).toEqual([
      '*dirsync run run-x on dirsync-test had failed actions*',
      '1 action failed',
      '• failed set_rank a&lt;b&gt;@corp.example.com: HTTP 403 &amp; more',
    ]);
  });

  it('posts a Teams-compatible Adaptive Card message', async () => {
    const r = await receiver();
    const { notifier } = aNotifier([{ url: r.url, format: 'teams' }]);

    notifier.runFinished(refused);
    const [got] = await r.waitFor(1);

    const body = got!.body as {
      type: string;
      attachments: { contentType: string; content: Record<string, unknown> }[];
    };
    expect(body.type).toBe('message');
    expect(body.attachments).toHaveLength(1);
    expect(body.attachments[0]!.contentType).toBe('application/vnd.microsoft.card.adaptive');
    const card = body.attachments[0]!.content as { type: string; version: string; body: unknown[] };
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    expect(card.body).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: 'TextBlock',
          text: 'dirsync run run-refused on dirsync-test was refused by the safety rails',
        }),
        expect.objectContaining({
          type: 'FactSet',
          facts: expect.arrayContaining([{ title: 'Run', value: 'run-refused' }]) as unknown,
        }),
        expect.objectContaining({
          type: 'TextBlock',
          text: '- rail lastSuper: the plan leaves no SUPER\n- rail emptyRead: the read found no users',
        }),
      ]),
    );
  });
});

describe('notifications: delivery', () => {
  it.each([
    ['a 503', { status: 503 }],
    ['a 429 with Retry-After', { status: 429, headers: { 'retry-after': '0' } }],
    ['a cut connection', 'destroy'],
  ] satisfies [string, Answer][])('retries after %s', async (_name, first) => {
    const r = await receiver((i) => (i < 2 ? first : { status: 200 }));
    const { notifier, logs } = aNotifier([{ url: r.url + SECRET_PATH }]);

    notifier.runFinished(failed);
    await r.waitFor(3);
    await notifier.close();

    expect(r.received).toHaveLength(3);
    expect(r.received.every((x) => x.path === SECRET_PATH)).toBe(true);
    expect(logs()).toContain('"message":"notification sent"');
    expect(logs()).toContain('"attempts":3');
  });

  it('honours a Retry-After given as an HTTP date, as the API client does', async () => {
    // The notifier's clock says 10:00:00 GMT: the server is ready now, so no backoff.
    const retryAfter = { 'retry-after': 'Mon, 30 Nov 2026 10:00:00 GMT' };
    const r = await receiver((i) =>
      i < 1 ? { status: 429, headers: retryAfter } : { status: 200 },
    );
    const { notifier, logs } = aNotifier([{ url: r.url + SECRET_PATH }]);

    notifier.runFinished(failed);
    await r.waitFor(2);
    await notifier.close();

    expect(r.received).toHaveLength(2);
    expect(logs()).toContain('"retryInMs":0');
    expect(logs()).toContain('"attempts":2');
  });

  it('does not retry a 400, and says which webhook failed without its URL', async () => {
    const r = await receiver(() => ({ status: 400 }));
    const { notifier, logs } = aNotifier([{ url: r.url + SECRET_PATH, name: 'ops-chat' }]);

    notifier.runFinished(failed);
    await r.waitFor(1);
    await notifier.close();

    expect(r.received).toHaveLength(1);
    const line = logs()
      .split('\n')
      .find((l) => l.includes('notification failed'));
    expect(JSON.parse(line!)).toMatchObject({
      level: 'warn',
      webhook: 'ops-chat',
      error: 'HTTP 400',
      attempts: 1,
    });
  });

  it('never writes the URL into logs, whether the receiver errs, is down, or answers slowly', async () => {
    const erring = await receiver(() => ({ status: 500 }));
    const slow = await receiver(() => 'hang');
    const down = await receiver();
    await down.close();
    receivers.splice(receivers.indexOf(down), 1);
    const { notifier, logs } = aNotifier([
      { url: `${erring.url}${SECRET_PATH}?token=s3cr3tQuery` },
      { url: `${down.url}${SECRET_PATH}` },
      { url: `${slow.url}${SECRET_PATH}`, timeoutMs: 100 },
    ]);

    notifier.runFinished(failed);
    await erring.waitFor(4);
    await slow.waitFor(4);
    await notifier.close();

    const text = logs();
    expect(text).toContain('"webhook":"webhook 1"');
    expect(text).toContain('"webhook":"webhook 2"');
    expect(text).toContain('"webhook":"webhook 3"');
    expect(text).toContain('no answer within 100 ms');
    expect(text).not.toContain('s3cr3t');
    expect(text).not.toContain(down.url.replace('http://', ''));
  });

  it('returns from runFinished at once and drops a post to a hanging receiver after the bounded wait', async () => {
    const r = await receiver(() => 'hang');
    const { notifier, logs } = aNotifier([{ url: r.url, timeoutMs: 60_000, name: 'stuck' }]);

    const events = notifier.runFinished(failed);
    const pendingAfterReturn = notifier.pending;
    await r.waitFor(1);
    await notifier.close(50);

    expect(events).toEqual(['failed']);
    expect(pendingAfterReturn).toBe(1);
    expect(notifier.pending).toBe(0);
    expect(logs()).toContain('notifications still in flight at exit; dropped');
    expect(logs()).toContain('"webhooks":["stuck"]');
  });
});

describe('notifications: config', () => {
  it('reads the URL from urlFile, and names the key, never the content, when it is not a URL', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dirsync-notify-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'good'), 'https://hooks.example.com/services/abc\n');
    writeFileSync(join(dir, 'bad'), 'not-a-url-s3cr3t\n');
    const config = (urlFile: string) => ({
      notify: {
        webhooks: [{ urlFile, format: 'json' as const, timeoutMs: 1000 }],
      },
    });

    expect(webhookTargets(config(join(dir, 'good')))[0]).toMatchObject({
      name: 'webhook 1',
      url: 'https://hooks.example.com/services/abc',
      events: NOTIFY_EVENTS,
    });
    expect(() => webhookTargets(config(join(dir, 'bad')))).toThrow(ConfigError);
    expect(() => webhookTargets(config(join(dir, 'bad')))).toThrow(
      /notify\.webhooks\[0\]\.urlFile: .*bad does not hold an http\(s\) URL/,
    );
    expect(() => webhookTargets(config(join(dir, 'bad')))).not.toThrow(/s3cr3t/);
    expect(() => webhookTargets(config(join(dir, 'missing')))).toThrow(/cannot be read \(ENOENT\)/);
  });
});
