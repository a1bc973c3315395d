// The governance Job for an authorized proposal: the Decision's effective envelope, its DEH and the
// controller's Ed25519 signature over it. Pure; refuses (naming the field) anything that does not bind the
// envelope to exactly this proposal and decision.
import type { Decision } from '../api/kinds.ts';
import { API_VERSION, LABELS } from '../api/group.ts';
import type { ObjectRef } from '../api/primitives.ts';
import { parsedEnvelopeHash } from '../integrity/document-hashes.ts';
import { signDeh, type SigningKey } from '../integrity/signing.ts';
import { labelValue, MANAGED_BY } from './names.ts';
import { controllerRef } from './owner.ts';

export class MintError extends Error {
  override name = 'MintError';
}

export interface MintInput {
  proposal: { namespace: string; name: string; uid: string; hash: string };
  decision: Decision;
  approvalRefs: readonly ObjectRef[];
  signingKey: Pick<SigningKey, 'keyId' | 'privateKeyPem'>;
}

export interface JobObject {
  apiVersion: string;
  kind: 'Job';
  metadata: { name: string; namespace: string; labels: Record<string, string>; ownerReferences: ReturnType<typeof controllerRef>[] };
  spec: Record<string, unknown>;
}

export function buildJob(input: MintInput): JobObject {
  const { proposal, decision } = input;
  const d = decision.spec;
  const decisionUID = decision.metadata.uid;
  if (decisionUID === undefined) throw new MintError('decision.metadata.uid: missing');
  if (d.outcome !== 'ALLOW' && d.outcome !== 'REQUIRE_HUMAN') throw new MintError(`decision.spec.outcome: ${d.outcome} authorizes no job`);
  if (d.outcome === 'REQUIRE_HUMAN' && input.approvalRefs.length < Math.max(1, d.requiredApprovals.count)) {
    throw new MintError(`approvalRefs: ${input.approvalRefs.length} approvals, ${d.requiredApprovals.count} required`);
  }
  if (d.proposalRef.uid !== proposal.uid || d.proposalRef.name !== proposal.name) throw new MintError('decision.spec.proposalRef: names another proposal');
  if (d.proposalHash !== proposal.hash) throw new MintError('decision.spec.proposalHash: differs from the proposal hash');
  const envelope = d.effectiveEnvelope;
  if (envelope === undefined) throw new MintError('decision.spec.effectiveEnvelope: missing');
  const p = envelope.proposal;
  if (p.namespace !== proposal.namespace || p.name !== proposal.name || p.uid !== proposal.uid || p.hash !== proposal.hash) {
    throw new MintError('decision.spec.effectiveEnvelope.proposal: names another proposal');
  }
  let deh: string;
  try {
    deh = parsedEnvelopeHash(envelope); // decision is the Decision schema's output (parseDecision)
  } catch (err) {
    throw new MintError(`decision.spec.effectiveEnvelope: ${(err as Error).message}`);
  }
  if (deh !== d.envelopeHash) throw new MintError('decision.spec.envelopeHash: does not match the effective envelope');
  return {
    apiVersion: API_VERSION,
    kind: 'Job',
    metadata: {
      name: proposal.name,
      namespace: proposal.namespace,
      labels: { [LABELS.proposal]: labelValue(proposal.name), [LABELS.managedBy]: MANAGED_BY },
      ownerReferences: [controllerRef('Proposal', proposal)],
    },
    spec: {
      proposalRef: { name: proposal.name, uid: proposal.uid },
      decisionRef: { name: decision.metadata.name ?? proposal.name, uid: decisionUID },
      approvalRefs: input.approvalRefs.map((r) => ({ name: r.name, uid: r.uid })),
      envelope,
      envelopeHash: deh,
      signature: signDeh(input.signingKey.privateKeyPem, deh),
      keyId: input.signingKey.keyId,
    },
  };
}
