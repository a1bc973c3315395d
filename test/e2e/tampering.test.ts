// A node-level attacker tampers with what the runner reads: the envelope, the DEH, the signature or the job
// UID in the downward-API files (dev/demo/node-fault-injector.ts plays the compromised node; the Pod object
// itself is protected by admission and stays intact). Every forgery of what runs must be refused by the
// runner with its reason code before any step runs. The job UID is not signed (the Pod carries the Job's one
// signature, over the DEH): a forged one changes nothing that runs, and the controller refuses the report
// that names it. Either way the controller records EnvelopeVerified=False: the runner says it was handed
// something other than what the Pod object carries.
import { beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '../../src/api/group.ts';
import { ANNOTATION_FAULTS, EXPECTED_REFUSAL, UNKNOWN_TOOL, type AnnotationFault } from '../../dev/demo/faults.ts';
import type { MetricsSnapshot } from '../../dev/demo/metrics.ts';
import { condition, eventsFor, getPod } from '../../dev/demo/observe.ts';
import { writeFileSpec } from './specs.ts';
import { runProposal, type ProposalRun } from '../../dev/demo/scenarios.ts';
import { e2eStack } from './stack.ts';

const { stack, ctx, metrics } = await e2eStack('tampering');
const ns = stack.jobNamespace;

/**
 * How the controller words the failure: a refusal whose receipt still names this Job's DEH carries the
 * runner's code; a receipt naming another DEH or job UID (the forged one) is a mismatch of its own.
 */
const CONDITION_REASON: Readonly<Record<AnnotationFault, string>> = {
  envelope: 'DEH_MISMATCH',
  'envelope-and-deh': 'ReceiptDehMismatch',
  deh: 'ReceiptDehMismatch',
  signature: 'SIGNATURE_INVALID',
  'job-uid': 'ReceiptJobMismatch',
  'unknown-tool': 'ReceiptDehMismatch',
};
const VERIFICATION_RESULT: Readonly<Record<AnnotationFault, string>> = {
  envelope: 'refused',
  'envelope-and-deh': 'mismatch',
  deh: 'mismatch',
  signature: 'refused',
  'job-uid': 'mismatch',
  'unknown-tool': 'mismatch',
};

/** The faults the runner refuses before any step (all but the unsigned job UID). */
const REFUSED_FAULTS = ANNOTATION_FAULTS.filter((f) => EXPECTED_REFUSAL[f] !== null);

const runs = new Map<AnnotationFault, ProposalRun>();
let before: MetricsSnapshot;
let after: MetricsSnapshot;

beforeAll(async () => {
  before = await metrics();
  await Promise.all(
    ANNOTATION_FAULTS.map(async (fault) => {
      const run = await runProposal(ctx, {
        as: stack.agents.casey,
        submitter: 'casey',
        name: `tamper-${fault}-${ctx.suffix}`,
        spec: writeFileSpec(`notes/${fault}.md`, `written only if the ${fault} forgery went unnoticed\n`),
        fault: { annotations: fault },
      });
      runs.set(fault, run);
    }),
  );
  after = await metrics();
}, 180_000);

describe('tampered job Pod annotations', () => {
  it.each(REFUSED_FAULTS)('%s: refused before any step, EnvelopeVerified=False', async (fault) => {
    const run = runs.get(fault)!;
    expect(run.decision.spec.outcome).toBe('ALLOW');
    const job = run.job!;
    const receipt = job.status?.receipt;
    expect(job.status?.phase).toBe('Failed');
    expect(receipt).toMatchObject({ status: 'Refused', reasonCode: EXPECTED_REFUSAL[fault], steps: [], artifacts: [], usage: { steps: 0, toolCalls: 0, externalIO: 0 } });
    expect(receipt?.deh.verified).toBe(false);
    expect(condition(job, 'EnvelopeVerified')).toMatchObject({ status: 'False', reason: CONDITION_REASON[fault] });
    expect(condition(job, 'Succeeded')).toMatchObject({ status: 'False' });
    expect(run.runner).toMatchObject({ status: 'Refused', reasonCode: EXPECTED_REFUSAL[fault], verifyMs: null });
    // The Pod object was not touched: what the API server holds is still what the controller signed.
    const pod = await getPod(stack.admin, ns, job.status!.podName!);
    expect(pod?.metadata.annotations?.[ANNOTATIONS.envelopeHash]).toBe(job.spec.envelopeHash);
    expect(pod?.metadata.annotations?.[ANNOTATIONS.jobUID]).toBe(job.metadata.uid);
    expect(pod?.metadata.annotations?.[ANNOTATIONS.signature]).toBe(job.spec.signature);
    expect(pod?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(2);
    const events = await eventsFor(stack.admin, ns, 'Job', run.name, 'Failed');
    expect(events.find((e) => e.reason === 'Failed')?.type).toBe('Warning');
  });

  it('job-uid: the signed envelope runs unchanged, the controller refuses the report naming another incarnation', async () => {
    const run = runs.get('job-uid')!;
    expect(run.decision.spec.outcome).toBe('ALLOW');
    const job = run.job!;
    expect(job.status).toMatchObject({ phase: 'Failed', reason: 'ReceiptJobMismatch' });
    // Exactly the signed step ran: the forgery bought the node nothing it could not do anyway.
    expect(job.status?.receipt).toMatchObject({ status: 'Succeeded', deh: { claimed: job.spec.envelopeHash, recomputed: job.spec.envelopeHash, verified: true } });
    expect(job.status?.receipt?.steps.map((s) => s.tool)).toEqual(job.spec.envelope.steps.map((s) => s.tool));
    expect(condition(job, 'EnvelopeVerified')).toMatchObject({ status: 'False', reason: 'ReceiptJobMismatch' });
    expect(condition(job, 'Succeeded')).toMatchObject({ status: 'False', reason: 'ReceiptJobMismatch' });
    const pod = await getPod(stack.admin, ns, job.status!.podName!);
    expect(pod?.metadata.annotations?.[ANNOTATIONS.jobUID]).toBe(job.metadata.uid);
    expect(pod?.metadata.annotations?.[ANNOTATIONS.signature]).toBe(job.spec.signature);
  });

  it('the forged job UID and DEH are what the receipt reports (so the controller can tell)', () => {
    const uid = runs.get('job-uid')!;
    expect(uid.job!.status!.receipt!.jobUID).not.toBe(uid.job!.metadata.uid);
    const deh = runs.get('deh')!;
    expect(deh.job!.status!.receipt!.deh.claimed).not.toBe(deh.job!.spec.envelopeHash);
    expect(deh.job!.status!.receipt!.deh.recomputed).toBe(deh.job!.spec.envelopeHash);
  });

  it(`a step with a tool outside the catalogue (${UNKNOWN_TOOL}) smuggled into the envelope never runs`, () => {
    const run = runs.get('unknown-tool')!;
    expect(run.job!.status!.receipt!.steps).toEqual([]);
    expect(run.job!.spec.envelope.steps.map((s) => s.tool)).not.toContain(UNKNOWN_TOOL);
  });

  it('m87_envelope_verifications_total counts each refusal and mismatch', () => {
    for (const result of ['refused', 'mismatch']) {
      const want = ANNOTATION_FAULTS.filter((f) => VERIFICATION_RESULT[f] === result).length;
      expect(after.delta(before, 'm87_envelope_verifications_total', { result })).toBe(want);
    }
    expect(after.delta(before, 'm87_envelope_verifications_total', { result: 'verified' })).toBe(0);
    expect(after.delta(before, 'm87_jobs_total', { result: 'Failed' })).toBe(ANNOTATION_FAULTS.length);
  });
});
