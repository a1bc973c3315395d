// The soak's kubelet stand-in publishes what the kubelet publishes when a job's runner exits 0. The status it
// builds from a job Pod (made by buildJobPod, as the controller makes it) must read as Succeeded to the
// controller's own check; otherwise no ALLOW tree would ever finish and retention would keep them all.
import { describe, expect, it } from 'vitest';
import { buildJobPod } from '../../../src/controller/job-pod.ts';
import { jobPodView } from '../../../src/controller/job-pod-view.ts';
import { podProgress, REPORTED_BY_RUNNER, type JobFacts } from '../../../src/controller/receipt-check.ts';
import { signDeh } from '../../../src/integrity/signing.ts';
import { awaitsRunnerExit, runnerExitStatus } from '../../../bench/kubelet-standin.ts';
import { TEST_CATALOGUE } from '../../support/tool-catalogue.ts';
import { decisionFor, JOB_UID, signingKey } from '../controller/fixtures.ts';

const decision = decisionFor();
const envelope = decision.spec.effectiveEnvelope!;
const deh = decision.spec.envelopeHash!;
const job: JobFacts = { uid: JOB_UID, envelopeHash: deh, envelope, signature: signDeh(signingKey().privateKeyPem, deh), keyId: signingKey().keyId };

function jobPod(): Record<string, unknown> & { metadata: { annotations?: Record<string, string> } } {
  return buildJobPod({
    job: { ...job, namespace: 'team-a', name: 'write-file', proposalName: 'write-file' },
    publicKeyConfigMap: 'm87-public-key',
    tools: Object.fromEntries(envelope.steps.map((s) => [s.tool, TEST_CATALOGUE.get(s.tool)!])),
  }) as never;
}

describe('kubelet stand-in', () => {
  it("builds a runner exit the controller records as Succeeded (the receipt matches the signed Job and lists every declared output)", () => {
    const pod = jobPod();
    const built = runnerExitStatus(pod, '2026-12-06T12:00:05Z');
    if ('error' in built) throw new Error(built.error);
    const progress = podProgress(job, jobPodView({ ...pod, status: built.status }));
    expect(progress.state).toBe('finished');
    if (progress.state !== 'finished') return;
    expect(progress.result).toMatchObject({ phase: 'Succeeded', reason: REPORTED_BY_RUNNER, verification: 'verified', completionTime: '2026-12-06T12:00:05Z' });
  });

  it('refuses a Pod without the m87 annotations', () => {
    const pod = jobPod();
    const built = runnerExitStatus({ ...pod, metadata: { ...pod.metadata, annotations: {} } }, '2026-12-06T12:00:05Z');
    expect('error' in built ? built.error : '').toMatch(/annotations/);
  });

  it('publishes once: a Pod whose runner terminated, or that finished, awaits nothing', () => {
    expect(awaitsRunnerExit({ status: { phase: 'Pending' } })).toBe(true);
    expect(awaitsRunnerExit({})).toBe(true);
    expect(awaitsRunnerExit({ status: { phase: 'Succeeded' } })).toBe(false);
    expect(awaitsRunnerExit({ status: { phase: 'Running', containerStatuses: [{ name: 'runner', state: { terminated: { exitCode: 0 } } }] } })).toBe(false);
    expect(awaitsRunnerExit({ status: { phase: 'Running', containerStatuses: [{ name: 'step-0', state: { terminated: { exitCode: 0 } } }] } })).toBe(true);
  });
});
