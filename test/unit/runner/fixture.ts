// Test fixture for the runner: real Ed25519 keys, really signed envelopes, the job Pod's downward-API volume
// as the kubelet writes it (one raw file per annotation, behind ..data) in a temp dir, an isolation
// environment that passes (except where a test says otherwise), and the step Pod's sequence run in-process:
// the run record install-runner leaves, `m87 step <i>` for each step (its tool definition from the test
// catalogue, as the controller hands it) and the final `m87 runner` composing the receipt.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EffectiveEnvelope } from '../../../src/api/envelope.ts';
import { ANNOTATIONS, PODINFO_FILES } from '../../../src/api/group.ts';
import { canonicalHash, canonicalJson } from '../../../src/hash/canonical.ts';
import { writeAtomicVolume } from '../../../dev/process-node/volumes.ts';
import type { IsolationEnvironment } from '../../../src/runner/isolation.ts';
import type { RunnerEnvironment } from '../../../src/runner/runner.ts';
import { finishJob } from '../../../src/runner/finish.ts';
import type { RunnerReceipt } from '../../../src/runner/receipt.ts';
import { StepState, type StepRecord } from '../../../src/runner/step-state.ts';
import { runToolStep } from '../../../src/runner/tool-step.ts';
import { generateSigningKey, signDeh, type SigningKey } from '../../../src/integrity/signing.ts';
import { boundStep, TEST_CATALOGUE } from '../../support/tool-catalogue.ts';

export { boundStep } from '../../support/tool-catalogue.ts';

export const JOB_UID = '6f1c2a9e-0d7b-4c53-9a7e-2f1d3c4b5a69';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

export function envelope(overrides: DeepPartial<EffectiveEnvelope> = {}): EffectiveEnvelope {
  const base: EffectiveEnvelope = {
    modelId: 'm87-runner-v1',
    modelSource: 'closed',
    inferencePolicy: { reasoningMode: false, toolAccessProfile: 'default', maxComputeClass: 'standard' },
    safetyMode: 'safe_default',
    autonomyBudget: { maxSteps: 10, maxToolCalls: 10, maxParallelAgents: 1, maxRuntimeSeconds: 60, maxExternalIO: 5, maxWriteScope: 'sandbox' },
    steps: [boundStep('echo', { message: 'hello' })],
    image: 'ghcr.io/m87/m87:0.1.0',
    egress: [],
    effectSchemaVersion: '1.0.0',
    effects: ['COMPUTE', 'WRITE_PATCH', 'RUN_TESTS', 'NETWORK_CALL', 'SEND_NOTIFICATION'],
    reversibility: { class: 'REVERSIBLE', executionMode: 'commit', cleanupCost: 'LOW', hasRollbackProof: true },
    humanApproved: false,
    budgetMultiplierPercent: 100,
    retryLimit: 0,
    proposal: { namespace: 'team-a', name: 'fix-ci', uid: 'b7f0c3d2-1111-2222-3333-444455556666', hash: 'a'.repeat(64) },
  };
  return {
    ...base,
    ...overrides,
    autonomyBudget: { ...base.autonomyBudget, ...overrides.autonomyBudget },
    reversibility: { ...base.reversibility, ...overrides.reversibility },
    proposal: { ...base.proposal, ...overrides.proposal },
    inferencePolicy: { ...base.inferencePolicy, ...overrides.inferencePolicy },
  };
}

/** The Pod annotations the controller writes, signed with `key`. Works for any plain envelope (even off-schema). */
export function signedAnnotations(key: SigningKey, env: unknown, jobUID = JOB_UID): Record<string, string> {
  const deh = canonicalHash(env);
  return {
    [ANNOTATIONS.envelope]: canonicalJson(env),
    [ANNOTATIONS.envelopeHash]: deh,
    [ANNOTATIONS.signature]: signDeh(key.privateKeyPem, deh),
    [ANNOTATIONS.keyId]: key.keyId,
    [ANNOTATIONS.jobUID]: jobUID,
  };
}

/**
 * Writes (or, as the kubelet does on a change, atomically replaces) the podinfo volume: each annotation the
 * Pod projects in a file of its own holding the raw value, an absent annotation as an empty file.
 */
export function writePodinfo(dir: string, annotations: Readonly<Record<string, string>>): void {
  const files = (Object.keys(PODINFO_FILES) as (keyof typeof PODINFO_FILES)[]).map((k) => ({
    path: PODINFO_FILES[k],
    content: annotations[ANNOTATIONS[k]] ?? '',
    mode: 0o644,
  }));
  writeAtomicVolume(dir, files);
}

