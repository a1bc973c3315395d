// The retention controller (key: namespace). Each pass plans the namespace (retention.ts) from the caches and
// carries out what is due, each deletion paid for with a token from its own bucket, so pruning never competes
// with decisions for the API server beyond that rate (its own queue and worker, too):
// - a finished job's Pod after the keep-for window, then its NetworkPolicy once the server says the Pod is
//   gone (a Pod is never left without its NetworkPolicy, also when the controller dies in between);
// - a finished proposal tree after the history TTL or over the namespace cap: first its audit record
//   (audit-log.ts: log line, and the file sink fsynced), then the Proposal with propagationPolicy Background
//   and preconditions on its UID and resourceVersion; the garbage collector removes the Decision, Approvals
//   and Job through their owner references, and the Job's Pod, NetworkPolicy and outputs after it.
//   A Job never outlives its Proposal by more than the garbage collector's delay, and no tree is deleted
//   without its record written first (a record may be written twice if the controller dies in between).
import type { KubeClient } from '../runtime/kube-access.ts';
import type { Logger } from 'pino';
import { effectiveRetention } from '../api/governance-policy.ts';
import type { JobStatus } from '../api/job.ts';
import type { ReconcileContext, ReconcileResult } from '../runtime/controller.ts';
import { NAMESPACE_INDEX } from '../runtime/informer.ts';
import { getObject, isConflict, isNotFound, kubeRequest } from '../runtime/kube-http.ts';
import type { TokenBucket } from '../runtime/rate-limiter.ts';
import { resourcePath, type KubeObject } from '../runtime/resource.ts';
import type { AuditLog } from './audit-log.ts';
import { AuditRecordError, buildAuditRecord } from './audit-record.ts';
import { BY_PROPOSAL, type Informers } from './informers.ts';
import type { LeaderBarrier } from './leader-barrier.ts';
import { jobNetworkPolicyName, jobPodName } from './names.ts';
import { isControlledBy } from './owner.ts';
import { createdAt } from './parse.ts';
import type { PolicyState } from './policy-state.ts';
import type { NamespaceKey } from './queue-keys.ts';
import { DECISIONS, JOBS, NETWORK_POLICIES, PODS, PROPOSALS } from './resources.ts';
import { planJobResources, planNamespace, type PruneReason, type RetentionSettings, type TreeFacts } from './retention.ts';
import { decisionFacts, jobFacts } from './session-ledger.ts';

/** Deletions of one pass at most; the rest waits for the next pass (the queue stays fair between namespaces). */
const MAX_DELETIONS_PER_PASS = 50;
/** Deletions in flight at once within a pass (each still paid with a token). */
const PARALLEL_DELETIONS = 8;
/** The next pass after one that used its budget (the key goes to the back of the queue meanwhile). */
const BUSY_REQUEUE_MS = 250;
/** Look again at least this often while something is waiting (clock shifts, missed events). */
const MAX_REQUEUE_MS = 10 * 60_000;

export interface RetentionCounters {
  deleted(kind: 'Pod' | 'NetworkPolicy' | 'Proposal', reason: string): void;
  auditRecord(result: 'written' | 'failed'): void;
}

export interface RetentionReconcilerDeps {
  kc: KubeClient;
  now: () => number;
  log: Logger;
  informers: Pick<Informers, 'proposals' | 'decisions' | 'approvals' | 'jobs' | 'pods' | 'networkPolicies'>;
  policy: PolicyState;
  audit: AuditLog;
  /** Paid once per deletion (the runtime's token bucket). */
  bucket: TokenBucket;
  /** Refill rate of the bucket, to know how long to wait for the next token. */
  deletionsPerSecond: number;
  barrier: LeaderBarrier;
  counters?: RetentionCounters;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function time(v: unknown): number {
  return typeof v === 'string' ? Date.parse(v) : Number.NaN;
}

class OutOfTokens extends Error {}

export class RetentionReconciler {
  readonly #d: RetentionReconcilerDeps;

  constructor(deps: RetentionReconcilerDeps) {
    this.#d = deps;
  }

