// The four controllers and what each one watches. Who writes what:
//   decisions (key: submitter) — Decisions, and the Jobs the proposals controller found authorized, in
//     the submitter's order;
//   proposals (key: proposal)  — Proposal.status (the only writer) and Approval.status/ownership;
//   jobs (key: Job)            — NetworkPolicy, Pod, Job.status, the public-key ConfigMap;
//   policy (key: policy)       — GovernancePolicy.status.
//   retention (key: namespace) — deletes finished jobs' Pods and NetworkPolicies and, after their audit
//     record, finished proposal trees (retention-reconciler.ts), at its own token-bucket rate.
//   notifications (key: proposal, only when configured) — nothing in the cluster: webhook messages; each
//     delivery is recorded by the proposals controller (condition Notified).
import { isTerminalJobPhase } from '../api/job.ts';
import type { KubeClient } from '../runtime/kube-access.ts';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { SigningKey } from '../integrity/signing.ts';
import { Controller, objectKeyOf, type ObjectKey, type Reconciler } from '../runtime/controller.ts';
import { TokenBucket } from '../runtime/rate-limiter.ts';
import type { AuditLog } from './audit-log.ts';
import { NAMESPACE_INDEX } from '../runtime/informer.ts';
import type { KubeObject } from '../runtime/resource.ts';
import type { ControllerConfig } from './config.ts';
import { Decider } from './decider.ts';
import type { EventRecorder } from './events.ts';
import { FreshObjects, type FreshWrites } from './fresh-objects.ts';
import { asKubeInformer, statusDecided, submitterOf, UNDECIDED, type Informers } from './informers.ts';
import { JobReconciler } from './job-reconciler.ts';
import type { ChallengeSecrets, PublicKeyPublisher } from './keys.ts';
import type { LeaderBarrier } from './leader-barrier.ts';
import type { ControllerMetrics } from './metrics.ts';
import { MintRequests } from './mint-requests.ts';
import { isNamespaceTerminating, NamespaceGuard } from './namespace-guard.ts';
import { createNotifications, NotificationRecords, type Notifications } from './notifications.ts';
import { PendingReasons } from './pending-reasons.ts';
import { PolicyReconciler } from './policy-reconciler.ts';
import type { PolicyState } from './policy-state.ts';
import { ProposalReconciler } from './proposal-reconciler.ts';
import { RetentionReconciler } from './retention-reconciler.ts';
import { NAMESPACE_KEYS, SUBMITTER_KEYS, type NamespaceKey, type SubmitterKey } from './queue-keys.ts';
import { SessionLedger } from './session-ledger.ts';
import { ToolCache } from './tool-cache.ts';

/** What the reconcilers are built from. */
export interface ControllerParts {
  kc: KubeClient;
  now: () => number;
  config: ControllerConfig;
  log: Logger;
  registry: Registry;
  metrics: ControllerMetrics;
  informers: Informers;
  policy: PolicyState;
  signingKey: SigningKey;
  publicKeys: PublicKeyPublisher;
  challengeSecrets: ChallengeSecrets;
  events: EventRecorder;
  barrier: LeaderBarrier;
  /** Where audit records go before retention deletes a proposal tree. */
  audit: AuditLog;
}

export interface Controllers {
  decisions: Controller<SubmitterKey>;
  proposals: Controller;
  jobs: Controller;
  policy: Controller;
  /** Pruning (absent when retention is disabled). */
  retention?: Controller<NamespaceKey>;
  /** Webhook notifications, when configured (a controller of their own and a delivery queue). */
  notifications?: Notifications;
}

function tolerateNamespaceDeletion<K>(reconcile: Reconciler<K>): Reconciler<K> {
  return async (key, ctx) => {
    try {
      return await reconcile(key, ctx);
    } catch (err) {
      if (!isNamespaceTerminating(err)) throw err;
      // Expected while a namespace goes away; not a refusal worth an error (or an error object) in the log.
      ctx.log.debug({ reason: 'NamespaceTerminating' }, 'Namespace is being deleted; nothing to do');
      return undefined;
    }
  };
}

function proposalKey(namespace: string | undefined, name: unknown): ObjectKey[] {
  return typeof name === 'string' && namespace !== undefined ? [{ namespace, name }] : [];
}