/** A port on 127.0.0.1 where nothing listens (bound, then released). */
export async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const addr = srv.address();
  await new Promise<void>((r) => srv.close(() => r()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

export async function passingIsolation(dir: string): Promise<IsolationEnvironment> {
  return {
    serviceAccountTokenPath: join(dir, 'no-such-serviceaccount', 'token'),
    rootDir: join(dir, 'read-only-root-does-not-exist'),
    getuid: () => 65532,
    apiServerHost: '127.0.0.1',
    apiServerPort: String(await closedPort()),
    apiConnectTimeoutMs: 1000,
  };
}

/** What a step Pod run produced: the receipt (as the final container wrote it) and every step's record. */
export interface RunOutcome {
  receipt: RunnerReceipt;
  exitCode: number;
  /** The final container's detail message (why the job did not succeed). */
  message: string;
  records: (StepRecord | undefined)[];
}

export interface Fixture {
  dir: string;
  key: SigningKey;
  workspace: string;
  podinfo: string;
  keyFile: string;
  terminationLog: string;
  renv: RunnerEnvironment;
  logs: string[];
  /** (Re)writes the podinfo volume. */
  writeAnnotations(annotations: Record<string, string>): void;
  /**
   * Runs the step Pod's containers in order; `tools` overrides a step's definition (default: the test
   * catalogue's); `startedAtMs` is the job start the delivery recorded (default now).
   */
  run(tools?: Record<number, unknown>, startedAtMs?: number): Promise<RunOutcome>;
  terminationMessage(): string;
  cleanup(): void;
}

export async function fixture(env: unknown = envelope(), opts: { key?: SigningKey; annotations?: (a: Record<string, string>) => Record<string, string> } = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'm87-runner-test-'));
  const key = opts.key ?? generateSigningKey();
  const workspace = join(dir, 'workspace');
  const podinfo = join(dir, 'podinfo');
  const keyFile = join(dir, 'keys', 'public.pem');
  const terminationLog = join(dir, 'termination-log');
  mkdirSync(workspace);
  mkdirSync(podinfo);
  mkdirSync(join(dir, 'keys'));
  writeFileSync(keyFile, key.publicKeyPem);
  const writeAnnotations = (a: Record<string, string>) => writePodinfo(podinfo, a);
  const base = signedAnnotations(key, env);
  writeAnnotations(opts.annotations ? opts.annotations(base) : base);
  const logs: string[] = [];
  const renv: RunnerEnvironment = {
    env: {
      M87_PODINFO_DIR: podinfo,
      M87_PUBLIC_KEY_FILE: keyFile,
      M87_WORKSPACE: workspace,
      M87_TERMINATION_LOG: terminationLog,
      PATH: process.env.PATH,
      LANG: 'C.UTF-8',
      SECRET_TOKEN: 'must-not-leak',
    },
    isolation: await passingIsolation(dir),
    now: () => performance.now(),
    log: (line) => logs.push(line),
  };
  return {
    dir,
    key,
    workspace,
    podinfo,
    keyFile,
    terminationLog,
    renv,
    logs,
    writeAnnotations,
    run: async (tools = {}, startedAtMs = Date.now()) => {
      const state = new StepState(join(dir, 'state'));
      mkdirSync(state.dir, { recursive: true });
      state.writeRun({ startedAtMs });
      const steps = ((env as { steps?: { tool?: string; image?: string }[] }).steps ?? []);
      for (const [i, step] of steps.entries()) {
        const spec = Object.hasOwn(tools, i) ? tools[i] : TEST_CATALOGUE.get(step.tool ?? '');
        const stepEnv = { ...renv.env, M87_STATE_DIR: state.dir, M87_TOOL_SPEC: canonicalJson(spec ?? null), M87_TOOL_IMAGE: step.image ?? '' };
        const code = await runToolStep(i, { ...renv, env: stepEnv });
        if (code !== 0) break; // the kubelet stops at a failed init container
      }
      const first = logs.length;
      const { exitCode, receiptJson } = await finishJob({ ...renv, env: { ...renv.env, M87_STATE_DIR: state.dir } });
      const final = logs.slice(first).map((l) => JSON.parse(l) as { detail?: string }).find((l) => l.detail !== undefined);
      return {
        receipt: JSON.parse(receiptJson) as RunnerReceipt,
        exitCode,
        message: final?.detail ?? '',
        records: steps.map((_, i) => state.readStep(i)),
      };
    },
    terminationMessage: () => readFileSync(terminationLog, 'utf8'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
