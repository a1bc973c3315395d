// Assembles the controller process: informers (shared by all reconcilers), four controllers (decisions,
// proposals, jobs, policy) on the runtime's Manager with Lease-based leader election, the HTTP endpoints
// and the key material. Standbys keep warm caches and serve /metrics; only the leader reconciles and
// every write passes the elector's fence.
import type { KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { Backoff, sleep } from '../runtime/backoff.ts';
import { Controller, type Reconciler } from '../runtime/controller.ts';
import { errorCode } from '../runtime/kube-http.ts';
import { Informer } from '../runtime/informer.ts';
import { Manager } from '../runtime/manager.ts';
import { objectKey, type KubeObject, type ResourceType } from '../runtime/resource.ts';
import type { SigningKey } from '../integrity/signing.ts';
import { DEFAULT_CONFIG, type ControllerConfig } from './config.ts';
import { withConnectionReuse } from './connection-pool.ts';
import { Decider } from './decider.ts';
import { EventRecorder } from './events.ts';
import { startHttpServer, type ListenAddress, type Readiness, type RunningHttpServer } from './http-server.ts';
import { JobReconciler } from './job-reconciler.ts';
import { FreshObjects } from './fresh-objects.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import { ChallengeSecrets, ensureSigningKey, PublicKeyPublisher } from './keys.ts';
import { ControllerMetrics } from './metrics.ts';
import { MANAGED_SELECTOR } from './names.ts';
import { NamespaceGuard } from './namespace-guard.ts';
import { PolicyReconciler } from './policy-reconciler.ts';
import { PolicyState } from './policy-state.ts';
import { ProposalReconciler } from './proposal-reconciler.ts';
import { AGENT_PROFILES, APPROVALS, DECISIONS, GOVERNANCE_POLICIES, JOBS, NETWORK_POLICIES, PODS, PROPOSALS } from './resources.ts';
import { indexBySubmitter, SessionLedger, SUBMITTER_INDEX } from './session-ledger.ts';
import {
  BY_PROPOSAL,
  indexApprovalByProposal,
  indexUndecided,
  indexUndecidedBySubmitter,
  statusDecided,
  submitterKey,
  submitterOf,
  UNDECIDED,
  UNDECIDED_BY_SUBMITTER,
  type Informers,
  type Shared,
} from './shared.ts';

export interface LeaderElectionSettings {
  /** Lease name (in the controller namespace); default m87-controller. */
  leaseName?: string;
  /** Unique per replica; default hostname_uuid. */
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface StartControllerOptions {
  kubeConfig: KubeConfig;
  config?: Partial<ControllerConfig>;
  logger?: Logger;
  registry?: Registry;
  /** false: run as the only replica (dev/test). Default: elect a leader. */
  leaderElection?: LeaderElectionSettings | false;
  /** Where to serve /metrics, /healthz, /readyz; false for none. Default 127.0.0.1:8080. */
  http?: ListenAddress | false;
  /** Handle SIGTERM/SIGINT (orderly shutdown); default false (the CLI turns it on). */
  handleSignals?: boolean;
  /** Drain deadline on shutdown; default 30 s. */
  shutdownTimeoutMs?: number;
  /** Collect process metrics (CPU, memory, event loop); default true. */
  processMetrics?: boolean;
  /** The clock for decisions, rate limits and expiry (tests shift it); default Date.now. */
  clock?: () => number;
}

export interface RunningController {
  readonly config: ControllerConfig;
  readonly metrics: ControllerMetrics;
  readonly registry: Registry;
  /** The bound HTTP address (port 0 resolved), when serving. */
  readonly httpAddress: ListenAddress | undefined;
  /** The leader-election identity (undefined without election). */
  readonly identity: string | undefined;
  /** The public signing key and its id (never the private key). */
  readonly publicKey: { keyId: string; publicKeyPem: string };
  /** Settles when the controller stopped: resolves after stop()/SIGTERM, rejects when leadership was lost or start failed. */
  readonly done: Promise<void>;
  isLeader(): boolean;
  readiness(): Readiness;
  /** Orderly shutdown: drain, release the lease, stop informers and the HTTP server. */
  stop(): Promise<void>;
}

function informer(kc: KubeConfig, resource: ResourceType, log: Logger, extra: { labelSelector?: string; indexers?: Record<string, (o: KubeObject) => readonly string[]> } = {}): Informer<KubeObject> {
  return new Informer<KubeObject>({ kubeConfig: kc, resource, logger: log, ...extra });
}

async function withRetry<T>(what: string, log: Logger, fn: () => Promise<T>, attempts = 8): Promise<T> {
  const backoff = new Backoff({ initialMs: 250, maxMs: 5000 });
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      const delay = backoff.next();
      log.warn({ err, attempt: i, retryInMs: Math.round(delay) }, `${what} failed; retrying`);
      await sleep(delay);
    }
  }
}

