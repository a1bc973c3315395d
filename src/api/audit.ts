// The audit record the controller writes before retention deletes a proposal tree (docs/audit.md). One
// JSON object per tree, versioned by `schema`: fields are only ever added (optional) within a version; a
// change of meaning or a removal is a new version. Consumers key records by proposal.uid (a tree whose
// deletion was interrupted gets its record again).
import { z } from 'zod';
import { Verdict } from './approval.ts';
import { Outcome, Reason } from './decision.ts';
import { nonEmptyText, sha256Hex, text, timestamp } from './primitives.ts';

export const AUDIT_SCHEMA = 'm87.audit/v1' as const;

/** Why a tree was deleted: its history TTL passed, or its namespace was over the cap (oldest finished first). */
export const AUDIT_PRUNE_REASONS = ['HistoryTTL', 'NamespaceCap'] as const;

const Digest = sha256Hex('SHA-256, hex.');

export const AuditApproval = z
  .object({
    name: nonEmptyText(253, 'Approval name.'),
    uid: nonEmptyText(64, 'Approval UID.'),
    approver: nonEmptyText(253, 'Who approved or rejected (the creating user, checked at admission).'),
    verdict: Verdict,
    state: z.enum(['Accepted', 'Rejected']).nullable().meta({ description: 'How the controller judged it (null: never judged).' }),
    reason: text(64, 'Why it was accepted or rejected.').nullable(),
    evaluatedAt: timestamp('When the controller judged it.').nullable(),
  })
  .strict();
export type AuditApproval = z.infer<typeof AuditApproval>;

export const AuditRecord = z
  .object({
    schema: z.literal(AUDIT_SCHEMA),
    event: z.literal('ProposalTreeDeleted'),
    /** Controller clock when the record was written (before the deletion). */
    recordedAt: timestamp('When the record was written, before the deletion.'),
    reason: z.enum(AUDIT_PRUNE_REASONS),
    proposal: z
      .object({
        namespace: nonEmptyText(63, 'Namespace.'),
        name: nonEmptyText(253, 'Proposal name.'),
        uid: nonEmptyText(64, 'Proposal UID.'),
        hash: Digest.nullable(),
        submittedBy: text(253, 'The authenticated submitter.'),
        agent: text(253, 'The AgentProfile named.'),
        phase: text(32, 'Last phase.'),
        createdAt: timestamp('When the Proposal was created.').nullable(),
      })
      .strict(),
    decision: z
      .object({
        name: nonEmptyText(253, 'Decision name.'),
        uid: nonEmptyText(64, 'Decision UID.'),
        outcome: Outcome,
        reasons: z.array(Reason).max(64),
        policyHash: Digest,
        policyGeneration: z.int().min(0),
        engineVersion: text(64, 'Engine version.'),
        envelopeHash: Digest.nullable(),
        decidedAt: timestamp('When the decision was made.'),
        expiresAt: timestamp('Approval deadline.').nullable(),
      })
      .strict(),
    approvals: z.array(AuditApproval).max(256),
    job: z
      .object({
        name: nonEmptyText(253, 'Job name.'),
        uid: nonEmptyText(64, 'Job UID.'),
        envelopeHash: Digest,
        phase: text(16, 'Job phase (result).'),
        reason: text(64, 'Reason of the result.'),
        completionTime: timestamp('When the job finished.').nullable(),
        receiptDigest: Digest.nullable(),
        outputs: z.array(z.object({ path: text(512, 'Workspace-relative path.'), sha256: Digest }).strict()).max(64),
      })
      .strict()
      .nullable(),
  })
  .strict();
export type AuditRecord = z.infer<typeof AuditRecord>;
