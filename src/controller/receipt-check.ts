// Turns a terminated job Pod into the governance Job's result.
//
// The receipt is the runner's own report: nothing in it is signed, and today a compromised step (a child
// process of the runner, same user, same files) could write one. So the conditions claim only what the
// controller itself proved (docs/security.md, "What a Job's status proves"):
// - EnvelopeVerified=True means the controller verified the Job's DEH and signature and that the Pod it reads
//   the result from carries exactly them (only the controller can create such a Pod). The runner's report can
//   lower it (a runner that says it saw another DEH or job UID, or could not verify, makes it False: failing
//   closed costs nothing) but never raise it.
// - Succeeded=True has reason ReportedByRunner: the runner reports success, and the report is consistent with
//   the signed Job (this incarnation, this DEH, within budget, every step, artifacts listed). That is a
//   consistency check of a self-report, not proof of the work.
import type { TerminalJobPhase } from '../api/job.ts';
import type { Job } from '../api/kinds.ts';
import { Receipt, RECEIPT_MAX_BYTES } from '../api/receipt.ts';
import { podAnnotationMismatch, RUNNER_CONTAINER, stepContainerName, type SignedJob } from './job-pod.ts';
import type { JobPodView } from './job-pod-view.ts';
import { outputArtifactPath } from '../integrity/framed-output.ts';

export type VerificationResult = 'verified' | 'refused' | 'mismatch' | 'invalid' | 'missing';
export const VERIFICATION_RESULTS: readonly VerificationResult[] = ['verified', 'refused', 'mismatch', 'invalid', 'missing'];

/** What of the Job the result is checked against: what its Pod must carry. */
export type JobFacts = SignedJob;

export function jobFacts(job: Job): JobFacts {
  return { uid: job.metadata.uid ?? '', envelope: job.spec.envelope, envelopeHash: job.spec.envelopeHash, signature: job.spec.signature, keyId: job.spec.keyId };
}

export interface TerminatedContainer {
  exitCode: number;
  /** The termination message (the runner writes its receipt there). */
  message?: string | undefined;
  reason?: string | undefined;
  finishedAt?: string | undefined;
}

type EnvelopeVerified = { status: 'True' | 'False'; reason: string; message: string };

export interface JobResult {
  phase: TerminalJobPhase;
  /** CamelCase reason, or the runner's reason code. */
  reason: string;
  message: string;
  receipt?: Receipt;
  /** The EnvelopeVerified condition. */
  envelopeVerified: EnvelopeVerified;
  /** For m87_envelope_verifications_total{result}: what the receipt check found. */
  verification: VerificationResult;
  completionTime?: string | undefined;
}

/** The success reason: the runner's report, checked for consistency with the signed Job. */
export const REPORTED_BY_RUNNER = 'ReportedByRunner';
export const VERIFIED_BY_CONTROLLER = 'VerifiedByController';

const controllerVerified: EnvelopeVerified = {
  status: 'True',
  reason: VERIFIED_BY_CONTROLLER,
  message:
    "The controller verified the Job's DEH and Ed25519 signature and that the job Pod carries exactly them. " +
    "The runner's own verification inside the Pod is its report (status.receipt.deh), not proven.",
};

function failed(reason: string, message: string, verification: VerificationResult, envelopeVerified: EnvelopeVerified, extra: Partial<JobResult> = {}): JobResult {
  return { phase: 'Failed', reason, message, verification, envelopeVerified, ...extra };
}

/** The runner reports that what it was handed is not this Job's signed envelope: taken at its word (fail closed). */
function runnerSawOtherEnvelope(reason: string, message: string): EnvelopeVerified {
  return { status: 'False', reason, message: `${message} (reported by the runner; the Pod object carries the signed envelope)` };
}

/**
 * The outputs the Pod's steps declare (`outputs/<step>/<name>`), from the Tool spec the controller handed each
 * step container (`M87_TOOL_SPEC`; a Pod's container env cannot change after creation), as the Pod's view
 * keeps them (job-pod-view.ts). A Succeeded receipt lists every one of them. A spec that cannot be read
 * declares something unknowable: undefined (fail closed).
 */
export function declaredOutputs(pod: Pick<JobPodView, 'stepOutputs'>, steps: number): string[] | undefined {
  const out: string[] = [];
  for (let i = 0; i < steps; i++) {
    const name = stepContainerName(i);
    const names = Object.hasOwn(pod.stepOutputs, name) ? pod.stepOutputs[name] : undefined;
    if (names === undefined || names === null) return undefined;
    for (const n of names) out.push(outputArtifactPath(i, n));
  }
  return out;
}

