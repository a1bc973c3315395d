// The controller's caches keep what the reconcilers read, parsed once at ingest (informers.ts, parse.ts).
import { describe, expect, it } from 'vitest';
import { API_VERSION } from '../../../src/api/group.ts';
import { deepFreeze } from '../../../src/hash/freeze.ts';
import { ANNOTATIONS } from '../../../src/api/group.ts';
import { leanObject, metadataOnly } from '../../../src/controller/informers.ts';
import { jobPodView } from '../../../src/controller/job-pod-view.ts';
import { sha256Hex } from '../../../src/hash/canonical.ts';
import { declaredOutputs } from '../../../src/controller/receipt-check.ts';
import { decisionView, ingestObject, parseDecision, parseProposal, parseStats } from '../../../src/controller/parse.ts';
import { stripManagedFields } from '../../../src/runtime/informer.ts';
import type { KubeObject } from '../../../src/runtime/resource.ts';
import { decisionFor, evaluationInput, PROPOSAL_UID, spec } from './fixtures.ts';

const MANAGED_FIELDS = [{ manager: 'm87-controller', operation: 'Update', fieldsV1: { 'f:status': { 'f:phase': {} } } }];
const TOOL_SPEC = JSON.stringify({ workspace: { access: 'writable', outputs: [{ name: 'patch', path: 'out.patch', maxBytes: 1024 }] } });
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

function withServerFields(obj: object): KubeObject {
  const o = structuredClone(obj) as KubeObject;
  o.metadata = { ...o.metadata, resourceVersion: '42', uid: o.metadata.uid ?? 'u-1', managedFields: MANAGED_FIELDS };
  return o;
}

describe('cache transforms', () => {
  it('stripManagedFields drops managedFields only, and returns an object without them as it is', () => {
    const obj = withServerFields({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'n', labels: { x: 'y' } }, data: { k: 'v' } });
    const lean = stripManagedFields(obj);
    expect(lean.metadata.managedFields).toBeUndefined();
    expect(lean).toEqual({ ...obj, metadata: { name: 'a', namespace: 'n', labels: { x: 'y' }, resourceVersion: '42', uid: 'u-1' } });
    expect(obj.metadata.managedFields).toBeDefined(); // the input is not changed
    expect(stripManagedFields(lean)).toBe(lean);
  });

  it("leanObject also drops kubectl's last-applied copy and keeps every other annotation", () => {
    const obj = withServerFields({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', annotations: { [LAST_APPLIED]: '{"huge":true}', keep: 'me' } } });
    const lean = leanObject(obj);
    expect(lean.metadata.annotations).toEqual({ keep: 'me' });
    expect(lean.metadata.managedFields).toBeUndefined();
    expect(lean.metadata.resourceVersion).toBe('42');
  });

  it("a job Pod is cached as its view: binding annotations reduced, each container's name and image, its steps' declared outputs", () => {
    const envelopeJson = JSON.stringify({ big: 'x'.repeat(2000) });
    const binding = {
      [ANNOTATIONS.envelope]: envelopeJson,
      [ANNOTATIONS.envelopeHash]: 'a'.repeat(64),
      [ANNOTATIONS.signature]: 'c2ln',
      [ANNOTATIONS.keyId]: 'k1',
      [ANNOTATIONS.jobUID]: 'j',
    };
    const pod = withServerFields({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'm87-job-x', namespace: 'n', labels: { a: 'b' }, annotations: { ...binding, [LAST_APPLIED]: '{}', keep: 'me' }, ownerReferences: [{ uid: 'j', name: 'x', kind: 'Job' }] },
      spec: {
        initContainers: [
          { name: 'step-0', image: 'tool@sha256:abc', command: ['x'], env: [{ name: 'A', value: 'b' }, { name: 'M87_TOOL_SPEC', value: TOOL_SPEC }] },
          { name: 'step-1', image: 'tool@sha256:abd', env: [{ name: 'M87_TOOL_SPEC', value: 'not json' }] },
          { name: 'install-runner', image: 'm87@sha256:def' },
        ],
        containers: [{ name: 'runner', image: 'm87@sha256:def', volumeMounts: [{ name: 'v', mountPath: '/v' }] }],
        volumes: [{ name: 'v', emptyDir: {} }],
        securityContext: { runAsNonRoot: true },
      },
      status: {
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/0 nodes are available' }],
        qosClass: 'Burstable',
        initContainerStatuses: [{ name: 'step-0', imageID: 'tool@sha256:abc' }],
      },
    });
    const view = jobPodView(pod);
    expect(view.spec).toEqual({
      initContainers: [
        { name: 'step-0', image: 'tool@sha256:abc' },
        { name: 'step-1', image: 'tool@sha256:abd' },
        { name: 'install-runner', image: 'm87@sha256:def' },
      ],
      containers: [{ name: 'runner', image: 'm87@sha256:def' }],
    });
    expect(view.stepOutputs).toEqual({ 'step-0': ['patch'], 'step-1': null });
    expect(declaredOutputs(view, 1)).toEqual(['outputs/0/patch']);
    expect(declaredOutputs(view, 2)).toBeUndefined(); // step-1's spec cannot be read: fail closed
    expect(declaredOutputs(view, 3)).toBeUndefined();
    // The envelope annotation (the whole envelope as JSON) is kept as its digest; the others as they are.
    expect(view.binding).toEqual({ envelope: sha256Hex(envelopeJson), envelopeHash: 'a'.repeat(64), signature: 'c2ln', keyId: 'k1', jobUID: 'j' });
    expect(view.metadata.annotations).toEqual({ keep: 'me' });
    expect(view.metadata.labels).toEqual({ a: 'b' });
    expect(view.metadata.ownerReferences).toEqual(pod.metadata.ownerReferences);
    expect(view.metadata.managedFields).toBeUndefined();
    expect(view.metadata.resourceVersion).toBe('42');
    expect(view.status).toEqual({ phase: 'Pending', initContainerStatuses: [{ name: 'step-0', imageID: 'tool@sha256:abc' }] });
    expect(JSON.stringify(view).length).toBeLessThan(1000);
    // A view read again (a GET read through it, a cached object) is itself.
    expect(jobPodView(view)).toBe(view);
    // A Pod without the binding annotations: every binding field absent (podAnnotationMismatch then names the first).
    const bare = jobPodView(withServerFields({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'n' } }));
    expect(Object.values(bare.binding).every((v) => v === undefined)).toBe(true);
    expect(bare.metadata.annotations).toBeUndefined();
  });

  it('a NetworkPolicy is cached as metadata only', () => {
    const np = withServerFields({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'm87-job-x', namespace: 'n' }, spec: { podSelector: {}, policyTypes: ['Egress'] } });
    expect(metadataOnly(np)).toEqual({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'm87-job-x', namespace: 'n', resourceVersion: '42', uid: 'u-1' } });
  });
});