  /** The settings in force, or undefined while the policy is missing or invalid (then nothing is pruned). */
  settings(): RetentionSettings | undefined {
    const view = this.#d.policy.current();
    if (view.state !== 'valid') return undefined;
    return { ...effectiveRetention(view.input.spec.retention), sessionWindowSeconds: view.input.spec.session.windowSeconds };
  }

  async reconcile(key: NamespaceKey, ctx: ReconcileContext): Promise<ReconcileResult> {
    const settings = this.settings();
    if (settings === undefined) return; // the policy's own events bring us back
    await this.#d.barrier.wait(ctx.signal);
    const now = this.#d.now();
    let budget = MAX_DELETIONS_PER_PASS;
    let nextAt: number | undefined;
    const later = (at: number): void => {
      nextAt = nextAt === undefined ? at : Math.min(nextAt, at);
    };
    let outOfTokens = false;
    let more = false;
    // Up to PARALLEL_DELETIONS at once: the token bucket, not one request's latency, bounds the rate.
    const run = async <T>(items: Iterable<T>, cap: number, fn: (item: T) => Promise<boolean>): Promise<void> => {
      const it = items[Symbol.iterator]();
      let used = 0;
      const worker = async (): Promise<void> => {
        for (;;) {
          if (outOfTokens) return;
          if (budget <= 0 || used >= cap) {
            more = true; // whatever is left waits for the next pass
            return;
          }
          const next = it.next();
          if (next.done === true) return;
          try {
            if (await fn(next.value)) {
              budget--;
              used++;
            }
          } catch (err) {
            if (!(err instanceof OutOfTokens)) throw err;
            outOfTokens = true;
          }
        }
      };
      const results = await Promise.allSettled(Array.from({ length: PARALLEL_DELETIONS }, worker));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    };
    // Job Pods and NetworkPolicies: at most half the pass, so a backlog of them never starves the trees.
    await run(this.#d.informers.jobs.byIndex(NAMESPACE_INDEX, key.namespace), MAX_DELETIONS_PER_PASS / 2, async (job) => {
      const r = await this.#jobResources(job, settings, now, ctx);
      if (r.at !== undefined) later(r.at);
      return r.deleted;
    });
    // Proposal trees.
    const trees: TreeFacts[] = [];
    const objects = new Map<string, KubeObject>();
    for (const p of this.#d.informers.proposals.byIndex(NAMESPACE_INDEX, key.namespace)) {
      const facts = this.#treeFacts(p);
      if (facts === undefined) continue;
      trees.push(facts);
      objects.set(facts.name, p);
    }
    const plan = planNamespace(trees, settings, now);
    if (plan.nextAt !== undefined) later(plan.nextAt);
    await run(plan.prune, MAX_DELETIONS_PER_PASS, async ({ tree, reason }) => {
      const p = objects.get(tree.name);
      return p !== undefined && (await this.#pruneTree(p, reason, ctx));
    });
    if (outOfTokens) return { requeueAfterMs: Math.ceil(1000 / this.#d.deletionsPerSecond) };
    if (more) return { requeueAfterMs: BUSY_REQUEUE_MS };
    if (nextAt === undefined) return;
    return { requeueAfterMs: Math.min(MAX_REQUEUE_MS, Math.max(1000, nextAt - now + 250)) };
  }

  #take(): void {
    if (!this.#d.bucket.tryTake()) throw new OutOfTokens();
  }

  async #jobResources(job: KubeObject, s: RetentionSettings, now: number, ctx: ReconcileContext): Promise<{ deleted: boolean; at?: number }> {
    const { namespace = '', name = '', uid = '' } = job.metadata;
    const status = (job.status ?? {}) as JobStatus;
    const podName = jobPodName(name);
    const npName = jobNetworkPolicyName(name);
    const pod = this.#d.informers.pods.getByName(namespace, podName);
    const np = this.#d.informers.networkPolicies.getByName(namespace, npName);
    const ours = (o: KubeObject | undefined): boolean => o !== undefined && isControlledBy(o, uid);
    const plan = planJobResources(
      { phase: status.phase, completedAt: time(status.completionTime), pod: ours(pod), networkPolicy: ours(np) },
      s.jobResourcesKeepForSeconds,
      now,
    );
    switch (plan.action) {
      case 'none':
        return { deleted: false };
      case 'wait':
        return { deleted: false, at: plan.at };
      case 'deletePod': {
        if (pod!.metadata.deletionTimestamp !== undefined) return { deleted: false, at: now + 2000 };
        this.#take();
        const gone = await this.#delete(PODS, namespace, podName, pod!.metadata.uid, ctx);
        this.#d.counters?.deleted('Pod', 'KeepForElapsed');
        ctx.log.info({ job: name, pod: podName, alreadyGone: gone }, 'Deleted the Pod of a finished job');
        // The NetworkPolicy follows once the Pod's deletion is seen (its informer event brings us back).
        return { deleted: true, at: now + 2000 };
      }
      case 'deleteNetworkPolicy': {
        // The cache may be behind: the NetworkPolicy goes only once the server has no Pod of this job.
        const live = await getObject(this.#d.kc, PODS, { namespace, name: podName }, { signal: ctx.signal });
        if (live !== undefined && isControlledBy(live, uid)) return { deleted: false, at: now + 2000 };
        this.#take();
        await this.#delete(NETWORK_POLICIES, namespace, npName, np!.metadata.uid, ctx);
        this.#d.counters?.deleted('NetworkPolicy', 'KeepForElapsed');
        ctx.log.info({ job: name, networkPolicy: npName }, 'Deleted the NetworkPolicy of a finished job');
        return { deleted: true };
      }
    }
  }

  /** DELETE with a UID precondition; true when it was gone already. */
  async #delete(
    resource: typeof PODS,
    namespace: string,
    name: string,
    uid: string | undefined,
    ctx: ReconcileContext,
    extra: { propagationPolicy?: 'Background'; resourceVersion?: string } = {},
  ): Promise<boolean> {
    try {
      await kubeRequest(this.#d.kc, {
        method: 'DELETE',
        path: resourcePath(resource, { namespace, name }),
        body: {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          ...(extra.propagationPolicy ? { propagationPolicy: extra.propagationPolicy } : {}),
          preconditions: { ...(uid ? { uid } : {}), ...(extra.resourceVersion ? { resourceVersion: extra.resourceVersion } : {}) },
        },
        fence: ctx.fence,
        signal: ctx.signal,
      });
      return false;
    } catch (err) {
      if (isNotFound(err)) return true;
      throw err;
    }
  }