export function createControllers(p: ControllerParts): Controllers {
  const { informers, registry, log } = p;
  const workers = p.config.workers ?? {};
  const ledger = new SessionLedger(informers.decisions, informers.jobs, p.now);
  const fresh: FreshWrites = { proposals: new FreshObjects(), approvals: new FreshObjects(), jobs: new FreshObjects() };
  fresh.proposals.follow(informers.proposals);
  fresh.approvals.follow(informers.approvals);
  fresh.jobs.follow(informers.jobs);
  const pending = new PendingReasons();
  const toolCache = new ToolCache(informers.tools);
  const mintRequests = new MintRequests();
  // Filled below; the enqueue functions run only after every controller exists.
  const wired: { controllers?: Controllers } = {};
  const enqueueSubmitter = (submitter: string): void => wired.controllers?.decisions.enqueue({ submitter });
  const enqueueProposal = (key: ObjectKey): void => wired.controllers?.proposals.enqueue(key);
  const enqueueJob = (key: ObjectKey): void => wired.controllers?.jobs.enqueue(key);

  const decider = new Decider({ ...p, toolCache, ledger, fresh, pending, mintRequests, enqueueProposal, enqueueJob, enqueueSubmitter });
  const undecidedSubmitters = (): SubmitterKey[] => {
    const submitters = new Set<string>();
    for (const obj of informers.proposals.byIndex(UNDECIDED, '1')) {
      const s = submitterOf(obj);
      if (s !== undefined) submitters.add(s);
    }
    return [...submitters].map((submitter) => ({ submitter }));
  };
  const decisions = new Controller<SubmitterKey>({
    name: 'decisions',
    keys: SUBMITTER_KEYS,
    reconcile: tolerateNamespaceDeletion((key, ctx) => decider.reconcile(key, ctx)),
    workers: workers.decisions ?? 16,
    logger: log,
    registry,
  })
    .watch(informers.proposals, {
      mapToKeys: (obj) => {
        const s = submitterOf(obj);
        const { namespace, name, uid } = obj.metadata;
        if (s === undefined || statusDecided(obj) || namespace === undefined || name === undefined || uid === undefined) return [];
        return ledger.isDecided(namespace, name, uid) ? [] : [{ submitter: s }];
      },
    })
    .watch(informers.policies, { mapToKeys: (obj) => (obj.metadata.name === p.config.policyName ? undecidedSubmitters() : []) })
    .watch(informers.profiles, { mapToKeys: () => undecidedSubmitters() })
    .dependsOn(informers.decisions)
    .dependsOn(informers.jobs)
    // Never decide against a tool catalogue that has not been read yet.
    .dependsOn(informers.tools);

  // Delivered notifications are recorded in Proposal.status by its one writer, the proposals controller.
  const notified = p.config.notifications ? new NotificationRecords() : undefined;
  const proposalReconciler = new ProposalReconciler({
    ...p,
    toolCache,
    ledger,
    fresh,
    pending,
    mintRequests,
    createJob: (request, ctx) => decider.createJob(request, ctx),
    enqueueSubmitter,
    ...(notified ? { notified } : {}),
  });
  const proposals = new Controller<ObjectKey>({
    name: 'proposals',
    reconcile: tolerateNamespaceDeletion((key, ctx) => proposalReconciler.reconcile(key, ctx)),
    workers: workers.proposals ?? 8,
    logger: log,
    registry,
  })
    .watch(informers.proposals)
    .watch(informers.decisions)
    .watch(informers.approvals, {
      mapToKeys: (obj) => proposalKey(obj.metadata.namespace, (obj.spec as { proposalName?: unknown } | undefined)?.proposalName),
    })
    .watch(informers.jobs, {
      mapToKeys: (obj) => {
        const p = (obj.spec as { proposalRef?: { name?: unknown } } | undefined)?.proposalRef?.name;
        const mapped = proposalKey(obj.metadata.namespace, p);
        return mapped.length > 0 ? mapped : [objectKeyOf(obj)];
      },
    })
    .dependsOn(informers.policies)
    .dependsOn(informers.profiles)
    .dependsOn(informers.tools);

  const namespaces = new NamespaceGuard(p.kc, p.now);
  const jobReconciler = new JobReconciler({ ...p, toolCache, fresh, namespaces });
  const ownerJob = (obj: KubeObject): ObjectKey[] => {
    const owner = obj.metadata.ownerReferences?.find((r) => r.kind === 'Job' && r.controller === true && r.apiVersion.startsWith('governance.m87.io/'));
    return owner ? proposalKey(obj.metadata.namespace, owner.name) : [];
  };
  const unfinishedJobsIn = (obj: KubeObject): ObjectKey[] =>
    informers.jobs
      .byIndex(NAMESPACE_INDEX, obj.metadata.namespace ?? '')
      .filter((j) => !isTerminalJobPhase((j.status as { phase?: unknown } | undefined)?.phase))
      .map(objectKeyOf);
  const unfinishedJobs = (): ObjectKey[] =>
    informers.jobs
      .list()
      .filter((j) => !isTerminalJobPhase((j.status as { phase?: unknown } | undefined)?.phase))
      .map(objectKeyOf);
  const jobs = new Controller<ObjectKey>({
    name: 'jobs',
    reconcile: tolerateNamespaceDeletion((key, ctx) => jobReconciler.reconcile(key, ctx)),
    // 4: on a saturated API server more job workers let Pods keep up with decisions but take the capacity
    // from the decisions (bench, 2 shared cores: 16 workers halved decisions/s); decisions come first.
    workers: workers.jobs ?? 4,
    logger: log,
    registry,
  })
    .watch(informers.jobs)
    .watch(informers.pods, { mapToKeys: ownerJob })
    .watch(informers.networkPolicies, { mapToKeys: ownerJob })
    // A deleted public-key ConfigMap is published again for the Jobs still waiting to run there.
    .watch(informers.publicKeys, { mapToKeys: unfinishedJobsIn })
    // A Tool edited or deleted: the Jobs not finished check their tool bindings again before a Pod starts.
    .watch(informers.tools, { mapToKeys: unfinishedJobs });

  const policyReconciler = new PolicyReconciler({ ...p, policyName: p.config.policyName });
  const policy = new Controller<ObjectKey>({ name: 'policy', reconcile: (key, ctx) => policyReconciler.reconcile(key, ctx), logger: log, registry }).watch(
    informers.policies,
  );

  const retention = p.config.retention?.enabled === false ? undefined : createRetention(p);

  const notifications =
    p.config.notifications && notified
      ? createNotifications({ ...p, namespace: p.config.namespace, config: p.config.notifications, ledger, records: notified, enqueueProposal })
      : undefined;

  wired.controllers = { decisions, proposals, jobs, policy, ...(retention ? { retention } : {}), ...(notifications ? { notifications } : {}) };
  return wired.controllers;
}

