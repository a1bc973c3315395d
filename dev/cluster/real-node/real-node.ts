// A real Kubernetes node for the local control plane: containerd, the kubelet and kube-router (NetworkPolicy)
// as host processes, a CNI bridge the node creates itself, and the API server reachable from the pod network.
// One per machine (a host-wide lock). Everything it creates on the host is recorded against a snapshot taken
// before it starts, and removed on stop — also after a crash, by the next start or `down`.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { KubeConfig } from '@kubernetes/client-node';
import { isNotFound, kubeRequest } from '../../../src/runtime/kube-http.ts';
import { onOwnerExit } from '../exit-hooks.ts';
import { writeKubeconfig } from '../kubeconfig.ts';
import { planeLayout } from '../layout.ts';
import { loadCertificateAuthority } from '../pki.ts';
import { freeLoopbackPort } from '../ports.ts';
import { waitUntil } from '../probe.ts';
import { SERVICE_CLUSTER_IP_RANGE } from '../components.ts';
import type { ControlPlane } from '../plane.ts';
import { isAlive, isOurProcess, logTail, processStartTicks, startProcess, stopProcessGroups, stopProcessGroupsSync, type StartedProcess } from '../supervisor.ts';
import { cniConfList, containerdConfig, kubeletConfig } from './configs.ts';
import { attempt, run } from './host-exec.ts';
import { cleanHost, isClean, killCgroupProcesses, leftovers, mountsUnder, shimProcesses, snapshotHost, type HostSnapshot, type Leftovers } from './host-state.ts';
import { importNodeImage, type NodeImage, type NodeImageName } from './images.ts';
import { NODE_COMPONENTS, nodeLayout, type NodeComponent, type NodeLayout } from './layout.ts';
import { BRIDGE, DEFAULT_NODE_NAME, HOST_ADDRESS, KUBERNETES_SERVICE_IP, KUBERNETES_SERVICE_PORT, POD_PREFIX_LENGTH } from './network.ts';
import { checkRealNodePrerequisites, systemToolsForTeardown, type NodeTools, type SystemTools } from './prerequisites.ts';

const STATE_FORMAT = 'm87-real-node/v1';
/** Host-wide: one real node per machine (iptables, ipsets, the bridge and the kubelet's paths are global). */
export const REAL_NODE_LOCK = '/run/m87-real-node.lock';
const EPHEMERAL_PREFIX = 'm87-real-node-';
const DEFAULT_READY_TIMEOUT_MS = 120_000;
/** The node's own nat chain: the API server's pod-network address (and the kubernetes Service IP) → loopback. */
const APISERVER_CHAIN = 'M87-APISERVER';
const KUBE_ROUTER_IDENTITY = 'system:m87:kube-router';
/**
 * The node never pulls: images are imported. A Pod naming an image that is not there (imagePullPolicy
 * IfNotPresent/Always) must fail with ErrImagePull, not reach a registry — containerd's registry client sends
 * every request through this proxy, a closed loopback port, so not even the registry's name is resolved.
 */
export const NO_REGISTRY_PROXY = 'http://127.0.0.1:9';
const NO_REGISTRY_ENV = { HTTP_PROXY: NO_REGISTRY_PROXY, HTTPS_PROXY: NO_REGISTRY_PROXY, http_proxy: NO_REGISTRY_PROXY, https_proxy: NO_REGISTRY_PROXY };

interface NodeState {
  readonly format: typeof STATE_FORMAT;
  readonly phase: 'starting' | 'running' | 'failed';
  readonly owner: { readonly pid: number; readonly startTicks: number | null } | null;
  readonly stateDir: string;
  readonly nodeName: string;
  readonly planeStateDir: string;
  readonly apiserverPort: number | undefined;
  readonly snapshot: HostSnapshot;
  readonly processes: readonly { readonly name: NodeComponent; readonly pid: number }[];
}

