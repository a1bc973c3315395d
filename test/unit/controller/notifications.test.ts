// Webhook notifications without a cluster: the Slack-compatible payload, the URL check, the retry schedule,
// one delivery against a receiver on 127.0.0.1, the bounded queue (retries, cap, give-up, superseded,
// fence), the hand-off that records a delivery in Proposal.status, the metric families and the CLI flags.
// The cluster side (Secret, leader, status record, gauge) is test/integration/controller/notifications.test.ts.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { notificationsConfig } from '../../../src/cli/controller-command.ts';
import { ControllerMetrics } from '../../../src/controller/metrics.ts';
import {
  DEFAULT_RETRY,
  notificationPayload,
  parseWebhookUrl,
  postWebhook,
  retryDelayMs,
  retrySchedule,
  WebhookUrlError,
  type ProposalNotice,
  type SlackMessage,
} from '../../../src/controller/notification-webhook.ts';
import {
  countAwaitingApproval,
  DeliveryQueue,
  logNotificationResult,
  NOTIFIED_CONDITION,
  NotificationRecords,
  notifiedEvent,
} from '../../../src/controller/notifications.ts';
import type { ProposalStatus } from '../../../src/api/proposal.ts';
import type { KubeObject } from '../../../src/runtime/resource.ts';

const notice = (over: Partial<ProposalNotice> = {}): ProposalNotice => ({
  event: 'AwaitingApproval',
  namespace: 'team-a',
  name: 'deploy-42',
  uid: '0b5c7d3e-1111-2222-3333-444455556666',
  summary: 'Roll out <!channel> the new <https://evil.example|billing> service & friends',
  submittedBy: 'system:serviceaccount:team-a:casey',
  agent: 'casey',
  outcome: 'REQUIRE_HUMAN',
  reasons: [
    { code: 'RISK_ABOVE_THRESHOLD', outcome: 'REQUIRE_HUMAN', message: 'risk 0.9 > 0.5' },
    { code: 'DEPLOY_NEEDS_HUMAN', outcome: 'REQUIRE_HUMAN', message: 'deploys need a human' },
  ],
  expiresAt: '2026-12-06T06:00:00Z',
  proposalHash: 'a'.repeat(64),
  requiredApprovals: 1,
  ...over,
});

function blockTexts(m: SlackMessage): string[] {
  return m.blocks.flatMap((b) => (b.type === 'context' ? b.elements.map((e) => e.text) : [b.text.text]));
}

