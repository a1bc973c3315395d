// `m87 controller` as a child process, the way it runs in production (its own process, killed and frozen by
// signals). Its pino JSON log lines are kept in memory (for counting 410s, leadership changes, errors) and in a
// log file that survives the run for post-mortems.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, inject } from 'vitest';
import { REPO_ROOT } from '../../../dev/cluster/binaries.ts';
import { waitUntil } from '../../../dev/cluster/probe.ts';
import { RUNNER_IMAGE, type ChaosEnv } from './env.ts';

export interface LeaseTimings {
  readonly durationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

/** The controller's production defaults (15 s / 10 s / 2 s). */
export const DEFAULT_LEASE: LeaseTimings = { durationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

/**
 * For riding out an API outage in-process: a leader that cannot renew for renewDeadline steps down and exits (its
 * Deployment restarts it — scenario 1 covers that). A single kube-apiserver restarting on a loaded machine can
 * take longer than the default 10 s, so the outage scenarios give the lease room: 40 s / 30 s / 2 s.
 */
export const OUTAGE_LEASE: LeaseTimings = { durationMs: 40_000, renewDeadlineMs: 30_000, retryPeriodMs: 2_000 };

export interface ControllerProcessOptions {
  readonly env: ChaosEnv;
  /** A label for logs (e.g. "kill-3"). */
  readonly label: string;
  /** Leader-election identity; default: the controller's own (hostname_uuid, new per process). */
  readonly identity?: string;
  /** Kubeconfig file and context; default the test cluster's admin. */
  readonly kubeconfigPath?: string;
  readonly context?: string;
  readonly lease?: LeaseTimings;
  readonly leaseName?: string;
  readonly logLevel?: 'debug' | 'info' | 'warn';
  /** More `m87 controller` flags (e.g. --audit-file). */
  readonly extraArgs?: readonly string[];
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface LogLine {
  readonly level?: number;
  readonly msg?: string;
  readonly time?: number;
  readonly [field: string]: unknown;
}

const running = new Set<ChildProcess>();
let cleanupRegistered = false;

/** Where the run's controller logs go (inside the results directory; kept when a scenario failed). */
export function chaosLogDir(): string {
  const dir = join(inject('chaosResultsDir'), 'logs');
  mkdirSync(dir, { recursive: true });
  return dir;
}

function seconds(ms: number): string {
  return `${Math.max(1, Math.round(ms / 1000))}s`;
}

function leaseFlag(ms: number): string {
  return ms % 1000 === 0 ? seconds(ms) : `${ms}ms`;
}

export class ControllerProcess {
  readonly label: string;
  readonly pid: number;
  readonly logFile: string;
  readonly exited: Promise<ExitStatus>;
  readonly startedAt = performance.now();
  /** Date.now() at spawn, to compare with the times in its log lines. */
  readonly spawnedAtWall = Date.now();
  readonly #proc: ChildProcess;
  readonly #lines: LogLine[] = [];
  #stderr = '';
  #exit: ExitStatus | undefined;
  #metricsUrl: string | undefined;
  #lineWatchers: ((line: LogLine) => void)[] = [];
  #lastLineAt = performance.now();

  constructor(opts: ControllerProcessOptions) {
    if (!cleanupRegistered) {
      cleanupRegistered = true;
      afterAll(() => {
        for (const proc of running) {
          try {
            proc.kill('SIGCONT');
            proc.kill('SIGKILL');
          } catch {
            // already gone
          }
        }
      });
    }
    const lease = opts.lease ?? DEFAULT_LEASE;
    const context = opts.context ?? (opts.kubeconfigPath === undefined ? 'admin' : undefined);
    const args = [
      join(REPO_ROOT, 'src/cli/main.ts'),
      'controller',
      '--kubeconfig',
      opts.kubeconfigPath ?? opts.env.kubeconfigPath,
      ...(context !== undefined ? ['--context', context] : []),
      '--namespace',
      opts.env.controllerNamespace,
      '--policy',
      opts.env.policyName,
      '--runner-image',
      RUNNER_IMAGE,
      '--metrics-addr',
      '127.0.0.1:0',
      '--lease-name',
      opts.leaseName ?? `m87-${opts.env.suffix}`,
      '--lease-duration',
      leaseFlag(lease.durationMs),
      '--renew-deadline',
      leaseFlag(lease.renewDeadlineMs),
      '--retry-period',
      leaseFlag(lease.retryPeriodMs),
      '--log-level',
      opts.logLevel ?? 'info',
      ...(opts.identity !== undefined ? ['--identity', opts.identity] : []),
      ...(opts.extraArgs ?? []),
    ];
    this.label = opts.label;
    this.logFile = join(chaosLogDir(), `${opts.env.suffix}-${opts.label}.log`);
    const childEnv = { ...process.env };
    delete childEnv.M87_LOG_LEVEL; // --log-level decides
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
    if (proc.pid === undefined) throw new Error(`controller ${opts.label}: no pid`);
    this.pid = proc.pid;
    this.#proc = proc;
    running.add(proc);
    let buffered = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      appendFileSync(this.logFile, text);
      buffered += text;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let parsed: LogLine;
        try {
          parsed = JSON.parse(line) as LogLine;
        } catch {
          parsed = { msg: line };
        }
        this.#lines.push(parsed);
        this.#lastLineAt = performance.now();
        for (const watcher of this.#lineWatchers) watcher(parsed);
      }
    });
    proc.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      appendFileSync(this.logFile, text);
      this.#stderr += text;
      const m = /serving metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(this.#stderr);
      if (m) this.#metricsUrl = m[1];
    });
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        running.delete(proc);
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
  }

