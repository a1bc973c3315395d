import { describe, expect, it } from 'vitest';
import { EffectiveEnvelope, type RequestedEnvelope } from '../../../src/api/envelope.ts';
import { evaluate } from '../../../src/governance/evaluate.ts';
import { canonicalJson } from '../../../src/hash/canonical.ts';
import { envelopeHash } from '../../../src/integrity/document-hashes.ts';
import { baseSpec, customProfile, findings, IMAGE, input, policyWith } from './fixtures.ts';

const tight = policyWith((p) => {
  p.envelope.ceiling = { maxSteps: 200, maxToolCalls: 100, maxParallelAgents: 2, maxRuntimeSeconds: 600, maxExternalIO: 5, maxWriteScope: 'sandbox' };
  p.envelope.defaults.autonomyBudget.maxExternalIO = 5;
  p.envelope.allowedEgress = [{ host: 'hooks.example.com', port: 443 }];
});
const req = (envelope: RequestedEnvelope, policy = tight) => evaluate(input({ policy, spec: baseSpec({ envelope }) }));

describe('envelope bounds', () => {
  it('denies a budget above the policy ceiling instead of defaulting it', () => {
    const r = req({ autonomyBudget: { maxSteps: 500 } });
    expect(r.outcome).toBe('DENY');
    expect(findings(r)).toEqual(['ENVELOPE_OUT_OF_BOUNDS']);
    expect(r.reasons[0]?.message).toBe('envelope.autonomyBudget.maxSteps 500 exceeds the policy ceiling 200.');
    expect(r.effectiveEnvelope).toBeUndefined();
    expect(r.envelopeHash).toBeUndefined();
  });

  it('denies a write scope above the ceiling', () => {
    expect(findings(req({ autonomyBudget: { maxWriteScope: 'prod' } }))).toEqual(['ENVELOPE_OUT_OF_BOUNDS']);
  });

  it('denies values the schema would refuse, naming the field', () => {
    const i = input({ policy: tight, spec: baseSpec({ envelope: {} }) });
    (i.proposal.spec.envelope as { autonomyBudget: unknown }).autonomyBudget = { maxSteps: 2.5, maxExternalIO: -1 };
    const r = evaluate(i);
    expect(r.reasons.map((x) => [x.code, x.message])).toEqual([
      ['ENVELOPE_INVALID', 'envelope.autonomyBudget.maxSteps must be an integer, got 2.5.'],
      ['ENVELOPE_OUT_OF_BOUNDS', 'envelope.autonomyBudget.maxExternalIO -1 is below the minimum 0.'],
    ]);
  });

  it('denies egress the policy does not allow, and carries allowed egress into the envelope', () => {
    expect(findings(req({ egress: [{ host: 'evil.example.com', port: 443 }] }))).toEqual(['EGRESS_NOT_ALLOWED']);
    expect(findings(req({ egress: [{ host: 'hooks.example.com', port: 80 }] }))).toEqual(['EGRESS_NOT_ALLOWED']);
    const ok = req({ egress: [{ host: 'HOOKS.example.com', port: 443 }] });
    expect(ok.outcome).toBe('ALLOW');
    expect(ok.effectiveEnvelope?.egress).toEqual([{ host: 'HOOKS.example.com', port: 443 }]);
  });

  it('the default policy allows no egress at all', () => {
    expect(findings(evaluate(input({ spec: baseSpec({ envelope: { egress: [{ host: '127.0.0.1', port: 8080 }] } }) })))).toEqual(['EGRESS_NOT_ALLOWED']);
  });

  it('uses requested values within bounds and policy defaults for the rest', () => {
    const r = req({ modelId: 'casey-v2', safetyMode: 'governed', inferencePolicy: { reasoningMode: true }, autonomyBudget: { maxRuntimeSeconds: 60 } });
    const e = r.effectiveEnvelope;
    expect(e?.modelId).toBe('casey-v2');
    expect(e?.safetyMode).toBe('governed');
    expect(e?.inferencePolicy).toEqual({ maxComputeClass: 'standard', reasoningMode: true, toolAccessProfile: 'default' });
    expect(e?.autonomyBudget).toEqual({ maxExternalIO: 5, maxParallelAgents: 1, maxRuntimeSeconds: 60, maxSteps: 100, maxToolCalls: 50, maxWriteScope: 'sandbox' });
  });

  it('denies when the tools need more write scope than the envelope grants', () => {
    const r = req({ autonomyBudget: { maxWriteScope: 'none' } });
    expect(findings(r)).toEqual(['WRITE_SCOPE_INSUFFICIENT']);
  });

  it('denies a budget too small for the steps', () => {
    const r = evaluate(input({ spec: baseSpec({ steps: [{ tool: 'write-file', args: { path: 'a', content: 'x' } }, { tool: 'write-file', args: { path: 'b', content: 'y' } }], envelope: { autonomyBudget: { maxToolCalls: 1 } } }) }));
    expect(findings(r)).toEqual(['BUDGET_BELOW_STEP_COUNT']);
  });

  it('tightens open-weight models before hashing, so the hash covers what runs', () => {
    const r = req({ modelSource: 'open', safetyMode: 'governed', autonomyBudget: { maxSteps: 200, maxToolCalls: 100, maxRuntimeSeconds: 600 } });
    expect(r.outcome).toBe('ALLOW');
    expect(r.reasons.map((x) => x.code)).toEqual(['ALLOWED', 'OPEN_WEIGHT_CLAMPED']);
    const b = r.effectiveEnvelope?.autonomyBudget;
    expect([r.effectiveEnvelope?.safetyMode, b?.maxSteps, b?.maxToolCalls, b?.maxRuntimeSeconds]).toEqual(['safe_default', 50, 25, 120]); // cleanup cost LOW: 100%
  });
});

