// Faults for reliability tests (dev/test only): restart kube-apiserver or etcd in place (same binary, ports,
// certificates and data directory, so clients reconnect to the same address and etcd keeps its revisions),
// and compact etcd's history through its loopback HTTP/JSON gateway.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileSize, readFrom } from './log-files.ts';
import { readVersions, resolveControlPlaneBinaries } from './binaries.ts';
import { apiserverArgs, etcdArgs } from './components.ts';
import { planeLayout } from './layout.ts';
import { LOOPBACK, isAddressInUse } from './ports.ts';
import { httpGet, waitUntil } from './probe.ts';
import type { PlaneState } from './state.ts';
import { readState, writeState } from './state.ts';
import { groupMembers, startProcess, type StartedProcess } from './supervisor.ts';

export type RestartableComponent = 'kube-apiserver' | 'etcd';

export interface RestartOptions {
  /**
   * How the running process is ended: SIGKILL (a crash, the default) or SIGTERM (an orderly stop; SIGKILL after
   * 15 s — etcd takes ~7 s, kube-apiserver waits for its clients' watches).
   */
  readonly signal?: 'SIGKILL' | 'SIGTERM';
  /** How long the component stays down before it is started again; default 0. */
  readonly downtimeMs?: number;
  /** Budget for the new process to become ready; default 60 s. */
  readonly readyTimeoutMs?: number;
  /** Environment used to resolve binaries (KUBEBUILDER_ASSETS, XDG_CACHE_HOME). Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface RestartResult {
  readonly component: RestartableComponent;
  readonly oldPid: number;
  readonly newPid: number;
  /** Milliseconds from the signal until the old process was gone. */
  readonly stopMs: number;
  /** Milliseconds from the signal until the new process was ready (/health or /readyz). */
  readonly downMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const PORT_ATTEMPTS = 10;

class ExitedError extends Error {
  readonly log: string;
  constructor(component: string, exit: { code: number | null; signal: NodeJS.Signals | null }, log: string) {
    const tail = log.trimEnd().split('\n').slice(-25).join('\n').replace(/^/gm, '  | ');
    super(`${component} exited after its restart (code ${String(exit.code)}, signal ${String(exit.signal)}):\n${tail}`);
    this.log = log;
  }
}

function runningState(stateDir: string): PlaneState & { server: string } {
  const state = readState(stateDir);
  if (state?.phase !== 'running' || state.server === null) throw new Error(`${stateDir}: no running control plane`);
  return state as PlaneState & { server: string };
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function endGroup(pgid: number, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  signalGroup(pgid, signal);
  const deadline = Date.now() + (signal === 'SIGTERM' ? 15_000 : 10_000);
  while (groupMembers(pgid).length > 0) {
    if (Date.now() > deadline) {
      if (signal === 'SIGKILL') throw new Error(`process group ${pgid} survived SIGKILL`);
      return endGroup(pgid, 'SIGKILL');
    }
    await sleep(20);
  }
}

function componentArgs(state: PlaneState, component: RestartableComponent): string[] {
  const layout = planeLayout(state.stateDir);
  const { etcdClient, etcdPeer, apiserver } = state.ports;
  if (etcdClient === undefined || etcdPeer === undefined || apiserver === undefined) {
    throw new Error(`${state.stateDir}: the plane's state lists no etcd or kube-apiserver port`);
  }
  if (component === 'etcd') return etcdArgs(layout, { client: etcdClient, peer: etcdPeer });
  return apiserverArgs(layout, { secure: apiserver, etcdClient, podNetworkAddress: state.podNetworkAddress });
}

async function isReady(state: PlaneState & { server: string }, component: RestartableComponent, caPem: string): Promise<boolean> {
  if (component === 'etcd') {
    const res = await httpGet(`http://${LOOPBACK}:${state.ports.etcdClient ?? 0}/health`);
    return res.status === 200 && /"health":\s*"true"/.test(res.body);
  }
  return (await httpGet(`${state.server}/readyz`, { caPem })).status === 200;
}

/**
 * Ends one component of the running plane in stateDir and starts it again with the same arguments, then waits
 * until it is ready. The state file is updated, so stop() and the cleanup of orphaned planes find the new process.
 */
export async function restartComponent(stateDir: string, component: RestartableComponent, options: RestartOptions = {}): Promise<RestartResult> {
  const state = runningState(stateDir);
  const entry = state.processes.find((p) => p.name === component);
  if (entry === undefined) throw new Error(`${stateDir}: the plane's state lists no ${component} process`);
  const binary = resolveControlPlaneBinaries({ env: options.env ?? process.env, versions: readVersions() })[component];
  const args = componentArgs(state, component);
  const layout = planeLayout(stateDir);
  const caPem = readFileSync(layout.caCert, 'utf8');

  const t0 = performance.now();
  await endGroup(entry.pid, options.signal ?? 'SIGKILL');
  const stopMs = performance.now() - t0;
  if ((options.downtimeMs ?? 0) > 0) await sleep(options.downtimeMs ?? 0);

  // The port may be taken for a moment (a client's outgoing connection can be handed it as its local port
  // while nothing listens): then wait and try again, on the same port, since clients know only that address.
  let proc: StartedProcess | undefined;
  for (let attempt = 1; proc === undefined; attempt++) {
    const logFile = layout.logFile(component);
    const offset = fileSize(logFile);
    const started = await startProcess({ name: component, binary, args, logFile, cwd: stateDir });
    const latest = runningState(stateDir);
    writeState({ ...latest, processes: latest.processes.map((p) => (p.name === component ? { name: component, pid: started.pid } : p)) });
    try {
      await waitUntil(async () => ((await isReady(latest, component, caPem)) ? true : undefined), {
        what: `${component} to be ready again`,
        timeoutMs: options.readyTimeoutMs ?? 60_000,
        intervalMs: 50,
        abortIf: () => {
          const exit = started.exitInfo();
          if (exit !== undefined) throw new ExitedError(component, exit, readFrom(logFile, offset));
        },
      });
      proc = started;
    } catch (error) {
      if (!(error instanceof ExitedError && isAddressInUse(error.log) && attempt < PORT_ATTEMPTS)) throw error;
      await sleep(1000);
    }
  }
  return { component, oldPid: entry.pid, newPid: proc.pid, stopMs, downMs: performance.now() - t0 };
}

interface EtcdHeader {
  readonly header?: { readonly revision?: string };
}

async function etcdPost(stateDir: string, path: string, body: unknown): Promise<EtcdHeader> {
  const port = runningState(stateDir).ports.etcdClient;
  if (port === undefined) throw new Error(`${stateDir}: the plane's state lists no etcd client port`);
  const res = await fetch(`http://${LOOPBACK}:${port}${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as EtcdHeader;
}

/** etcd's current revision (the header of a range request for the key "\0"). */
export async function etcdRevision(stateDir: string): Promise<number> {
  const revision = Number((await etcdPost(stateDir, '/v3/kv/range', { key: Buffer.from('\0').toString('base64') })).header?.revision);
  if (!Number.isSafeInteger(revision) || revision <= 0) throw new Error('etcd /v3/kv/range: no revision in the response header');
  return revision;
}

/** Compacts etcd's history up to its current revision (physically, i.e. waits until it is done); returns it. */
export async function compactEtcd(stateDir: string): Promise<{ revision: number }> {
  const revision = await etcdRevision(stateDir);
  await etcdPost(stateDir, '/v3/kv/compaction', { revision: String(revision), physical: true });
  return { revision };
}