/** A write refused because the namespace is being deleted: its objects are going away, nothing to retry. */
export function isNamespaceTerminating(err: unknown): boolean {
  if (errorCode(err) !== 403) return false;
  const causes = (err as { body?: { details?: { causes?: { reason?: string }[] } } }).body?.details?.causes ?? [];
  return causes.some((c) => c.reason === 'NamespaceTerminating');
}

function tolerateNamespaceDeletion(reconcile: Reconciler): Reconciler {
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

/** Relists the informers and resolves once each completed a fresh LIST (a consistent read). */
async function relistAndWait(informers: readonly Informer<KubeObject>[], signal: AbortSignal, timeoutMs = 60_000): Promise<void> {
  const before = informers.map((i) => i.stats().lists);
  for (const i of informers) i.relist();
  const deadline = performance.now() + timeoutMs;
  while (informers.some((inf, k) => inf.stats().lists <= (before[k] ?? 0))) {
    if (signal.aborted) throw new Error('leader barrier aborted');
    if (performance.now() > deadline) throw new Error('leader barrier: caches did not relist in time');
    await sleep(10, signal);
  }
}

export async function startController(opts: StartControllerOptions): Promise<RunningController> {
  const config: ControllerConfig = { ...DEFAULT_CONFIG, ...(opts.config ?? {}) };
  const kc = withConnectionReuse(opts.kubeConfig);
  const log = opts.logger ?? pino({ level: process.env.M87_LOG_LEVEL ?? 'info' });
  const registry = opts.registry ?? new Registry();

  const signingKey: SigningKey = await withRetry('Loading the signing key', log, () =>
    ensureSigningKey(kc, config.namespace, config.signingSecretName),
  );
  log.info({ secret: `${config.namespace}/${config.signingSecretName}`, keyId: signingKey.keyId }, 'Signing key loaded');

  const informers: Informers = {
    proposals: informer(kc, PROPOSALS, log, {
      indexers: { [UNDECIDED_BY_SUBMITTER]: indexUndecidedBySubmitter, [UNDECIDED]: indexUndecided },
    }),
    decisions: informer(kc, DECISIONS, log, { indexers: { [SUBMITTER_INDEX]: indexBySubmitter } }),
    approvals: informer(kc, APPROVALS, log, { indexers: { [BY_PROPOSAL]: indexApprovalByProposal } }),
    jobs: informer(kc, JOBS, log),
    profiles: informer(kc, AGENT_PROFILES, log),
    policies: informer(kc, GOVERNANCE_POLICIES, log),
    pods: informer(kc, PODS, log, { labelSelector: MANAGED_SELECTOR }),
    networkPolicies: informer(kc, NETWORK_POLICIES, log, { labelSelector: MANAGED_SELECTOR }),
  };

  const le = opts.leaderElection === false ? undefined : (opts.leaderElection ?? {});
  const manager = new Manager({
    logger: log,
    registry,
    handleSignals: opts.handleSignals ?? false,
    ...(opts.shutdownTimeoutMs !== undefined ? { shutdownTimeoutMs: opts.shutdownTimeoutMs } : {}),
    ...(le
      ? {
          leaderElection: {
            // Its own connections: a Lease renew must never queue behind large LIST or watch traffic on the
            // shared pool (the renew deadline is seconds; losing it stops this replica).
            kubeConfig: opts.kubeConfig,
            namespace: config.namespace,
            name: le.leaseName ?? 'm87-controller',
            ...(le.identity !== undefined ? { identity: le.identity } : {}),
            ...(le.leaseDurationMs !== undefined ? { leaseDurationMs: le.leaseDurationMs } : {}),
            ...(le.renewDeadlineMs !== undefined ? { renewDeadlineMs: le.renewDeadlineMs } : {}),
            ...(le.retryPeriodMs !== undefined ? { retryPeriodMs: le.retryPeriodMs } : {}),
          },
        }
      : {}),
  });
  const fence = (): void => manager.fence();
  const metrics = new ControllerMetrics({ registry, isLeader: () => manager.isLeader(), defaultMetrics: opts.processMetrics ?? true });
  const policy = new PolicyState(informers.policies, config.policyName);
  metrics.setPolicyValid(() => policy.current().state === 'valid');
  informers.policies.addHandlers({
    onAdd: (obj) => initPolicyLabels(obj),
    onUpdate: (_old, obj) => initPolicyLabels(obj),
  });
  function initPolicyLabels(obj: KubeObject): void {
    if (obj.metadata.name !== config.policyName) return;
    const view = policy.current();
    if (view.state === 'valid') metrics.initPolicyLabels(view.input.spec);
  }

  const publicKeys = new PublicKeyPublisher(kc, config.publicKeyConfigMapName, signingKey);
  const controllers: { decisions?: Controller; proposals?: Controller; jobs?: Controller } = {};
  let barrier: Promise<void> | undefined;
  const now = opts.clock ?? Date.now;
  const shared: Shared = {
    kc,
    now,
    config,
    log,
    metrics,
    informers,
    ledger: new SessionLedger(informers.decisions, informers.jobs, now),
    fresh: { proposals: new FreshObjects(), approvals: new FreshObjects(), jobs: new FreshObjects() },
    policy,
    signingKey,
    publicKeys,
    challengeSecrets: new ChallengeSecrets(kc),
    events: new EventRecorder({ kubeConfig: kc, logger: log, fence, instance: manager.identity ?? 'm87-controller', onDrop: () => metrics.eventDropped() }),
    submitterLocks: new KeyedMutex(),
    namespaces: new NamespaceGuard(kc),
    enqueue: {
      submitter: (s) => controllers.decisions?.enqueue(submitterKey(s)),
      proposal: (key) => controllers.proposals?.enqueue(key),
      job: (key) => controllers.jobs?.enqueue(key),
    },
    leaderBarrier: (signal) => {
      barrier ??= (async () => {
        // Writes of a previous leader happened before we acquired the lease: a fresh LIST contains them.
        if (le) await relistAndWait([informers.proposals, informers.decisions, informers.jobs, informers.approvals], signal);
        await publicKeys.ensure(config.namespace, fence);
        log.info('Caches reflect every earlier write; deciding');
      })();
      barrier.catch(() => (barrier = undefined));
      return barrier;
    },
  };

  const workers = config.workers ?? {};
  const decider = new Decider(shared);
  const undecidedSubmitterKeys = (): string[] => {
    const keys = new Set<string>();
    for (const p of informers.proposals.byIndex(UNDECIDED, '1')) {
      const s = submitterOf(p);
      if (s !== undefined) keys.add(submitterKey(s));
    }
    return [...keys];
  };
  const decisionsController = new Controller({
    name: 'decisions',
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
        return shared.ledger.isDecided(namespace, name, uid) ? [] : [submitterKey(s)];
      },
    })
    .watch(informers.policies, { mapToKeys: (obj) => (obj.metadata.name === config.policyName ? undecidedSubmitterKeys() : []) })
    .watch(informers.profiles, { mapToKeys: () => undecidedSubmitterKeys() })
    .dependsOn(informers.decisions)
    .dependsOn(informers.jobs);

  const proposalReconciler = new ProposalReconciler(shared);
  const proposalsController = new Controller({
    name: 'proposals',
    reconcile: tolerateNamespaceDeletion((key, ctx) => proposalReconciler.reconcile(key, ctx)),
    workers: workers.proposals ?? 8,
    logger: log,
    registry,
  })
    .watch(informers.proposals)
    .watch(informers.decisions)
    .watch(informers.approvals, {
      mapToKeys: (obj) => {
        const p = (obj.spec as { proposalName?: unknown } | undefined)?.proposalName;
        return typeof p === 'string' && obj.metadata.namespace !== undefined ? [`${obj.metadata.namespace}/${p}`] : [];
      },
    })
    .watch(informers.jobs, {
      mapToKeys: (obj) => {
        const p = (obj.spec as { proposalRef?: { name?: unknown } } | undefined)?.proposalRef?.name;
        return [typeof p === 'string' && obj.metadata.namespace !== undefined ? `${obj.metadata.namespace}/${p}` : objectKey(obj)];
      },
    })
    .dependsOn(informers.policies)
    .dependsOn(informers.profiles);

  const jobReconciler = new JobReconciler(shared);
  const ownerJobKey = (obj: KubeObject): string[] => {
    const owner = obj.metadata.ownerReferences?.find((r) => r.kind === 'Job' && r.controller === true && r.apiVersion.startsWith('governance.m87.io/'));
    return owner && obj.metadata.namespace !== undefined ? [`${obj.metadata.namespace}/${owner.name}`] : [];
  };
  const jobsController = new Controller({
    name: 'jobs',
    reconcile: tolerateNamespaceDeletion((key, ctx) => jobReconciler.reconcile(key, ctx)),
    workers: workers.jobs ?? 4,
    logger: log,
    registry,
  })
    .watch(informers.jobs)
    .watch(informers.pods, { mapToKeys: ownerJobKey })
    .watch(informers.networkPolicies, { mapToKeys: ownerJobKey });

  const policyReconciler = new PolicyReconciler(shared);
  const policyController = new Controller({
    name: 'policy',
    reconcile: (key, ctx) => policyReconciler.reconcile(key, ctx),
    logger: log,
    registry,
  }).watch(informers.policies);

  controllers.decisions = decisionsController;
  controllers.proposals = proposalsController;
  controllers.jobs = jobsController;
  const allInformers = Object.entries(informers) as [string, Informer<KubeObject>][];
  for (const [, inf] of allInformers) manager.addInformer(inf);
  for (const c of [decisionsController, proposalsController, jobsController, policyController]) manager.addController(c);

  const readiness = (): Readiness => {
    const reasons: string[] = [];
    for (const [name, inf] of allInformers) if (!inf.hasSynced()) reasons.push(`cache ${name} not synced`);
    if (!manager.isReady() && reasons.length === 0) reasons.push('manager not running');
    const view = policy.current();
    if (view.state !== 'valid') reasons.push(view.message);
    return { ready: reasons.length === 0, reasons };
  };

  let http: RunningHttpServer | undefined;
  const httpListen = opts.http === undefined ? { host: '127.0.0.1', port: 8080 } : opts.http;
  if (httpListen !== false) {
    http = await startHttpServer({ registry, readiness, listen: httpListen });
    log.info({ address: `${http.address.host}:${http.address.port}` }, 'Serving /metrics, /healthz and /readyz');
  }

  const runDone = manager.run();
  let closing: Promise<void> | undefined;
  const cleanup = async (): Promise<void> => {
    closing ??= (async () => {
      await shared.events.flush().catch(() => undefined);
      await http?.close();
      await kc.closePool();
    })();
    return closing;
  };
  const done = runDone.then(
    async () => {
      await cleanup();
    },
    async (err: unknown) => {
      await cleanup();
      throw err;
    },
  );
  // Callers that only call stop() must not see an unhandled rejection.
  done.catch(() => undefined);
  log.info({ namespace: config.namespace, identity: manager.identity, runnerImage: config.runnerImage }, 'Controller started');

  return {
    config,
    metrics,
    registry,
    httpAddress: http?.address,
    identity: manager.identity,
    publicKey: { keyId: signingKey.keyId, publicKeyPem: signingKey.publicKeyPem },
    done,
    isLeader: () => manager.isLeader(),
    readiness,
    stop: async () => {
      await manager.stop();
      await done.catch(() => undefined);
      await cleanup();
    },
  };
}
