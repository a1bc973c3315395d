// Assembles the controller process: informers (shared by all reconcilers), four controllers (decisions,
// proposals, jobs, policy) on the runtime's Manager with Lease-based leader election, the HTTP endpoints
// and the key material. Standbys keep warm caches and serve /metrics; only the leader reconciles and
// every write passes the elector's fence.
import type { KubeClient } from '../runtime/kube-access.ts';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { Backoff, sleep } from '../runtime/backoff.ts';
import { withOwnConnections } from '../runtime/connection-pool.ts';
import { Manager, type ManagerOptions } from '../runtime/manager.ts';
import type { KubeObject } from '../runtime/resource.ts';
import type { SigningKey } from '../integrity/signing.ts';
import { AuditLog } from './audit-log.ts';
import { DEFAULT_CONFIG, type ControllerConfig } from './config.ts';
import { createControllers } from './controllers.ts';
import { EventRecorder } from './events.ts';
import { startHttpServer, type ListenAddress, type Readiness, type RunningHttpServer } from './http-server.ts';
import { createInformers, namedInformers, type Informers } from './informers.ts';
import { ChallengeSecrets, ensureSigningKey, PublicKeyPublisher } from './keys.ts';
import { LeaderBarrier } from './leader-barrier.ts';
import { ControllerMetrics } from './metrics.ts';
import { countAwaitingApproval } from './notifications.ts';
import { PolicyState } from './policy-state.ts';

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
  kubeConfig: KubeClient;
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
  /** The clock (epoch ms) for decisions, rate limits, expiry and every timestamp written (tests shift it); default Date.now. */
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

/** The Manager, with Lease-based election unless `leaderElection` is false. */
function createManager(opts: StartControllerOptions, leaseKc: KubeClient, config: ControllerConfig, log: Logger, registry: Registry): Manager {
  const le = opts.leaderElection === false ? undefined : (opts.leaderElection ?? {});
  const managerOptions: ManagerOptions = {
    logger: log,
    registry,
    handleSignals: opts.handleSignals ?? false,
    ...(opts.shutdownTimeoutMs !== undefined ? { shutdownTimeoutMs: opts.shutdownTimeoutMs } : {}),
  };
  if (le) {
    managerOptions.leaderElection = {
      // Its own (pooled) connections: a Lease renew must never queue behind large LIST or watch traffic on
      // the shared pool (the renew deadline is seconds; losing it stops this replica).
      kubeConfig: leaseKc,
      namespace: config.namespace,
      name: le.leaseName ?? 'm87-controller',
      ...(le.identity !== undefined ? { identity: le.identity } : {}),
      ...(le.leaseDurationMs !== undefined ? { leaseDurationMs: le.leaseDurationMs } : {}),
      ...(le.renewDeadlineMs !== undefined ? { renewDeadlineMs: le.renewDeadlineMs } : {}),
      ...(le.retryPeriodMs !== undefined ? { retryPeriodMs: le.retryPeriodMs } : {}),
    };
  }
  return new Manager(managerOptions);
}

/** The controller metrics, with the policy's validity and label sets kept current. */
function createMetrics(opts: StartControllerOptions, manager: Manager, registry: Registry, informers: Informers, policy: PolicyState): ControllerMetrics {
  const metrics = new ControllerMetrics({ registry, isLeader: () => manager.isLeader(), defaultMetrics: opts.processMetrics ?? true });
  metrics.setPolicyValid(() => policy.current().state === 'valid');
  metrics.setApprovalsPending(() => countAwaitingApproval(informers.proposals));
  const initPolicyLabels = (obj: KubeObject): void => {
    if (obj.metadata.name !== policy.name) return;
    const view = policy.current();
    if (view.state === 'valid') metrics.initPolicyLabels(view.input.spec);
  };
  informers.policies.addHandlers({ onAdd: initPolicyLabels, onUpdate: (_old, obj) => initPolicyLabels(obj) });
  return metrics;
}

/** Ready: every cache synced, the manager running and the policy valid (the reasons say what is missing). */
function readinessOf(manager: Manager, informers: Informers, policy: PolicyState): () => Readiness {
  const all = namedInformers(informers);
  return () => {
    const reasons: string[] = [];
    for (const [name, inf] of all) if (!inf.hasSynced()) reasons.push(`cache ${name} not synced`);
    if (!manager.isReady() && reasons.length === 0) reasons.push('manager not running');
    const view = policy.current();
    if (view.state !== 'valid') reasons.push(view.message);
    return { ready: reasons.length === 0, reasons };
  };
}

export async function startController(opts: StartControllerOptions): Promise<RunningController> {
  const config: ControllerConfig = { ...DEFAULT_CONFIG, ...(opts.config ?? {}) };
  const kc = withOwnConnections(opts.kubeConfig);
  const leaseKc = withOwnConnections(opts.kubeConfig);
  const log = opts.logger ?? pino({ level: process.env.M87_LOG_LEVEL ?? 'info' });
  const registry = opts.registry ?? new Registry();
  const now = opts.clock ?? Date.now;

  const signingKey: SigningKey = await withRetry('Loading the signing key', log, () => ensureSigningKey(kc, config.namespace, config.signingSecretName));
  log.info({ secret: `${config.namespace}/${config.signingSecretName}`, keyId: signingKey.keyId }, 'Signing key loaded');

  const informers = createInformers(kc, log);
  const manager = createManager(opts, leaseKc, config, log, registry);
  const fence = (): void => manager.fence();
  const policy = new PolicyState(informers.policies, config.policyName);
  const metrics = createMetrics(opts, manager, registry, informers, policy);
  const publicKeys = new PublicKeyPublisher(kc, config.publicKeyConfigMapName, signingKey, informers.publicKeys);
  const events = new EventRecorder({ kubeConfig: kc, logger: log, fence, now, instance: manager.identity ?? 'm87-controller', onDrop: () => metrics.eventDropped() });
  const barrier = new LeaderBarrier({
    informers: [informers.proposals, informers.decisions, informers.jobs, informers.approvals],
    // Writes of a previous leader happened before we acquired the lease: a LIST started since has them.
    relist: opts.leaderElection !== false,
    then: () => publicKeys.ensure(config.namespace, fence),
    log,
  });
  const audit = new AuditLog(log, config.retention?.auditFile);
  const controllers = createControllers({
    kc,
    now,
    config,
    log,
    registry,
    metrics,
    informers,
    policy,
    signingKey,
    publicKeys,
    challengeSecrets: new ChallengeSecrets(kc, now),
    events,
    barrier,
    audit,
  });
  for (const [, inf] of namedInformers(informers)) manager.addInformer(inf);
  manager.addController(controllers.decisions).addController(controllers.proposals).addController(controllers.jobs).addController(controllers.policy);
  if (controllers.retention) manager.addController(controllers.retention);
  if (controllers.notifications) manager.addController(controllers.notifications.controller);

  const readiness = readinessOf(manager, informers, policy);
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
      controllers.notifications?.stop();
      await events.flush().catch(() => undefined);
      await audit.close();
      await http?.close();
      await Promise.all([kc.closePool(), leaseKc.closePool()]);
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
