import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { BudgetTracker, enforcedBudget, type BudgetUsage } from './budget.ts';
import { isRefusalCode, RunnerStop, stop, type ReasonCode } from './codes.ts';
import { EgressGate, type EgressRecord } from './egress-gate.ts';
import { checkReversibility, planStep, type PlannedStep } from './gates.ts';
import { checkIsolation, DEFAULT_API_CONNECT_TIMEOUT_MS, DEFAULT_SERVICE_ACCOUNT_TOKEN_PATH, type ApiServerCheck, type IsolationEnvironment } from './isolation.ts';
import { OutputCapture } from './output.ts';
import { readPodinfo } from './podinfo.ts';
import { buildReceipt, type ReceiptStep, type RunnerReceipt } from './receipt.ts';
import type { ArtifactDigest, JobIdentity, ToolResult } from './builtin-tools/index.ts';
import { loadPublicKey, verifyJob, type DehEvidence, type VerifiedJob } from './verify.ts';
import { RESERVED_DIR, Workspace } from './workspace.ts';

/**
 * `m87 runner`: the in-pod runner. Order: read the downward-API annotations and the public key (once);
 * verify the envelope (verify.ts); isolation self-checks (isolation.ts); the reversibility gate; the static
 * gates of every step (gates.ts) before any step runs; then each step with preemptive budget checks, path
 * re-validation, a scrubbed environment, a timeout of min(manifest timeout, remaining runtime) and capped,
 * hashed output; network only through the egress gate. The receipt goes to the termination-message file
 * and, with diagnostics, as one JSON line to stdout. Exit code 0 only when every step succeeded.
 */

export interface RunnerEnvironment {
  /** Where M87_* and PATH/LANG are read from (normally process.env). */
  env: Readonly<Record<string, string | undefined>>;
  isolation: IsolationEnvironment;
  /** Monotonic milliseconds. */
  now: () => number;
  /** Receives the one-line JSON log. */
  log: (line: string) => void;
}

export const DEFAULT_TERMINATION_LOG = '/dev/termination-log';
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const EXIT_CODES = { Succeeded: 0, Failed: 1, Refused: 2, receiptNotWritten: 3 } as const;

export function defaultRunnerEnvironment(env: NodeJS.ProcessEnv = process.env): RunnerEnvironment {
  return {
    env,
    isolation: {
      serviceAccountTokenPath: DEFAULT_SERVICE_ACCOUNT_TOKEN_PATH,
      rootDir: '/',
      getuid: () => (typeof process.getuid === 'function' ? process.getuid() : Number.NaN),
      apiServerHost: env.KUBERNETES_SERVICE_HOST,
      apiServerPort: env.KUBERNETES_SERVICE_PORT,
      apiConnectTimeoutMs: DEFAULT_API_CONNECT_TIMEOUT_MS,
    },
    now: () => performance.now(),
    log: (line) => process.stdout.write(line + '\n'),
  };
}

export interface StepDiagnostics {
  index: number;
  tool: string;
  exitCode: number;
  outputHash: string;
  outputBytes: number;
  outputTruncated: boolean;
  durationMs: number;
  message?: string;
}

export interface RunOutcome {
  receipt: RunnerReceipt;
  receiptJson: string;
  exitCode: number;
  message: string;
  verifyMs: number | undefined;
  steps: StepDiagnostics[];
  egress: { allowed: number; refused: number; records: readonly EgressRecord[] } | undefined;
}

function requireEnv(env: RunnerEnvironment['env'], name: string): string {
  const v = env[name];
  if (v === undefined || v === '') stop('CONFIG_MISSING', `environment variable ${name} is not set`);
  return v;
}

function readOnce(path: string, what: string, code: 'PUBLIC_KEY_UNREADABLE'): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    stop(code, `${what} ${path}: ${(e as Error).message}`);
  }
}

/** Only PATH, HOME (the workspace), LANG and, for networked tools, the egress gate as proxy. */
export function childEnvironment(env: RunnerEnvironment['env'], workspace: string, proxyUrl: string | undefined): Record<string, string> {
  const out: Record<string, string> = {
    PATH: env.PATH !== undefined && env.PATH !== '' ? env.PATH : DEFAULT_PATH,
    HOME: workspace,
    LANG: env.LANG !== undefined && env.LANG !== '' ? env.LANG : 'C.UTF-8',
  };
  if (proxyUrl !== undefined) {
    out.HTTP_PROXY = proxyUrl;
    out.HTTPS_PROXY = proxyUrl;
    out.http_proxy = proxyUrl;
    out.https_proxy = proxyUrl;
  }
  return out;
}