describe('parse once at ingest', () => {
  it('a Decision is parsed at ingest and cached without its envelope; reconciles read that view (no further parse)', () => {
    const raw = withServerFields(decisionFor());
    const before = parseStats.parses;
    const cached = deepFreeze(ingestObject('Decision', leanObject(raw)));
    expect(parseStats.parses).toBe(before + 1);
    for (let i = 0; i < 5; i++) {
      const parsed = decisionView(cached);
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) return;
      // The view is the cached object: one copy in memory.
      expect(parsed.value).toBe(cached);
      expect(parsed.value.spec.outcome).toBe('ALLOW');
      expect(parsed.value.spec.envelopeHash).toBe(decisionFor().spec.envelopeHash);
      expect(parsed.value.spec.effectiveEnvelope).toBeUndefined();
    }
    // The parse for whole Decisions refuses the compact form (minting reads a whole one).
    expect(parseDecision(cached).ok).toBe(false);
    expect(parseStats.parses).toBe(before + 1);
    expect(cached.metadata.managedFields).toBeUndefined();
    expect(cached.metadata.resourceVersion).toBe('42');
  });

  it('a Proposal parsed at ingest hashes as the lazily parsed one does', () => {
    const proposal = withServerFields({ apiVersion: API_VERSION, kind: 'Proposal', metadata: { name: 'write-file', namespace: 'team-a', uid: PROPOSAL_UID }, spec: spec() });
    const ingested = deepFreeze(ingestObject('Proposal', leanObject(proposal)));
    const lazily = parseProposal(deepFreeze(structuredClone(proposal)));
    const atIngest = parseProposal(ingested);
    expect(atIngest.ok && lazily.ok).toBe(true);
    if (!atIngest.ok || !lazily.ok) return;
    expect(atIngest.value.hash).toBe(lazily.value.hash);
    expect(atIngest.value.hash).toBe(evaluationInput().proposal.hash);
    expect(atIngest.value.proposal.spec).toBe(ingested.spec);
  });

  it('an object that does not parse is cached as it came, and its failure is remembered (not parsed again)', () => {
    const bad = withServerFields({ apiVersion: API_VERSION, kind: 'Decision', metadata: { name: 'x', namespace: 'n' }, spec: { outcome: 'MAYBE' } });
    const before = parseStats.parses;
    const cached = deepFreeze(ingestObject('Decision', bad));
    expect(cached).toBe(bad);
    const r1 = parseDecision(cached);
    const r2 = parseDecision(cached);
    expect(r1.ok).toBe(false);
    expect(r2).toBe(r1);
    expect(parseStats.parses).toBe(before + 1);
  });
});