/** Parses and checks the receipt of the terminated runner container of a Pod that carries the Job (see podProgress). */
function verifyReceipt(job: JobFacts, terminated: TerminatedContainer, expectedOutputs: readonly string[] | undefined): JobResult {
  const completionTime = terminated.finishedAt;
  const raw = terminated.message ?? '';
  if (raw.trim() === '') {
    return failed('ReceiptMissing', `The runner exited with code ${terminated.exitCode} and wrote no receipt.`, 'missing', controllerVerified, { completionTime });
  }
  if (Buffer.byteLength(raw, 'utf8') > RECEIPT_MAX_BYTES) {
    return failed('ReceiptInvalid', `The receipt is larger than ${RECEIPT_MAX_BYTES} bytes.`, 'invalid', controllerVerified, { completionTime });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return failed('ReceiptInvalid', 'The receipt is not JSON.', 'invalid', controllerVerified, { completionTime });
  }
  const parsed = Receipt.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
    return failed('ReceiptInvalid', `The receipt is not valid: ${field}: ${issue?.message ?? 'invalid'}.`, 'invalid', controllerVerified, {
      completionTime,
    });
  }
  const receipt = parsed.data;
  const base = { receipt, completionTime };

  // What the runner says it was handed, or that it could not verify, lowers EnvelopeVerified.
  if (receipt.jobUID !== job.uid) {
    const message = `The receipt names job UID ${receipt.jobUID}, not ${job.uid}.`;
    return failed('ReceiptJobMismatch', message, 'mismatch', runnerSawOtherEnvelope('ReceiptJobMismatch', message), base);
  }
  if (receipt.deh.claimed !== job.envelopeHash) {
    const message = `The receipt claims DEH ${receipt.deh.claimed}, the Job's is ${job.envelopeHash}.`;
    return failed('ReceiptDehMismatch', message, 'mismatch', runnerSawOtherEnvelope('ReceiptDehMismatch', message), base);
  }
  if (!receipt.deh.verified || receipt.deh.recomputed !== job.envelopeHash) {
    const code = receipt.reasonCode !== '' ? receipt.reasonCode : 'ENVELOPE_NOT_VERIFIED';
    const message =
      receipt.status === 'Refused' ? `The runner refused the job (${code}): the envelope it read did not verify.` : `The receipt does not say the runner verified the envelope (${code}).`;
    return failed(code, message, receipt.status === 'Refused' ? 'refused' : 'mismatch', runnerSawOtherEnvelope(code, message), base);
  }
  if (receipt.status === 'Refused') {
    // Refused after the envelope verified (isolation, gates, paths, budget): the envelope is not in doubt.
    const code = receipt.reasonCode !== '' ? receipt.reasonCode : 'RunnerRefused';
    return failed(code, `The runner refused the job (${code}).`, 'refused', controllerVerified, base);
  }

  // The rest decides Succeeded or Failed from a report whose identity and envelope are consistent with the Job.
  const fail = (reason: string, message: string): JobResult => failed(reason, message, 'verified', controllerVerified, base);

  const budget = job.envelope.autonomyBudget;
  const over: string[] = [];
  if (receipt.usage.steps > budget.maxSteps) over.push(`steps ${receipt.usage.steps} > ${budget.maxSteps}`);
  if (receipt.usage.toolCalls > budget.maxToolCalls) over.push(`toolCalls ${receipt.usage.toolCalls} > ${budget.maxToolCalls}`);
  if (receipt.usage.runtimeMs > budget.maxRuntimeSeconds * 1000) over.push(`runtimeMs ${receipt.usage.runtimeMs} > ${budget.maxRuntimeSeconds * 1000}`);
  if (receipt.usage.externalIO > budget.maxExternalIO) over.push(`externalIO ${receipt.usage.externalIO} > ${budget.maxExternalIO}`);
  if (receipt.steps.length > job.envelope.steps.length) over.push(`executed ${receipt.steps.length} steps, the envelope has ${job.envelope.steps.length}`);
  if (over.length > 0) return fail('BudgetExceeded', `The receipt exceeds the signed budget: ${over.join('; ')}.`);

  const wrongTool = receipt.steps.findIndex((s, i) => s.tool !== job.envelope.steps[i]?.tool);
  if (wrongTool >= 0) {
    return fail('ReceiptStepMismatch', `Receipt step ${wrongTool} ran ${receipt.steps[wrongTool]?.tool}, the envelope says ${job.envelope.steps[wrongTool]?.tool}.`);
  }

  if (receipt.status === 'Failed') {
    const code = receipt.reasonCode !== '' ? receipt.reasonCode : 'StepFailed';
    return fail(code, `The job failed (${code}).`);
  }
  // status === 'Succeeded'
  if (terminated.exitCode !== 0) return fail('ExitCodeMismatch', `The receipt says Succeeded but the runner exited with code ${terminated.exitCode}.`);
  if (receipt.steps.length !== job.envelope.steps.length) {
    return fail('ReceiptIncomplete', `The receipt lists ${receipt.steps.length} of ${job.envelope.steps.length} steps.`);
  }
  const failedStep = receipt.steps.findIndex((s) => s.exitCode !== 0);
  if (failedStep >= 0) return fail('ReceiptInconsistent', `The receipt says Succeeded but step ${failedStep} exited with ${receipt.steps[failedStep]?.exitCode}.`);
  // Every output the steps' Tools declare, and nothing is taken on faith when they cannot be read.
  if (expectedOutputs === undefined) return fail('NoArtifacts', 'The receipt says Succeeded but the Pod does not say which outputs its steps declare.');
  const missing = expectedOutputs.filter((path) => !receipt.artifacts.some((a) => a.path === path));
  if (missing.length > 0) return fail('NoArtifacts', `The receipt says Succeeded but lists no artifact ${missing[0]} (an output its Tool declares).`);
  return {
    phase: 'Succeeded',
    reason: REPORTED_BY_RUNNER,
    message:
      `The runner reports that ${receipt.steps.length} steps succeeded and produced ${receipt.artifacts.length} artifacts. ` +
      "The controller checked the report against the signed Job (incarnation, DEH, budget, steps, exit code); it is the runner's own account, not proof of the work.",
    verification: 'verified',
    envelopeVerified: controllerVerified,
    ...base,
  };
}

