// The process node (dev and test only): a small kubelet substitute that registers a Node and runs each Pod the
// real scheduler binds to it as a local process in its own network namespace. See docs/dev/pod-contract.md.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { Informer } from '../../src/runtime/informer.ts';
import { createEgressPolicy } from './egress-policy.ts';
import { hostCommand } from './host-exec.ts';
import { startLogServer } from './log-server.ts';
import { defaultImageMap, type ImageMapping } from './image-map.ts';
import { defaultResources, registerNode, type NodeResources } from './node-registration.ts';
import { podLayout, podsDir } from './pod-layout.ts';
import { PodNetworks, type PodNetworkOptions } from './pod-network.ts';
import { PODS } from './pod-status.ts';
import type { PodLike } from './pod-types.ts';
import { PodWorker } from './pod-worker.ts';
import { readTail } from './termination-message.ts';

export const DEFAULT_NODE_NAME = 'm87-process-node';
const MAX_LOG_BYTES = 1024 * 1024;

export interface ProcessNodeOptions {
  /** Credentials the node acts with (needs nodes, leases, pods, pods/status, configmaps, networkpolicies). */
  readonly kubeConfig: KubeConfig;
  /** Default 'm87-process-node'. */
  readonly nodeName?: string;
  /** Host directory for Pod dirs, logs and markers; keep it across restarts of the node. */
  readonly stateDir: string;
  /** Images the node can "run"; default: the M87 image → this checkout's CLI. */
  readonly imageMap?: readonly ImageMapping[];
  /** The API server's loopback address, given to Pods as KUBERNETES_SERVICE_HOST/PORT. */
  readonly apiServer: { readonly host: string; readonly port: number };
  readonly network?: PodNetworkOptions;
  readonly resources?: NodeResources;
  readonly labels?: Record<string, string>;
  /** On stop(): delete the Node object instead of marking it NotReady. Default false. */
  readonly deleteNodeOnStop?: boolean;
  /** Grace for running containers when the node stops. Default 5 s. */
  readonly shutdownGraceSeconds?: number;
  readonly logger?: Logger;
  /** Observes container start latency (first sight of the bound Pod → process spawned). */
  readonly onContainerStarted?: (pod: PodLike, latencyMs: number) => void;
}

export interface ProcessNode {
  readonly nodeName: string;
  /** stdout and stderr of a Pod's container (the last 1 MiB of each); undefined when the Pod is unknown here. */
  logs(pod: { metadata: { uid?: string } }, container?: string): { stdout: string; stderr: string } | undefined;
  /** Stops watching, kills running containers (their Pods become Failed/NodeShutdown), marks the Node NotReady. */
  stop(): Promise<void>;
}

/** The cluster CA (PEM) from the node's kubeconfig: the CA that issued the API server's kubelet client certificate. */
function clusterCaPem(kc: KubeConfig): string {
  const cluster = kc.getCurrentCluster();
  if (cluster?.caData !== undefined) return Buffer.from(cluster.caData, 'base64').toString('utf8');
  if (cluster?.caFile !== undefined) return readFileSync(cluster.caFile, 'utf8');
  throw new Error('process node: the kubeconfig names no cluster CA (needed to accept the API server at the log endpoint)');
}

async function which(tool: string): Promise<string> {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin']) {
    const path = join(dir, tool);
    if (existsSync(path)) return path;
  }
  const out = await hostCommand('sh', ['-c', `command -v ${tool}`]).catch(() => '');
  if (out.trim() === '') throw new Error(`process node: required tool ${tool} not found (util-linux / iproute2)`);
  return out.trim();
}

/** Pod users must traverse the state dir: every ancestor needs the execute bit for others. */
function prepareStateDir(stateDir: string): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o711 });
  chmodSync(stateDir, statSync(stateDir).mode | 0o711);
  for (let dir = dirname(stateDir); dir !== dirname(dir); dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) {
      throw new Error(`stateDir: ${dir} (an ancestor of ${stateDir}) is not searchable by other users; Pods run as their own uid and could not reach their files`);
    }
  }
  mkdirSync(podsDir(stateDir), { recursive: true, mode: 0o711 });
}

