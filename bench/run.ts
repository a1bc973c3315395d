/**
 * npm run bench [-- --n 2000 --rates 20,50 --parts e2e,baseline,memory,engine --memory-n 10000
 *                  --soak --soak-n 100000 --soak-batch 1000 --soak-rate 50 --out bench/results/latest.json]
 *
 * Decision throughput and latency of the controller against a real API server, side by side with a
 * no-op controller on the same runtime; the controller's memory with 10,000 proposals cached; and the
 * engine microbenchmark. Starts a fresh local control plane per phase (stopped after it), prints a table on
 * stdout and writes the same figures to --out. Progress goes to stderr; logs of every process to a
 * temporary directory named at the end.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { REPO_ROOT } from '../dev/cluster/binaries.ts';
import { startControlPlane } from '../dev/cluster/index.ts';
import { USAGE, parseBenchArgs, type BenchOptions } from './args.ts';
import { BENCH_RATE_LIMIT_PER_MINUTE, setupCluster, submitterUsernames } from './cluster-setup.ts';
import { runMemory, runPhase, type BenchContext } from './phase.ts';
import { runEngineBench } from './processes.ts';
import { Progress } from './progress.ts';
import { renderReport } from './report.ts';
import { runSoak, SOAK_APISERVER_FLAGS } from './soak.ts';
import { APISERVER_PROFILING_FLAGS } from './apiserver-profile.ts';
import type { BenchResults, ControllerKind, EngineFigures, PhaseResult, Rate } from './results.ts';
import { compare, evaluateTargets, rateLabel } from './targets.ts';

interface PlannedPhase {
  controller: ControllerKind;
  rate: Rate;
  namespace: string;
}

/** Ours and the baseline back to back at each rate, so drift of the shared machine hits both alike. */
export function planPhases(opts: Pick<BenchOptions, 'parts' | 'rates'>): PlannedPhase[] {
  const controllers: ControllerKind[] = [];
  if (opts.parts.includes('e2e')) controllers.push('m87');
  if (opts.parts.includes('baseline')) controllers.push('noop');
  const out: PlannedPhase[] = [];
  for (const rate of ['max', ...opts.rates] as Rate[]) {
    for (const controller of controllers) {
      out.push({ controller, rate, namespace: `bench-${controller}-${rate === 'max' ? 'max' : `r${String(rate).replace('.', 'p')}`}` });
    }
  }
  return out;
}

const MEMORY_NAMESPACE = 'bench-memory';
const SOAK_NAMESPACE = 'bench-soak';

function notes(opts: BenchOptions): string[] {
  return [
    'Controller under test and loader run as separate child processes; CPU and RSS are read from /proc/<pid> of the controller.',
    'Latency is measured from the loader send time (annotation, sub-ms) to the first watch event showing Decided=True; creationTimestamp has 1 s resolution, so "ct p99" carries up to +1 s.',
    'Throughput "decided/s" is sustained: decisions between the 10 % and 90 % completions, over that time.',
    `Each phase first sends ${opts.warmup} unmeasured warm-up proposals (at most 20/s) and waits for them: a fresh controller process compiles and connects during its first seconds.`,
    `Each phase (and the memory part) runs on a fresh control plane with a fresh controller process; ${opts.submitters} ServiceAccounts submit round-robin with their own tokens.`,
    'No process node runs: ALLOW creates a NetworkPolicy and a Pod, and the figure is time to Pod created; running 1000s of runner processes on the same 2 cores would measure the node, not the controller.',
    'The controller runs as cluster admin (no chart RBAC/admission policies installed); both controllers use the same identity.',
  ];
}

function readEngineFigures(): EngineFigures {
  const raw = JSON.parse(readFileSync(join(REPO_ROOT, 'bench', 'results', 'engine.json'), 'utf8')) as EngineFigures;
  return {
    opsPerSecond: raw.opsPerSecond,
    opsPerCpuSecond: raw.opsPerCpuSecond,
    cpuShareDuringRun: raw.cpuShareDuringRun,
    iterations: raw.iterations,
    latencyMicroseconds: raw.latencyMicroseconds,
    targets: raw.targets,
  };
}

