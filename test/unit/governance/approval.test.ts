import { describe, expect, it } from 'vitest';
import type { ApprovalSpec } from '../../../src/api/approval.ts';
import type { DecisionSpec } from '../../../src/api/decision.ts';
import { countDistinctApprovers, quorumState, validateApproval, type ApprovalInput } from '../../../src/governance/approval.ts';
import { decisionSpecFrom } from '../../../src/governance/decision-spec.ts';
import { evaluate } from '../../../src/governance/evaluate.ts';
import { baseSpec, CASEY, customProfile, entries, input, NOW, SECRET } from './fixtures.ts';

const ALICE = 'alice@example.com';

/** A REQUIRE_HUMAN decision with a topology challenge (answer: repo_read_then_network). */
function escalated() {
  const i = input({
    spec: baseSpec({ effects: ['NETWORK_CALL'], steps: [{ tool: 'http-get', args: { url: 'https://example.com/' } }], reversibility: { class: 'REVERSIBLE', rollbackProof: { description: 'n/a' } } }),
    profile: customProfile(['NETWORK_CALL']),
    history: entries(['READ_REPO']),
  });
  const spec = decisionSpecFrom(i, evaluate(i));
  expect(spec.outcome).toBe('REQUIRE_HUMAN');
  expect(spec.challenge).toBeDefined();
  return { i, spec };
}

function approvalInput(decision: DecisionSpec, hash: string, over: Partial<ApprovalSpec> = {}, rest: Partial<ApprovalInput> = {}): ApprovalInput {
  return {
    decision: { name: 'fix-typo', uid: 'dec-uid', spec: decision },
    proposal: { uid: 'uid-1', hash, submittedBy: CASEY },
    approval: {
      name: 'approve-1',
      createdAt: NOW + 60_000,
      spec: { proposalName: 'fix-typo', proposalUID: 'uid-1', proposalHash: hash, verdict: 'Approve', approver: ALICE, challengeResponse: 'repo_read_then_network', ...over },
    },
    now: NOW + 61_000,
    challengeSecret: SECRET,
    alreadyResolved: false,
    ...rest,
  };
}

describe('validateApproval', () => {
  it('accepts an approval bound to the exact proposal that answers the challenge', () => {
    const { i, spec } = escalated();
    expect(validateApproval(approvalInput(spec, i.proposal.hash))).toEqual({ state: 'Accepted' });
  });

  it('NotRequired: the decision takes no approvals', () => {
    const i = input();
    const spec = decisionSpecFrom(i, evaluate(i));
    expect(validateApproval(approvalInput(spec, i.proposal.hash))).toMatchObject({ state: 'Rejected', reason: 'NotRequired' });
  });

  it('AlreadyResolved', () => {
    const { i, spec } = escalated();
    expect(validateApproval(approvalInput(spec, i.proposal.hash, {}, { alreadyResolved: true }))).toMatchObject({ reason: 'AlreadyResolved' });
  });

  it('UIDMismatch: an approval for an earlier incarnation of the name, or another name', () => {
    const { i, spec } = escalated();
    expect(validateApproval(approvalInput(spec, i.proposal.hash, { proposalUID: 'uid-0' }))).toMatchObject({ reason: 'UIDMismatch' });
    expect(validateApproval(approvalInput(spec, i.proposal.hash, { proposalName: 'other' }))).toMatchObject({ reason: 'UIDMismatch' });
    expect(validateApproval({ ...approvalInput(spec, i.proposal.hash), proposal: { uid: 'uid-2', hash: i.proposal.hash, submittedBy: CASEY } })).toMatchObject({ reason: 'UIDMismatch' });
  });

  it('HashMismatch: the approver reviewed something else', () => {
    const { i, spec } = escalated();
    expect(validateApproval(approvalInput(spec, i.proposal.hash, { proposalHash: 'f'.repeat(64) }))).toMatchObject({ reason: 'HashMismatch' });
    const changed = { ...approvalInput(spec, 'e'.repeat(64)) }; // proposal hash no longer what was decided
    expect(validateApproval(changed)).toMatchObject({ reason: 'HashMismatch' });
  });

  it('SelfApproval: the submitter cannot approve', () => {
    const { i, spec } = escalated();
    expect(validateApproval(approvalInput(spec, i.proposal.hash, { approver: CASEY }))).toMatchObject({ reason: 'SelfApproval' });
  });

  it('Expired: after expiresAt, by creation or by evaluation time; unknown expiry counts as expired', () => {
    const { i, spec } = escalated();
    const expiry = Date.parse(spec.expiresAt ?? '');
    expect(validateApproval(approvalInput(spec, i.proposal.hash, {}, { now: expiry }))).toEqual({ state: 'Accepted' });
    expect(validateApproval(approvalInput(spec, i.proposal.hash, {}, { now: expiry + 1 }))).toMatchObject({ reason: 'Expired' });
    const late = approvalInput(spec, i.proposal.hash);
    late.approval.createdAt = expiry + 1;
    expect(validateApproval(late)).toMatchObject({ reason: 'Expired' });
    const { expiresAt: _gone, ...noExpiry } = spec;
    expect(validateApproval(approvalInput(noExpiry, i.proposal.hash))).toMatchObject({ reason: 'Expired' });
  });

  it('ChallengeFailed: wrong or missing answer', () => {
    const { i, spec } = escalated();
    expect(validateApproval(approvalInput(spec, i.proposal.hash, { challengeResponse: 'unknown_topology' }))).toMatchObject({ reason: 'ChallengeFailed' });
    expect(validateApproval(approvalInput(spec, i.proposal.hash, { challengeResponse: undefined }))).toMatchObject({ reason: 'ChallengeFailed' });
    expect(validateApproval({ ...approvalInput(spec, i.proposal.hash), challengeSecret: 'another-secret' })).toMatchObject({ reason: 'ChallengeFailed' });
  });

  it('a rejection needs no challenge answer', () => {
    const { i, spec } = escalated();
    expect(validateApproval(approvalInput(spec, i.proposal.hash, { verdict: 'Reject', challengeResponse: undefined }))).toEqual({ state: 'Accepted' });
  });

  it('an escalation without a challenge needs no answer', () => {
    const i = input({ spec: baseSpec({ riskScore: 0.9 }) });
    const spec = decisionSpecFrom(i, evaluate(i));
    expect(spec.challenge).toBeUndefined();
    expect(validateApproval(approvalInput(spec, i.proposal.hash, { challengeResponse: undefined }))).toEqual({ state: 'Accepted' });
  });
});

describe('quorum', () => {
  it('counts distinct approvers only', () => {
    expect(
      countDistinctApprovers([
        { approver: 'a', verdict: 'Approve' },
        { approver: 'a', verdict: 'Approve' },
        { approver: 'b', verdict: 'Approve' },
        { approver: 'c', verdict: 'Reject' },
      ]),
    ).toBe(2);
  });

  it('is reached with enough distinct approvers; one rejection rejects; zero required still needs one', () => {
    expect(quorumState(2, [{ approver: 'a', verdict: 'Approve' }])).toBe('Pending');
    expect(quorumState(2, [{ approver: 'a', verdict: 'Approve' }, { approver: 'a', verdict: 'Approve' }])).toBe('Pending');
    expect(quorumState(2, [{ approver: 'a', verdict: 'Approve' }, { approver: 'b', verdict: 'Approve' }])).toBe('Approved');
    expect(quorumState(1, [{ approver: 'a', verdict: 'Approve' }, { approver: 'b', verdict: 'Reject' }])).toBe('Rejected');
    expect(quorumState(0, [])).toBe('Pending');
  });
});
