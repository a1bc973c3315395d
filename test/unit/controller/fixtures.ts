// Builders for the controller's unit tests: a real engine evaluation of a proposal the default policy
// allows, and the Decision/Job objects the controller would write for it.
import { API_VERSION } from '../../../src/api/group.ts';
import { Decision, type Proposal } from '../../../src/api/kinds.ts';
import { ProposalSpec, type ProposalSpecInput } from '../../../src/api/proposal.ts';
import { DEFAULT_AGENT_PROFILES, DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';
import { decisionSpecFrom } from '../../../src/governance/decision-spec.ts';
import { evaluate } from '../../../src/governance/evaluate.ts';
import type { EvaluationInput } from '../../../src/governance/types.ts';
import { canonicalHash } from '../../../src/hash/canonical.ts';
import { proposalHash } from '../../../src/integrity/document-hashes.ts';
import { generateSigningKey, type SigningKey } from '../../../src/integrity/signing.ts';
import { TEST_CATALOGUE } from '../../support/tool-catalogue.ts';

export const NOW = Date.parse('2025-06-01T12:00:00Z');
export const CASEY = 'system:serviceaccount:m87-agents:casey';
export const SECRET = 'unit-test-challenge-secret';
export const IMAGE = 'ghcr.io/m87/m87:test';
export const PROPOSAL_UID = '11111111-2222-3333-4444-555555555555';
export const DECISION_UID = '66666666-7777-8888-9999-000000000000';
export const JOB_UID = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';

let key: SigningKey | undefined;
export function signingKey(): SigningKey {
  key ??= generateSigningKey();
  return key;
}

export function spec(overrides: Partial<ProposalSpecInput> = {}): ProposalSpecInput {
  return {
    agent: 'casey',
    submittedBy: CASEY,
    summary: 'Write a file',
    intent: { id: 'i-1', goal: 'Write a file', mode: 'fix' },
    effects: ['WRITE_PATCH'],
    steps: [{ tool: 'write-file', args: { path: 'out.txt', content: 'hello' } }],
    artifacts: [],
    truthAccount: { observations: ['the file is missing'], claims: [] },
    riskScore: 0.2,
    reversibility: { class: 'REVERSIBLE', rollbackProof: { description: 'delete the file' }, executionMode: 'commit', cleanupCost: 'LOW' },
    ...overrides,
  };
}

export function evaluationInput(s: ProposalSpecInput = spec(), name = 'write-file', namespace = 'team-a'): EvaluationInput {
  const parsed = ProposalSpec.parse(s);
  return {
    proposal: { namespace, name, uid: PROPOSAL_UID, spec: parsed, hash: proposalHash(parsed), createdAt: NOW - 1000 },
    profile: DEFAULT_AGENT_PROFILES[parsed.agent],
    policy: { spec: DEFAULT_POLICY_SPEC, generation: 1, hash: canonicalHash(DEFAULT_POLICY_SPEC) },
    history: { known: true, entries: [] },
    now: NOW,
    challengeSecret: SECRET,
    runnerImage: IMAGE,
    catalogue: TEST_CATALOGUE,
  };
}

/** The Decision object the controller records for an evaluation. */
export function decisionFor(input: EvaluationInput = evaluationInput()): Decision {
  const result = evaluate(input);
  return Decision.parse({
    apiVersion: API_VERSION,
    kind: 'Decision',
    metadata: { name: input.proposal.name, namespace: input.proposal.namespace, uid: DECISION_UID },
    spec: decisionSpecFrom(input, result),
  });
}

export function proposalRef(input: EvaluationInput = evaluationInput()) {
  return { namespace: input.proposal.namespace, name: input.proposal.name, uid: input.proposal.uid, hash: input.proposal.hash };
}

export type { Proposal };
