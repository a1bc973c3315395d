// Declared outputs on the real control plane: the controller reads the terminated step Pod's runner log
// through pods/log (the API server asks the node's log endpoint — the process node's own, bound to the Pod's
// node), checks every frame against the receipt and stores them in a ConfigMap owned by the Job. A digest that
// differs, an output the log lacks, or a step that ran another image fails the Job and stores nothing.
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { API_VERSION } from '../../../src/api/group.ts';
import { OUTPUTS_INDEX_KEY } from '../../../src/integrity/job-outputs.ts';
import { Job } from '../../../src/api/kinds.ts';
import type { Receipt } from '../../../src/api/receipt.ts';
import { CONFIG_MAPS, PODS, TOOLS } from '../../../src/controller/resources.ts';
import { encodeFrame, outputArtifactPath, sha256Hex } from '../../../src/integrity/framed-output.ts';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import { resourcePath, type KubeObject } from '../../../src/runtime/resource.ts';
import { SHIPPED_TOOLS } from '../../../src/tool-catalogue/default-catalogue.ts';
import { startLogServer } from '../../../dev/process-node/log-server.ts';
import { defaultResources, registerNode } from '../../../dev/process-node/node-registration.ts';
import { clusterInfo, waitFor } from '../../support/kube.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchJobOutputs, isClientError, M87Client } from '../../../src/client/index.ts';
import { renderSecurityManifests } from '../../../dev/security/chart.ts';
import type { KubeConfig } from '@kubernetes/client-node';
import { runArtifacts } from '../../../src/cli/artifacts-command.ts';
import { admin, caseySpec, get, JOBS, propose, setupEnv, startTestController } from './harness.ts';

const env = await setupEnv('m87-outputs');
await startTestController(env);

const toolName = `apply-patch-${env.suffix}`;
await kubeRequest(admin, {
  method: 'POST',
  path: resourcePath(TOOLS, {}),
  body: { apiVersion: API_VERSION, kind: 'Tool', metadata: { name: toolName }, spec: SHIPPED_TOOLS['apply-patch'] },
});

// The node the job Pods are bound to: registered like the process node, its log endpoint serving what the
// test puts there as the runner container's log.
const logs = new Map<string, string>();
const caData = admin.getCurrentCluster()?.caData;
if (caData === undefined) throw new Error('admin kubeconfig has no CA data');
const logServer = await startLogServer({ clientCaPem: Buffer.from(caData, 'base64').toString('utf8'), readLog: (ns, pod, container) => logs.get(`${ns}/${pod}/${container}`) });
const nodeName = `m87-outputs-${env.suffix}`;
const node = await registerNode({ kc: admin, kubeletPort: logServer.port, nodeName, resources: defaultResources(), log: pino({ level: 'silent' }) });
/** ClusterRoles this file created (copies of the chart's, under names of its own). */
const createdRoles: string[] = [];
afterAll(async () => {
  await node.stop({ deleteNode: true });
  await logServer.close();
  await kubeRequest(admin, { method: 'DELETE', path: resourcePath(TOOLS, { name: toolName }) }).catch(() => undefined);
  for (const name of createdRoles) await kubeRequest(admin, { method: 'DELETE', path: `/apis/rbac.authorization.k8s.io/v1/clusterroles/${name}` }).catch(() => undefined);
});

const PATCH = ['--- a/calc.py', '+++ b/calc.py', '@@ -1,2 +1,2 @@', ' def add(a, b):', '-    return a - b', '+    return a + b', ''].join('\n');
const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