/** Batching: events about a namespace bring its retention pass this much later (one pass for a burst). */
const RETENTION_BATCH_MS = 1000;

function createRetention(p: ControllerParts): Controller<NamespaceKey> {
  const { informers } = p;
  const rate = p.config.retention?.deletionsPerSecond ?? 5;
  const reconciler = new RetentionReconciler({
    kc: p.kc,
    now: p.now,
    log: p.log,
    informers,
    policy: p.policy,
    audit: p.audit,
    bucket: new TokenBucket(rate, p.config.retention?.burst ?? 20),
    deletionsPerSecond: rate,
    barrier: p.barrier,
    counters: { deleted: (kind, reason) => p.metrics.retentionDeleted(kind, reason), auditRecord: (result) => p.metrics.auditRecord(result) },
  });
  // One worker: pruning is background work and never needs more of the API server than its bucket grants.
  const controller = new Controller<NamespaceKey>({
    name: 'retention',
    keys: NAMESPACE_KEYS,
    reconcile: tolerateNamespaceDeletion((key, ctx) => reconciler.reconcile(key, ctx)),
    workers: 1,
    logger: p.log,
    registry: p.registry,
  })
    .dependsOn(informers.proposals)
    .dependsOn(informers.decisions)
    .dependsOn(informers.approvals)
    .dependsOn(informers.jobs)
    .dependsOn(asKubeInformer(informers.pods))
    .dependsOn(informers.networkPolicies)
    .dependsOn(informers.policies);
  const later = (obj: KubeObject): void => {
    const namespace = obj.metadata.namespace;
    if (namespace !== undefined) controller.enqueueAfter({ namespace }, RETENTION_BATCH_MS);
  };
  const allNamespaces = (): void => {
    const seen = new Set<string>();
    for (const obj of informers.proposals.list()) {
      const ns = obj.metadata.namespace;
      if (ns !== undefined && !seen.has(ns)) {
        seen.add(ns);
        controller.enqueueAfter({ namespace: ns }, RETENTION_BATCH_MS);
      }
    }
  };
  for (const inf of [informers.proposals, informers.jobs, informers.approvals, informers.pods]) {
    inf.addHandlers({ onAdd: later, onUpdate: (_old, obj) => later(obj), onDelete: later });
  }
  informers.policies.addHandlers({ onAdd: allNamespaces, onUpdate: allNamespaces });
  return controller;
}
