// Proposal.status as a function of what exists: the Decision, the approval state and the Job. Pure, so
// every reconcile computes the same status from the same facts and writes only when it differs.
import type { Outcome, Reason } from '../api/decision.ts';
import type { JobPhase } from '../api/job.ts';
import type { ObjectRef } from '../api/primitives.ts';
import type { ProposalPhase, ProposalStatus } from '../api/proposal.ts';
import { setCondition, type Condition } from '../runtime/status.ts';
import type { ApprovalState } from './approvals.ts';

export const CONDITION = { decided: 'Decided', approved: 'Approved', executed: 'Executed' } as const;

export interface ProposalFacts {
  generation: number;
  hash: string;
  decision: { ref: ObjectRef; outcome: Outcome; reasons: readonly Reason[]; expiresAt?: string | undefined };
  /** REQUIRE_HUMAN only. */
  approval?: { state: ApprovalState; approvedBy: readonly ObjectRef[] } | undefined;
  job?: { ref: ObjectRef; phase?: JobPhase | undefined; reason?: string | undefined; message?: string | undefined } | undefined;
  /** Authorized, but the Job cannot be built (MintError message): nothing runs. */
  mintRefused?: string | undefined;
  /** The Approved condition's reason for mintRefused (default MintRefused; ToolMissing, ToolChanged…). */
  mintRefusedReason?: string | undefined;
}

const DECIDED_REASON: Record<Outcome, string> = {
  ALLOW: 'Allowed',
  DENY: 'Denied',
  REQUIRE_HUMAN: 'RequiresHuman',
  NEED_MORE_EVIDENCE: 'NeedsEvidence',
};

const CONDITION_REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/** A reason usable in a condition (runner codes like DEH_MISMATCH are fine; anything odd is replaced). */
export function conditionReason(reason: string | undefined, fallback: string): string {
  return reason !== undefined && reason.length <= 1024 && CONDITION_REASON.test(reason) ? reason : fallback;
}

/** The findings that made the outcome, as one line for humans. */
function decisionSummary(outcome: Outcome, reasons: readonly Reason[]): string {
  if (outcome === 'ALLOW') return 'Allowed by policy.';
  const decisive = reasons.filter((r) => r.outcome === outcome);
  const text = (decisive.length > 0 ? decisive : reasons).map((r) => `${r.code}: ${r.message}`).join(' ');
  return text.length > 2000 ? text.slice(0, 1999) + '…' : text;
}

function phaseOf(f: ProposalFacts): ProposalPhase {
  if (f.job) {
    switch (f.job.phase) {
      case 'Succeeded':
        return 'Succeeded';
      case 'Failed':
        return 'Failed';
      case 'Running':
        return 'Running';
      case 'Pending':
      case undefined:
        return 'Approved';
      default: {
        const never: never = f.job.phase;
        return never;
      }
    }
  }
  switch (f.decision.outcome) {
    case 'DENY':
      return 'Denied';
    case 'NEED_MORE_EVIDENCE':
      return 'NeedsEvidence';
    case 'ALLOW':
      return 'Approved';
    case 'REQUIRE_HUMAN':
      switch (f.approval?.state ?? 'Pending') {
        case 'Rejected':
          return 'Rejected';
        case 'Expired':
          return 'Expired';
        case 'Approved':
          return 'Approved';
        case 'Pending':
          return 'AwaitingApproval';
      }
  }
  return 'Pending';
}

function messageOf(phase: ProposalPhase, f: ProposalFacts): string {
  switch (phase) {
    case 'Denied':
    case 'NeedsEvidence':
      return decisionSummary(f.decision.outcome, f.decision.reasons);
    case 'AwaitingApproval':
      return `Waiting for approval until ${f.decision.expiresAt ?? '(unknown)'}: ${decisionSummary(f.decision.outcome, f.decision.reasons)}`;
    case 'Rejected':
      return 'An approver rejected the proposal.';
    case 'Expired':
      return `No approval before ${f.decision.expiresAt ?? '(unknown)'}.`;
    case 'Approved':
      return f.job ? `Job ${f.job.ref.name} created.` : 'Approved; creating the Job.';
    case 'Running':
      return `Job ${f.job?.ref.name ?? ''} is running.`;
    case 'Succeeded':
      return `Job ${f.job?.ref.name ?? ''} succeeded.`;
    case 'Failed':
      return `Job ${f.job?.ref.name ?? ''} failed: ${f.job?.reason ?? 'unknown'}${f.job?.message ? ` (${f.job.message})` : ''}`.slice(0, 4096);
    case 'Pending':
    case 'Throttled':
      return '';
  }
}

