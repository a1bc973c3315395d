// Decision → (approvals) → Job → Proposal.status. Keyed by the proposal, so all Approvals of one proposal
// are evaluated by one worker at a time, in creation order. Mints exactly one Job per proposal (name =
// proposal name, create-if-absent) under the submitter's lock, so the decider never evaluates a proposal
// of the same submitter without seeing this authorization.
import { API_VERSION } from '../api/group.ts';
import type { Decision } from '../api/kinds.ts';
import type { ApprovalStatus } from '../api/approval.ts';
import type { JobPhase } from '../api/job.ts';
import type { ProposalStatus } from '../api/proposal.ts';
import { getObject } from '../runtime/kube-http.ts';
import type { ReconcileContext, ReconcileResult } from '../runtime/controller.ts';
import type { KubeObject } from '../runtime/resource.ts';
import { createIfAbsent, formatTime, patchStatus, setCondition } from '../runtime/status.ts';
import { jsonEqual } from '../runtime/merge-patch.ts';
import { byCreation, planApprovals, type ApprovalPlan, type ApprovalRecord } from './approvals.ts';
import { buildJob, MintError } from './minting.ts';
import { createdAt, parseApproval, parseDecision, parseProposal } from './parse.ts';
import { CONDITION, desiredProposalStatus, type ProposalFacts } from './proposal-status.ts';
import { APPROVALS, JOBS, PROPOSALS } from './resources.ts';
import { jobFacts } from './session-ledger.ts';
import { BY_PROPOSAL, FIELD_MANAGER, type Shared } from './shared.ts';

/** The proposal's status records a minted Job (it may since have been deleted). */
function recordedJobExists(obj: KubeObject): boolean {
  return (obj.status as ProposalStatus | undefined)?.jobRef !== undefined;
}

export class ProposalReconciler {
  readonly #s: Shared;

  constructor(shared: Shared) {
    this.#s = shared;
  }

