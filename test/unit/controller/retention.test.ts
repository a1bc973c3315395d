// Retention planning (src/controller/retention.ts): what is due, and when; and the policy's retention
// settings (src/api/governance-policy.ts) — defaults, bounds, the field named in a refusal.
import { describe, expect, it } from 'vitest';
import { effectiveRetention, RETENTION_DEFAULTS } from '../../../src/api/governance-policy.ts';
import { validatePolicy } from '../../../src/governance/policy.ts';
import { DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';
import { planJobResources, planNamespace, protectionSeconds, treeState, type RetentionSettings, type TreeFacts } from '../../../src/controller/retention.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const S = 1000;
const SETTINGS: RetentionSettings = { jobResourcesKeepForSeconds: 300, historyTTLSeconds: 3600, maxProposalsPerNamespace: 100, sessionWindowSeconds: 300 };

function tree(name: string, overrides: Partial<TreeFacts> = {}): TreeFacts {
  return {
    namespace: 'team-a',
    name,
    uid: `uid-${name}`,
    createdAt: T0,
    phase: 'Succeeded',
    decision: { outcome: 'ALLOW', decidedAt: T0, expiresAt: Number.NaN },
    job: { phase: 'Succeeded', completedAt: T0 + 10 * S },
    approvals: { unjudged: 0, lastJudgedAt: Number.NaN },
    jobResourcesLeft: false,
    ...overrides,
  };
}

describe('planJobResources: a finished job keeps its Pod and NetworkPolicy for keep-for, then the Pod goes, then the NetworkPolicy', () => {
  const done = { phase: 'Succeeded', completedAt: T0, pod: true, networkPolicy: true };
  it('waits for the result and the keep-for window', () => {
    expect(planJobResources({ ...done, phase: 'Running' }, 300, T0 + 10_000 * S)).toEqual({ action: 'none' });
    expect(planJobResources({ ...done, phase: undefined }, 300, T0 + 10_000 * S)).toEqual({ action: 'none' });
    expect(planJobResources(done, 300, T0 + 299 * S)).toEqual({ action: 'wait', at: T0 + 300 * S });
  });
  it('deletes the Pod first, the NetworkPolicy only once the Pod is gone', () => {
    expect(planJobResources(done, 300, T0 + 300 * S)).toEqual({ action: 'deletePod' });
    expect(planJobResources({ ...done, phase: 'Failed' }, 0, T0)).toEqual({ action: 'deletePod' });
    expect(planJobResources({ ...done, pod: false }, 300, T0 + 300 * S)).toEqual({ action: 'deleteNetworkPolicy' });
    expect(planJobResources({ ...done, pod: false, networkPolicy: false }, 300, T0 + 300 * S)).toEqual({ action: 'none' });
  });
  it('deletes nothing on a guess: no readable completion time keeps both', () => {
    expect(planJobResources({ ...done, completedAt: Number.NaN }, 0, T0 + 10_000 * S)).toEqual({ action: 'none' });
  });
});

describe('treeState: a tree is finished only when nothing in it is pending', () => {
  const now = T0 + 100_000 * S;
  it('finished at the latest of decision, job completion and approval judgement', () => {
    expect(treeState(tree('a'), now)).toEqual({ state: 'finished', finishedAt: T0 + 10 * S });
    expect(treeState(tree('b', { job: undefined, phase: 'Denied', decision: { outcome: 'DENY', decidedAt: T0 + 5 * S, expiresAt: Number.NaN } }), now)).toEqual({
      state: 'finished',
      finishedAt: T0 + 5 * S,
    });
    expect(treeState(tree('c', { approvals: { unjudged: 0, lastJudgedAt: T0 + 20 * S } }), now)).toEqual({ state: 'finished', finishedAt: T0 + 20 * S });
  });
  it.each([
    ['undecided', { decision: undefined, phase: 'Pending' }],
    ['a Decision it cannot read', { decision: 'unreadable' as const }],
    ['an unknown decision time', { decision: { outcome: 'ALLOW', decidedAt: Number.NaN, expiresAt: Number.NaN } }],
    ['throttled', { phase: 'Throttled' }],
    ['awaiting approval', { phase: 'AwaitingApproval', job: undefined, decision: { outcome: 'REQUIRE_HUMAN', decidedAt: T0, expiresAt: T0 + 3600 * S } }],
    ['approved, job not created yet', { phase: 'Approved', job: undefined }],
    ['its job still running', { phase: 'Running', job: { phase: 'Running', completedAt: Number.NaN } }],
    ['its job finished but the phase not yet written', { phase: 'Running' }],
    ['its job result recorded without a time', { job: { phase: 'Succeeded', completedAt: Number.NaN } }],
    ['an approval not judged yet', { approvals: { unjudged: 1, lastJudgedAt: Number.NaN } }],
    ["its job's Pod or NetworkPolicy not deleted yet (keep-for longer than the TTL)", { jobResourcesLeft: true }],
  ] as [string, Partial<TreeFacts>][])('pending: %s', (_what, overrides) => {
    expect(treeState(tree('p', overrides), now).state).toBe('pending');
  });
  it('REQUIRE_HUMAN without a Job: pending until the decision expires (an approval could still be given), even if the phase says Expired', () => {
    const expiring = (phase: string): TreeFacts => tree('h', { phase, job: undefined, decision: { outcome: 'REQUIRE_HUMAN', decidedAt: T0, expiresAt: T0 + 3600 * S } });
    expect(treeState(expiring('Expired'), T0 + 3600 * S).state).toBe('pending');
    expect(treeState(expiring('Expired'), T0 + 3601 * S)).toEqual({ state: 'finished', finishedAt: T0 + 3600 * S });
    // Rejected by an approver: nothing can be given any more.
    expect(treeState(expiring('Rejected'), T0 + 10 * S)).toEqual({ state: 'finished', finishedAt: T0 });
  });
});

describe('planNamespace: history TTL, the namespace cap (oldest finished first), never within the session window', () => {
  it('prunes a finished tree once its TTL passed, and says when the next one is due', () => {
    const trees = [tree('old', { job: { phase: 'Succeeded', completedAt: T0 } }), tree('new', { job: { phase: 'Failed', completedAt: T0 + 600 * S } })];
    expect(planNamespace(trees, SETTINGS, T0 + 3599 * S)).toEqual({ prune: [], nextAt: T0 + 3600 * S });
    const plan = planNamespace(trees, SETTINGS, T0 + 3600 * S);
    expect(plan.prune.map((p) => [p.tree.name, p.reason])).toEqual([['old', 'HistoryTTL']]);
    expect(plan.nextAt).toBe(T0 + 4200 * S);
  });

  it('never prunes pending trees, whatever their age', () => {
    const trees = [tree('waiting', { phase: 'AwaitingApproval', job: undefined, decision: { outcome: 'REQUIRE_HUMAN', decidedAt: T0, expiresAt: T0 + 10 ** 9 } })];
    expect(planNamespace(trees, { ...SETTINGS, maxProposalsPerNamespace: 1 }, T0 + 10 ** 8 * S)).toEqual({ prune: [], nextAt: undefined });
    expect(planNamespace(trees, { ...SETTINGS, maxProposalsPerNamespace: 0 }, T0 + 10 ** 8 * S).prune).toEqual([]);
  });

  it('over the cap: the oldest finished trees go first, as many as the namespace is over, pending ones are counted but kept', () => {
    const trees = [
      tree('pending', { phase: 'Running', job: { phase: 'Running', completedAt: Number.NaN } }),
      tree('third', { job: { phase: 'Succeeded', completedAt: T0 + 30 * S } }),
      tree('first', { job: { phase: 'Succeeded', completedAt: T0 + 10 * S } }),
      tree('second', { job: { phase: 'Succeeded', completedAt: T0 + 20 * S } }),
    ];
    const plan = planNamespace(trees, { ...SETTINGS, maxProposalsPerNamespace: 2 }, T0 + 1000 * S);
    expect(plan.prune.map((p) => [p.tree.name, p.reason])).toEqual([
      ['first', 'NamespaceCap'],
      ['second', 'NamespaceCap'],
    ]);
    expect(plan.nextAt).toBe(T0 + 30 * S + 3600 * S);
  });

  it('the cap waits for the session window (toxic-pair checks read the tree) and the rate window', () => {
    const trees = [tree('a', { job: { phase: 'Succeeded', completedAt: T0 } }), tree('b', { job: { phase: 'Succeeded', completedAt: T0 } })];
    const capped = { ...SETTINGS, maxProposalsPerNamespace: 1 };
    expect(planNamespace(trees, capped, T0 + 299 * S)).toEqual({ prune: [], nextAt: T0 + 300 * S });
    expect(planNamespace(trees, capped, T0 + 300 * S).prune.map((p) => p.tree.name)).toEqual(['a']);
    // A short session window still keeps a tree for the rate rule's minute.
    expect(protectionSeconds({ sessionWindowSeconds: 5 })).toBe(60);
    expect(planNamespace(trees, { ...capped, sessionWindowSeconds: 5 }, T0 + 59 * S).prune).toEqual([]);
  });

  it('a TTL shorter than the session window is stretched to it', () => {
    const trees = [tree('a', { job: { phase: 'Succeeded', completedAt: T0 } })];
    const s = { ...SETTINGS, historyTTLSeconds: 60, sessionWindowSeconds: 900 };
    expect(planNamespace(trees, s, T0 + 899 * S)).toEqual({ prune: [], nextAt: T0 + 900 * S });
    expect(planNamespace(trees, s, T0 + 900 * S).prune).toHaveLength(1);
  });
});

describe('GovernancePolicy spec.retention', () => {
  it('is optional; absent fields take the safe defaults, which the shipped policy spells out', () => {
    const { retention: _absent, ...withoutRetention } = DEFAULT_POLICY_SPEC;
    expect(validatePolicy(withoutRetention)).toEqual([]);
    expect(effectiveRetention(undefined)).toEqual(RETENTION_DEFAULTS);
    expect(effectiveRetention({ historyTTLSeconds: 120 })).toEqual({ ...RETENTION_DEFAULTS, historyTTLSeconds: 120 });
    expect(DEFAULT_POLICY_SPEC.retention).toEqual(RETENTION_DEFAULTS);
    expect(RETENTION_DEFAULTS.historyTTLSeconds).toBeGreaterThanOrEqual(DEFAULT_POLICY_SPEC.session.windowSeconds);
  });

  it.each([
    ['jobResourcesKeepForSeconds', -1],
    ['jobResourcesKeepForSeconds', 1.5],
    ['jobResourcesKeepForSeconds', '300'],
    ['historyTTLSeconds', 59],
    ['historyTTLSeconds', 31536001],
    ['maxProposalsPerNamespace', 0],
    ['maxProposalsPerNamespace', null],
    ['keepFor', 10],
  ] as [string, unknown][])('refuses %s: %j, naming the field', (field, value) => {
    const errors = validatePolicy({ ...DEFAULT_POLICY_SPEC, retention: { [field]: value } });
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join('\n')).toContain(field === 'keepFor' ? 'spec.retention' : `spec.retention.${field}`);
    if (field === 'keepFor') expect(errors.join('\n')).toContain('keepFor');
  });
});
