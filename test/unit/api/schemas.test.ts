import { describe, expect, it } from 'vitest';
import { AgentProfileSpec } from '../../../src/api/agent-profile.ts';
import { DecisionSpec } from '../../../src/api/decision.ts';
import { GovernancePolicySpec } from '../../../src/api/governance-policy.ts';
import { ProposalSpec, type ProposalSpecInput } from '../../../src/api/proposal.ts';
import { StepArgs } from '../../../src/api/primitives.ts';
import { DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';

// zod must refuse what the API server refuses: the controller parses stored objects with these schemas, and
// the hashes are computed over the parsed form.

const proposal: ProposalSpecInput = {
  agent: 'casey',
  submittedBy: 'casey',
  summary: 's',
  intent: { id: 'i', goal: 'g', mode: 'plan' },
  effects: ['READ_REPO'],
  steps: [{ tool: 'echo' }],
  truthAccount: {},
};

function issues(result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) {
  return (result.error?.issues ?? []).map((i) => `${i.path.map(String).join('.')}: ${i.message}`);
}

describe('zod schemas refuse what the CRDs refuse', () => {
  it('effect lists are sets', () => {
    expect(issues(ProposalSpec.safeParse({ ...proposal, effects: ['READ_REPO', 'READ_REPO'] }))).toEqual(['effects: effects must not repeat']);
    expect(issues(AgentProfileSpec.safeParse({ displayName: 'x', allowedEffects: ['DEPLOY', 'DEPLOY'], maxRisk: 0 }))).toEqual([
      'allowedEffects: effects must not repeat',
    ]);
  });

  it('step arguments: at most 16, names like identifiers', () => {
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`a${i}`, 'v']));
    expect(issues(StepArgs.safeParse(many))).toEqual([': at most 16 arguments']);
    expect(StepArgs.safeParse(Object.fromEntries(Object.entries(many).slice(0, 16))).success).toBe(true);
    expect(StepArgs.safeParse({ '9lives': 'x' }).success).toBe(false);
    expect(StepArgs.safeParse({ 'a-b': 'x' }).success).toBe(false);
  });

  it('timestamps are RFC 3339', () => {
    const decision = DecisionSpec.shape.decidedAt;
    for (const ok of ['2025-06-02T09:30:00Z', '2025-06-02T09:30:00.123456Z', '2025-06-02T11:30:00+02:00']) expect(decision.safeParse(ok).success, ok).toBe(true);
    for (const bad of ['yesterday', '2025-06-02', '2025-06-02 09:30:00Z', '2025-13-02T09:30:00Z', '']) expect(decision.safeParse(bad).success, bad).toBe(false);
  });

  it('policy: tripwire patterns must compile and scanned types are artifact types', () => {
    expect(GovernancePolicySpec.safeParse(DEFAULT_POLICY_SPEC).success).toBe(true);
    const badPattern = { ...DEFAULT_POLICY_SPEC, tripwires: { ...DEFAULT_POLICY_SPEC.tripwires, patterns: [{ name: 'broken', pattern: '(' }] } };
    expect(issues(GovernancePolicySpec.safeParse(badPattern))).toEqual(['tripwires.patterns.0.pattern: must be a valid JavaScript regular expression']);
    const typo = { ...DEFAULT_POLICY_SPEC, tripwires: { ...DEFAULT_POLICY_SPEC.tripwires, scannedTypes: ['pyhton_code'] } };
    expect(issues(GovernancePolicySpec.safeParse(typo))[0]).toMatch(/^tripwires\.scannedTypes\.0: /);
  });

  it('string lengths count characters as the API server does (an emoji is one)', () => {
    expect(ProposalSpec.safeParse({ ...proposal, summary: '😀'.repeat(1024) }).success).toBe(true);
    expect(issues(ProposalSpec.safeParse({ ...proposal, summary: '😀'.repeat(1025) }))).toEqual(['summary: must be at most 1024 characters']);
    expect(issues(ProposalSpec.safeParse({ ...proposal, summary: '' }))[0]).toMatch(/^summary: /);
  });

  it('riskScore is 0..1 and effects are not empty', () => {
    expect(ProposalSpec.safeParse({ ...proposal, riskScore: 1.5 }).success).toBe(false);
    expect(ProposalSpec.safeParse({ ...proposal, riskScore: 1 }).success).toBe(true);
    expect(ProposalSpec.safeParse({ ...proposal, effects: [] }).success).toBe(false);
  });
});
