// The reconcilers' planning functions, pure: what the proposals controller does about a decided
// proposal's Job, the status of a proposal that waits, the order the decider takes proposals in, the
// integrity check before a Job gets a Pod, and the hand-offs between the controllers.
import { describe, expect, it } from 'vitest';
import { decisionOrder, type Candidate } from '../../../src/controller/decider.ts';
import { IntegrityVerdicts, integrityProblem } from '../../../src/controller/job-reconciler.ts';
import { buildJob } from '../../../src/controller/minting.ts';
import { MintRequests } from '../../../src/controller/mint-requests.ts';
import { PendingReasons } from '../../../src/controller/pending-reasons.ts';
import { planJob, type JobPlanInput } from '../../../src/controller/proposal-reconciler.ts';
import { CONDITION, pendingProposalStatus } from '../../../src/controller/proposal-status.ts';
import { Job } from '../../../src/api/kinds.ts';
import { generateSigningKey } from '../../../src/integrity/signing.ts';
import { decisionFor, evaluationInput, JOB_UID, NOW, PROPOSAL_UID, signingKey } from './fixtures.ts';

const base: JobPlanInput = {
  outcome: 'ALLOW',
  approvalState: undefined,
  jobExists: false,
  recorded: { jobRef: undefined, phase: undefined },
  expiresAt: Number.NaN,
  now: NOW,
};

describe('planJob', () => {
  it('mints for ALLOW and for REQUIRE_HUMAN once approved, never for DENY or NEED_MORE_EVIDENCE', () => {
    expect(planJob(base)).toEqual({ action: 'mint' });
    expect(planJob({ ...base, outcome: 'REQUIRE_HUMAN', approvalState: 'Approved' })).toEqual({ action: 'mint' });
    expect(planJob({ ...base, outcome: 'REQUIRE_HUMAN', approvalState: 'Rejected' })).toEqual({ action: 'none' });
    expect(planJob({ ...base, outcome: 'DENY' })).toEqual({ action: 'none' });
    expect(planJob({ ...base, outcome: 'NEED_MORE_EVIDENCE' })).toEqual({ action: 'none' });
  });

  it('does nothing once the Job exists', () => {
    expect(planJob({ ...base, jobExists: true })).toEqual({ action: 'none' });
  });

  it('never mints again a Job that was minted and is gone', () => {
    const ref = { name: 'p', uid: JOB_UID };
    const lost = planJob({ ...base, recorded: { jobRef: ref, phase: 'Running' } });
    expect(lost).toMatchObject({ action: 'lost', job: { ref, phase: 'Failed', reason: 'JobDeleted' } });
    // A result already recorded stays as it was.
    expect(planJob({ ...base, recorded: { jobRef: ref, phase: 'Succeeded' } })).toMatchObject({ action: 'lost', job: { phase: 'Succeeded', reason: undefined } });
  });

  it('waiting for approvals, looks again just after the decision expires', () => {
    const plan = planJob({ ...base, outcome: 'REQUIRE_HUMAN', approvalState: 'Pending', expiresAt: NOW + 60_000 });
    expect(plan).toEqual({ action: 'wait', requeueAfterMs: 61_000 });
    expect(planJob({ ...base, outcome: 'REQUIRE_HUMAN', approvalState: 'Pending', expiresAt: NOW - 5000 })).toEqual({ action: 'wait', requeueAfterMs: 1000 });
  });
});

describe('pendingProposalStatus', () => {
  it('shows the phase and reason with Decided=False, keeping the rest of the status', () => {
    const status = pendingProposalStatus({ observedGeneration: 1 }, { phase: 'Throttled', reason: 'RateLimited', message: 'too many', hash: 'a'.repeat(64) }, 2, new Date(NOW));
    expect(status).toMatchObject({ phase: 'Throttled', message: 'too many', proposalHash: 'a'.repeat(64), observedGeneration: 2 });
    expect(status.conditions).toEqual([
      expect.objectContaining({ type: CONDITION.decided, status: 'False', reason: 'RateLimited', message: 'too many', observedGeneration: 2 }),
    ]);
  });
});

describe('decisionOrder', () => {
  const c = (name: string, createdAt: number, namespace = 'ns'): Candidate => ({ obj: { metadata: { name } }, namespace, name, uid: name, createdAt });

  it('takes the earliest proposal first; unreadable times last; ties by namespace and name', () => {
    const order = decisionOrder([c('late', NOW + 2), c('unknown', Number.NaN), c('b', NOW), c('a', NOW, 'zz'), c('a', NOW)]);
    expect(order.map((x) => `${x.namespace}/${x.name}`)).toEqual(['ns/a', 'ns/b', 'zz/a', 'ns/late', 'ns/unknown']);
  });
});