  exitStatus(): ExitStatus | undefined {
    return this.#exit;
  }

  alive(): boolean {
    return this.#exit === undefined;
  }

  /** Base URL of /metrics, /healthz, /readyz once the process serves them. */
  get metricsUrl(): string | undefined {
    return this.#metricsUrl;
  }

  logs(): readonly LogLine[] {
    return this.#lines;
  }

  stderr(): string {
    return this.#stderr;
  }

  /** Resolves once the process serves HTTP (it has loaded its key and started its informers). */
  async serving(timeoutMs = 60_000): Promise<string> {
    return waitUntil(
      () => {
        if (this.#exit !== undefined) throw new Error(`controller ${this.label} exited (${JSON.stringify(this.#exit)}): ${this.#stderr.slice(-2000)}`);
        return Promise.resolve(this.#metricsUrl);
      },
      { what: `controller ${this.label} to serve /metrics`, timeoutMs, intervalMs: 50 },
    );
  }

  /** /readyz answers 200: caches synced and the policy valid. */
  async ready(timeoutMs = 60_000): Promise<void> {
    const base = await this.serving(timeoutMs);
    await waitUntil(
      async () => {
        if (this.#exit !== undefined) throw new Error(`controller ${this.label} exited (${JSON.stringify(this.#exit)})`);
        const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      { what: `controller ${this.label} to be ready`, timeoutMs, intervalMs: 100 },
    );
  }

  async metrics(): Promise<string> {
    if (this.#metricsUrl === undefined) throw new Error(`controller ${this.label} serves no metrics yet`);
    const res = await fetch(`${this.#metricsUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    return res.text();
  }

  /** Sum of a metric family's samples whose labels contain every given label (e.g. { controller: 'decisions' }). */
  async metricSum(name: string, labels: Record<string, string> = {}): Promise<number> {
    return sumMetric(await this.metrics(), name, labels);
  }

  signal(signal: NodeJS.Signals): void {
    if (this.#exit === undefined) this.#proc.kill(signal);
  }

  async kill(): Promise<ExitStatus> {
    this.signal('SIGKILL');
    return this.exited;
  }

  /** Orderly stop (SIGTERM); SIGKILL after graceMs. */
  async stop(graceMs = 20_000): Promise<ExitStatus> {
    if (this.#exit !== undefined) return this.#exit;
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const status = await this.exited;
    clearTimeout(timer);
    return status;
  }

  /**
   * SIGKILL the moment the n-th log line matching `test` arrives (from the stdout handler, so the process is
   * at most a few milliseconds past that point). Resolves with that line once the process is gone (undefined
   * when it exited otherwise, e.g. killed by the caller).
   */
  async killAtLine(test: (line: LogLine) => boolean, n: number): Promise<LogLine | undefined> {
    let seen = 0;
    let trigger: LogLine | undefined;
    this.#lineWatchers.push((line) => {
      if (trigger === undefined && test(line) && ++seen === n) {
        trigger = line;
        this.signal('SIGKILL');
      }
    });
    await this.exited;
    return trigger;
  }

  /** performance.now() of the last log line (or of the start). */
  get lastLineAt(): number {
    return this.#lastLineAt;
  }

  /** Throws when the process has exited (for waits that are pointless without it). */
  readonly assertAlive = (): void => {
    if (this.#exit !== undefined) throw new Error(`controller ${this.label} exited (${JSON.stringify(this.#exit)}); log: ${this.logFile}`);
  };

  /** Log lines whose message matches. */
  linesMatching(test: (line: LogLine) => boolean): LogLine[] {
    return this.#lines.filter(test);
  }
}

export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? ([^ ]+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = new Map<string, string>();
    for (const pair of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) set.set(pair[1] ?? '', pair[2] ?? '');
    if (Object.entries(labels).every(([k, v]) => set.get(k) === v)) total += Number(m[4]);
  }
  return total;
}

/** Lines of a controller log that report a watch answered with 410 Gone (followed by a relist). */
export function isExpiredWatchLine(line: LogLine): boolean {
  if (line.msg === 'Watch expired (410); relisting') return true;
  const err = line.err as { code?: unknown; message?: unknown } | undefined;
  return line.msg === 'List/watch failed; retrying' && (err?.code === 410 || (typeof err?.message === 'string' && err.message.includes('HTTP 410')));
}
