// Slack-compatible webhook messages about proposals that need people (docs/notifications.md): the payload,
// the URL check, the retry schedule and one delivery attempt. A webhook URL is a credential (whoever has a
// Slack incoming-webhook URL can post to the channel), so nothing here puts it, or any part of it, into an
// error message, a log field or a metric label.
import { applyJitter, exponentialDelay } from '../runtime/backoff.ts';

/** The proposal phases that notify, named as the phase they enter. */
export const NOTIFICATION_EVENTS = ['AwaitingApproval', 'Expired', 'Failed'] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

/**
 * Per attempt: delivered (2xx), failed (this attempt failed; retried unless it was the last), dropped
 * (given up: attempts exhausted, a permanent refusal, the queue full or the transition too old), superseded
 * (an approval request the proposal no longer needs: approved, rejected or expired meanwhile).
 */
export const NOTIFICATION_RESULTS = ['delivered', 'failed', 'dropped', 'superseded'] as const;
export type NotificationResult = (typeof NOTIFICATION_RESULTS)[number];

export function isNotificationEvent(value: unknown): value is NotificationEvent {
  return typeof value === 'string' && (NOTIFICATION_EVENTS as readonly string[]).includes(value);
}

/** What a notification says about one proposal. */
export interface ProposalNotice {
  event: NotificationEvent;
  namespace: string;
  name: string;
  uid: string;
  summary: string;
  submittedBy: string;
  agent: string;
  /** The Decision's outcome (REQUIRE_HUMAN, ALLOW). */
  outcome: string;
  /** The Decision's findings. */
  reasons: readonly { code: string; outcome?: string | undefined; message: string }[];
  /** Proposal.status.message (for Failed: which Job failed and why). */
  statusMessage?: string | undefined;
  /** When approvals stop counting (AwaitingApproval, Expired). */
  expiresAt?: string | undefined;
  proposalHash?: string | undefined;
  requiredApprovals?: number | undefined;
}

interface TextObject {
  type: 'plain_text' | 'mrkdwn';
  text: string;
}
export type SlackBlock =
  | { type: 'header'; text: TextObject }
  | { type: 'section'; text: TextObject }
  | { type: 'context'; elements: TextObject[] };

export interface SlackMessage {
  /** The fallback (and notification) text; also what non-Slack receivers read. */
  text: string;
  blocks: SlackBlock[];
}

/** Slack's limits: header 150 characters, section text 3000; we stay below. */
const HEADER_MAX = 150;
const SECTION_MAX = 2900;
const REASONS_SHOWN = 10;
const REASON_MAX = 300;

/**
 * Slack mrkdwn control characters. The summary and reasons are the agent's words: escaped, `<!channel>`,
 * `<@U123>` or `<https://…|label>` in them stay text instead of pinging a channel or hiding a link.
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const HEADLINE: Record<NotificationEvent, string> = {
  AwaitingApproval: 'Approval needed',
  Expired: 'Approval window expired',
  Failed: 'Governed job failed',
};

/** The webhook body for a notice: `{ text, blocks }`, valid for Slack incoming webhooks. Pure. */
export function notificationPayload(n: ProposalNotice): SlackMessage {
  const ref = `${n.namespace}/${n.name}`;
  const summary = clip(n.summary.replace(/\s+/g, ' ').trim(), 300);
  const lines = [
    `*Proposal:* \`${ref}\``,
    `*Summary:* ${escapeMrkdwn(summary)}`,
    `*Submitted by:* ${escapeMrkdwn(n.submittedBy)} (agent ${escapeMrkdwn(n.agent)})`,
    `*Outcome:* ${escapeMrkdwn(n.outcome)} → phase *${n.event}*`,
  ];
  if (n.event === 'AwaitingApproval' && n.expiresAt !== undefined) lines.push(`*Approve before:* ${escapeMrkdwn(n.expiresAt)}`);
  if (n.event === 'AwaitingApproval' && n.requiredApprovals !== undefined) lines.push(`*Approvals required:* ${n.requiredApprovals}`);
  if (n.event === 'Expired') lines.push(`*Expired at:* ${escapeMrkdwn(n.expiresAt ?? '(unknown)')} — nothing ran; the agent may propose again.`);
  if (n.event === 'Failed' && n.statusMessage) lines.push(`*Result:* ${escapeMrkdwn(clip(n.statusMessage, 600))}`);

  // As many reasons as fit (at most REASONS_SHOWN), then how many were left out and where to see them.
  const shown: string[] = [];
  let used = '*Reasons*\n'.length + 200;
  for (const r of n.reasons.slice(0, REASONS_SHOWN)) {
    const line = `• \`${escapeMrkdwn(clip(r.code, 64))}\`${r.outcome ? ` (${escapeMrkdwn(r.outcome)})` : ''}: ${escapeMrkdwn(clip(r.message, REASON_MAX))}`;
    if (used + line.length + 1 > SECTION_MAX) break;
    shown.push(line);
    used += line.length + 1;
  }
  if (shown.length < n.reasons.length) shown.push(`… and ${n.reasons.length - shown.length} more (\`kubectl m87 explain ${n.name} -n ${n.namespace}\`)`);

  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(`${HEADLINE[n.event]}: ${ref}`, HEADER_MAX) } },
    { type: 'section', text: { type: 'mrkdwn', text: clip(lines.join('\n'), SECTION_MAX) } },
  ];
  if (shown.length > 0) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*Reasons*\n${shown.join('\n')}`, SECTION_MAX) } });
  if (n.event === 'AwaitingApproval') {
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text:
          `*How to approve* (as an approver; you cannot approve your own proposal)\n` +
          `\`kubectl m87 approve ${n.name} -n ${n.namespace}\` (or \`kubectl m87 reject …\`), ` +
          `or open the console with \`kubectl m87 ui\` and choose the proposal.`,
      },
    });
  } else {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Details:* \`kubectl m87 explain ${n.name} -n ${n.namespace}\`` } });
  }
  const context = [`uid ${n.uid}`];
  if (n.proposalHash !== undefined) context.push(`hash ${n.proposalHash}`);
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: context.join(' · ') }] });

  const text =
    n.event === 'AwaitingApproval'
      ? `M87: proposal ${ref} needs approval: ${summary}. Approve with: kubectl m87 approve ${n.name} -n ${n.namespace}`
      : n.event === 'Expired'
        ? `M87: proposal ${ref} expired without approval: ${summary}`
        : `M87: the job of proposal ${ref} failed: ${summary}`;
  return { text: escapeMrkdwn(text), blocks };
}

