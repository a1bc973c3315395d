import { spawn } from 'node:child_process';
import type { OutputCapture } from './output.ts';

export interface ProcessSpec {
  argv: readonly string[];
  cwd: string;
  /** The complete environment of the child: nothing of the runner's own environment leaks in. */
  env: Readonly<Record<string, string>>;
  timeoutMs: number;
  output: OutputCapture;
}

export interface ProcessResult {
  /** 0..255, or -1 when the process was killed by a signal, timed out or could not start. */
  exitCode: number;
  timedOut: boolean;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started (e.g. the program does not exist). */
  startError?: string;
}

/** How long to wait for the pipes to close after the process group was killed (a setsid'd grandchild may hold them). */
const PIPE_GRACE_MS = 2000;

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * Runs a program without a shell, in its own process group (detached ⇒ setsid). On timeout the whole group
 * is killed, and after the leader exits the group is killed too, so no background child outlives its step.
 * stdout and stderr go, interleaved as they arrive, into the capped output.
 */
export function runProcess(spec: ProcessSpec): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const [program, ...args] = spec.argv;
    if (program === undefined) {
      resolve({ exitCode: -1, timedOut: false, signal: null, startError: 'empty command' });
      return;
    }
    let settled = false;
    let timedOut = false;
    let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let graceTimer: NodeJS.Timeout | undefined;
    const child = spawn(program, args, {
      cwd: spec.cwd,
      env: { ...spec.env },
      detached: true,
      shell: false,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const finish = (result: ProcessResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(graceTimer);
      resolve(result);
    };
    const fromExit = (): ProcessResult => {
      const code = exitInfo?.code ?? null;
      const signal = exitInfo?.signal ?? null;
      return {
        exitCode: timedOut || code === null ? -1 : Math.min(Math.max(code, 0), 255),
        timedOut,
        signal,
      };
    };
    const timer = setTimeout(
      () => {
        timedOut = true;
        killGroup(child.pid);
      },
      Math.max(1, Math.floor(spec.timeoutMs)),
    );
    child.stdout.on('data', (d: Buffer) => spec.output.write(d));
    child.stderr.on('data', (d: Buffer) => spec.output.write(d));
    child.on('error', (err) => {
      killGroup(child.pid);
      finish({ exitCode: -1, timedOut, signal: null, startError: err.message });
    });
    child.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      killGroup(child.pid);
      graceTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(fromExit());
      }, PIPE_GRACE_MS);
    });
    child.on('close', () => {
      if (exitInfo !== undefined) finish(fromExit());
    });
  });
}