async function runJob(name: string, opts: { log: (patch: Buffer) => string; receiptSha?: string; stepImageID?: (image: string) => string }): Promise<{ job: Job; status: KubeObject['status'] }> {
  await propose(env, 'casey', name, caseySpec(env, { summary: 'Fix the failing test', steps: [{ tool: toolName, args: { patch: PATCH } }] }));
  const job = Job.parse(await waitFor(() => get(JOBS, env.jobNamespace, name), { what: `job ${name}` }));
  const podName = `m87-job-${name}`;
  await waitFor(() => get(PODS, env.jobNamespace, podName), { what: `pod ${podName}` });
  // The plane's scheduler may bind it first (the test node is the only one); else bind it here.
  await kubeRequest(admin, {
    method: 'POST',
    path: `/api/v1/namespaces/${env.jobNamespace}/pods/${podName}/binding`,
    body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: podName }, target: { apiVersion: 'v1', kind: 'Node', name: nodeName } },
  }).catch(() => undefined);
  await waitFor(async () => ((await get(PODS, env.jobNamespace, podName))?.spec as { nodeName?: string } | undefined)?.nodeName === nodeName, { what: `pod ${podName} on ${nodeName}` });
  const output = Buffer.from(PATCH);
  logs.set(`${env.jobNamespace}/${podName}/runner`, opts.log(output));
  const step = job.spec.envelope.steps[0]!;
  const receipt: Receipt = {
    v: 1,
    status: 'Succeeded',
    reasonCode: '',
    jobUID: job.metadata.uid ?? '',
    deh: { claimed: job.spec.envelopeHash, recomputed: job.spec.envelopeHash, verified: true },
    steps: [{ tool: step.tool, exitCode: 0, outputHash: sha256Hex(Buffer.from('ok')) }],
    usage: { steps: 1, toolCalls: 1, runtimeMs: 900, externalIO: 0 },
    artifacts: [{ path: outputArtifactPath(0, 'patch'), sha256: opts.receiptSha ?? sha256Hex(output) }],
  };
  const image = step.image ?? '';
  const terminated = (message: string) => ({ terminated: { exitCode: 0, reason: 'Completed', message, startedAt: now(), finishedAt: now() } });
  await kubeRequest(admin, {
    method: 'PATCH',
    path: `/api/v1/namespaces/${env.jobNamespace}/pods/${podName}/status`,
    contentType: 'application/merge-patch+json',
    body: {
      status: {
        phase: 'Succeeded',
        initContainerStatuses: [
          { name: 'install-runner', image: job.spec.envelope.image, imageID: '', ready: false, restartCount: 0, state: terminated('') },
          { name: 'step-0', image, imageID: opts.stepImageID ? opts.stepImageID(image) : `docker-pullable://${image}`, ready: false, restartCount: 0, state: terminated('') },
        ],
        containerStatuses: [{ name: 'runner', image: job.spec.envelope.image, imageID: '', ready: false, restartCount: 0, state: terminated(JSON.stringify(receipt)) }],
      },
    },
  });
  const done = await waitFor(
    async () => {
      const j = await get(JOBS, env.jobNamespace, name);
      const phase = (j?.status as { phase?: string } | undefined)?.phase;
      return phase === 'Succeeded' || phase === 'Failed' ? j : undefined;
    },
    { what: `job ${name} finished` },
  );
  return { job, status: done.status };
}