class Run {
  readonly renv: RunnerEnvironment;
  readonly startedAt: number;
  readonly evidence: DehEvidence = { jobUID: '', claimed: '', recomputed: '', verified: false };
  readonly steps: ReceiptStep[] = [];
  readonly diagnostics: StepDiagnostics[] = [];
  readonly artifacts = new Map<string, string>();
  tracker: BudgetTracker | undefined;
  gate: EgressGate | undefined;
  verifyMs: number | undefined;
  apiServer: ApiServerCheck | undefined;

  constructor(renv: RunnerEnvironment) {
    this.renv = renv;
    this.startedAt = renv.now();
  }

  usage(): BudgetUsage {
    return this.tracker?.usage() ?? { steps: 0, toolCalls: 0, runtimeMs: Math.max(0, Math.round(this.renv.now() - this.startedAt)), externalIO: 0 };
  }

  addArtifact(a: ArtifactDigest): void {
    this.artifacts.delete(a.path); // re-insert so the list is in order of last write
    this.artifacts.set(a.path, a.sha256);
  }

  async execute(): Promise<void> {
    const { env } = this.renv;
    const podinfo = requireEnv(env, 'M87_PODINFO_DIR');
    const keyFile = requireEnv(env, 'M87_PUBLIC_KEY_FILE');
    const workspaceDir = requireEnv(env, 'M87_WORKSPACE');

    // Read once: downward-API files change under a running Pod when annotations change.
    const annotations = readPodinfo(podinfo);
    const publicKeyPem = readOnce(keyFile, 'public key file', 'PUBLIC_KEY_UNREADABLE');

    const t0 = this.renv.now();
    const job = verifyJob(annotations, loadPublicKey(publicKeyPem), this.evidence);
    this.verifyMs = this.renv.now() - t0;

    this.apiServer = (await checkIsolation(this.renv.isolation)).apiServer;

    const budget = enforcedBudget(job.envelope);
    this.tracker = new BudgetTracker(budget, this.renv.now, this.startedAt);
    checkReversibility(job.envelope);
    const workspace = new Workspace(workspaceDir);
    const plan = job.envelope.steps.map((_, i) => planStep(job.envelope, budget, i, workspace));

    if (plan.some((p) => p.spec.network)) {
      const tracker = this.tracker;
      const forbidden = [];
      const apiPort = Number(this.renv.isolation.apiServerPort);
      if (this.renv.isolation.apiServerHost !== undefined && Number.isInteger(apiPort)) forbidden.push({ host: this.renv.isolation.apiServerHost, port: apiPort });
      try {
        this.gate = await EgressGate.start({ allow: job.envelope.egress, takeExternalIO: () => tracker.tryExternalIO(), forbidden });
      } catch (e) {
        stop('EGRESS_GATE_UNAVAILABLE', `the egress gate could not start: ${(e as Error).message}`);
      }
    }

    for (const step of plan) await this.runStep(job, step, workspace);
  }

  private async runStep(job: VerifiedJob, step: PlannedStep, workspace: Workspace): Promise<void> {
    const tracker = this.tracker!;
    const n = step.index;
    const where = `before steps[${n}] (${step.spec.name})`;
    tracker.assertRuntime(where);
    tracker.takeStep(where);
    tracker.takeToolCall(where);
    for (const name of step.pathArgs) workspace.resolve(step.args[name]!, `steps[${n}].args.${name}`);

    const remaining = tracker.remainingMs();
    if (remaining <= 0) tracker.assertRuntime(where);
    const manifestTimeout = step.spec.timeoutSeconds * 1000;
    const budgetBound = remaining < manifestTimeout;
    const timeoutMs = Math.max(1, Math.min(manifestTimeout, remaining));

    const output = new OutputCapture();
    const lease = step.spec.network ? this.gate?.lease() : undefined;
    const identity: JobIdentity = { namespace: job.namespace, name: job.jobName, uid: job.jobUID, deh: job.deh };
    const started = this.renv.now();
    let result: ToolResult;
    try {
      result = await step.implementation({
        stepIndex: n,
        spec: step.spec,
        args: step.args,
        mode: job.envelope.reversibility.executionMode,
        workspace,
        output,
        timeoutMs,
        childEnv: childEnvironment(this.renv.env, workspace.root, lease?.proxyUrl),
        egress: lease,
        job: identity,
      });
    } catch (e) {
      if (e instanceof RunnerStop) throw e;
      result = { exitCode: -1, reasonCode: 'TOOL_ERROR', message: `steps[${n}] (${step.spec.name}): ${(e as Error).message}`, artifacts: [] };
    } finally {
      lease?.release();
    }

    const outputHash = output.sha256();
    this.steps.push({ tool: step.spec.name, exitCode: result.exitCode, outputHash });
    const diag: StepDiagnostics = {
      index: n,
      tool: step.spec.name,
      exitCode: result.exitCode,
      outputHash,
      outputBytes: output.totalBytes,
      outputTruncated: output.truncated,
      durationMs: Math.round(this.renv.now() - started),
    };
    if (result.message !== undefined) diag.message = result.message;
    this.diagnostics.push(diag);

    for (const a of result.artifacts) this.addArtifact(a);
    if (result.artifacts.length === 0) this.saveOutput(workspace, n, step.spec.name, output);

    if (result.timedOut === true) {
      if (budgetBound) stop('BUDGET_RUNTIME_EXCEEDED', `steps[${n}] (${step.spec.name}) was killed when maxRuntimeSeconds ran out`);
      stop('STEP_TIMEOUT', `steps[${n}] (${step.spec.name}) exceeded its ${step.spec.timeoutSeconds}s timeout and was killed`);
    }
    if (result.reasonCode !== undefined) stop(result.reasonCode, result.message ?? `steps[${n}] (${step.spec.name}) failed`);
    if (result.exitCode !== 0) stop('STEP_FAILED', `steps[${n}] (${step.spec.name}) exited with ${result.exitCode}`);
    tracker.assertRuntime(`after steps[${n}] (${step.spec.name})`);
  }

