// A real local Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager and kube-scheduler as
// local processes on loopback ports, with throwaway certificates and static test identities.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { fileSize, readFrom } from './log-files.ts';
import type { ControlPlaneBinaries, Versions } from './binaries.ts';
import { readVersions, resolveControlPlaneBinaries } from './binaries.ts';
import { apiserverArgs, AUDIT_POLICY, controllerManagerArgs, etcdArgs, schedulerArgs } from './components.ts';
import { onOwnerExit } from './exit-hooks.ts';
import type { RestartOptions, RestartResult, RestartableComponent } from './faults.ts';
import { compactEtcd, restartComponent } from './faults.ts';
import type { UserContext } from './identities.ts';
import { USER_CONTEXTS, isUserContext, issueStaticTokens, tokenAuthFile } from './identities.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import type { ComponentName, PlaneLayout } from './layout.ts';
import { planeLayout } from './layout.ts';
import { createControlPlanePki } from './pki.ts';
import { LOOPBACK, freeLoopbackPorts, isAddressInUse } from './ports.ts';
import { httpGet, waitUntil } from './probe.ts';
import type { ServiceAccountTokenOptions } from './service-account.ts';
import { serviceAccountKubeConfig } from './service-account.ts';
import type { PlanePorts, PlaneState } from './state.ts';
import {
  EPHEMERAL_PREFIX,
  STATE_FORMAT,
  destroyPlane,
  destroyPlaneSync,
  ownerAlive,
  planeProcesses,
  readState,
  stopPlaneProcesses,
  sweepOrphanedPlanes,
  writeState,
} from './state.ts';
import type { StartedProcess } from './supervisor.ts';
import { isAlive, logTail, processStartTicks, startProcess } from './supervisor.ts';

const PORT_ATTEMPTS = 3;
const DEFAULT_READY_TIMEOUT_MS = 180_000;

export interface StartControlPlaneOptions {
  /** Where state, certificates, kubeconfig and logs go. Default: a fresh directory under the OS temp dir. */
  readonly stateDir?: string;
  /**
   * Keep the plane running after this process exits (the CLI). Default false: the plane is stopped on
   * stop(), and also when this process exits or gets SIGINT/SIGTERM/SIGHUP.
   */
  readonly persistent?: boolean;
  /** Budget for the whole start, default 180 s. */
  readonly readyTimeoutMs?: number;
  /** Progress lines (with timings) while starting. */
  readonly onProgress?: (line: string) => void;
  /** Environment used to resolve binaries (KUBEBUILDER_ASSETS, XDG_CACHE_HOME). Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * The host's address on a real node's pod network (dev/cluster/real-node): the API server's certificate
   * names it and the `kubernetes` Service's endpoints point to it. Default: none (loopback only).
   */
  readonly podNetworkAddress?: string;
  /**
   * Extra kube-apiserver flags, appended after the plane's own (a later flag wins). For benchmarks (the soak's
   * `--etcd-compaction-interval`, `--profiling=true`); not kept in the state file, so a fault-injection restart
   * of the API server (faults.ts) starts it without them.
   */
  readonly apiserverFlags?: readonly string[];
}

export interface ControlPlanePorts {
  readonly etcdClient: number;
  readonly etcdPeer: number;
  readonly apiserver: number;
  readonly controllerManager: number;
  readonly scheduler: number;
}

export interface ControlPlane {
  readonly stateDir: string;
  readonly kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** PEM of the CA that signed the API server's serving certificate. */
  readonly caPem: string;
  readonly ports: ControlPlanePorts;
  readonly versions: Versions;
  readonly pids: Readonly<Record<ComponentName, number>>;
  readonly logDir: string;
  /** The pod network address the plane was started for (StartControlPlaneOptions.podNetworkAddress). */
  readonly podNetworkAddress: string | undefined;
  /** A KubeConfig for one of the static identities (admin = system:masters). */
  kubeConfig(context?: UserContext): KubeConfig;
  /** A KubeConfig authenticating as ServiceAccount namespace/name (created if absent) via TokenRequest. */
  serviceAccountKubeConfig(namespace: string, name: string, options?: ServiceAccountTokenOptions): Promise<KubeConfig>;
  /**
   * Fault injection (reliability tests): ends kube-apiserver or etcd (SIGKILL unless told otherwise) and starts
   * it again on the same ports and data directory; resolves once it is ready. Updates `pids`.
   */
  restartComponent(component: RestartableComponent, options?: RestartOptions): Promise<RestartResult>;
  /** Compacts etcd's history up to its current revision (through etcd's loopback gateway); returns that revision. */
  compactEtcd(): Promise<{ revision: number }>;
  /** Stops every process of the plane (SIGTERM, then SIGKILL) and deletes its state directory. */
  stop(): Promise<void>;
}

