import { describe, expect, it } from 'vitest';
import { ANNOTATIONS, LABELS, PODINFO_FILES } from '../../../src/api/group.ts';
import { buildJobPod, jobPodAnnotations } from '../../../src/controller/job-pod.ts';
import { buildJob } from '../../../src/controller/minting.ts';
import type { EffectiveEnvelope } from '../../../src/api/envelope.ts';
import { canonicalJson } from '../../../src/hash/canonical.ts';
import { envelopeHash } from '../../../src/integrity/document-hashes.ts';
import { verifyDeh } from '../../../src/integrity/signing.ts';
import { TEST_CATALOGUE } from '../../support/tool-catalogue.ts';
import { decisionFor, JOB_UID, proposalRef, signingKey } from './fixtures.ts';

/** The Pod input as the jobs controller passes it: the minted Job's envelope, DEH, signature and key id. */
function podInput() {
  const minted = buildJob({ proposal: proposalRef(), decision: decisionFor(), approvalRefs: [], signingKey: signingKey() });
  const { envelope, envelopeHash: deh, signature, keyId } = minted.spec as { envelope: EffectiveEnvelope; envelopeHash: string; signature: string; keyId: string };
  return {
    job: { namespace: 'team-a', name: 'write-file', uid: JOB_UID, proposalName: 'write-file', envelope, envelopeHash: deh, signature, keyId },
    publicKeyConfigMap: 'm87-signing-public-key',
    tools: Object.fromEntries(envelope.steps.map((s) => [s.tool, TEST_CATALOGUE.get(s.tool)!])),
  };
}

describe('job Pod', () => {
  it('carries the Job\'s envelope, DEH, signature, key id and UID as annotations — and nothing else', () => {
    const input = podInput();
    const a = jobPodAnnotations(input.job);
    expect(Object.keys(a).sort()).toEqual(Object.values(ANNOTATIONS).sort());
    expect(a[ANNOTATIONS.envelope]).toBe(canonicalJson(input.job.envelope));
    expect(envelopeHash(JSON.parse(a[ANNOTATIONS.envelope]!))).toBe(input.job.envelopeHash);
    expect(a[ANNOTATIONS.envelopeHash]).toBe(input.job.envelopeHash);
    expect(a[ANNOTATIONS.keyId]).toBe(signingKey().keyId);
    expect(a[ANNOTATIONS.jobUID]).toBe(JOB_UID);
    expect(verifyDeh(signingKey().publicKeyPem, input.job.envelopeHash, a[ANNOTATIONS.signature]!)).toBe(true);
  });

  it('carries the Job\'s own signature and key id instead of signing again', () => {
    // A signature the Pod builder could not have made: it has no key, only the Job's spec.
    const input = podInput();
    const job = { ...input.job, signature: 'U2lnbmVkQXRNaW50aW5n', keyId: 'minting-key' };
    const a = buildJobPod({ ...input, job }).metadata.annotations;
    expect(a[ANNOTATIONS.signature]).toBe('U2lnbmVkQXRNaW50aW5n');
    expect(a[ANNOTATIONS.keyId]).toBe('minting-key');
  });

  it('follows the pod contract: no credentials, restricted security, budget deadline, downward API', () => {
    const input = podInput();
    const pod = buildJobPod(input);
    const spec = pod.spec;
    expect(pod.metadata.name).toBe('m87-job-write-file');
    expect(pod.metadata.labels).toEqual({ [LABELS.job]: 'write-file', [LABELS.proposal]: 'write-file', [LABELS.managedBy]: 'm87' });
    expect(pod.metadata.ownerReferences[0]).toMatchObject({ kind: 'Job', uid: JOB_UID, controller: true });
    expect(spec.restartPolicy).toBe('Never');
    expect(spec.activeDeadlineSeconds).toBe(input.job.envelope.autonomyBudget.maxRuntimeSeconds + 30);
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.enableServiceLinks).toBe(false);
    expect(spec.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.containers).toHaveLength(1);
    const c = spec.containers[0]!;
    expect(c.name).toBe('runner');
    expect(c.image).toBe(input.job.envelope.image);
    expect(c.command).toEqual(['m87', 'runner']);
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
    expect(c.terminationMessagePath).toBe('/dev/termination-log');
    expect(c.terminationMessagePolicy).toBe('File');
    expect(c.resources.limits).toBeDefined();
    // The final container composes the receipt from the steps' records; it never sees the workspace.
    expect(c.env).toEqual([
      { name: 'M87_PODINFO_DIR', value: '/etc/m87/podinfo' },
      { name: 'M87_PUBLIC_KEY_FILE', value: '/etc/m87/keys/public.pem' },
      { name: 'M87_STATE_DIR', value: '/m87-state' },
      { name: 'M87_TERMINATION_LOG', value: '/dev/termination-log' },
    ]);
    expect(c.volumeMounts.map((m) => m.name)).not.toContain('workspace');
    expect(spec.initContainers?.map((i) => i.name)).toEqual(['install-runner', ...input.job.envelope.steps.map((_, i) => `step-${i}`)]);
    const volumes = Object.fromEntries(spec.volumes.map((v) => [v.name, v]));
    // One file per annotation, each a single-key fieldRef, which the kubelet writes as the raw value.
    expect(volumes.podinfo).toEqual({
      name: 'podinfo',
      downwardAPI: {
        items: [
          { path: 'envelope', fieldRef: { fieldPath: "metadata.annotations['governance.m87.io/envelope']" } },
          { path: 'envelope-hash', fieldRef: { fieldPath: "metadata.annotations['governance.m87.io/envelope-hash']" } },
          { path: 'signature', fieldRef: { fieldPath: "metadata.annotations['governance.m87.io/signature']" } },
          { path: 'key-id', fieldRef: { fieldPath: "metadata.annotations['governance.m87.io/key-id']" } },
          { path: 'job-uid', fieldRef: { fieldPath: "metadata.annotations['governance.m87.io/job-uid']" } },
        ],
      },
    });
    expect(volumes.podinfo!.downwardAPI!.items.map((i) => i.path)).toEqual(Object.values(PODINFO_FILES));
    expect(volumes['signing-key']).toMatchObject({ configMap: { name: 'm87-signing-public-key' } });
    expect(volumes.workspace).toEqual({ name: 'workspace', emptyDir: {} });
    expect(volumes.tmp).toEqual({ name: 'tmp', emptyDir: {} });
    const mounts = Object.fromEntries(c.volumeMounts.map((m) => [m.name, m]));
    expect(mounts.podinfo).toEqual({ name: 'podinfo', mountPath: '/etc/m87/podinfo', readOnly: true });
    expect(mounts['signing-key']).toEqual({ name: 'signing-key', mountPath: '/etc/m87/keys', readOnly: true });
  });
});