interface PodStatusView {
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    startTime?: string;
    containerStatuses?: {
      name: string;
      state?: {
        running?: { startedAt?: string };
        terminated?: { exitCode: number; message?: string; reason?: string; finishedAt?: string };
      };
    }[];
  };
}

export type PodProgress =
  | { state: 'pending' }
  | { state: 'running'; startedAt?: string | undefined }
  | { state: 'finished'; result: JobResult };

/**
 * Where a job Pod is: not started, running, or finished with a result. A Pod that does not carry the Job's
 * signed annotations is finished at once, as Failed: whatever it reports is not this Job's result. Pure.
 */
export function podProgress(job: JobFacts, pod: JobPodView): PodProgress {
  const mismatch = podAnnotationMismatch(pod, job);
  if (mismatch !== undefined) {
    const message = `The Pod does not carry this Job's signed envelope (annotation ${mismatch} differs): it was not created by the controller for this Job, and nothing it reports counts.`;
    return { state: 'finished', result: failed('PodEnvelopeMismatch', message, 'mismatch', { status: 'False', reason: 'PodEnvelopeMismatch', message }) };
  }
  const status = (pod as PodStatusView).status ?? {};
  const runner = (status.containerStatuses ?? []).find((c) => c.name === RUNNER_CONTAINER);
  const terminated = runner?.state?.terminated;
  if (terminated !== undefined) {
    return {
      state: 'finished',
      result: verifyReceipt(job, {
        exitCode: terminated.exitCode,
        message: terminated.message,
        reason: terminated.reason,
        finishedAt: terminated.finishedAt,
      }, declaredOutputs(pod, job.envelope.steps.length)),
    };
  }
  if (status.phase === 'Failed' || status.phase === 'Succeeded') {
    // The Pod ended without a container termination record (e.g. DeadlineExceeded before start, eviction).
    const reason = status.reason !== undefined && /^[A-Za-z][A-Za-z0-9]*$/.test(status.reason) ? status.reason : 'PodFailed';
    return {
      state: 'finished',
      result: failed(reason, `The Pod ended in phase ${status.phase} without a runner result${status.message ? `: ${status.message}` : ''}.`, 'missing', controllerVerified),
    };
  }
  if (status.phase === 'Running' || runner?.state?.running !== undefined) {
    return { state: 'running', startedAt: runner?.state?.running?.startedAt ?? status.startTime };
  }
  return { state: 'pending' };
}