/** Starts a control plane with the bench's CRDs, policy and profiles, runs fn, and stops the plane. */
async function withPlane(
  opts: BenchOptions,
  progress: Progress,
  logDir: string,
  namespaces: readonly string[],
  fn: (ctx: BenchContext) => Promise<void>,
  apiserverFlags: readonly string[] = [],
): Promise<void> {
  progress.update('starting a control plane…');
  const plane = await startControlPlane({ onProgress: (line) => progress.update(`control plane: ${line}`), apiserverFlags });
  try {
    const admin = plane.kubeConfig('admin');
    await setupCluster(admin, submitterUsernames(namespaces, opts.submitters));
    progress.log(`control plane at ${plane.server}; CRDs, policy "default" (rate limit ${BENCH_RATE_LIMIT_PER_MINUTE}/min per submitter) and profiles installed`);
    await fn({
      plane,
      admin,
      logDir,
      progress,
      submitters: opts.submitters,
      concurrency: opts.concurrency,
      workers: opts.workers,
      controllerLogLevel: opts.controllerLogLevel,
      controllerNodeOptions: opts.controllerNodeOptions,
      controllerMallocArenaMax: opts.controllerMallocArenaMax,
      controllerArgs: opts.controllerArgs,
      profileDir: opts.profileDir,
      ...(opts.apiserverProfileDir !== undefined ? { apiserverProfile: { dir: opts.apiserverProfileDir, seconds: opts.apiserverProfileSeconds } } : {}),
    });
  } finally {
    progress.update('stopping the control plane…');
    await plane.stop();
  }
}

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseBenchArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const progress = new Progress();
  const startedAt = new Date().toISOString();
  const loadAverageAtStart = loadavg().map((l) => Math.round(l * 100) / 100);
  const logDir = mkdtempSync(join(tmpdir(), 'm87-bench-'));
  if (opts.profileDir !== undefined) mkdirSync(opts.profileDir, { recursive: true });
  if (opts.apiserverProfileDir !== undefined) mkdirSync(opts.apiserverProfileDir, { recursive: true });
  progress.log(`m87 bench: logs in ${logDir}`);

  let engine: EngineFigures | undefined;
  if (opts.parts.includes('engine')) {
    // First, while the machine is quiet: no control plane yet.
    progress.update('engine microbenchmark (bench/engine.ts)…');
    await runEngineBench(join(logDir, 'engine.log'), opts.engineArgs);
    engine = readEngineFigures();
    progress.log(`engine: ${engine.opsPerSecond.toLocaleString('en-US')} decisions/s, p99 ${engine.latencyMicroseconds.p99.toFixed(1)} us`);
  }

  const phases: PhaseResult[] = [];
  let memory: BenchResults['memory'];
  const planned = planPhases(opts);
  for (const p of planned) {
    // A control plane per phase: nothing of an earlier phase is in etcd, in the controller's caches or
    // in anybody's work queue (the real controller would otherwise act on the baseline's objects).
    const flags = opts.apiserverProfileDir !== undefined ? APISERVER_PROFILING_FLAGS : [];
    await withPlane(opts, progress, logDir, [p.namespace], async (ctx) => {
      const result = await runPhase(ctx, p.controller, p.rate, opts.n, p.namespace, opts.warmup);
      phases.push(result);
      progress.log(
        `${rateLabel(p.rate)} ${p.controller === 'm87' ? 'm87' : 'baseline'}: ${result.decided}/${result.n} decided, ${result.sustainedPerSecond.toFixed(1)} decisions/s, p50 ${result.latencyMs.p50.toFixed(0)} ms, p99 ${result.latencyMs.p99.toFixed(0)} ms${result.pod ? `, pod p99 ${result.pod.latencyMs.p99.toFixed(0)} ms` : ''}`,
      );
    }, flags);
  }
  if (opts.parts.includes('memory')) {
    // A plane of its own: the figure is for exactly --memory-n proposals in the controller's caches.
    await withPlane(opts, progress, logDir, [MEMORY_NAMESPACE], async (ctx) => {
      memory = await runMemory(ctx, opts.memoryN, MEMORY_NAMESPACE, opts.memoryRate);
      progress.log(`memory: controller RSS ${memory.rssMiB.toFixed(0)} MiB with ${memory.decided} proposals decided`);
    });
  }

  let soak: BenchResults['soak'];
  if (opts.parts.includes('soak')) {
    // Last and longest: a failure here must not lose the figures measured before it.
    await withPlane(
      opts,
      progress,
      logDir,
      [SOAK_NAMESPACE],
      async (ctx) => {
        soak = await runSoak(ctx, { n: opts.soakN, rate: opts.soakRate, sampleEvery: opts.soakSample, namespace: SOAK_NAMESPACE, retentionRate: opts.soakRetentionRate });
      },
      SOAK_APISERVER_FLAGS,
    ).catch((err: unknown) => {
      progress.log(`soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    });
  }

  const comparisons = compare(phases);
  const results: BenchResults = {
    benchmark: 'm87 end-to-end',
    startedAt,
    finishedAt: new Date().toISOString(),
    host: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', loadAverageAtStart },
    settings: {
      n: opts.n,
      warmup: opts.warmup,
      rates: opts.rates,
      parts: opts.parts,
      memoryN: opts.memoryN,
      memoryRate: opts.memoryRate,
      ...(opts.parts.includes('soak') ? { soak: { n: opts.soakN, rate: opts.soakRate, sampleEvery: opts.soakSample } } : {}),
      submitters: opts.submitters,
      concurrency: opts.concurrency,
      workers: opts.workers,
      controllerLogLevel: opts.controllerLogLevel,
      controllerNodeOptions: opts.controllerNodeOptions,
      ...(opts.controllerArgs.length > 0 ? { controllerArgs: opts.controllerArgs } : {}),
      mix: '70% allow / 20% deny / 10% require-human (bench/mix.ts)',
      rateLimitPerSubmitterPerMinute: BENCH_RATE_LIMIT_PER_MINUTE,
      processNode: false,
      notes: notes(opts),
    },
    phases,
    comparisons,
    ...(memory ? { memory } : {}),
    ...(soak ? { soak } : {}),
    ...(engine ? { engine } : {}),
    targets: evaluateTargets({ phases, comparisons, memory, engine }),
    logDir,
  };
  const out = resolve(opts.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  progress.log(`wrote ${out}`);
  process.stdout.write(renderReport(results));
  return 0;
}

if (import.meta.main) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`\nbench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