export interface StartRealNodeOptions {
  /** The control plane, started with podNetworkAddress = HOST_ADDRESS (network.ts). */
  readonly plane: Pick<ControlPlane, 'stateDir' | 'server' | 'caPem' | 'ports' | 'podNetworkAddress' | 'kubeConfig'>;
  /** Default: a fresh directory under the OS temp dir. Must not exist or be empty. */
  readonly stateDir?: string;
  readonly nodeName?: string;
  /**
   * Keep the node running after this process exits (the CLI). Default false: its processes end when this
   * process exits (what it left on the host is removed by the next start, or destroyRealNode).
   */
  readonly persistent?: boolean;
  readonly readyTimeoutMs?: number;
  readonly onProgress?: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
}

export interface RealNode {
  readonly nodeName: string;
  readonly stateDir: string;
  readonly logDir: string;
  readonly containerdSocket: string;
  /** containerd's CLI, for importing images into namespace k8s.io (see importNodeImage). */
  readonly ctr: string;
  readonly pids: Readonly<Record<NodeComponent, number>>;
  /** The node's own images, imported at start (refs for Pods, imagePullPolicy Never). */
  readonly images: Readonly<Record<NodeImageName, NodeImage>>;
  /** The host's address on the pod network; the API server is reachable there on its own port. */
  readonly hostAddress: string;
  readonly apiserverPodNetworkUrl: string;
  /** Seconds the start took. */
  readonly startSeconds: number;
  /** Throws NodeComponentFailedError (with the log tail) when containerd, the kubelet or kube-router died. */
  failIfCrashed(): void;
  /** Stops everything and removes what the node created on the host; resolves with what could not be removed. */
  stop(): Promise<StopReport>;
}

export interface StopReport {
  readonly seconds: number;
  readonly problems: readonly string[];
  readonly left: Leftovers;
}

/** A node component that exited or never became ready; the message carries its log tail. */
export class NodeComponentFailedError extends Error {
  readonly component: NodeComponent;
  readonly logTail: string;
  constructor(component: NodeComponent, reason: string, logFile: string) {
    const tail = logTail(logFile, 30);
    super(`${component} ${reason}; last log lines (${logFile}):\n${tail.replace(/^/gm, '  | ')}`);
    this.name = 'NodeComponentFailedError';
    this.component = component;
    this.logTail = tail;
  }
}

function readNodeState(stateDir: string): NodeState | undefined {
  const file = nodeLayout(stateDir).stateFile;
  if (!existsSync(file)) return undefined;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<NodeState>;
  if (parsed.format !== STATE_FORMAT) throw new Error(`${file}: not an ${STATE_FORMAT} state file`);
  return parsed as NodeState;
}

