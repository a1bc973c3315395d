import { describe, expect, it } from 'vitest';
import type { ProposalSpecInput } from '../../../src/api/proposal.ts';
import { evaluate } from '../../../src/governance/evaluate.ts';
import { baseSpec, customProfile, findings, input } from './fixtures.ts';

const rev = (r: ProposalSpecInput['reversibility']) => evaluate(input({ spec: baseSpec({ reversibility: r }) }));

describe('reversibility gate', () => {
  it('denies a non-read action without a class', () => {
    const r = rev(undefined);
    expect(r.outcome).toBe('DENY');
    expect(findings(r)).toEqual(['REVERSIBILITY_CLASS_MISSING']);
  });

  it('denies REVERSIBLE without a rollback proof', () => {
    expect(findings(rev({ class: 'REVERSIBLE' }))).toEqual(['ROLLBACK_PROOF_MISSING']);
  });

  it('denies a PARTIALLY_REVERSIBLE commit without proof, but lets draft and preview through', () => {
    expect(findings(rev({ class: 'PARTIALLY_REVERSIBLE', executionMode: 'commit' }))).toEqual(['PARTIAL_COMMIT_NEEDS_ROLLBACK_PROOF']);
    expect(rev({ class: 'PARTIALLY_REVERSIBLE', executionMode: 'draft' }).outcome).toBe('ALLOW');
    expect(rev({ class: 'PARTIALLY_REVERSIBLE', executionMode: 'commit', rollbackProof: { description: 'restore backup' } }).outcome).toBe('ALLOW');
  });

  it('always escalates IRREVERSIBLE, proof or not', () => {
    const r = rev({ class: 'IRREVERSIBLE', rollbackProof: { description: 'none really' } });
    expect(r.outcome).toBe('REQUIRE_HUMAN');
    expect(findings(r)).toEqual(['IRREVERSIBLE_REQUIRES_HUMAN']);
  });

  it('validates what a rollback proof names', () => {
    expect(findings(rev({ class: 'REVERSIBLE', rollbackProof: { description: 'undo', rollbackTool: 'git_reset' } }))).toEqual(['ROLLBACK_PROOF_INVALID']);
    expect(findings(rev({ class: 'REVERSIBLE', rollbackProof: { description: 'undo', rollbackTool: 'write-file', rollbackArgs: { path: 'a' } } }))).toEqual(['ROLLBACK_PROOF_INVALID']);
    expect(findings(rev({ class: 'REVERSIBLE', rollbackProof: { description: '   ' } }))).toEqual(['ROLLBACK_PROOF_INVALID']);
    expect(rev({ class: 'REVERSIBLE', rollbackProof: { description: 'undo', rollbackTool: 'write-file', rollbackArgs: { path: 'a', content: 'old' } } }).outcome).toBe('ALLOW');
  });

  it('is bypassed by read-only proposals', () => {
    const r = evaluate(input({ spec: baseSpec({ effects: ['READ_REPO', 'COMPUTE'], steps: [{ tool: 'echo', args: { message: 'x' } }], reversibility: undefined }), profile: customProfile(['READ_REPO', 'COMPUTE']) }));
    expect(r.outcome).toBe('ALLOW');
  });
});

describe('cleanup cost', () => {
  const cost = (cleanupCost: 'LOW' | 'MEDIUM' | 'HIGH' | undefined) =>
    evaluate(input({ spec: baseSpec({ reversibility: { class: 'REVERSIBLE', rollbackProof: { description: 'git revert' }, ...(cleanupCost ? { cleanupCost } : {}) } }) }));

  it.each([
    ['LOW', 100, 5, 100, 50],
    ['MEDIUM', 80, 3, 80, 40],
    ['HIGH', 50, 1, 50, 25],
    [undefined, 80, 3, 80, 40],
  ] as const)('%s → %d%%, retry %d, budget already multiplied', (c, pct, retry, steps, calls) => {
    const r = cost(c);
    expect(r.budgetMultiplierPercent).toBe(pct);
    expect(r.retryLimit).toBe(retry);
    expect(r.effectiveEnvelope?.budgetMultiplierPercent).toBe(pct);
    expect(r.effectiveEnvelope?.retryLimit).toBe(retry);
    expect(r.effectiveEnvelope?.autonomyBudget.maxSteps).toBe(steps);
    expect(r.effectiveEnvelope?.autonomyBudget.maxToolCalls).toBe(calls);
    expect(r.effectiveEnvelope?.reversibility.cleanupCost).toBe(c ?? 'MEDIUM');
  });

  it('counts an undeclared cost as LOW for read-only proposals (nothing to clean up)', () => {
    const r = evaluate(input({ spec: baseSpec({ effects: ['READ_REPO', 'COMPUTE'], steps: [{ tool: 'echo', args: { message: 'x' } }], reversibility: undefined }), profile: customProfile(['READ_REPO', 'COMPUTE']) }));
    expect(r.budgetMultiplierPercent).toBe(100);
    expect(r.retryLimit).toBe(5);
  });

  it('floors the multiplied budget and never goes below the schema minimum', () => {
    const r = evaluate(input({ spec: baseSpec({ envelope: { autonomyBudget: { maxSteps: 3, maxToolCalls: 1 } }, reversibility: { class: 'REVERSIBLE', rollbackProof: { description: 'x' }, cleanupCost: 'HIGH' } }) }));
    expect(r.effectiveEnvelope?.autonomyBudget.maxSteps).toBe(1);
    expect(r.effectiveEnvelope?.autonomyBudget.maxToolCalls).toBe(1);
  });
});
