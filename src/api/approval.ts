import { z } from 'zod';
import { Conditions, IMMUTABLE_SPEC, nonEmptyText, objectName, sha256Hex, text, timestamp } from './primitives.ts';

export const Verdict = z.enum(['Approve', 'Reject']).meta({ description: 'Approve or Reject.' });
export type Verdict = z.infer<typeof Verdict>;

export const ApprovalSpec = z
  .object({
    proposalName: objectName('Name of the Proposal (same namespace).'),
    proposalUID: nonEmptyText(64, 'UID of the Proposal; an approval for a deleted-and-recreated name does not count.'),
    proposalHash: sha256Hex('The proposal hash the approver reviewed; must equal Proposal.status.proposalHash.'),
    verdict: Verdict,
    approver: nonEmptyText(253, 'Identity of the approver; must equal the creating user (checked at admission).'),
    challengeResponse: text(256, 'Answer to the Decision challenge, when it has one.').optional(),
    comment: text(2048, 'Free-form comment for the audit trail.').optional(),
  })
  .meta({ description: 'A human verdict bound to one exact proposal (name, UID and hash). Immutable once created.', 'x-kubernetes-validations': IMMUTABLE_SPEC });
export type ApprovalSpec = z.infer<typeof ApprovalSpec>;

export const APPROVAL_REJECTION_REASONS = [
  'HashMismatch',
  'UIDMismatch',
  'SelfApproval',
  'Expired',
  'ChallengeFailed',
  'NotRequired',
  'NotAuthorized',
  'AlreadyResolved',
] as const;
export const ApprovalReason = z
  .enum(['Accepted', ...APPROVAL_REJECTION_REASONS])
  .meta({ description: `Why the approval was accepted or rejected: Accepted, ${APPROVAL_REJECTION_REASONS.join(', ')}.` });
export type ApprovalReason = z.infer<typeof ApprovalReason>;

export const ApprovalStatus = z
  .object({
    state: z.enum(['Accepted', 'Rejected']).optional().meta({ description: 'Accepted or Rejected by the controller.' }),
    reason: ApprovalReason.optional(),
    message: text(4096, 'Human-readable explanation.').optional(),
    evaluatedAt: timestamp('When the controller evaluated the approval.').optional(),
    conditions: Conditions.optional(),
    observedGeneration: z.int().min(0).optional().meta({ description: 'The metadata.generation this status describes.' }),
  })
  .meta({ description: 'Evaluation result, written by the controller only.' });
export type ApprovalStatus = z.infer<typeof ApprovalStatus>;
