import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Decision } from '../../../src/api/kinds.ts';
import { noopDecision } from '../../../bench/noop-controller.ts';
import { decidedOutcome } from '../../../bench/watch-latency.ts';
import type { KubeObject } from '../../../src/runtime/resource.ts';

const proposal = (status?: unknown): KubeObject => ({
  apiVersion: 'governance.m87.io/v1alpha1',
  kind: 'Proposal',
  metadata: { name: 'p-1', namespace: 'bench-x', uid: '0b4c5f1e-7d2a-4a53-9f0e-3c1d2b4a5e6f' },
  spec: { submittedBy: 'system:serviceaccount:bench-x:agent-0', agent: 'casey' },
  ...(status !== undefined ? { status } : {}),
});

describe('decidedOutcome', () => {
  it('is decided only with a Decided condition that is True', () => {
    expect(decidedOutcome(proposal())).toEqual({ decided: false, outcome: undefined });
    expect(decidedOutcome(proposal({ phase: 'Pending', conditions: [{ type: 'Decided', status: 'False' }] }))).toEqual({ decided: false, outcome: undefined });
    expect(decidedOutcome(proposal({ outcome: 'ALLOW', conditions: [{ type: 'Approved', status: 'True' }, { type: 'Decided', status: 'True' }] }))).toEqual({
      decided: true,
      outcome: 'ALLOW',
    });
  });

  it('does not trip over a malformed status', () => {
    expect(decidedOutcome(proposal({ conditions: 'Decided' }))).toEqual({ decided: false, outcome: undefined });
    expect(decidedOutcome(proposal({ outcome: 7, conditions: [{ type: 'Decided', status: 'True' }] }))).toEqual({ decided: true, outcome: undefined });
  });
});

describe('noopDecision', () => {
  const example = parse(readFileSync(new URL('../../../examples/decision.yaml', import.meta.url), 'utf8')) as { spec: Record<string, unknown> & { outcome: string } };

  it('is a schema-valid Decision of the proposal, owned by it, with the example spec otherwise', () => {
    const d = noopDecision(example, proposal());
    expect(d.metadata).toMatchObject({ name: 'p-1', namespace: 'bench-x', ownerReferences: [{ kind: 'Proposal', name: 'p-1', uid: '0b4c5f1e-7d2a-4a53-9f0e-3c1d2b4a5e6f', controller: true }] });
    expect(d.spec).toMatchObject({ proposalRef: { name: 'p-1', uid: '0b4c5f1e-7d2a-4a53-9f0e-3c1d2b4a5e6f' }, submittedBy: 'system:serviceaccount:bench-x:agent-0', agent: 'casey', outcome: example.spec.outcome });
    expect(Decision.safeParse(d).success).toBe(true);
  });

  it('refuses a proposal without a uid', () => {
    const p = proposal();
    delete p.metadata.uid;
    expect(() => noopDecision(example, p)).toThrow(/uid/);
  });
});
