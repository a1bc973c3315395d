import { describe, expect, it } from 'vitest';
import { DecisionSpec } from '../../../src/api/decision.ts';
import { decisionSpecFrom } from '../../../src/governance/decision-spec.ts';
import { DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';
import { evaluate, EvaluationInputError } from '../../../src/governance/evaluate.ts';
import { compilePolicy, PolicyError, validatePolicy } from '../../../src/governance/policy.ts';
import { ENGINE_VERSION } from '../../../src/governance/version.ts';
import { baseSpec, input, NOW, policyWith } from './fixtures.ts';

describe('policy preconditions', () => {
  it('the default policy is valid', () => {
    expect(validatePolicy(DEFAULT_POLICY_SPEC)).toEqual([]);
  });

  it('names every problem: schema and semantics', () => {
    expect(validatePolicy({ ...DEFAULT_POLICY_SPEC, quarantineTier: 7 })).toEqual([expect.stringMatching(/^spec\.quarantineTier: /)]);
    const broken = policyWith((p) => p.tripwires.patterns.push({ name: 'broken', pattern: '(unclosed' }));
    expect(validatePolicy(broken)).toEqual(['spec.tripwires.patterns[14].pattern: must be a valid JavaScript regular expression']);
    const bad = policyWith((p) => {
      p.envelope.defaults.autonomyBudget.maxSteps = 500;
      p.envelope.ceiling.maxSteps = 200;
      p.envelope.ceiling.maxWriteScope = 'none';
    });
    expect(validatePolicy(bad)).toEqual([
      'spec.envelope.defaults.autonomyBudget.maxSteps: 500 exceeds the ceiling 200',
      'spec.envelope.defaults.autonomyBudget.maxWriteScope: sandbox exceeds the ceiling none',
    ]);
  });

  it('an unusable policy yields no decision at all (never an ALLOW)', () => {
    const bad = policyWith((p) => p.tripwires.patterns.push({ name: 'broken', pattern: '[' }));
    expect(() => compilePolicy(bad)).toThrow(PolicyError);
    expect(() => evaluate(input({ policy: bad }))).toThrow(PolicyError);
  });

  it('refuses inputs it cannot decide with, naming the field', () => {
    const cases: [string, (i: ReturnType<typeof input>) => void][] = [
      ['now', (i) => (i.now = Number.NaN)],
      ['proposal.hash', (i) => (i.proposal.hash = 'nope')],
      ['policy.hash', (i) => (i.policy.hash = 'X'.repeat(64))],
      ['runnerImage', (i) => (i.runnerImage = '')],
      ['challengeSecret', (i) => (i.challengeSecret = '')],
      ['proposal.name', (i) => (i.proposal.name = 'Not_A_Name')],
      ['proposal.uid', (i) => (i.proposal.uid = '')],
    ];
    for (const [field, breakIt] of cases) {
      const i = input();
      breakIt(i);
      expect(() => evaluate(i), field).toThrow(EvaluationInputError);
      expect(() => evaluate(i), field).toThrow(new RegExp(`^${field.replace('.', '\\.')} `));
    }
  });
});

describe('decision record', () => {
  it('maps an evaluation onto a schema-valid Decision.spec', () => {
    const i = input({ spec: baseSpec({ riskScore: 0.9 }) });
    const r = evaluate(i);
    const spec = DecisionSpec.parse(decisionSpecFrom(i, r));
    expect(spec).toMatchObject({
      proposalRef: { name: 'fix-typo', uid: 'uid-1' },
      proposalHash: i.proposal.hash,
      submittedBy: i.proposal.spec.submittedBy,
      agent: 'casey',
      outcome: 'REQUIRE_HUMAN',
      requiredApprovals: { count: 1 },
      policy: { generation: 1, hash: i.policy.hash },
      engineVersion: ENGINE_VERSION,
      envelopeHash: r.envelopeHash,
      expiresAt: r.expiresAt,
      decidedAt: new Date(NOW).toISOString(),
    });
  });
});
