// The typed client against the real API server: what it creates comes back parsed, what the server refuses
// comes back as a reason with the field the server names, a watch yields parsed events, and a caller without
// the right gets Forbidden. No mocks: the local control plane with the generated CRDs.
import { describe, expect, it } from 'vitest';
import { isClientError, M87Client, M87ClientError, submitProposal, type ProposalDraft } from '../../../src/client/index.ts';
import { installCrds } from '../../../dev/codegen/install.ts';
import { proposalObject } from '../../../dev/security/fixtures.ts';
import { clusterKubeConfig, serviceAccountKubeConfig, testNamespace } from '../../support/kube.ts';

const adminKc = clusterKubeConfig('admin');
await installCrds(adminKc);
const ns = await testNamespace('client');
const admin = new M87Client(adminKc);
const viewer = new M87Client(clusterKubeConfig('viewer'));
const stranger = new M87Client(await serviceAccountKubeConfig(ns, 'stranger')); // a ServiceAccount with no role at all

const proposal = (name: string): Record<string, unknown> => proposalObject({ namespace: ns, name, submittedBy: 'admin' });

async function failure(call: Promise<unknown>): Promise<M87ClientError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof M87ClientError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('typed client on the real API server', () => {
  it('create, get, find and list return parsed objects', async () => {
    const created = await admin.create('Proposal', proposal('first'));
    expect(created.metadata.uid).toBeTruthy();
    expect(created.spec.agent).toBe('casey');
    expect((await admin.get('Proposal', { namespace: ns, name: 'first' })).metadata.uid).toBe(created.metadata.uid);
    expect(await admin.find('Proposal', { namespace: ns, name: 'missing' })).toBeUndefined();
    const listed = await admin.list('Proposal', { namespace: ns });
    expect(listed.items.map((p) => p.metadata.name)).toEqual(['first']);
    expect(listed.resourceVersion).not.toBe('');
  });

  it('NotFound and AlreadyExists are reasons, not messages to parse', async () => {
    expect((await failure(admin.get('Decision', { namespace: ns, name: 'first' }))).reason).toBe('NotFound');
    expect((await failure(admin.create('Proposal', proposal('first')))).reason).toBe('AlreadyExists');
  });

  it('a field the schema does not know is refused by the server (strict field validation), naming it; nothing is created', async () => {
    const p = proposal('unknown-field');
    const spec = p.spec as Record<string, unknown>;
    const err = await failure(admin.create('Proposal', { ...p, spec: { ...spec, intent: { ...(spec.intent as object), deadline: 'friday' } } }));
    expect(err.reason).toBe('Invalid');
    expect(err.message).toContain('spec.intent.deadline');
    expect(await admin.find('Proposal', { namespace: ns, name: 'unknown-field' })).toBeUndefined();
  });

  it('an invalid object is refused before it is sent, naming the field', async () => {
    const p = proposal('bad-effect');
    const err = await failure(admin.create('Proposal', { ...p, spec: { ...(p.spec as object), effects: ['FLY'] } }));
    expect(err).toMatchObject({ reason: 'Invalid', field: 'spec.effects[0]', status: undefined });
  });

  it('a caller without the right gets Forbidden', async () => {
    const err = await failure(stranger.create('Proposal', proposal('by-stranger')));
    expect(err.reason).toBe('Forbidden');
    expect(err.status).toBe(403);
    expect(isClientError(await failure(stranger.list('Proposal', { namespace: ns })), 'Forbidden')).toBe(true);
    expect(await admin.find('Proposal', { namespace: ns, name: 'by-stranger' })).toBeUndefined();
  });

  it('a watch yields parsed events from a resourceVersion on', async () => {
    const { resourceVersion } = await admin.list('Proposal', { namespace: ns });
    const controller = new AbortController();
    const seen: string[] = [];
    const watching = (async () => {
      for await (const event of admin.watch('Proposal', { namespace: ns, resourceVersion, signal: controller.signal, timeoutSeconds: 30 })) {
        if (event.type === 'BOOKMARK') continue;
        seen.push(`${event.type} ${event.object.metadata.name ?? ''} ${event.object.spec.agent}`);
        if (seen.length === 1) controller.abort();
      }
    })();
    const { spec } = proposal('unused') as { spec: ProposalDraft & { submittedBy?: string } };
    const created = await submitProposal(admin, spec, { namespace: ns, name: 'watched' });
    await watching;
    expect(seen).toEqual(['ADDED watched casey']);
    expect(created.spec.submittedBy).toBe('admin');
  });

  it('the SelfSubjectReview and SelfSubjectAccessReview answer for the caller', async () => {
    expect((await admin.whoAmI()).username).toBe('admin');
    expect((await viewer.whoAmI()).groups).toContain('m87:viewers');
    expect(await stranger.canI('create', 'Proposal', { namespace: ns })).toBe(false);
    expect(await admin.canI('create', 'Proposal', { namespace: ns })).toBe(true);
  });
});

