// Step 0 of the decision procedure: no policy (or an invalid one), no decision. A proposal created while the
// policy is missing stays undecided, says why, and is decided once a valid policy exists.
import { describe, expect, it } from 'vitest';
import { GOVERNANCE_POLICIES } from '../../../src/controller/resources.ts';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import { resourcePath, type KubeObject } from '../../../src/runtime/resource.ts';
import { waitFor } from '../../support/kube.ts';
import { admin, caseySpec, createPolicy, DECISIONS, get, phaseOf, propose, PROPOSALS, setupEnv, startTestController, waitForPhase } from './harness.ts';

const env = await setupEnv('m87-nopol', { withPolicy: false });
const controller = await startTestController(env);

function decidedCondition(p: KubeObject | undefined): { status: string; reason: string; message: string } | undefined {
  return (p?.status as { conditions?: { type: string; status: string; reason: string; message: string }[] } | undefined)?.conditions?.find(
    (c) => c.type === 'Decided',
  );
}

describe('without a usable policy', () => {
  it('is not ready and says why', async () => {
    const { host, port } = controller.httpAddress!;
    const res = await fetch(`http://${host}:${port}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain(`GovernancePolicy ${env.policyName} does not exist`);
    expect(await (await fetch(`http://${host}:${port}/metrics`)).text()).toContain('m87_policy_valid 0');
  });

  it('a proposal stays undecided while the policy is missing', async () => {
    await propose(env, 'casey', 'early-1', caseySpec(env));
    const pending = await waitFor(
      async () => {
        const p = await get(PROPOSALS, env.jobNamespace, 'early-1');
        return decidedCondition(p)?.reason === 'PolicyMissing' ? p : undefined;
      },
      { what: 'the PolicyMissing condition' },
    );
    expect(phaseOf(pending)).toBe('Pending');
    expect(decidedCondition(pending)).toMatchObject({ status: 'False', reason: 'PolicyMissing' });
    expect(await get(DECISIONS, env.jobNamespace, 'early-1')).toBeUndefined();
  });

  it('an invalid policy decides nothing either', async () => {
    // Defaults above the ceiling pass the CRD schema but not the engine's semantic checks.
    const invalid = structuredClone(env.policySpec);
    invalid.envelope.ceiling.maxSteps = 5;
    await createPolicy(env, invalid);
    const pending = await waitFor(
      async () => {
        const p = await get(PROPOSALS, env.jobNamespace, 'early-1');
        return decidedCondition(p)?.reason === 'PolicyInvalid' ? p : undefined;
      },
      { what: 'the PolicyInvalid condition' },
    );
    expect(decidedCondition(pending)?.message).toContain('spec.envelope.defaults.autonomyBudget.maxSteps');
    expect(await get(DECISIONS, env.jobNamespace, 'early-1')).toBeUndefined();
    const policy = await waitFor(
      async () => {
        const p = await get(GOVERNANCE_POLICIES, undefined, env.policyName);
        const valid = (p?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions?.find((c) => c.type === 'Valid');
        return valid?.status === 'False' ? p : undefined;
      },
      { what: 'the policy Valid=False condition' },
    );
    expect((policy.status as { hash?: string }).hash).toBeUndefined();
  });

  it('once the policy is valid the waiting proposal is decided', async () => {
    const current = await get(GOVERNANCE_POLICIES, undefined, env.policyName);
    await kubeRequest(admin, {
      method: 'PUT',
      path: resourcePath(GOVERNANCE_POLICIES, { name: env.policyName }),
      body: { ...current, spec: env.policySpec },
    });
    const decided = await waitForPhase(env, 'early-1', ['Approved', 'Running']);
    expect(decidedCondition(decided)).toMatchObject({ status: 'True', reason: 'Allowed' });
    const decision = await get(DECISIONS, env.jobNamespace, 'early-1');
    expect((decision?.spec as { policy?: { generation: number } } | undefined)?.policy?.generation).toBe(2);
    const { host, port } = controller.httpAddress!;
    expect((await fetch(`http://${host}:${port}/readyz`)).status).toBe(200);
  });
});