describe('declared outputs', () => {
  it('are stored, all of them, in a ConfigMap owned by the Job', async () => {
    const { job, status } = await runJob('out-ok', { log: (patch) => `runner: starting\n${encodeFrame(0, 'patch', patch)}runner: done\n` });
    expect(status).toMatchObject({ phase: 'Succeeded' });
    const cm = (await get(CONFIG_MAPS, env.jobNamespace, 'm87-outputs-out-ok')) as KubeObject & { data: Record<string, string>; binaryData: Record<string, string> };
    expect(cm.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Job', uid: job.metadata.uid, controller: true })]);
    expect(Buffer.from(cm.binaryData['0.patch']!, 'base64').toString()).toBe(PATCH);
    expect(JSON.parse(cm.data[OUTPUTS_INDEX_KEY]!)).toEqual([
      { step: 0, name: 'patch', path: 'outputs/0/patch', size: PATCH.length, sha256: sha256Hex(Buffer.from(PATCH)), key: '0.patch' },
    ]);
  });

  it('kubectl m87 artifacts writes them to a directory; a stored output that differs from the receipt is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'm87-artifacts-'));
    try {
      const code = await runArtifacts(['out-ok', '--kubeconfig', clusterInfo().kubeconfigPath, '--context', 'admin', '-n', env.jobNamespace, '-o', dir]);
      expect(code).toBe(0);
      expect(readFileSync(join(dir, '0', 'patch'), 'utf8')).toBe(PATCH);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Replace the stored output (an admin could): the client checks it against the Job's receipt again.
    const path = `/api/v1/namespaces/${env.jobNamespace}/configmaps/m87-outputs-out-ok`;
    const cm = await kubeRequest<KubeObject & { binaryData: Record<string, string> }>(admin, { method: 'GET', path });
    await kubeRequest(admin, { method: 'DELETE', path });
    await waitFor(async () => (await get(CONFIG_MAPS, env.jobNamespace, 'm87-outputs-out-ok')) === undefined, { what: 'outputs deleted' });
    const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ct, managedFields: _mf, ...metadata } = cm.metadata as Record<string, unknown>;
    await kubeRequest(admin, {
      method: 'POST',
      path: `/api/v1/namespaces/${env.jobNamespace}/configmaps`,
      body: { ...cm, metadata, binaryData: { '0.patch': Buffer.from(PATCH.replace('a + b', 'a * b')).toString('base64') } },
    });
    await expect(fetchJobOutputs(new M87Client(admin), { namespace: env.jobNamespace, proposal: 'out-ok' })).rejects.toThrow(/outputs\/0\/patch: content hashes .* the receipt says/);
  });

  it("who may fetch them is the chart's RBAC: an agent (m87-agent) and a viewer (m87-outputs-viewer) in the namespace; anyone else gets 403", async () => {
    const { status } = await runJob('out-rbac', { log: (patch) => encodeFrame(0, 'patch', patch) });
    expect(status).toMatchObject({ phase: 'Succeeded' });
    const fetchAs = (kc: KubeConfig) => fetchJobOutputs(new M87Client(kc), { namespace: env.jobNamespace, proposal: 'out-rbac' });
    const forbidden = async (kc: KubeConfig): Promise<boolean> => {
      try {
        await fetchAs(kc);
        return false;
      } catch (err) {
        if (isClientError(err, 'Forbidden')) return true;
        throw err;
      }
    };
    // Casey's ServiceAccount (a real token) may read its Proposal and Job here, but not ConfigMaps: refused.
    expect(await forbidden(env.kube.casey)).toBe(true);
    // The chart's roles, exactly as rendered (copied under names of this file: ClusterRoles are cluster-wide).
    const rendered = renderSecurityManifests({ namespace: env.controllerNamespace, values: {} });
    const rbac = '/apis/rbac.authorization.k8s.io/v1';
    for (const [role, subject] of [
      ['m87-agent', { kind: 'ServiceAccount', name: 'casey', namespace: env.jobNamespace }],
      ['m87-outputs-viewer', { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'bob' }],
    ] as const) {
      const chartRole = rendered.find((o) => o.kind === 'ClusterRole' && o.metadata.name === role);
      if (chartRole === undefined) throw new Error(`the chart renders no ClusterRole ${role}`);
      const name = `${role}-${env.suffix}`;
      await kubeRequest(admin, { method: 'POST', path: `${rbac}/clusterroles`, body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules: chartRole.rules } });
      createdRoles.push(name);
      await kubeRequest(admin, {
        method: 'POST',
        path: `${rbac}/namespaces/${env.jobNamespace}/rolebindings`,
        body: { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [subject] },
      });
    }
    // The agent fetches its proposal's outputs, checked against the receipt; so does the viewer.
    const asAgent = await waitFor(async () => ((await forbidden(env.kube.casey)) ? undefined : fetchAs(env.kube.casey)), { what: 'the agent role to take effect' });
    expect(asAgent.outputs.map((o) => [o.path, o.bytes.toString('utf8')])).toEqual([['outputs/0/patch', PATCH]]);
    const asViewer = await waitFor(async () => ((await forbidden(env.kube.bob)) ? undefined : fetchAs(env.kube.bob)), { what: 'the viewer role to take effect' });
    expect(asViewer.outputs).toHaveLength(1);
    // Alice (an approver here, who reads Proposals and Jobs) holds neither role: 403.
    expect(await forbidden(env.kube.alice)).toBe(true);
  });

  it('a digest that differs from the receipt fails the Job; nothing is stored', async () => {
    const { status } = await runJob('out-digest', { log: (patch) => encodeFrame(0, 'patch', patch), receiptSha: sha256Hex(Buffer.from('another patch')) });
    expect(status).toMatchObject({ phase: 'Failed', reason: 'OUTPUT_DIGEST_MISMATCH' });
    expect(await get(CONFIG_MAPS, env.jobNamespace, 'm87-outputs-out-digest')).toBeUndefined();
  });

  it('an output the log lacks fails the Job (OUTPUT_MISSING)', async () => {
    const { status } = await runJob('out-missing', { log: () => 'runner: done\n' });
    expect(status).toMatchObject({ phase: 'Failed', reason: 'OUTPUT_MISSING' });
    expect(await get(CONFIG_MAPS, env.jobNamespace, 'm87-outputs-out-missing')).toBeUndefined();
  });

  it('a step that ran another image: the receipt is not believed (TOOL_IMAGE_MISMATCH), nothing stored', async () => {
    const { status } = await runJob('out-image', {
      log: (patch) => encodeFrame(0, 'patch', patch),
      stepImageID: (image) => `docker-pullable://${image.slice(0, image.indexOf('@'))}@sha256:${'e'.repeat(64)}`,
    });
    expect(status).toMatchObject({ phase: 'Failed', reason: 'TOOL_IMAGE_MISMATCH' });
    expect((status as { receipt?: unknown }).receipt).toBeUndefined();
    expect(await get(CONFIG_MAPS, env.jobNamespace, 'm87-outputs-out-image')).toBeUndefined();
  });
});