describe('notificationPayload', () => {
  it('AwaitingApproval: text and blocks with the proposal, summary, outcome, every reason and how to approve', () => {
    const m = notificationPayload(notice());
    expect(Object.keys(m).sort()).toEqual(['blocks', 'text']);
    expect(m.text).toContain('team-a/deploy-42');
    expect(m.text).toContain('kubectl m87 approve deploy-42 -n team-a');
    expect(m.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Approval needed: team-a/deploy-42' } });
    const all = blockTexts(m).join('\n');
    for (const part of ['team-a/deploy-42', 'REQUIRE_HUMAN', 'RISK_ABOVE_THRESHOLD', 'risk 0.9 &gt; 0.5', 'DEPLOY_NEEDS_HUMAN', 'kubectl m87 approve deploy-42 -n team-a', 'kubectl m87 ui', '2026-12-06T06:00:00Z', 'casey']) {
      expect(all).toContain(part);
    }
    expect(all).toContain('0b5c7d3e-1111-2222-3333-444455556666');
    for (const b of m.blocks) expect(['header', 'section', 'context']).toContain(b.type);
    // Valid JSON of a sane size; Slack's limits hold.
    expect(JSON.parse(JSON.stringify(m))).toEqual(m);
    expect((m.blocks[0] as { text: { text: string } }).text.text.length).toBeLessThanOrEqual(150);
    for (const t of blockTexts(m)) expect(t.length).toBeLessThanOrEqual(3000);
    expect(m.blocks.length).toBeLessThanOrEqual(50);
  });

  it("escapes the agent's words: no channel ping, no hidden link", () => {
    const m = notificationPayload(notice());
    const everything = m.text + blockTexts(m).join('\n');
    expect(everything).not.toContain('<!channel>');
    expect(everything).not.toContain('<https://evil.example');
    expect(everything).toContain('&lt;!channel&gt;');
    expect(everything).toContain('&amp; friends');
  });

  it('Expired and Failed: say what happened and where to look, with no approve command', () => {
    const expired = notificationPayload(notice({ event: 'Expired' }));
    expect(expired.blocks[0]).toMatchObject({ text: { text: 'Approval window expired: team-a/deploy-42' } });
    expect(blockTexts(expired).join('\n')).toContain('Expired at:* 2026-12-06T06:00:00Z');
    const failed = notificationPayload(notice({ event: 'Failed', outcome: 'ALLOW', reasons: [], statusMessage: 'Job deploy-42 failed: NoArtifacts' }));
    expect(failed.text).toContain('failed');
    expect(blockTexts(failed).join('\n')).toContain('Job deploy-42 failed: NoArtifacts');
    for (const m of [expired, failed]) {
      expect(m.text + blockTexts(m).join('\n')).not.toContain('kubectl m87 approve');
      expect(blockTexts(m).join('\n')).toContain('kubectl m87 explain deploy-42 -n team-a');
    }
  });

  it('caps long reason lists and long messages, and says how many were left out', () => {
    const short = Array.from({ length: 40 }, (_, i) => ({ code: `CODE_${i}`, message: 'short' }));
    const few = blockTexts(notificationPayload(notice({ reasons: short }))).join('\n');
    expect(few).toContain('`CODE_9`');
    expect(few).not.toContain('`CODE_10`');
    expect(few).toContain('and 30 more');
    const long = Array.from({ length: 40 }, (_, i) => ({ code: `CODE_${i}`, message: 'x'.repeat(5000) }));
    const m = notificationPayload(notice({ reasons: long, summary: 's'.repeat(5000) }));
    const text = blockTexts(m).join('\n');
    const shownCount = (text.match(/• `CODE_/g) ?? []).length;
    expect(shownCount).toBeGreaterThan(3);
    expect(text).toContain(`and ${40 - shownCount} more`);
    for (const t of blockTexts(m)) expect(t.length).toBeLessThanOrEqual(3000);
  });
});

describe('parseWebhookUrl', () => {
  const TOKEN = 'T000/B000/XXXXsecretXXXX';

  it('accepts absolute http and https URLs', () => {
    expect(parseWebhookUrl(`https://hooks.slack.test/services/${TOKEN}`).protocol).toBe('https:');
    expect(parseWebhookUrl(`  http://127.0.0.1:9/${TOKEN}\n`).hostname).toBe('127.0.0.1');
  });

  it.each([
    ['file:///etc/passwd'],
    ['ftp://127.0.0.1/x'],
    ['javascript:alert(1)'],
    ['data:text/plain,hi'],
    ['gopher://127.0.0.1/'],
    ['ws://127.0.0.1/'],
    ['/relative/path'],
    ['hooks.slack.test/services'],
    [''],
    ['https://hooks.slack.test/a b'],
  ])('refuses %j', (raw) => {
    expect(() => parseWebhookUrl(raw)).toThrow(WebhookUrlError);
  });

  it('never puts the URL into its error', () => {
    for (const raw of [`file:///${TOKEN}`, `ftp://u:p@h/${TOKEN}`, `not a url ${TOKEN}`, `https://h/${TOKEN} x`]) {
      let message = '';
      try {
        parseWebhookUrl(raw);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).not.toBe('');
      expect(message).not.toContain(TOKEN);
      expect(message).not.toContain('secret');
    }
  });
});

describe('retry schedule', () => {
  it('doubles from the initial delay up to the cap, one delay fewer than attempts', () => {
    expect(retrySchedule({ maxAttempts: 7, initialDelayMs: 1000, maxDelayMs: 10_000, jitter: 0.2 })).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(retrySchedule(DEFAULT_RETRY)).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 64_000]);
    expect(retrySchedule({ ...DEFAULT_RETRY, maxAttempts: 1 })).toEqual([]);
  });

  it('jitters each delay within [1 - jitter, 1] of it', () => {
    const p = { maxAttempts: 5, initialDelayMs: 1000, maxDelayMs: 60_000, jitter: 0.2 };
    expect(retryDelayMs(3, p, () => 0)).toBe(3200);
    expect(retryDelayMs(3, p, () => 1)).toBe(4000);
    expect(retryDelayMs(50, p, () => 1)).toBe(60_000);
  });
});

/** A webhook receiver on 127.0.0.1 that answers with the next status of `answers` (then 200). */
class Receiver {
  readonly bodies: unknown[] = [];
  readonly hits: string[] = [];
  answers: number[] = [];
  redirectTo: string | undefined;
  readonly #server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      this.hits.push(`${req.method ?? ''} ${req.url ?? ''}`);
      const status = this.answers.shift() ?? 200;
      if (status === 302 && this.redirectTo) {
        res.writeHead(302, { location: this.redirectTo }).end();
        return;
      }
      if (status === 200) this.bodies.push(JSON.parse(body));
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'nope');
    });
  });
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }
  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

