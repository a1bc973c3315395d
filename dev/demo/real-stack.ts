// The M87 stack as users install it, on the real node (dev/cluster/real-node): the m87 image built offline
// from this checkout and imported into the node's containerd, `helm upgrade --install` of the chart with that
// image by digest, and the controller running in-cluster as the chart's Deployment (its own ServiceAccount
// token, in-cluster config to the API server through the pod-network address, leader election, probes,
// restricted security context). Job Pods are real containers of the same image. The egress target is an
// HTTP server in a network namespace of our own attached to the node's bridge: a pod-network endpoint like a
// Pod (nothing leaves the machine); the fix-the-failing-test repository is served over git smart HTTP from
// the same namespace, and the shipped tools' images are built offline and imported next to the m87 image,
// so step Pods run git, the patch and pytest in real containers. For `npm run demo -- --node real` and the
// e2e-real tier.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { withOwnConnections, type PooledKubeConfig } from '../../src/runtime/connection-pool.ts';
import { kubeRequest } from '../../src/runtime/kube-http.ts';
import type { RealNode } from '../cluster/real-node/real-node.ts';
import { waitUntil } from '../cluster/probe.ts';
import { buildAndImportImage, buildAndImportToolImages, chartImageValues, type ImportedImage } from '../image/index.ts';
import type { ToolImageName } from '../image/tool-images.ts';
import { startBridgeEgressTarget } from './egress-target.ts';
import { makePythonRepo, startGitHttpServerInNetns } from './git-http-server.ts';
import { BRIDGE, POD_PREFIX_LENGTH } from '../cluster/real-node/network.ts';
import { helmUninstall, helmUpgradeInstall } from './helm.ts';
import type { PodView } from './observe.ts';
import {
  allowEgressTo,
  chartValues,
  CONTROLLER_NAMESPACE,
  CONTROLLER_SERVICE_ACCOUNT,
  parseRunnerReport,
  RELEASE,
  RUNNER_CONTAINER,
  setUpAgents,
  step,
  type DemoRepository,
  type Stack,
} from './stack.ts';

export const CONTROLLER_DEPLOYMENT = 'm87-controller';
export const CONTROLLER_LEASE = 'm87-controller';
export const CONTROLLER_POD_SELECTOR = 'app.kubernetes.io/name=m87,app.kubernetes.io/component=controller';
export const METRICS_PORT = 8080;
/** The egress target's address: in the node's pod subnet, above the range the CNI hands to Pods (.10–.250). */
export const EGRESS_TARGET_ADDRESS = '10.239.0.252';

export interface RealStackOptions {
  /** The plane's kubeconfig (contexts admin, alice, bob); the plane was started for the real node. */
  readonly kubeconfigPath: string;
  readonly node: Pick<RealNode, 'nodeName' | 'containerdSocket' | 'hostAddress' | 'failIfCrashed'>;
  readonly jobNamespace: string;
  readonly logLevel?: string;
  readonly onProgress?: (line: string) => void;
}

export interface RealStack extends Stack {
  readonly image: ImportedImage;
  /** The shipped tools' images, imported into the node's containerd at the digests the catalogue pins. */
  readonly toolImages: Readonly<Record<ToolImageName, ImportedImage>>;
  /** The controller Pods of the Deployment (not deleted ones), oldest first. */
  controllerPods(): Promise<PodView[]>;
  /** Waits until a controller Pod is Ready and holds the Lease; its metrics URL (pod IP, reached over the bridge). */
  waitForLeader(timeoutMs?: number, except?: string): Promise<{ pod: string; metricsUrl: string }>;
  /** Uninstalls the release (the cluster-scoped pieces too), after stop(). */
  uninstall(): Promise<void>;
}

interface LeaseView {
  spec?: { holderIdentity?: string };
}

async function controllerPods(admin: KubeConfig): Promise<PodView[]> {
  const list = await kubeRequest<{ items: (PodView & { metadata: { deletionTimestamp?: string } })[] }>(admin, {
    method: 'GET',
    path: `/api/v1/namespaces/${CONTROLLER_NAMESPACE}/pods?labelSelector=${encodeURIComponent(CONTROLLER_POD_SELECTOR)}`,
  });
  return list.items.filter((p) => p.metadata.deletionTimestamp === undefined).sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''));
}

