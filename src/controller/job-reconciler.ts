// Job → NetworkPolicy (checked as the server stored it) → Pod, and Pod → Job.status. Before anything runs the Job
// is checked again (DEH recomputed, signature verified with our key), so a Job this controller did not
// sign never gets a Pod. A terminated Pod's receipt decides Succeeded or Failed (receipt-check.ts).
import { API_VERSION } from '../api/group.ts';
import type { Job } from '../api/kinds.ts';
import { isTerminalJobPhase, type JobStatus } from '../api/job.ts';
import { parsedEnvelopeHash } from '../integrity/document-hashes.ts';
import type { KubeClient } from '../runtime/kube-access.ts';
import type { Logger } from 'pino';
import type { ObjectKey, ReconcileContext, ReconcileResult } from '../runtime/controller.ts';
import { getObject } from '../runtime/kube-http.ts';
import { jsonEqual } from '../runtime/merge-patch.ts';
import type { KubeObject } from '../runtime/resource.ts';
import { createIfAbsent, formatTime, patchStatus, setCondition, type Condition } from '../runtime/status.ts';
import { verifyDeh, type SigningKey } from '../integrity/signing.ts';
import type { ControllerConfig } from './config.ts';
import type { EventRecorder } from './events.ts';
import type { FreshWrites } from './fresh-objects.ts';
import type { Informers } from './informers.ts';
import type { PublicKeyPublisher } from './keys.ts';
import type { ControllerMetrics } from './metrics.ts';
import type { NamespaceGuard } from './namespace-guard.ts';
import { buildJobPod, stepImageMismatch } from './job-pod.ts';
import { jobPodView, type JobPodView } from './job-pod-view.ts';
import type { ToolCache } from './tool-cache.ts';
import { checkToolBindings } from '../tool-catalogue/binding.ts';
import type { ToolSpec } from '../api/tool.ts';
import { FIELD_MANAGER, jobNetworkPolicyName, jobPodName } from './names.ts';
import { jobOutputsName } from '../integrity/job-outputs.ts';
import { collectJobOutputs, receiptHasOutputs } from './job-outputs.ts';
import { buildNetworkPolicy, EgressRuleError, networkPolicyMatches } from './network-policy.ts';
import { isControlledBy } from './owner.ts';
import { parseJob } from './parse.ts';
import { conditionReason } from './proposal-status.ts';
import { jobFacts, podProgress, type JobResult } from './receipt-check.ts';
import { JOBS, NETWORK_POLICIES, PODS } from './resources.ts';

const JOB_CONDITION = { envelopeVerified: 'EnvelopeVerified', succeeded: 'Succeeded' } as const;

type StatusEdit = (status: JobStatus, now: Date) => JobStatus;

export interface JobReconcilerDeps {
  kc: KubeClient;
  /** The controller's clock (epoch ms). */
  now: () => number;
  log: Logger;
  metrics: ControllerMetrics;
  config: Pick<ControllerConfig, 'requireRestrictedNamespace' | 'runnerResources'>;
  informers: Pick<Informers, 'jobs' | 'pods'>;
  fresh: Pick<FreshWrites, 'jobs'>;
  signingKey: SigningKey;
  publicKeys: PublicKeyPublisher;
  namespaces: NamespaceGuard;
  events: EventRecorder;
  /** The Tool cache: each step runs in the image of the Tool it was decided against, checked again here. */
  toolCache: Pick<ToolCache, 'tools'>;
}

/** Why this parsed Job (the Job schema's output) must not run, or undefined when it is intact and signed with `key`. Pure. */
export function integrityProblem(job: Job, key: Pick<SigningKey, 'keyId' | 'publicKeyPem'>): { reason: string; message: string } | undefined {
  let deh: string;
  try {
    deh = parsedEnvelopeHash(job.spec.envelope); // job is the Job schema's output (parseJob)
  } catch (err) {
    return { reason: 'EnvelopeInvalid', message: `spec.envelope: ${(err as Error).message}` };
  }
  if (deh !== job.spec.envelopeHash) return { reason: 'EnvelopeHashMismatch', message: 'spec.envelopeHash does not match spec.envelope.' };
  if (job.spec.keyId !== key.keyId) return { reason: 'UnknownSigningKey', message: `spec.keyId ${job.spec.keyId} is not the controller's key ${key.keyId}.` };
  if (!verifyDeh(key.publicKeyPem, deh, job.spec.signature)) return { reason: 'SignatureInvalid', message: 'spec.signature does not verify with the controller key.' };
  const p = job.spec.envelope.proposal;
  if (p.name !== job.spec.proposalRef.name || p.uid !== job.spec.proposalRef.uid || p.namespace !== job.metadata.namespace) {
    return { reason: 'EnvelopeProposalMismatch', message: 'spec.envelope.proposal does not match spec.proposalRef.' };
  }
  return undefined;
}

