// Recording a human verdict, for every front end (the CLI's approve/reject, the console): first what the
// approver is about to approve, checked (still awaiting approval, the spec still hashes to what was decided,
// the same incarnation, and the caller holds the `approve` verb), then the Approval bound to exactly that
// name, UID and hash, recorded as the caller.
import { API_VERSION } from '../api/group.ts';
import { sha256Hex } from '../hash/canonical.ts';
import { proposalHash } from '../integrity/document-hashes.ts';
import type { Identity, M87Client } from './client.ts';
import { isClientError, M87ClientError } from './errors.ts';
import type { ObjectOf } from './resources.ts';

export type Verdict = 'Approve' | 'Reject';

/** What an approver sees before deciding; only a review that passed every check is returned. */
export interface ApprovalReview {
  namespace: string;
  name: string;
  proposal: ObjectOf<'Proposal'>;
  decision: ObjectOf<'Decision'>;
  /** The proposal hash the approval will quote (recomputed here, equal to the decided one). */
  proposalHash: string;
  approver: Identity;
}

/** One approval per approver and proposal; the suffix keeps names short and valid for any username. */
export function approvalName(proposal: string, approver: string): string {
  return `${proposal.slice(0, 200)}-${sha256Hex(approver).slice(0, 10)}`;
}

export async function reviewForApproval(client: M87Client, namespace: string, name: string, verb: 'approve' | 'reject' = 'approve'): Promise<ApprovalReview> {
  const proposal = await client.find('Proposal', { namespace, name });
  if (proposal === undefined) throw new M87ClientError('NotFound', `no Proposal named "${name}" in namespace "${namespace}"`);
  const phase = proposal.status?.phase;
  if (phase !== 'AwaitingApproval') {
    throw new M87ClientError('Conflict', `proposal ${namespace}/${name} is ${phase ?? 'not yet decided'}, not awaiting approval`);
  }
  const decision = await client.find('Decision', { namespace, name });
  if (decision === undefined) throw new M87ClientError('NotFound', `no Decision named "${name}" in namespace "${namespace}"`);
  const hash = proposalHash(proposal.spec);
  if (hash !== proposal.status?.proposalHash || hash !== decision.spec.proposalHash) {
    throw new M87ClientError('Conflict', `hash changed: the proposal spec hashes to ${hash}, but the decision was made for ${decision.spec.proposalHash}; refusing to ${verb}`);
  }
  if (proposal.metadata.uid !== decision.spec.proposalRef.uid) {
    throw new M87ClientError('Conflict', `the decision belongs to another incarnation of ${namespace}/${name} (UID changed); refusing to ${verb}`);
  }
  const approver = await client.whoAmI();
  // The custom verb the admission policy checks too.
  if (!(await client.canI('approve', 'Proposal', { namespace, name }))) {
    throw new M87ClientError('Forbidden', `you (${approver.username}) are not an approver: the verb "approve" on proposals/${name} in ${namespace} is not granted to you`);
  }
  return { namespace, name, proposal, decision, proposalHash: hash, approver };
}

/** The Approval object a review and a verdict make (what recordVerdict sends). */
export function approvalObject(review: ApprovalReview, verdict: Verdict, opts: { comment?: string | undefined; challengeResponse?: string | undefined } = {}) {
  return {
    apiVersion: API_VERSION,
    kind: 'Approval' as const,
    metadata: { name: approvalName(review.name, review.approver.username), namespace: review.namespace, labels: { 'governance.m87.io/proposal': review.name } },
    spec: {
      proposalName: review.name,
      proposalUID: review.proposal.metadata.uid ?? '',
      proposalHash: review.proposalHash,
      verdict,
      approver: review.approver.username,
      ...(opts.challengeResponse !== undefined ? { challengeResponse: opts.challengeResponse } : {}),
      ...(opts.comment !== undefined ? { comment: opts.comment } : {}),
    },
  };
}

/** Creates the Approval as the caller; a second verdict by the same approver is AlreadyExists with a clear message. */
export async function recordVerdict(
  client: M87Client,
  review: ApprovalReview,
  verdict: Verdict,
  opts: { comment?: string | undefined; challengeResponse?: string | undefined } = {},
): Promise<ObjectOf<'Approval'>> {
  const body = approvalObject(review, verdict, opts);
  try {
    return await client.create('Approval', body);
  } catch (err) {
    if (isClientError(err, 'AlreadyExists')) {
      throw new M87ClientError('AlreadyExists', `you (${review.approver.username}) already recorded a verdict on ${review.namespace}/${review.name} (Approval ${body.metadata.name})`, { cause: err });
    }
    throw err;
  }
}
