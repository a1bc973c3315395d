// The audit record of a proposal tree (schema: src/api/audit.ts, docs/audit.md), built from the objects about
// to be deleted. Pure. It throws when the tree cannot be described completely (a Decision or Job that does not
// parse): then nothing is deleted.
import { AUDIT_SCHEMA, AuditRecord, type AuditApproval } from '../api/audit.ts';
import type { JobStatus } from '../api/job.ts';
import { Receipt } from '../api/receipt.ts';
import { canonicalHash } from '../hash/canonical.ts';
import type { KubeObject } from '../runtime/resource.ts';
import { formatTime } from '../runtime/status.ts';
import { parseApproval, parseDecision, parseJob, proposalHashOf } from './parse.ts';
import type { PruneReason } from './retention.ts';

export class AuditRecordError extends Error {}

export interface AuditTree {
  proposal: KubeObject;
  decision: KubeObject;
  approvals: readonly KubeObject[];
  job: KubeObject | undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function orNull<T>(v: T | undefined): T | null {
  return v === undefined ? null : v;
}

/** SHA-256 of the RFC 8785 form of the receipt recorded in Job.status, or null without one. */
export function receiptDigest(status: JobStatus | undefined): string | null {
  return status?.receipt === undefined ? null : canonicalHash(status.receipt);
}

export function buildAuditRecord(tree: AuditTree, reason: PruneReason, now: Date): AuditRecord {
  const p = tree.proposal;
  const decision = parseDecision(tree.decision);
  if (!decision.ok) throw new AuditRecordError(`Decision ${tree.decision.metadata.name ?? '?'}: ${decision.error}`);
  const d = decision.value;
  const proposalHash = proposalHashOf(p);
  const pstatus = (p.status ?? {}) as { phase?: unknown; proposalHash?: unknown };
  const spec = (p.spec ?? {}) as { submittedBy?: unknown; agent?: unknown };

  const approvals: AuditApproval[] = [];
  for (const a of tree.approvals) {
    const parsed = parseApproval(a);
    if (!parsed.ok) throw new AuditRecordError(`Approval ${a.metadata.name ?? '?'}: ${parsed.error}`);
    const s = (a.status ?? {}) as { state?: unknown; reason?: unknown; evaluatedAt?: unknown };
    const state = s.state === 'Accepted' || s.state === 'Rejected' ? s.state : null;
    approvals.push({
      name: a.metadata.name ?? '',
      uid: a.metadata.uid ?? '',
      approver: parsed.value.spec.approver,
      verdict: parsed.value.spec.verdict,
      state,
      reason: orNull(str(s.reason)),
      evaluatedAt: orNull(str(s.evaluatedAt)),
    });
  }

  let job: AuditRecord['job'] = null;
  if (tree.job !== undefined) {
    const parsed = parseJob(tree.job);
    if (!parsed.ok) throw new AuditRecordError(`Job ${tree.job.metadata.name ?? '?'}: ${parsed.error}`);
    const status = (tree.job.status ?? {}) as JobStatus;
    const receipt = status.receipt === undefined ? undefined : Receipt.safeParse(status.receipt);
    if (receipt !== undefined && !receipt.success) throw new AuditRecordError(`Job ${tree.job.metadata.name ?? '?'}: status.receipt does not parse`);
    job = {
      name: tree.job.metadata.name ?? '',
      uid: tree.job.metadata.uid ?? '',
      envelopeHash: parsed.value.spec.envelopeHash,
      phase: status.phase ?? '',
      reason: status.reason ?? '',
      completionTime: orNull(status.completionTime),
      receiptDigest: receiptDigest(status),
      outputs: (receipt?.data?.artifacts ?? []).map((a) => ({ path: a.path, sha256: a.sha256 })),
    };
  }

  const record = {
    schema: AUDIT_SCHEMA,
    event: 'ProposalTreeDeleted',
    recordedAt: formatTime(now),
    reason,
    proposal: {
      namespace: p.metadata.namespace ?? '',
      name: p.metadata.name ?? '',
      uid: p.metadata.uid ?? '',
      hash: proposalHash ?? orNull(str(pstatus.proposalHash)),
      submittedBy: str(spec.submittedBy) ?? '',
      agent: str(spec.agent) ?? '',
      phase: str(pstatus.phase) ?? '',
      createdAt: orNull(str(p.metadata.creationTimestamp)),
    },
    decision: {
      name: d.metadata.name ?? '',
      uid: d.metadata.uid ?? '',
      outcome: d.spec.outcome,
      reasons: d.spec.reasons,
      policyHash: d.spec.policy.hash,
      policyGeneration: d.spec.policy.generation,
      engineVersion: d.spec.engineVersion,
      envelopeHash: orNull(d.spec.envelopeHash),
      decidedAt: d.spec.decidedAt,
      expiresAt: orNull(d.spec.expiresAt),
    },
    approvals,
    job,
  };
  const checked = AuditRecord.safeParse(record);
  if (!checked.success) throw new AuditRecordError(`audit record does not match ${AUDIT_SCHEMA}: ${checked.error.issues[0]?.path.join('.') ?? ''} ${checked.error.issues[0]?.message ?? ''}`);
  return checked.data;
}