export async function startProcessNode(options: ProcessNodeOptions): Promise<ProcessNode> {
  if (process.getuid?.() !== 0) throw new Error('process node: must run as root (network namespaces, per-Pod users)');
  const nodeName = options.nodeName ?? DEFAULT_NODE_NAME;
  const stateDir = resolve(options.stateDir);
  const log = (options.logger ?? pino({ level: 'info' })).child({ component: 'process-node', node: nodeName });
  const kc = options.kubeConfig;
  prepareStateDir(stateDir);
  const tools = { nsenter: await which('nsenter'), setpriv: await which('setpriv') };
  await which('ip');
  const networks = new PodNetworks(nodeName, options.network);
  const egress = networks.mode === 'veth' ? await createEgressPolicy({ kc, networks, log }) : undefined;

  // A previous run that died left namespaces (maybe with processes): kill and remove them before anything
  // else, so the Pods they belonged to are marked NodeRestarted with nothing of them still running.
  for (const name of networks.leftovers()) {
    log.warn({ netns: name }, 'Removing a network namespace left by an earlier run');
    await networks.destroy(name);
  }

  // pods/log: the API server asks the node (kubeletEndpoint) for a container's log.
  let findPod: (namespace: string, name: string) => PodLike | undefined = () => undefined;
  const logServer = await startLogServer({
    clientCaPem: clusterCaPem(kc),
    readLog: (namespace, name, container) => {
      const pod = findPod(namespace, name);
      const logs = pod === undefined ? undefined : nodeLogs(pod, container);
      return logs === undefined ? undefined : logs.stdout + logs.stderr;
    },
  });
  const registration = await registerNode({ kc, kubeletPort: logServer.port, nodeName, resources: options.resources ?? defaultResources(), labels: options.labels ?? {}, log });
  const workers = new Map<string, PodWorker>();
  const ctx = {
    kc,
    stateDir,
    binDir: join(stateDir, 'bin'),
    imageMap: options.imageMap ?? defaultImageMap(),
    apiServer: options.apiServer,
    networks,
    egress,
    tools,
    log,
    ...(options.onContainerStarted ? { onStarted: options.onContainerStarted } : {}),
  };
  let stopping = false;
  const informer = new Informer<PodLike>({
    kubeConfig: kc,
    resource: PODS,
    fieldSelector: `spec.nodeName=${nodeName}`,
    logger: log,
    // Bound Pods must be seen promptly: restart a silent watch sooner than the default.
    watchdogMs: 90_000,
  });
  function nodeLogs(pod: { metadata: { uid?: string } }, container?: string): { stdout: string; stderr: string } | undefined {
    const uid = pod.metadata.uid;
    if (uid === undefined || !existsSync(podLayout(stateDir, uid).dir)) return undefined;
    const layout = podLayout(stateDir, uid);
    const name = container ?? informer.list().find((p) => p.metadata.uid === uid)?.spec.containers[0]?.name ?? readdirSync(join(layout.dir, 'containers'))[0];
    if (name === undefined) return undefined;
    return { stdout: readTail(layout.stdoutLog(name), MAX_LOG_BYTES), stderr: readTail(layout.stderrLog(name), MAX_LOG_BYTES) };
  }
  const onPod = (pod: PodLike): void => {
    const uid = pod.metadata.uid;
    if (uid === undefined || stopping) return;
    let worker = workers.get(uid);
    if (worker === undefined) {
      worker = new PodWorker(pod, ctx);
      workers.set(uid, worker);
    }
    worker.update(pod);
  };
  informer.addHandlers({
    onAdd: onPod,
    onUpdate: (_old, pod) => onPod(pod),
    onDelete: (pod) => {
      const uid = pod.metadata.uid;
      const worker = uid === undefined ? undefined : workers.get(uid);
      if (worker === undefined || uid === undefined) return;
      workers.delete(uid);
      worker.gone();
    },
  });
  informer.start();
  await informer.waitForSync({ timeoutMs: 60_000 });
  findPod = (namespace, name) => informer.getByName(namespace, name);

  // Pod dirs of Pods that no longer exist (deleted while the node was down).
  const known = new Set(informer.list().map((p) => p.metadata.uid));
  for (const uid of readdirSync(podsDir(stateDir))) {
    if (!known.has(uid)) rmSync(join(podsDir(stateDir), uid), { recursive: true, force: true });
  }
  log.info({ pods: informer.size(), networkMode: networks.mode }, 'Process node ready');

  let stopped: Promise<void> | undefined;
  return {
    nodeName,
    logs: nodeLogs,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        await informer.stop();
        const grace = options.shutdownGraceSeconds ?? 5;
        await Promise.all([...workers.values()].map((w) => w.shutdown(grace)));
        await registration.stop({ deleteNode: options.deleteNodeOnStop === true });
        await logServer.close();
        log.info('Process node stopped');
      })();
      return stopped;
    },
  };
}
