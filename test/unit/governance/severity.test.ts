import { describe, expect, it } from 'vitest';
import { evaluate } from '../../../src/governance/evaluate.ts';
import { mostSevere } from '../../../src/governance/severity.ts';
import { baseSpec, codes, customProfile, entries, input, NOW, policyWith } from './fixtures.ts';

describe('severity', () => {
  it('orders DENY > NEED_MORE_EVIDENCE > REQUIRE_HUMAN > ALLOW', () => {
    expect(mostSevere([])).toBe('ALLOW');
    expect(mostSevere(['ALLOW', 'REQUIRE_HUMAN'])).toBe('REQUIRE_HUMAN');
    expect(mostSevere(['REQUIRE_HUMAN', 'NEED_MORE_EVIDENCE', 'ALLOW'])).toBe('NEED_MORE_EVIDENCE');
    expect(mostSevere(['NEED_MORE_EVIDENCE', 'DENY', 'REQUIRE_HUMAN'])).toBe('DENY');
  });
});

describe('all rules run and the most severe finding wins', () => {
  it('a later DENY overrides an earlier escalation (the seed stopped at the escalation)', () => {
    const policy = policyWith((p) => (p.envelope.ceiling.maxSteps = 100));
    const r = evaluate(input({ policy, spec: baseSpec({ riskScore: 0.9, envelope: { autonomyBudget: { maxSteps: 101 } } }) }));
    expect(r.outcome).toBe('DENY');
    expect(codes(r)).toEqual(['RISK_ABOVE_AGENT_MAX', 'ENVELOPE_OUT_OF_BOUNDS']);
    expect(r.requiredApprovals.count).toBe(0);
    expect(r.challenge).toBeUndefined();
    expect(r.expiresAt).toBeUndefined();
  });

  it('NEED_MORE_EVIDENCE beats REQUIRE_HUMAN', () => {
    const r = evaluate(input({ spec: baseSpec({ riskScore: 0.9, truthAccount: { observations: [], claims: [] } }) }));
    expect(r.outcome).toBe('NEED_MORE_EVIDENCE');
    expect(codes(r)).toEqual(['EVIDENCE_INSUFFICIENT', 'RISK_ABOVE_AGENT_MAX']);
  });

  it('lists every finding of every rule, in rule order', () => {
    const all = customProfile(['WRITE_PATCH', 'READ_REPO', 'NETWORK_CALL', 'DEPLOY', 'READ_SECRETS'], ['someone-else']);
    const r = evaluate(
      input({
        profile: all,
        history: entries(['READ_REPO']),
        spec: baseSpec({
          effects: ['WRITE_PATCH', 'NETWORK_CALL', 'DEPLOY', 'READ_SECRETS'],
          riskScore: 0.95,
          truthAccount: { observations: [], claims: [] },
          artifacts: [{ type: 'python_code', path: '/sys/evil.py', content: 'import socket' }],
          reversibility: { class: 'IRREVERSIBLE', executionMode: 'commit' },
        }),
      }),
    );
    expect(r.outcome).toBe('DENY');
    expect(codes(r)).toEqual([
      'SUBMITTER_NOT_AGENT_SUBJECT',
      'READ_SECRETS_FORBIDDEN',
      'VIRTUAL_FS_DENIED',
      'EVIDENCE_INSUFFICIENT',
      'RISK_ABOVE_AGENT_MAX',
      'DEPLOY_REQUIRES_HUMAN',
      'TOXIC_TOPOLOGY',
      'TOXIC_TOPOLOGY',
      'TOXIC_TOPOLOGY',
      'TRIPWIRE',
      'IRREVERSIBLE_REQUIRES_HUMAN',
    ]);
    expect(r.allowedEffects).toEqual([]);
  });

  it('REQUIRE_HUMAN carries approvals, expiry and the declared effects', () => {
    const r = evaluate(input({ spec: baseSpec({ riskScore: 0.9 }) }));
    expect(r.outcome).toBe('REQUIRE_HUMAN');
    expect(r.requiredApprovals).toEqual({ count: 1 });
    expect(r.expiresAt).toBe(new Date(NOW + 3600_000).toISOString());
    expect(r.allowedEffects).toEqual(['WRITE_PATCH']);
    const two = policyWith((p) => (p.approvals.requiredCount = 2));
    expect(evaluate(input({ policy: two, spec: baseSpec({ riskScore: 0.9 }) })).requiredApprovals).toEqual({ count: 2 });
  });

  it('keeps at most 64 reasons, summarising the rest without hiding their severity', () => {
    const artifacts = Array.from({ length: 32 }, (_, i) => ({ type: 'file' as const, path: `/sys/${i}`, source: `/run/${i}`, destination: '/dev/shm/x', target: '/proc/kcore' }));
    const r = evaluate(input({ spec: baseSpec({ artifacts }) }));
    expect(r.reasons).toHaveLength(64);
    expect(r.reasons[63]).toMatchObject({ code: 'REASONS_TRUNCATED', outcome: 'DENY' });
    expect(r.reasons[63]?.message).toMatch(/^65 further findings omitted/);
  });
});
