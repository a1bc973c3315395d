// Webhook notifications with the real controller on the real control plane, delivering to a receiver on
// 127.0.0.1 whose URL sits in a Secret of the controller namespace: a REQUIRE_HUMAN proposal produces one
// message (recorded as the Notified condition), m87_approvals_pending rises and falls with the approval, a
// receiver failing twice gets one message after retries (and the failures are counted), an expired decision
// notifies Expired, a failed job notifies Failed, a warm standby sends nothing, a restarted controller does
// not send again what is recorded, and the URL never shows in the log.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import type { SlackMessage } from '../../../src/controller/notification-webhook.ts';
import type { NotificationsConfig } from '../../../src/controller/notifications.ts';
import type { RunningController } from '../../../src/controller/start.ts';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import type { KubeObject } from '../../../src/runtime/resource.ts';
import { waitFor } from '../../support/kube.ts';
import { simulateRunnerExit } from '../../support/runner-exit.ts';
import { PODS } from '../../../src/controller/resources.ts';
import {
  admin,
  approve,
  caseySpec,
  get,
  list,
  phaseOf,
  propose,
  PROPOSALS,
  RUNNER_IMAGE,
  setupEnv,
  startTestController,
  waitForApprovalState,
  waitForPhase,
} from './harness.ts';

const TOKEN = 'T0NOTIFY/B0NOTIFY/notify-secret-token-4f2a';

/**
 * A Slack-like receiver on 127.0.0.1: answers a message whose text contains `failures.about` with the next
 * status of `failures.statuses`, everything else 200, and keeps what it accepted. The controller watches every
 * namespace, so proposals left by earlier test files are announced here too (their decisions expire when the
 * clock jumps): the failures are aimed at one proposal, and the assertions count this file's namespace only.
 */
