// Webhook notifications when a proposal needs or lost people's attention: AwaitingApproval (REQUIRE_HUMAN),
// Expired and Failed (docs/notifications.md).
//
// - A controller of its own ("notifications", keyed by proposal, watching the proposal cache) so it runs
//   only on the leader and, on a new leader, looks at every proposal once. Its reconcile never waits on the
//   network: it puts a message into a bounded queue and returns.
// - The queue delivers (a few at a time) with exponential backoff and a cap, counting every attempt in
//   m87_notifications_total{event,result}.
// - Once per transition per proposal UID: a delivered message is handed to the proposals controller (the
//   one writer of Proposal.status), which records it as the condition Notified (reason = the event). The
//   status is the record because only the controller can write it (admission m87-controller-writes): an
//   agent cannot pre-mark its proposal "notified" to silence the approval request, and the controller
//   needs no write access to the Proposal object itself. A new leader reads the condition from its cache
//   and does not send again. The record is written after delivery, so a crash between the two can send a
//   message twice (at least once, never silently lost); a transition older than maxAgeSeconds when first
//   seen (e.g. everything already Failed when notifications are turned on) is not announced.
// - The webhook URL is read from a Secret in the controller's namespace and never logged.
import type { KubeClient } from '../runtime/kube-access.ts';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ProposalStatus } from '../api/proposal.ts';
import { Controller, type ObjectKey, type ReconcileResult } from '../runtime/controller.ts';
import { getObject } from '../runtime/kube-http.ts';
import type { KubeObject } from '../runtime/resource.ts';
import { getCondition, removeCondition, setCondition } from '../runtime/status.ts';
import type { Informers } from './informers.ts';
import type { ControllerMetrics } from './metrics.ts';
import {
  DEFAULT_RETRY,
  isNotificationEvent,
  NOTIFICATION_EVENTS,
  notificationPayload,
  parseWebhookUrl,
  postWebhook,
  retryDelayMs,
  validateRetryPolicy,
  WebhookUrlError,
  type NotificationEvent,
  type NotificationResult,
  type ProposalNotice,
  type RetryPolicy,
  type SlackMessage,
} from './notification-webhook.ts';
import { decisionView } from './parse.ts';
import type { DecisionView } from './compact.ts';
import { SECRETS } from './resources.ts';
import type { SessionLedger } from './session-ledger.ts';

export interface NotificationsConfig {
  /** Secret in the controller namespace holding the webhook URL. */
  secretName: string;
  /** Key of the URL in the Secret; default "url". */
  secretKey?: string;
  /** Which transitions notify; default all (AwaitingApproval, Expired, Failed). */
  events?: readonly NotificationEvent[];
  retry?: Partial<RetryPolicy>;
  /** Messages waiting or in flight at most; more are dropped (counted). Default 1000. */
  queueCapacity?: number;
  /** Concurrent deliveries; default 2. */
  concurrency?: number;
  /** Per-attempt timeout; default 10 s. */
  attemptTimeoutMs?: number;
  /** A transition older than this when first seen is not announced; default 24 h. */
  maxAgeSeconds?: number;
  /** How long a URL read from the Secret is used before it is read again; default 60 s. */
  secretCacheMs?: number;
}

/** The status condition recording the last notification delivered for this proposal incarnation. */
export const NOTIFIED_CONDITION = 'Notified';

/** Later transitions rank higher; a record of a later one covers earlier ones (they are moot). */
const RANK: Record<NotificationEvent, number> = { AwaitingApproval: 1, Expired: 2, Failed: 2 };

/** The event a proposal's status records as delivered, if any. */
export function notifiedEvent(status: ProposalStatus | undefined): NotificationEvent | undefined {
  const c = getCondition(status?.conditions, NOTIFIED_CONDITION);
  return c?.status === 'True' && isNotificationEvent(c.reason) ? c.reason : undefined;
}

/** The event a phase announces. */
export function eventOfPhase(phase: string | undefined): NotificationEvent | undefined {
  return isNotificationEvent(phase) ? phase : undefined;
}

