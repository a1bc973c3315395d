// What the console shows about a proposal: built from the shipped example objects (the Proposal, its Decision
// and an Approval), only this incarnation's Decision and Approvals count, long inline outputs are cut, and a
// REQUIRE_HUMAN decision past its expiresAt is expired.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { M87Client, type ObjectOf } from '../../../src/client/index.ts';
import { KubeConfig } from '@kubernetes/client-node';
import { isExpired, MAX_INLINE_CONTENT, proposalView } from '../../../src/console/views.ts';

const client = new M87Client(new KubeConfig());
const example = (file: string): unknown => parse(readFileSync(join(import.meta.dirname, '../../../examples', file), 'utf8'));
const UID = '5f0c7e8e-0000-4000-8000-000000000001';

function objects() {
  const proposalRaw = example('proposal-deploy.yaml') as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
  proposalRaw.metadata = { ...proposalRaw.metadata, namespace: 'team-a', uid: UID, creationTimestamp: '2026-01-01T00:00:00Z' };
  const proposal = client.parse('Proposal', proposalRaw, 'example proposal');
  const decisionRaw = example('decision.yaml') as { metadata: Record<string, unknown>; spec: { proposalRef: { uid: string } } };
  decisionRaw.metadata = { ...decisionRaw.metadata, namespace: 'team-a' };
  decisionRaw.spec.proposalRef.uid = UID;
  const decision = client.parse('Decision', decisionRaw, 'example decision');
  const approvalRaw = example('approval.yaml') as { metadata: Record<string, unknown>; spec: { proposalUID: string } };
  approvalRaw.metadata = { ...approvalRaw.metadata, namespace: 'team-a' };
  approvalRaw.spec.proposalUID = UID;
  const approval = client.parse('Approval', approvalRaw, 'example approval');
  return { proposal, decision, approval };
}

describe('proposalView', () => {
  it('shows summary, effects, every reason, the envelope, outputs and this incarnation\'s verdicts', () => {
    const { proposal, decision, approval } = objects();
    const stale: ObjectOf<'Approval'> = { ...approval, metadata: { ...approval.metadata, name: 'old' }, spec: { ...approval.spec, proposalUID: 'another-incarnation' } };
    const decidedAt = Date.parse(decision.spec.decidedAt);
    const v = proposalView(proposal, decision, undefined, [approval, stale], decidedAt);
    expect(v).toMatchObject({ key: 'team-a/deploy-checkout-staging', summary: proposal.spec.summary, effects: proposal.spec.effects, createdAt: '2026-01-01T00:00:00Z' });
    expect(v.decision?.reasons).toEqual(decision.spec.reasons);
    expect(v.envelope).toEqual(decision.spec.effectiveEnvelope);
    expect(v.outputs.map((o) => o.type)).toEqual(proposal.spec.artifacts.map((a) => a.type));
    expect(v.approvals.map((a) => a.name)).toEqual([approval.metadata.name]);
  });

  it('ignores a Decision of an earlier incarnation of the name', () => {
    const { proposal, decision } = objects();
    const other = { ...decision, spec: { ...decision.spec, proposalRef: { ...decision.spec.proposalRef, uid: 'earlier' } } };
    const v = proposalView(proposal, other, undefined, [], Date.parse(decision.spec.decidedAt));
    expect(v.decision).toBeUndefined();
    expect(v.envelope).toBeUndefined();
    expect(v.expired).toBe(false);
  });

  it('cuts inline outputs longer than the page shows', () => {
    const { proposal } = objects();
    const long = { ...proposal, spec: { ...proposal.spec, artifacts: [{ type: 'diff' as const, path: 'a.patch', content: 'x'.repeat(MAX_INLINE_CONTENT + 10) }] } };
    const [out] = proposalView(long, undefined, undefined, [], 0).outputs;
    expect(out).toMatchObject({ type: 'diff', path: 'a.patch', truncated: true });
    expect(out?.content).toHaveLength(MAX_INLINE_CONTENT);
  });
});

describe('isExpired', () => {
  it('a REQUIRE_HUMAN decision is expired after expiresAt, or when it has none (fail closed)', () => {
    const { decision } = objects();
    const human = { ...decision, spec: { ...decision.spec, outcome: 'REQUIRE_HUMAN' as const, expiresAt: '2026-01-01T01:00:00Z' } };
    expect(isExpired(human, Date.parse('2026-01-01T00:59:59Z'))).toBe(false);
    expect(isExpired(human, Date.parse('2026-01-01T01:00:01Z'))).toBe(true);
    const { expiresAt: _dropped, ...withoutExpiry } = human.spec;
    expect(isExpired({ ...human, spec: withoutExpiry }, 0)).toBe(true);
    expect(isExpired({ ...human, spec: { ...human.spec, outcome: 'ALLOW' } }, Date.parse('2030-01-01T00:00:00Z'))).toBe(false);
    expect(isExpired(undefined, 0)).toBe(false);
  });
});
