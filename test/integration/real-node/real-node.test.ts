// The real node (dev/cluster/real-node) on the local control plane: Pods of the project's own locally built
// image run in containerd; the API server reads their logs through the kubelet (its client certificate,
// authorized by the kubelet through the API server); NetworkPolicy is enforced by kube-router between
// pod-network endpoints; the API server is reachable from the pod network (kubernetes Service and the
// bridge address) unless a Pod's NetworkPolicy denies it; a crashed component is reported with its log tail;
// and stopping the node leaves nothing behind on the host. Every address contacted is on the node's own
// bridge (10.239.0.0/24) or the plane's Service IP routed to it.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { attachControlPlane } from '../../../dev/cluster/plane.ts';
import { nodeImages } from '../../../dev/cluster/real-node/images.ts';
import { HOST_ADDRESS, KUBERNETES_SERVICE_IP, POD_SUBNET } from '../../../dev/cluster/real-node/network.ts';
import { attachRealNode, destroyRealNode, lockedRealNode, NO_REGISTRY_PROXY, NodeComponentFailedError, startRealNode, type RealNode } from '../../../dev/cluster/real-node/real-node.ts';
import { kubepodsCgroups, shimProcesses } from '../../../dev/cluster/real-node/host-state.ts';
import { nodeLayout } from '../../../dev/cluster/real-node/layout.ts';
import { isAlive } from '../../../dev/cluster/supervisor.ts';
import { isNotFound, kubeRequest } from '../../../src/runtime/kube-http.ts';
import { waitFor } from '../../support/kube.ts';

const tier = inject('m87RealNode');
const available = tier.available;
const SERVER_PORT = 8080;
/** kube-router programs a new Pod's firewall shortly after it starts; probes wait this long first. */
const SETTLE_MS = '2500';

interface PodOutcome {
  readonly phase: string;
  readonly exitCode: number | undefined;
  readonly log: string;
}