/** The Lease holder's Pod when it is Ready and its /readyz answers 200 and /metrics says m87_leader 1. */
async function leader(admin: KubeConfig, except: string | undefined): Promise<{ pod: string; metricsUrl: string } | undefined> {
  const lease = await kubeRequest<LeaseView>(admin, { method: 'GET', path: `/apis/coordination.k8s.io/v1/namespaces/${CONTROLLER_NAMESPACE}/leases/${CONTROLLER_LEASE}` }).catch(() => undefined);
  const holder = lease?.spec?.holderIdentity;
  if (holder === undefined || holder === '') return undefined;
  const pod = (await controllerPods(admin)).find((p) => holder.startsWith(p.metadata.name) && p.metadata.name !== except);
  const ip = pod?.status?.podIP;
  if (pod === undefined || ip === undefined || ip === '') return undefined;
  const metricsUrl = `http://${ip}:${METRICS_PORT}/metrics`;
  try {
    const ready = (await fetch(metricsUrl.replace(/\/metrics$/, '/readyz'), { signal: AbortSignal.timeout(2000) })).status === 200;
    const body = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(2000) })).text();
    return ready && /^m87_leader 1$/m.test(body) ? { pod: pod.metadata.name, metricsUrl } : undefined;
  } catch {
    return undefined;
  }
}

/** A container's log through the API server (which reads it from the kubelet); '' when there is none yet. */
export async function podLog(kc: KubeConfig, namespace: string, name: string, options: { container?: string; tailLines?: number } = {}): Promise<string> {
  try {
    return String(await kc.makeApiClient(CoreV1Api).readNamespacedPodLog({ name, namespace, ...options }));
  } catch {
    return '';
  }
}

async function controllerLogTail(admin: KubeConfig): Promise<string> {
  const pod = (await controllerPods(admin).catch(() => []))[0];
  if (pod === undefined) return '(no controller Pod)';
  return (await podLog(admin, CONTROLLER_NAMESPACE, pod.metadata.name, { container: 'controller', tailLines: 20 })) || '(no log)';
}

