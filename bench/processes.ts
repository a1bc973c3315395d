// The processes a phase runs besides the bench itself: the controller under test (the real one via the
// m87 CLI, or the no-op baseline) and the loader, each a child `node` so its CPU time and resident memory
// are its own and can be read from /proc/<pid>.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { RUNTIME_NODE_FLAGS } from '../dev/build/compile.ts';
import { ensureCompiledProgram, ensureDist } from '../dev/build/ensure.ts';
import { REPO_ROOT } from '../dev/cluster/binaries.ts';
import { onOwnerExit } from '../dev/cluster/exit-hooks.ts';
import { sleep } from '../src/runtime/backoff.ts';
import { CONTROLLER_NAMESPACE, POLICY_NAME } from './cluster-setup.ts';
import type { LoaderDone, LoaderMessage, LoaderProgress } from './loader.ts';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux for x86 and arm). */
const USER_HZ = 100;

/** VmRSS (resident memory) of a process in bytes; undefined when it is gone. */
export function residentBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Resident memory split: anonymous (heaps, stacks) and file-backed (the mapped binary and libraries), bytes. */
export function residentSplit(pid: number): { anonBytes: number; fileBytes: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const anon = /^RssAnon:\s+(\d+)\s+kB$/m.exec(status);
    const file = /^RssFile:\s+(\d+)\s+kB$/m.exec(status);
    return anon && file ? { anonBytes: Number(anon[1]) * 1024, fileBytes: Number(file[1]) * 1024 } : undefined;
  } catch {
    return undefined;
  }
}

/** VmHWM (peak resident memory) in bytes. */
export function peakResidentBytes(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds a process has used; undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may contain spaces) start at field 3 (state); utime/stime are 14/15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return undefined;
  }
}

export type ControllerKind = 'm87' | 'noop';

export interface ControllerChild {
  kind: ControllerKind;
  pid: number;
  logFile: string;
  /** The real controller's metrics endpoint (http://127.0.0.1:<port>); undefined for the baseline. */
  metricsBase: string | undefined;
  /** Stops it (SIGTERM, then SIGKILL after 20 s); resolves with the exit code or signal. */
  stop(): Promise<string>;
}

export interface ControllerChildOptions {
  kind: ControllerKind;
  kubeconfigPath: string;
  context: string;
  logFile: string;
  /** Writes a V8 CPU profile there on exit (node --cpu-prof). */
  cpuProfileDir?: string;
  /** pino level of the real controller. */
  logLevel: string;
  workers: number;
  /** NODE_OPTIONS of the real controller ("": none). */
  nodeOptions?: string;
  /** MALLOC_ARENA_MAX of the real controller (undefined: the environment's). */
  mallocArenaMax?: number | undefined;
  /** More flags for the real controller: the run's (--controller-args), then the phase's (the soak's --retention-rate, --audit-file). */
  controllerArgs?: readonly string[];
  extraArgs?: readonly string[];
}

/** Children still running: killed if the bench itself exits early (error, Ctrl-C, SIGTERM), never left behind. */
const running = new Set<ChildProcess>();
// The plane's exit hooks run on exit and on SIGINT/SIGTERM/SIGHUP (then re-raise the signal, so no 'exit' event).
onOwnerExit(() => {
  for (const child of running) child.kill('SIGKILL');
});

function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
}

function exited(child: ChildProcess): Promise<string> {
  if (child.exitCode !== null) return Promise.resolve(`exit ${child.exitCode}`);
  if (child.signalCode !== null) return Promise.resolve(`signal ${child.signalCode}`);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal !== null ? `signal ${signal}` : `exit ${code ?? '?'}`)));
}

async function stopChild(child: ChildProcess, graceMs = 20_000): Promise<string> {
  const done = exited(child);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const result = await done;
    clearTimeout(timer);
    return result;
  }
  return done;
}

