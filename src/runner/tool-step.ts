import { readFileSync, writeFileSync, mkdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import type { EffectiveEnvelope } from '../api/envelope.ts';
import type { ToolSpec } from '../api/tool.ts';
import { checkToolBinding } from '../tool-catalogue/binding.ts';
import { parseTool } from '../tool-catalogue/catalogue.ts';
import { renderArgv, resolveArgs } from '../tool-catalogue/render-argv.ts';
import { BudgetTracker, enforcedBudget, writeScopeAllows } from './budget.ts';
import { isRefusalCode, RunnerStop, stop, type ReasonCode } from './codes.ts';
import { EgressGate, type EgressLease } from './egress-gate.ts';
import { checkReversibility } from './gates.ts';
import { checkIsolation } from './isolation.ts';
import { OutputCapture } from './output.ts';
import { readPodinfo } from './podinfo.ts';
import { runProcess } from './process.ts';
import { childEnvironment, type RunnerEnvironment } from './runner.ts';
import { MAX_EGRESS_RECORDS, StepState, type OutputRecord, type StepRecord } from './step-state.ts';
import { sha256Hex } from '../integrity/framed-output.ts';
import { loadPublicKey, verifyJob, type DehEvidence, type VerifiedJob } from './verify.ts';
import { CANONICAL_WORKSPACE, Workspace } from './workspace.ts';

/**
 * `m87 step <i>`: the runner inside step i's container (the tool's own image; the runner was delivered into
 * an emptyDir by the first init container and runs through its bundled dynamic loader). Before anything it
 * re-verifies the signed envelope and the Pod's isolation, then checks that the tool definition it was
 * handed (M87_TOOL_SPEC) hashes to the envelope's toolHash and names the envelope's image, that this
 * container runs that image (M87_TOOL_IMAGE), the tool's effects, write scope and execution mode against
 * the envelope and the budget left by earlier steps. A git workspace source is fetched through the egress
 * gate and its commit verified; the argv is rendered (never a shell) and run with a scrubbed environment,
 * min(tool timeout, remaining runtime) and the network only through the gate. Declared outputs are
 * collected (capped, never truncated) into the state dir. The step's record goes to the state dir and the
 * container exits 0 whenever the record was written, so the kubelet always reaches the final container,
 * which composes the receipt; a later step skips when an earlier one did not succeed.
 */

const GIT_TIMEOUT_MS = 120_000;

function requireEnv(env: RunnerEnvironment['env'], name: string): string {
  const v = env[name];
  if (v === undefined || v === '') stop('CONFIG_MISSING', `environment variable ${name} is not set`);
  return v;
}

function egressAllows(envelope: EffectiveEnvelope, url: URL): boolean {
  const host = (url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname).toLowerCase();
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return envelope.egress.some((r) => r.host.toLowerCase() === host && r.port === port);
}

/** The tool definition this container was handed, bound to the signed envelope's step. */
export function boundTool(envelope: EffectiveEnvelope, index: number, specJson: string | undefined, containerImage: string | undefined): ToolSpec {
  const step = envelope.steps[index];
  if (step === undefined) stop('CONFIG_MISSING', `step ${index}: the envelope has ${envelope.steps.length} steps`);
  let spec: unknown;
  try {
    spec = specJson === undefined || specJson === '' ? undefined : JSON.parse(specJson);
  } catch (e) {
    stop('TOOL_CHANGED', `steps[${index}]: M87_TOOL_SPEC is not JSON (${(e as Error).message})`);
  }
  const problem = checkToolBinding(step, index, spec);
  if (problem !== undefined) stop(problem.reason === 'ToolUnbound' ? 'TOOL_UNBOUND' : 'TOOL_CHANGED', problem.message);
  if (containerImage !== step.image) {
    stop('TOOL_IMAGE_MISMATCH', `steps[${index}].image ${String(step.image)} was decided; this container runs ${String(containerImage)}`);
  }
  try {
    return parseTool(step.tool, spec);
  } catch (e) {
    stop('TOOL_CHANGED', (e as Error).message);
  }
}

/** The envelope-level gates for one tool: effects, write scope, execution mode, egress of URL arguments. */
export function checkStepGates(envelope: EffectiveEnvelope, index: number, tool: ToolSpec): Map<string, string> {
  const step = envelope.steps[index]!;
  const where = `steps[${index}]`;
  const missing = tool.effects.filter((e) => !envelope.effects.includes(e));
  if (missing.length > 0) stop('TOOL_EFFECT_NOT_ALLOWED', `${where}: tool ${step.tool} needs effects ${missing.join(', ')} that the envelope does not allow`);
  const budget = enforcedBudget(envelope);
  if (!writeScopeAllows(budget.maxWriteScope, tool.minWriteScope)) {
    stop('WRITE_SCOPE_EXCEEDED', `${where}: tool ${step.tool} needs write scope ${tool.minWriteScope} but the envelope allows ${budget.maxWriteScope}`);
  }
  const mode = envelope.reversibility.executionMode;
  if (!tool.executionModes.includes(mode)) stop('EXECUTION_MODE_UNSUPPORTED', `${where}: tool ${step.tool} supports ${tool.executionModes.join(', ')}, not ${mode}`);
  const { values, issues } = resolveArgs(tool, step.args);
  if (issues.length > 0) stop('TOOL_ARGS_INVALID', `${where}.args.${issues[0]!.arg}: ${issues[0]!.message}`);
  for (const [name, spec] of Object.entries(tool.args)) {
    const value = values.get(name);
    if (value !== undefined && spec.format === 'url' && !egressAllows(envelope, new URL(value))) {
      stop('EGRESS_HOST_NOT_ALLOWED', `${where}.args.${name}: ${new URL(value).host} is not in the envelope's egress allowlist`);
    }
  }
  return values;
}

/** Literal argv items naming the Pod's /workspace point at the workspace's real location (the same path in a real Pod). */
export function localiseArgv(argv: readonly string[], tool: ToolSpec, workspaceRoot: string): string[] {
  if (workspaceRoot === CANONICAL_WORKSPACE) return [...argv];
  const literals = new Set(tool.argv.flatMap((item, i) => (item.literal !== undefined ? [i] : [])));
  return argv.map((v, i) => {
    if (!literals.has(i)) return v;
    if (v === CANONICAL_WORKSPACE) return workspaceRoot;
    if (v.startsWith(`${CANONICAL_WORKSPACE}/`)) return workspaceRoot + v.slice(CANONICAL_WORKSPACE.length);
    const eq = v.indexOf(`=${CANONICAL_WORKSPACE}`);
    if (eq >= 0 && (v.length === eq + 1 + CANONICAL_WORKSPACE.length || v[eq + 1 + CANONICAL_WORKSPACE.length] === '/')) {
      return v.slice(0, eq + 1) + workspaceRoot + v.slice(eq + 1 + CANONICAL_WORKSPACE.length);
    }
    return v;
  });
}

interface GitRun {
  exitCode: number;
  output: string;
}

async function git(args: readonly string[], cwd: string, env: Readonly<Record<string, string>>, timeoutMs: number): Promise<GitRun> {
  const output = new OutputCapture(64 * 1024);
  const r = await runProcess({ argv: ['git', '-c', `safe.directory=${cwd}`, '-c', 'protocol.allow=never', '-c', 'protocol.http.allow=always', '-c', 'protocol.https.allow=always', ...args], cwd, env, timeoutMs, output });
  if (r.startError !== undefined) return { exitCode: -1, output: r.startError };
  return { exitCode: r.timedOut ? -1 : r.exitCode, output: output.bytes().toString('utf8') };
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}

/**
 * The git workspace source: fetch `commit` from `repository` (smart HTTP, through the gate) into the
 * workspace and check it out detached; HEAD must then be exactly the pinned commit. The tool image's own
 * git does the work, with the gate as its proxy; the runner's own files (.m87) are excluded from the tree.
 */
export async function checkoutGit(repository: string, commit: string, workspace: string, env: Readonly<Record<string, string>>, timeoutMs: number): Promise<void> {
  const gitEnv = { ...env, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '/bin/false' };
  const t = Math.min(timeoutMs, GIT_TIMEOUT_MS);
  const run = async (args: string[]): Promise<GitRun> => git(args, workspace, gitEnv, t);
  let r = await run(['init', '-q', '.']);
  if (r.exitCode !== 0) stop('GIT_FETCH_FAILED', `git init: ${lastLine(r.output)}`);
  // Servers that do not allow fetching a bare commit id get the usual fetch of every branch instead.
  r = await run(['fetch', '-q', '--no-tags', '--depth=1', repository, commit]);
  if (r.exitCode !== 0) {
    r = await run(['fetch', '-q', '--no-tags', repository, '+refs/heads/*:refs/remotes/origin/*']);
    if (r.exitCode !== 0) stop('GIT_FETCH_FAILED', `git fetch ${repository}: ${lastLine(r.output)}`);
  }
  r = await run(['checkout', '-q', '--detach', commit]);
  if (r.exitCode !== 0) stop('GIT_COMMIT_NOT_FOUND', `commit ${commit} is not in ${repository}: ${lastLine(r.output)}`);
  r = await run(['rev-parse', '--verify', 'HEAD^{commit}']);
  const head = r.output.trim();
  if (r.exitCode !== 0 || head !== commit) stop('GIT_COMMIT_NOT_FOUND', `HEAD is ${head.slice(0, 40)} after checking out ${commit}`);
  writeFileSync(join(workspace, '.git', 'info', 'exclude'), '/.m87/\n', { flag: 'a' });
}

/** The workspace's changes against the commit it was checked out at, as a binary-safe unified diff. */
async function workspacePatch(workspace: string, commit: string, env: Readonly<Record<string, string>>, timeoutMs: number): Promise<Buffer> {
  const gitEnv = { ...env, GIT_CONFIG_NOSYSTEM: '1' };
  const add = await git(['add', '-A'], workspace, gitEnv, timeoutMs);
  if (add.exitCode !== 0) stop('OUTPUT_MISSING', `git add: ${lastLine(add.output)}`);
  const cap = new OutputCapture(4 * 1024 * 1024);
  const r = await runProcess({ argv: ['git', '-c', `safe.directory=${workspace}`, 'diff', '--cached', '--binary', '--no-color', '--no-ext-diff', commit, '--'], cwd: workspace, env: gitEnv, timeoutMs, output: cap });
  if (r.exitCode !== 0) stop('OUTPUT_MISSING', `git diff against ${commit} failed (exit ${r.exitCode})`);
  if (cap.truncated) stop('OUTPUT_TOO_LARGE', `the workspace patch is larger than ${cap.cap} bytes`);
  return cap.bytes();
}

function readCappedFile(path: string, maxBytes: number, what: string): Buffer {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    stop('OUTPUT_MISSING', `${what}: the tool left no file`);
  }
  if (!st.isFile()) stop('OUTPUT_MISSING', `${what}: not a regular file`);
  if (st.size > maxBytes) stop('OUTPUT_TOO_LARGE', `${what}: ${st.size} bytes, more than its cap ${maxBytes}`);
  const bytes = readFileSync(path);
  if (bytes.length > maxBytes) stop('OUTPUT_TOO_LARGE', `${what}: ${bytes.length} bytes, more than its cap ${maxBytes}`);
  return bytes;
}

