import { readFileSync, writeFileSync } from 'node:fs';
import type { ReasonCode } from './codes.ts';
import { RunnerStop, stop } from './codes.ts';
import { checkIsolation, type ApiServerCheck } from './isolation.ts';
import { encodeFrame, outputArtifactPath, sha256Hex } from '../integrity/framed-output.ts';
import { readPodinfo } from './podinfo.ts';
import { buildReceipt, type ReceiptStep } from './receipt.ts';
import { DEFAULT_TERMINATION_LOG, EXIT_CODES, type RunnerEnvironment } from './runner.ts';
import { StepState, type StepRecord } from './step-state.ts';
import { loadPublicKey, verifyJob, type DehEvidence } from './verify.ts';

/** The steps' egress gates together (null when no step had one). */
function egressOf(records: readonly StepRecord[]): StepRecord['egress'] | null {
  const gated = records.filter((r) => r.egress !== undefined);
  if (gated.length === 0) return null;
  return {
    allowed: gated.reduce((n, r) => n + r.egress!.allowed, 0),
    refused: gated.reduce((n, r) => n + r.egress!.refused, 0),
    records: gated.flatMap((r) => r.egress!.records),
  };
}

/**
 * The final container of a step Pod (`m87 runner` with M87_STATE_DIR): verifies the envelope once more,
 * reads every step's record, re-hashes every declared output it will report, writes the receipt (status,
 * per-step exit codes and output hashes, usage with the egress count, outputs' digests as artifacts
 * `outputs/<step>/<name>`) to the termination message and prints the outputs as framed blocks to its log.
 * The job's status is the first step that did not succeed; a step without a record is a refusal.
 */
export async function finishJob(renv: RunnerEnvironment): Promise<{ exitCode: number; receiptJson: string }> {
  const { env } = renv;
  const evidence: DehEvidence = { jobUID: '', claimed: '', recomputed: '', verified: false };
  const steps: ReceiptStep[] = [];
  const artifacts: { path: string; sha256: string }[] = [];
  const frames: string[] = [];
  let code: ReasonCode | '' = '';
  let message = 'all steps succeeded';
  let status: 'Succeeded' | 'Failed' | 'Refused' = 'Succeeded';
  let records: StepRecord[] = [];
  let startedAtMs: number | undefined;
  let own: ApiServerCheck | undefined;
  /** How long this container's envelope verification took (null when it did not pass). */
  let verifyMs: number | null = null;
  try {
    const stateDir = env.M87_STATE_DIR;
    if (stateDir === undefined || stateDir === '') stop('CONFIG_MISSING', 'environment variable M87_STATE_DIR is not set');
    const podinfo = env.M87_PODINFO_DIR;
    const keyFile = env.M87_PUBLIC_KEY_FILE;
    if (podinfo === undefined || podinfo === '') stop('CONFIG_MISSING', 'environment variable M87_PODINFO_DIR is not set');
    if (keyFile === undefined || keyFile === '') stop('CONFIG_MISSING', 'environment variable M87_PUBLIC_KEY_FILE is not set');
    const annotations = readPodinfo(podinfo);
    let pem: string;
    try {
      pem = readFileSync(keyFile, 'utf8');
    } catch (e) {
      stop('PUBLIC_KEY_UNREADABLE', `public key file ${keyFile}: ${(e as Error).message}`);
    }
    const t0 = renv.now();
    const job = verifyJob(annotations, loadPublicKey(pem), evidence);
    verifyMs = Math.round((renv.now() - t0) * 1000) / 1000;
    own = (await checkIsolation(renv.isolation)).apiServer;
    const state = new StepState(stateDir);
    startedAtMs = state.readRun()?.startedAtMs;
    for (let i = 0; i < job.envelope.steps.length; i++) {
      const r = state.readStep(i);
      if (r === undefined) stop('STEP_RESULT_MISSING', `steps[${i}] (${job.envelope.steps[i]!.tool}) left no result`);
      if (r.index !== i || r.tool !== job.envelope.steps[i]!.tool) stop('STEP_RESULT_MISSING', `the result of steps[${i}] names another step`);
      records.push(r);
    }
    for (const r of records) {
      if (r.status === 'Skipped') continue;
      steps.push({ tool: r.tool, exitCode: r.exitCode, outputHash: r.outputHash });
      for (const o of r.outputs) {
        const bytes = state.readOutput(r.index, o.name);
        if (bytes.length !== o.size || sha256Hex(bytes) !== o.sha256) stop('OUTPUT_DIGEST_MISMATCH', `output ${r.index}/${o.name} changed after steps[${r.index}] recorded it`);
        artifacts.push({ path: outputArtifactPath(r.index, o.name), sha256: o.sha256 });
        frames.push(encodeFrame(r.index, o.name, bytes));
      }
      if (r.status !== 'Succeeded') {
        status = r.status;
        code = r.reasonCode === '' ? 'INTERNAL_ERROR' : r.reasonCode;
        message = r.message;
        break;
      }
    }
  } catch (e) {
    records = records.length > 0 ? records : [];
    frames.length = 0;
    artifacts.length = 0;
    if (e instanceof RunnerStop) {
      code = e.code;
      message = e.message;
      status = code === 'OUTPUT_DIGEST_MISMATCH' ? 'Failed' : 'Refused';
    } else {
      code = 'INTERNAL_ERROR';
      message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      status = 'Failed';
    }
  }
  const ran = records.filter((r) => r.ran).length;
  const { receipt, json } = buildReceipt({
    status,
    reasonCode: code,
    jobUID: evidence.jobUID,
    deh: { claimed: evidence.claimed, recomputed: evidence.recomputed, verified: evidence.verified },
    steps,
    usage: {
      steps: ran,
      toolCalls: ran,
      runtimeMs: startedAtMs === undefined ? 0 : Math.max(0, Date.now() - startedAtMs),
      externalIO: records.reduce((n, r) => n + r.externalIO, 0),
    },
    artifacts,
    // Every container checked before it acted; the receipt summarises the checks that completed.
    apiServerChecks: [...records.flatMap((r) => (r.apiServer === undefined ? [] : [r.apiServer])), ...(own === undefined ? [] : [own])],
  });
  // An output the receipt could not list (more than it holds) must not be offered without its digest.
  if (receipt.truncated !== undefined && receipt.truncated.artifactsOmitted > 0) frames.length = 0;
  let exitCode: number = EXIT_CODES[receipt.status];
  const terminationLog = env.M87_TERMINATION_LOG !== undefined && env.M87_TERMINATION_LOG !== '' ? env.M87_TERMINATION_LOG : DEFAULT_TERMINATION_LOG;
  try {
    writeFileSync(terminationLog, json);
  } catch (e) {
    renv.log(JSON.stringify({ level: 'error', msg: `cannot write the receipt to ${terminationLog}: ${(e as Error).message}` }));
    if (exitCode === 0) exitCode = EXIT_CODES.receiptNotWritten;
  }
  for (const f of frames) process.stdout.write(f);
  renv.log(
    JSON.stringify({
      level: receipt.status === 'Succeeded' ? 'info' : 'error',
      time: new Date().toISOString(),
      msg: `m87 runner ${receipt.status}${code === '' ? '' : ` ${code}`}: ${message}`,
      status: receipt.status,
      reasonCode: receipt.reasonCode,
      detail: message,
      verifyMs,
      egress: egressOf(records),
      steps: records,
      receipt,
    }),
  );
  return { exitCode, receiptJson: json };
}