function writeNodeState(state: NodeState): void {
  const file = nodeLayout(state.stateDir).stateFile;
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

function ownerAlive(state: NodeState): boolean {
  if (state.owner === null || !isAlive(state.owner.pid)) return false;
  const ticks = processStartTicks(state.owner.pid);
  return state.owner.startTicks === null || ticks === null || ticks === state.owner.startTicks;
}

/** An owned node lives as long as its owner; a persistent one (owner null, the CLI's) while all its components do. */
function nodeRunning(state: NodeState): boolean {
  if (state.owner !== null) return ownerAlive(state);
  return state.phase === 'running' && state.processes.length > 0 && state.processes.every((p) => isOurProcess(p.pid, `${state.stateDir}/`));
}

/** The state directory the host-wide lock names, or undefined when no real node holds it. */
export function lockedRealNode(): string | undefined {
  try {
    const { stateDir } = JSON.parse(readFileSync(REAL_NODE_LOCK, 'utf8')) as { stateDir?: string };
    return typeof stateDir === 'string' ? stateDir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the host-wide lock for stateDir. A lock whose node is gone (dead processes, no live owner) is taken
 * over after that node's leftovers are removed; a live one is an error that says where it runs.
 */
async function acquireLock(stateDir: string, onProgress: (line: string) => void): Promise<void> {
  for (let attempts = 0; attempts < 3; attempts++) {
    try {
      writeFileSync(REAL_NODE_LOCK, `${JSON.stringify({ stateDir, pid: process.pid })}\n`, { flag: 'wx', mode: 0o600 });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = lockedRealNode();
    let state: NodeState | undefined;
    try {
      state = holder !== undefined ? readNodeState(holder) : undefined;
    } catch {
      state = undefined;
    }
    if (holder !== undefined && state !== undefined && nodeRunning(state)) {
      throw new Error(
        `a real node is already running on this machine (node ${state.nodeName}, state ${holder}); one real node per machine: stop it first (npm run cluster -- down)`,
      );
    }
    if (holder !== undefined && existsSync(holder)) {
      const report = await destroyRealNode(holder);
      onProgress(`cleaned up a stale real node in ${holder}${report.problems.length > 0 ? ` (problems: ${report.problems.join('; ')})` : ''}`);
    }
    rmSync(REAL_NODE_LOCK, { force: true });
  }
  throw new Error(`could not take ${REAL_NODE_LOCK}`);
}

function releaseLock(stateDir: string): void {
  if (lockedRealNode() === stateDir) rmSync(REAL_NODE_LOCK, { force: true });
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

export async function startRealNode(options: StartRealNodeOptions): Promise<RealNode> {
  const t0 = performance.now();
  const onProgress = options.onProgress ?? (() => undefined);
  const deadline = Date.now() + (options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
  const tools = checkRealNodePrerequisites(options.env ?? process.env);
  const { plane } = options;
  if (plane.podNetworkAddress !== HOST_ADDRESS) {
    throw new Error(
      `the control plane in ${plane.stateDir} was started without the real node's pod network (podNetworkAddress ${HOST_ADDRESS}); ` +
        'restart it for the real node (npm run cluster -- down, then up --node real)',
    );
  }
  const nodeName = options.nodeName ?? DEFAULT_NODE_NAME;
  const stateDir = options.stateDir !== undefined ? resolve(options.stateDir) : mkdtempSync(join(tmpdir(), EPHEMERAL_PREFIX));
  const previous = existsSync(stateDir) ? readNodeState(stateDir) : undefined; // throws when it is not ours
  if (previous === undefined && existsSync(stateDir) && readdirSync(stateDir).length > 0) {
    throw new Error(`${stateDir} exists, is not empty and holds no real node state; refusing to use it`);
  }
  // A stopped or crashed node in this directory: cleaned up first (a running one makes the lock refuse).
  if (previous !== undefined && !nodeRunning(previous)) await destroyRealNode(stateDir);
  try {
    await acquireLock(stateDir, onProgress);
  } catch (error) {
    if (options.stateDir === undefined) rmSync(stateDir, { recursive: true, force: true });
    throw error;
  }
  if (existsSync(stateDir)) {
    const mounts = mountsUnder(stateDir);
    if (mounts.length > 0) {
      releaseLock(stateDir);
      throw new Error(`${stateDir} still has mounts (${mounts.join(', ')}); refusing to delete it`);
    }
    rmSync(stateDir, { recursive: true, force: true }); // what a cleaned-up node left (its logs)
  }
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const layout = nodeLayout(stateDir);
  for (const dir of [layout.logDir, layout.pkiDir, layout.cniConfDir, layout.cniIpamDir, layout.kubeletRootDir, layout.podLogsDir]) mkdirSync(dir, { recursive: true });

  let state: NodeState = {
    format: STATE_FORMAT,
    phase: 'starting',
    owner: { pid: process.pid, startTicks: processStartTicks(process.pid) },
    stateDir,
    nodeName,
    planeStateDir: plane.stateDir,
    apiserverPort: plane.ports.apiserver,
    snapshot: await snapshotHost(tools),
    processes: [],
  };
  const save = (patch: Partial<NodeState>): void => {
    state = { ...state, ...patch };
    writeNodeState(state);
  };
  save({});
  const killAll = (): void => stopProcessGroupsSync(state.processes.filter((p) => isOurProcess(p.pid, `${stateDir}/`)).map((p) => p.pid));
  const unregister = onOwnerExit(killAll); // the host's firewall and mounts are left for the next start to clean

  const started: StartedProcess[] = [];
  try {
    await bringUp({ tools, layout, plane, nodeName, deadline, onProgress, started, record: (name, pid) => save({ processes: [...state.processes, { name, pid }] }) });
    save({ phase: 'running', owner: options.persistent === true ? null : state.owner });
    if (options.persistent === true) unregister();
  } catch (error) {
    unregister();
    const report = await destroyRealNode(stateDir, { keepLogs: true });
    const message = error instanceof Error ? error.message : String(error);
    const cleanup = report.problems.length > 0 ? `\n(cleanup problems: ${report.problems.join('; ')})` : '';
    throw new Error(`m87: the real node did not start: ${message}\n(logs kept in ${layout.logDir})${cleanup}`, { cause: error });
  }
  const startSeconds = (performance.now() - t0) / 1000;
  onProgress(`real node ${nodeName} ready in ${startSeconds.toFixed(1)} s`);
  return makeRealNode(state, tools, plane.kubeConfig('admin'), startSeconds, unregister);
}

function makeRealNode(state: NodeState, tools: NodeTools, admin: KubeConfig | undefined, startSeconds: number, unregister: () => void): RealNode {
  const { stateDir, nodeName } = state;
  const layout = nodeLayout(stateDir);
  const pids = Object.fromEntries(state.processes.map((p) => [p.name, p.pid])) as Record<NodeComponent, number>;
  let stopping: Promise<StopReport> | undefined;
  return {
    nodeName,
    stateDir,
    logDir: layout.logDir,
    containerdSocket: layout.containerdSocket,
    ctr: tools.ctr,
    pids,
    images: tools.images,
    hostAddress: HOST_ADDRESS,
    apiserverPodNetworkUrl: `https://${HOST_ADDRESS}:${state.apiserverPort}`,
    startSeconds,
    failIfCrashed: () => {
      for (const name of NODE_COMPONENTS) {
        if (!isOurProcess(pids[name], `${stateDir}/`)) throw new NodeComponentFailedError(name, `is no longer running (pid ${pids[name]})`, layout.logFile(name));
      }
    },
    stop: () => {
      stopping ??= (async () => {
        unregister();
        const report = await destroyRealNode(stateDir);
        // The Node object goes too, so the plane's pod garbage collector removes its Pods.
        if (admin !== undefined) await kubeRequest(admin, { method: 'DELETE', path: `/api/v1/nodes/${nodeName}` }).catch(() => undefined);
        return report;
      })();
      return stopping;
    },
  };
}

/** The real node in stateDir (e.g. one the CLI or a test's global setup started), or undefined. */
export function attachRealNode(stateDir: string, admin?: KubeConfig, env: NodeJS.ProcessEnv = process.env): RealNode | undefined {
  const state = readNodeState(resolve(stateDir));
  if (state?.phase !== 'running') return undefined;
  return makeRealNode(state, checkRealNodePrerequisites(env), admin, 0, () => undefined);
}

/** Whether the real node in stateDir runs: every component alive (or its owner still starting it). */
export function realNodeRunning(stateDir: string): boolean {
  try {
    const state = readNodeState(stateDir);
    return state !== undefined && nodeRunning(state);
  } catch {
    return false;
  }
}

interface BringUpContext {
  readonly tools: NodeTools;
  readonly layout: NodeLayout;
  readonly plane: StartRealNodeOptions['plane'];
  readonly nodeName: string;
  readonly deadline: number;
  readonly onProgress: (line: string) => void;
  readonly started: StartedProcess[];
  readonly record: (name: NodeComponent, pid: number) => void;
}

async function bringUp(ctx: BringUpContext): Promise<void> {
  const { tools, layout, plane, nodeName, onProgress, started } = ctx;
  const remainingMs = (): number => Math.max(ctx.deadline - Date.now(), 1);
  const failIfExited = (): void => {
    for (const proc of started) {
      const exit = proc.exitInfo();
      if (exit !== undefined) {
        const how = exit.signal !== null ? `signal ${exit.signal}` : `exit code ${String(exit.code)}`;
        throw new NodeComponentFailedError(proc.name as NodeComponent, `exited during startup (${how})`, proc.logFile);
      }
    }
  };
  const launch = async (name: NodeComponent, binary: string, args: string[], ready: () => Promise<boolean>, what: string, env?: Record<string, string>): Promise<void> => {
    const t = performance.now();
    const proc = await startProcess({ name, binary, args, logFile: layout.logFile(name), cwd: layout.stateDir, ...(env !== undefined ? { env } : {}) });
    started.push(proc);
    ctx.record(name, proc.pid);
    try {
      await waitUntil(async () => ((await ready()) ? true : undefined), { what, timeoutMs: remainingMs(), intervalMs: 100, abortIf: failIfExited });
    } catch (error) {
      if (error instanceof NodeComponentFailedError) throw error;
      throw new NodeComponentFailedError(name, `did not become ready: ${(error as Error).message}`, layout.logFile(name));
    }
    onProgress(`${name} ready (${seconds(t)})`);
  };

  let t = performance.now();
  await createBridge(tools);
  await forwardApiserver(tools, plane.ports.apiserver);
  onProgress(`bridge ${BRIDGE} (${HOST_ADDRESS}/${POD_PREFIX_LENGTH}) and the API server's pod-network address ready (${seconds(t)})`);

  t = performance.now();
  await writeCredentials(layout, plane, nodeName);
  writeFileSync(layout.containerdConfig, containerdConfig(layout, { sandboxImage: tools.images.pause.ref, cniBinDir: tools.cniBinDir }));
  writeFileSync(join(layout.cniConfDir, '10-m87.conflist'), cniConfList(layout, SERVICE_CLUSTER_IP_RANGE));
  writeFileSync(layout.kubeletConfig, kubeletConfig(layout, { healthzPort: await freeLoopbackPort() }));
  onProgress(`certificates and configuration written (${seconds(t)})`);

  await launch(
    'containerd',
    tools.containerd,
    ['--config', layout.containerdConfig, '--log-level', 'warn'],
    async () => (await attempt(tools.ctr, ['--address', layout.containerdSocket, 'version'])) === undefined,
    `containerd on ${layout.containerdSocket}`,
    NO_REGISTRY_ENV,
  );
  t = performance.now();
  for (const image of Object.values(tools.images)) await importNodeImage(tools.ctr, layout.containerdSocket, image);
  onProgress(`images imported: ${Object.values(tools.images).map((i) => i.ref).join(', ')} (${seconds(t)})`);

  const admin = plane.kubeConfig('admin');
  await grantKubeRouter(admin);
  await launch(
    'kubelet',
    tools.kubelet,
    [
      `--config=${layout.kubeletConfig}`,
      `--kubeconfig=${layout.kubeletKubeconfig}`,
      `--root-dir=${layout.kubeletRootDir}`,
      `--hostname-override=${nodeName}`,
      `--node-ip=${HOST_ADDRESS}`,
      '--v=1',
    ],
    () => nodeReady(admin, nodeName),
    `Node ${nodeName} Ready`,
  );
  await launch(
    'kube-router',
    tools.kubeRouter,
    [
      `--kubeconfig=${layout.kubeRouterKubeconfig}`,
      '--run-firewall=true',
      '--run-router=false',
      '--run-service-proxy=false',
      '--enable-ipv6=false',
      `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
      '--health-port=0',
      '--metrics-port=0',
      `--hostname-override=${nodeName}`,
      '--v=1',
    ],
    async () => (await run(tools.iptablesSave, ['-t', 'filter'])).stdout.includes(':KUBE-ROUTER-FORWARD'),
    'kube-router\'s firewall chains',
  );
}

async function createBridge(tools: NodeTools): Promise<void> {
  if (existsSync(`/sys/class/net/${BRIDGE}`)) await run(tools.ip, ['link', 'del', BRIDGE]); // a crashed node's
  await run(tools.ip, ['link', 'add', BRIDGE, 'type', 'bridge']);
  await run(tools.ip, ['addr', 'add', `${HOST_ADDRESS}/${POD_PREFIX_LENGTH}`, 'dev', BRIDGE]);
  await run(tools.ip, ['link', 'set', BRIDGE, 'up']);
  // Lets packets arriving on this bridge (only) be delivered to a loopback address after DNAT: the API server
  // listens on 127.0.0.1. Goes away with the bridge; host-wide settings (ip_forward) are never touched.
  writeFileSync(`/proc/sys/net/ipv4/conf/${BRIDGE}/route_localnet`, '1');
}

/**
 * The API server from the pod network, without forwarding and without binding it beyond loopback: packets
 * that arrive on the bridge for the host's address at the API server's port, or for the kubernetes Service
 * (ClusterIP:443; there is no kube-proxy), are DNATed to 127.0.0.1:<port> and delivered locally (INPUT), where
 * kube-router's pod firewall sees them like any other egress of a Pod.
 */
async function forwardApiserver(tools: NodeTools, apiserverPort: number): Promise<void> {
  const to = `127.0.0.1:${apiserverPort}`;
  const rules = [
    '*nat',
    `:${APISERVER_CHAIN} - [0:0]`,
    `-A PREROUTING -i ${BRIDGE} -m comment --comment "m87 real node: API server from the pod network" -j ${APISERVER_CHAIN}`,
    `-A ${APISERVER_CHAIN} -p tcp -d ${HOST_ADDRESS} --dport ${apiserverPort} -j DNAT --to-destination ${to}`,
    `-A ${APISERVER_CHAIN} -p tcp -d ${KUBERNETES_SERVICE_IP} --dport ${KUBERNETES_SERVICE_PORT} -j DNAT --to-destination ${to}`,
    'COMMIT',
  ];
  await run(tools.iptablesRestore, ['--noflush'], { input: `${rules.join('\n')}\n` });
}

async function writeCredentials(layout: NodeLayout, plane: StartRealNodeOptions['plane'], nodeName: string): Promise<void> {
  const pki = planeLayout(plane.stateDir);
  const ca = loadCertificateAuthority(readFileSync(pki.caCert, 'utf8'), readFileSync(pki.caKey, 'utf8'));
  writeFileSync(layout.caCert, plane.caPem);
  const [kubeletClient, kubeletServing, kubeRouterClient] = await Promise.all([
    // Accepted as is by the Node authorizer and NodeRestriction.
    ca.issue({ commonName: `system:node:${nodeName}`, organizations: ['system:nodes'], usage: 'client' }),
    ca.issue({ commonName: nodeName, dnsNames: [nodeName], ipAddresses: [HOST_ADDRESS], usage: 'server' }),
    ca.issue({ commonName: KUBE_ROUTER_IDENTITY, usage: 'client' }),
  ]);
  const secret = { mode: 0o600 } as const;
  const write = (name: string, pair: { certPem: string; keyPem: string }): void => {
    writeFileSync(layout.pem(`${name}.crt`), pair.certPem);
    writeFileSync(layout.pem(`${name}.key`), pair.keyPem, secret);
  };
  write('kubelet-client', kubeletClient);
  write('kubelet-serving', kubeletServing);
  write('kube-router-client', kubeRouterClient);
  const kubeconfig = (path: string, name: string): void =>
    writeKubeconfig(path, {
      clusterName: 'm87-local',
      server: plane.server,
      caPem: plane.caPem,
      users: [{ context: name, clientCertificate: layout.pem(`${name}-client.crt`), clientKey: layout.pem(`${name}-client.key`) }],
      currentContext: name,
    });
  kubeconfig(layout.kubeletKubeconfig, 'kubelet');
  kubeconfig(layout.kubeRouterKubeconfig, 'kube-router');
}

/** What kube-router's firewall controller reads (and the events it writes), nothing more. */
async function grantKubeRouter(admin: KubeConfig): Promise<void> {
  const name = 'm87:real-node:kube-router';
  const create = async (path: string, body: object): Promise<void> => {
    await kubeRequest(admin, { method: 'POST', path, body }).catch((error: unknown) => {
      if ((error as { code?: unknown }).code !== 409) throw error;
    });
  };
  const read = ['get', 'list', 'watch'];
  await create('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    metadata: { name },
    rules: [
      { apiGroups: [''], resources: ['pods', 'namespaces', 'nodes', 'services', 'endpoints'], verbs: read },
      { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: read },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: read },
      { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch', 'update'] },
    ],
  });
  await create('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: KUBE_ROUTER_IDENTITY }],
  });
}

async function nodeReady(admin: KubeConfig, name: string): Promise<boolean> {
  try {
    const node = await kubeRequest<{ status?: { conditions?: { type: string; status: string }[] } }>(admin, { method: 'GET', path: `/api/v1/nodes/${name}` });
    return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/**
 * Stops the real node in stateDir and removes everything it created on the host: processes by PID (the
 * recorded components, the containers in its cgroups, containerd's shims for its socket), mounts, network
 * namespaces, the bridge, iptables chains, ipsets, cgroups and the kubelet/CNI host paths; then its state
 * directory (the logs stay when keepLogs) and the host-wide lock. Works for a crashed node too.
 */
export async function destroyRealNode(stateDir: string, options: { keepLogs?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<StopReport> {
  const t0 = performance.now();
  const layout = nodeLayout(stateDir);
  let state: NodeState | undefined;
  try {
    state = readNodeState(stateDir);
  } catch {
    state = undefined;
  }
  const problems: string[] = [];
  const empty: Leftovers = { chains: [], ipsets: [], netns: [], bridge: false, cgroups: [], hostPaths: [], mounts: [] };
  if (state === undefined) {
    releaseLock(stateDir);
    return { seconds: (performance.now() - t0) / 1000, problems, left: empty };
  }
  let tools: SystemTools;
  try {
    tools = systemToolsForTeardown(options.env ?? process.env);
  } catch (error) {
    throw new Error(`cannot clean up the real node in ${stateDir}: ${(error as Error).message}`, { cause: error });
  }
  const marker = `${stateDir}/`;
  const pid = (name: NodeComponent): number[] => state.processes.filter((p) => p.name === name && isOurProcess(p.pid, marker)).map((p) => p.pid);
  // Clients of containerd first, so nothing recreates containers or firewall rules meanwhile.
  await stopProcessGroups([...pid('kubelet'), ...pid('kube-router')]);
  killCgroupProcesses(state.snapshot);
  await stopProcessGroups(shimProcesses(layout.containerdSocket), 2_000);
  await stopProcessGroups(pid('containerd'));
  problems.push(...(await cleanHost(tools, state.snapshot, stateDir)));
  const left = await leftovers(tools, state.snapshot, stateDir);
  if (left.mounts.length > 0) {
    problems.push(`mounts left under ${stateDir}: ${left.mounts.join(', ')}; the directory is kept`);
  } else if (options.keepLogs === true) {
    for (const entry of readdirSync(stateDir)) if (entry !== 'logs') rmSync(join(stateDir, entry), { recursive: true, force: true });
    writeNodeState({ ...state, phase: 'failed', processes: [] });
  } else {
    rmSync(stateDir, { recursive: true, force: true });
  }
  if (!isClean(left)) problems.push(`left on the host: ${JSON.stringify(left)}`);
  releaseLock(stateDir);
  return { seconds: (performance.now() - t0) / 1000, problems, left };
}

/** The real node the host-wide lock names, if any: destroyed (for `down`, and test teardown). */
export async function destroyLockedRealNode(): Promise<StopReport | undefined> {
  const stateDir = lockedRealNode();
  if (stateDir === undefined) return undefined;
  return destroyRealNode(stateDir);
}