async function waitForHttp200(url: string, child: ChildProcess, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited while starting`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`${what}: ${url} not 200 within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/**
 * Starts the controller under test and resolves once it is ready to decide. Both run compiled, as the image
 * runs the controller (dist/cli/main.js, type stripping off; built first if the sources changed): the real
 * one from dist/, the baseline from its own compile (bench/.build), so neither pays for the type stripper.
 */
export async function startControllerChild(opts: ControllerChildOptions): Promise<ControllerChild> {
  const prof = [...RUNTIME_NODE_FLAGS, ...(opts.cpuProfileDir !== undefined ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfileDir] : [])];
  const args =
    opts.kind === 'm87'
      ? [
          ...prof,
          join((await ensureDist(REPO_ROOT)).dir, 'cli', 'main.js'),
          'controller',
          '--kubeconfig',
          opts.kubeconfigPath,
          '--context',
          opts.context,
          '--namespace',
          CONTROLLER_NAMESPACE,
          '--policy',
          POLICY_NAME,
          '--leader-elect=false',
          '--metrics-addr',
          '127.0.0.1:0',
          '--runner-image',
          'ghcr.io/m87/m87:bench',
          '--log-level',
          opts.logLevel,
          ...(opts.controllerArgs ?? []),
          ...(opts.extraArgs ?? []),
        ]
      : [
          ...prof,
          await ensureCompiledProgram('bench/noop-controller.ts', REPO_ROOT),
          '--kubeconfig',
          opts.kubeconfigPath,
          '--context',
          opts.context,
          '--workers',
          String(opts.workers),
          '--decision-example',
          join(REPO_ROOT, 'examples', 'decision.yaml'),
        ];
  // The real controller logs (pino, JSON lines) straight into the file, as into a container's log pipe:
  // the bench process must not spend CPU relaying them.
  const fd = openSync(opts.logFile, 'a');
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  // The real controller runs with the V8 heap settings an install gives it (the chart's NODE_OPTIONS).
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  if (opts.kind === 'm87' && opts.nodeOptions) env.NODE_OPTIONS = opts.nodeOptions;
  if (opts.kind === 'm87' && opts.mallocArenaMax !== undefined) env.MALLOC_ARENA_MAX = String(opts.mallocArenaMax);
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', opts.kind === 'm87' ? fd : 'pipe', 'pipe'] });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start the ${opts.kind} controller`);
  track(child);
  const what = `${opts.kind} controller (pid ${child.pid}, log ${opts.logFile})`;
  const ready = new Promise<string>((resolve, reject) => {
    if (child.stdout) {
      createInterface({ input: child.stdout }).on('line', (line) => {
        log.write(`${line}\n`);
        if (line === 'READY') resolve('');
      });
    }
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
      log.write(`${line}\n`);
      const m = /serving metrics on (http:\/\/[^/\s]+)\/metrics/.exec(line);
      if (m?.[1] !== undefined) resolve(m[1]);
    });
    child.once('exit', () => reject(new Error(`${what} exited while starting; see its log`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 120_000);
  let base: string | undefined;
  try {
    base = await ready;
    if (opts.kind === 'm87') await waitForHttp200(`${base}/readyz`, child, 120_000, what);
  } finally {
    clearTimeout(timeout);
  }
  return {
    kind: opts.kind,
    pid: child.pid,
    logFile: opts.logFile,
    metricsBase: opts.kind === 'm87' ? base : undefined,
    stop: async () => {
      const result = await stopChild(child);
      await new Promise((resolve) => log.end(resolve));
      return result;
    },
  };
}

export interface LoaderChild {
  pid: number;
  /** Resolves with the loader's summary. */
  done: Promise<LoaderDone>;
  stop(): Promise<string>;
}

/** Runs node bench/loader.ts <configPath>; onProgress gets each progress message. */
export function startLoader(configPath: string, logFile: string, onProgress: (m: LoaderProgress) => void): LoaderChild {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bench/loader.ts'), configPath], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error('could not start the loader');
  track(child);
  child.stderr.on('data', (d: Buffer) => log.write(d));
  const done = new Promise<LoaderDone>((resolve, reject) => {
    let summary: LoaderDone | undefined;
    createInterface({ input: child.stdout }).on('line', (line) => {
      let m: LoaderMessage;
      try {
        m = JSON.parse(line) as LoaderMessage;
      } catch {
        log.write(`${line}\n`);
        return;
      }
      if (m.type === 'done') summary = m;
      else onProgress(m);
    });
    child.once('exit', (code) => {
      log.end();
      if (summary) resolve(summary);
      else reject(new Error(`loader exited (${code ?? 'signal'}) without a summary; see ${logFile}`));
    });
  });
  return { pid: child.pid, done, stop: () => stopChild(child, 5000) };
}

/** Runs bench/engine.ts (its own figures file is bench/results/engine.json); output goes to logFile. */
export async function runEngineBench(logFile: string, args: readonly string[]): Promise<void> {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bench/engine.ts'), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const result = await exited(child);
  log.end();
  if (result !== 'exit 0') throw new Error(`bench/engine.ts ended with ${result}; see ${logFile}`);
}
