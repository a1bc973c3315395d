// Turns a terminated job Pod into the governance Job's result. The controller accepts "Succeeded" only for
// a receipt that parses, belongs to this Job incarnation and envelope, stays within the signed budget and
// lists its artifacts (DESIGN §5); everything else is Failed with a reason, never Succeeded.
import type { EffectiveEnvelope } from '../api/envelope.ts';
import { Receipt, RECEIPT_MAX_BYTES } from '../api/receipt.ts';
import { RUNNER_CONTAINER } from './job-pod.ts';

export type VerificationResult = 'verified' | 'refused' | 'mismatch' | 'invalid' | 'missing';
export const VERIFICATION_RESULTS: readonly VerificationResult[] = ['verified', 'refused', 'mismatch', 'invalid', 'missing'];

export interface JobFacts {
  uid: string;
  envelopeHash: string;
  envelope: Pick<EffectiveEnvelope, 'autonomyBudget' | 'steps'>;
}

export interface TerminatedContainer {
  exitCode: number;
  /** The termination message (the runner writes its receipt there). */
  message?: string | undefined;
  reason?: string | undefined;
  finishedAt?: string | undefined;
}

export interface JobResult {
  phase: 'Succeeded' | 'Failed';
  /** CamelCase reason, or the runner's reason code. */
  reason: string;
  message: string;
  receipt?: Receipt;
  /** The EnvelopeVerified condition. */
  envelopeVerified: { status: 'True' | 'False' | 'Unknown'; reason: string; message: string };
  /** For m87_envelope_verifications_total{result}. */
  verification: VerificationResult;
  completionTime?: string | undefined;
}

function failed(reason: string, message: string, verification: VerificationResult, extra: Partial<JobResult> = {}): JobResult {
  return {
    phase: 'Failed',
    reason,
    message,
    verification,
    envelopeVerified: { status: verification === 'missing' ? 'Unknown' : 'False', reason, message },
    ...extra,
  };
}

/** Parses and checks the receipt of a terminated runner container. Pure. */
export function verifyReceipt(job: JobFacts, terminated: TerminatedContainer): JobResult {
  const completionTime = terminated.finishedAt;
  const raw = terminated.message ?? '';
  if (raw.trim() === '') {
    return failed('ReceiptMissing', `The runner exited with code ${terminated.exitCode} and wrote no receipt.`, 'missing', { completionTime });
  }
  if (Buffer.byteLength(raw, 'utf8') > RECEIPT_MAX_BYTES) {
    return failed('ReceiptInvalid', `The receipt is larger than ${RECEIPT_MAX_BYTES} bytes.`, 'invalid', { completionTime });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return failed('ReceiptInvalid', 'The receipt is not JSON.', 'invalid', { completionTime });
  }
  const parsed = Receipt.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
    return failed('ReceiptInvalid', `The receipt is not valid: ${field}: ${issue?.message ?? 'invalid'}.`, 'invalid', { completionTime });
  }
  const receipt = parsed.data;
  const base = { receipt, completionTime };

  if (receipt.jobUID !== job.uid) {
    return failed('ReceiptJobMismatch', `The receipt names job UID ${receipt.jobUID}, not ${job.uid}.`, 'mismatch', base);
  }
  if (receipt.deh.claimed !== job.envelopeHash) {
    return failed('ReceiptDehMismatch', `The receipt claims DEH ${receipt.deh.claimed}, the Job's is ${job.envelopeHash}.`, 'mismatch', base);
  }
  if (receipt.status === 'Refused' || !receipt.deh.verified || receipt.deh.recomputed !== job.envelopeHash) {
    const code = receipt.reasonCode !== '' ? receipt.reasonCode : 'ENVELOPE_NOT_VERIFIED';
    return failed(code, `The runner refused the job (${code}).`, receipt.status === 'Refused' ? 'refused' : 'mismatch', base);
  }

  // From here on the envelope was verified by the runner; the rest decides Succeeded or Failed.
  const verified: JobResult['envelopeVerified'] = {
    status: 'True',
    reason: 'Verified',
    message: 'The runner verified the signature, the DEH and the tool manifest.',
  };
  const fail = (reason: string, message: string): JobResult => ({ phase: 'Failed', reason, message, verification: 'verified', envelopeVerified: verified, ...base });

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
  if (receipt.artifacts.length === 0) return fail('NoArtifacts', 'The receipt says Succeeded but lists no artifacts.');
  return {
    phase: 'Succeeded',
    reason: 'Succeeded',
    message: `The job ran ${receipt.steps.length} steps and produced ${receipt.artifacts.length} artifacts.`,
    verification: 'verified',
    envelopeVerified: verified,
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

/** Where a job Pod is: not started, running, or finished with a result. Pure. */
export function podProgress(job: JobFacts, pod: unknown): PodProgress {
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
      }),
    };
  }
  if (status.phase === 'Failed' || status.phase === 'Succeeded') {
    // The Pod ended without a container termination record (e.g. DeadlineExceeded before start, eviction).
    const reason = status.reason !== undefined && /^[A-Za-z][A-Za-z0-9]*$/.test(status.reason) ? status.reason : 'PodFailed';
    return {
      state: 'finished',
      result: failed(reason, `The Pod ended in phase ${status.phase} without a runner result${status.message ? `: ${status.message}` : ''}.`, 'missing'),
    };
  }
  if (status.phase === 'Running' || runner?.state?.running !== undefined) {
    return { state: 'running', startedAt: runner?.state?.running?.startedAt ?? status.startTime };
  }
  return { state: 'pending' };
}
