// ValidatingAdmissionPolicies take effect asynchronously (the API server's policy informer must see the
// policy and its binding). These probes make "in force" observable: each sends a server-side dry-run
// request that only the named policy denies, as a caller that is not the controller. Nothing is stored.
import type { KubeConfig } from '@kubernetes/client-node';
import { waitUntil } from '../cluster/probe.ts';
import { KubeApiError, kubeRequest } from '../../src/runtime/kube-http.ts';
import {
  approvalObject,
  configMapObject,
  decisionObject,
  jobPodObject,
  networkPolicyObject,
  proposalObject,
  PUBLIC_KEY_LABELS,
  type KubeObjectJson,
} from './fixtures.ts';
import { objectPath } from './resources.ts';

export const ADMISSION_POLICIES = [
  'm87-proposal-submitter',
  'm87-approval-approver',
  'm87-controller-writes',
  'm87-job-pods',
  'm87-job-networkpolicies',
  'm87-job-namespace-networkpolicies',
  'm87-public-key-configmaps',
] as const;
export type AdmissionPolicyName = (typeof ADMISSION_POLICIES)[number];

export interface ProbeContext {
  /** A namespace that exists (namespaced probes are dry-run creates there). */
  namespace: string;
  /** A namespace labelled governance.m87.io/job-namespace=true; without it that policy is not probed. */
  jobNamespace?: string;
}

const NOBODY = 'm87-probe:nobody';

function probeObject(policy: AdmissionPolicyName, ctx: ProbeContext): KubeObjectJson | undefined {
  const ns = ctx.namespace;
  const probeProposal = { name: 'm87-probe', uid: '' };
  switch (policy) {
    case 'm87-proposal-submitter':
      return proposalObject({ namespace: ns, name: 'm87-probe', submittedBy: NOBODY });
    case 'm87-approval-approver':
      return approvalObject({ namespace: ns, name: 'm87-probe', proposal: { ...probeProposal, hash: '0'.repeat(64) }, approver: NOBODY });
    case 'm87-controller-writes':
      return decisionObject({ namespace: ns, name: 'm87-probe', proposal: probeProposal, submittedBy: NOBODY });
    case 'm87-job-pods':
      return jobPodObject({ namespace: ns, job: probeProposal, proposalName: 'm87-probe' });
    case 'm87-job-networkpolicies':
      // Selects no job Pod, so only this policy (not the job-namespace one) can deny it.
      return networkPolicyObject(ns, 'm87-probe', { matchLabels: { 'm87-probe': 'true' } }, { 'governance.m87.io/job': 'm87-probe' });
    case 'm87-job-namespace-networkpolicies':
      return ctx.jobNamespace === undefined ? undefined : networkPolicyObject(ctx.jobNamespace, 'm87-probe', {});
    case 'm87-public-key-configmaps':
      return configMapObject(ns, 'm87-probe', { 'public.pem': 'probe' }, { ...PUBLIC_KEY_LABELS });
  }
}

export type ProbeResult = 'enforced' | 'not-enforced' | 'not-probed';

/** Whether `policy` currently denies its probe request (a dry-run create by the caller in kc). */
export async function probePolicy(kc: KubeConfig, policy: AdmissionPolicyName, ctx: ProbeContext): Promise<ProbeResult> {
  const obj = probeObject(policy, ctx);
  if (obj === undefined) return 'not-probed';
  try {
    await kubeRequest(kc, { method: 'POST', path: objectPath(obj, { collection: true }), query: { dryRun: 'All' }, body: obj });
    return 'not-enforced';
  } catch (error) {
    if (!(error instanceof KubeApiError)) throw error;
    return error.code === 403 && error.message.includes(`ValidatingAdmissionPolicy '${policy}'`) ? 'enforced' : 'not-enforced';
  }
}

export interface WaitPoliciesOptions {
  policies?: readonly AdmissionPolicyName[];
  timeoutMs?: number;
}

async function waitFor(kc: KubeConfig, ctx: ProbeContext, want: 'enforced' | 'not-enforced', options: WaitPoliciesOptions): Promise<void> {
  const policies = options.policies ?? ADMISSION_POLICIES;
  await waitUntil(
    async () => {
      const results = await Promise.all(policies.map((p) => probePolicy(kc, p, ctx)));
      const pending = policies.filter((_, i) => results[i] !== want && results[i] !== 'not-probed');
      if (pending.length > 0) throw new Error(`${pending.join(', ')} not yet ${want}`);
      return true;
    },
    { what: `admission policies ${want}`, timeoutMs: options.timeoutMs ?? 30_000, intervalMs: 100 },
  );
}

/** Resolves once every policy denies its probe. kc must not be the controller's identity. */
export function waitForAdmissionPolicies(kc: KubeConfig, ctx: ProbeContext, options: WaitPoliciesOptions = {}): Promise<void> {
  return waitFor(kc, ctx, 'enforced', options);
}

/** Resolves once no policy denies its probe any more (after deleting them). */
export function waitForAdmissionPoliciesRemoved(kc: KubeConfig, ctx: ProbeContext, options: WaitPoliciesOptions = {}): Promise<void> {
  return waitFor(kc, ctx, 'not-enforced', options);
}
