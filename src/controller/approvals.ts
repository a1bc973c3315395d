// Which Approvals of a REQUIRE_HUMAN proposal count, and where that leaves the proposal. Pure: the caller
// writes the new verdicts to Approval.status and mints the Job when the plan says Approved.
import type { ApprovalSpec } from '../api/approval.ts';
import type { DecisionSpecView } from '../api/decision.ts';
import type { ObjectRef } from '../api/primitives.ts';
import { quorumState, validateApproval, type AcceptedApproval, type ApprovalVerdict } from '../governance/approval.ts';

export interface ApprovalRecord {
  name: string;
  uid: string;
  /** Epoch ms of metadata.creationTimestamp. */
  createdAt: number;
  spec: ApprovalSpec;
  /** The verdict already recorded in status, if any (approvals are immutable: evaluated once). */
  recorded?: { state: 'Accepted' | 'Rejected' } | undefined;
  /** UIDs of the Approval's owners (the proposal it approves, once adopted). */
  owners?: readonly string[] | undefined;
}

export type ApprovalState = 'Pending' | 'Approved' | 'Rejected' | 'Expired';

export interface ApprovalPlan {
  /** Verdicts to record now, in evaluation order. */
  verdicts: { record: ApprovalRecord; verdict: ApprovalVerdict }[];
  state: ApprovalState;
  /** Accepted Approve verdicts (distinct approvers first come), for Job.spec.approvalRefs. */
  approvedBy: ObjectRef[];
}

export interface ApprovalPlanInput {
  decision: { name: string; uid: string; spec: DecisionSpecView };
  proposal: { uid: string; hash: string; submittedBy: string };
  approvals: readonly ApprovalRecord[];
  now: number;
  challengeSecret: string | Uint8Array;
  /** A Job already exists for this proposal: it was approved earlier. */
  jobExists: boolean;
}

export function byCreation(a: ApprovalRecord, b: ApprovalRecord): number {
  if (a.createdAt !== b.createdAt) return (Number.isNaN(a.createdAt) ? Infinity : a.createdAt) - (Number.isNaN(b.createdAt) ? Infinity : b.createdAt);
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function isExpired(decision: DecisionSpecView, now: number): boolean {
  if (decision.outcome !== 'REQUIRE_HUMAN') return false;
  const at = decision.expiresAt === undefined ? Number.NaN : Date.parse(decision.expiresAt);
  // Unknown expiry counts as expired (fail closed), as in validateApproval.
  return !(now <= at);
}

/** Whether the Approval names exactly this proposal incarnation (UID) and content (hash). */
function boundTo(approval: Pick<ApprovalRecord, 'spec'>, proposal: { uid: string; hash: string }): boolean {
  return approval.spec.proposalUID === proposal.uid && approval.spec.proposalHash === proposal.hash;
}

export function planApprovals(input: ApprovalPlanInput): ApprovalPlan {
  const sorted = [...input.approvals].sort(byCreation);
  const accepted: (AcceptedApproval & { ref: ObjectRef })[] = [];
  for (const a of sorted) {
    // A recorded verdict counts only for the incarnation and content it was given for: an Approval of an
    // earlier proposal with this name (deleted and created again) is never trusted for the new one.
    if (a.recorded?.state === 'Accepted' && boundTo(a, input.proposal)) {
      accepted.push({ approver: a.spec.approver, verdict: a.spec.verdict, ref: { name: a.name, uid: a.uid } });
    }
  }
  const required = input.decision.spec.requiredApprovals.count;
  const stateOf = (): ApprovalState => {
    if (input.jobExists) return 'Approved';
    if (input.decision.spec.outcome !== 'REQUIRE_HUMAN') return 'Pending';
    const q = quorumState(required, accepted);
    if (q !== 'Pending') return q;
    return isExpired(input.decision.spec, input.now) ? 'Expired' : 'Pending';
  };
  let state = stateOf();
  const verdicts: ApprovalPlan['verdicts'] = [];
  for (const record of sorted) {
    if (record.recorded !== undefined) continue;
    const verdict = validateApproval({
      decision: input.decision,
      proposal: input.proposal,
      approval: { name: record.name, createdAt: record.createdAt, spec: record.spec },
      now: input.now,
      challengeSecret: input.challengeSecret,
      // Expiry is reported as Expired by validateApproval itself, not as AlreadyResolved.
      alreadyResolved: state === 'Approved' || state === 'Rejected',
    });
    verdicts.push({ record, verdict });
    if (verdict.state === 'Accepted') {
      accepted.push({ approver: record.spec.approver, verdict: record.spec.verdict, ref: { name: record.name, uid: record.uid } });
      state = stateOf();
    }
  }
  const seen = new Set<string>();
  const approvedBy: ObjectRef[] = [];
  for (const a of accepted) {
    if (a.verdict !== 'Approve' || seen.has(a.approver)) continue;
    seen.add(a.approver);
    approvedBy.push(a.ref);
  }
  return { verdicts, state, approvedBy: approvedBy.slice(0, 16) };
}