/** A component that exited (or never became ready) while the plane was starting. */
export class ComponentFailedError extends Error {
  readonly component: ComponentName;
  readonly logFile: string;
  readonly logTail: string;
  constructor(component: ComponentName, reason: string, logFile: string) {
    const tail = logTail(logFile);
    super(`${component} ${reason}; last log lines (${logFile}):\n${tail.replace(/^/gm, '  | ')}`);
    this.name = 'ComponentFailedError';
    this.component = component;
    this.logFile = logFile;
    this.logTail = tail;
  }
}

/** A launch stopped because another component already failed the start. */
class StartAbandoned extends Error {
  constructor(component: ComponentName) {
    super(`${component}: not started, the plane's start was abandoned`);
  }
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

/** Makes stateDir usable: creates it, or cleans up a plane that is no longer alive there. */
async function prepareStateDir(stateDir: string, onProgress: (line: string) => void): Promise<void> {
  if (!existsSync(stateDir)) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    return;
  }
  const state = readState(stateDir); // unreadable state throws: we will not delete what we cannot identify
  if (state === undefined) {
    if (readdirSync(stateDir).length > 0) {
      throw new Error(`${stateDir} exists, is not empty and holds no m87 plane state; refusing to reuse or delete it`);
    }
    return;
  }
  if (state.owner !== null && ownerAlive(state)) {
    throw new Error(`a control plane in ${stateDir} is owned by the running process ${state.owner.pid}`);
  }
  if (state.owner === null && state.phase === 'running' && state.processes.every((p) => isAlive(p.pid))) {
    throw new Error(`a control plane is already running in ${stateDir}; stop it first (npm run cluster -- down)`);
  }
  const killed = await destroyPlane(stateDir);
  onProgress(`cleaned up a stale plane in ${stateDir}${killed.length > 0 ? ` (stopped pids ${killed.join(', ')})` : ''}`);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
}

export async function startControlPlane(options: StartControlPlaneOptions = {}): Promise<ControlPlane> {
  const t0 = performance.now();
  const onProgress = options.onProgress ?? (() => undefined);
  const deadline = Date.now() + (options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
  const versions = readVersions();
  // Resolve binaries first: a missing binary must fail before anything is created or started.
  const binaries = resolveControlPlaneBinaries({ env: options.env ?? process.env, versions });

  for (const dir of await sweepOrphanedPlanes()) onProgress(`cleaned up an orphaned plane in ${dir}`);
  let stateDir: string;
  if (options.stateDir !== undefined) {
    stateDir = resolve(options.stateDir);
    await prepareStateDir(stateDir, onProgress);
  } else {
    stateDir = mkdtempSync(join(tmpdir(), EPHEMERAL_PREFIX));
  }
  const layout = planeLayout(stateDir);

  let state: PlaneState = {
    format: STATE_FORMAT,
    phase: 'starting',
    owner: { pid: process.pid, startTicks: processStartTicks(process.pid) },
    createdAt: new Date().toISOString(),
    stateDir,
    versions: { kubernetes: versions.kubernetes, etcd: versions.etcd },
    server: null,
    ports: {},
    processes: [],
    ...(options.podNetworkAddress !== undefined ? { podNetworkAddress: options.podNetworkAddress } : {}),
  };
  const save = (patch: Partial<PlaneState>): void => {
    state = { ...state, ...patch };
    writeState(state);
  };
  save({});
  // Until start() returns, the plane is always owned by this process, also in persistent mode.
  const unregister = onOwnerExit(() => destroyPlaneSync(stateDir, state.processes));

  try {
    const plane = await bringUp({ layout, binaries, deadline, onProgress, save, getState: () => state, podNetworkAddress: options.podNetworkAddress, apiserverFlags: options.apiserverFlags ?? [] });
    save({ phase: 'running', owner: options.persistent === true ? null : state.owner });
    if (options.persistent === true) unregister();
    onProgress(`control plane ready in ${seconds(t0)}`);
    return makeControlPlane(state, plane.caPem, unregister);
  } catch (error) {
    unregister();
    await stopPlaneProcesses(planeProcesses(stateDir, state.processes));
    // Keep the logs (and a state file saying so) for inspection; the next start or sweep removes them.
    for (const entry of readdirSync(stateDir)) {
      if (entry !== 'logs' && entry !== 'state.json') rmSync(join(stateDir, entry), { recursive: true, force: true });
    }
    save({ phase: 'failed', processes: [] });
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`m87: the local control plane did not start: ${message}\n(logs kept in ${layout.logDir})`, { cause: error });
  }
}

