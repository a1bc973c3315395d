import { describe, expect, it } from 'vitest';
import { ANNOTATIONS, LABELS } from '../../../src/api/group.ts';
import { buildJobPod, jobPodAnnotations } from '../../../src/controller/job-pod.ts';
import { buildJob } from '../../../src/controller/minting.ts';
import { canonicalJson } from '../../../src/hash/canonical.ts';
import { envelopeHash } from '../../../src/integrity/document-hashes.ts';
import { verifyDeh, verifyJobBinding } from '../../../src/integrity/signing.ts';
import { decisionFor, JOB_UID, proposalRef, signingKey } from './fixtures.ts';

function podInput() {
  const decision = decisionFor();
  const envelope = decision.spec.effectiveEnvelope!;
  return {
    job: { namespace: 'team-a', name: 'write-file', uid: JOB_UID, proposalName: 'write-file', envelope, envelopeHash: envelopeHash(envelope) },
    signingKey: signingKey(),
    publicKeyConfigMap: 'm87-signing-public-key',
  };
}

describe('job Pod', () => {
  it('carries the envelope, DEH, signatures, key id and job identity as annotations', () => {
    const input = podInput();
    const a = jobPodAnnotations(input);
    expect(a[ANNOTATIONS.envelope]).toBe(canonicalJson(input.job.envelope));
    expect(envelopeHash(JSON.parse(a[ANNOTATIONS.envelope]!))).toBe(input.job.envelopeHash);
    expect(a[ANNOTATIONS.envelopeHash]).toBe(input.job.envelopeHash);
    expect(a[ANNOTATIONS.keyId]).toBe(signingKey().keyId);
    expect(a[ANNOTATIONS.jobUID]).toBe(JOB_UID);
    expect(a[ANNOTATIONS.jobName]).toBe('write-file');
    expect(verifyDeh(signingKey().publicKeyPem, input.job.envelopeHash, a[ANNOTATIONS.signature]!)).toBe(true);
    expect(
      verifyJobBinding(
        signingKey().publicKeyPem,
        { namespace: 'team-a', jobName: 'write-file', jobUID: JOB_UID, deh: input.job.envelopeHash },
        a[ANNOTATIONS.bindingSignature]!,
      ),
    ).toBe(true);
    // The binding signature is bound to the UID: another incarnation does not verify.
    expect(
      verifyJobBinding(signingKey().publicKeyPem, { namespace: 'team-a', jobName: 'write-file', jobUID: 'other', deh: input.job.envelopeHash }, a[ANNOTATIONS.bindingSignature]!),
    ).toBe(false);
  });

  it('signs the same DEH as the minted Job', () => {
    const input = podInput();
    const job = buildJob({ proposal: proposalRef(), decision: decisionFor(), approvalRefs: [], signingKey: signingKey() });
    expect(jobPodAnnotations(input)[ANNOTATIONS.signature]).toBe(job.spec.signature);
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
    expect(c.env).toEqual([
      { name: 'M87_PODINFO_DIR', value: '/etc/m87/podinfo' },
      { name: 'M87_PUBLIC_KEY_FILE', value: '/etc/m87/keys/public.pem' },
      { name: 'M87_WORKSPACE', value: '/workspace' },
      { name: 'M87_TERMINATION_LOG', value: '/dev/termination-log' },
    ]);
    const volumes = Object.fromEntries(spec.volumes.map((v) => [v.name, v]));
    expect(volumes.podinfo).toEqual({ name: 'podinfo', downwardAPI: { items: [{ path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } }] } });
    expect(volumes['signing-key']).toMatchObject({ configMap: { name: 'm87-signing-public-key' } });
    expect(volumes.workspace).toEqual({ name: 'workspace', emptyDir: {} });
    expect(volumes.tmp).toEqual({ name: 'tmp', emptyDir: {} });
    const mounts = Object.fromEntries(c.volumeMounts.map((m) => [m.name, m]));
    expect(mounts.podinfo).toEqual({ name: 'podinfo', mountPath: '/etc/m87/podinfo', readOnly: true });
    expect(mounts['signing-key']).toEqual({ name: 'signing-key', mountPath: '/etc/m87/keys', readOnly: true });
  });
});
