// Proposal → (approvals) → Proposal.status. Keyed by the proposal, so all Approvals of one proposal are
// evaluated by one worker at a time, in creation order. This is the one writer of Proposal.status: it
// shows the decision, the approval state and the Job, or why nothing is decided yet (reasons the decisions
// controller found, handed over in PendingReasons). A proposal found authorized gets its signed Job built
// here; the decisions controller creates it: an ALLOW's at once (createJob), an approved REQUIRE_HUMAN's in
// the submitter's order (MintRequests), because only that Job adds to the submitter's session history.
import type { KubeClient } from '../runtime/kube-access.ts';
import type { Logger } from 'pino';
import { API_VERSION } from '../api/group.ts';
import type { ApprovalStatus } from '../api/approval.ts';
import type { Decision } from '../api/kinds.ts';
import type { JobPhase } from '../api/job.ts';
import type { ProposalStatus } from '../api/proposal.ts';
import type { SigningKey } from '../integrity/signing.ts';
import type { ObjectKey, ReconcileContext, ReconcileResult } from '../runtime/controller.ts';
import { getObject } from '../runtime/kube-http.ts';
import { jsonEqual } from '../runtime/merge-patch.ts';
import type { KubeObject } from '../runtime/resource.ts';
import { formatTime, patchObject, patchStatus, setCondition } from '../runtime/status.ts';
import { byCreation, planApprovals, type ApprovalPlan, type ApprovalRecord } from './approvals.ts';
import type { EventRecorder } from './events.ts';
import type { FreshWrites } from './fresh-objects.ts';
import { BY_PROPOSAL, type Informers } from './informers.ts';
import type { ChallengeSecrets } from './keys.ts';
import type { LeaderBarrier } from './leader-barrier.ts';
import type { ControllerMetrics } from './metrics.ts';
import { buildJob, MintError } from './minting.ts';
import type { ToolCache } from './tool-cache.ts';
import { checkToolBindings } from '../tool-catalogue/binding.ts';
import type { MintRequest, MintRequests } from './mint-requests.ts';
import { FIELD_MANAGER } from './names.ts';
import { ownerRef } from './owner.ts';
import type { NotificationRecords } from './notifications.ts';
import { proposalFinished, type DecisionView } from './compact.ts';
import { createdAt, decisionView, parseApproval, parseDecision, parseProposal, proposalHashOf } from './parse.ts';
import type { PendingReasons } from './pending-reasons.ts';
import type { PolicyState } from './policy-state.ts';
import { CONDITION, desiredProposalStatus, pendingProposalStatus, type NotDecided, type ProposalFacts } from './proposal-status.ts';
import { APPROVALS, DECISIONS, JOBS, PROPOSALS } from './resources.ts';
import { jobFacts, type SessionLedger } from './session-ledger.ts';

export interface ProposalReconcilerDeps {
  kc: KubeClient;
  /** The controller's clock (epoch ms). */
  now: () => number;
  log: Logger;
  metrics: ControllerMetrics;
  informers: Pick<Informers, 'proposals' | 'approvals'>;
  ledger: SessionLedger;
  fresh: FreshWrites;
  policy: PolicyState;
  signingKey: Pick<SigningKey, 'keyId' | 'privateKeyPem'>;
  challengeSecrets: ChallengeSecrets;
  events: EventRecorder;
  /** In: why the decisions controller has not decided a proposal. */
  pending: PendingReasons;
  /** Out: approved REQUIRE_HUMAN Jobs for the decisions controller to create in the submitter's order. */
  mintRequests: MintRequests;
  /** Creates an ALLOW's Job now (the decisions controller's createJob); false while an earlier incarnation's Job is in the way. */
  createJob(request: MintRequest, ctx: ReconcileContext): Promise<boolean>;
  enqueueSubmitter(submitter: string): void;
  barrier: LeaderBarrier;
  /** The Tool cache: a decision whose tools were deleted or changed since is not minted. */
  toolCache: Pick<ToolCache, 'tools'>;
  /** In: webhook notifications delivered, recorded here as the Notified condition (absent: notifications off). */
  notified?: Pick<NotificationRecords, 'apply'>;
}