interface BringUpContext {
  readonly layout: PlaneLayout;
  readonly binaries: ControlPlaneBinaries;
  readonly deadline: number;
  readonly onProgress: (line: string) => void;
  readonly save: (patch: Partial<PlaneState>) => void;
  readonly getState: () => PlaneState;
  readonly podNetworkAddress: string | undefined;
  readonly apiserverFlags: readonly string[];
}

async function bringUp(ctx: BringUpContext): Promise<{ caPem: string }> {
  const { layout, binaries, onProgress, save, getState } = ctx;
  mkdirSync(layout.pkiDir, { recursive: true, mode: 0o700 });
  mkdirSync(layout.logDir, { recursive: true, mode: 0o700 });

  const pkiStart = performance.now();
  const { podNetworkAddress } = ctx;
  const pki = await createControlPlanePki({ extraServingAddresses: podNetworkAddress !== undefined ? [podNetworkAddress] : [] });
  const secret = { mode: 0o600 } as const;
  writeFileSync(layout.caCert, pki.ca.certPem);
  writeFileSync(layout.caKey, pki.ca.keyPem, secret);
  writeFileSync(layout.servingCert, pki.serving.certPem);
  writeFileSync(layout.servingKey, pki.serving.keyPem, secret);
  writeFileSync(layout.kubeletClientCert, pki.kubeletClient.certPem);
  writeFileSync(layout.kubeletClientKey, pki.kubeletClient.keyPem, secret);
  writeFileSync(layout.serviceAccountPublicKey, pki.serviceAccount.publicKeyPem);
  writeFileSync(layout.serviceAccountPrivateKey, pki.serviceAccount.privateKeyPem, secret);
  const tokens = issueStaticTokens();
  writeFileSync(layout.tokenFile, tokenAuthFile([...Object.values(tokens.users), ...Object.values(tokens.components)]), secret);
  writeFileSync(layout.auditPolicy, AUDIT_POLICY);
  onProgress(`certificates and tokens ready (${seconds(pkiStart)})`);

  // Processes that became ready. Each launch watches its own process; all watch the ready ones, so a
  // component that dies while another starts ends the start with the dead one's log. (A sibling that is
  // still starting may yet retry on other ports, so it is not watched by the others.)
  const ready: StartedProcess[] = [];
  let abandoned = false; // set once the start failed: no launch may start anything after that
  const takenPorts = new Set<number>();
  const remainingMs = (): number => Math.max(ctx.deadline - Date.now(), 1);
  const failIfExited = (procs: readonly StartedProcess[]): void => {
    for (const proc of procs) {
      const exit = proc.exitInfo();
      if (exit !== undefined) {
        const how = exit.signal !== null ? `signal ${exit.signal}` : `exit code ${String(exit.code)}`;
        throw new ComponentFailedError(proc.name as ComponentName, `exited during startup (${how})`, proc.logFile);
      }
    }
  };
  const failIfReadyExited = (): void => failIfExited(ready);

  const launch = async <P extends object>(
    name: ComponentName,
    pickPorts: () => Promise<P>,
    args: (ports: P) => string[],
    isReady: (ports: P) => Promise<boolean>,
    what: (ports: P) => string,
  ): Promise<P> => {
    const started = performance.now();
    const logFile = layout.logFile(name);
    for (let attempt = 1; ; attempt++) {
      const ports = await pickPorts();
      for (const port of Object.values(ports) as number[]) takenPorts.add(port);
      const logOffset = fileSize(logFile);
      if (abandoned) throw new StartAbandoned(name);
      const proc = await startProcess({ name, binary: binaries[name], args: args(ports), logFile, cwd: layout.stateDir });
      save({ processes: [...getState().processes, { name, pid: proc.pid }] });
      try {
        await waitUntil(async () => ((await isReady(ports)) ? true : undefined), {
          what: what(ports),
          timeoutMs: remainingMs(),
          intervalMs: 100,
          abortIf: () => {
            if (abandoned) throw new StartAbandoned(name);
            failIfExited([proc, ...ready]);
          },
        });
        ready.push(proc);
        onProgress(`${name} ready on ${LOOPBACK}:${Object.values(ports).join('/')} (${seconds(started)})`);
        return ports;
      } catch (error) {
        if (error instanceof StartAbandoned) throw error;
        const portTaken =
          error instanceof ComponentFailedError && error.component === name && isAddressInUse(readFrom(logFile, logOffset));
        if (!portTaken || attempt >= PORT_ATTEMPTS || abandoned) {
          abandoned = true;
          if (error instanceof ComponentFailedError) throw error;
          throw new ComponentFailedError(name, `did not become ready: ${error instanceof Error ? error.message : String(error)}`, logFile);
        }
        onProgress(`${name}: a port was taken before it could bind it; retrying with other ports`);
        save({ processes: getState().processes.filter((p) => p.pid !== proc.pid) });
      }
    }
  };

  const etcd = await launch(
    'etcd',
    async () => {
      const [client = 0, peer = 0] = await freeLoopbackPorts(2, takenPorts);
      return { client, peer };
    },
    (ports) => etcdArgs(layout, ports),
    async (ports) => {
      const res = await httpGet(`http://${LOOPBACK}:${ports.client}/health`);
      return res.status === 200 && /"health":\s*"true"/.test(res.body);
    },
    (ports) => `etcd /health on ${LOOPBACK}:${ports.client}`,
  );
  save({ ports: { etcdClient: etcd.client, etcdPeer: etcd.peer } });

  const apiserver = await launch(
    'kube-apiserver',
    async () => {
      const [secure = 0] = await freeLoopbackPorts(1, takenPorts);
      return { secure };
    },
    (ports) => apiserverArgs(layout, { secure: ports.secure, etcdClient: etcd.client, podNetworkAddress, extraFlags: ctx.apiserverFlags }),
    async (ports) => (await httpGet(`https://${LOOPBACK}:${ports.secure}/readyz`, { caPem: pki.ca.certPem })).status === 200,
    (ports) => `kube-apiserver /readyz on ${LOOPBACK}:${ports.secure}`,
  );
  const server = `https://${LOOPBACK}:${apiserver.secure}`;
  const kubeconfig = (path: string, users: { context: string; token: string }[]): void =>
    writeKubeconfig(path, { clusterName: 'm87-local', server, caPem: pki.ca.certPem, users, currentContext: users[0]?.context ?? '' });
  kubeconfig(
    layout.kubeconfig,
    USER_CONTEXTS.map((context) => ({ context, token: tokens.users[context].token })),
  );
  for (const component of ['kube-controller-manager', 'kube-scheduler'] as const) {
    kubeconfig(layout.componentKubeconfig(component), [{ context: component, token: tokens.components[component].token }]);
  }
  save({ server, ports: { ...getState().ports, apiserver: apiserver.secure } });

  const healthz = async (port: number): Promise<boolean> =>
    (await httpGet(`https://${LOOPBACK}:${port}/healthz`, { caPem: pki.ca.certPem })).status === 200;
  const onePort = async (): Promise<{ secure: number }> => {
    const [secure = 0] = await freeLoopbackPorts(1, takenPorts);
    return { secure };
  };
  // In parallel; allSettled so that no launch is still spawning a process when the caller cleans up.
  const [controllerManager, scheduler] = firstFailure(
    await Promise.allSettled([
      launch('kube-controller-manager', onePort, (p) => controllerManagerArgs(layout, p), (p) => healthz(p.secure), (p) => `kube-controller-manager /healthz on ${LOOPBACK}:${p.secure}`),
      launch('kube-scheduler', onePort, (p) => schedulerArgs(layout, p), (p) => healthz(p.secure), (p) => `kube-scheduler /healthz on ${LOOPBACK}:${p.secure}`),
    ]),
  );
  save({ ports: { ...getState().ports, controllerManager: controllerManager.secure, scheduler: scheduler.secure } });

  // The ServiceAccount controller creating `default` proves kube-controller-manager works end to end.
  const saStart = performance.now();
  const admin = new KubeConfig();
  admin.loadFromFile(layout.kubeconfig);
  const core = admin.makeApiClient(CoreV1Api);
  try {
    await waitUntil(
      async () => {
        try {
          return await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
        } catch (error) {
          if (error instanceof ApiException && error.code === 404) return undefined;
          throw error;
        }
      },
      { what: 'the default ServiceAccount in namespace default', timeoutMs: remainingMs(), intervalMs: 100, abortIf: failIfReadyExited },
    );
  } catch (error) {
    if (error instanceof ComponentFailedError) throw error;
    throw new ComponentFailedError('kube-controller-manager', `did not create the default ServiceAccount: ${(error as Error).message}`, layout.logFile('kube-controller-manager'));
  }
  onProgress(`default ServiceAccount present (${seconds(saStart)})`);
  return { caPem: pki.ca.certPem };
}

