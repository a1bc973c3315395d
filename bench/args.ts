// Command-line flags of bench/run.ts (npm run bench -- --n 500 --rates 20 --parts e2e,baseline).
import { parseArgs } from 'node:util';
import { chartControllerMallocArenaMax, chartControllerNodeOptions } from './chart-defaults.ts';
import type { Rate } from './results.ts';

export const PARTS = ['e2e', 'baseline', 'memory', 'engine', 'soak'] as const;
export type Part = (typeof PARTS)[number];
/** What runs without --parts: everything but the soak (long; --soak adds it). */
const DEFAULT_PARTS: readonly Part[] = ['e2e', 'baseline', 'memory', 'engine'];

export interface BenchOptions {
  /** Proposals per end-to-end phase. */
  n: number;
  /** Fixed rates (proposals/s); an as-fast-as-possible phase always runs first. */
  rates: number[];
  parts: Part[];
  /** Unmeasured proposals each end-to-end phase sends (and waits for) before the measured ones. */
  warmup: number;
  /** Proposals in the cluster for the memory figure. */
  memoryN: number;
  /** Arrival rate of the memory part's proposals: 'max' (as fast as possible) or proposals/s. */
  memoryRate: Rate;
  /** Soak: proposals in all, sent open-loop at soakRate/s; the controller's retention deletes the trees. */
  soakN: number;
  soakRate: number;
  /** A sample of the soak's curve every this many proposals sent. */
  soakSample: number;
  /** --retention-rate of the soak's controller; undefined: computed from soakRate (soak-stats.ts). */
  soakRetentionRate: number | undefined;
  /** Take a Go CPU profile of kube-apiserver during each end-to-end phase into this directory. */
  apiserverProfileDir: string | undefined;
  /** Seconds of each API server profile. */
  apiserverProfileSeconds: number;
  out: string;
  submitters: number;
  /** Loader requests in flight in the as-fast-as-possible phases. */
  concurrency: number;
  /**
   * Workers of the no-op baseline. Default 8: the real controller makes the two writes in two
   * controllers of 4 workers each (decisions, proposals), so 8 keeps the requests in flight alike.
   */
  workers: number;
  controllerLogLevel: string;
  /** NODE_OPTIONS of the real controller; default: the chart's controller.nodeOptions (what an install runs). */
  controllerNodeOptions: string;
  /** MALLOC_ARENA_MAX of the real controller; default: the chart's controller.mallocArenaMax unless the bench's own environment sets it. */
  controllerMallocArenaMax: number | undefined;
  /** More flags for the real controller in every phase (--controller-args="--memory-saver=false"). */
  controllerArgs: string[];
  /** Write V8 CPU profiles of the real controller here (node --cpu-prof). */
  profileDir: string | undefined;
  /** Extra flags for bench/engine.ts (--engine-args="--iterations 50000"). */
  engineArgs: string[];
  help: boolean;
}

export const USAGE = `Usage: npm run bench -- [flags]

  --n <count>              proposals per end-to-end phase (default 2000)
  --rates <r,r>            fixed rates in proposals/s after the as-fast-as-possible phase (default 20,50)
  --parts <p,p>            which parts: ${PARTS.join(',')} (default all)
  --warmup <count>         unmeasured proposals per phase before the measured ones, at <= 20/s (default 100; 0 = none)
  --memory-n <count>       proposals for the memory figure (default 10000)
  --memory-rate <r|max>    their arrival rate in proposals/s (default max: as fast as possible)
  --soak                   add the soak part: --soak-n proposals sent open-loop, the controller's retention deleting
                           every finished tree; controller RSS, etcd database size and more as a curve, judged FLAT/GROWING
  --soak-n <count>         proposals in the soak (default 100000)
  --soak-rate <r>          proposals/s in the soak (default 5)
  --soak-sample <count>    a sample of the curve every <count> proposals sent (default 5000)
  --soak-retention-rate <r>  the soak controller's --retention-rate (default: 2 x what --soak-rate needs)
  --controller-node-options <s>  NODE_OPTIONS of the real controller (default: the chart's controller.nodeOptions,
                           as installed; "" = V8's defaults)
  --controller-args="<flags>"  more flags for the real controller in every phase (e.g. --controller-args="--memory-saver=false")
  --apiserver-profile <dir>  Go CPU profile of kube-apiserver during each e2e/baseline phase's load (pprof), summarised
  --apiserver-profile-seconds <s>  length of each API server profile (default 30)
  --out <file>             JSON results (default bench/results/latest.json)
  --submitters <count>     agent ServiceAccounts submitting (default 8)
  --concurrency <count>    loader requests in flight when going as fast as possible (default 16)
  --workers <count>        workers of the no-op baseline controller (default 8 = the real one's decisions + proposals workers)
  --controller-log-level <level>  log level of the controller under test (default info, as deployed)
  --profile <dir>          write CPU profiles of the controller under test (node --cpu-prof) into dir
  --engine-args="<flags>"  passed to bench/engine.ts (e.g. --engine-args="--iterations 50000")
  -h, --help
`;

