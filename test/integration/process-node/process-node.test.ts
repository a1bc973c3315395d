// The process node against the real local control plane: the real scheduler binds Pods to it, it runs them
// as local processes in their own network namespace and reports their lifecycle in the Pod status.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { formatMap } from '../../../dev/process-node/downward-api.ts';
import { defaultImageMap } from '../../../dev/process-node/image-map.ts';
import { podLayout } from '../../../dev/process-node/pod-layout.ts';
import { startProcessNode, type ProcessNode } from '../../../dev/process-node/process-node.ts';
import type { PodLike } from '../../../dev/process-node/pod-types.ts';
import { getObject, kubeRequest } from '../../../src/runtime/kube-http.ts';
import { resourcePath } from '../../../src/runtime/resource.ts';
import { LEASES, NODES } from '../../../dev/process-node/node-registration.ts';
import { PODS } from '../../../dev/process-node/pod-status.ts';
import { clusterInfo, clusterKubeConfig, testNamespace, waitFor } from '../../support/kube.ts';
import { REPORT, createPod, readPod, testImageMap, testPod, waitForPhase } from './pod-factory.ts';

const kc = clusterKubeConfig('admin');
const server = new URL(clusterInfo().server);
const apiServer = { host: server.hostname, port: Number(server.port) };
const nodeName = `m87-pn-${randomBytes(3).toString('hex')}`;
const ns = await testNamespace('pn');
// The Pods below are what M87 creates: restricted-profile compatible. Enforce it to prove that.
await kubeRequest(kc, {
  method: 'PATCH',
  path: `/api/v1/namespaces/${ns}`,
  contentType: 'application/merge-patch+json',
  body: { metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
});

let node: ProcessNode;
let stateDir: string;
const startLatencies: number[] = [];
const createToRunning: number[] = [];

interface Report {
  [key: string]: unknown;
}

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

function report(pod: PodLike): Report {
  const message = pod.status?.containerStatuses?.[0]?.state.terminated?.message ?? '';
  return JSON.parse(message) as Report;
}

function terminated(pod: PodLike) {
  const t = pod.status?.containerStatuses?.[0]?.state.terminated;
  if (t === undefined) throw new Error(`Pod ${pod.metadata.name} has no terminated container state: ${JSON.stringify(pod.status)}`);
  return t;
}

async function run(options: Parameters<typeof testPod>[0]): Promise<PodLike> {
  await createPod(kc, testPod(options));
  return waitForPhase(kc, options.namespace, options.name, ['Succeeded', 'Failed']);
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'm87-pn-test-'));
  node = await startProcessNode({
    kubeConfig: kc,
    nodeName,
    stateDir,
    imageMap: [...testImageMap, ...defaultImageMap()],
    apiServer,
    logger: pino({ level: process.env.M87_VERBOSE === '1' ? 'debug' : 'warn' }),
    onContainerStarted: (_pod, ms) => startLatencies.push(ms),
    deleteNodeOnStop: true,
  });
});

afterAll(async () => {
  await node?.stop();
  if (startLatencies.length > 0) {
    const sorted = [...startLatencies].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    process.stderr.write(
      `process node: bound Pod seen → process spawned: median ${median.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms (n=${sorted.length}); ` +
        `Pod created → Running observed: ${createToRunning.map((v) => v.toFixed(0)).join(', ')} ms\n`,
    );
  }
  rmSync(stateDir, { recursive: true, force: true });
});