const accepted: SlackMessage[] = [];
const attempts: string[] = [];
let failures: { about: string; statuses: number[] } = { about: '', statuses: [] };
const receiver = createServer((req: IncomingMessage, res: ServerResponse) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    attempts.push(body);
    const aimed = failures.about !== '' && body.includes(failures.about);
    const status = (aimed ? failures.statuses.shift() : undefined) ?? 200;
    if (status === 200) accepted.push(JSON.parse(body) as SlackMessage);
    res.writeHead(status).end(status === 200 ? 'ok' : 'unavailable');
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/services/${TOKEN}`;
afterAll(async () => {
  receiver.closeAllConnections();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

const env = await setupEnv('m87-notify');
await kubeRequest(admin, {
  method: 'POST',
  path: `/api/v1/namespaces/${env.controllerNamespace}/secrets`,
  body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'm87-webhook' }, data: { url: Buffer.from(webhookUrl).toString('base64') } },
});

const logLines: string[] = [];
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  }),
);
let clockOffsetMs = 0;
const notifications: NotificationsConfig = { secretName: 'm87-webhook', retry: { initialDelayMs: 300, maxDelayMs: 1000, maxAttempts: 5 } };
const start = (): Promise<RunningController> =>
  startTestController(env, {
    clock: () => Date.now() + clockOffsetMs,
    logger,
    config: { namespace: env.controllerNamespace, policyName: env.policyName, runnerImage: RUNNER_IMAGE, notifications },
  });
let controller = await start();
await waitFor(() => controller.isLeader(), { what: 'the first controller to lead' });
// A warm standby on the same Lease: it must send nothing.
let standby: RunningController | undefined = await start();


async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) throw new Error(`no metric ${name}`);
  const values = (await m.get()).values.filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x));
  return values.reduce((sum, v) => sum + v.value, 0);
}

/**
 * The gauge counts every namespace in the controller's cache, and proposals left by earlier test files can
 * change phase meanwhile (their decisions expire): so compare it with the API server's own count. Returns
 * the names of this file's proposals awaiting approval when the gauge agrees, undefined otherwise.
 */
async function pendingGaugeMatchesCluster(): Promise<string[] | undefined> {
  const r = await kubeRequest<{ items: KubeObject[] }>(admin, { method: 'GET', path: '/apis/governance.m87.io/v1alpha1/proposals' });
  const awaiting = r.items.filter((p) => phaseOf(p) === 'AwaitingApproval');
  if ((await metric(controller.registry, 'm87_approvals_pending')) !== awaiting.length) return undefined;
  return awaiting.filter((p) => p.metadata.namespace === env.jobNamespace).map((p) => p.metadata.name ?? '');
}

const about = (name: string) => (m: SlackMessage) => m.text.includes(`${env.jobNamespace}/${name} `);
const messagesAbout = (name: string): SlackMessage[] => accepted.filter(about(name));
const notified = (p: KubeObject | undefined) =>
  ((p?.status as { conditions?: { type: string; status: string; reason: string }[] } | undefined)?.conditions ?? []).find((c) => c.type === 'Notified');

function waitForNotified(name: string, reason: string): Promise<KubeObject> {
  return waitFor(
    async () => {
      const p = await get(PROPOSALS, env.jobNamespace, name);
      return notified(p)?.reason === reason ? p : undefined;
    },
    { what: `proposal ${name} to record the ${reason} notification`, timeoutMs: 30_000 },
  );
}

const settle = (ms = 1500) => new Promise((resolve) => setTimeout(resolve, ms));
const ours = (m: SlackMessage): boolean => m.text.includes(`${env.jobNamespace}/`);

/** The controller's notification log lines about this file's namespace (from line `from` on), by message. */
function notificationLog(msg: string, from = 0): { name: string; event: string; attempts?: number }[] {
  return logLines
    .slice(from)
    .map((l) => JSON.parse(l) as { msg: string; namespace?: string; name: string; event: string; attempts?: number })
    .filter((l) => l.namespace === env.jobNamespace && l.msg === msg);
}
const NOT_SENT = ['Notification dropped', 'Notification dropped: the queue is full', 'Transition too old to announce; not notifying'];

describe('webhook notifications', () => {
  it('a REQUIRE_HUMAN proposal produces one message, recorded in its status; the pending gauge rises and falls with the approval', async () => {
    await propose(env, 'casey', 'notify-1', caseySpec(env, { riskScore: 0.9, summary: 'Risky write <!channel>' }));
    const waiting = await waitForPhase(env, 'notify-1', ['AwaitingApproval']);
    await waitFor(async () => (await pendingGaugeMatchesCluster())?.includes('notify-1') === true, { what: 'm87_approvals_pending to count notify-1' });

    const [message] = await waitFor(() => (messagesAbout('notify-1').length > 0 ? messagesAbout('notify-1') : undefined), { what: 'the notification of notify-1' });
    await waitForNotified('notify-1', 'AwaitingApproval');
    await settle();
    expect(messagesAbout('notify-1')).toHaveLength(1);

    const blocks = JSON.stringify(message!.blocks);
    expect(message!.text).toContain(`kubectl m87 approve notify-1 -n ${env.jobNamespace}`);
    expect(blocks).toContain('Approval needed');
    expect(blocks).toContain('REQUIRE_HUMAN');
    expect(blocks).toContain('Risky write &lt;!channel&gt;');
    expect(blocks).toContain(waiting.metadata.uid);
    expect(blocks).toContain('kubectl m87 ui');
    // Every reason the Decision gives is in the message.
    const decision = await get({ group: 'governance.m87.io', version: 'v1alpha1', plural: 'decisions', namespaced: true, kind: 'Decision' }, env.jobNamespace, 'notify-1');
    for (const r of (decision?.spec as { reasons: { code: string }[] }).reasons) expect(blocks).toContain(r.code);

    await approve(env, 'alice', 'notify-1-alice', waiting);
    expect(await waitForApprovalState(env, 'notify-1-alice')).toMatchObject({ state: 'Accepted' });
    await waitFor(async () => (await pendingGaugeMatchesCluster())?.includes('notify-1') === false, { what: 'm87_approvals_pending to fall' });
    expect(phaseOf(await get(PROPOSALS, env.jobNamespace, 'notify-1'))).not.toBe('AwaitingApproval');
  });

  it('a receiver failing twice gets one message after retries, and the failures are counted', async () => {
    const labels = (result: string) => ({ event: 'AwaitingApproval', result });
    const failedBefore = await metric(controller.registry, 'm87_notifications_total', labels('failed'));
    const deliveredBefore = await metric(controller.registry, 'm87_notifications_total', labels('delivered'));
    const attemptsBefore = attempts.length;
    failures = { about: `${env.jobNamespace}/notify-2 `, statuses: [500, 503] };
    await propose(env, 'casey', 'notify-2', caseySpec(env, { riskScore: 0.9, summary: 'Second risky write' }));
    const waiting = await waitForPhase(env, 'notify-2', ['AwaitingApproval']);
    await waitForNotified('notify-2', 'AwaitingApproval');
    await settle();
    expect(messagesAbout('notify-2')).toHaveLength(1);
    expect(attempts.slice(attemptsBefore).filter((b) => b.includes(`${env.jobNamespace}/notify-2 `))).toHaveLength(3);
    // Counted: the metric (whose other increments can only be other namespaces' deliveries: nothing else fails
    // here) and the log, per proposal.
    expect(await metric(controller.registry, 'm87_notifications_total', labels('failed'))).toBe(failedBefore + 2);
    expect(await metric(controller.registry, 'm87_notifications_total', labels('delivered'))).toBeGreaterThanOrEqual(deliveredBefore + 1);
    expect(notificationLog('Notification attempt failed').filter((l) => l.name === 'notify-2').map((l) => l.attempts)).toEqual([1, 2]);
    expect(notificationLog('Notification delivered').filter((l) => l.name === 'notify-2').map((l) => l.attempts)).toEqual([3]);
    expect(NOT_SENT.flatMap((msg) => notificationLog(msg))).toEqual([]);
    // Rejected: nothing more to announce (and it does not expire when the clock jumps below).
    await approve(env, 'bob', 'notify-2-bob', waiting, { verdict: 'Reject' });
    await waitForPhase(env, 'notify-2', ['Rejected']);
  });

  it('an expired decision notifies Expired', async () => {
    await propose(env, 'casey', 'notify-3', caseySpec(env, { riskScore: 0.9, summary: 'Expiring write' }));
    const waiting = await waitForPhase(env, 'notify-3', ['AwaitingApproval']);
    await waitForNotified('notify-3', 'AwaitingApproval');
    // Past the approval window (policy: 3600 s); a late approval makes the controller look again.
    clockOffsetMs = (env.policySpec.approvals.expirySeconds + 60) * 1000;
    await approve(env, 'alice', 'notify-3-alice', waiting);
    await waitForPhase(env, 'notify-3', ['Expired']);
    await waitForNotified('notify-3', 'Expired');
    await settle();
    const texts = messagesAbout('notify-3').map((m) => m.text);
    expect(texts).toHaveLength(2);
    expect(texts[0]).toContain('needs approval');
    expect(texts[1]).toContain('expired without approval');
    expect(JSON.stringify(messagesAbout('notify-3')[1]!.blocks)).toContain('Approval window expired');
    // The metric also counts expirations of other files' proposals that the clock jump caused.
    expect(await metric(controller.registry, 'm87_notifications_total', { event: 'Expired', result: 'delivered' })).toBeGreaterThanOrEqual(1);
    expect(notificationLog('Notification delivered').filter((l) => l.event === 'Expired').map((l) => l.name)).toEqual(['notify-3']);
  });

  it('a failed job notifies Failed', async () => {
    await propose(env, 'casey', 'notify-4', caseySpec(env, { summary: 'Write that fails' }));
    const pod = await waitFor(() => get(PODS, env.jobNamespace, 'm87-job-notify-4'), { what: 'the job Pod of notify-4' });
    // The runner "exits" 1 without a receipt: the Job fails closed.
    await simulateRunnerExit(admin, { namespace: env.jobNamespace, name: pod.metadata.name ?? '', image: RUNNER_IMAGE }, 'not a receipt', 1);
    await waitForPhase(env, 'notify-4', ['Failed']);
    await waitForNotified('notify-4', 'Failed');
    await settle();
    const messages = messagesAbout('notify-4');
    expect(messages).toHaveLength(1);
    expect(messages[0]!.text).toContain('failed');
    expect(JSON.stringify(messages[0]!.blocks)).toContain('Governed job failed');
  });

  it('the standby sent nothing', async () => {
    expect(standby?.isLeader()).toBe(false);
    expect(await metric(standby!.registry, 'm87_notifications_total')).toBe(0);
    expect(await metric(controller.registry, 'm87_notifications_total', { result: 'delivered' })).toBe(accepted.length);
  });

  it('a restarted controller does not send again what is recorded', async () => {
    // Every proposal's last transition is recorded (notify-1 Approved, notify-2 Rejected, notify-3 Expired,
    // notify-4 Failed).
    const before = accepted.filter(ours).length;
    const proposals = (await list(PROPOSALS, env.jobNamespace)).length;
    const logFrom = logLines.length;
    await standby?.stop();
    standby = undefined;
    await controller.stop();
    controller = await start();
    await waitFor(async () => (await metric(controller.registry, 'm87_reconcile_total', { controller: 'notifications' })) >= proposals, {
      what: 'the new leader to look at every proposal',
      timeoutMs: 30_000,
    });
    await settle(2000);
    expect(accepted.filter(ours).length).toBe(before);
    // Nothing about this namespace was even attempted (or given up) by the new leader.
    const attemptedAfter = ['Notification delivered', 'Notification attempt failed', ...NOT_SENT].flatMap((msg) => notificationLog(msg, logFrom));
    expect(attemptedAfter).toEqual([]);
  });

  it('the webhook URL never shows in the log', () => {
    const log = logLines.join('');
    expect(log).toContain('Notification delivered');
    expect(log).toContain('Notification attempt failed');
    expect(log).not.toContain(TOKEN);
    expect(log).not.toContain('/services/');
  });
});
