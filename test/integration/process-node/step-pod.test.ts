// A step Pod built by the controller's Pod builder runs on the process node: install-runner, then
// git-checkout (fetching a tiny Python repository from a git smart-HTTP server through the runner's egress
// gate) → apply-patch (fixes the failing test, outputs the patch) → run-tests (pytest passes, outputs the
// JUnit report), then the final container's receipt and framed outputs. The git server binds to an address
// on a veth of the test's own; the Pod reaches it only through its NetworkPolicy (veth mode, nftables).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultImageMap } from '../../../dev/process-node/image-map.ts';
import { formatIPv4, parseCidr } from '../../../dev/process-node/pod-network.ts';
import { startProcessNode, type ProcessNode } from '../../../dev/process-node/process-node.ts';
import type { PodLike } from '../../../dev/process-node/pod-types.ts';
import { toolImageMap } from '../../../dev/process-node/tool-images.ts';
import type { EffectiveEnvelope } from '../../../src/api/envelope.ts';
import { Receipt } from '../../../src/api/receipt.ts';
import { buildJobPod, stepImageMismatch } from '../../../src/controller/job-pod.ts';
import { canonicalHash } from '../../../src/hash/canonical.ts';
import { generateSigningKey, signDeh } from '../../../src/integrity/signing.ts';
import { collectOutputs } from '../../../src/integrity/framed-output.ts';
import { DEFAULT_CATALOGUE } from '../../../src/tool-catalogue/default-catalogue.ts';
import { toolHash } from '../../../src/tool-catalogue/tool-hash.ts';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import { resourcePath } from '../../../src/runtime/resource.ts';
import { clusterInfo, clusterKubeConfig, testNamespace } from '../../support/kube.ts';
import { makePythonRepo, startGitHttpServer, type GitHttpServer } from '../../support/git-http-server.ts';
import { envelope as baseEnvelope } from '../../unit/runner/fixture.ts';
import { createPod, waitForPhase } from './pod-factory.ts';