describe('process node', () => {
  it('registers a Ready Node with capacity, addresses and a Lease heartbeat', async () => {
    const nodeObj = await waitFor(
      async () => {
        const n = await getObject<PodLike>(kc, NODES, { name: nodeName });
        const ready = (n?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions?.find((c) => c.type === 'Ready');
        const taints = (n?.spec as { taints?: unknown[] } | undefined)?.taints ?? [];
        return ready?.status === 'True' && taints.length === 0 ? n : undefined;
      },
      { what: `Node ${nodeName} Ready and untainted`, timeoutMs: 45_000 },
    );
    const status = nodeObj.status as { capacity: Record<string, string>; allocatable: Record<string, string>; addresses: { type: string; address: string }[] };
    expect(Object.keys(status.capacity).sort()).toEqual(['cpu', 'memory', 'pods']);
    expect(status.allocatable.pods).toBe('110');
    expect(status.addresses).toContainEqual({ type: 'InternalIP', address: '127.0.0.1' });
    const lease = await getObject<PodLike>(kc, LEASES, { namespace: 'kube-node-lease', name: nodeName });
    expect((lease?.spec as { holderIdentity?: string }).holderIdentity).toBe(nodeName);
  });

  it('runs a bound Pod to Succeeded with exit code, termination message and Running state on the way', async () => {
    const go = join(stateDir, `go-${randomBytes(3).toString('hex')}`);
    const started = performance.now();
    await createPod(
      kc,
      testPod({
        name: 'succeeds',
        namespace: ns,
        nodeName,
        env: [{ name: 'GO_FILE', value: go }],
        script: `${REPORT} const t = setInterval(() => { if (fs.existsSync(process.env.GO_FILE)) { clearInterval(t); fs.writeFileSync(process.env.TERMINATION_LOG, 'all good'); console.log('bye'); } }, 20);`,
      }),
    );
    const running = await waitForPhase(kc, ns, 'succeeds', ['Running', 'Succeeded', 'Failed']);
    createToRunning.push(performance.now() - started);
    expect(running.status?.phase).toBe('Running');
    expect(running.spec.nodeName).toBe(nodeName);
    expect(running.status?.containerStatuses?.[0]?.state.running?.startedAt).toBeTruthy();
    expect(running.status?.podIP).toMatch(/^10\.233\./);
    const conditions = Object.fromEntries((running.status?.conditions ?? []).map((c) => [c.type, c.status]));
    expect(conditions).toMatchObject({ Ready: 'True', ContainersReady: 'True', PodScheduled: 'True', Initialized: 'True' });

    writeFileSync(go, '');
    const done = await waitForPhase(kc, ns, 'succeeds', ['Succeeded', 'Failed']);
    expect(done.status?.phase).toBe('Succeeded');
    const t = terminated(done);
    expect(t).toMatchObject({ exitCode: 0, reason: 'Completed', message: 'all good' });
    expect(t.startedAt).toBeTruthy();
    expect(t.finishedAt).toBeTruthy();
    expect(node.logs(done)?.stdout).toBe('bye\n');
  });

  it('reports a failing command as Failed with its exit code', async () => {
    const pod = await run({ name: 'fails', namespace: ns, nodeName, script: `${REPORT} report({ why: 'broken' }); process.exit(3);` });
    expect(pod.status?.phase).toBe('Failed');
    expect(terminated(pod)).toMatchObject({ exitCode: 3, reason: 'Error' });
    expect(report(pod)).toEqual({ why: 'broken' });
  });

  it('kills a Pod that outlives activeDeadlineSeconds (DeadlineExceeded)', async () => {
    const pod = await run({
      name: 'deadline',
      namespace: ns,
      nodeName,
      activeDeadlineSeconds: 2,
      terminationGracePeriodSeconds: 1,
      script: `process.on('SIGTERM', () => {}); setInterval(() => {}, 1000);`,
    });
    expect(pod.status).toMatchObject({ phase: 'Failed', reason: 'DeadlineExceeded' });
    expect(terminated(pod)).toMatchObject({ reason: 'DeadlineExceeded', exitCode: 137 });
  });

  it('provides downward-API annotations in kubelet format (whole map, single keys, atomic layout), a ConfigMap volume, env and fieldRefs', async () => {
    const annotations = {
      'governance.m87.io/envelope': '{"a":1,"b":"x\\"y"}',
      'b.example/multi-line': 'one\ntwo\tthree',
      'a.example/unicode': 'héllo ✓',
    };
    await kubeRequest(kc, {
      method: 'POST',
      path: resourcePath({ group: '', version: 'v1', plural: 'configmaps', namespaced: true }, { namespace: ns }),
      body: { metadata: { name: 'keys' }, data: { 'public.pem': 'PEM DATA' } },
    });
    const pod = await run({
      name: 'downward',
      namespace: ns,
      nodeName,
      annotations,
      env: [
        { name: 'PODINFO', value: '/etc/m87/podinfo' },
        { name: 'KEY_FILE', value: '/etc/m87/keys/public.pem' },
        { name: 'WORKSPACE', value: '/workspace' },
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
        { name: 'GREETING', value: 'hello $(POD_NAME)' },
      ],
      volumes: [
        {
          name: 'podinfo',
          downwardAPI: {
            items: [
              { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
              { path: 'envelope', fieldRef: { fieldPath: "metadata.annotations['governance.m87.io/envelope']" } },
              { path: 'multi-line', fieldRef: { fieldPath: "metadata.annotations['b.example/multi-line']" } },
              { path: 'absent', fieldRef: { fieldPath: "metadata.annotations['governance.m87.io/not-there']" } },
            ],
          },
        },
        { name: 'signing-key', configMap: { name: 'keys' } },
        { name: 'workspace', emptyDir: {} },
      ],
      volumeMounts: [
        { name: 'podinfo', mountPath: '/etc/m87/podinfo', readOnly: true },
        { name: 'signing-key', mountPath: '/etc/m87/keys', readOnly: true },
        { name: 'workspace', mountPath: '/workspace' },
      ],
      script: `${REPORT}
        const tryWrite = (f) => { try { fs.writeFileSync(f, 'x'); return 'written'; } catch (e) { return e.code; } };
        report({
          annotations: fs.readFileSync(process.env.PODINFO + '/annotations', 'utf8'),
          single: ['envelope', 'multi-line', 'absent'].map((f) => fs.readFileSync(process.env.PODINFO + '/' + f, 'utf8')),
          layout: {
            data: fs.readlinkSync(process.env.PODINFO + '/..data'),
            envelope: fs.readlinkSync(process.env.PODINFO + '/envelope'),
            sameSnapshot: fs.realpathSync(process.env.PODINFO + '/envelope') === fs.realpathSync(process.env.PODINFO + '/..data') + '/envelope',
          },
          key: fs.readFileSync(process.env.KEY_FILE, 'utf8'),
          podinfoWrite: tryWrite(process.env.PODINFO + '/evil'),
          workspaceWrite: tryWrite(process.env.WORKSPACE + '/ok'),
          env: { POD_NAME: process.env.POD_NAME, POD_NAMESPACE: process.env.POD_NAMESPACE, POD_UID: process.env.POD_UID,
                 GREETING: process.env.GREETING, HOST: process.env.KUBERNETES_SERVICE_HOST, PORT: process.env.KUBERNETES_SERVICE_PORT,
                 HOME_LEAK: process.env.HOME ?? null },
        });`,
    });
    expect(pod.status?.phase).toBe('Succeeded');
    const r = report(pod) as {
      annotations: string;
      single: string[];
      layout: { data: string; envelope: string; sameSnapshot: boolean };
      key: string;
      podinfoWrite: string;
      workspaceWrite: string;
      env: Record<string, string | null>;
    };
    // A single key is its raw value (no quoting, no newline); an absent key an empty file.
    expect(r.single).toEqual([annotations['governance.m87.io/envelope'], annotations['b.example/multi-line'], '']);
    // kubelet's AtomicWriter: files in a timestamped directory behind the ..data symlink.
    expect(r.layout.data).toMatch(/^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\w+$/);
    expect(r.layout.envelope).toBe('..data/envelope');
    expect(r.layout.sameSnapshot).toBe(true);
    const expected = formatMap(annotations);
    expect(r.annotations).toBe(expected);
    // kubelet format, spelled out: sorted keys, Go-quoted values, no trailing newline.
    expect(expected).toBe(
      'a.example/unicode="héllo ✓"\nb.example/multi-line="one\\ntwo\\tthree"\ngovernance.m87.io/envelope="{\\"a\\":1,\\"b\\":\\"x\\\\\\"y\\"}"',
    );
    expect(r.key).toBe('PEM DATA');
    expect(r.podinfoWrite).toBe('EACCES');
    expect(r.workspaceWrite).toBe('written');
    expect(r.env).toEqual({
      POD_NAME: 'downward',
      POD_NAMESPACE: ns,
      POD_UID: pod.metadata.uid,
      GREETING: 'hello downward',
      HOST: apiServer.host,
      PORT: String(apiServer.port),
      HOME_LEAK: null,
    });
  });

  it('runs the process as the Pod user, in its own network namespace (host loopback unreachable)', async () => {
    const received: string[] = [];
    const listener: Server = createServer((socket) => {
      received.push('connection');
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as { port: number }).port;
    try {
      const pod = await run({
        name: 'isolated',
        namespace: ns,
        nodeName,
        runAsUser: 65533,
        env: [{ name: 'PROBE_PORT', value: String(port) }],
        script: `${REPORT} const net = require('node:net');
          const probe = (host, port) => new Promise((res) => { const s = net.connect({ host, port: Number(port) });
            s.setTimeout(2000, () => { s.destroy(); res('timeout'); });
            s.on('connect', () => { s.destroy(); res('connected'); }); s.on('error', (e) => res(e.code)); });
          (async () => report({ uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(),
            hostLoopback: await probe('127.0.0.1', process.env.PROBE_PORT),
            apiServer: await probe(process.env.KUBERNETES_SERVICE_HOST, process.env.KUBERNETES_SERVICE_PORT) }))();`,
      });
      expect(pod.status?.phase).toBe('Succeeded');
      const r = report(pod);
      expect(r).toMatchObject({ uid: 65533, gid: 65533, hostLoopback: 'ECONNREFUSED', apiServer: 'ECONNREFUSED' });
      expect(r.groups).toEqual([65533]);
      expect(received).toEqual([]);
    } finally {
      await new Promise((resolve) => listener.close(resolve));
    }
  });

  it('runs the M87 image as this checkout’s CLI (node src/cli/main.ts <args after m87>)', async () => {
    const pod = testPod({ name: 'm87-image', namespace: ns, nodeName, script: '' });
    pod.spec.containers[0] = { ...pod.spec.containers[0]!, image: 'ghcr.io/m87/m87:0.1.0', command: ['m87', '--help'] };
    await createPod(kc, pod);
    const done = await waitForPhase(kc, ns, 'm87-image', ['Succeeded', 'Failed']);
    expect(done.status?.phase).toBe('Succeeded');
    expect(node.logs(done)?.stdout).toContain('Usage: m87 <command>');
  });

  it('fails a Pod whose image is not mapped (ImageNotMapped) without starting anything', async () => {
    const pod = await run({ name: 'unmapped', namespace: ns, nodeName, image: 'registry.m87.invalid/unknown:1', script: 'process.exit(0)' });
    expect(pod.status).toMatchObject({ phase: 'Failed', reason: 'ImageNotMapped' });
    expect(terminated(pod).reason).toBe('ImageNotMapped');
    expect(existsSync(podLayout(stateDir, pod.metadata.uid!).startedMarker)).toBe(false);
  });

  it('kills the process group and removes the Pod when the Pod is deleted', async () => {
    // Written by the Pod's user: a world-writable exchange dir (the state dir is root's).
    const exchange = mkdtempSync(join(tmpdir(), 'm87-pn-exchange-'));
    chmodSync(exchange, 0o1777);
    const pidFile = join(exchange, 'pids');
    await createPod(
      kc,
      testPod({
        name: 'deleted',
        namespace: ns,
        nodeName,
        terminationGracePeriodSeconds: 1,
        // A child in its own session: only the namespace sweep reaches it.
        script: `const cp = require('node:child_process');
          const c = cp.spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
          require('node:fs').writeFileSync(process.env.GO_FILE, process.pid + ' ' + c.pid); setInterval(() => {}, 1000);`,
        env: [{ name: 'GO_FILE', value: pidFile }],
      }),
    );
    const pids = await waitFor(() => (existsSync(pidFile) ? /^(\d+) (\d+)$/.exec(readFileSync(pidFile, 'utf8'))?.slice(1).map(Number) : undefined), {
      what: 'the Pod to write its pids',
      timeoutMs: 45_000,
    });
    expect(pids.map(alive)).toEqual([true, true]);
    await kubeRequest(kc, { method: 'DELETE', path: resourcePath(PODS, { namespace: ns, name: 'deleted' }) });
    await waitFor(
      async () => {
        try {
          await readPod(kc, ns, 'deleted');
          return false;
        } catch {
          return true;
        }
      },
      { what: 'the deleted Pod to disappear', timeoutMs: 30_000 },
    );
    rmSync(exchange, { recursive: true, force: true });
    expect(pids.map(alive)).toEqual([false, false]);
  });
});