  #decisionOf(p: KubeObject): KubeObject | undefined {
    // A Decision of another incarnation of the name is not this tree's; one we cannot read is (kept).
    const d = this.#d.informers.decisions.getByName(p.metadata.namespace, p.metadata.name ?? '');
    if (d === undefined) return undefined;
    const facts = decisionFacts(d);
    return facts === undefined || facts.proposalUID === p.metadata.uid ? d : undefined;
  }

  #jobOf(p: KubeObject): KubeObject | undefined {
    const j = this.#d.informers.jobs.getByName(p.metadata.namespace, p.metadata.name ?? '');
    return j !== undefined && jobFacts(j)?.proposalUID === p.metadata.uid ? j : undefined;
  }

  #approvalsOf(p: KubeObject): KubeObject[] {
    const uid = p.metadata.uid;
    return this.#d.informers.approvals
      .byIndex(BY_PROPOSAL, `${p.metadata.namespace ?? ''}/${p.metadata.name ?? ''}`)
      .filter((a) => (a.spec as { proposalUID?: unknown } | undefined)?.proposalUID === uid);
  }

  #treeFacts(p: KubeObject): TreeFacts | undefined {
    const { namespace, name, uid } = p.metadata;
    if (namespace === undefined || name === undefined || uid === undefined || p.metadata.deletionTimestamp !== undefined) return undefined;
    const dObj = this.#decisionOf(p);
    let decision: TreeFacts['decision'];
    if (dObj !== undefined) {
      const f = decisionFacts(dObj);
      if (f === undefined) decision = 'unreadable';
      else if (f.proposalUID === uid) {
        const spec = dObj.spec as { expiresAt?: unknown };
        decision = { outcome: f.outcome, decidedAt: f.decidedAt, expiresAt: time(spec.expiresAt) };
      }
    }
    const jObj = this.#jobOf(p);
    const jStatus = (jObj?.status ?? {}) as JobStatus;
    const jobName = jObj?.metadata.name ?? '';
    const jobUID = jObj?.metadata.uid ?? '';
    const left = (o: KubeObject | undefined): boolean => o !== undefined && isControlledBy(o, jobUID);
    const jobResourcesLeft =
      jObj !== undefined &&
      (left(this.#d.informers.pods.getByName(namespace, jobPodName(jobName))) || left(this.#d.informers.networkPolicies.getByName(namespace, jobNetworkPolicyName(jobName))));
    let unjudged = 0;
    let lastJudgedAt = Number.NaN;
    for (const a of this.#approvalsOf(p)) {
      const s = (a.status ?? {}) as { state?: unknown; evaluatedAt?: unknown };
      if (s.state !== 'Accepted' && s.state !== 'Rejected') unjudged++;
      const t = time(s.evaluatedAt);
      if (Number.isFinite(t)) lastJudgedAt = Number.isFinite(lastJudgedAt) ? Math.max(lastJudgedAt, t) : t;
    }
    return {
      namespace,
      name,
      uid,
      createdAt: createdAt(p),
      phase: str((p.status as { phase?: unknown } | undefined)?.phase),
      decision,
      job: jObj === undefined ? undefined : { phase: jStatus.phase, completedAt: time(jStatus.completionTime) },
      approvals: { unjudged, lastJudgedAt },
      jobResourcesLeft,
    };
  }

  /** Audit record first, then the Proposal (cascade). True when a deletion was sent. */
  async #pruneTree(p: KubeObject, reason: PruneReason, ctx: ReconcileContext): Promise<boolean> {
    const { namespace = '', name = '', uid = '' } = p.metadata;
    const cachedDecision = this.#decisionOf(p);
    if (cachedDecision === undefined) return false;
    this.#take();
    // The record describes what the API server holds, not what a (possibly trimmed) cache keeps: the Decision
    // and Job are read once more (their specs are immutable and a recorded job result is final).
    const decision = await getObject(this.#d.kc, DECISIONS, { namespace, name }, { signal: ctx.signal });
    const cachedJob = this.#jobOf(p);
    const job = cachedJob === undefined ? undefined : await getObject(this.#d.kc, JOBS, { namespace, name: cachedJob.metadata.name ?? name }, { signal: ctx.signal });
    if (decision === undefined || decision.metadata.uid !== cachedDecision.metadata.uid || (cachedJob !== undefined && job?.metadata.uid !== cachedJob.metadata.uid)) {
      return false; // changed under us: the next pass sees the new state
    }
    let record;
    try {
      record = buildAuditRecord({ proposal: p, decision, approvals: this.#approvalsOf(p), job }, reason, new Date(this.#d.now()));
    } catch (err) {
      if (!(err instanceof AuditRecordError)) throw err;
      // Without a complete record the tree stays (and says why, once per pass).
      this.#d.counters?.auditRecord('failed');
      ctx.log.warn({ proposal: name, err: err.message }, 'Not pruning a proposal tree: its audit record cannot be built');
      return false;
    }
    try {
      await this.#d.audit.write(record);
    } catch (err) {
      this.#d.counters?.auditRecord('failed');
      throw new Error(`audit record for ${namespace}/${name} not written; nothing deleted: ${(err as Error).message}`, { cause: err });
    }
    this.#d.counters?.auditRecord('written');
    try {
      await this.#delete(PROPOSALS, namespace, name, uid, ctx, { propagationPolicy: 'Background', ...(p.metadata.resourceVersion ? { resourceVersion: p.metadata.resourceVersion } : {}) });
    } catch (err) {
      // Changed since the cache saw it: look again with the new version (its record is written again then).
      if (isConflict(err)) return true;
      throw err;
    }
    this.#d.counters?.deleted('Proposal', reason);
    ctx.log.info({ proposal: name, proposalUID: uid, reason, proposalHash: record.proposal.hash, decision: record.decision.outcome }, 'Deleted a proposal tree');
    return true;
  }
}