describe('effective envelope', () => {
  it('is schema-valid and its hash is the src/hash DEH', () => {
    const r = evaluate(input({ spec: baseSpec({ envelope: { weightsHash: 'a'.repeat(64), postTrainingRecipeHash: 'b'.repeat(64) } }) }));
    const e = r.effectiveEnvelope;
    expect(EffectiveEnvelope.parse(e)).toEqual(e);
    expect(r.envelopeHash).toBe(envelopeHash(e));
    expect(JSON.stringify(e)).toBe(canonicalJson(e)); // built in canonical key order
  });

  it('carries everything the runner needs, bound to the proposal', () => {
    const i = input();
    const e = evaluate(i).effectiveEnvelope;
    expect(e).toMatchObject({
      image: IMAGE,
      effectSchemaVersion: '1.0.0',
      effects: ['WRITE_PATCH'],
      steps: [{ tool: 'write-file', args: { content: 'hello', path: 'README.md' } }],
      reversibility: { class: 'REVERSIBLE', executionMode: 'commit', cleanupCost: 'LOW', hasRollbackProof: true },
      proposal: { namespace: 'team-a', name: 'fix-typo', uid: 'uid-1', hash: i.proposal.hash },
    });
  });

  it('is marked human-approved for REQUIRE_HUMAN, so the DEH the approver sees is the DEH that runs', () => {
    const r = evaluate(input({ spec: baseSpec({ riskScore: 0.9 }) }));
    expect(r.outcome).toBe('REQUIRE_HUMAN');
    expect(r.effectiveEnvelope?.humanApproved).toBe(true);
    expect(r.envelopeHash).toBe(envelopeHash(r.effectiveEnvelope));
  });

  it('does not share objects with the proposal', () => {
    const i = input();
    const e = evaluate(i).effectiveEnvelope;
    expect(e?.steps[0]?.args).not.toBe(i.proposal.spec.steps[0]?.args);
  });

  it('is present only when something may run', () => {
    const deny = evaluate(input({ profile: customProfile([]) }));
    expect(deny.outcome).toBe('DENY');
    expect(deny.effectiveEnvelope).toBeUndefined();
  });
});
