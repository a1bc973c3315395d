// The plane's state file (what runs, on which ports, owned by whom) and the cleanup of planes whose
// owner is gone. The state file is written before the first process starts and after every start, so a
// run killed at any point leaves enough behind for the next `up` to clean up after it.
import { existsSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { ComponentName } from './layout.ts';
import { COMPONENTS, planeLayout } from './layout.ts';
import { isAlive, isOurProcess, processStartTicks, stopProcessGroups, stopProcessGroupsSync } from './supervisor.ts';

export const STATE_FORMAT = 'm87-devcluster/v1';
export const EPHEMERAL_PREFIX = 'm87-plane-';

export interface PlanePorts {
  readonly etcdClient?: number;
  readonly etcdPeer?: number;
  readonly apiserver?: number;
  readonly controllerManager?: number;
  readonly scheduler?: number;
}

export interface RecordedProcess {
  readonly name: ComponentName;
  readonly pid: number;
}

export interface PlaneState {
  readonly format: typeof STATE_FORMAT;
  readonly phase: 'starting' | 'running' | 'failed';
  /** The process whose exit ends the plane; null when the plane outlives its starter (the CLI). */
  readonly owner: { readonly pid: number; readonly startTicks: number | null } | null;
  readonly createdAt: string;
  readonly stateDir: string;
  readonly versions: { readonly kubernetes: string; readonly etcd: string };
  readonly server: string | null;
  readonly ports: PlanePorts;
  readonly processes: readonly RecordedProcess[];
  /** Set when the plane was started for a real node's pod network (see plane.ts). */
  readonly podNetworkAddress?: string;
}

export function writeState(state: PlaneState): void {
  const file = planeLayout(state.stateDir).stateFile;
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file); // readers never see a half-written file
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The state of the plane in stateDir; undefined when there is none; throws when it is unreadable. */
export function readState(stateDir: string): PlaneState | undefined {
  const file = planeLayout(stateDir).stateFile;
  if (!existsSync(file)) return undefined;
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isRecord(parsed) || parsed.format !== STATE_FORMAT) throw new Error(`${file}: not an ${STATE_FORMAT} state file`);
  if (!Array.isArray(parsed.processes)) throw new Error(`${file}: processes is not a list`);
  for (const entry of parsed.processes as unknown[]) {
    if (!isRecord(entry) || typeof entry.pid !== 'number' || !(COMPONENTS as readonly unknown[]).includes(entry.name)) {
      throw new Error(`${file}: malformed processes entry ${JSON.stringify(entry)}`);
    }
  }
  return parsed as unknown as PlaneState;
}

export function ownerAlive(state: PlaneState): boolean {
  if (state.owner === null) return false;
  if (!isAlive(state.owner.pid)) return false;
  // A recycled PID is not our owner: compare start times when both are known.
  const ticks = processStartTicks(state.owner.pid);
  return state.owner.startTicks === null || ticks === null || ticks === state.owner.startTicks;
}

/**
 * Processes that belong to the plane in stateDir: the recorded ones that are still ours, plus any
 * control-plane binary whose command line points into stateDir (e.g. started after the last state write).
 */
export function planeProcesses(stateDir: string, recorded: readonly RecordedProcess[] = []): RecordedProcess[] {
  const marker = `${stateDir}/`;
  const found = new Map<number, ComponentName>();
  for (const p of recorded) if (isOurProcess(p.pid, marker)) found.set(p.pid, p.name);
  if (existsSync('/proc/self/cmdline')) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      try {
        const exe = basename(readlinkSync(`/proc/${entry}/exe`));
        const name = COMPONENTS.find((component) => component === exe);
        if (name !== undefined && isOurProcess(Number(entry), marker)) found.set(Number(entry), name);
      } catch {
        // gone, or not ours to inspect
      }
    }
  }
  return [...found].map(([pid, name]) => ({ pid, name }));
}

// Clients before servers: the API server shuts down in ~1 s while etcd is up, but waits for it when not.
const STOP_STAGES: readonly (readonly ComponentName[])[] = [
  ['kube-scheduler', 'kube-controller-manager'],
  ['kube-apiserver'],
  ['etcd'],
];

function stage(processes: readonly RecordedProcess[], names: readonly ComponentName[]): number[] {
  return processes.filter((p) => names.includes(p.name)).map((p) => p.pid);
}

export async function stopPlaneProcesses(processes: readonly RecordedProcess[]): Promise<void> {
  for (const names of STOP_STAGES) await stopProcessGroups(stage(processes, names));
}

/** Stops whatever the plane in stateDir still runs and deletes the directory; returns the stopped PIDs. */
export async function destroyPlane(stateDir: string): Promise<number[]> {
  let recorded: readonly RecordedProcess[] = [];
  try {
    recorded = readState(stateDir)?.processes ?? [];
  } catch {
    // unreadable state: the /proc scan still finds the plane's processes
  }
  const processes = planeProcesses(stateDir, recorded);
  await stopPlaneProcesses(processes);
  rmSync(stateDir, { recursive: true, force: true });
  return processes.map((p) => p.pid);
}

/** Synchronous variant for exit handlers. */
export function destroyPlaneSync(stateDir: string, recorded: readonly RecordedProcess[]): void {
  const processes = planeProcesses(stateDir, recorded);
  for (const names of STOP_STAGES) stopProcessGroupsSync(stage(processes, names));
  rmSync(stateDir, { recursive: true, force: true });
}

/** Temporary planes (library mode) whose owning process died without cleaning up: stop and delete them. */
export async function sweepOrphanedPlanes(parent = tmpdir()): Promise<string[]> {
  const swept: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(parent).filter((name) => name.startsWith(EPHEMERAL_PREFIX));
  } catch {
    return swept;
  }
  for (const name of entries) {
    const dir = join(parent, name);
    let state: PlaneState | undefined;
    try {
      state = readState(dir);
    } catch {
      continue; // not identifiable as ours: leave it alone
    }
    if (state === undefined || state.owner === null || ownerAlive(state)) continue;
    await destroyPlane(dir);
    swept.push(dir);
  }
  return swept;
}