/** The status this proposal should have; conditions keep their lastTransitionTime unless status changes. */
export function desiredProposalStatus(current: ProposalStatus | undefined, f: ProposalFacts, now: Date): ProposalStatus {
  const phase = phaseOf(f);
  const gen = f.generation;
  let conditions = (current?.conditions ?? []) as Condition[];
  const outcome = f.decision.outcome;
  conditions = setCondition(
    conditions,
    { type: CONDITION.decided, status: 'True', reason: DECIDED_REASON[outcome], message: decisionSummary(outcome, f.decision.reasons), observedGeneration: gen },
    now,
  );
  const approved = ((): { status: 'True' | 'False'; reason: string; message: string } => {
    if (outcome === 'ALLOW') return { status: 'True', reason: 'AllowedByPolicy', message: 'The policy allowed the proposal; no approval needed.' };
    if (outcome !== 'REQUIRE_HUMAN') return { status: 'False', reason: 'NotAllowed', message: 'The decision allows no execution.' };
    if (f.job) return { status: 'True', reason: 'Approved', message: `Approved by ${f.approval?.approvedBy.map((r) => r.name).join(', ') || 'the required approvers'}.` };
    switch (f.approval?.state ?? 'Pending') {
      case 'Rejected':
        return { status: 'False', reason: 'Rejected', message: 'An approver rejected the proposal.' };
      case 'Expired':
        return { status: 'False', reason: 'Expired', message: `No approval before ${f.decision.expiresAt ?? '(unknown)'}.` };
      case 'Approved':
        return { status: 'True', reason: 'Approved', message: 'The required approvals were given.' };
      case 'Pending':
        return { status: 'False', reason: 'AwaitingApproval', message: `Waiting for approval until ${f.decision.expiresAt ?? '(unknown)'}.` };
    }
  })();
  const approvedCondition = f.mintRefused !== undefined && !f.job ? { status: 'False' as const, reason: f.mintRefusedReason ?? 'MintRefused', message: f.mintRefused } : approved;
  conditions = setCondition(conditions, { type: CONDITION.approved, ...approvedCondition, observedGeneration: gen }, now);
  if (f.job) {
    const j = f.job;
    const executed =
      j.phase === 'Succeeded'
        ? { status: 'True' as const, reason: 'Succeeded', message: `Job ${j.ref.name} succeeded.` }
        : j.phase === 'Failed'
          ? { status: 'False' as const, reason: conditionReason(j.reason, 'Failed'), message: j.message ?? `Job ${j.ref.name} failed.` }
          : { status: 'Unknown' as const, reason: j.phase === 'Running' ? 'Running' : 'Pending', message: `Job ${j.ref.name} is ${j.phase === 'Running' ? 'running' : 'starting'}.` };
    conditions = setCondition(conditions, { type: CONDITION.executed, ...executed, observedGeneration: gen }, now);
  }
  const status: ProposalStatus = {
    ...(current ?? {}),
    proposalHash: f.hash,
    phase,
    outcome,
    message: messageOf(phase, f),
    decisionRef: { name: f.decision.ref.name, uid: f.decision.ref.uid },
    conditions,
    observedGeneration: gen,
  };
  if (f.job) status.jobRef = { name: f.job.ref.name, uid: f.job.ref.uid };
  if (f.approval && f.approval.approvedBy.length > 0) status.approvalRefs = f.approval.approvedBy.map((r) => ({ name: r.name, uid: r.uid }));
  return status;
}

/** Why a proposal is not decided yet, as its status would show it. */
export interface NotDecided {
  phase: 'Pending' | 'Throttled';
  reason: string;
  message: string;
  hash?: string | undefined;
}

/** The status of a proposal that is not decided (yet): phase Pending or Throttled and Decided=False. */
export function pendingProposalStatus(current: ProposalStatus | undefined, why: NotDecided, generation: number | undefined, now: Date): ProposalStatus {
  const status: ProposalStatus = { ...(current ?? {}) };
  status.phase = why.phase;
  status.message = why.message.slice(0, 4096);
  if (why.hash !== undefined) status.proposalHash = why.hash;
  status.conditions = setCondition(
    status.conditions ?? [],
    {
      type: CONDITION.decided,
      status: 'False',
      reason: why.reason,
      message: why.message.slice(0, 32768),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    },
    now,
  );
  if (generation !== undefined) status.observedGeneration = generation;
  return status;
}