describe.skipIf(!available)('the real node', () => {
  if (!tier.available) return;
  const admin = new KubeConfig();
  admin.loadFromFile(tier.kubeconfigPath);
  const core = admin.makeApiClient(CoreV1Api);
  const namespace = `real-node-${randomBytes(3).toString('hex')}`;
  const image = nodeImages().netcheck.ref;
  let serverIp = '';
  let apiserverPort = 0;

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await waitFor(() => core.readNamespacedServiceAccount({ name: 'default', namespace }).catch(() => undefined), { what: 'the default ServiceAccount' });
    apiserverPort = attachControlPlane(tier.planeStateDir)?.ports.apiserver ?? 0;
  });
  afterAll(async () => {
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  function pod(name: string, args: string[], options: { labels?: Record<string, string>; env?: Record<string, string>; token?: boolean } = {}): object {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, labels: { app: name, ...options.labels } },
      spec: {
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 1,
        automountServiceAccountToken: options.token === true,
        containers: [
          {
            name: 'netcheck',
            image,
            imagePullPolicy: 'Never',
            args,
            env: Object.entries(options.env ?? {}).map(([k, value]) => ({ name: k, value })),
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
          },
        ],
      },
    };
  }

  async function createPod(body: object): Promise<void> {
    await kubeRequest(admin, { method: 'POST', path: `/api/v1/namespaces/${namespace}/pods`, body });
  }

  /** Runs a Pod to completion; its log is read through the API server, which fetches it from the kubelet. */
  async function runToCompletion(name: string, args: string[], options: Parameters<typeof pod>[2] = {}): Promise<PodOutcome> {
    await createPod(pod(name, args, options));
    const done = await waitFor(
      async () => {
        const p = await core.readNamespacedPod({ name, namespace });
        return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p : undefined;
      },
      { what: `Pod ${name} to finish`, timeoutMs: 60_000, intervalMs: 200 },
    );
    const log = await core.readNamespacedPodLog({ name, namespace });
    return { phase: done.status?.phase ?? '', exitCode: done.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, log: String(log).trim() };
  }

  async function networkPolicy(name: string, spec: object): Promise<void> {
    await kubeRequest(admin, { method: 'POST', path: `/apis/networking.k8s.io/v1/namespaces/${namespace}/networkpolicies`, body: { metadata: { name, namespace }, spec } });
  }

  it('runs a Pod of the locally built image: a server Pod Running on the pod network, a client Pod Succeeded, its log read through the kubelet', async () => {
    await createPod(pod('server', ['serve', String(SERVER_PORT)], { labels: { role: 'server' } }));
    const server = await waitFor(
      async () => {
        const p = await core.readNamespacedPod({ name: 'server', namespace });
        return p.status?.phase === 'Running' && p.status.podIP !== undefined ? p : undefined;
      },
      { what: 'the server Pod Running', timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(server.spec?.nodeName).toBe(tier.nodeName);
    serverIp = server.status?.podIP ?? '';
    expect(serverIp.startsWith(POD_SUBNET.slice(0, POD_SUBNET.lastIndexOf('.')))).toBe(true);
    const client = await runToCompletion('client-open', ['connect', `${serverIp}:${SERVER_PORT}`, '3000']);
    expect(client).toEqual({ phase: 'Succeeded', exitCode: 0, log: 'connected: netcheck server' });
    // Pods share one bridge: no forwarding is involved, and host-wide IP forwarding stays off.
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe('0');
  });

  it('never pulls: a Pod whose image is not on the node fails to pull through the closed loopback proxy, reaching no registry', async () => {
    // A registry on the node's own bridge address: without the proxy containerd would dial it directly.
    const absent = `${HOST_ADDRESS}:5000/m87/absent:1`;
    const body = pod('absent-image', ['serve', '1']) as { spec: { containers: { image: string; imagePullPolicy: string }[] } };
    body.spec.containers = body.spec.containers.map((c) => ({ ...c, image: absent, imagePullPolicy: 'IfNotPresent' }));
    await createPod(body);
    const waiting = await waitFor(
      async () => {
        const p = await core.readNamespacedPod({ name: 'absent-image', namespace });
        const state = p.status?.containerStatuses?.[0]?.state?.waiting;
        return state?.reason === 'ErrImagePull' || state?.reason === 'ImagePullBackOff' ? state : undefined;
      },
      { what: 'the Pod to report that it cannot pull', timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(waiting.message).toMatch(new RegExp(`${NO_REGISTRY_PROXY.replace('http://', 'proxyconnect tcp: dial tcp ')}: connect: connection refused`));
  });

  describe('NetworkPolicy enforced by kube-router between pod-network endpoints', () => {
    it('default-deny egress: the client cannot connect to the server Pod', async () => {
      await networkPolicy('deny-egress', { podSelector: { matchLabels: { policy: 'deny-egress' } }, policyTypes: ['Egress'] });
      const client = await runToCompletion('client-denied', ['connect', `${serverIp}:${SERVER_PORT}`, '2000', SETTLE_MS], { labels: { policy: 'deny-egress' } });
      expect(client.phase).toBe('Failed');
      expect(client.log).toMatch(/^connect failed: .*(i\/o timeout|connection refused)/);
    });

    it('an egress rule to the server Pod on its port opens exactly that; a rule for another port keeps it closed', async () => {
      await networkPolicy('allow-server', {
        podSelector: { matchLabels: { policy: 'allow-server' } },
        policyTypes: ['Egress'],
        egress: [{ to: [{ podSelector: { matchLabels: { role: 'server' } } }], ports: [{ protocol: 'TCP', port: SERVER_PORT }] }],
      });
      await networkPolicy('allow-wrong-port', {
        podSelector: { matchLabels: { policy: 'allow-wrong-port' } },
        policyTypes: ['Egress'],
        egress: [{ to: [{ podSelector: { matchLabels: { role: 'server' } } }], ports: [{ protocol: 'TCP', port: SERVER_PORT + 1 }] }],
      });
      const allowed = await runToCompletion('client-allowed', ['connect', `${serverIp}:${SERVER_PORT}`, '3000', SETTLE_MS], { labels: { policy: 'allow-server' } });
      const wrongPort = await runToCompletion('client-wrong-port', ['connect', `${serverIp}:${SERVER_PORT}`, '2000', SETTLE_MS], { labels: { policy: 'allow-wrong-port' } });
      expect({ allowed: allowed.phase, wrongPort: wrongPort.phase }).toEqual({ allowed: 'Succeeded', wrongPort: 'Failed' });
      expect(allowed.log).toBe('connected: netcheck server');
    });

    it('default-deny ingress on the server: an unrestricted client cannot connect', async () => {
      await networkPolicy('server-deny-ingress', { podSelector: { matchLabels: { role: 'server' } }, policyTypes: ['Ingress'] });
      // kube-router updates the running server's chain asynchronously: wait until it holds.
      let last: PodOutcome | undefined;
      for (let round = 0; round < 3; round++) {
        last = await runToCompletion(`client-ingress-${round}`, ['connect', `${serverIp}:${SERVER_PORT}`, '2000', SETTLE_MS]);
        if (last.phase === 'Failed') break;
      }
      expect(last?.phase).toBe('Failed');
      await kubeRequest(admin, { method: 'DELETE', path: `/apis/networking.k8s.io/v1/namespaces/${namespace}/networkpolicies/server-deny-ingress` });
    });
  });

  describe('the API server from the pod network', () => {
    it('the kubernetes Service\'s endpoints are the host\'s pod-network address', async () => {
      const slices = await kubeRequest<{ items: { endpoints?: { addresses: string[] }[]; ports?: { port?: number }[] }[] }>(admin, {
        method: 'GET',
        path: '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices',
        query: { labelSelector: 'kubernetes.io/service-name=kubernetes' },
      });
      expect(slices.items.flatMap((s) => s.endpoints?.flatMap((e) => e.addresses) ?? [])).toEqual([HOST_ADDRESS]);
      expect(slices.items.flatMap((s) => s.ports?.map((p) => p.port) ?? [])).toEqual([apiserverPort]);
    });

    it('a Pod without a deny policy reaches it with its ServiceAccount token and in-cluster config (Service IP and bridge address)', async () => {
      const viaService = await runToCompletion('incluster-service', ['whoami', '5000'], { token: true });
      const viaBridge = await runToCompletion('incluster-bridge', ['whoami', '5000'], {
        token: true,
        env: { KUBERNETES_SERVICE_HOST: HOST_ADDRESS, KUBERNETES_SERVICE_PORT: String(apiserverPort) },
      });
      const expected = { phase: 'Succeeded', exitCode: 0, log: `authenticated as system:serviceaccount:${namespace}:default` };
      expect({ viaService, viaBridge }).toEqual({ viaService: expected, viaBridge: expected });
    });

    it('a Pod under a default-deny egress policy cannot reach it (blocked by its NetworkPolicy, not by addressing)', async () => {
      await networkPolicy('deny-egress-api', { podSelector: { matchLabels: { policy: 'deny-egress-api' } }, policyTypes: ['Egress'] });
      const viaService = await runToCompletion('denied-service', ['whoami', '2000', SETTLE_MS], { token: true, labels: { policy: 'deny-egress-api' } });
      const viaBridge = await runToCompletion('denied-bridge', ['whoami', '2000', SETTLE_MS], {
        token: true,
        labels: { policy: 'deny-egress-api' },
        env: { KUBERNETES_SERVICE_HOST: HOST_ADDRESS, KUBERNETES_SERVICE_PORT: String(apiserverPort) },
      });
      expect({ service: viaService, bridge: viaBridge }).toMatchObject({ service: { phase: 'Failed' }, bridge: { phase: 'Failed' } });
      // The same Pods without the policy got through (previous test): kube-router rejects (or drops) the
      // connection, the request never reaches the API server.
      expect(viaService.log).toMatch(new RegExp(`^request failed: .*${KUBERNETES_SERVICE_IP.replace(/\./g, '\\.')}.*(connection refused|Timeout|timeout)`));
      expect(viaBridge.log).toMatch(new RegExp(`^request failed: .*${HOST_ADDRESS.replace(/\./g, '\\.')}.*(connection refused|Timeout|timeout)`));
    });
  });

  describe('one real node per machine, faults and teardown', () => {
    let node: RealNode | undefined;

    it('a second real node is refused and says why', async () => {
      const plane = attachControlPlane(tier.planeStateDir);
      if (plane === undefined) throw new Error('the plane is not running');
      await expect(startRealNode({ plane })).rejects.toThrow(/a real node is already running on this machine .*one real node per machine/);
    });

    it('a crashed kubelet is reported with its log tail', async () => {
      node = attachRealNode(tier.nodeStateDir, admin);
      if (node === undefined) throw new Error('the real node is not running');
      node.failIfCrashed();
      process.kill(node.pids.kubelet, 'SIGKILL');
      await waitFor(() => !isAlive(node?.pids.kubelet ?? 0), { what: 'the kubelet to die' });
      let failure: unknown;
      try {
        node.failIfCrashed();
      } catch (error) {
        failure = error;
      }
      expect(failure).toBeInstanceOf(NodeComponentFailedError);
      expect((failure as NodeComponentFailedError).component).toBe('kubelet');
      expect((failure as Error).message).toMatch(/kubelet is no longer running .*last log lines .*kubelet\.log\):\n {2}\| /s);
      expect((failure as NodeComponentFailedError).logTail.length).toBeGreaterThan(0);
    });

    it('a crashed containerd is reported with its log tail', async () => {
      if (node === undefined) throw new Error('no node from the previous test');
      process.kill(node.pids.containerd, 'SIGKILL');
      await waitFor(() => !isAlive(node?.pids.containerd ?? 0), { what: 'containerd to die' });
      expect(() => node?.failIfCrashed()).toThrow(/^containerd is no longer running .*last log lines .*containerd\.log\)/s);
    });

    it('stopping it (kubelet and containerd dead, Pods still running) leaves no process, chain, ipset, bridge, netns, mount, cgroup or host path behind', async () => {
      if (node === undefined) throw new Error('no node from the previous test');
      const socket = nodeLayout(tier.nodeStateDir).containerdSocket;
      const shims = shimProcesses(socket);
      expect(shims.length).toBeGreaterThan(0); // the server Pod is still running
      const report = await destroyRealNode(tier.nodeStateDir);
      process.stderr.write(`m87 real node: down in ${report.seconds.toFixed(1)} s\n`);
      expect(report.problems).toEqual([]);
      expect(report.left).toEqual({ chains: [], ipsets: [], netns: [], bridge: false, cgroups: [], hostPaths: [], mounts: [] });
      expect(Object.values(node.pids).filter(isAlive)).toEqual([]);
      expect(shims.filter(isAlive)).toEqual([]);
      expect(kubepodsCgroups()).toEqual([]);
      expect(existsSync(tier.nodeStateDir)).toBe(false);
    });

    it('a start that fails reports the failing component with its log tail, and leaves nothing on the host', async () => {
      const plane = attachControlPlane(tier.planeStateDir);
      if (plane === undefined) throw new Error('the plane is not running');
      const stateDir = mkdtempSync(join(tmpdir(), 'm87-real-node-fail-'));
      try {
        // Hardly anything becomes ready within 1 ms: the first component that does not fails the start.
        const failure = await startRealNode({ plane, stateDir, readyTimeoutMs: 1 }).then(
          () => undefined,
          (error: unknown) => error as Error,
        );
        expect(failure?.message).toMatch(/^m87: the real node did not start: (containerd|kubelet|kube-router) did not become ready: .*last log lines \(.*\/logs\/\1\.log\):/s);
        expect(failure?.message).toContain(`(logs kept in ${stateDir}/logs)`);
        expect(lockedRealNode()).toBeUndefined();
        expect(kubepodsCgroups()).toEqual([]);
        expect(existsSync('/sys/class/net/m87br0')).toBe(false);
      } finally {
        await destroyRealNode(stateDir);
        rmSync(stateDir, { recursive: true, force: true });
      }
    });

    it('starts again on the same plane after that (and the Node is Ready)', async () => {
      const plane = attachControlPlane(tier.planeStateDir);
      if (plane === undefined) throw new Error('the plane is not running');
      const again = await startRealNode({ plane, stateDir: tier.nodeStateDir, persistent: true });
      process.stderr.write(`m87 real node: up again in ${again.startSeconds.toFixed(1)} s\n`);
      again.failIfCrashed();
      const outcome = await runToCompletion('after-restart', ['connect', `${HOST_ADDRESS}:1`, '1000']).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
      // Nothing listens on the host's port 1: refused, i.e. the Pod ran and reached the bridge.
      expect(outcome?.log).toMatch(/connect failed: .*connection refused/);
    });
  });
});