const POD_CIDR = '10.236.0.0/16';
const CONFIGMAPS = { group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' } as const;
const NETWORK_POLICIES = { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', namespaced: true, kind: 'NetworkPolicy' } as const;

function available(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const runnable = available('nft', ['--version']) && available('git', ['--version']) && available('/usr/bin/python3', ['-m', 'venv', '--help']);

describe.skipIf(!runnable)('step Pod on the process node: git-checkout → apply-patch → run-tests', async () => {
  const kc = clusterKubeConfig('admin');
  const server = new URL(clusterInfo().server);
  const nodeName = `m87-pn-steps-${randomBytes(3).toString('hex')}`;
  const ns = await testNamespace('pn-steps');
  const key = generateSigningKey();
  let node: ProcessNode;
  let stateDir: string;
  let repos: string;
  let git: GitHttpServer;
  let commit: string;
  let fix: string;

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'm87-pn-steps-'));
    repos = mkdtempSync(join(tmpdir(), 'm87-git-repos-'));
    const repoDir = join(repos, 'calc');
    mkdirSync(repoDir);
    ({ commit, fix } = makePythonRepo(repoDir));
    // The pool's first host address: the node never hands it to a Pod.
    git = await startGitHttpServer(repos, { host: formatIPv4(parseCidr(POD_CIDR, 'podCidr').base + 1) });
    const tools = join(stateDir, 'tools');
    mkdirSync(tools);
    chmodSync(stateDir, 0o755);
    node = await startProcessNode({
      kubeConfig: kc,
      nodeName,
      stateDir,
      imageMap: [...defaultImageMap(), ...toolImageMap(tools)],
      apiServer: { host: server.hostname, port: Number(server.port) },
      network: { mode: 'veth', podCidr: POD_CIDR },
      logger: pino({ level: 'warn' }),
      deleteNodeOnStop: true,
    });
    await kubeRequest(kc, { method: 'POST', path: resourcePath(CONFIGMAPS, { namespace: ns }), body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'm87-signing-key' }, data: { 'public.pem': key.publicKeyPem } } });
  }, 180_000);

  afterAll(async () => {
    await node?.stop();
    await git?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    if (repos) rmSync(repos, { recursive: true, force: true });
  });

  function stepEnvelope(patch: string, name: string, pinned: string = commit): EffectiveEnvelope {
    const bind = (tool: string, args: Record<string, string>) => {
      const spec = DEFAULT_CATALOGUE.get(tool)!;
      return { tool, args, toolHash: toolHash(spec), image: spec.image };
    };
    return baseEnvelope({
      steps: [bind('git-checkout', { repository: git.url('calc'), commit: pinned }), bind('apply-patch', { patch }), bind('run-tests', { path: 'tests' })],
      image: 'ghcr.io/m87/m87:0.1.0',
      egress: [{ host: git.host, port: git.port }],
      effects: ['READ_REPO', 'WRITE_PATCH', 'RUN_TESTS'],
      autonomyBudget: { maxRuntimeSeconds: 120, maxExternalIO: 10, maxWriteScope: 'sandbox' },
      proposal: { name },
    });
  }

  async function runPod(env: EffectiveEnvelope): Promise<{ pod: PodLike; receipt: Receipt; log: string }> {
    const result = await runPodOnly(env);
    // What the controller checks before it believes the receipt: every step ran the image the envelope binds.
    expect(stepImageMismatch(result.pod as Parameters<typeof stepImageMismatch>[0], env)).toBeUndefined();
    return result;
  }

  async function runPodOnly(env: EffectiveEnvelope): Promise<{ pod: PodLike; receipt: Receipt; log: string }> {
    const deh = canonicalHash(env);
    const name = env.proposal.name;
    const pod = buildJobPod({
      job: { uid: randomBytes(8).toString('hex'), envelope: env, envelopeHash: deh, signature: signDeh(key.privateKeyPem, deh), keyId: key.keyId, namespace: ns, name, proposalName: name },
      publicKeyConfigMap: 'm87-signing-key',
      tools: Object.fromEntries(env.steps.map((s) => [s.tool, DEFAULT_CATALOGUE.get(s.tool)!])),
    });
    // No governance Job exists in this test: the Pod stands alone, pinned to this node.
    const standalone = { ...pod, metadata: { ...pod.metadata, ownerReferences: [] }, spec: { ...pod.spec, nodeSelector: { 'kubernetes.io/hostname': nodeName } } } as unknown as PodLike;
    await kubeRequest(kc, {
      method: 'POST',
      path: resourcePath(NETWORK_POLICIES, { namespace: ns }),
      body: {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: `allow-git-${name}` },
        spec: { podSelector: { matchLabels: pod.metadata.labels }, policyTypes: ['Ingress', 'Egress'], egress: [{ to: [{ ipBlock: { cidr: `${git.host}/32` } }], ports: [{ protocol: 'TCP', port: git.port }] }] },
      },
    });
    await createPod(kc, standalone);
    const done = await waitForPhase(kc, ns, pod.metadata.name, ['Succeeded', 'Failed'], 150_000);
    const message = done.status?.containerStatuses?.find((c) => c.name === 'runner')?.state.terminated?.message ?? '';
    const log = node.logs(done, 'runner')?.stdout ?? '';
    return { pod: done, receipt: Receipt.parse(JSON.parse(message)), log };
  }

  it('checks the pinned commit out through the gate, applies the patch, runs pytest and frames the outputs with the receipt digests', async () => {
    const { pod, receipt, log } = await runPod(stepEnvelope(fix, 'fix-calc'));
    expect(receipt.reasonCode).toBe('');
    expect(receipt.status).toBe('Succeeded');
    expect(pod.status?.phase).toBe('Succeeded');
    expect(pod.status?.initContainerStatuses?.map((c) => [c.name, c.state.terminated?.exitCode])).toEqual([
      ['install-runner', 0],
      ['step-0', 0],
      ['step-1', 0],
      ['step-2', 0],
    ]);
    expect(receipt.steps.map((s) => [s.tool, s.exitCode])).toEqual([
      ['git-checkout', 0],
      ['apply-patch', 0],
      ['run-tests', 0],
    ]);
    // The checkout went through the gate (smart HTTP: ref advertisement + upload-pack) and was counted.
    expect(receipt.usage.externalIO).toBeGreaterThanOrEqual(2);
    expect(git.requests.some((r) => r.startsWith('POST /calc/git-upload-pack'))).toBe(true);
    const outputs = collectOutputs(log, receipt.artifacts);
    expect(outputs.map((o) => `${o.step}/${o.name}`).sort()).toEqual(['1/patch', '2/test-report']);
    const patch = outputs.find((o) => o.name === 'patch')!.bytes.toString('utf8');
    expect(patch).toContain('+    return a + b');
    expect(patch).toContain('-    return a - b');
    const report = outputs.find((o) => o.name === 'test-report')!.bytes.toString('utf8');
    expect(report).toMatch(/<testsuite [^>]*failures="0"/);
    expect(report).toMatch(/<testsuite [^>]*tests="2"/); // test_add (fixed) and the smoke test
    // A byte changed in the log no longer matches the receipt's digest.
    const b64Line = log.split('\n').find((l) => /^[A-Za-z0-9+/]{20,}/.test(l))!;
    const tampered = log.replace(b64Line, (b64Line[0] === 'A' ? 'B' : 'A') + b64Line.slice(1));
    expect(() => collectOutputs(tampered, receipt.artifacts)).toThrow(/does not hash/);
  }, 200_000);

  it('without the fix the tests fail: the job fails at run-tests, and its patch and the failing report are still offered', async () => {
    const noop = ['--- a/tests/__init__.py', '+++ b/tests/__init__.py', '@@ -0,0 +1 @@', '+# nothing fixed', ''].join('\n');
    const { receipt, log } = await runPod(stepEnvelope(noop, 'no-fix'));
    expect(receipt.status).toBe('Failed');
    expect(receipt.reasonCode).toBe('STEP_FAILED');
    expect(receipt.steps.map((s) => [s.tool, s.exitCode])).toEqual([
      ['git-checkout', 0],
      ['apply-patch', 0],
      ['run-tests', 1],
    ]);
    const outputs = collectOutputs(log, receipt.artifacts);
    expect(outputs.map((o) => `${o.step}/${o.name}`).sort()).toEqual(['1/patch', '2/test-report']);
    expect(outputs.find((o) => o.name === 'test-report')!.bytes.toString('utf8')).toMatch(/<testsuite [^>]*failures="1"/);
  }, 200_000);

  it('a pinned commit the repository does not have: nothing runs after the checkout, the receipt says GIT_COMMIT_NOT_FOUND', async () => {
    const { receipt, log } = await runPod(stepEnvelope(fix, 'no-such-commit', 'f'.repeat(40)));
    expect(receipt.status).toBe('Failed');
    expect(receipt.reasonCode).toBe('GIT_COMMIT_NOT_FOUND');
    expect(receipt.steps.map((s) => s.tool)).toEqual(['git-checkout']);
    expect(receipt.artifacts).toEqual([]);
    expect(collectOutputs(log, receipt.artifacts)).toEqual([]);
  }, 200_000);
});
