import { describe, expect, it } from 'vitest';
import type { ProposalSpecInput } from '../../../src/api/proposal.ts';
import { evaluate } from '../../../src/governance/evaluate.ts';
import { baseSpec, CASEY, customProfile, findings, input, policyWith } from './fixtures.ts';

/** Each rule in isolation: start from a proposal that is allowed and change one thing. */

const readOnlyEcho = (over: Partial<ProposalSpecInput> = {}) =>
  baseSpec({ effects: ['READ_REPO', 'COMPUTE'], steps: [{ tool: 'echo', args: { message: 'hello' } }], reversibility: undefined, ...over });
const READER = customProfile(['READ_REPO', 'READ_CONFIG', 'COMPUTE']);

describe('baseline', () => {
  it('allows a well-formed, in-scope, reversible patch with evidence', () => {
    const r = evaluate(input());
    expect(r.outcome).toBe('ALLOW');
    expect(r.reasons.map((x) => x.code)).toEqual(['ALLOWED']);
    expect(r.allowedEffects).toEqual(['WRITE_PATCH']);
    expect(r.requiredApprovals).toEqual({ count: 0 });
    expect(r.challenge).toBeUndefined();
    expect(r.expiresAt).toBeUndefined();
    expect(r.effectiveEnvelope?.humanApproved).toBe(false);
  });
});

describe('identity', () => {
  it('denies a proposal naming an AgentProfile that does not exist', () => {
    const r = evaluate(input({ profile: null }));
    expect(r.outcome).toBe('DENY');
    expect(findings(r)).toEqual(['AGENT_UNKNOWN']);
  });

  it('denies a submitter that is not a subject of the named AgentProfile', () => {
    const r = evaluate(input({ spec: baseSpec({ submittedBy: 'system:serviceaccount:m87-agents:riley' }) }));
    expect(r.outcome).toBe('DENY');
    expect(findings(r)).toEqual(['SUBMITTER_NOT_AGENT_SUBJECT']);
  });

  it('does not let the shipped Human profile be claimed by anyone until an admin lists people', () => {
    const r = evaluate(input({ spec: baseSpec({ agent: 'human' }) }));
    expect(findings(r)).toEqual(['SUBMITTER_NOT_AGENT_SUBJECT']);
  });
});

describe('quarantine tier', () => {
  const tier = (n: number) => policyWith((p) => (p.quarantineTier = n));

  it('tier 0 permits everything', () => {
    expect(evaluate(input({ policy: tier(0) })).outcome).toBe('ALLOW');
  });

  it('tier 1 permits only read-only effects', () => {
    expect(findings(evaluate(input({ policy: tier(1) })))).toEqual(['QUARANTINE_TIER']);
    expect(evaluate(input({ policy: tier(1), spec: readOnlyEcho(), profile: READER })).outcome).toBe('ALLOW');
  });

  it('tier 2 permits only READ_REPO and READ_CONFIG', () => {
    const r = evaluate(input({ policy: tier(2), spec: readOnlyEcho(), profile: READER }));
    expect(r.outcome).toBe('DENY');
    expect(r.reasons[0]?.message).toMatch(/tier 2 \(QUARANTINE\) does not permit COMPUTE/);
  });

  it('tier 3 permits nothing', () => {
    const r = evaluate(input({ policy: tier(3), spec: readOnlyEcho({ effects: ['READ_REPO'], steps: [{ tool: 'echo', args: { message: 'x' } }] }), profile: READER }));
    expect(findings(r)).toContain('QUARANTINE_TIER');
    expect(r.outcome).toBe('DENY');
  });
});

describe('READ_SECRETS', () => {
  it('is denied even for a profile that lists it', () => {
    const r = evaluate(input({ spec: baseSpec({ effects: ['WRITE_PATCH', 'READ_SECRETS'] }), profile: customProfile(['WRITE_PATCH', 'READ_SECRETS']) }));
    expect(r.outcome).toBe('DENY');
    expect(findings(r)).toEqual(['READ_SECRETS_FORBIDDEN']);
  });
});

