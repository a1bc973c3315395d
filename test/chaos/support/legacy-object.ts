// An object stored under an earlier, looser schema: the Proposal CRD is relaxed for a moment (a longer summary
// allowed), one Proposal is stored that the current schema — and so the controller's parser — refuses, and the
// CRD is restored (installCrds replaces it with the generated one). This is what a CRD upgrade that tightens a
// limit leaves behind in a real cluster; it goes through the API server, nothing is written to etcd directly.
import type { ProposalSpecInput } from '../../../src/api/proposal.ts';
import { installCrds } from '../../../dev/codegen/install.ts';
import { API_VERSION } from '../../../src/api/group.ts';
import { PROPOSALS } from '../../../src/controller/resources.ts';
import { waitUntil } from '../../../dev/cluster/probe.ts';
import { errorCode, kubeRequest } from '../../../src/runtime/kube-http.ts';
import type { KubeObject } from '../../../src/runtime/resource.ts';
import { resourcePath } from '../../../src/runtime/resource.ts';
import { admin, type Agent, type ChaosEnv } from './env.ts';

const CRD = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/proposals.governance.m87.io';

interface Schema {
  properties?: Record<string, Schema>;
  maxLength?: number;
}

function summarySchema(crd: { spec: { versions: { schema: { openAPIV3Schema: Schema } }[] } }): Schema[] {
  return crd.spec.versions.map((v) => v.schema.openAPIV3Schema.properties?.spec?.properties?.summary).filter((s): s is Schema => s !== undefined);
}

async function accepts(env: ChaosEnv, agent: Agent, spec: ProposalSpecInput): Promise<boolean> {
  try {
    await kubeRequest(agent.kubeConfig, {
      method: 'POST',
      path: resourcePath(PROPOSALS, { namespace: env.namespace }),
      query: { dryRun: 'All' },
      body: { apiVersion: API_VERSION, kind: 'Proposal', metadata: { generateName: 'probe-', namespace: env.namespace }, spec },
    });
    return true;
  } catch (err) {
    if (errorCode(err) === 422) return false;
    throw err;
  }
}

/** Stores `spec` (whose summary is longer than today's limit) as Proposal `name`; returns the stored object. */
export async function createUnderLooserSchema(env: ChaosEnv, agent: Agent, name: string, spec: ProposalSpecInput): Promise<KubeObject> {
  const crd = await kubeRequest<{ spec: { versions: { schema: { openAPIV3Schema: Schema } }[] } }>(admin, { method: 'GET', path: CRD });
  const looser = structuredClone(crd);
  for (const s of summarySchema(looser)) s.maxLength = 4 * (s.maxLength ?? 1024);
  try {
    await kubeRequest(admin, { method: 'PUT', path: CRD, body: looser });
    await waitUntil(async () => ((await accepts(env, agent, spec)) ? true : undefined), { what: 'the relaxed Proposal schema', timeoutMs: 30_000, intervalMs: 100 });
    return await kubeRequest<KubeObject>(agent.kubeConfig, {
      method: 'POST',
      path: resourcePath(PROPOSALS, { namespace: env.namespace }),
      body: { apiVersion: API_VERSION, kind: 'Proposal', metadata: { name, namespace: env.namespace }, spec },
    });
  } finally {
    await installCrds(admin);
    await waitUntil(async () => ((await accepts(env, agent, spec)) ? undefined : true), { what: 'the restored Proposal schema', timeoutMs: 30_000, intervalMs: 100 });
  }
}