type IntegrityVerdict = ReturnType<typeof integrityProblem>;

/**
 * integrityProblem, remembered per Job. A Job's spec does not change once minted, yet every status write and
 * every event of its Pod reconciles it again, each time from a new cached copy; the check (schema parse, RFC
 * 8785 hash, Ed25519 verify) costs far more than comparing the spec. A verdict is reused only for the same key
 * and a spec (and namespace) structurally equal to the one checked: the same JSON, so the same DEH and the same
 * signature check. A spec that differs in anything is checked afresh. Bounded; a finished Job is forgotten.
 */
export class IntegrityVerdicts {
  readonly #max: number;
  readonly #byUid = new Map<string, { spec: Job['spec']; namespace: string | undefined; key: Pick<SigningKey, 'keyId' | 'publicKeyPem'>; verdict: IntegrityVerdict }>();
  /** Checks actually run (tests assert the reuse with it). */
  checks = 0;

  constructor(max = 4096) {
    this.#max = max;
  }

  check(job: Job, key: Pick<SigningKey, 'keyId' | 'publicKeyPem'>): IntegrityVerdict {
    const uid = job.metadata.uid;
    const namespace = job.metadata.namespace;
    const known = uid === undefined || uid === '' ? undefined : this.#byUid.get(uid);
    if (
      known !== undefined &&
      known.namespace === namespace &&
      known.key.keyId === key.keyId &&
      known.key.publicKeyPem === key.publicKeyPem &&
      jsonEqual(known.spec, job.spec)
    ) {
      known.spec = job.spec; // the newest copy: the older one need not be kept alive
      return known.verdict;
    }
    this.checks++;
    const verdict = integrityProblem(job, key);
    if (uid !== undefined && uid !== '') {
      this.#byUid.delete(uid);
      if (this.#byUid.size >= this.#max) this.#byUid.delete(this.#byUid.keys().next().value!);
      this.#byUid.set(uid, { spec: job.spec, namespace, key, verdict });
    }
    return verdict;
  }

  forget(uid: string | undefined): void {
    if (uid !== undefined) this.#byUid.delete(uid);
  }

  size(): number {
    return this.#byUid.size;
  }
}

export class JobReconciler {
  readonly #s: JobReconcilerDeps;
  readonly #integrity = new IntegrityVerdicts();