  async reconcile(_key: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const namespace = ctx.namespace;
    if (namespace === undefined) return;
    const name = ctx.name;
    const obj = this.#s.fresh.proposals.read(this.#s.informers.proposals.getByName(namespace, name));
    if (obj === undefined) {
      await this.#rejectOrphanApprovals(namespace, name, ctx);
      return;
    }
    const uid = obj.metadata.uid;
    if (uid === undefined || obj.metadata.deletionTimestamp !== undefined) return;
    const decisionObj = this.#s.ledger.decisionObject(namespace, name, uid);
    if (decisionObj === undefined) return; // not decided yet: the decider's business
    await this.#s.leaderBarrier(ctx.signal);

    const parsedProposal = parseProposal(obj);
    if (!parsedProposal.ok) return; // the decider recorded why; nothing can be done with it
    const hash = parsedProposal.value.hash;
    const submitter = parsedProposal.value.proposal.spec.submittedBy;
    if (decisionObj === 'unreadable') {
      await this.#setDecidedProblem(obj, 'DecisionUnreadable', 'The Decision of this proposal cannot be read; nothing runs.', ctx);
      return;
    }
    const parsedDecision = parseDecision(decisionObj);
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
    const log = this.#s.log.child({
      controller: 'proposals',
      namespace,
      name,
      reconcileID: ctx.reconcileID,
      proposalHash: hash,
      decision: decision.spec.outcome,
    });
    const now = this.#s.now();
    let jobObj = this.#s.fresh.jobs.read(this.#s.ledger.jobObject(namespace, name, uid));
    let plan: ApprovalPlan | undefined;
    let requeueAfterMs: number | undefined;

    // Approvals are evaluated for every outcome: for anything but REQUIRE_HUMAN they are NotRequired.
    const approvals = this.#approvalRecords(namespace, name);
    if (approvals.length > 0 || decision.spec.outcome === 'REQUIRE_HUMAN') {
      const needsSecret = approvals.some((a) => a.recorded === undefined);
      const secret = needsSecret ? await this.#challengeSecret(ctx) : Buffer.alloc(1);
      if (secret === undefined) return { requeueAfterMs: 5000 };
      plan = planApprovals({
        decision: { name: decision.metadata.name ?? name, uid: decisionUID, spec: decision.spec },
        proposal: { uid, hash, submittedBy: submitter },
        approvals,
        now,
        challengeSecret: secret,
        jobExists: jobObj !== undefined || recordedJobExists(obj),
      });
      for (const { record, verdict } of plan.verdicts) {
        if (!(await this.#recordApprovalVerdict(namespace, record, verdict, ctx))) continue;
        log.info({ approval: record.name, approver: record.spec.approver, state: verdict.state, reason: verdict.state === 'Rejected' ? verdict.reason : 'Accepted' }, 'Evaluated approval');
      }
    }

    // A Job we minted and that is gone (deleted by someone) is never minted again: the work may have run.
    let lostJob: ProposalFacts['job'];
    const recordedJob = (obj.status as ProposalStatus | undefined)?.jobRef;
    if (jobObj === undefined && recordedJob !== undefined) {
      const live = await getObject(this.#s.kc, JOBS, { namespace, name: recordedJob.name }, { signal: ctx.signal });
      if (live !== undefined && jobFacts(live)?.proposalUID === uid) {
        jobObj = live;
      } else {
        const phase = (obj.status as ProposalStatus | undefined)?.phase;
        lostJob =
          phase === 'Succeeded' || phase === 'Failed'
            ? { ref: recordedJob, phase, reason: phase === 'Failed' ? 'JobDeleted' : undefined }
            : { ref: recordedJob, phase: 'Failed', reason: 'JobDeleted', message: `Job ${recordedJob.name} was deleted before it finished; it is not created again.` };
      }
    }

    if (jobObj === undefined && lostJob === undefined) {
      const authorized = decision.spec.outcome === 'ALLOW' || (decision.spec.outcome === 'REQUIRE_HUMAN' && plan?.state === 'Approved');
      if (authorized) {
        const minted = await this.#mint(obj, decision, hash, submitter, plan?.approvedBy ?? [], ctx, log);
        if (minted === 'retry') return { requeueAfterMs: 2000 };
        if (minted === 'refused') return;
        jobObj = minted;
        if (decision.spec.outcome === 'REQUIRE_HUMAN') this.#s.metrics.approvalWait((now - Date.parse(decision.spec.decidedAt)) / 1000);
      } else if (decision.spec.outcome === 'REQUIRE_HUMAN' && plan?.state === 'Pending') {
        // Look again when the decision expires.
        const expiresAt = Date.parse(decision.spec.expiresAt ?? '');
        if (Number.isFinite(expiresAt)) requeueAfterMs = Math.max(1000, expiresAt - now + 1000);
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
      job: lostJob ?? (jobObj
        ? {
            ref: { name: jobObj.metadata.name ?? name, uid: jobObj.metadata.uid ?? '' },
            phase: jobStatus.phase,
            reason: jobStatus.reason,
            message: jobStatus.message,
          }
        : undefined),
    };
    await this.#writeStatus(obj, facts, ctx, log);
    if (requeueAfterMs !== undefined) return { requeueAfterMs };
  }

  #approvalRecords(namespace: string, proposalName: string): ApprovalRecord[] {
    const out: ApprovalRecord[] = [];
    for (const cached of this.#s.informers.approvals.byIndex(BY_PROPOSAL, `${namespace}/${proposalName}`)) {
      const a = this.#s.fresh.approvals.read(cached) ?? cached;
      const parsed = parseApproval(a);
      if (!parsed.ok || a.metadata.uid === undefined || a.metadata.name === undefined) continue;
      const state = (a.status as { state?: unknown } | undefined)?.state;
      out.push({
        name: a.metadata.name,
        uid: a.metadata.uid,
        createdAt: createdAt(a),
        spec: parsed.value.spec,
        recorded: state === 'Accepted' || state === 'Rejected' ? { state } : undefined,
      });
    }
    return out.sort(byCreation);
  }

  async #challengeSecret(ctx: ReconcileContext): Promise<Buffer | undefined> {
    const policy = this.#s.policy.current();
    if (policy.state !== 'valid') return undefined;
    return this.#s.challengeSecrets.get(policy.input.spec.approvals.challengeSecretRef, ctx.fence);
  }

  async #recordApprovalVerdict(
    namespace: string,
    record: ApprovalRecord,
    verdict: ApprovalPlan['verdicts'][number]['verdict'],
    ctx: ReconcileContext,
  ): Promise<boolean> {
    const current = this.#s.fresh.approvals.read(this.#s.informers.approvals.getByName(namespace, record.name));
    const reason = verdict.state === 'Accepted' ? 'Accepted' : verdict.reason;
    const message = verdict.state === 'Accepted' ? 'The approval counts towards the decision.' : verdict.message;
    const result = await patchStatus<KubeObject>(
      this.#s.kc,
      APPROVALS,
      { namespace, name: record.name },
      (draft) => {
        const status = { ...((draft.status as ApprovalStatus | undefined) ?? {}) };
        if (status.state !== undefined) return draft; // evaluated meanwhile: approvals are judged once
        const now = new Date();
        const generation = typeof draft.metadata.generation === 'number' ? draft.metadata.generation : undefined;
        status.state = verdict.state;
        status.reason = reason;
        status.message = message.slice(0, 4096);
        status.evaluatedAt = formatTime(now);
        status.conditions = setCondition(
          (status.conditions ?? []),
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
    if (current) this.#s.fresh.approvals.remember(current, result.object);
    this.#s.metrics.approval(verdict.state, reason);
    this.#s.events.record(
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
    await this.#s.leaderBarrier(ctx.signal);
    const live = await getObject(this.#s.kc, PROPOSALS, { namespace, name: proposalName }, { signal: ctx.signal });
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

  async #mint(
    proposalObj: KubeObject,
    decision: Decision,
    hash: string,
    submitter: string,
    approvalRefs: readonly { name: string; uid: string }[],
    ctx: ReconcileContext,
    log: ReconcileContext['log'],
  ): Promise<KubeObject | 'retry' | 'refused'> {
    const namespace = proposalObj.metadata.namespace ?? '';
    const name = proposalObj.metadata.name ?? '';
    const uid = proposalObj.metadata.uid ?? '';
    let job;
    try {
      job = buildJob({ proposal: { namespace, name, uid, hash }, decision, approvalRefs, signingKey: this.#s.signingKey });
    } catch (err) {
      if (!(err instanceof MintError)) throw err;
      log.error({ err }, 'Refusing to mint a Job');
      await this.#setCondition(proposalObj, { type: CONDITION.approved, status: 'False', reason: 'MintRefused', message: err.message }, ctx);
      return 'refused';
    }
    return this.#s.submitterLocks.run(submitter, async () => {
      const { object, created } = await createIfAbsent<KubeObject>(this.#s.kc, JOBS, job as unknown as KubeObject, {
        fence: ctx.fence,
        fieldManager: FIELD_MANAGER,
        signal: ctx.signal,
      });
      if (jobFacts(object)?.proposalUID !== uid) {
        log.info('A Job of an earlier incarnation of the proposal exists; waiting for its removal');
        return 'retry' as const;
      }
      this.#s.ledger.recordJob(object);
      this.#s.enqueue.job(`${namespace}/${name}`);
      if (created) log.info({ job: name, envelopeHash: (job.spec as { envelopeHash: string }).envelopeHash, keyId: this.#s.signingKey.keyId }, 'Minted job');
      return object;
    });
  }

  async #writeStatus(obj: KubeObject, facts: ProposalFacts, ctx: ReconcileContext, log: ReconcileContext['log']): Promise<void> {
    const desired = desiredProposalStatus(obj.status as ProposalStatus | undefined, facts, new Date());
    if (jsonEqual(obj.status ?? {}, desired)) return;
    let before: ProposalStatus | undefined;
    const result = await patchStatus<KubeObject>(
      this.#s.kc,
      PROPOSALS,
      { namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' },
      (draft) => {
        before = draft.status as ProposalStatus | undefined;
        draft.status = desiredProposalStatus(before, facts, new Date());
        return draft;
      },
      { current: obj, fence: ctx.fence, fieldManager: FIELD_MANAGER, signal: ctx.signal },
    );
    if (!result.changed) return;
    this.#s.fresh.proposals.remember(obj, result.object);
    if (before?.phase !== desired.phase) {
      log.info({ phase: desired.phase, previous: before?.phase }, 'Proposal phase changed');
      const terminalBad = desired.phase === 'Failed' || desired.phase === 'Rejected' || desired.phase === 'Expired';
      if (desired.phase !== 'Denied' && desired.phase !== 'NeedsEvidence' && desired.phase !== 'AwaitingApproval' && desired.phase !== 'Approved') {
        this.#s.events.record(
          { apiVersion: API_VERSION, kind: 'Proposal', namespace: obj.metadata.namespace ?? '', name: obj.metadata.name ?? '', uid: obj.metadata.uid },
          terminalBad ? 'Warning' : 'Normal',
          desired.phase ?? 'Unknown',
          desired.message ?? '',
        );
      }
    }
  }

  async #setDecidedProblem(obj: KubeObject, reason: string, message: string, ctx: ReconcileContext): Promise<void> {
    await this.#setCondition(obj, { type: CONDITION.decided, status: 'False', reason, message }, ctx);
  }

  async #setCondition(
    obj: KubeObject,
    cond: { type: string; status: 'True' | 'False' | 'Unknown'; reason: string; message: string },
    ctx: ReconcileContext,
  ): Promise<void> {
    const existing = (obj.status as ProposalStatus | undefined)?.conditions?.find((c) => c.type === cond.type);
    if (existing?.status === cond.status && existing.reason === cond.reason && existing.message === cond.message) return;
    const result = await patchStatus<KubeObject>(
      this.#s.kc,
      PROPOSALS,
      { namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' },
      (draft) => {
        const status = { ...((draft.status as ProposalStatus | undefined) ?? {}) };
        status.conditions = setCondition((status.conditions ?? []), cond, new Date());
        draft.status = status;
        return draft;
      },
      { current: obj, fence: ctx.fence, fieldManager: FIELD_MANAGER, signal: ctx.signal },
    );
    if (result.changed) this.#s.fresh.proposals.remember(obj, result.object);
  }
}