/**
 * Delivered notifications waiting to be recorded, handed from the notifications controller to the
 * proposals controller (the one writer of Proposal.status). In memory and bound to the proposal UID.
 */
export class NotificationRecords {
  readonly #delivered = new Map<string, NotificationEvent>();

  delivered(uid: string, event: NotificationEvent): void {
    const before = this.#delivered.get(uid);
    if (before === undefined || RANK[event] >= RANK[before]) this.#delivered.set(uid, event);
  }

  /** Status with the Notified condition for a delivered, not yet recorded event; `status` itself otherwise. */
  apply(uid: string | undefined, status: ProposalStatus, now: Date): ProposalStatus {
    const event = uid === undefined ? undefined : this.#delivered.get(uid);
    if (event === undefined) return status;
    const recorded = notifiedEvent(status);
    if (recorded !== undefined && RANK[recorded] >= RANK[event]) return status;
    // A new event is a new transition of the record (setCondition keeps the time for an equal status).
    const conditions = setCondition(
      removeCondition(status.conditions, NOTIFIED_CONDITION),
      { type: NOTIFIED_CONDITION, status: 'True', reason: event, message: `Webhook notification delivered for ${event}.` },
      now,
    );
    return { ...status, conditions };
  }

  /** Forgets a delivery the status now records (`recorded` covers it); a later one stays until recorded too. */
  settle(uid: string, recorded: NotificationEvent): void {
    const event = this.#delivered.get(uid);
    if (event !== undefined && RANK[recorded] >= RANK[event]) this.#delivered.delete(uid);
  }

  /** Forgets the proposal (it is gone). */
  forget(uid: string): void {
    this.#delivered.delete(uid);
  }

  has(uid: string): boolean {
    return this.#delivered.has(uid);
  }
}

/** Reads the webhook URL from its Secret; a read is reused for `cacheMs` and dropped after a failed delivery. */
export class WebhookUrlSource {
  readonly #kc: KubeClient;
  readonly #ref: { namespace: string; name: string };
  readonly #key: string;
  readonly #cacheMs: number;
  readonly #now: () => number;
  #cached: { url: URL; at: number } | undefined;

  constructor(opts: { kc: KubeClient; namespace: string; name: string; key: string; cacheMs: number; now: () => number }) {
    this.#kc = opts.kc;
    this.#ref = { namespace: opts.namespace, name: opts.name };
    this.#key = opts.key;
    this.#cacheMs = opts.cacheMs;
    this.#now = opts.now;
  }

