import { describe, expect, it } from 'vitest';
import { ProposalSpec } from '../../../src/api/proposal.ts';
import type { AgentProfileSpec } from '../../../src/api/agent-profile.ts';
import { DEFAULT_AGENT_PROFILES, DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';
import { evaluate } from '../../../src/governance/evaluate.ts';
import type { HistoryEntry } from '../../../src/governance/types.ts';
import { canonicalHash } from '../../../src/hash/canonical.ts';
import { proposalHash } from '../../../src/integrity/document-hashes.ts';
import { DEFAULT_CATALOGUE } from '../../../src/tool-catalogue/default-catalogue.ts';
import { BENCH_AGENT, EXPECTED_OUTCOME, kindOf, proposalSpec, type ProposalKind } from '../../../bench/mix.ts';
import { benchPolicySpec, benchProfiles } from '../../../bench/cluster-setup.ts';

describe('bench proposal mix', () => {
  it('is 70 % allow, 20 % deny, 10 % human in every stretch of ten', () => {
    for (const start of [0, 3, 17, 1234]) {
      const counts: Record<ProposalKind, number> = { allow: 0, deny: 0, human: 0 };
      for (let i = start; i < start + 10; i++) counts[kindOf(i)]++;
      expect(counts).toEqual({ allow: 7, deny: 2, human: 1 });
    }
  });

  it('is decided as intended by the default policy, also after a long session of the same submitters', () => {
    const submitters = ['system:serviceaccount:bench:agent-0', 'system:serviceaccount:bench:agent-1', 'system:serviceaccount:bench:agent-2'];
    const policySpec = benchPolicySpec();
    const policy = { spec: policySpec, generation: 1, hash: canonicalHash(policySpec) };
    const profile = benchProfiles(submitters)[BENCH_AGENT] as AgentProfileSpec;
    const history = new Map<string, HistoryEntry[]>(submitters.map((s) => [s, []]));
    const start = Date.parse('2025-06-01T12:00:00Z');
    for (let i = 0; i < 300; i++) {
      const submitter = submitters[i % submitters.length] as string;
      const kind = kindOf(i);
      const spec = ProposalSpec.parse(proposalSpec(kind, submitter, i));
      const now = start + i * 10; // 100 proposals/s: all within one session window
      const entries = history.get(submitter) as HistoryEntry[];
      const result = evaluate({
        proposal: { namespace: 'bench', name: `p-${i}`, uid: `uid-${i}`, spec, hash: proposalHash(spec), createdAt: now - 5 },
        profile,
        policy,
        history: { known: true, entries },
        now,
        challengeSecret: 'bench-secret',
        runnerImage: 'ghcr.io/m87/m87:bench',
        catalogue: DEFAULT_CATALOGUE,
      });
      expect({ i, kind, outcome: result.outcome }).toEqual({ i, kind, outcome: EXPECTED_OUTCOME[kind] });
      if (result.outcome === 'ALLOW') for (const effect of result.allowedEffects) entries.push({ effect, at: now });
    }
  });

  it('raises only the rate limit of the default policy', () => {
    const spec = benchPolicySpec();
    expect(spec.rateLimit.proposalsPerMinute).toBe(10000);
    expect({ ...spec, rateLimit: DEFAULT_POLICY_SPEC.rateLimit }).toEqual(DEFAULT_POLICY_SPEC);
  });

  it('adds the bench submitters to the shipped profiles without dropping their subjects', () => {
    const profiles = benchProfiles(['u1', 'u2']);
    expect(Object.keys(profiles).sort()).toEqual(Object.keys(DEFAULT_AGENT_PROFILES).sort());
    expect(profiles[BENCH_AGENT]?.subjects).toEqual([...(DEFAULT_AGENT_PROFILES[BENCH_AGENT]?.subjects ?? []), 'u1', 'u2']);
    expect(profiles.jordan).toEqual(DEFAULT_AGENT_PROFILES.jordan);
  });
});