export async function startRealStack(opts: RealStackOptions): Promise<RealStack> {
  const progress = opts.onProgress ?? (() => undefined);
  const pools: PooledKubeConfig[] = [];
  const human = (context: string): PooledKubeConfig => {
    const kc = new KubeConfig();
    kc.loadFromFile(opts.kubeconfigPath);
    kc.setCurrentContext(context);
    const p = withOwnConnections(kc);
    pools.push(p);
    return p;
  };
  const pooled = (kc: KubeConfig): KubeConfig => {
    const p = withOwnConnections(kc);
    pools.push(p);
    return p;
  };
  const closePools = (): Promise<unknown> => Promise.all(pools.map((p) => p.closePool()));
  const admin = human('admin');
  const alice = human('alice');
  const bob = human('bob');
  const image = await step(progress, `m87 image built offline and imported into the node's containerd`, () =>
    buildAndImportImage(opts.node.containerdSocket, { progress: (line) => progress(`  ${line}`) }),
  );
  const toolImages = await step(progress, `tool images (tool-git, tool-python-pytest, tool-curl) built offline at their pinned digests and imported`, () =>
    buildAndImportToolImages(opts.node.containerdSocket, { progress: (line) => progress(`  ${line}`) }),
  );
  const values = {
    ...chartValues(opts.jobNamespace),
    // The Deployment runs on the real node; no nodeSelector keeps it off (unlike the process-node stack).
    controller: { ...chartImageValues(image).controller, logLevel: opts.logLevel ?? 'info' },
  };
  await step(progress, `helm upgrade --install ${RELEASE} charts/m87 (image ${image.reference.slice(0, 40)}…, controller in-cluster)`, () =>
    helmUpgradeInstall({ kubeconfigPath: opts.kubeconfigPath, context: 'admin', release: RELEASE, namespace: CONTROLLER_NAMESPACE, values }),
  );
  const agents = await setUpAgents(progress, admin, pooled, opts.jobNamespace, { alice, bob });
  const egress = await step(progress, `egress target: HTTP server in a network namespace on the node's bridge at ${EGRESS_TARGET_ADDRESS}`, () =>
    startBridgeEgressTarget({ bridge: BRIDGE, address: EGRESS_TARGET_ADDRESS, prefixLength: POD_PREFIX_LENGTH }),
  );
  let repository: DemoRepository | undefined;
  const repoDir = mkdtempSync(join(tmpdir(), 'm87-real-git-'));
  const stopRepository = async (): Promise<void> => {
    await repository?.server.stop();
    rmSync(repoDir, { recursive: true, force: true });
  };
  try {
    repository = await step(progress, `git repository: smart HTTP in the egress target's namespace at ${egress.host} (a Python project with one failing test)`, async () => {
      mkdirSync(join(repoDir, 'calc'));
      const { commit, fix } = makePythonRepo(join(repoDir, 'calc'));
      const server = await startGitHttpServerInNetns(repoDir, { netns: egress.netns!, host: egress.host });
      return { url: server.url('calc'), commit, fix, destination: { host: server.host, port: server.port }, server };
    });
    const allowed = [{ host: egress.host, port: egress.port }, repository.destination];
    await step(progress, `policy default: allowedEgress ${allowed.map((d) => `${d.host}:${d.port}`).join(', ')}`, () => allowEgressTo(admin, allowed));
    const waitForLeader = (timeoutMs = 120_000, except?: string) =>
      waitUntil(() => leader(admin, except), {
        what: `the in-cluster controller (Deployment ${CONTROLLER_NAMESPACE}/${CONTROLLER_DEPLOYMENT}) to lead and be ready`,
        timeoutMs,
        intervalMs: 250,
        abortIf: () => opts.node.failIfCrashed(),
      }).catch(async (err: unknown) => {
        throw new Error(`${err instanceof Error ? err.message : String(err)}; controller log tail:\n${await controllerLogTail(admin)}`);
      });
    const t0 = performance.now();
    const first = await waitForLeader();
    progress(`controller in-cluster (ServiceAccount ${CONTROLLER_NAMESPACE}/${CONTROLLER_SERVICE_ACCOUNT}, Pod ${first.pod}) leading and ready (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    const nodeInfo = await kubeRequest<{ status?: { nodeInfo?: { containerRuntimeVersion?: string; kubeletVersion?: string } } }>(admin, { method: 'GET', path: `/api/v1/nodes/${opts.node.nodeName}` });
    const runtime = nodeInfo.status?.nodeInfo?.containerRuntimeVersion ?? 'unknown runtime';
    const kubelet = nodeInfo.status?.nodeInfo?.kubeletVersion ?? '?';
    let stopping: Promise<void> | undefined;
    return {
      kubeconfigPath: opts.kubeconfigPath,
      repository,
      jobNamespace: opts.jobNamespace,
      nodeName: opts.node.nodeName,
      network: 'kube-router',
      podCidr: '',
      egressDestination: { host: egress.host, port: egress.port },
      egress,
      admin,
      alice,
      bob,
      agents,
      metricsUrl: first.metricsUrl,
      controller: undefined,
      node: undefined,
      nodeStateDir: '',
      nodeDescription: `real node ${opts.node.nodeName}: kubelet ${kubelet}, container runtime ${runtime}, NetworkPolicy by kube-router; job Pods in ${image.repository}@${image.digest.slice(0, 19)}…`,
      image,
      toolImages,
      setFault() {
        throw new Error('the real node cannot play a compromised node (no fault injector between the kubelet and the runner)');
      },
      async runnerReport(pod) {
        return parseRunnerReport(await podLog(admin, opts.jobNamespace, pod.name, { container: RUNNER_CONTAINER }));
      },
      controllerPods: () => controllerPods(admin),
      waitForLeader,
      stop() {
        stopping ??= (async () => {
          await stopRepository();
          await egress.stop();
          await closePools();
        })();
        return stopping;
      },
      async uninstall() {
        await helmUninstall({ kubeconfigPath: opts.kubeconfigPath, context: 'admin', release: RELEASE, namespace: CONTROLLER_NAMESPACE });
      },
    };
  } catch (err) {
    await stopRepository();
    await egress.stop();
    await closePools();
    throw err;
  }
}