/** What to do about the Job of a decided proposal. Pure. */
export type JobPlan =
  | { action: 'none' }
  /** Authorized and no Job yet: build it and have it created. */
  | { action: 'mint' }
  /** A Job we minted is gone: never minted again (the work may have run); the proposal shows why. */
  | { action: 'lost'; job: NonNullable<ProposalFacts['job']> }
  /** Waiting for approvals: look again when the decision expires. */
  | { action: 'wait'; requeueAfterMs: number };

export interface JobPlanInput {
  outcome: Decision['spec']['outcome'];
  /** REQUIRE_HUMAN: the approval state of the plan. */
  approvalState: ApprovalPlan['state'] | undefined;
  /** A Job of this incarnation exists (cache, our own write or the server). */
  jobExists: boolean;
  /** Proposal.status.jobRef and phase: a Job was minted before. */
  recorded: { jobRef: { name: string; uid: string } | undefined; phase: string | undefined };
  /** Epoch ms; NaN when unknown. */
  expiresAt: number;
  now: number;
}

export function planJob(input: JobPlanInput): JobPlan {
  if (input.jobExists) return { action: 'none' };
  const ref = input.recorded.jobRef;
  if (ref !== undefined) {
    const phase = input.recorded.phase;
    return {
      action: 'lost',
      job:
        phase === 'Succeeded' || phase === 'Failed'
          ? { ref, phase, reason: phase === 'Failed' ? 'JobDeleted' : undefined }
          : { ref, phase: 'Failed', reason: 'JobDeleted', message: `Job ${ref.name} was deleted before it finished; it is not created again.` },
    };
  }
  if (input.outcome === 'ALLOW' || (input.outcome === 'REQUIRE_HUMAN' && input.approvalState === 'Approved')) return { action: 'mint' };
  if (input.outcome === 'REQUIRE_HUMAN' && input.approvalState === 'Pending' && Number.isFinite(input.expiresAt)) {
    return { action: 'wait', requeueAfterMs: Math.max(1000, input.expiresAt - input.now + 1000) };
  }
  return { action: 'none' };
}

export class ProposalReconciler {
  readonly #d: ProposalReconcilerDeps;

