import type { AgentProfileSpec } from '../../../src/api/agent-profile.ts';
import type { EffectTag } from '../../../src/api/effects.ts';
import type { GovernancePolicySpec } from '../../../src/api/governance-policy.ts';
import { ProposalSpec, type ProposalSpecInput } from '../../../src/api/proposal.ts';
import { canonicalHash } from '../../../src/hash/canonical.ts';
import { proposalHash } from '../../../src/integrity/document-hashes.ts';
import { DEFAULT_AGENT_PROFILES, DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';
import type { EvaluationInput, HistoryEntry, SessionHistory } from '../../../src/governance/types.ts';
import { TEST_CATALOGUE } from '../../support/tool-catalogue.ts';

/** Shared builders for the engine tests: a valid baseline that each test bends in one direction. */
export const NOW = Date.parse('2025-06-01T12:00:00Z');
export const SECRET = 'test-challenge-secret';
export const IMAGE = 'ghcr.io/m87/runner:test';
export const CASEY = 'system:serviceaccount:m87-agents:casey';
export const JORDAN = 'system:serviceaccount:m87-agents:jordan';
export const RILEY = 'system:serviceaccount:m87-agents:riley';

export function profile(name: string): AgentProfileSpec {
  const p = DEFAULT_AGENT_PROFILES[name];
  if (p === undefined) throw new Error(`no default profile ${name}`);
  return p;
}

/** A proposal Casey may run outright: write a patch with a rollback proof and evidence. */
export function baseSpec(overrides: Partial<ProposalSpecInput> = {}): ProposalSpecInput {
  return {
    agent: 'casey',
    submittedBy: CASEY,
    summary: 'Fix a typo in the README',
    intent: { id: 'intent-1', goal: 'Fix the typo', mode: 'fix' },
    effects: ['WRITE_PATCH'],
    steps: [{ tool: 'write-file', args: { path: 'README.md', content: 'hello' } }],
    artifacts: [],
    truthAccount: { observations: ['README.md line 3 says "teh"'], claims: [{ text: 'typo', confidence: 0.9 }] },
    riskScore: 0.2,
    reversibility: { class: 'REVERSIBLE', rollbackProof: { description: 'git revert' }, executionMode: 'commit', cleanupCost: 'LOW' },
    ...overrides,
  };
}

export interface InputOptions {
  spec?: ProposalSpecInput;
  profile?: AgentProfileSpec | null;
  policy?: GovernancePolicySpec;
  history?: SessionHistory | readonly HistoryEntry[];
  now?: number;
  createdAt?: number;
}

const policyHashes = new WeakMap<GovernancePolicySpec, string>();
function policyHash(p: GovernancePolicySpec): string {
  let h = policyHashes.get(p);
  if (h === undefined) {
    h = canonicalHash(p);
    policyHashes.set(p, h);
  }
  return h;
}

export function input(o: InputOptions = {}): EvaluationInput {
  const spec = ProposalSpec.parse(o.spec ?? baseSpec());
  const policy = o.policy ?? DEFAULT_POLICY_SPEC;
  const history: SessionHistory = o.history === undefined ? { known: true, entries: [] } : Array.isArray(o.history) ? { known: true, entries: o.history } : (o.history as SessionHistory);
  return {
    proposal: { namespace: 'team-a', name: 'fix-typo', uid: 'uid-1', spec, hash: proposalHash(spec), createdAt: o.createdAt ?? (o.now ?? NOW) - 1000 },
    profile: o.profile === null ? undefined : (o.profile ?? profile(spec.agent)),
    policy: { spec: policy, generation: 1, hash: policyHash(policy) },
    history,
    now: o.now ?? NOW,
    challengeSecret: SECRET,
    runnerImage: IMAGE,
    catalogue: TEST_CATALOGUE,
  };
}

export function entries(effects: EffectTag[], at = NOW - 60_000): HistoryEntry[] {
  return effects.map((effect) => ({ effect, at }));
}

/** A policy variant (deep copy with changes). */
export function policyWith(change: (p: GovernancePolicySpec) => void): GovernancePolicySpec {
  const p = structuredClone(DEFAULT_POLICY_SPEC);
  change(p);
  return p;
}

/** A profile for tests that need an agent with a particular effect set. */
export function customProfile(allowedEffects: EffectTag[], subjects: string[] = [CASEY], maxRisk = 0.6): AgentProfileSpec {
  return { displayName: 'Test', subjects, allowedEffects, maxRisk };
}

export function codes(r: { reasons: { code: string }[] }): string[] {
  return r.reasons.map((x) => x.code);
}

const NOTE_CODES = new Set(['ALLOWED', 'OPEN_WEIGHT_CLAMPED']);
/** Codes of the findings that matter (without the ALLOW-level notes). */
export function findings(r: { reasons: { code: string }[] }): string[] {
  return codes(r).filter((c) => !NOTE_CODES.has(c));
}

export type ArtifactInput = NonNullable<ProposalSpecInput['artifacts']>[number];