describe('postWebhook (receiver on 127.0.0.1)', () => {
  const receiver = new Receiver();
  const other = new Receiver();
  let base = '';
  let otherBase = '';
  const message = notificationPayload(notice());
  beforeAll(async () => {
    base = await receiver.start();
    otherBase = await other.start();
  });
  afterAll(async () => {
    await receiver.close();
    await other.close();
  });

  it('POSTs the JSON message; 2xx is delivered', async () => {
    const r = await postWebhook(new URL(`${base}/hook/secret-token`), message, { timeoutMs: 5000 });
    expect(r).toEqual({ ok: true, status: 200 });
    expect(receiver.hits.at(-1)).toBe('POST /hook/secret-token');
    expect(receiver.bodies.at(-1)).toEqual(message);
  });

  it('5xx and 429 are retryable, other 4xx are final, and no outcome names the URL', async () => {
    receiver.answers = [503, 429, 404, 400];
    const outcomes = [];
    for (let i = 0; i < 4; i++) outcomes.push(await postWebhook(new URL(`${base}/hook/secret-token`), message, { timeoutMs: 5000 }));
    expect(outcomes).toEqual([
      { ok: false, error: 'http_503', retryable: true },
      { ok: false, error: 'http_429', retryable: true },
      { ok: false, error: 'http_404', retryable: false },
      { ok: false, error: 'http_400', retryable: false },
    ]);
  });

  it('does not follow a redirect', async () => {
    receiver.answers = [302];
    receiver.redirectTo = `${otherBase}/elsewhere`;
    const r = await postWebhook(new URL(`${base}/hook/secret-token`), message, { timeoutMs: 5000 });
    expect(r).toMatchObject({ ok: false, error: 'http_302' });
    expect(other.hits).toEqual([]);
  });

  it('a refused connection is a retryable socket error code without the address', async () => {
    const closed = new Receiver();
    const url = await closed.start();
    await closed.close();
    const r = await postWebhook(new URL(`${url}/hook/secret-token`), message, { timeoutMs: 5000 });
    expect(r).toEqual({ ok: false, error: 'ECONNREFUSED', retryable: true });
  });
});