  constructor(deps: ProposalReconcilerDeps) {
    this.#d = deps;
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult> {
    const namespace = key.namespace;
    if (namespace === undefined) return;
    const name = key.name;
    const d = this.#d;
    const obj = d.fresh.proposals.read(d.informers.proposals.getByName(namespace, name));
    if (obj === undefined) {
      d.pending.delete({ namespace, name });
      await this.#rejectOrphanApprovals(namespace, name, ctx);
      return;
    }
    const uid = obj.metadata.uid;
    if (uid === undefined || obj.metadata.deletionTimestamp !== undefined) return;
    await d.barrier.wait(ctx.signal);
    if (proposalFinished(obj)) return this.#reconcileFinished(obj, { namespace, name, uid }, ctx);
    const decisionObj = d.ledger.decisionObject(namespace, name, uid);
    if (decisionObj === undefined) {
      const why = d.pending.get({ namespace, name }, uid);
      if (why !== undefined) await this.#writePending(obj, why, ctx);
      return;
    }
    d.pending.delete({ namespace, name });

    const parsedProposal = parseProposal(obj);
    if (!parsedProposal.ok) return; // the decider recorded why; nothing can be done with it
    const hash = parsedProposal.value.hash;
    const submitter = parsedProposal.value.proposal.spec.submittedBy;
    if (decisionObj === 'unreadable') {
      await this.#setDecidedProblem(obj, 'DecisionUnreadable', 'The Decision of this proposal cannot be read; nothing runs.', ctx);
      return;
    }
    const parsedDecision = decisionView(decisionObj);
    if (!parsedDecision.ok) {
      await this.#setDecidedProblem(obj, 'DecisionInvalid', `The Decision is not valid (${parsedDecision.error}); nothing runs.`, ctx);
      return;
    }
    const decision = parsedDecision.value;
    if (decision.spec.proposalHash !== hash) {
      await this.#setDecidedProblem(obj, 'HashMismatch', 'The Decision was made for a different proposal hash; nothing runs.', ctx);
      return;
    }
    const decisionUID = decision.metadata.uid ?? '';
    const log = d.log.child({ controller: 'proposals', namespace, name, reconcileID: ctx.reconcileID, proposalHash: hash, decision: decision.spec.outcome });
    const now = d.now();
    let jobObj = d.fresh.jobs.read(d.ledger.jobObject(namespace, name, uid));
    const status = obj.status as ProposalStatus | undefined;
    if (jobObj === undefined && status?.jobRef !== undefined) {
      // We recorded a Job before; the cache may be behind, or it was deleted.
      const live = await getObject(d.kc, JOBS, { namespace, name: status.jobRef.name }, { signal: ctx.signal });
      if (live !== undefined && jobFacts(live)?.proposalUID === uid) jobObj = live;
    }

    // Approvals are evaluated for every outcome: for anything but REQUIRE_HUMAN they are NotRequired.
    let plan: ApprovalPlan | undefined;
    const approvals = this.#approvalRecords(namespace, name);
    if (approvals.length > 0 || decision.spec.outcome === 'REQUIRE_HUMAN') {
      await this.#adoptApprovals(obj, approvals, ctx);
      const needsSecret = approvals.some((a) => a.recorded === undefined);
      const secret = needsSecret ? await this.#challengeSecret(ctx) : Buffer.alloc(1);
      if (secret === undefined) return { requeueAfterMs: 5000 };
      plan = planApprovals({
        decision: { name: decision.metadata.name ?? name, uid: decisionUID, spec: decision.spec },
        proposal: { uid, hash, submittedBy: submitter },
        approvals,
        now,
        challengeSecret: secret,
        jobExists: jobObj !== undefined || status?.jobRef !== undefined,
      });
      for (const { record, verdict } of plan.verdicts) {
        if (!(await this.#recordApprovalVerdict(namespace, record, verdict, ctx))) continue;
        log.info({ approval: record.name, approver: record.spec.approver, state: verdict.state, reason: verdict.state === 'Rejected' ? verdict.reason : 'Accepted' }, 'Evaluated approval');
      }
    }

    const jobPlan = planJob({
      outcome: decision.spec.outcome,
      approvalState: plan?.state,
      jobExists: jobObj !== undefined,
      recorded: { jobRef: status?.jobRef, phase: status?.phase },
      expiresAt: Date.parse(decision.spec.expiresAt ?? ''),
      now,
    });
    let mintRefused: string | undefined;
    let mintRefusedReason: string | undefined;
    // Minting reads the Decision's envelope, which the cache does not keep (compact.ts): the whole Decision.
    const whole = jobPlan.action === 'mint' ? await this.#wholeDecision({ namespace, name, uid }, decision, ctx, log) : undefined;
    if (jobPlan.action === 'mint' && whole === undefined) return { requeueAfterMs: 2000 };
    const toolProblems = whole !== undefined ? checkToolBindings(whole.spec.effectiveEnvelope?.steps ?? [], d.toolCache.tools()) : [];
    if (toolProblems.length > 0) {
      // The tool the decision bound is gone or is not the one decided any more: no Job (and so no Pod).
      mintRefusedReason = toolProblems[0]!.reason;
      mintRefused = toolProblems.map((p) => p.message).join('; ');
      log.warn({ reason: mintRefusedReason }, `Refusing to mint a Job: ${mintRefused}`);
    } else if (whole !== undefined) {
      try {
        const job = buildJob({ proposal: { namespace, name, uid, hash }, decision: whole, approvalRefs: plan?.approvedBy ?? [], signingKey: d.signingKey });
        const request: MintRequest = {
          proposal: { namespace, name, uid, hash },
          job: job as unknown as KubeObject,
          approvalRequestedAt: decision.spec.outcome === 'REQUIRE_HUMAN' ? Date.parse(decision.spec.decidedAt) : undefined,
        };
        // The status is written once the Job exists (creating it queues us again): one write, not two.
        if (decision.spec.outcome === 'ALLOW') return (await d.createJob(request, ctx)) ? undefined : { requeueAfterMs: 2000 };
        d.mintRequests.add(submitter, request);
        d.enqueueSubmitter(submitter);
        return;
      } catch (err) {
        if (!(err instanceof MintError)) throw err;
        log.error({ err }, 'Refusing to mint a Job');
        mintRefused = err.message;
      }
    }

    const jobStatus = (jobObj?.status ?? {}) as { phase?: JobPhase; reason?: string; message?: string };
    const facts: ProposalFacts = {
      generation: typeof obj.metadata.generation === 'number' ? obj.metadata.generation : 1,
      hash,
      decision: {
        ref: { name: decision.metadata.name ?? name, uid: decisionUID },
        outcome: decision.spec.outcome,
        reasons: decision.spec.reasons,
        expiresAt: decision.spec.expiresAt,
      },
      approval: plan && decision.spec.outcome === 'REQUIRE_HUMAN' ? { state: plan.state, approvedBy: plan.approvedBy } : undefined,
      job:
        jobPlan.action === 'lost'
          ? jobPlan.job
          : jobObj
            ? { ref: { name: jobObj.metadata.name ?? name, uid: jobObj.metadata.uid ?? '' }, phase: jobStatus.phase, reason: jobStatus.reason, message: jobStatus.message }
            : undefined,
      mintRefused,
      mintRefusedReason,
    };
    await this.#writeStatus(obj, facts, ctx, log);
    if (jobPlan.action === 'wait') return { requeueAfterMs: jobPlan.requeueAfterMs };
  }

  /**
   * The whole Decision (with the effective envelope) whose view the cache holds: the one this process wrote,
   * else the server's, if it is that same Decision. undefined (nothing is minted; the caller looks again)
   * when neither can be had.
   */
  async #wholeDecision(p: { namespace: string; name: string; uid: string }, view: DecisionView, ctx: ReconcileContext, log: Logger): Promise<Omit<Decision, 'status'> | undefined> {
    const decisionUID = view.metadata.uid ?? '';
    let obj = this.#d.ledger.fullDecision(p.namespace, p.name, p.uid, decisionUID);
    if (obj === undefined) {
      // Our own create's response is still on its way (its watch event came first): it brings the whole one.
      if (this.#d.ledger.isDeciding(p.namespace, p.name, p.uid)) return undefined;
      obj = await getObject(this.#d.kc, DECISIONS, { namespace: p.namespace, name: view.metadata.name ?? p.name }, { signal: ctx.signal });
      if (obj?.metadata.uid !== decisionUID) {
        log.info({ decisionUID }, 'The Decision read from the server is not the cached one; not minting yet');
        return undefined;
      }
    }
    const parsed = parseDecision(obj);
    if (!parsed.ok || parsed.value.spec.proposalHash !== view.spec.proposalHash || parsed.value.spec.envelopeHash !== view.spec.envelopeHash) {
      log.warn({ decisionUID }, 'The whole Decision does not match its cached view; not minting');
      return undefined;
    }
    return parsed.value;
  }

  /**
   * A finished proposal (compact.ts): its status is final and is not derived again from its Decision and Job
   * (which the cache may hold compact). Approvals that still arrive are judged (none can change the outcome)
   * and a delivered notification is recorded; every status write starts from a live read.
   */
  async #reconcileFinished(obj: KubeObject, p: { namespace: string; name: string; uid: string }, ctx: ReconcileContext): Promise<ReconcileResult> {
    const d = this.#d;
    d.pending.delete(p);
    const approvals = this.#approvalRecords(p.namespace, p.name);
    if (approvals.some((a) => a.recorded === undefined || (a.spec.proposalUID === p.uid && !(a.owners ?? []).includes(p.uid)))) {
      const decisionObj = d.ledger.decisionObject(p.namespace, p.name, p.uid);
      const decision = decisionObj === undefined || decisionObj === 'unreadable' ? undefined : decisionView(decisionObj);
      const hash = proposalHashOf(obj);
      const submittedBy = (obj.spec as { submittedBy?: unknown } | undefined)?.submittedBy;
      if (decision?.ok === true && hash !== undefined && typeof submittedBy === 'string') {
        await this.#adoptApprovals(obj, approvals, ctx);
        const secret = approvals.some((a) => a.recorded === undefined) ? await this.#challengeSecret(ctx) : Buffer.alloc(1);
        if (secret === undefined) return { requeueAfterMs: 5000 };
        const status = obj.status as { jobRef?: unknown } | undefined;
        const plan = planApprovals({
          decision: { name: decision.value.metadata.name ?? p.name, uid: decision.value.metadata.uid ?? '', spec: decision.value.spec },
          proposal: { uid: p.uid, hash, submittedBy },
          approvals,
          now: d.now(),
          challengeSecret: secret,
          jobExists: status?.jobRef !== undefined || d.ledger.jobObject(p.namespace, p.name, p.uid) !== undefined,
        });
        for (const { record, verdict } of plan.verdicts) {
          if (!(await this.#recordApprovalVerdict(p.namespace, record, verdict, ctx))) continue;
          ctx.log.info({ approval: record.name, approver: record.spec.approver, state: verdict.state, reason: verdict.state === 'Rejected' ? verdict.reason : 'Accepted' }, 'Evaluated approval of a finished proposal');
        }
      }
    }
    const notified = d.notified;
    if (notified === undefined) return;
    const now = new Date(d.now());
    const current = obj.status as ProposalStatus | undefined;
    if (current === undefined || notified.apply(p.uid, current, now) === current) return;
    // From a live read: the cached status may be compact (conditions without their messages).
    const result = await patchStatus<KubeObject>(
      d.kc,
      PROPOSALS,
      { namespace: p.namespace, name: p.name },
      (draft) => {
        const status = draft.status as ProposalStatus | undefined;
        if (status !== undefined) draft.status = notified.apply(draft.metadata.uid, status, new Date(d.now()));
        return draft;
      },
      { fence: ctx.fence, fieldManager: FIELD_MANAGER, signal: ctx.signal },
    );
    if (result.changed) d.fresh.proposals.remember(obj, result.object);
  }

  #approvalRecords(namespace: string, proposalName: string): ApprovalRecord[] {
    const out: ApprovalRecord[] = [];
    for (const cached of this.#d.informers.approvals.byIndex(BY_PROPOSAL, `${namespace}/${proposalName}`)) {
      const a = this.#d.fresh.approvals.read(cached) ?? cached;
      const parsed = parseApproval(a);
      if (!parsed.ok || a.metadata.uid === undefined || a.metadata.name === undefined) continue;
      const state = (a.status as { state?: unknown } | undefined)?.state;
      out.push({
        name: a.metadata.name,
        uid: a.metadata.uid,
        createdAt: createdAt(a),
        spec: parsed.value.spec,
        recorded: state === 'Accepted' || state === 'Rejected' ? { state } : undefined,
        owners: a.metadata.ownerReferences?.map((r) => r.uid) ?? [],
      });
    }
    return out.sort(byCreation);
  }

  /**
   * Approvals of this incarnation become owned by the proposal, so the garbage collector removes them
   * with it (an Approval of a proposal that is gone can then never be replayed on a new one of that name).
   */
  async #adoptApprovals(proposal: KubeObject, approvals: readonly ApprovalRecord[], ctx: ReconcileContext): Promise<void> {
    const { namespace, name, uid } = proposal.metadata;
    if (namespace === undefined || name === undefined || uid === undefined) return;
    for (const a of approvals) {
      if (a.spec.proposalUID !== uid || a.owners?.includes(uid)) continue;
      const current = this.#d.fresh.approvals.read(this.#d.informers.approvals.getByName(namespace, a.name));
      const result = await patchObject<KubeObject>(
        this.#d.kc,
        APPROVALS,
        { namespace, name: a.name },
        (draft) => {
          const owners = draft.metadata.ownerReferences ?? [];
          if (owners.some((r) => r.uid === uid)) return draft;
          draft.metadata.ownerReferences = [...owners, ownerRef('Proposal', { name, uid })];
          return draft;
        },
        { ...(current ? { current } : {}), fence: ctx.fence, fieldManager: FIELD_MANAGER, signal: ctx.signal },
      );
      if (result.changed && current) this.#d.fresh.approvals.remember(current, result.object);
    }
  }

  async #challengeSecret(ctx: ReconcileContext): Promise<Buffer | undefined> {
    const policy = this.#d.policy.current();
    if (policy.state !== 'valid') return undefined;
    return this.#d.challengeSecrets.get(policy.input.spec.approvals.challengeSecretRef, ctx.fence);
  }

  async #recordApprovalVerdict(
    namespace: string,
    record: ApprovalRecord,
    verdict: ApprovalPlan['verdicts'][number]['verdict'],
    ctx: ReconcileContext,
  ): Promise<boolean> {
    const d = this.#d;
    const current = d.fresh.approvals.read(d.informers.approvals.getByName(namespace, record.name));
    const reason = verdict.state === 'Accepted' ? 'Accepted' : verdict.reason;
    const message = verdict.state === 'Accepted' ? 'The approval counts towards the decision.' : verdict.message;
    const result = await patchStatus<KubeObject>(
      d.kc,
      APPROVALS,
      { namespace, name: record.name },
      (draft) => {
        const status = { ...((draft.status as ApprovalStatus | undefined) ?? {}) };
        if (status.state !== undefined) return draft; // evaluated meanwhile: approvals are judged once
        const now = new Date(d.now());
        const generation = typeof draft.metadata.generation === 'number' ? draft.metadata.generation : undefined;
        status.state = verdict.state;
        status.reason = reason;
        status.message = message.slice(0, 4096);
        status.evaluatedAt = formatTime(now);
        status.conditions = setCondition(
          status.conditions ?? [],
          {
            type: 'Accepted',
            status: verdict.state === 'Accepted' ? 'True' : 'False',
            reason,
            message,
            ...(generation !== undefined ? { observedGeneration: generation } : {}),
          },
          now,
        );
        if (generation !== undefined) status.observedGeneration = generation;
        draft.status = status;
        return draft;
      },
      { ...(current ? { current } : {}), fence: ctx.fence, fieldManager: FIELD_MANAGER, signal: ctx.signal },
    );
    // Judged meanwhile by an earlier pass (our cache was behind): nothing to count or report.
    if (!result.changed) return false;
    if (current) d.fresh.approvals.remember(current, result.object);
    d.metrics.approval(verdict.state, reason);
    d.events.record(
      { apiVersion: API_VERSION, kind: 'Approval', namespace, name: record.name, uid: record.uid },
      verdict.state === 'Accepted' ? 'Normal' : 'Warning',
      verdict.state === 'Accepted' ? 'ApprovalAccepted' : `ApprovalRejected${reason}`,
      message,
    );
    return true;
  }

  /** Approvals naming a proposal that does not exist (checked on the server, not only the cache). */
  async #rejectOrphanApprovals(namespace: string, proposalName: string, ctx: ReconcileContext): Promise<void> {
    const pending = this.#approvalRecords(namespace, proposalName).filter((a) => a.recorded === undefined);
    if (pending.length === 0) return;
    await this.#d.barrier.wait(ctx.signal);
    const live = await getObject(this.#d.kc, PROPOSALS, { namespace, name: proposalName }, { signal: ctx.signal });
    if (live !== undefined) return; // the cache is behind; the proposal's own events bring us back
    for (const record of pending) {
      await this.#recordApprovalVerdict(
        namespace,
        record,
        { state: 'Rejected', reason: 'UIDMismatch', message: `there is no proposal ${proposalName} in ${namespace}` },
        ctx,
      );
    }
  }

