import { describe, expect, it } from 'vitest';
import type { ApprovalSpec } from '../../../src/api/approval.ts';
import { planApprovals, type ApprovalRecord } from '../../../src/controller/approvals.ts';
import { challengeId } from '../../../src/governance/challenge.ts';
import { CASEY, decisionFor, DECISION_UID, evaluationInput, NOW, PROPOSAL_UID, SECRET, spec } from './fixtures.ts';

// A risk above Casey's maxRisk (0.6) escalates to REQUIRE_HUMAN without a challenge.
const input = evaluationInput(spec({ riskScore: 0.9 }), 'risky');
const decision = decisionFor(input);
const hash = input.proposal.hash;

function approval(name: string, approver: string, overrides: Partial<ApprovalSpec> = {}, createdAt = NOW): ApprovalRecord {
  return {
    name,
    uid: `uid-${name}`,
    createdAt,
    spec: { proposalName: 'risky', proposalUID: PROPOSAL_UID, proposalHash: hash, verdict: 'Approve', approver, ...overrides },
  };
}

function plan(approvals: ApprovalRecord[], o: { now?: number; jobExists?: boolean; required?: number } = {}) {
  const d = structuredClone(decision);
  if (o.required !== undefined) d.spec.requiredApprovals.count = o.required;
  return planApprovals({
    decision: { name: 'risky', uid: DECISION_UID, spec: d.spec },
    proposal: { uid: PROPOSAL_UID, hash, submittedBy: CASEY },
    approvals,
    now: o.now ?? NOW + 1000,
    challengeSecret: SECRET,
    jobExists: o.jobExists ?? false,
  });
}

describe('approval plan', () => {
  it('never counts an Accepted verdict recorded for another incarnation or content (replay after re-create)', () => {
    const recorded = { state: 'Accepted' as const };
    const earlier = { ...approval('old', 'alice', { proposalUID: 'uid-of-the-deleted-proposal' }), recorded };
    expect(plan([earlier]).state).toBe('Pending');
    expect(plan([earlier]).approvedBy).toEqual([]);
    const otherContent = { ...approval('old2', 'alice', { proposalHash: 'f'.repeat(64) }), recorded };
    expect(plan([otherContent]).state).toBe('Pending');
    // The same verdict, recorded for this incarnation and content, counts.
    expect(plan([{ ...approval('now', 'alice'), recorded }]).state).toBe('Approved');
  });

  it('is REQUIRE_HUMAN with an expiry for this fixture', () => {
    expect(decision.spec.outcome).toBe('REQUIRE_HUMAN');
    expect(decision.spec.expiresAt).toBeDefined();
  });

  it('waits without approvals and approves with one valid approval', () => {
    expect(plan([]).state).toBe('Pending');
    const p = plan([approval('a1', 'alice')]);
    expect(p.state).toBe('Approved');
    expect(p.verdicts.map((v) => v.verdict.state)).toEqual(['Accepted']);
    expect(p.approvedBy).toEqual([{ name: 'a1', uid: 'uid-a1' }]);
  });

  it('counts distinct approvers for a quorum', () => {
    expect(plan([approval('a1', 'alice'), approval('a2', 'alice', {}, NOW + 1)], { required: 2 }).state).toBe('Pending');
    const p = plan([approval('a1', 'alice'), approval('b1', 'bob', {}, NOW + 1)], { required: 2 });
    expect(p.state).toBe('Approved');
    expect(p.approvedBy.map((r) => r.name)).toEqual(['a1', 'b1']);
  });

  it.each([
    ['HashMismatch', approval('x', 'alice', { proposalHash: 'f'.repeat(64) })],
    ['UIDMismatch', approval('x', 'alice', { proposalUID: 'another-uid' })],
    ['SelfApproval', approval('x', CASEY)],
  ])('rejects %s and mints nothing', (reason, a) => {
    const p = plan([a]);
    expect(p.state).toBe('Pending');
    expect(p.verdicts[0]?.verdict).toMatchObject({ state: 'Rejected', reason });
  });

  it('rejects approvals after expiry as Expired and marks the proposal Expired', () => {
    const after = Date.parse(decision.spec.expiresAt!) + 1000;
    const p = plan([approval('late', 'alice', {}, after)], { now: after });
    expect(p.state).toBe('Expired');
    expect(p.verdicts[0]?.verdict).toMatchObject({ state: 'Rejected', reason: 'Expired' });
  });

  it('a Reject verdict rejects the proposal; later approvals are AlreadyResolved', () => {
    const p = plan([approval('r', 'bob', { verdict: 'Reject' }), approval('a', 'alice', {}, NOW + 5)]);
    expect(p.state).toBe('Rejected');
    expect(p.verdicts.map((v) => (v.verdict.state === 'Rejected' ? v.verdict.reason : 'Accepted'))).toEqual(['Accepted', 'AlreadyResolved']);
  });

  it('evaluates each approval once; once a Job exists, new ones are AlreadyResolved', () => {
    const recorded = { ...approval('a1', 'alice'), recorded: { state: 'Accepted' as const } };
    const p = plan([recorded, approval('b1', 'bob', {}, NOW + 1)], { jobExists: true });
    expect(p.verdicts).toHaveLength(1);
    expect(p.verdicts[0]?.verdict).toMatchObject({ state: 'Rejected', reason: 'AlreadyResolved' });
    expect(p.approvedBy.map((r) => r.name)).toEqual(['a1']);
  });

  it('checks the challenge answer when the decision has one', () => {
    const d = structuredClone(decision);
    d.spec.challenge = { prompt: 'type the topology name', id: challengeId(SECRET, hash, 'repo_read_then_network') };
    const run = (answer: string) =>
      planApprovals({
        decision: { name: 'risky', uid: DECISION_UID, spec: d.spec },
        proposal: { uid: PROPOSAL_UID, hash, submittedBy: CASEY },
        approvals: [approval('a', 'alice', { challengeResponse: answer })],
        now: NOW + 1000,
        challengeSecret: SECRET,
        jobExists: false,
      });
    expect(run('wrong').verdicts[0]?.verdict).toMatchObject({ state: 'Rejected', reason: 'ChallengeFailed' });
    expect(run(' repo_read_then_network ').state).toBe('Approved');
  });

  it('approvals of a decision that needs none are NotRequired', () => {
    const allow = decisionFor();
    const p = planApprovals({
      decision: { name: 'write-file', uid: DECISION_UID, spec: allow.spec },
      proposal: { uid: PROPOSAL_UID, hash: allow.spec.proposalHash, submittedBy: CASEY },
      approvals: [approval('a', 'alice', { proposalHash: allow.spec.proposalHash })],
      now: NOW,
      challengeSecret: SECRET,
      jobExists: false,
    });
    expect(p.verdicts[0]?.verdict).toMatchObject({ state: 'Rejected', reason: 'NotRequired' });
  });
});