/** A refused webhook URL. The message never contains the URL. */
export class WebhookUrlError extends Error {
  override name = 'WebhookUrlError';
}

/** Parses the configured webhook URL; only absolute http(s) URLs with a host pass. */
export function parseWebhookUrl(raw: string): URL {
  const trimmed = raw.trim();
  if (trimmed === '') throw new WebhookUrlError('the webhook URL is empty');
  if (/\s/.test(trimmed)) throw new WebhookUrlError('the webhook URL contains whitespace');
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new WebhookUrlError('the webhook URL is not an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    // The scheme is not secret and helps whoever fixes the Secret.
    throw new WebhookUrlError(`the webhook URL must be http or https, not ${JSON.stringify(url.protocol.replace(/:$/, '').slice(0, 16))}`);
  }
  if (url.hostname === '') throw new WebhookUrlError('the webhook URL has no host');
  return url;
}

export interface RetryPolicy {
  /** Attempts in total, the first included. */
  maxAttempts: number;
  /** Delay after the first failed attempt. */
  initialDelayMs: number;
  /** Cap of the (un-jittered) delay. */
  maxDelayMs: number;
  /** Fraction of each delay that is randomised (0 … 1). */
  jitter: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, initialDelayMs: 1000, maxDelayMs: 5 * 60_000, jitter: 0.2 };

export function validateRetryPolicy(p: RetryPolicy): void {
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1) throw new Error('notifications retry.maxAttempts must be a positive integer');
  if (!(p.initialDelayMs > 0)) throw new Error('notifications retry.initialDelayMs must be > 0');
  if (!(p.maxDelayMs >= p.initialDelayMs)) throw new Error('notifications retry.maxDelayMs must be >= initialDelayMs');
  if (!(p.jitter >= 0 && p.jitter <= 1)) throw new Error('notifications retry.jitter must be within [0, 1]');
}

/** Delay before the next attempt after `failedAttempts` (≥ 1) failures: doubling from initialDelayMs, capped, jittered. */
export function retryDelayMs(failedAttempts: number, p: RetryPolicy, random: () => number = Math.random): number {
  const base = exponentialDelay(Math.max(0, failedAttempts - 1), { initialMs: p.initialDelayMs, maxMs: p.maxDelayMs });
  return applyJitter(base, p.jitter, random);
}

/** The un-jittered delays between the attempts of one notification (maxAttempts − 1 of them). */
export function retrySchedule(p: RetryPolicy): number[] {
  return Array.from({ length: p.maxAttempts - 1 }, (_, i) => retryDelayMs(i + 1, { ...p, jitter: 0 }));
}

export type DeliveryOutcome =
  | { ok: true; status: number }
  /** error: a short code safe to log (an HTTP status, a socket error code, "timeout"); never the URL. */
  | { ok: false; error: string; retryable: boolean };

/** 4xx answers that may pass: timeout, too early, rate limited. Every other 4xx is the receiver refusing for good. */
const RETRYABLE_4XX = new Set([408, 425, 429]);

/** A log-safe code for a failed fetch: the socket error code, or the error's class name. */
function errorCode(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'timeout';
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string' && /^[A-Z0-9_]{2,40}$/.test(cause.code)) return cause.code;
  return 'network_error';
}

/**
 * POSTs the message once. Redirects are not followed (a 3xx is a failure: the configured URL is the
 * only address this sends to).
 */
export async function postWebhook(url: URL, message: SlackMessage, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<DeliveryOutcome> {
  const signal = opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(opts.timeoutMs)]) : AbortSignal.timeout(opts.timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'm87-controller' },
      body: JSON.stringify(message),
      redirect: 'manual',
      signal,
    });
  } catch (err) {
    return { ok: false, error: errorCode(err), retryable: true };
  }
  // Drain the body (so the connection can be reused) without keeping it: it may echo the request.
  await response.body?.cancel().catch(() => undefined);
  if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
  const permanent = response.status >= 400 && response.status < 500 && !RETRYABLE_4XX.has(response.status);
  return { ok: false, error: `http_${response.status}`, retryable: !permanent };
}
