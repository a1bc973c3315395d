// spec.submittedBy is the caller's, and nobody types it: the chart's MutatingAdmissionPolicy fills it in
// where it is left out (kube-apiserver v1.37 serves admissionregistration.k8s.io/v1, on by default), the
// ValidatingAdmissionPolicy still refuses any other value, and the typed client fills it from a
// SelfSubjectReview (which works on clusters without the mutating policy too). Real credentials throughout:
// the agent's ServiceAccount token.
import { describe, expect, it } from 'vitest';
import { API_VERSION } from '../../../src/api/group.ts';
import { isClientError, M87Client, submitProposal, type ProposalDraft } from '../../../src/client/index.ts';
import { isNotFound, kubeRequest } from '../../../src/runtime/kube-http.ts';
import { renderSecurityManifests, type SecurityValues } from '../../../dev/security/chart.ts';
import { proposalObject } from '../../../dev/security/fixtures.ts';
import { serviceAccountKubeConfig, waitFor } from '../../support/kube.ts';
import { AGENT_SA } from './identities.ts';
import { installSecurity, waitForAccess } from './install.ts';

const sec = await installSecurity('subm');
const ns = sec.jobNamespace;
const agent = await serviceAccountKubeConfig(ns, AGENT_SA);
const agentUsername = `system:serviceaccount:${ns}:${AGENT_SA}`;
const collection = `/apis/${API_VERSION}/namespaces/${ns}/proposals`;
await waitForAccess(agent, collection, 'the agent');

/** A Proposal object as the fixtures write it, without spec.submittedBy. */
function withoutSubmitter(name: string): { metadata: { name: string; namespace: string }; spec: Record<string, unknown> } {
  const obj = proposalObject({ namespace: ns, name, submittedBy: 'unused' }) as unknown as { metadata: { name: string; namespace: string }; spec: Record<string, unknown> };
  const { submittedBy: _dropped, ...spec } = obj.spec;
  return { ...obj, spec };
}

const create = (body: unknown, dryRun = false) =>
  kubeRequest<{ spec: { submittedBy: string } }>(agent, { method: 'POST', path: collection, body, ...(dryRun ? { query: { dryRun: 'All' } } : {}) });

async function exists(name: string): Promise<boolean> {
  try {
    await kubeRequest(sec.admin, { method: 'GET', path: `${collection}/${name}` });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

// The mutating policy takes effect asynchronously, like the validating ones: a dry run shows when.
await waitFor(async () => (await create(withoutSubmitter('probe'), true).catch(() => undefined))?.spec.submittedBy === agentUsername, {
  what: 'the MutatingAdmissionPolicy m87-proposal-submitted-by in force',
});

describe('spec.submittedBy at admission (MutatingAdmissionPolicy + ValidatingAdmissionPolicy)', () => {
  it('a Proposal created without submittedBy gets the caller\'s username', async () => {
    const created = await create(withoutSubmitter('no-submitter'));
    expect(created.spec.submittedBy).toBe(agentUsername);
  });

  it('an empty submittedBy is filled in the same way', async () => {
    const obj = withoutSubmitter('empty-submitter');
    const created = await create({ ...obj, spec: { ...obj.spec, submittedBy: '' } });
    expect(created.spec.submittedBy).toBe(agentUsername);
  });

  it('a submittedBy that is not the caller is refused by the validating policy, and nothing is stored', async () => {
    const obj = withoutSubmitter('forged-submitter');
    const refused = await create({ ...obj, spec: { ...obj.spec, submittedBy: 'alice' } }).then(
      () => undefined,
      (err: unknown) => err as { code?: number; message: string },
    );
    expect(refused?.code).toBe(403);
    expect(refused?.message).toContain("ValidatingAdmissionPolicy 'm87-proposal-submitter'");
    expect(refused?.message).toContain(`expected "${agentUsername}"`);
    expect(await exists('forged-submitter')).toBe(false);
  });
});

describe('spec.submittedBy in the typed client (SelfSubjectReview)', () => {
  const client = new M87Client(agent);
  const draft = (): ProposalDraft => {
    const { spec } = withoutSubmitter('unused');
    return spec as unknown as ProposalDraft;
  };

  it('fills submittedBy from the credentials, so the stored Proposal names the caller', async () => {
    const created = await submitProposal(client, draft(), { namespace: ns, name: 'client-filled' });
    expect(created.spec.submittedBy).toBe(agentUsername);
    expect(created.metadata.uid).toBeTruthy();
  });

  it('refuses a submittedBy that is not the caller before sending anything, naming the field', async () => {
    let error: unknown;
    try {
      await submitProposal(client, { ...draft(), submittedBy: 'alice' }, { namespace: ns, name: 'client-forged' });
    } catch (err) {
      error = err;
    }
    expect(isClientError(error, 'Forbidden')).toBe(true);
    expect((error as { field?: string }).field).toBe('spec.submittedBy');
    expect(await exists('client-forged')).toBe(false);
  });
});

describe('the chart renders the mutating policy only where it can work', () => {
  const mutating = (values: SecurityValues, kubeVersion?: string) =>
    renderSecurityManifests({ namespace: 'm87-system', values, ...(kubeVersion !== undefined ? { kubeVersion } : {}) })
      .filter((o) => o.kind.startsWith('MutatingAdmissionPolicy'))
      .map((o) => `${o.kind}/${o.metadata.name}`);

  it('on Kubernetes >= 1.36 by default: the policy and its binding', () => {
    expect(mutating({}).sort()).toEqual(['MutatingAdmissionPolicy/m87-proposal-submitted-by', 'MutatingAdmissionPolicyBinding/m87-proposal-submitted-by']);
  });

  it('not on 1.35 (no admissionregistration.k8s.io/v1 MutatingAdmissionPolicy), nor when turned off', () => {
    expect(mutating({}, '1.35.0')).toEqual([]);
    expect(mutating({ admission: { fillSubmittedBy: false } })).toEqual([]);
    expect(mutating({ admission: { enabled: false } })).toEqual([]);
  });
});
