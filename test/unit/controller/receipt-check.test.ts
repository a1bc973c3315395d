// The controller's reading of a finished job Pod: what it proves itself (EnvelopeVerified) and what it only
// checks for consistency (the runner's receipt). Pods are built by buildJobPod, as the controller creates them.
import { describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '../../../src/api/group.ts';
import type { Receipt } from '../../../src/api/receipt.ts';
import { buildJobPod, envelopeAnnotationDigest, podAnnotationMismatch } from '../../../src/controller/job-pod.ts';
import { jobPodView, type JobPodView } from '../../../src/controller/job-pod-view.ts';
import { podProgress, REPORTED_BY_RUNNER, VERIFIED_BY_CONTROLLER, type JobFacts, type JobResult } from '../../../src/controller/receipt-check.ts';
import { canonicalJson, sha256Hex } from '../../../src/hash/canonical.ts';
import { deepFreeze } from '../../../src/hash/freeze.ts';
import { signDeh } from '../../../src/integrity/signing.ts';
import { TEST_CATALOGUE } from '../../support/tool-catalogue.ts';
import { decisionFor, JOB_UID, signingKey } from './fixtures.ts';

const decision = decisionFor();
const envelope = decision.spec.effectiveEnvelope!;
const deh = decision.spec.envelopeHash!;
const job: JobFacts = { uid: JOB_UID, envelopeHash: deh, envelope, signature: signDeh(signingKey().privateKeyPem, deh), keyId: signingKey().keyId };

/** The job Pod exactly as the controller creates it, with the given status. */
function jobPod(status: unknown, annotations: (a: Record<string, string>) => Record<string, string> = (a) => a) {
  const pod = buildJobPod({ job: { ...job, namespace: 'team-a', name: 'write-file', proposalName: 'write-file' }, publicKeyConfigMap: 'm87-public-key', tools: Object.fromEntries(envelope.steps.map((s) => [s.tool, TEST_CATALOGUE.get(s.tool)!])) });
  // Read as the controller reads a job Pod: through its cached view (job-pod-view.ts).
  return jobPodView({ ...pod, metadata: { ...pod.metadata, annotations: annotations({ ...pod.metadata.annotations }) }, status });
}

function terminatedPod(message: string, exitCode = 0, annotations?: (a: Record<string, string>) => Record<string, string>) {
  const terminated = { exitCode, message, finishedAt: '2025-06-01T12:00:05Z' };
  return jobPod({ phase: exitCode === 0 ? 'Succeeded' : 'Failed', containerStatuses: [{ name: 'runner', state: { terminated } }] }, annotations);
}

function finished(pod: JobPodView): JobResult {
  const progress = podProgress(job, pod);
  if (progress.state !== 'finished') throw new Error(`expected a finished Pod, got ${progress.state}`);
  return progress.result;
}

function receipt(overrides: Partial<Receipt> = {}): Receipt {
  return {
    v: 1,
    status: 'Succeeded',
    reasonCode: '',
    jobUID: JOB_UID,
    deh: { claimed: deh, recomputed: deh, verified: true },
    steps: envelope.steps.map((s) => ({ tool: s.tool, exitCode: 0, outputHash: sha256Hex('out') })),
    usage: { steps: envelope.steps.length, toolCalls: envelope.steps.length, runtimeMs: 1200, externalIO: 0 },
    artifacts: [{ path: 'out.txt', sha256: sha256Hex('hello') }],
    ...overrides,
  };
}

function check(r: unknown, exitCode = 0) {
  return finished(terminatedPod(typeof r === 'string' ? r : JSON.stringify(r), exitCode));
}

describe('receipt verification', () => {
  it('accepts a receipt that matches the Job, stays within budget and lists artifacts — as the runner\'s report', () => {
    const r = check(receipt());
    expect(r.phase).toBe('Succeeded');
    expect(r.verification).toBe('verified');
    expect(r.receipt?.artifacts).toHaveLength(1);
    expect(r.completionTime).toBe('2025-06-01T12:00:05Z');
    // The conditions say who proved what: the controller the envelope, the runner (by its own account) the work.
    expect(r.envelopeVerified).toMatchObject({ status: 'True', reason: VERIFIED_BY_CONTROLLER });
    expect(r.envelopeVerified.message).toContain('The controller verified');
    expect(r.reason).toBe(REPORTED_BY_RUNNER);
    expect(r.message).toContain('not proof of the work');
  });

  it('a receipt claiming success and verification counts for nothing from a Pod that does not carry the signed Job', () => {
    // E.g. a Pod someone else created under the job Pod's name, with an owner reference to the Job: its
    // termination message is whatever its author wrote. Before the controller checked the Pod, this was Succeeded.
    const forged = JSON.stringify(receipt());
    for (const tamper of [
      () => ({}),
      (a: Record<string, string>) => ({ ...a, [ANNOTATIONS.signature]: signDeh(signingKey().privateKeyPem, sha256Hex('other')) }),
      (a: Record<string, string>) => ({ ...a, [ANNOTATIONS.envelope]: a[ANNOTATIONS.envelope]!.replace('"steps"', '"steps" ') }),
      (a: Record<string, string>) => ({ ...a, [ANNOTATIONS.jobUID]: 'another-incarnation' }),
    ]) {
      const r = finished(terminatedPod(forged, 0, tamper));
      expect(r).toMatchObject({ phase: 'Failed', reason: 'PodEnvelopeMismatch', verification: 'mismatch', envelopeVerified: { status: 'False', reason: 'PodEnvelopeMismatch' } });
      expect(r.receipt).toBeUndefined();
    }
  });

  it('a Pod that does not carry the signed Job is finished as Failed even before it runs', () => {
    expect(podProgress(job, jobPod({ phase: 'Pending' }, () => ({})))).toMatchObject({ state: 'finished', result: { phase: 'Failed', reason: 'PodEnvelopeMismatch' } });
  });

  it('podAnnotationMismatch names the first annotation that differs, and nothing for the controller\'s own Pod', () => {
    expect(podAnnotationMismatch(jobPod({}), job)).toBeUndefined();
    expect(podAnnotationMismatch(jobPod({}, (a) => ({ ...a, [ANNOTATIONS.keyId]: 'other' })), job)).toBe(ANNOTATIONS.keyId);
    // Unrelated annotations stay writable (admission allows them) and do not matter.
    expect(podAnnotationMismatch(jobPod({}, (a) => ({ ...a, 'example.com/note': 'x' })), job)).toBeUndefined();
    for (const k of ['envelope', 'envelopeHash', 'signature', 'jobUID'] as const) {
      expect(podAnnotationMismatch(jobPod({}, (a) => ({ ...a, [ANNOTATIONS[k]]: k === 'envelope' ? '{}' : 'other' })), job)).toBe(ANNOTATIONS[k]);
    }
  });

  it('the envelope digest of a frozen (cached) envelope is taken once; the check still sees another envelope', () => {
    const frozen = deepFreeze(structuredClone(envelope));
    const frozenJob = { ...job, envelope: frozen };
    const digest = envelopeAnnotationDigest(frozen);
    expect(digest).toBe(sha256Hex(canonicalJson(envelope)));
    expect(envelopeAnnotationDigest(frozen)).toBe(digest);
    expect(podAnnotationMismatch(jobPod({}), frozenJob)).toBeUndefined();
    // The same Pod against a Job whose envelope differs (another cached version): a mismatch.
    const other = deepFreeze({ ...structuredClone(envelope), humanApproved: !envelope.humanApproved });
    expect(podAnnotationMismatch(jobPod({}), { ...job, envelope: other })).toBe(ANNOTATIONS.envelope);
    // Not frozen: serialised each time, so a change is seen.
    const loose = structuredClone(envelope);
    expect(podAnnotationMismatch(jobPod({}), { ...job, envelope: loose })).toBeUndefined();
    loose.humanApproved = !loose.humanApproved;
    expect(podAnnotationMismatch(jobPod({}), { ...job, envelope: loose })).toBe(ANNOTATIONS.envelope);
  });

  it('the runner\'s report can lower EnvelopeVerified but never raise it', () => {
    // It says it was handed another DEH or job UID, or could not verify: taken at its word (fail closed).
    for (const r of [
      receipt({ jobUID: 'someone-else' }),
      receipt({ deh: { claimed: sha256Hex('x'), recomputed: sha256Hex('x'), verified: true } }),
      receipt({ status: 'Refused', reasonCode: 'SIGNATURE_INVALID', deh: { claimed: deh, recomputed: deh, verified: false }, steps: [] }),
    ]) {
      const result = check(r);
      expect(result.envelopeVerified.status).toBe('False');
      expect(result.envelopeVerified.message).toContain('reported by the runner');
    }
    // A refusal after verification (a path gate), a failed step, a garbage or missing receipt: the envelope
    // stays what the controller proved.
    for (const r of [
      receipt({ status: 'Refused', reasonCode: 'PATH_SYMLINK_ESCAPE', steps: [], artifacts: [] }),
      receipt({ status: 'Failed', reasonCode: 'STEP_FAILED' }),
      'not json',
      '',
    ]) {
      expect(check(r).envelopeVerified).toMatchObject({ status: 'True', reason: VERIFIED_BY_CONTROLLER });
    }
  });

  it('a Succeeded receipt lists every output the steps\' Tools declare; Tools that declare none need no artifact', () => {
    expect(check(receipt({ artifacts: [] })).phase).toBe('Succeeded'); // write-file declares no output
    const withReport = { ...TEST_CATALOGUE.get('write-file')!, workspace: { access: 'writable' as const, outputs: [{ name: 'report', kind: 'file' as const, path: '.m87/r.txt', maxBytes: 100 }] } };
    const pod = (r: Receipt) => {
      const built = buildJobPod({ job: { ...job, namespace: 'team-a', name: 'write-file', proposalName: 'write-file' }, publicKeyConfigMap: 'm87-public-key', tools: { 'write-file': withReport } });
      return { ...built, status: { phase: 'Succeeded', containerStatuses: [{ name: 'runner', state: { terminated: { exitCode: 0, message: JSON.stringify(r), finishedAt: '2025-06-01T12:00:05Z' } } }] } };
    };
    expect(finished(jobPodView(pod(receipt({ artifacts: [] }))))).toMatchObject({ phase: 'Failed', reason: 'NoArtifacts' });
    expect(finished(jobPodView(pod(receipt({ artifacts: [{ path: 'outputs/0/report', sha256: sha256Hex('r') }] })))).phase).toBe('Succeeded');
    // A Pod whose step spec cannot be read (absent, or not JSON) says nothing about its outputs: not Succeeded.
    const broken = pod(receipt());
    broken.spec.initContainers![1]!.env = broken.spec.initContainers![1]!.env.filter((e) => e.name !== 'M87_TOOL_SPEC');
    expect(finished(jobPodView(broken))).toMatchObject({ phase: 'Failed', reason: 'NoArtifacts' });
    const garbled = pod(receipt());
    garbled.spec.initContainers![1]!.env = garbled.spec.initContainers![1]!.env.map((e) => (e.name === 'M87_TOOL_SPEC' ? { ...e, value: '{not json' } : e));
    expect(finished(jobPodView(garbled))).toMatchObject({ phase: 'Failed', reason: 'NoArtifacts' });
  });

  it.each([
    ['another job UID', receipt({ jobUID: 'someone-else' }), 'ReceiptJobMismatch'],
    ['another DEH', receipt({ deh: { claimed: sha256Hex('x'), recomputed: sha256Hex('x'), verified: true } }), 'ReceiptDehMismatch'],
    ['unverified envelope', receipt({ deh: { claimed: deh, recomputed: deh, verified: false } }), 'ENVELOPE_NOT_VERIFIED'],
    ['a refusal', receipt({ status: 'Refused', reasonCode: 'SIGNATURE_INVALID', deh: { claimed: deh, recomputed: deh, verified: false }, steps: [] }), 'SIGNATURE_INVALID'],
    ['too many tool calls', receipt({ usage: { steps: 1, toolCalls: 10_000, runtimeMs: 1, externalIO: 0 } }), 'BudgetExceeded'],
    ['too long a runtime', receipt({ usage: { steps: 1, toolCalls: 1, runtimeMs: (envelope.autonomyBudget.maxRuntimeSeconds + 1) * 1000, externalIO: 0 } }), 'BudgetExceeded'],
    ['more steps than the envelope', receipt({ steps: [...receipt().steps, ...receipt().steps] }), 'BudgetExceeded'],
    ['a step the envelope does not have', receipt({ steps: [{ tool: 'shell', exitCode: 0, outputHash: sha256Hex('x') }] }), 'ReceiptStepMismatch'],
    ['missing steps', receipt({ steps: [] }), 'ReceiptIncomplete'],
    ['a failed step claimed as success', receipt({ steps: receipt().steps.map((s) => ({ ...s, exitCode: 1 })) }), 'ReceiptInconsistent'],
    ['a failed run', receipt({ status: 'Failed', reasonCode: 'STEP_FAILED' }), 'STEP_FAILED'],
  ])('fails a receipt with %s', (_what, r, reason) => {
    const result = check(r);
    expect(result.phase).toBe('Failed');
    expect(result.reason).toBe(reason);
  });

  it('fails success with a non-zero exit code', () => {
    expect(check(receipt(), 1)).toMatchObject({ phase: 'Failed', reason: 'ExitCodeMismatch' });
  });

  it('fails missing, malformed, schema-invalid and oversize receipts', () => {
    expect(check('')).toMatchObject({ phase: 'Failed', reason: 'ReceiptMissing', verification: 'missing' });
    expect(check('{not json')).toMatchObject({ phase: 'Failed', reason: 'ReceiptInvalid', verification: 'invalid' });
    expect(check({ ...receipt(), v: 2 })).toMatchObject({ phase: 'Failed', reason: 'ReceiptInvalid' });
    expect(check(JSON.stringify(receipt()) + ' '.repeat(5000))).toMatchObject({ phase: 'Failed', reason: 'ReceiptInvalid' });
  });

  it('reads the runner container of a Pod: pending, running, terminated, or failed without a result', () => {
    expect(podProgress(job, jobPod({ phase: 'Pending' }))).toEqual({ state: 'pending' });
    expect(podProgress(job, jobPod({ phase: 'Running', containerStatuses: [{ name: 'runner', state: { running: { startedAt: 't' } } }] }))).toEqual({
      state: 'running',
      startedAt: 't',
    });
    const done = podProgress(job, terminatedPod(JSON.stringify(receipt())));
    expect(done).toMatchObject({ state: 'finished', result: { phase: 'Succeeded' } });
    expect(podProgress(job, jobPod({ phase: 'Failed', reason: 'DeadlineExceeded', message: 'Pod was active too long' }))).toMatchObject({
      state: 'finished',
      result: { phase: 'Failed', reason: 'DeadlineExceeded' },
    });
  });
});
