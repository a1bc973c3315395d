import { describe, expect, it } from 'vitest';
import { desiredProposalStatus, type ProposalFacts } from '../../../src/controller/proposal-status.ts';

const hash = 'a'.repeat(64);
const now = new Date('2025-06-01T12:00:00Z');
const later = new Date('2025-06-01T12:05:00Z');

function facts(o: Partial<ProposalFacts> = {}): ProposalFacts {
  return {
    generation: 1,
    hash,
    decision: { ref: { name: 'p', uid: 'd-uid' }, outcome: 'ALLOW', reasons: [{ code: 'ALLOWED', rule: 'result', outcome: 'ALLOW', message: 'ok' }] },
    ...o,
  };
}

const cond = (s: ReturnType<typeof desiredProposalStatus>, type: string) => s.conditions?.find((c) => c.type === type);

describe('Proposal status', () => {
  it('maps outcomes and job phases to phases', () => {
    expect(desiredProposalStatus(undefined, facts(), now).phase).toBe('Approved');
    const deny = facts({ decision: { ref: { name: 'p', uid: 'd' }, outcome: 'DENY', reasons: [{ code: 'READ_SECRETS_FORBIDDEN', rule: 'secrets', outcome: 'DENY', message: 'no' }] } });
    const denied = desiredProposalStatus(undefined, deny, now);
    expect(denied.phase).toBe('Denied');
    expect(denied.message).toContain('READ_SECRETS_FORBIDDEN');
    expect(cond(denied, 'Approved')).toMatchObject({ status: 'False', reason: 'NotAllowed' });
    const human = (state: 'Pending' | 'Approved' | 'Rejected' | 'Expired') =>
      desiredProposalStatus(
        undefined,
        facts({ decision: { ref: { name: 'p', uid: 'd' }, outcome: 'REQUIRE_HUMAN', reasons: [], expiresAt: 'x' }, approval: { state, approvedBy: [] } }),
        now,
      ).phase;
    expect(human('Pending')).toBe('AwaitingApproval');
    expect(human('Rejected')).toBe('Rejected');
    expect(human('Expired')).toBe('Expired');
    const job = (phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed') => desiredProposalStatus(undefined, facts({ job: { ref: { name: 'p', uid: 'j' }, phase } }), now);
    expect(job().phase).toBe('Approved');
    expect(job('Running').phase).toBe('Running');
    expect(job('Succeeded').phase).toBe('Succeeded');
    expect(cond(job('Succeeded'), 'Executed')).toMatchObject({ status: 'True' });
    expect(job('Failed').phase).toBe('Failed');
    expect(job('Succeeded').jobRef).toEqual({ name: 'p', uid: 'j' });
  });

  it('records the hash, refs and observed generation, and keeps transition times when nothing changed', () => {
    const first = desiredProposalStatus(undefined, facts(), now);
    expect(first).toMatchObject({ proposalHash: hash, outcome: 'ALLOW', decisionRef: { name: 'p', uid: 'd-uid' }, observedGeneration: 1 });
    expect(cond(first, 'Decided')).toMatchObject({ status: 'True', reason: 'Allowed', lastTransitionTime: '2025-06-01T12:00:00Z' });
    const again = desiredProposalStatus(first, facts(), later);
    expect(again).toEqual(first);
  });

  it('sanitises runner reason codes into condition reasons', () => {
    const s = desiredProposalStatus(undefined, facts({ job: { ref: { name: 'p', uid: 'j' }, phase: 'Failed', reason: 'bad reason!' } }), now);
    expect(cond(s, 'Executed')).toMatchObject({ status: 'False', reason: 'Failed' });
    const t = desiredProposalStatus(undefined, facts({ job: { ref: { name: 'p', uid: 'j' }, phase: 'Failed', reason: 'DEH_MISMATCH' } }), now);
    expect(cond(t, 'Executed')).toMatchObject({ reason: 'DEH_MISMATCH' });
  });
});
