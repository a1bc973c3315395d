// Registers the process node as a Ready Node, keeps it alive (a Lease in kube-node-lease renewed every
// 10 s, plus a periodic Ready condition refresh) and marks it NotReady when it stops. kube-controller-manager's
// node lifecycle controller then removes (or, once we stop, adds) the not-ready taints like for a kubelet.
import { cpus, hostname, release, totalmem } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { errorCode, getObject, kubeRequest } from '../../src/runtime/kube-http.ts';
import { resourcePath, type KubeObject, type ResourceType } from '../../src/runtime/resource.ts';
import { NODE_HOST_IP } from './pod-status.ts';

export const NODES: ResourceType = { group: '', version: 'v1', plural: 'nodes', namespaced: false, kind: 'Node' };
export const LEASES: ResourceType = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true, kind: 'Lease' };
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
export const PROCESS_NODE_LABEL = 'm87.io/process-node';
export const PROCESS_NODE_VERSION = 'v0.1.0-m87-process-node';

const LEASE_DURATION_SECONDS = 40;
const LEASE_RENEW_MS = 10_000;
const STATUS_REFRESH_MS = 60_000;

export interface NodeResources {
  cpu: string;
  memory: string;
  pods: string;
}

export function defaultResources(): NodeResources {
  return { cpu: String(cpus().length), memory: `${Math.floor(totalmem() / 1024)}Ki`, pods: '110' };
}

/** metav1.MicroTime, as Lease.spec.renewTime requires. */
function microTime(date = new Date()): string {
  return date.toISOString().replace(/Z$/, '000Z');
}

function nodeStatus(nodeName: string, resources: NodeResources, ready: boolean, transition: string, kubeletPort: number): Record<string, unknown> {
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const cond = (type: string, status: boolean, reason: string, message: string): Record<string, unknown> => ({
    type,
    status: status ? 'True' : 'False',
    reason,
    message,
    lastHeartbeatTime: now,
    lastTransitionTime: transition,
  });
  return {
    capacity: { ...resources },
    allocatable: { ...resources },
    addresses: [
      { type: 'InternalIP', address: NODE_HOST_IP },
      { type: 'Hostname', address: nodeName },
    ],
    conditions: [
      cond('MemoryPressure', false, 'KubeletHasSufficientMemory', 'process node: memory is not managed'),
      cond('DiskPressure', false, 'KubeletHasNoDiskPressure', 'process node: disk is not managed'),
      cond('PIDPressure', false, 'KubeletHasSufficientPID', 'process node: PIDs are not managed'),
      ready
        ? cond('Ready', true, 'KubeletReady', 'M87 process node is ready (dev/test only)')
        : cond('Ready', false, 'ProcessNodeStopped', 'M87 process node stopped'),
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: kubeletPort } },
    nodeInfo: {
      machineID: '',
      systemUUID: '',
      bootID: '',
      kernelVersion: release(),
      osImage: `m87 process node on ${hostname()}`,
      containerRuntimeVersion: 'process://0.1.0',
      kubeletVersion: PROCESS_NODE_VERSION,
      kubeProxyVersion: '',
      operatingSystem: 'linux',
      architecture: process.arch === 'x64' ? 'amd64' : process.arch,
    },
  };
}

export interface NodeRegistration {
  readonly uid: string;
  stop(opts: { deleteNode: boolean }): Promise<void>;
}

export async function registerNode(opts: {
  kc: KubeConfig;
  /** Where the node serves container logs to the API server (pods/log); 0: nowhere. */
  kubeletPort?: number;
  nodeName: string;
  resources: NodeResources;
  labels?: Record<string, string>;
  log: Logger;
}): Promise<NodeRegistration> {
  const { kc, nodeName, resources, log } = opts;
  const labels = {
    'kubernetes.io/hostname': nodeName,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': process.arch === 'x64' ? 'amd64' : process.arch,
    [PROCESS_NODE_LABEL]: 'true',
    ...opts.labels,
  };
  const transition = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const nodePath = resourcePath(NODES, { name: nodeName });
  let node = await getObject(kc, NODES, { name: nodeName });
  if (node === undefined) {
    node = await kubeRequest<KubeObject>(kc, {
      method: 'POST',
      path: resourcePath(NODES),
      body: { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName, labels }, spec: {} },
    });
    log.info('Node registered');
  } else {
    node = await kubeRequest<KubeObject>(kc, {
      method: 'PATCH',
      path: nodePath,
      contentType: 'application/merge-patch+json',
      body: { metadata: { labels }, spec: { unschedulable: false } },
    });
    log.info('Node exists; taking it over');
  }
  const uid = node.metadata.uid ?? '';
  const writeStatus = async (ready: boolean): Promise<void> => {
    await kubeRequest(kc, {
      method: 'PATCH',
      path: `${nodePath}/status`,
      contentType: 'application/merge-patch+json',
      body: { status: nodeStatus(nodeName, resources, ready, transition, opts.kubeletPort ?? 0) },
    });
  };
  await writeStatus(true);

  const leasePath = resourcePath(LEASES, { namespace: NODE_LEASE_NAMESPACE, name: nodeName });
  const renewLease = async (): Promise<void> => {
    const spec = { holderIdentity: nodeName, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: microTime() };
    try {
      await kubeRequest(kc, { method: 'PATCH', path: leasePath, contentType: 'application/merge-patch+json', body: { spec } });
    } catch (err) {
      if (errorCode(err) !== 404) throw err;
      await kubeRequest(kc, {
        method: 'POST',
        path: resourcePath(LEASES, { namespace: NODE_LEASE_NAMESPACE }),
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name: nodeName,
            namespace: NODE_LEASE_NAMESPACE,
            ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid }],
          },
          spec,
        },
      });
    }
  };
  await renewLease();

  const heartbeat = (what: string, fn: () => Promise<void>) => () => {
    fn().catch((err: unknown) => log.warn({ err }, `Node ${what} failed; retrying at the next beat`));
  };
  const leaseTimer = setInterval(heartbeat('lease renewal', renewLease), LEASE_RENEW_MS);
  const statusTimer = setInterval(heartbeat('status refresh', () => writeStatus(true)), STATUS_REFRESH_MS);
  leaseTimer.unref();
  statusTimer.unref();

  return {
    uid,
    async stop({ deleteNode }): Promise<void> {
      clearInterval(leaseTimer);
      clearInterval(statusTimer);
      try {
        if (deleteNode) {
          await kubeRequest(kc, { method: 'DELETE', path: nodePath });
          await kubeRequest(kc, { method: 'DELETE', path: leasePath }).catch(() => undefined);
          log.info('Node deleted');
        } else {
          await writeStatus(false);
          log.info('Node marked NotReady');
        }
      } catch (err) {
        if (errorCode(err) !== 404) throw err;
      }
    },
  };
}
