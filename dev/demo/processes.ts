// Child processes of the local stack (controller, process node): output to a log file, waiting for a log
// line, and an orderly stop (SIGTERM, then SIGKILL). Detached children keep running after this process exits
// (`npm run demo -- --keep`).
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { waitUntil } from '../cluster/probe.ts';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildProcessHandle {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** undefined while running. */
  exit(): ChildExit | undefined;
  /** The log so far. */
  log(): string;
  /** Polls the log until `pattern` matches (fails early when the process exits). */
  waitForLog(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** SIGTERM, SIGKILL after graceMs; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartChildOptions {
  readonly name: string;
  readonly argv: readonly string[];
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Survive this process (own session, no reference held). Default false. */
  readonly detached?: boolean;
}

const exitCleanups = new Set<() => void>();
let exitHookInstalled = false;

/**
 * Runs `cleanup` (synchronous) when this process exits without having stopped what it started, e.g. a test
 * worker that ended early. Returns the unregister function.
 */
export function onProcessExit(cleanup: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of exitCleanups) {
        try {
          c();
        } catch {
          // best effort
        }
      }
    });
  }
  exitCleanups.add(cleanup);
  return () => exitCleanups.delete(cleanup);
}

function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export function startChild(opts: StartChildOptions): Promise<ChildProcessHandle> {
  const [file, ...args] = opts.argv;
  if (file === undefined) throw new Error(`${opts.name}: empty argv`);
  const out = openSync(opts.logFile, 'a', 0o600);
  const child = spawn(file, args, {
    stdio: ['ignore', out, out],
    env: opts.env ?? process.env,
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    detached: opts.detached === true,
  });
  closeSync(out);
  if (opts.detached === true) child.unref();
  // An attached child must not outlive us: it would keep working against a cluster nobody watches.
  const unregister = opts.detached === true ? () => false : onProcessExit(() => child.kill('SIGTERM'));
  let exited: ChildExit | undefined;
  const done = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      unregister();
      resolve();
    });
  });
  const log = (): string => {
    try {
      return readFileSync(opts.logFile, 'utf8');
    } catch {
      return '';
    }
  };
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => {
      const pid = child.pid;
      if (pid === undefined) return reject(new Error(`${opts.name}: no pid`));
      resolve({
        name: opts.name,
        pid,
        logFile: opts.logFile,
        exit: () => exited,
        log,
        waitForLog: (pattern, timeoutMs) =>
          waitUntil(async () => Promise.resolve(pattern.exec(log()) ?? undefined), {
            what: `${opts.name} to log ${String(pattern)}`,
            timeoutMs,
            intervalMs: 50,
            abortIf: () => {
              if (exited !== undefined) {
                throw new Error(`${opts.name} exited (${exited.signal ?? `code ${String(exited.code)}`}); last log lines (${opts.logFile}):\n${tail(log())}`);
              }
            },
          }),
        stop: async (graceMs = 10_000) => {
          if (exited !== undefined) return;
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await done;
          clearTimeout(timer);
        },
      });
    });
  });
}

function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

/**
 * Stops a process an earlier run started (pid from a --keep state file): SIGTERM, then SIGKILL. Only when its
 * command line still contains `expect`, so a reused pid is never signalled. False when it was not running.
 */
export async function stopPid(pid: number, expect: string, graceMs = 10_000): Promise<boolean> {
  const alive = (): boolean => commandLine(pid)?.includes(expect) === true;
  if (!alive()) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive()) process.kill(pid, 'SIGKILL');
  return true;
}
