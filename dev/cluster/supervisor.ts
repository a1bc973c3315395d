// Starting and stopping the control plane's processes. Each component runs in its own process group
// (detached), so a stop signal reaches anything it forks and the plane can outlive the starting process when
// asked to (the CLI). Liveness is read from /proc so zombies and recycled PIDs are not mistaken for ours.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';

export interface ComponentSpec {
  readonly name: string;
  readonly binary: string;
  readonly args: readonly string[];
  readonly logFile: string;
  readonly cwd: string;
  /** Added to (and overriding) the inherited environment. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface StartedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves when the process exits (never rejects). */
  readonly exited: Promise<ExitInfo>;
  readonly exitInfo: () => ExitInfo | undefined;
}

const HAS_PROC = existsSync('/proc/self/stat');
const LOG_TAIL_BYTES = 64 * 1024;

function noProxy(): string {
  const existing = process.env.NO_PROXY ?? process.env.no_proxy ?? '';
  return ['127.0.0.1', 'localhost', ...existing.split(',').filter((entry) => entry !== '')].join(',');
}

export function startProcess(spec: ComponentSpec): Promise<StartedProcess> {
  const log = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.binary, spec.args, {
      cwd: spec.cwd,
      detached: true, // own process group: killable as a unit, survives the starter when it is meant to
      stdio: ['ignore', log, log],
      // Components only ever talk to loopback; make sure no proxy setting of the caller diverts that.
      env: { ...process.env, NO_PROXY: noProxy(), no_proxy: noProxy(), ...spec.env },
    });
    child.unref(); // never keeps the starting process alive; stop() and the exit hooks end the plane
    return new Promise((resolve, reject) => {
      let exit: ExitInfo | undefined;
      const exited = new Promise<ExitInfo>((resolveExit) => {
        child.once('exit', (code, signal) => {
          exit = { code, signal };
          resolveExit(exit);
        });
      });
      child.once('error', (error) => reject(new Error(`${spec.name}: could not start ${spec.binary}: ${error.message}`)));
      child.once('spawn', () => {
        if (child.pid === undefined) {
          reject(new Error(`${spec.name}: started without a PID`));
          return;
        }
        resolve({ name: spec.name, pid: child.pid, logFile: spec.logFile, exited, exitInfo: () => exit });
      });
    });
  } finally {
    closeSync(log); // the child holds its own copy of the descriptor
  }
}

function procStat(pid: number): { state: string; pgrp: number; startTicks: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid pgrp ..." — comm may contain spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '?', pgrp: Number(fields[2]), startTicks: Number(fields[19]) };
  } catch {
    return undefined;
  }
}

/** Start time of a process in clock ticks since boot (/proc/<pid>/stat field 22); null when unknown. */
export function processStartTicks(pid: number): number | null {
  const stat = procStat(pid);
  return stat === undefined || Number.isNaN(stat.startTicks) ? null : stat.startTicks;
}

export function isAlive(pid: number): boolean {
  if (HAS_PROC) {
    const stat = procStat(pid);
    return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Live (non-zombie) members of a process group. */
export function groupMembers(pgid: number): number[] {
  if (!HAS_PROC) {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch {
      return [];
    }
  }
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') members.push(Number(entry));
  }
  return members;
}

/**
 * Whether pid is still the process we started: its command line mentions marker (the plane's state
 * directory, which every component's arguments contain). Guards against killing a recycled PID.
 */
export function isOurProcess(pid: number, marker: string): boolean {
  if (!HAS_PROC) return isAlive(pid);
  try {
    return isAlive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const sleepSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/** SIGTERM every group, wait up to graceMs for all to go, then SIGKILL what is left. */
export async function stopProcessGroups(pgids: readonly number[], graceMs = 5_000): Promise<void> {
  for (const pgid of pgids) signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pgids.some((pgid) => groupMembers(pgid).length > 0) && Date.now() < deadline) await sleep(50);
  for (const pgid of pgids) if (groupMembers(pgid).length > 0) signalGroup(pgid, 'SIGKILL');
  const killDeadline = Date.now() + 5_000;
  while (pgids.some((pgid) => groupMembers(pgid).length > 0) && Date.now() < killDeadline) await sleep(20);
}

/** Synchronous variant for process 'exit' and signal handlers, where the event loop no longer runs. */
export function stopProcessGroupsSync(pgids: readonly number[], graceMs = 2_000): void {
  for (const pgid of pgids) signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pgids.some((pgid) => groupMembers(pgid).length > 0) && Date.now() < deadline) sleepSync(25);
  for (const pgid of pgids) if (groupMembers(pgid).length > 0) signalGroup(pgid, 'SIGKILL');
}

/** The last lines of a log file (empty when it does not exist). */
export function logTail(file: string, lines = 25): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, LOG_TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