  /** The step's captured output becomes its artifact, so every step leaves something the controller can check. */
  private saveOutput(workspace: Workspace, n: number, tool: string, output: OutputCapture): void {
    const name = `${RESERVED_DIR}/steps/${String(n + 1).padStart(2, '0')}-${tool}.out`;
    try {
      const target = workspace.resolve(name, 'step output', true);
      this.addArtifact({ path: target.relative, sha256: workspace.writeFile(target, output.bytes(), 'step output') });
    } catch (e) {
      if (e instanceof RunnerStop) throw e;
      stop('TOOL_ERROR', `steps[${n}] (${tool}): cannot save the step output: ${(e as Error).message}`);
    }
  }
}

function statusOf(code: ReasonCode | ''): RunnerReceipt['status'] {
  if (code === '') return 'Succeeded';
  return isRefusalCode(code) ? 'Refused' : 'Failed';
}

/** Runs one job to completion and writes its receipt. Never throws. */
export async function runJob(renv: RunnerEnvironment): Promise<RunOutcome> {
  const run = new Run(renv);
  let code: ReasonCode | '' = '';
  let message = 'all steps succeeded';
  try {
    await run.execute();
  } catch (e) {
    if (e instanceof RunnerStop) {
      code = e.code;
      message = e.message;
    } else {
      code = 'INTERNAL_ERROR';
      message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
  } finally {
    await run.gate?.close();
  }

  const status = statusOf(code);
  const { receipt, json } = buildReceipt({
    status,
    reasonCode: code,
    jobUID: run.evidence.jobUID,
    deh: { claimed: run.evidence.claimed, recomputed: run.evidence.recomputed, verified: run.evidence.verified },
    steps: run.steps,
    usage: run.usage(),
    artifacts: [...run.artifacts].map(([path, sha256]) => ({ path, sha256 })),
    apiServerChecks: run.apiServer === undefined ? [] : [run.apiServer],
  });

  let exitCode: number = EXIT_CODES[status];
  const terminationLog = renv.env.M87_TERMINATION_LOG !== undefined && renv.env.M87_TERMINATION_LOG !== '' ? renv.env.M87_TERMINATION_LOG : DEFAULT_TERMINATION_LOG;
  let receiptError: string | undefined;
  try {
    writeFileSync(terminationLog, json);
  } catch (e) {
    receiptError = `cannot write the receipt to ${terminationLog}: ${(e as Error).message}`;
    if (exitCode === 0) exitCode = EXIT_CODES.receiptNotWritten;
  }
  const egress = run.gate === undefined ? undefined : { ...run.gate.stats, records: run.gate.records };
  renv.log(
    JSON.stringify({
      level: status === 'Succeeded' && receiptError === undefined ? 'info' : 'error',
      time: new Date().toISOString(),
      msg: `m87 runner ${status}${code === '' ? '' : ` ${code}`}: ${message}`,
      status,
      reasonCode: code,
      detail: message,
      ...(receiptError === undefined ? {} : { receiptError }),
      verifyMs: run.verifyMs === undefined ? null : Math.round(run.verifyMs * 1000) / 1000,
      steps: run.diagnostics,
      egress: egress ?? null,
      receipt,
    }),
  );
  return { receipt, receiptJson: json, exitCode, message, verifyMs: run.verifyMs, steps: run.diagnostics, egress };
}