function statusOf(code: ReasonCode): StepRecord['status'] {
  return isRefusalCode(code) ? 'Refused' : 'Failed';
}

/** Runs step `index` of the job and records it; returns the container's exit code. */
export async function runToolStep(index: number, renv: RunnerEnvironment): Promise<number> {
  const { env } = renv;
  const wall = (): number => Date.now();
  const state = new StepState(requireEnv(env, 'M87_STATE_DIR'));
  const t0 = wall();
  const record: StepRecord = { index, tool: '', status: 'Succeeded', reasonCode: '', message: '', exitCode: -1, outputHash: '', externalIO: 0, ran: false, durationMs: 0, outputs: [] };
  let gate: EgressGate | undefined;
  let tracker: BudgetTracker | undefined;
  try {
    const evidence: DehEvidence = { jobUID: '', claimed: '', recomputed: '', verified: false };
    const annotations = readPodinfo(requireEnv(env, 'M87_PODINFO_DIR'));
    const keyFile = requireEnv(env, 'M87_PUBLIC_KEY_FILE');
    let pem: string;
    try {
      pem = readFileSync(keyFile, 'utf8');
    } catch (e) {
      stop('PUBLIC_KEY_UNREADABLE', `public key file ${keyFile}: ${(e as Error).message}`);
    }
    const job: VerifiedJob = verifyJob(annotations, loadPublicKey(pem), evidence);
    const step = job.envelope.steps[index];
    record.tool = step?.tool ?? '';
    record.apiServer = (await checkIsolation(renv.isolation)).apiServer;

    // Steps run in order, one per container: an earlier step that did not succeed ends the job.
    for (let i = 0; i < index; i++) {
      const prev = state.readStep(i);
      if (prev === undefined) stop('STEP_RESULT_MISSING', `steps[${i}] left no result before steps[${index}]`);
      if (prev.status !== 'Succeeded') {
        record.status = 'Skipped';
        record.message = `steps[${i}] did not succeed`;
        return finish();
      }
    }
    const run = state.readRun();
    if (run === undefined) stop('STEP_RESULT_MISSING', 'the runner was not delivered (no run record)');
    const previous = Array.from({ length: index }, (_, i) => state.readStep(i)!);
    const used = {
      steps: previous.filter((p) => p.ran).length,
      toolCalls: previous.filter((p) => p.ran).length,
      externalIO: previous.reduce((n, p) => n + p.externalIO, 0),
    };
    const budget = enforcedBudget(job.envelope);
    tracker = new BudgetTracker(budget, wall, run.startedAtMs, used);
    const where = `before steps[${index}] (${record.tool})`;
    tracker.assertRuntime(where);

    checkReversibility(job.envelope);
    const tool = boundTool(job.envelope, index, env.M87_TOOL_SPEC, env.M87_TOOL_IMAGE);
    const values = checkStepGates(job.envelope, index, tool);
    const rendered = renderArgv(tool, step!.args);
    if (!rendered.ok) stop('TOOL_ARGS_INVALID', `steps[${index}].args.${rendered.issues[0]!.arg}: ${rendered.issues[0]!.message}`);

    const workspaceDir = tool.workspace.access === 'none' && tool.workspace.git === undefined ? undefined : requireEnv(env, 'M87_WORKSPACE');
    const workspace = workspaceDir === undefined ? undefined : new Workspace(workspaceDir);
    for (const [name, spec] of Object.entries(tool.args)) {
      const v = values.get(name);
      if (spec.pathLike === true && v !== undefined) {
        if (workspace === undefined) stop('WORKSPACE_UNAVAILABLE', `steps[${index}].args.${name}: the tool has no workspace`);
        workspace.resolve(v, `steps[${index}].args.${name}`);
      }
    }

    tracker.takeStep(where);
    tracker.takeToolCall(where);
    const git = tool.workspace.git;
    if (tool.network || git !== undefined) {
      const t = tracker;
      const forbidden = [];
      const apiPort = Number(renv.isolation.apiServerPort);
      if (renv.isolation.apiServerHost !== undefined && Number.isInteger(apiPort)) forbidden.push({ host: renv.isolation.apiServerHost, port: apiPort });
      try {
        gate = await EgressGate.start({ allow: job.envelope.egress, takeExternalIO: () => t.tryExternalIO(), forbidden });
      } catch (e) {
        stop('EGRESS_GATE_UNAVAILABLE', `the egress gate could not start: ${(e as Error).message}`);
      }
    }
    const cwd = workspace?.root ?? '/tmp';
    const remaining = (): number => Math.max(1, tracker!.remainingMs());

    if (git !== undefined) {
      const repository = values.get(git.repositoryArg)!;
      const commit = values.get(git.commitArg)!;
      const lease = gate!.lease();
      try {
        await checkoutGit(repository, commit, workspace!.root, childEnvironment(env, '/tmp', lease.proxyUrl), remaining());
      } finally {
        lease.release();
      }
      record.commit = commit;
      tracker.assertRuntime(`after the checkout of steps[${index}]`);
    }

    const lease: EgressLease | undefined = tool.network ? gate!.lease() : undefined;
    const childEnv = { ...childEnvironment(env, workspace?.root ?? '/tmp', lease?.proxyUrl), ...Object.fromEntries(tool.env.map((e) => [e.name, e.value])) };
    const manifestTimeout = tool.timeoutSeconds * 1000;
    const left = tracker.remainingMs();
    if (left <= 0) tracker.assertRuntime(where);
    const budgetBound = left < manifestTimeout;
    const output = new OutputCapture();
    if (workspace !== undefined && tool.workspace.access === 'writable') mkdirSync(join(workspace.root, '.m87'), { recursive: true });
    record.ran = true;
    const result = await runProcess({ argv: localiseArgv(rendered.argv, tool, cwd), cwd, env: childEnv, timeoutMs: Math.max(1, Math.min(manifestTimeout, left)), output });
    lease?.release();
    record.exitCode = result.exitCode;
    record.outputHash = output.sha256();
    process.stdout.write(output.bytes());
    if (result.startError !== undefined) stop('TOOL_ERROR', `steps[${index}] (${record.tool}): ${result.startError}`);
    if (result.timedOut) {
      if (budgetBound) stop('BUDGET_RUNTIME_EXCEEDED', `steps[${index}] (${record.tool}) was killed when maxRuntimeSeconds ran out`);
      stop('STEP_TIMEOUT', `steps[${index}] (${record.tool}) exceeded its ${tool.timeoutSeconds}s timeout and was killed`);
    }
    // Outputs are collected even when the tool exited non-zero (a failing test run's report is what one
    // wants to read); then a missing or oversize output is left out rather than failing the step twice.
    const failed = result.exitCode !== 0;
    const commit = previous.map((p) => p.commit).find((c) => c !== undefined) ?? record.commit;
    for (const out of tool.workspace.outputs) {
      const what = `steps[${index}] (${record.tool}) output ${out.name}`;
      let bytes: Buffer;
      try {
        if (out.kind === 'file') {
          if (workspace === undefined) stop('OUTPUT_MISSING', `${what}: the tool has no workspace`);
          const p = workspace.resolve(out.path!, what, true);
          bytes = readCappedFile(p.absolute, out.maxBytes, what);
        } else {
          if (workspace === undefined || commit === undefined) stop('OUTPUT_MISSING', `${what}: a patch needs a git workspace source in this or an earlier step`);
          bytes = await workspacePatch(workspace.root, commit, childEnvironment(env, '/tmp', undefined), remaining());
          if (bytes.length > out.maxBytes) stop('OUTPUT_TOO_LARGE', `${what}: ${bytes.length} bytes, more than its cap ${out.maxBytes}`);
        }
      } catch (e) {
        if (failed && e instanceof RunnerStop) continue;
        throw e;
      }
      state.writeOutput(index, out.name, bytes);
      record.outputs.push({ name: out.name, size: bytes.length, sha256: sha256Hex(bytes) } satisfies OutputRecord);
    }
    if (failed) {
      // A tool that failed after the gate turned a request away failed because of it: report the gate's reason.
      const refused = gate?.records.find((r) => !r.allowed && r.code !== undefined);
      if (refused?.code !== undefined) stop(refused.code, `steps[${index}] (${record.tool}) exited with ${result.exitCode} after the egress gate refused ${refused.method} ${refused.host}:${refused.port}`);
      stop('STEP_FAILED', `steps[${index}] (${record.tool}) exited with ${result.exitCode}`);
    }
    tracker.assertRuntime(`after steps[${index}] (${record.tool})`);
  } catch (e) {
    if (e instanceof RunnerStop) {
      record.status = statusOf(e.code);
      record.reasonCode = e.code;
      record.message = e.message;
    } else {
      record.status = 'Failed';
      record.reasonCode = 'INTERNAL_ERROR';
      record.message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
    // Only a tool that ran to its own exit leaves outputs; a refusal, a timeout or a broken output leaves none.
    if (record.reasonCode !== 'STEP_FAILED') record.outputs = [];
  } finally {
    await gate?.close();
  }
  return finish();

  function finish(): number {
    record.externalIO = gate?.stats.allowed ?? 0;
    if (gate !== undefined) record.egress = { ...gate.stats, records: gate.records.slice(0, MAX_EGRESS_RECORDS) };
    record.durationMs = wall() - t0;
    renv.log(JSON.stringify({ level: record.status === 'Succeeded' ? 'info' : 'error', time: new Date().toISOString(), msg: `m87 step ${index} (${record.tool}) ${record.status}${record.reasonCode === '' ? '' : ` ${record.reasonCode}`}: ${record.message || 'ok'}`, step: record }));
    try {
      state.writeStep(record);
    } catch (e) {
      renv.log(JSON.stringify({ level: 'error', msg: `cannot write the step record: ${(e as Error).message}` }));
      return 3;
    }
    return 0;
  }
}
