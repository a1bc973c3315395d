import { describe, expect, it } from 'vitest';
import { Job } from '../../../src/api/kinds.ts';
import { buildJob, MintError } from '../../../src/controller/minting.ts';
import { verifyDeh } from '../../../src/integrity/signing.ts';
import { decisionFor, evaluationInput, proposalRef, signingKey, spec } from './fixtures.ts';

describe('minting', () => {
  it('binds the Decision envelope, its DEH and a signature to the proposal', () => {
    const decision = decisionFor();
    const job = buildJob({ proposal: proposalRef(), decision, approvalRefs: [], signingKey: signingKey() });
    const parsed = Job.parse(job);
    expect(parsed.metadata.name).toBe('write-file');
    expect(parsed.spec.envelope).toEqual(decision.spec.effectiveEnvelope);
    expect(parsed.spec.envelopeHash).toBe(decision.spec.envelopeHash);
    expect(parsed.spec.decisionRef).toEqual({ name: 'write-file', uid: decision.metadata.uid });
    expect(parsed.spec.keyId).toBe(signingKey().keyId);
    expect(verifyDeh(signingKey().publicKeyPem, parsed.spec.envelopeHash, parsed.spec.signature)).toBe(true);
    expect(job.metadata.ownerReferences[0]).toMatchObject({ kind: 'Proposal', name: 'write-file', controller: true });
  });

  it('refuses a decision that authorizes nothing, or one bound to something else', () => {
    const denied = decisionFor(evaluationInput(spec({ effects: ['READ_SECRETS'] })));
    expect(denied.spec.outcome).toBe('DENY');
    expect(() => buildJob({ proposal: proposalRef(), decision: denied, approvalRefs: [], signingKey: signingKey() })).toThrow(MintError);

    const decision = decisionFor();
    const other = { ...proposalRef(), uid: 'another-incarnation' };
    expect(() => buildJob({ proposal: other, decision, approvalRefs: [], signingKey: signingKey() })).toThrow(/proposalRef/);
    const otherHash = { ...proposalRef(), hash: 'f'.repeat(64) };
    expect(() => buildJob({ proposal: otherHash, decision, approvalRefs: [], signingKey: signingKey() })).toThrow(/proposalHash/);

    const tampered = structuredClone(decision);
    tampered.spec.effectiveEnvelope!.autonomyBudget.maxRuntimeSeconds += 1;
    expect(() => buildJob({ proposal: proposalRef(), decision: tampered, approvalRefs: [], signingKey: signingKey() })).toThrow(/envelopeHash/);
  });

  it('needs the required approvals for a REQUIRE_HUMAN decision', () => {
    const input = evaluationInput(spec({ riskScore: 0.9 }), 'risky');
    const decision = decisionFor(input);
    expect(decision.spec.outcome).toBe('REQUIRE_HUMAN');
    const proposal = proposalRef(input);
    expect(() => buildJob({ proposal, decision, approvalRefs: [], signingKey: signingKey() })).toThrow(/approvalRefs/);
    const job = buildJob({ proposal, decision, approvalRefs: [{ name: 'a', uid: 'u' }], signingKey: signingKey() });
    expect(job.spec.approvalRefs).toEqual([{ name: 'a', uid: 'u' }]);
    expect((job.spec.envelope as { humanApproved: boolean }).humanApproved).toBe(true);
  });
});