  constructor(deps: JobReconcilerDeps) {
    this.#s = deps;
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult> {
    const namespace = key.namespace;
    if (namespace === undefined) return;
    const obj = this.#s.fresh.jobs.read(this.#s.informers.jobs.getByName(namespace, key.name));
    if (obj === undefined || obj.metadata.deletionTimestamp !== undefined) return;
    const phase = (obj.status as JobStatus | undefined)?.phase;
    if (isTerminalJobPhase(phase)) {
      this.#integrity.forget(obj.metadata.uid);
      return;
    }
    const log = this.#s.log.child({ controller: 'jobs', namespace, name: key.name, reconcileID: ctx.reconcileID });

    const parsed = parseJob(obj);
    if (!parsed.ok) {
      await this.#fail(obj, 'InvalidJob', `The Job cannot be read: ${parsed.error}`, ctx);
      return;
    }
    const job = parsed.value;
    const uid = job.metadata.uid ?? '';
    const problem = this.#integrity.check(job, this.#s.signingKey);
    if (problem) {
      log.warn({ reason: problem.reason }, problem.message);
      await this.#fail(obj, problem.reason, problem.message, ctx);
      return;
    }
    const facts = jobFacts(job);
    const podName = jobPodName(key.name);
    let pod = this.#s.informers.pods.getByName(namespace, podName);
    if (pod === undefined && (obj.status as JobStatus | undefined)?.podName !== undefined) {
      // We created it before; the cache may be behind, or it was deleted.
      const live = await getObject(this.#s.kc, PODS, { namespace, name: podName }, { signal: ctx.signal });
      if (live === undefined) {
        await this.#fail(obj, 'PodDeleted', `Pod ${podName} was deleted before the job finished.`, ctx);
        return;
      }
      pod = jobPodView(live); // read as the cache would hold it
    }
    if (pod !== undefined) {
      if (!isControlledBy(pod, uid)) {
        if (pod.metadata.deletionTimestamp !== undefined) return { requeueAfterMs: 2000 };
        await this.#fail(obj, 'PodNameConflict', `Pod ${podName} exists and does not belong to this Job.`, ctx);
        return;
      }
      return this.#observePod(obj, pod, facts, ctx, log);
    }
    return this.#start(obj, job, ctx, log);
  }

  async #start(obj: KubeObject, job: Job, ctx: ReconcileContext, log: ReconcileContext['log']): Promise<ReconcileResult> {
    const namespace = job.metadata.namespace ?? '';
    const name = job.metadata.name ?? '';
    const uid = job.metadata.uid ?? '';
    const ref = { namespace, name, uid, proposalName: job.spec.proposalRef.name };

    // Each step runs the Tool it was decided against, or nothing runs (no NetworkPolicy, no Pod).
    const catalogue = this.#s.toolCache.tools();
    const problems = checkToolBindings(job.spec.envelope.steps, catalogue);
    if (problems.length > 0) {
      const message = `${problems.map((p) => p.message).join('; ')}; no Pod is started.`;
      log.warn({ reason: problems[0]!.reason }, message);
      await this.#fail(obj, problems[0]!.reason, message, ctx);
      return;
    }
    const tools: Record<string, ToolSpec> = Object.fromEntries(job.spec.envelope.steps.map((s) => [s.tool, catalogue.get(s.tool)!]));

    let desiredNp;
    try {
      desiredNp = buildNetworkPolicy(ref, job.spec.envelope.egress);
    } catch (err) {
      if (!(err instanceof EgressRuleError)) throw err;
      await this.#fail(obj, 'InvalidEgress', err.message, ctx);
      return;
    }
    if (this.#s.config.requireRestrictedNamespace ?? true) {
      const problem = await this.#s.namespaces.problem(namespace, ctx.signal);
      if (problem !== undefined) {
        await this.#edit(obj, ctx, (s, now) => ({
          ...s,
          phase: 'Pending',
          reason: 'NamespaceNotRestricted',
          message: problem,
          conditions: unknownConditions(s.conditions, 'NamespaceNotRestricted', problem, now),
        }));
        log.warn({ reason: 'NamespaceNotRestricted' }, problem);
        return { requeueAfterMs: 30_000 };
      }
    }
    await this.#s.publicKeys.ensure(namespace, ctx.fence);