  /** The URL; throws WebhookUrlError (a message without the URL) when the Secret, the key or the URL is unusable. */
  async get(signal?: AbortSignal): Promise<URL> {
    const c = this.#cached;
    if (c !== undefined && this.#now() - c.at < this.#cacheMs) return c.url;
    const where = `Secret ${this.#ref.namespace}/${this.#ref.name}`;
    const secret = await getObject<KubeObject & { data?: Record<string, string> }>(this.#kc, SECRETS, this.#ref, signal ? { signal } : {});
    if (secret === undefined) throw new WebhookUrlError(`${where} does not exist`);
    const encoded = secret.data?.[this.#key];
    if (encoded === undefined) throw new WebhookUrlError(`${where} has no key ${JSON.stringify(this.#key)}`);
    let url: URL;
    try {
      url = parseWebhookUrl(Buffer.from(encoded, 'base64').toString('utf8'));
    } catch (err) {
      throw new WebhookUrlError(`${where} key ${JSON.stringify(this.#key)}: ${(err as Error).message}`);
    }
    this.#cached = { url, at: this.#now() };
    return url;
  }

  invalidate(): void {
    this.#cached = undefined;
  }
}

interface Delivery {
  id: string;
  key: ObjectKey;
  uid: string;
  event: NotificationEvent;
  message: SlackMessage;
  attempts: number;
}

export interface DeliveryQueueOptions {
  capacity: number;
  concurrency: number;
  retry: RetryPolicy;
  /** One attempt. */
  send(d: { key: ObjectKey; uid: string; event: NotificationEvent; message: SlackMessage }, signal: AbortSignal): Promise<{ ok: true } | { ok: false; error: string; retryable: boolean }>;
  /** Whether the delivery is still wanted right before an attempt (false: superseded). */
  stillWanted(d: { key: ObjectKey; uid: string; event: NotificationEvent }): boolean;
  /** May this replica act (the leader's fence)? Throws when not. */
  fence(): void;
  onResult(d: { key: ObjectKey; uid: string; event: NotificationEvent; attempts: number }, result: NotificationResult, detail?: string): void;
  random?: () => number;
}

/**
 * A bounded asynchronous queue of webhook deliveries: add() never waits; attempts run a few at a time;
 * a failed attempt waits its backoff outside the concurrency limit.
 */
export class DeliveryQueue {
  readonly #o: DeliveryQueueOptions;
  readonly #ready: Delivery[] = [];
  readonly #timers = new Map<Delivery, NodeJS.Timeout>();
  readonly #abort = new AbortController();
  #active = 0;
  #idle: (() => void)[] = [];
  #stopped = false;

  constructor(opts: DeliveryQueueOptions) {
    validateRetryPolicy(opts.retry);
    if (!Number.isInteger(opts.capacity) || opts.capacity < 1) throw new Error('notifications queueCapacity must be a positive integer');
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) throw new Error('notifications concurrency must be a positive integer');
    this.#o = opts;
  }

  /** Waiting, backing off or in flight. */
  size(): number {
    return this.#ready.length + this.#timers.size + this.#active;
  }

  /** Queues a delivery; false (nothing queued) when the queue is full or stopped. */
  add(d: Omit<Delivery, 'attempts' | 'id'>): boolean {
    if (this.#stopped || this.size() >= this.#o.capacity) return false;
    this.#ready.push({ ...d, id: `${d.uid}/${d.event}`, attempts: 0 });
    this.#pump();
    return true;
  }

  /** Resolves when nothing is waiting or in flight (tests). */
  idle(): Promise<void> {
    if (this.size() === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stops: pending deliveries are abandoned (a new leader sends what is not recorded), in-flight ones aborted. */
  stop(): void {
    this.#stopped = true;
    this.#abort.abort();
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#ready.length = 0;
    this.#settleIdle();
  }

  #pump(): void {
    while (!this.#stopped && this.#active < this.#o.concurrency && this.#ready.length > 0) {
      const d = this.#ready.shift()!;
      this.#active++;
      void this.#attempt(d).finally(() => {
        this.#active--;
        this.#pump();
        this.#settleIdle();
      });
    }
  }

  #settleIdle(): void {
    if (this.size() > 0 && !this.#stopped) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  async #attempt(d: Delivery): Promise<void> {
    try {
      this.#o.fence();
    } catch {
      return; // not the leader (any more): the next one sends what is not recorded
    }
    if (!this.#o.stillWanted(d)) {
      this.#o.onResult(d, 'superseded');
      return;
    }
    d.attempts++;
    let outcome: Awaited<ReturnType<DeliveryQueueOptions['send']>>;
    try {
      outcome = await this.#o.send(d, this.#abort.signal);
    } catch (err) {
      // send() reports its own failures; anything thrown is a bug or the Secret (WebhookUrlError), retried alike.
      outcome = { ok: false, error: err instanceof WebhookUrlError ? err.message : 'internal_error', retryable: true };
    }
    if (this.#stopped) return;
    if (outcome.ok) {
      this.#o.onResult(d, 'delivered');
      return;
    }
    this.#o.onResult(d, 'failed', outcome.error);
    if (!outcome.retryable || d.attempts >= this.#o.retry.maxAttempts) {
      this.#o.onResult(d, 'dropped', outcome.retryable ? `gave up after ${d.attempts} attempts` : `refused: ${outcome.error}`);
      return;
    }
    const delay = retryDelayMs(d.attempts, this.#o.retry, this.#o.random);
    const timer = setTimeout(() => {
      this.#timers.delete(d);
      this.#ready.push(d);
      this.#pump();
    }, delay);
    timer.unref();
    this.#timers.set(d, timer);
  }
}

/** The log line of an attempt's result: the proposal, the event, the attempt and a log-safe error code only. */
export function logNotificationResult(
  log: Logger,
  d: { key: ObjectKey; uid: string; event: NotificationEvent; attempts: number },
  result: NotificationResult,
  detail?: string,
): void {
  const fields = { namespace: d.key.namespace, name: d.key.name, uid: d.uid, event: d.event, attempts: d.attempts, result };
  if (result === 'delivered') log.info(fields, 'Notification delivered');
  else if (result === 'failed') log.warn({ ...fields, error: detail }, 'Notification attempt failed');
  else if (result === 'dropped') log.error({ ...fields, error: detail }, 'Notification dropped');
  else log.info(fields, 'Notification no longer needed');
}

export interface NotificationsParts {
  kc: KubeClient;
  now: () => number;
  /** The controller namespace (where the Secret lives). */
  namespace: string;
  config: NotificationsConfig;
  log: Logger;
  registry: Registry;
  metrics: ControllerMetrics;
  informers: Pick<Informers, 'proposals'>;
  ledger: Pick<SessionLedger, 'decisionObject'>;
  records: NotificationRecords;
  /** Has the proposals controller record a delivery. */
  enqueueProposal(key: ObjectKey): void;
}

export interface Notifications {
  controller: Controller;
  records: NotificationRecords;
  queue: DeliveryQueue;
  stop(): void;
}

function proposalStatus(obj: KubeObject): ProposalStatus | undefined {
  return obj.status as ProposalStatus | undefined;
}

/** Proposals whose status says they await approval, counted in the cache (m87_approvals_pending). */
export function countAwaitingApproval(proposals: Pick<Informers['proposals'], 'list'>): number {
  let n = 0;
  for (const obj of proposals.list()) if (proposalStatus(obj)?.phase === 'AwaitingApproval') n++;
  return n;
}

/** When the transition to `event` happened (epoch ms; NaN when unknown). */
function transitionTime(event: NotificationEvent, status: ProposalStatus | undefined, decision: DecisionView | undefined): number {
  switch (event) {
    case 'AwaitingApproval':
      return Date.parse(getCondition(status?.conditions, 'Decided')?.lastTransitionTime ?? decision?.spec.decidedAt ?? '');
    case 'Expired':
      return Date.parse(decision?.spec.expiresAt ?? '');
    case 'Failed':
      return Date.parse(getCondition(status?.conditions, 'Executed')?.lastTransitionTime ?? '');
  }
}

export function createNotifications(p: NotificationsParts): Notifications {
  const c = p.config;
  const events = new Set<NotificationEvent>(c.events ?? NOTIFICATION_EVENTS);
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...(c.retry ?? {}) };
  const maxAgeMs = (c.maxAgeSeconds ?? 86_400) * 1000;
  const log = p.log.child({ component: 'notifications' });
  const url = new WebhookUrlSource({
    kc: p.kc,
    namespace: p.namespace,
    name: c.secretName,
    key: c.secretKey ?? 'url',
    cacheMs: c.secretCacheMs ?? 60_000,
    now: p.now,
  });
  // The events of each proposal UID this process queued, is sending, delivered or gave up on: each
  // transition is handled once per process; the Notified condition carries it across processes.
  const handled = new Map<string, Set<NotificationEvent>>();
  let fence: () => void = () => undefined;
  p.informers.proposals.addHandlers({
    onDelete: (obj) => {
      const uid = obj.metadata.uid;
      if (uid === undefined) return;
      handled.delete(uid);
      p.records.forget(uid);
    },
  });

  const phaseNow = (key: ObjectKey, uid: string): string | undefined => {
    const obj = p.informers.proposals.getByName(key.namespace, key.name);
    return obj?.metadata.uid === uid ? proposalStatus(obj)?.phase : undefined;
  };

  const queue = new DeliveryQueue({
    capacity: c.queueCapacity ?? 1000,
    concurrency: c.concurrency ?? 2,
    retry,
    fence: () => fence(),
    // An approval request for a proposal that no longer waits would only send someone to a dead end.
    stillWanted: (d) => d.event !== 'AwaitingApproval' || phaseNow(d.key, d.uid) === 'AwaitingApproval',
    send: async (d, signal) => {
      const target = await url.get(signal);
      const outcome = await postWebhook(target, d.message, { timeoutMs: c.attemptTimeoutMs ?? 10_000, signal });
      if (!outcome.ok) url.invalidate(); // the Secret may have been fixed meanwhile
      return outcome;
    },
    onResult: (d, result, detail) => {
      p.metrics.notification(d.event, result);
      logNotificationResult(log, d, result, detail);
      if (result === 'delivered') {
        p.records.delivered(d.uid, d.event);
        p.enqueueProposal(d.key);
      }
    },
  });

  const reconcile = (key: ObjectKey): ReconcileResult => {
    const obj = p.informers.proposals.getByName(key.namespace, key.name);
    const uid = obj?.metadata.uid;
    if (obj === undefined || uid === undefined || key.namespace === undefined || obj.metadata.deletionTimestamp !== undefined) return;
    const status = proposalStatus(obj);
    const recorded = notifiedEvent(status);
    if (recorded !== undefined) p.records.settle(uid, recorded);
    const event = eventOfPhase(status?.phase);
    if (event === undefined || !events.has(event)) return;
    if (recorded !== undefined && RANK[recorded] >= RANK[event]) return;
    const seen = handled.get(uid) ?? new Set<NotificationEvent>();
    if (seen.has(event)) return;
    seen.add(event);
    handled.set(uid, seen);
    const decisionObj = p.ledger.decisionObject(key.namespace, key.name, uid);
    const parsed = decisionObj !== undefined && decisionObj !== 'unreadable' ? decisionView(decisionObj) : undefined;
    const decision = parsed?.ok ? parsed.value : undefined;
    const at = transitionTime(event, status, decision);
    const fields = { namespace: key.namespace, name: key.name, uid, event };
    if (Number.isFinite(at) && p.now() - at > maxAgeMs) {
      p.metrics.notification(event, 'dropped');
      log.info({ ...fields, transitionAt: new Date(at).toISOString() }, 'Transition too old to announce; not notifying');
      return;
    }
    const spec = obj.spec as { summary?: unknown; submittedBy?: unknown; agent?: unknown } | undefined;
    const notice: ProposalNotice = {
      event,
      namespace: key.namespace,
      name: key.name,
      uid,
      summary: typeof spec?.summary === 'string' ? spec.summary : '(no summary)',
      submittedBy: typeof spec?.submittedBy === 'string' ? spec.submittedBy : '(unknown)',
      agent: typeof spec?.agent === 'string' ? spec.agent : '(unknown)',
      outcome: decision?.spec.outcome ?? status?.outcome ?? '(unknown)',
      reasons: decision?.spec.reasons ?? [],
      statusMessage: status?.message,
      expiresAt: decision?.spec.expiresAt,
      proposalHash: status?.proposalHash,
      requiredApprovals: decision?.spec.requiredApprovals.count,
    };
    if (!queue.add({ key, uid, event, message: notificationPayload(notice) })) {
      p.metrics.notification(event, 'dropped');
      log.error({ ...fields, capacity: c.queueCapacity ?? 1000 }, 'Notification dropped: the queue is full');
    }
  };

  const controller = new Controller<ObjectKey>({
    name: 'notifications',
    reconcile: (key, ctx) => {
      fence = ctx.fence; // deliveries happen later, outside the reconcile, behind the same fence
      return reconcile(key);
    },
    logger: p.log,
    registry: p.registry,
  }).watch(p.informers.proposals);
  return { controller, records: p.records, queue, stop: () => queue.stop() };
}
