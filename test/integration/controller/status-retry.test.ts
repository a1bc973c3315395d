// A status write that fails is retried through the work queue, never dropped: the first write of a
// proposal's "not decided" status (PolicyMissing) is answered with an error by a proxy, and the reason
// still reaches Proposal.status without anything else changing.
import { afterAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/runtime/resource.ts';
import { waitFor } from '../../support/kube.ts';
import { startFaultProxy } from '../runtime/fault-proxy.ts';
import { admin, caseySpec, get, propose, PROPOSALS, setupEnv, startTestController } from './harness.ts';

const env = await setupEnv('m87-stretry', { withPolicy: false });
const proxy = await startFaultProxy(admin);
afterAll(() => proxy.close());
await startTestController(env, { kubeConfig: proxy.kubeConfig });

function decidedCondition(p: KubeObject | undefined): { status: string; reason: string } | undefined {
  return (p?.status as { conditions?: { type: string; status: string; reason: string }[] } | undefined)?.conditions?.find((c) => c.type === 'Decided');
}

describe('a failed status write', () => {
  it('is retried until PolicyMissing is recorded', async () => {
    proxy.failNext((r) => r.method === 'PATCH' && r.path.endsWith('/proposals/lost-1/status'), 500);
    await propose(env, 'casey', 'lost-1', caseySpec(env));
    await waitFor(() => proxy.failed.length === 1, { what: 'the injected failure' });
    const p = await waitFor(
      async () => {
        const obj = await get(PROPOSALS, env.jobNamespace, 'lost-1');
        return decidedCondition(obj)?.reason === 'PolicyMissing' ? obj : undefined;
      },
      { what: 'the PolicyMissing condition after the failed write', timeoutMs: 20_000 },
    );
    expect(decidedCondition(p)).toMatchObject({ status: 'False', reason: 'PolicyMissing' });
  });
});
