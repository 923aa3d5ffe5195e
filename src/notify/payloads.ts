import type { NotifyEvent } from '../config/schema.js';

/** How many failed or held actions a notification names; the totals are always given. */
export const SAMPLE_SIZE = 10;

/** What a notification says, whatever the format it is sent in. */
export interface Notification {
  /** The most serious of `events` that the webhook asked for. */
  event: NotifyEvent;
  /** Every event of the run: a run may both hold actions and have some fail. */
  events: NotifyEvent[];
  runId: string;
  /** When the run finished (ISO 8601). */
  at: string;
  host: string;
  /** One line for people. */
  summary: string;
  /** The rails that refused the run or held its actions. */
  rails: { rail: string; message: string }[];
  failures: { kind: string; email: string; error: string }[];
  failuresTotal: number;
  /** `reason`: why it was held (the rail and its limit). */
  held: { kind: string; email: string; reason: string }[];
  heldTotal: number;
  /** Where the held actions are saved: review, then `dirsync apply --plan <planFile>`. */
  planFile?: string;
  /** What stopped a failed or refused run. */
  error?: string;
  /** recovered: the events of the bad run before. */
  previous?: NotifyEvent[];
}

/** The order of seriousness, most serious first. */
export const EVENT_ORDER: readonly NotifyEvent[] = [
  'failed',
  'refused',
  'held',
  'actions_failed',
  'recovered',
];

const HEADLINE: Record<NotifyEvent, string> = {
  failed: 'failed',
  refused: 'was refused by the safety rails',
  held: 'held actions back for review',
  actions_failed: 'had failed actions',
  recovered: 'recovered',
};

export function headline(n: Notification): string {
  return `dirsync run ${n.runId} on ${n.host} ${HEADLINE[n.event]}`;
}

/** Control characters from hostile values never reach a chat client. */
function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, ' ');
}

/** The detail lines of a notification, plain text, one item a line. */
export function detailLines(n: Notification): string[] {
  const lines: string[] = [];
  for (const r of n.rails) lines.push(`rail ${r.rail}: ${r.message}`);
  if (n.error !== undefined && n.rails.length === 0) lines.push(`error: ${n.error}`);
  for (const f of n.failures) lines.push(`failed ${f.kind} ${f.email}: ${f.error}`);
  if (n.failuresTotal > n.failures.length)
    lines.push(`... and ${n.failuresTotal - n.failures.length} more failed actions`);
  for (const h of n.held) lines.push(`held ${h.kind} ${h.email}: ${h.reason}`);
  if (n.heldTotal > n.held.length)
    lines.push(`... and ${n.heldTotal - n.held.length} more held actions`);
  if (n.planFile !== undefined)
    lines.push(
      `held actions saved in ${n.planFile}: review, then dirsync apply --plan ${n.planFile}`,
    );
  return lines.map((l) => clean(l.replace(/\n/g, ' ')));
}

/** The generic JSON payload: the notification as it is. */
export function jsonPayload(n: Notification): Record<string, unknown> {
  return { source: 'dirsync', ...n };
}

function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Slack (and Mattermost, Rocket.Chat) incoming webhooks: `{"text": ...}`. */
export function slackPayload(n: Notification): { text: string } {
  const lines = [
    `*${slackEscape(clean(headline(n)))}*`,
    slackEscape(clean(n.summary)),
    ...detailLines(n).map((l) => `• ${slackEscape(l)}`),
  ];
  return { text: lines.join('\n') };
}

/**
 * Microsoft Teams: an Adaptive Card in a message, what a Teams "Workflows" webhook (the
 * successor of the retired Office 365 connectors) posts to a channel.
 */
export function teamsPayload(n: Notification): Record<string, unknown> {
  const good = n.event === 'recovered';
  const details = detailLines(n);
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            {
              type: 'TextBlock',
              text: clean(headline(n)),
              weight: 'Bolder',
              size: 'Medium',
              wrap: true,
              color: good ? 'Good' : 'Attention',
            },
            { type: 'TextBlock', text: clean(n.summary), wrap: true },
            {
              type: 'FactSet',
              facts: [
                { title: 'Run', value: n.runId },
                { title: 'Host', value: clean(n.host) },
                { title: 'Events', value: n.events.join(', ') },
                { title: 'At', value: n.at },
              ],
            },
            ...(details.length === 0
              ? []
              : [{ type: 'TextBlock', text: details.map((l) => `- ${l}`).join('\n'), wrap: true }]),
          ],
        },
      },
    ],
  };
}

export function payloadFor(format: 'json' | 'slack' | 'teams', n: Notification): unknown {
  switch (format) {
    case 'json':
      return jsonPayload(n);
    case 'slack':
      return slackPayload(n);
    case 'teams':
      return teamsPayload(n);
  }
}