    const npName = jobNetworkPolicyName(name);
    const { object: np } = await createIfAbsent<KubeObject>(this.#s.kc, NETWORK_POLICIES, desiredNp as unknown as KubeObject, {
      fence: ctx.fence,
      fieldManager: FIELD_MANAGER,
      signal: ctx.signal,
    });
    if (!isControlledBy(np, uid)) {
      if (np.metadata.deletionTimestamp !== undefined) return { requeueAfterMs: 2000 };
      await this.#fail(obj, 'NetworkPolicyConflict', `NetworkPolicy ${npName} exists and does not belong to this Job.`, ctx);
      return;
    }
    // The Pod is created only once the isolation is known to be stored as intended. The create response
    // is the object as stored (after admission and defaulting), and an existing one was read by
    // createIfAbsent: no second read.
    const match = networkPolicyMatches(np, desiredNp);
    if (!match.ok) {
      await this.#fail(obj, 'NetworkPolicyMismatch', `NetworkPolicy ${npName} as stored differs from what was created (${match.field}); no Pod is started.`, ctx);
      return;
    }

    const desiredPod = buildJobPod({
      job: { ...jobFacts(job), namespace, name, proposalName: job.spec.proposalRef.name },
      publicKeyConfigMap: this.#s.publicKeys.configMapName,
      tools,
      ...(this.#s.config.runnerResources ? { resources: this.#s.config.runnerResources } : {}),
    });
    const { object: stored, created } = await createIfAbsent<KubeObject>(this.#s.kc, PODS, desiredPod as unknown as KubeObject, {
      fence: ctx.fence,
      fieldManager: FIELD_MANAGER,
      signal: ctx.signal,
    });
    const pod = jobPodView(stored);
    if (!isControlledBy(pod, uid)) {
      if (pod.metadata.deletionTimestamp !== undefined) return { requeueAfterMs: 2000 };
      await this.#fail(obj, 'PodNameConflict', `Pod ${desiredPod.metadata.name} exists and does not belong to this Job.`, ctx);
      return;
    }
    if (created) log.info({ pod: desiredPod.metadata.name, networkPolicy: npName, envelopeHash: job.spec.envelopeHash }, 'Started job Pod');
    return this.#observePod(obj, pod, jobFacts(job), ctx, log);
  }

  async #observePod(
    obj: KubeObject,
    pod: JobPodView,
    facts: Parameters<typeof podProgress>[0],
    ctx: ReconcileContext,
    log: ReconcileContext['log'],
  ): Promise<ReconcileResult> {
    const podName = pod.metadata.name ?? '';
    const npName = jobNetworkPolicyName(obj.metadata.name ?? '');
    const progress = podProgress(facts, pod);
    const base = (s: JobStatus): JobStatus => ({
      ...s,
      podName,
      networkPolicyName: npName,
      startTime: s.startTime ?? (typeof pod.metadata.creationTimestamp === 'string' ? pod.metadata.creationTimestamp : formatTime(new Date(this.#s.now()))),
    });
    switch (progress.state) {
      case 'pending':
        // A Pod waiting to start needs the public key (someone may have deleted the ConfigMap since).
        await this.#s.publicKeys.ensure(obj.metadata.namespace ?? '', ctx.fence);
        await this.#edit(obj, ctx, (s, now) => ({
          ...base(s),
          phase: 'Pending',
          reason: 'PodPending',
          message: `Pod ${podName} is waiting to run.`,
          conditions: unknownConditions(s.conditions, 'Pending', 'The Pod has not run yet.', now),
        }));
        return;
      case 'running':
        await this.#edit(obj, ctx, (s, now) => ({
          ...base(s),
          phase: 'Running',
          reason: 'PodRunning',
          message: `Pod ${podName} is running.`,
          conditions: unknownConditions(s.conditions, 'Running', 'The runner is executing the job.', now),
        }));
        return;
      case 'finished': {
        // A step Pod's receipt counts only if every step ran the image its envelope step binds.
        const envelope = facts.envelope;
        const mismatch = stepImageMismatch(pod, envelope);
        if (mismatch !== undefined && progress.result.verification !== 'mismatch') {
          const { receipt: _unbelieved, ...rest } = progress.result;
          await this.#finish(
            obj,
            { ...rest, phase: 'Failed', reason: 'TOOL_IMAGE_MISMATCH', message: `A step did not run its bound image (${mismatch}); the receipt is not believed.`, verification: 'mismatch' },
            base,
            ctx,
            log,
          );
          return;
        }
        let result = progress.result;
        if (result.verification !== 'mismatch' && receiptHasOutputs(result.receipt)) {
          // Before the status is final (and anything may delete the Pod): the declared outputs, all or none.
          const { namespace = '', name = '', uid = '' } = obj.metadata;
          const finishedAt = Date.parse(result.completionTime ?? '');
          const since = Number.isNaN(finishedAt) ? Infinity : this.#s.now() - finishedAt;
          const outputs = await collectJobOutputs(this.#s.kc, { namespace, name, uid }, podName, result.receipt!, ctx, since);
          if (outputs.ok === 'retry') {
            log.info(outputs.message);
            return { requeueAfterMs: 2000 };
          }
          if (!outputs.ok) {
            log.warn({ reason: outputs.reason }, outputs.message);
            result = { ...result, phase: 'Failed', reason: outputs.reason, message: outputs.message };
          } else {
            log.info({ outputs: outputs.stored, configMap: jobOutputsName(name) }, 'Stored job outputs');
          }
        }
        await this.#finish(obj, result, base, ctx, log);
        return;
      }
      default: {
        const never: never = progress;
        throw new Error(`unexpected pod progress ${JSON.stringify(never)}`);
      }
    }
  }

  async #finish(obj: KubeObject, result: JobResult, base: (s: JobStatus) => JobStatus, ctx: ReconcileContext, log: ReconcileContext['log']): Promise<void> {
    const changed = await this.#edit(obj, ctx, (s, now) => {
      let conditions = setCondition(
        (s.conditions ?? []),
        {
          type: JOB_CONDITION.envelopeVerified,
          status: result.envelopeVerified.status,
          reason: conditionReason(result.envelopeVerified.reason, 'NotVerified'),
          message: result.envelopeVerified.message,
        },
        now,
      );
      conditions = setCondition(
        conditions,
        {
          type: JOB_CONDITION.succeeded,
          status: result.phase === 'Succeeded' ? 'True' : 'False',
          reason: conditionReason(result.reason, 'Failed'),
          message: result.message,
        },
        now,
      );
      const out: JobStatus = {
        ...base(s),
        phase: result.phase,
        reason: result.reason.slice(0, 64),
        message: result.message.slice(0, 4096),
        completionTime: result.completionTime ?? formatTime(now),
        conditions,
      };
      if (result.receipt) out.receipt = result.receipt;
      return out;
    });
    if (changed) {
      this.#s.metrics.jobFinished(result.phase, result.verification);
      log.info({ phase: result.phase, reason: result.reason, verification: result.verification }, 'Job finished');
      // A success is routine (Job.status and the receipt are the record); a failure gets a Warning Event.
      if (result.phase !== 'Succeeded') {
        const { namespace, name, uid } = obj.metadata;
        this.#s.events.record({ apiVersion: API_VERSION, kind: 'Job', namespace: namespace ?? '', name: name ?? '', uid }, 'Warning', result.phase, result.message);
      }
    }
  }

  async #fail(obj: KubeObject, reason: string, message: string, ctx: ReconcileContext): Promise<void> {
    const changed = await this.#edit(obj, ctx, (s, now) => {
      let conditions = setCondition((s.conditions ?? []), { type: JOB_CONDITION.envelopeVerified, status: 'False', reason: conditionReason(reason, 'Failed'), message }, now);
      conditions = setCondition(conditions, { type: JOB_CONDITION.succeeded, status: 'False', reason: conditionReason(reason, 'Failed'), message }, now);
      return { ...s, phase: 'Failed', reason: reason.slice(0, 64), message: message.slice(0, 4096), completionTime: formatTime(now), conditions };
    });
    if (changed) {
      this.#s.metrics.jobFinished('Failed', 'missing');
      const { namespace, name, uid } = obj.metadata;
      this.#s.events.record({ apiVersion: API_VERSION, kind: 'Job', namespace: namespace ?? '', name: name ?? '', uid }, 'Warning', reason, message);
    }
  }

  /** Patches Job.status (from the cached copy; conflicts re-read); true when something was written. */
  async #edit(obj: KubeObject, ctx: ReconcileContext, edit: StatusEdit): Promise<boolean> {
    let terminalAlready = false;
    const result = await patchStatus<KubeObject>(
      this.#s.kc,
      JOBS,
      { namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' },
      (draft) => {
        const current = (draft.status ?? {}) as JobStatus;
        // A result, once recorded, is final.
        if (isTerminalJobPhase(current.phase)) {
          terminalAlready = true;
          return draft;
        }
        const next = edit(current, new Date(this.#s.now()));
        const generation = draft.metadata.generation;
        draft.status = typeof generation === 'number' ? { ...next, observedGeneration: generation } : next;
        return draft;
      },
      { current: obj, fence: ctx.fence, fieldManager: FIELD_MANAGER, signal: ctx.signal },
    );
    if (result.changed) this.#s.fresh.jobs.remember(obj, result.object);
    return result.changed && !terminalAlready;
  }
}

function unknownConditions(conditions: JobStatus['conditions'], reason: string, message: string, now: Date): Condition[] {
  let out = setCondition((conditions ?? []), { type: JOB_CONDITION.envelopeVerified, status: 'Unknown', reason, message }, now);
  out = setCondition(out, { type: JOB_CONDITION.succeeded, status: 'Unknown', reason, message }, now);
  return out;
}