function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: want a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    allowPositionals: false,
    options: {
      n: { type: 'string' },
      rates: { type: 'string' },
      parts: { type: 'string' },
      warmup: { type: 'string' },
      'memory-n': { type: 'string' },
      'memory-rate': { type: 'string' },
      soak: { type: 'boolean' },
      'soak-n': { type: 'string' },
      'soak-rate': { type: 'string' },
      'soak-sample': { type: 'string' },
      'soak-retention-rate': { type: 'string' },
      'apiserver-profile': { type: 'string' },
      'apiserver-profile-seconds': { type: 'string' },
      out: { type: 'string' },
      submitters: { type: 'string' },
      concurrency: { type: 'string' },
      workers: { type: 'string' },
      'controller-log-level': { type: 'string' },
      'controller-node-options': { type: 'string' },
      profile: { type: 'string' },
      'engine-args': { type: 'string' },
      'controller-args': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const rates = (values.rates ?? '20,50')
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '')
    .map((r) => {
      const n = Number(r);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`--rates: want positive numbers of proposals per second, got ${JSON.stringify(r)}`);
      return n;
    });
  const parts = (values.parts ?? DEFAULT_PARTS.join(','))
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  for (const p of parts) {
    if (!(PARTS as readonly string[]).includes(p)) throw new Error(`--parts: unknown part ${JSON.stringify(p)} (want ${PARTS.join(', ')})`);
  }
  if (parts.length === 0) throw new Error('--parts: name at least one part');
  if (values.soak === true) parts.push('soak');
  const memoryRateText = values['memory-rate'] ?? 'max';
  const memoryRate: Rate = memoryRateText === 'max' ? 'max' : Number(memoryRateText);
  if (memoryRate !== 'max' && !(Number.isFinite(memoryRate) && memoryRate > 0)) {
    throw new Error(`--memory-rate: want "max" or a positive number of proposals per second, got ${JSON.stringify(memoryRateText)}`);
  }
  const soakRate = Number(values['soak-rate'] ?? '5');
  if (!Number.isFinite(soakRate) || soakRate <= 0) throw new Error(`--soak-rate: want a positive number, got ${JSON.stringify(values['soak-rate'])}`);
  const soakRetentionRate = values['soak-retention-rate'] === undefined ? undefined : Number(values['soak-retention-rate']);
  if (soakRetentionRate !== undefined && !(Number.isFinite(soakRetentionRate) && soakRetentionRate > 0 && soakRetentionRate <= 1000)) {
    throw new Error(`--soak-retention-rate: want deletions per second in (0, 1000], got ${JSON.stringify(values['soak-retention-rate'])}`);
  }
  const level = values['controller-log-level'] ?? 'info';
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) {
    throw new Error(`--controller-log-level: unknown level ${JSON.stringify(level)}`);
  }
  return {
    n: positiveInt(values.n, '--n', 2000),
    rates: [...new Set(rates)],
    parts: [...new Set(parts)] as Part[],
    warmup: values.warmup === '0' ? 0 : positiveInt(values.warmup, '--warmup', 100),
    memoryN: positiveInt(values['memory-n'], '--memory-n', 10_000),
    memoryRate,
    soakN: positiveInt(values['soak-n'], '--soak-n', 100_000),
    soakRate,
    soakSample: positiveInt(values['soak-sample'], '--soak-sample', 5000),
    soakRetentionRate,
    apiserverProfileDir: values['apiserver-profile'],
    apiserverProfileSeconds: positiveInt(values['apiserver-profile-seconds'], '--apiserver-profile-seconds', 30),
    out: values.out ?? 'bench/results/latest.json',
    submitters: positiveInt(values.submitters, '--submitters', 8),
    concurrency: positiveInt(values.concurrency, '--concurrency', 16),
    workers: positiveInt(values.workers, '--workers', 8),
    controllerLogLevel: level,
    controllerNodeOptions: values['controller-node-options'] ?? chartControllerNodeOptions(),
    controllerMallocArenaMax: process.env.MALLOC_ARENA_MAX !== undefined ? undefined : chartControllerMallocArenaMax(),
    controllerArgs: (values['controller-args'] ?? '').split(/\s+/).filter((a) => a !== ''),
    profileDir: values.profile,
    engineArgs: (values['engine-args'] ?? '').split(/\s+/).filter((a) => a !== ''),
    help: values.help ?? false,
  };
}