describe('virtual filesystem', () => {
  const withArtifactPath = (field: 'path' | 'source' | 'destination' | 'target', value: string) =>
    evaluate(input({ spec: baseSpec({ artifacts: [{ type: 'file', [field]: value }] }) }));

  it('checks every artifact path field', () => {
    for (const field of ['path', 'source', 'destination', 'target'] as const) {
      const r = withArtifactPath(field, '/sys/kernel/notes');
      expect(r.outcome, field).toBe('DENY');
      expect(r.reasons[0]?.message).toContain(`artifacts[0].${field}`);
    }
  });

  it('checks path-like step arguments, and not free text', () => {
    const r = evaluate(input({ spec: baseSpec({ steps: [{ tool: 'write-file', args: { path: '/dev/shm/drop', content: 'x' } }] }) }));
    expect(findings(r)).toEqual(['PATH_OUTSIDE_WORKSPACE', 'VIRTUAL_FS_DENIED']);
    expect(r.reasons.find((x) => x.code === 'VIRTUAL_FS_DENIED')?.message).toContain('steps[0].args.path');
    const text = evaluate(input({ spec: readOnlyEcho({ steps: [{ tool: 'echo', args: { message: '/sys is mounted read-only' } }] }), profile: READER }));
    expect(text.outcome).toBe('ALLOW');
  });

  it('treats every argument of an unknown tool as path-like', () => {
    const r = evaluate(input({ spec: baseSpec({ steps: [{ tool: 'mystery', args: { where: '/run/secrets/token' } }] }) }));
    expect(findings(r)).toEqual(['VIRTUAL_FS_DENIED', 'TOOL_UNKNOWN']);
  });

  it('denies /proc outside the allowlist and allows the listed files', () => {
    expect(findings(withArtifactPath('path', '/proc/self/environ'))).toEqual(['VIRTUAL_FS_NOT_IN_ALLOWLIST']);
    expect(withArtifactPath('path', '/proc/self/status').outcome).toBe('ALLOW');
  });

  it('denies a tool path argument that resolves outside the workspace, and allows one inside', () => {
    // Any .. segment is refused, even one that would stay inside: the runner never has to resolve one.
    for (const path of ['../../etc/cron.d/job', '/etc/passwd', 'reports/../../../x', '/workspace/a/../b.md']) {
      const r = evaluate(input({ spec: baseSpec({ steps: [{ tool: 'write-file', args: { path, content: 'x' } }] }) }));
      expect(r.outcome, path).toBe('DENY');
      expect(findings(r), path).toEqual(['PATH_OUTSIDE_WORKSPACE']);
    }
    for (const path of ['reports/out.md', '/workspace/a/b.md', './notes.txt']) {
      const r = evaluate(input({ spec: baseSpec({ steps: [{ tool: 'write-file', args: { path, content: 'x' } }] }) }));
      expect(findings(r), path).not.toContain('PATH_OUTSIDE_WORKSPACE');
    }
  });

  it('denies a path with control characters', () => {
    expect(findings(withArtifactPath('path', 'notes\u0000.txt'))).toEqual(['PATH_INVALID']);
  });
});

describe('effect drift', () => {
  it('denies an unknown tool', () => {
    const r = evaluate(input({ spec: baseSpec({ steps: [{ tool: 'shell', args: {} }] }) }));
    expect(findings(r)).toEqual(['TOOL_UNKNOWN']);
  });

  it('denies a tool that needs an effect the proposal does not declare', () => {
    const r = evaluate(input({ spec: baseSpec({ steps: [{ tool: 'write-file', args: { path: 'README.md', content: 'hello' } }, { tool: 'http-get', args: { url: 'https://example.com/' } }] }) }));
    expect(r.outcome).toBe('DENY');
    expect(findings(r)).toEqual(['TOOL_EFFECT_UNDECLARED']);
    expect(r.reasons[0]?.message).toMatch(/steps\[1\]\.tool http-get needs NETWORK_CALL/);
  });

  it('denies bad arguments and names the argument', () => {
    const r = evaluate(input({ spec: baseSpec({ steps: [{ tool: 'write-file', args: { path: 'a.txt', contents: 'x' } }] }) }));
    expect(findings(r)).toEqual(['TOOL_ARGS_INVALID', 'TOOL_ARGS_INVALID']);
    expect(r.reasons.map((x) => x.message)).toEqual([
      'steps[0].args.contents is not an argument of the tool (ARG_UNKNOWN).',
      'steps[0].args.content is required (ARG_MISSING).',
    ]);
  });

  it('denies a tool that does not support the execution mode', () => {
    const r = evaluate(input({ spec: baseSpec({ reversibility: { class: 'REVERSIBLE', rollbackProof: { description: 'revert' }, executionMode: 'preview' } }) }));
    expect(findings(r)).toEqual(['TOOL_EXECUTION_MODE_UNSUPPORTED']);
  });
});

describe('agent scope', () => {
  it('denies effects outside the profile', () => {
    const r = evaluate(input({ spec: baseSpec({ effects: ['WRITE_PATCH', 'MERGE'] }) }));
    expect(r.outcome).toBe('DENY');
    expect(findings(r)).toContain('EFFECT_NOT_ALLOWED_FOR_AGENT');
    expect(r.reasons.find((x) => x.code === 'EFFECT_NOT_ALLOWED_FOR_AGENT')?.message).toMatch(/not allowed MERGE/);
  });
});