describe('DeliveryQueue', () => {
  const receiver = new Receiver();
  let base = '';
  beforeAll(async () => {
    base = await receiver.start();
  });
  afterAll(() => receiver.close());

  const fast = { maxAttempts: 4, initialDelayMs: 5, maxDelayMs: 20, jitter: 0 };
  const key = { namespace: 'team-a', name: 'deploy-42' };
  function queue(over: Partial<ConstructorParameters<typeof DeliveryQueue>[0]> = {}) {
    const results: { result: string; attempts: number; detail?: string | undefined }[] = [];
    const q = new DeliveryQueue({
      capacity: 10,
      concurrency: 1,
      retry: fast,
      fence: () => undefined,
      stillWanted: () => true,
      send: (d, signal) => postWebhook(new URL(`${base}/hook`), d.message, { timeoutMs: 5000, signal }),
      onResult: (d, result, detail) => results.push({ result, attempts: d.attempts, ...(detail !== undefined ? { detail } : {}) }),
      ...over,
    });
    return { q, results };
  }

  it('retries a failing receiver with backoff: two failures, then one delivered message', async () => {
    receiver.bodies.length = 0;
    receiver.answers = [500, 502];
    const { q, results } = queue();
    const message = notificationPayload(notice());
    expect(q.add({ key, uid: 'u1', event: 'AwaitingApproval', message })).toBe(true);
    await q.idle();
    expect(results).toEqual([
      { result: 'failed', attempts: 1, detail: 'http_500' },
      { result: 'failed', attempts: 2, detail: 'http_502' },
      { result: 'delivered', attempts: 3 },
    ]);
    expect(receiver.bodies).toEqual([message]);
  });

  it('gives up after maxAttempts, and at once on a permanent refusal', async () => {
    receiver.answers = [500, 500, 500, 500, 403];
    const { q, results } = queue();
    q.add({ key, uid: 'u2', event: 'Failed', message: notificationPayload(notice({ event: 'Failed' })) });
    await q.idle();
    expect(results.map((r) => r.result)).toEqual(['failed', 'failed', 'failed', 'failed', 'dropped']);
    q.add({ key, uid: 'u3', event: 'Failed', message: notificationPayload(notice({ event: 'Failed' })) });
    await q.idle();
    expect(results.slice(5)).toEqual([
      { result: 'failed', attempts: 1, detail: 'http_403' },
      { result: 'dropped', attempts: 1, detail: 'refused: http_403' },
    ]);
  });

  it('is bounded: add() refuses beyond the capacity and never waits', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { q } = queue({
      capacity: 2,
      send: async () => {
        await gate;
        return { ok: true };
      },
    });
    const message = notificationPayload(notice());
    expect(q.add({ key, uid: 'a', event: 'AwaitingApproval', message })).toBe(true);
    expect(q.add({ key, uid: 'b', event: 'AwaitingApproval', message })).toBe(true);
    expect(q.add({ key, uid: 'c', event: 'AwaitingApproval', message })).toBe(false);
    expect(q.size()).toBe(2);
    release();
    await q.idle();
    expect(q.size()).toBe(0);
  });

  it('skips an approval request the proposal no longer needs, and sends nothing when not the leader', async () => {
    const hitsBefore = receiver.hits.length;
    const superseded = queue({ stillWanted: () => false });
    superseded.q.add({ key, uid: 'd', event: 'AwaitingApproval', message: notificationPayload(notice()) });
    await superseded.q.idle();
    expect(superseded.results).toEqual([{ result: 'superseded', attempts: 0 }]);
    const follower = queue({
      fence: () => {
        throw new Error('not the leader');
      },
    });
    follower.q.add({ key, uid: 'e', event: 'Expired', message: notificationPayload(notice({ event: 'Expired' })) });
    await follower.q.idle();
    expect(follower.results).toEqual([]);
    expect(receiver.hits.length).toBe(hitsBefore);
  });

  it('stop() abandons waiting retries', async () => {
    receiver.answers = [500];
    const { q, results } = queue({ retry: { ...fast, initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    q.add({ key, uid: 'f', event: 'Expired', message: notificationPayload(notice({ event: 'Expired' })) });
    while (results.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(q.size()).toBe(1);
    q.stop();
    await q.idle();
    expect(q.size()).toBe(0);
    expect(q.add({ key, uid: 'g', event: 'Expired', message: notificationPayload(notice({ event: 'Expired' })) })).toBe(false);
  });
});

describe('no URL in the log', () => {
  const TOKEN = 'T9LOG/B9LOG/log-secret-token-77';
  const receiver = new Receiver();
  let base = '';
  beforeAll(async () => {
    base = await receiver.start();
  });
  afterAll(() => receiver.close());

  it('logs every result of refused, unreachable, failing and accepted URLs without any part of the URL', async () => {
    const closed = new Receiver();
    const closedBase = await closed.start();
    await closed.close();
    const lines: string[] = [];
    const log = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) }));
    const urls = new Map<string, string>([
      ['a', `ftp://127.0.0.1/${TOKEN}`],
      ['b', `${closedBase}/${TOKEN}`],
      ['c', `${base}/${TOKEN}`],
      ['d', `${base}/${TOKEN}`],
      ['e', `not a url ${TOKEN}`],
    ]);
    receiver.answers = [500, 404];
    const q = new DeliveryQueue({
      capacity: 10,
      concurrency: 1,
      retry: { maxAttempts: 2, initialDelayMs: 5, maxDelayMs: 5, jitter: 0 },
      fence: () => undefined,
      stillWanted: () => true,
      send: (d, signal) => postWebhook(parseWebhookUrl(urls.get(d.uid) ?? ''), d.message, { timeoutMs: 5000, signal }),
      onResult: (d, result, detail) => logNotificationResult(log, d, result, detail),
    });
    for (const uid of urls.keys()) q.add({ key: { namespace: 'ns', name: uid }, uid, event: 'Failed', message: notificationPayload(notice({ event: 'Failed' })) });
    await q.idle();
    const text = lines.join('');
    // Something was logged for each: refused URL, refused connection, 500 then 404, delivered.
    expect(text).toContain('contains whitespace');
    expect(text).toContain('must be http or https');
    expect(text).toContain('ECONNREFUSED');
    expect(text).toContain('http_500');
    expect(text).toContain('Notification delivered');
    expect(text).toContain('Notification dropped');
    for (const part of [TOKEN, 'log-secret-token', base, closedBase, '127.0.0.1']) expect(text).not.toContain(part);
  });
});