/** A Job this controller minted (the Job schema's output, as the cache holds it), with a fixed uid. */
function minted(): Job {
  const input = evaluationInput();
  const obj = buildJob({ proposal: { namespace: 'team-a', name: 'write-file', uid: PROPOSAL_UID, hash: input.proposal.hash }, decision: decisionFor(input), approvalRefs: [], signingKey: signingKey() });
  return Job.parse({ ...obj, metadata: { ...obj.metadata, uid: JOB_UID } });
}

describe('integrityProblem', () => {

  it('passes a Job this controller minted', () => {
    expect(integrityProblem(minted(), signingKey())).toBeUndefined();
  });

  it('refuses a Job signed with another key, or whose envelope was changed', () => {
    expect(integrityProblem(minted(), generateSigningKey())?.reason).toBe('UnknownSigningKey');
    const tampered = minted();
    tampered.spec.envelope.autonomyBudget.maxSteps += 1;
    expect(integrityProblem(tampered, signingKey())?.reason).toBe('EnvelopeHashMismatch');
  });
});

describe('IntegrityVerdicts (integrityProblem remembered per Job)', () => {

  it('checks a spec once: a new copy of the same spec reuses the verdict', () => {
    const verdicts = new IntegrityVerdicts();
    expect(verdicts.check(minted(), signingKey())).toBeUndefined();
    expect(verdicts.check(minted(), signingKey())).toBeUndefined();
    expect(verdicts.checks).toBe(1);
  });

  it('checks afresh when anything in the spec, the namespace or the key differs, so a later tampering is caught', () => {
    const verdicts = new IntegrityVerdicts();
    expect(verdicts.check(minted(), signingKey())).toBeUndefined();
    const tampered = minted();
    tampered.spec.envelope.autonomyBudget.maxSteps += 1;
    expect(verdicts.check(tampered, signingKey())?.reason).toBe('EnvelopeHashMismatch');
    const resigned = minted();
    resigned.spec.signature = Buffer.alloc(64).toString('base64');
    expect(verdicts.check(resigned, signingKey())?.reason).toBe('SignatureInvalid');
    const moved = minted();
    moved.metadata.namespace = 'team-b';
    expect(verdicts.check(moved, signingKey())?.reason).toBe('EnvelopeProposalMismatch');
    expect(verdicts.check(minted(), generateSigningKey())?.reason).toBe('UnknownSigningKey');
    // A field added to the envelope (not in the hashed form) also makes it a different spec: checked again.
    const extra = minted();
    (extra.spec.envelope as unknown as Record<string, unknown>).extra = 1;
    verdicts.check(extra, signingKey());
    expect(verdicts.checks).toBe(6);
    // Back to the intact spec: checked again (the remembered one was the last checked), and it passes.
    expect(verdicts.check(minted(), signingKey())).toBeUndefined();
    expect(verdicts.checks).toBe(7);
  });

  it('is bounded and forgets a Job on request', () => {
    const verdicts = new IntegrityVerdicts(2);
    for (const uid of ['a', 'b', 'c']) {
      const job = minted();
      job.metadata.uid = uid;
      verdicts.check(job, signingKey());
    }
    expect(verdicts.size()).toBe(2);
    verdicts.forget('c');
    expect(verdicts.size()).toBe(1);
  });
});

describe('hand-offs between the controllers', () => {
  it('a pending reason belongs to one proposal incarnation and reports whether it changed', () => {
    const reasons = new PendingReasons();
    const key = { namespace: 'ns', name: 'p' };
    expect(reasons.set(key, { uid: 'u1', phase: 'Pending', reason: 'PolicyMissing', message: 'no policy' })).toBe(true);
    expect(reasons.set(key, { uid: 'u1', phase: 'Pending', reason: 'PolicyMissing', message: 'no policy' })).toBe(false);
    expect(reasons.get(key, 'u1')?.reason).toBe('PolicyMissing');
    expect(reasons.get(key, 'u2')).toBeUndefined();
    reasons.delete(key);
    expect(reasons.size()).toBe(0);
  });

  it('a mint request stays until done, and the newest per proposal wins', () => {
    const requests = new MintRequests();
    const first = { proposal: { namespace: 'ns', name: 'p', uid: 'u1', hash: 'h' }, job: { metadata: { name: 'p' } } };
    const second = { ...first, proposal: { ...first.proposal, uid: 'u2' } };
    requests.add('casey', first);
    requests.add('casey', second);
    expect(requests.of('casey')).toEqual([second]);
    requests.done('casey', first);
    expect(requests.size()).toBe(1);
    requests.done('casey', second);
    expect(requests.size()).toBe(0);
  });
});
