import type { ApprovalSpec } from '../api/approval.ts';
import type { DecisionSpecView } from '../api/decision.ts';
import { verifyChallenge } from './challenge.ts';

/** Reasons validateApproval can give (NotAuthorized comes from the controller's access review, not from here). */
export type ApprovalRejection = 'HashMismatch' | 'UIDMismatch' | 'SelfApproval' | 'Expired' | 'ChallengeFailed' | 'NotRequired' | 'AlreadyResolved';

export type ApprovalVerdict = { state: 'Accepted' } | { state: 'Rejected'; reason: ApprovalRejection; message: string };

export interface ApprovalInput {
  decision: { name: string; uid: string; spec: DecisionSpecView };
  proposal: { uid: string; hash: string; submittedBy: string };
  approval: { name: string; createdAt: number; spec: ApprovalSpec };
  /** Epoch milliseconds. */
  now: number;
  challengeSecret: string | Uint8Array;
  /** The proposal already reached a verdict (approved, rejected or expired): later approvals do not count. */
  alreadyResolved: boolean;
}

function rejected(reason: ApprovalRejection, message: string): ApprovalVerdict {
  return { state: 'Rejected', reason, message };
}

/**
 * Decides whether one Approval counts. Pure. An approval counts only for a REQUIRE_HUMAN decision that is
 * still open, when it names the exact proposal (UID and hash, as the decision recorded them), comes from
 * someone other than the submitter, arrives before the decision expires, and (to approve) answers the
 * decision's challenge.
 */
export function validateApproval(input: ApprovalInput): ApprovalVerdict {
  const { decision, proposal, approval } = input;
  const d = decision.spec;
  const a = approval.spec;
  if (d.outcome !== 'REQUIRE_HUMAN') return rejected('NotRequired', `the decision is ${d.outcome}; it takes no approvals`);
  if (input.alreadyResolved) return rejected('AlreadyResolved', 'the proposal already has a verdict');
  if (a.proposalName !== d.proposalRef.name || a.proposalUID !== proposal.uid || d.proposalRef.uid !== proposal.uid) {
    return rejected('UIDMismatch', `approval names ${a.proposalName} (${a.proposalUID}); the proposal is ${d.proposalRef.name} (${proposal.uid})`);
  }
  if (a.proposalHash !== proposal.hash || d.proposalHash !== proposal.hash) {
    return rejected('HashMismatch', 'the approval does not quote the hash of the proposal as decided');
  }
  if (a.approver === proposal.submittedBy || a.approver === d.submittedBy) {
    return rejected('SelfApproval', `${a.approver} submitted the proposal and cannot approve it`);
  }
  const expiresAt = d.expiresAt === undefined ? Number.NaN : Date.parse(d.expiresAt);
  // Unknown expiry fails closed; so does an approval created, or evaluated, after it.
  if (!Number.isFinite(expiresAt) || !(approval.createdAt <= expiresAt) || !(input.now <= expiresAt)) {
    return rejected('Expired', `the decision expired at ${d.expiresAt ?? '(unknown)'}`);
  }
  if (a.verdict === 'Approve' && d.challenge !== undefined && !verifyChallenge(input.challengeSecret, proposal.hash, d.challenge.id, a.challengeResponse)) {
    return rejected('ChallengeFailed', 'the challenge response does not match');
  }
  return { state: 'Accepted' };
}

export interface AcceptedApproval {
  approver: string;
  verdict: ApprovalSpec['verdict'];
}

/** Distinct people who approved (a person approving twice counts once; rejections do not count). */
export function countDistinctApprovers(accepted: readonly AcceptedApproval[]): number {
  const people = new Set<string>();
  for (const a of accepted) if (a.verdict === 'Approve') people.add(a.approver);
  return people.size;
}

export type QuorumState = 'Approved' | 'Rejected' | 'Pending';

/** One accepted rejection rejects; otherwise enough distinct approvers approve. */
export function quorumState(required: number, accepted: readonly AcceptedApproval[]): QuorumState {
  if (accepted.some((a) => a.verdict === 'Reject')) return 'Rejected';
  return countDistinctApprovers(accepted) >= Math.max(1, required) ? 'Approved' : 'Pending';
}