describe('NotificationRecords (delivery → Notified condition)', () => {
  const now = new Date('2026-12-06T05:00:00Z');
  const base: ProposalStatus = { phase: 'AwaitingApproval', conditions: [{ type: 'Decided', status: 'True', reason: 'RequiresHuman', message: '', lastTransitionTime: '2026-12-06T04:00:00Z' }] };

  it('adds the condition for a delivered event of this UID only, and never moves it back', () => {
    const records = new NotificationRecords();
    expect(records.apply('u1', base, now)).toBe(base);
    records.delivered('u1', 'AwaitingApproval');
    expect(records.apply('u2', base, now)).toBe(base);
    const once = records.apply('u1', base, now);
    expect(notifiedEvent(once)).toBe('AwaitingApproval');
    expect(once.conditions?.find((c) => c.type === NOTIFIED_CONDITION)).toMatchObject({ status: 'True', reason: 'AwaitingApproval', lastTransitionTime: '2026-12-06T05:00:00Z' });
    expect(records.apply('u1', once, now)).toBe(once);
    records.delivered('u1', 'Expired');
    const later = new Date('2026-12-06T06:00:00Z');
    const expired = records.apply('u1', once, later);
    expect(notifiedEvent(expired)).toBe('Expired');
    expect(expired.conditions?.find((c) => c.type === NOTIFIED_CONDITION)?.lastTransitionTime).toBe('2026-12-06T06:00:00Z');
    // A late AwaitingApproval delivery does not replace the record of a later transition.
    records.delivered('u1', 'AwaitingApproval');
    expect(notifiedEvent(records.apply('u1', expired, later))).toBe('Expired');
    // Recorded AwaitingApproval does not settle a delivered Expired; recorded Expired does.
    records.delivered('u1', 'Expired');
    records.settle('u1', 'AwaitingApproval');
    expect(records.has('u1')).toBe(true);
    records.settle('u1', 'Expired');
    expect(records.has('u1')).toBe(false);
    records.delivered('u1', 'Failed');
    records.forget('u1');
    expect(records.has('u1')).toBe(false);
  });

  it('counts proposals awaiting approval in the cache', () => {
    const obj = (phase: string): KubeObject => ({ apiVersion: 'v', kind: 'Proposal', metadata: { name: phase }, status: { phase } });
    expect(countAwaitingApproval({ list: () => [obj('AwaitingApproval'), obj('Approved'), obj('AwaitingApproval'), obj('Expired')] })).toBe(2);
  });
});

describe('metrics', () => {
  it('m87_notifications_total starts at zero for every event and result; m87_approvals_pending reads the cache at scrape time', async () => {
    const registry = new Registry();
    const metrics = new ControllerMetrics({ registry });
    let pending = 3;
    metrics.setApprovalsPending(() => pending);
    metrics.notification('Expired', 'failed');
    const text = await registry.metrics();
    expect(text).toContain('m87_notifications_total{event="AwaitingApproval",result="delivered"} 0');
    expect(text).toContain('m87_notifications_total{event="Failed",result="superseded"} 0');
    expect(text).toContain('m87_notifications_total{event="Expired",result="failed"} 1');
    expect(text).toContain('m87_approvals_pending 3');
    pending = 1;
    expect(await registry.metrics()).toContain('m87_approvals_pending 1');
  });
});

describe('m87 controller --notify-* flags', () => {
  it('are off without a Secret and parse events', () => {
    expect(notificationsConfig({})).toBeUndefined();
    expect(notificationsConfig({ secret: 'm87-webhook' })).toEqual({ secretName: 'm87-webhook', secretKey: 'url' });
    expect(notificationsConfig({ secret: 'm87-webhook', key: 'slack', events: 'Expired, Failed' })).toEqual({ secretName: 'm87-webhook', secretKey: 'slack', events: ['Expired', 'Failed'] });
  });

  it('refuse unknown events, bad names and flags without a Secret', () => {
    expect(() => notificationsConfig({ secret: 'x', events: 'Expired,Succeeded' })).toThrow(/--notify-events/);
    expect(() => notificationsConfig({ secret: 'Not_A_Name' })).toThrow(/--notify-webhook-secret/);
    expect(() => notificationsConfig({ events: 'Expired' })).toThrow(/need --notify-webhook-secret/);
  });
});
