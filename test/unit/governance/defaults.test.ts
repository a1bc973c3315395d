import { describe, expect, it } from 'vitest';
import { AgentProfileSpec } from '../../../src/api/agent-profile.ts';
import { GovernancePolicySpec } from '../../../src/api/governance-policy.ts';
import { DEFAULT_AGENT_PROFILES, DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';

describe('shipped defaults', () => {
  it('the default policy passes the GovernancePolicy schema unchanged', () => {
    expect(GovernancePolicySpec.parse(DEFAULT_POLICY_SPEC)).toEqual(DEFAULT_POLICY_SPEC);
  });

  it('carries the seed constants', () => {
    expect(DEFAULT_POLICY_SPEC.toxicPairs).toHaveLength(11);
    expect(DEFAULT_POLICY_SPEC.tripwires.patterns).toHaveLength(14);
    for (const t of DEFAULT_POLICY_SPEC.tripwires.patterns) expect(() => new RegExp(t.pattern)).not.toThrow();
    expect(DEFAULT_POLICY_SPEC.toxicPairs.filter((p) => p.outcome === 'DENY').map((p) => p.name)).toEqual([
      'secrets_then_network',
      'secrets_then_notify',
    ]);
  });

  it('every default agent profile passes the AgentProfile schema unchanged', () => {
    expect(Object.keys(DEFAULT_AGENT_PROFILES).sort()).toEqual(['casey', 'human', 'jordan', 'riley']);
    for (const [name, spec] of Object.entries(DEFAULT_AGENT_PROFILES)) {
      expect(AgentProfileSpec.parse(spec), name).toEqual(spec);
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
    }
    expect(DEFAULT_AGENT_PROFILES.human?.subjects).toEqual([]);
    expect(DEFAULT_AGENT_PROFILES.casey?.subjects).toEqual(['system:serviceaccount:m87-agents:casey']);
  });
});