  async #writePending(obj: KubeObject, why: NotDecided, ctx: ReconcileContext): Promise<void> {
    const current = obj.status as ProposalStatus | undefined;
    const cond = current?.conditions?.find((x) => x.type === CONDITION.decided);
    if (current?.phase === why.phase && cond?.reason === why.reason && cond.message === why.message && (why.hash === undefined || current.proposalHash === why.hash)) {
      return;
    }
    const generation = typeof obj.metadata.generation === 'number' ? obj.metadata.generation : undefined;
    await this.#patch(obj, (status) => pendingProposalStatus(status, why, generation, new Date(this.#d.now())), ctx);
  }

  async #writeStatus(obj: KubeObject, facts: ProposalFacts, ctx: ReconcileContext, log: Logger): Promise<void> {
    const withNotified = (s: ProposalStatus): ProposalStatus => this.#d.notified?.apply(obj.metadata.uid, s, new Date(this.#d.now())) ?? s;
    const desired = withNotified(desiredProposalStatus(obj.status as ProposalStatus | undefined, facts, new Date(this.#d.now())));
    if (jsonEqual(obj.status ?? {}, desired)) return;
    let before: ProposalStatus | undefined;
    const changed = await this.#patch(
      obj,
      (status) => {
        before = status;
        return withNotified(desiredProposalStatus(status, facts, new Date(this.#d.now())));
      },
      ctx,
    );
    if (!changed || before?.phase === desired.phase) return;
    log.info({ phase: desired.phase, previous: before?.phase }, 'Proposal phase changed');
    // Events only for what went wrong; routine progress (Approved, Running, Succeeded) is in the status.
    if (desired.phase === 'Failed' || desired.phase === 'Rejected' || desired.phase === 'Expired') {
      this.#d.events.record(
        { apiVersion: API_VERSION, kind: 'Proposal', namespace: obj.metadata.namespace ?? '', name: obj.metadata.name ?? '', uid: obj.metadata.uid },
        'Warning',
        desired.phase,
        desired.message ?? '',
      );
    }
  }

  async #setDecidedProblem(obj: KubeObject, reason: string, message: string, ctx: ReconcileContext): Promise<void> {
    const existing = (obj.status as ProposalStatus | undefined)?.conditions?.find((c) => c.type === CONDITION.decided);
    if (existing?.status === 'False' && existing.reason === reason && existing.message === message) return;
    await this.#patch(
      obj,
      (status) => ({
        ...(status ?? {}),
        conditions: setCondition(status?.conditions ?? [], { type: CONDITION.decided, status: 'False', reason, message }, new Date(this.#d.now())),
      }),
      ctx,
    );
  }

  /** Writes Proposal.status (from the cached copy; conflicts re-read); true when something was written. Errors retry through the queue. */
  async #patch(obj: KubeObject, edit: (status: ProposalStatus | undefined) => ProposalStatus, ctx: ReconcileContext): Promise<boolean> {
    const result = await patchStatus<KubeObject>(
      this.#d.kc,
      PROPOSALS,
      { namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' },
      (draft) => {
        draft.status = edit(draft.status as ProposalStatus | undefined);
        return draft;
      },
      { current: obj, fence: ctx.fence, fieldManager: FIELD_MANAGER, signal: ctx.signal },
    );
    if (result.changed) this.#d.fresh.proposals.remember(obj, result.object);
    return result.changed;
  }
}