describe('evidence', () => {
  it('asks for evidence when a non-read proposal has no observation', () => {
    const r = evaluate(input({ spec: baseSpec({ truthAccount: { observations: [], claims: [] } }) }));
    expect(r.outcome).toBe('NEED_MORE_EVIDENCE');
    expect(findings(r)).toEqual(['EVIDENCE_INSUFFICIENT']);
    expect(r.effectiveEnvelope).toBeUndefined();
    expect(r.allowedEffects).toEqual([]);
  });

  it('does not count blank observations', () => {
    expect(evaluate(input({ spec: baseSpec({ truthAccount: { observations: ['  '], claims: [] } }) })).outcome).toBe('NEED_MORE_EVIDENCE');
  });

  it('needs no observation for read-only proposals, and follows the policy minimum', () => {
    expect(evaluate(input({ spec: readOnlyEcho({ truthAccount: { observations: [], claims: [] } }), profile: READER })).outcome).toBe('ALLOW');
    const two = policyWith((p) => (p.evidence.minObservationsForNonRead = 2));
    expect(evaluate(input({ policy: two })).outcome).toBe('NEED_MORE_EVIDENCE');
  });

  it('asks again when a claim confidence is not a probability', () => {
    const i = input();
    i.proposal.spec.truthAccount.claims = [{ text: 'sure', confidence: Number.NaN }];
    expect(findings(evaluate(i))).toEqual(['CLAIM_CONFIDENCE_INVALID']);
  });
});

describe('risk', () => {
  it('escalates a risk above the profile maximum, without a challenge', () => {
    const r = evaluate(input({ spec: baseSpec({ riskScore: 0.61 }) }));
    expect(r.outcome).toBe('REQUIRE_HUMAN');
    expect(findings(r)).toEqual(['RISK_ABOVE_AGENT_MAX']);
    expect(r.challenge).toBeUndefined();
  });

  it('allows a risk equal to the maximum; a missing risk counts as the maximum', () => {
    expect(evaluate(input({ spec: baseSpec({ riskScore: 0.6 }) })).outcome).toBe('ALLOW');
    expect(evaluate(input({ spec: baseSpec({ riskScore: undefined }) })).outcome).toBe('ALLOW');
  });

  it('escalates a missing risk when the profile ceiling is lower than a typical score would be … by counting it as the ceiling', () => {
    const strict = customProfile(['WRITE_PATCH'], [CASEY], 0);
    expect(evaluate(input({ spec: baseSpec({ riskScore: undefined }), profile: strict })).outcome).toBe('ALLOW');
    expect(evaluate(input({ spec: baseSpec({ riskScore: 0.01 }), profile: strict })).outcome).toBe('REQUIRE_HUMAN');
  });
});

describe('DEPLOY and OTHER', () => {
  const tests = (effects: ProposalSpecInput['effects']) =>
    baseSpec({ effects, steps: [{ tool: 'run-tests', args: { path: 'tests' } }] });

  it('DEPLOY always needs a human', () => {
    const r = evaluate(input({ spec: tests(['RUN_TESTS', 'DEPLOY']), profile: customProfile(['RUN_TESTS', 'DEPLOY']) }));
    expect(r.outcome).toBe('REQUIRE_HUMAN');
    expect(findings(r)).toEqual(['DEPLOY_REQUIRES_HUMAN']);
    expect(r.allowedEffects).toEqual(['RUN_TESTS', 'DEPLOY']);
  });

  it('OTHER always needs a human', () => {
    const r = evaluate(input({ spec: tests(['RUN_TESTS', 'OTHER']), profile: customProfile(['RUN_TESTS', 'OTHER']) }));
    expect(r.outcome).toBe('REQUIRE_HUMAN');
    expect(findings(r)).toEqual(['OTHER_EFFECT_REQUIRES_HUMAN']);
  });
});

describe('proposal shape (defence in depth behind the API schema)', () => {
  it('denies an empty effect list instead of treating it as read-only', () => {
    const i = input();
    i.proposal.spec.effects = [];
    const r = evaluate(i);
    expect(r.outcome).toBe('DENY');
    expect(findings(r)).toContain('PROPOSAL_INVALID');
  });

  it('denies unknown effect tags, out-of-range risk and unknown modes', () => {
    const i = input();
    (i.proposal.spec.effects as string[]).push('EXFILTRATE');
    i.proposal.spec.riskScore = -1;
    (i.proposal.spec.reversibility as { executionMode: string }).executionMode = 'yolo';
    const r = evaluate(i);
    expect(r.outcome).toBe('DENY');
    expect(r.reasons.filter((x) => x.code === 'PROPOSAL_INVALID')).toHaveLength(3);
  });

  it('denies step arguments that have no canonical form', () => {
    // Such a spec cannot even be hashed (src/hash refuses it); the engine must not choke on it either.
    const i = input();
    (i.proposal.spec.steps[0] as { args: Record<string, string> }).args.content = 'x\ud800';
    const r = evaluate(i);
    expect(findings(r)).toEqual(['PROPOSAL_INVALID', 'TOOL_ARGS_INVALID']);
    expect(r.reasons.find((x) => x.code === 'TOOL_ARGS_INVALID')?.message).toMatch(/steps\[0\]\.args\.content .*ARG_INVALID_UNICODE/);
    expect(r.effectiveEnvelope).toBeUndefined();
  });
});