/** The values of settled launches, or the first real failure (not a launch abandoned because of it). */
function firstFailure<T extends readonly unknown[]>(results: { readonly [K in keyof T]: PromiseSettledResult<T[K]> }): T {
  const settled = results as readonly PromiseSettledResult<unknown>[];
  const failures = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r): unknown => r.reason);
  if (failures.length > 0) throw failures.find((reason) => !(reason instanceof StartAbandoned)) ?? failures[0];
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

function completePorts(ports: PlanePorts, stateDir: string): ControlPlanePorts {
  const { etcdClient, etcdPeer, apiserver, controllerManager, scheduler } = ports;
  if (etcdClient === undefined || etcdPeer === undefined || apiserver === undefined || controllerManager === undefined || scheduler === undefined) {
    throw new Error(`${stateDir}: the plane's state lists no port for some component`);
  }
  return { etcdClient, etcdPeer, apiserver, controllerManager, scheduler };
}

function makeControlPlane(state: PlaneState, caPem: string, unregister: () => void): ControlPlane {
  const layout = planeLayout(state.stateDir);
  if (state.server === null) throw new Error(`${state.stateDir}: the plane's state has no server URL`);
  const pids = Object.fromEntries(state.processes.map((p) => [p.name, p.pid])) as Record<ComponentName, number>;
  let stopping: Promise<void> | undefined;
  const kubeConfig = (context: UserContext = 'admin'): KubeConfig => {
    if (!isUserContext(context)) throw new Error(`kubeConfig: unknown context ${JSON.stringify(context)}; known: ${USER_CONTEXTS.join(', ')}`);
    const kc = new KubeConfig();
    kc.loadFromFile(layout.kubeconfig);
    kc.setCurrentContext(context);
    return kc;
  };
  return {
    stateDir: state.stateDir,
    kubeconfigPath: layout.kubeconfig,
    server: state.server,
    caPem,
    ports: completePorts(state.ports, state.stateDir),
    versions: readVersions(),
    pids,
    logDir: layout.logDir,
    podNetworkAddress: state.podNetworkAddress ?? undefined,
    kubeConfig,
    serviceAccountKubeConfig: (namespace, name, options) => serviceAccountKubeConfig(kubeConfig('admin'), namespace, name, options),
    restartComponent: async (component, options) => {
      const result = await restartComponent(state.stateDir, component, options);
      pids[component] = result.newPid;
      return result;
    },
    compactEtcd: () => compactEtcd(state.stateDir),
    stop: () => {
      stopping ??= (async () => {
        unregister();
        await destroyPlane(state.stateDir);
      })();
      return stopping;
    },
  };
}

/** The running plane in stateDir (e.g. one the CLI started), or undefined when none is running there. */
export function attachControlPlane(stateDir: string): ControlPlane | undefined {
  const state = readState(resolve(stateDir));
  if (state?.phase !== 'running' || state.server === null) return undefined;
  if (!state.processes.every((p) => isAlive(p.pid))) return undefined;
  const caPem = readFileSync(planeLayout(state.stateDir).caCert, 'utf8');
  return makeControlPlane(state, caPem, () => undefined);
}
