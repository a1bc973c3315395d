// The product as users install it, on the real node: the m87 image built offline and imported into the
// node's containerd, the chart installed by Helm, the controller running in-cluster as the chart's
// Deployment (its own ServiceAccount token, in-cluster config through the pod-network address). It decides
// and mints; a job Pod runs the runner in the real image and ends Succeeded with EnvelopeVerified=True; a
// tampered envelope is refused by the runner; the job's NetworkPolicy, enforced by kube-router, lets the
// allowlisted pod-network target through and blocks another one and the API server (which the same address
// plan lets an unrestricted Pod reach), and the runner's receipt says so; Casey's fix-the-failing-test runs
// as a step Pod in the shipped tools' images (git from the git server on the bridge, the patch, pytest) and
// its outputs are fetched and re-hashed; deleting the controller Pod mid-burst loses and duplicates no
// Decision. Every address contacted is on the node's bridge (10.239.0.0/24) or the Service IP routed to it.
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { attachControlPlane } from '../../../dev/cluster/plane.ts';
import { HOST_ADDRESS, KUBERNETES_SERVICE_IP, KUBERNETES_SERVICE_PORT } from '../../../dev/cluster/real-node/network.ts';
import { attachRealNode } from '../../../dev/cluster/real-node/real-node.ts';
import { serveRecording, type EgressTarget } from '../../../dev/demo/egress-target.ts';
import { EXPECTED_REFUSAL, forgeAnnotations } from '../../../dev/demo/faults.ts';
import { runForgedCopy } from '../../../dev/demo/forged-pod.ts';
import { condition, getPod, propose, waitForDecision, waitForProposalPhase, type PodView } from '../../../dev/demo/observe.ts';
import { deploySpec, fixFailingTestSpec, networkCallSpec, readSecretsSpec } from '../../../dev/demo/proposals.ts';
import { CONTROLLER_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT, ensureNamespace } from '../../../dev/demo/stack.ts';
import { CONTROLLER_DEPLOYMENT, podLog, startRealStack, type RealStack } from '../../../dev/demo/real-stack.ts';
import { runProposal } from '../../../dev/demo/scenarios.ts';
import { API_VERSION } from '../../../src/api/group.ts';
import { fetchJobOutputs, M87Client } from '../../../src/client/index.ts';
import { buildNetworkPolicy } from '../../../src/controller/network-policy.ts';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import { waitFor } from '../../support/kube.ts';
import { prometheusUnavailable, startPrometheus, type PrometheusServer } from '../../support/prometheus.ts';
import { dashboardExpressions, renderedRuleGroups } from '../../unit/chart/monitoring.ts';
import { substituteGrafanaVariables } from '../../unit/chart/promql.ts';

const tier = inject('m87RealNode');
/** kube-router programs a new Pod's firewall shortly after it starts; probes wait this long first. */
const SETTLE_MS = '2500';

interface FullPod extends PodView {
  metadata: PodView['metadata'] & { labels?: Record<string, string>; ownerReferences?: unknown[] };
  spec: Record<string, unknown> & { nodeName?: string; serviceAccountName?: string; containers: { name: string; image: string; env?: { name: string }[]; securityContext?: Record<string, unknown> }[] };
}

describe.skipIf(!tier.available)('the chart on the real node: controller in-cluster, job Pods in the m87 image', () => {
  if (!tier.available) return;
  const suffix = randomBytes(3).toString('hex');
  const jobNamespace = `real-jobs-${suffix}`;
  const probeNamespace = `real-probe-${suffix}`;
  const node = attachRealNode(tier.nodeStateDir);
  let stack: RealStack;
  /** A second server on the bridge address that no allowlist names. */
  let unlisted: EgressTarget;
  let succeededPod: FullPod;
  const ctx = () => ({ stack, suffix });
  const admin = () => stack.admin;

  beforeAll(async () => {
    if (node === undefined) throw new Error(`the real node in ${tier.nodeStateDir} is not running`);
    const t0 = performance.now();
    stack = await startRealStack({
      kubeconfigPath: tier.kubeconfigPath,
      node,
      jobNamespace,
      onProgress: (line) => process.stderr.write(`m87 real stack: ${line}\n`),
    });
    process.stderr.write(`m87 real stack: ready in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    unlisted = await serveRecording(HOST_ADDRESS);
    await ensureNamespace(stack.admin, probeNamespace);
    await waitFor(() => kubeRequest(stack.admin, { method: 'GET', path: `/api/v1/namespaces/${probeNamespace}/serviceaccounts/default` }).catch(() => undefined), {
      what: 'the probe namespace default ServiceAccount',
    });
  }, 900_000);

  afterAll(async () => {
    await unlisted?.stop();
    if (stack === undefined) return;
    await kubeRequest(stack.admin, { method: 'DELETE', path: `/api/v1/namespaces/${probeNamespace}` }).catch(() => undefined);
    await stack.stop();
    await stack.uninstall();
  }, 180_000);

  it('runs the controller in-cluster: the chart Deployment on the real node, the image by digest, its own ServiceAccount, in-cluster config, restricted', async () => {
    const [pod] = (await stack.controllerPods()) as FullPod[];
    expect(pod).toBeDefined();
    const p = pod!;
    expect(p.spec.nodeName).toBe(tier.nodeName);
    expect(p.spec.serviceAccountName).toBe(CONTROLLER_SERVICE_ACCOUNT);
    const container = p.spec.containers.find((c) => c.name === 'controller');
    expect(container?.image).toBe(stack.image.reference);
    expect(container?.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    // No kubeconfig: the client library's in-cluster config (KUBERNETES_SERVICE_HOST and the mounted token).
    expect(container?.env?.some((e) => e.name === 'KUBECONFIG')).not.toBe(true);
    const metrics = await (await fetch(stack.metricsUrl)).text();
    expect(metrics).toMatch(/^m87_leader 1$/m);
  });

  it('decides and mints in-cluster: a job Pod runs the runner in the real image and ends Succeeded with EnvelopeVerified=True', async () => {
    const run = await runProposal(ctx(), { as: stack.bob, submitter: 'bob', name: `read-repo-${suffix}`, spec: networkCallSpec('bob', [stack.egress!.url('/in-cluster')], stack.egressDestination), timeoutMs: 120_000 });
    expect(run.decision.spec.outcome).toBe('ALLOW');
    expect(run.job?.status?.phase, JSON.stringify(run.job?.status)).toBe('Succeeded');
    expect(condition(run.job, 'EnvelopeVerified')).toMatchObject({ status: 'True' });
    expect(run.proposal.status?.phase).toBe('Succeeded');
    const pod = (await getPod(stack.admin, jobNamespace, run.job?.status?.podName ?? '')) as FullPod | undefined;
    expect(pod?.spec.nodeName).toBe(tier.nodeName);
    expect(pod?.spec.containers[0]?.image).toBe(stack.image.reference);
    // The runner's report, read from the container's log through the API server and the kubelet.
    expect(run.runner?.status).toBe('Succeeded');
    expect(typeof run.runner?.verifyMs).toBe('number');
    // The runner's self-check: the API server (reachable from the pod network, see below) was refused by the
    // job's NetworkPolicy as kube-router enforces it — blocked by policy, not unreachable by addressing.
    expect(run.job?.status?.receipt?.isolation?.apiServer).toMatchObject({ result: 'blocked', cause: 'ECONNREFUSED' });
    succeededPod = pod!;
  });

  it('refuses a tampered envelope: admission keeps forged m87 annotations off Pods, and the runner refuses forged envelope files before any step', async () => {
    expect(succeededPod).toBeDefined();
    const annotations = new Map(Object.entries(succeededPod.metadata.annotations ?? {}));
    const forged = forgeAnnotations(annotations, 'envelope');
    // 1. The Pod object: only the controller may create a Pod carrying m87 annotations (admin included).
    const refused = await kubeRequest(stack.admin, {
      method: 'POST',
      path: `/api/v1/namespaces/${probeNamespace}/pods`,
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'forged-annotations', annotations: Object.fromEntries(forged) }, spec: succeededPod.spec },
    }).then(
      () => undefined,
      (err: unknown) => err as { code?: number; message?: string },
    );
    expect(refused?.code).toBe(403);
    expect(refused?.message).toMatch(/m87-job-pods/);
    // 2. What a compromised node hands the runner: the job Pod's spec with its downward-API files replaced by
    // a ConfigMap carrying the forged envelope (the runner in the real image, the real public key).
    const forgedRun = await runForgedCopy(stack.admin, { pod: succeededPod, jobNamespace, namespace: probeNamespace, name: 'forged-envelope', fault: 'envelope' });
    expect(forgedRun.phase, forgedRun.log).toBe('Failed');
    const report = forgedRun.report;
    expect(report?.status).toBe('Refused');
    expect(report?.reasonCode).toBe(EXPECTED_REFUSAL.envelope);
  });

  it('egress: the allowlisted pod-network target is reached through the runner gate, counted, from the Pod', async () => {
    const target = stack.egress!;
    const before = target.requests.length;
    const run = await runProposal(ctx(), {
      as: stack.alice,
      submitter: 'alice',
      name: `fetch-status-${suffix}`,
      spec: networkCallSpec('alice', [target.url('/counted')], stack.egressDestination),
      approver: 'bob',
      timeoutMs: 120_000,
    });
    expect(run.decision.spec.outcome).toBe('ALLOW');
    expect(run.job?.status?.phase).toBe('Succeeded');
    expect(run.job?.status?.receipt).toMatchObject({ status: 'Succeeded', usage: { externalIO: 1 } });
    const arrived = target.requests.slice(before);
    expect(arrived.map((r) => r.path)).toEqual(['/counted']);
    // From the job Pod's own address on the bridge, not from the host.
    expect(arrived[0]?.remoteAddress).toMatch(/^10\.239\.0\.(\d+)$/);
    expect(arrived[0]?.remoteAddress).not.toBe(HOST_ADDRESS);
    expect(unlisted.requests).toEqual([]);
  });

  it('real work in real containers: git-checkout → apply-patch → pytest as step Pods of the tool images, the outputs fetched with the artifacts client and re-hashed against the receipt', async () => {
    const repo = stack.repository!;
    expect(repo).toBeDefined();
    const served = repo.server.requests.length;
    const t0 = performance.now();
    const run = await runProposal(ctx(), { as: stack.agents.casey, submitter: 'casey', name: `fix-calc-${suffix}`, spec: fixFailingTestSpec(repo, repo.fix), timeoutMs: 240_000 });
    process.stderr.write(`m87 real stack: fix-the-failing-test proposal → ${run.job?.status?.phase ?? '?'} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    expect(run.decision.spec.outcome).toBe('ALLOW');
    expect(run.job?.status?.phase, JSON.stringify(run.job?.status)).toBe('Succeeded');
    expect(condition(run.job, 'EnvelopeVerified')).toMatchObject({ status: 'True' });
    const receipt = run.job!.status!.receipt!;
    expect(receipt.steps.map((st) => [st.tool, st.exitCode])).toEqual([['git-checkout', 0], ['apply-patch', 0], ['run-tests', 0]]);
    // The checkout went through the runner's gate in the Pod to the git server on the bridge, and was counted.
    expect(receipt.usage.externalIO).toBeGreaterThanOrEqual(1);
    expect(repo.server.requests.slice(served)).toContain('GET /calc/info/refs');
    // Every container (three steps, the final one) found the API server blocked by the policy.
    expect(receipt.isolation?.apiServer).toMatchObject({ result: 'blocked', cause: 'ECONNREFUSED', checks: 4 });
    process.stderr.write(`m87 real stack: fix-the-failing-test receipt isolation ${JSON.stringify(receipt.isolation)}, usage ${JSON.stringify(receipt.usage)}\n`);
    // Each step ran in its tool's image, by digest, as the kubelet reports it.
    const pod = (await kubeRequest<FullPod & { spec: { initContainers?: { name: string; image: string }[] }; status?: { initContainerStatuses?: { name: string; imageID?: string }[] } }>(stack.admin, {
      method: 'GET',
      path: `/api/v1/namespaces/${jobNamespace}/pods/${run.job?.status?.podName ?? ''}`,
    }));
    const images = Object.fromEntries((pod.spec.initContainers ?? []).map((c) => [c.name, c.image]));
    expect(images).toMatchObject({ 'step-0': stack.toolImages['tool-git'].reference, 'step-1': stack.toolImages['tool-git'].reference, 'step-2': stack.toolImages['tool-python-pytest'].reference });
    const ran = Object.fromEntries((pod.status?.initContainerStatuses ?? []).map((c) => [c.name, c.imageID ?? '']));
    expect(ran['step-2']).toMatch(new RegExp(`@${stack.toolImages['tool-python-pytest'].digest}$`));
    // The outputs, read back like `kubectl m87 artifacts` (the client checks them against the receipt), and
    // re-hashed here against the receipt's artifact digests.
    const { outputs } = await fetchJobOutputs(new M87Client(stack.admin), { namespace: jobNamespace, proposal: run.name });
    expect(outputs.map((o) => o.name).sort()).toEqual(['patch', 'test-report']);
    for (const o of outputs) {
      const digest = createHash('sha256').update(o.bytes).digest('hex');
      expect(receipt.artifacts.find((a) => a.path === `outputs/${o.step}/${o.name}`)?.sha256).toBe(digest);
    }
    expect(outputs.find((o) => o.name === 'patch')!.bytes.toString('utf8')).toContain('+    return a + b');
    expect(outputs.find((o) => o.name === 'test-report')!.bytes.toString('utf8')).toMatch(/<testsuite [^>]*failures="0"/);
  }, 300_000);

  describe("the job's NetworkPolicy as kube-router enforces it (the controller's own builder, on a probe Pod)", () => {
    const apiserverPort = () => attachControlPlane(tier.planeStateDir)?.ports.apiserver ?? 0;
    async function probe(name: string, args: string[], labels: Record<string, string>, token = false): Promise<{ phase: string; log: string }> {
      const image = node!.images.netcheck.ref;
      await kubeRequest(admin(), {
        method: 'POST',
        path: `/api/v1/namespaces/${probeNamespace}/pods`,
        body: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name, namespace: probeNamespace, labels },
          spec: {
            restartPolicy: 'Never',
            terminationGracePeriodSeconds: 1,
            automountServiceAccountToken: token,
            containers: [
              {
                name: 'netcheck',
                image,
                imagePullPolicy: 'Never',
                args,
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
              },
            ],
          },
        },
      });
      const done = await waitFor(
        async () => {
          const p = await getPod(admin(), probeNamespace, name);
          return p?.status?.phase === 'Failed' || p?.status?.phase === 'Succeeded' ? p : undefined;
        },
        { what: `probe ${name} to finish`, timeoutMs: 60_000, intervalMs: 200 },
      );
      return { phase: done.status?.phase ?? '', log: (await podLog(admin(), probeNamespace, name)).trim() };
    }

    beforeAll(async () => {
      const policy = buildNetworkPolicy({ namespace: probeNamespace, name: 'probe', uid: '00000000-0000-4000-8000-000000000000', proposalName: 'probe' }, [stack.egressDestination]);
      const spec = { ...policy.spec, podSelector: { matchLabels: { probe: 'job-policy' } } };
      await kubeRequest(admin(), { method: 'POST', path: `/apis/networking.k8s.io/v1/namespaces/${probeNamespace}/networkpolicies`, body: { metadata: { name: 'job-policy' }, spec } });
    });

    it('lets the allowlisted target through', async () => {
      const r = await probe('allowlisted', ['connect', `${stack.egressDestination.host}:${stack.egressDestination.port}`, '3000', SETTLE_MS], { probe: 'job-policy' });
      // netcheck then waits for a netcheck server's greeting, which the HTTP target never sends: the
      // connection was established, and only the read timed out.
      expect(r.log).toMatch(new RegExp(`^(connected|read failed: read tcp 10\\.239\\.0\\.\\d+:\\d+->${stack.egressDestination.host.replaceAll('.', '\\.')}:${stack.egressDestination.port}: i/o timeout)`));
    });

    it('blocks a pod-network target the allowlist does not name', async () => {
      const r = await probe('unlisted', ['connect', `${unlisted.host}:${unlisted.port}`, '2000', SETTLE_MS], { probe: 'job-policy' });
      expect(r.phase).toBe('Failed');
      expect(r.log).toMatch(/connect failed: .*(i\/o timeout|connection refused)/);
      expect(unlisted.requests).toEqual([]);
    });

    it('blocks the API server at the Service IP and at the bridge address, which a Pod without the policy reaches (blocked by policy, not by addressing)', async () => {
      const open = await probe('api-open', ['whoami', '3000', SETTLE_MS], { probe: 'none' }, true);
      expect(open).toMatchObject({ phase: 'Succeeded' });
      for (const [name, target] of [
        ['api-service', `${KUBERNETES_SERVICE_IP}:${KUBERNETES_SERVICE_PORT}`],
        ['api-bridge', `${HOST_ADDRESS}:${apiserverPort()}`],
      ] as const) {
        const r = await probe(name, ['connect', target, '2000', SETTLE_MS], { probe: 'job-policy' });
        expect(r.phase, `${name}: ${r.log}`).toBe('Failed');
      }
    });
  });

  // Not skipped when the binary is missing: the tier needs it (npm run binaries provides it), so every test
  // here fails with what is missing and how to get it.
  describe('real Prometheus: scrapes the controller behind the metrics Service, loads the chart alerts', () => {
    let prometheus: PrometheusServer;
    /** The chart's alerts as rendered, M87PolicyInvalid's `for:` shortened from its default to 2s (a rendered copy; the chart is unchanged). */
    const groups = renderedRuleGroups().map((g) => ({ ...g, rules: g.rules.map((r) => (r.alert === 'M87PolicyInvalid' ? { ...r, for: '2s' } : r)) }));

    beforeAll(async () => {
      const missing = prometheusUnavailable();
      if (missing !== undefined) throw new Error(`the e2e-real tier needs a Prometheus server: ${missing}`);
      prometheus = await startPrometheus({ admin: stack.admin, namespace: CONTROLLER_NAMESPACE, service: 'm87-controller-metrics', port: 'http-metrics', ruleGroups: groups });
      await waitFor(async () => ((await prometheus.targets()).some((t) => t.health === 'up') ? true : undefined), { what: 'Prometheus to scrape the controller', timeoutMs: 30_000 });
      // Activity after the first scrapes, so that increase() and rate() have something to show: a denial and
      // a proposal that needs a human, approved by alice.
      await new Promise((r) => setTimeout(r, 2000));
      await runProposal(ctx(), { as: stack.agents.riley, submitter: 'riley', name: `prom-deny-${suffix}`, spec: readSecretsSpec(stack.egress!.url('/report')) });
      await runProposal(ctx(), { as: stack.bob, submitter: 'bob', name: `prom-deploy-${suffix}`, spec: deploySpec('bob', 'staging', stack.egressDestination), approver: 'alice', timeoutMs: 120_000 });
      await new Promise((r) => setTimeout(r, 3000));
    }, 300_000);
    afterAll(async () => {
      await prometheus?.stop();
    });

    it("scrapes the in-cluster controller by its Pod IP on the bridge, as the chart metrics Service's EndpointSlice lists it", async () => {
      const targets = await prometheus.targets();
      expect(targets.map((t) => [t.health, t.labels.namespace, t.labels.pod?.startsWith('m87-controller-')])).toContainEqual(['up', CONTROLLER_NAMESPACE, true]);
      expect(targets.map((t) => t.labels.instance)).toContainEqual(expect.stringMatching(/^10\.239\.0\.\d+:8080$/));
    });

    it('every Grafana dashboard panel query returns series', async () => {
      const empty: string[] = [];
      for (const { where, expr } of dashboardExpressions()) {
        const series = await prometheus.query(substituteGrafanaVariables(expr));
        if (series.length === 0) empty.push(`${where}: ${expr}`);
      }
      expect(empty).toEqual([]);
    });

    it('M87PolicyInvalid fires when the policy is made invalid and resolves when it is fixed', async () => {
      const path = `/apis/${API_VERSION}/governancepolicies/default`;
      const policy = await kubeRequest<{ spec: { envelope: { ceiling: { maxSteps: number } } } }>(stack.admin, { method: 'GET', path });
      const maxSteps = policy.spec.envelope.ceiling.maxSteps;
      const patch = (value: number) =>
        kubeRequest(stack.admin, { method: 'PATCH', path, contentType: 'application/merge-patch+json', body: { spec: { envelope: { ceiling: { maxSteps: value } } } } });
      const policyAlert = async (state: string | undefined) => {
        const alert = (await prometheus.alerts()).find((a) => a.labels.alertname === 'M87PolicyInvalid');
        return alert?.state === state ? true : undefined;
      };
      expect(await policyAlert(undefined)).toBe(true);
      // Defaults above the ceiling pass the CRD schema but not the engine's semantic checks.
      await patch(5);
      try {
        await waitFor(() => policyAlert('firing'), { what: 'M87PolicyInvalid to fire', timeoutMs: 60_000, intervalMs: 500 });
      } finally {
        await patch(maxSteps);
      }
      await waitFor(() => policyAlert(undefined), { what: 'M87PolicyInvalid to resolve', timeoutMs: 60_000, intervalMs: 500 });
      await stack.waitForLeader(60_000);
    });
  });

  it('deleting the controller Pod mid-burst loses and duplicates no Decision: the Deployment recreates it and leadership moves', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `burst-${i}-${suffix}`);
    const first = await stack.waitForLeader();
    const dest = `http://${stack.egressDestination.host}:${stack.egressDestination.port}/report`;
    // Proposals go in one after another; the leader's Pod is deleted after the fifth, while it is deciding.
    const proposals = [];
    for (const [i, name] of names.entries()) {
      if (i === 5) await kubeRequest(stack.admin, { method: 'DELETE', path: `/api/v1/namespaces/${CONTROLLER_NAMESPACE}/pods/${first.pod}` });
      proposals.push(await propose(stack.agents.riley, jobNamespace, name, readSecretsSpec(dest)));
    }
    const next = await stack.waitForLeader(180_000, first.pod);
    expect(next.pod).not.toBe(first.pod);
    for (const name of names) {
      const decision = await waitForDecision(stack.admin, jobNamespace, name, 120_000);
      expect(decision.spec.outcome, name).toBe('DENY');
      await waitForProposalPhase(stack.admin, jobNamespace, name, ['Denied'], 60_000);
    }
    const decisions = await kubeRequest<{ items: { metadata: { name: string; ownerReferences?: { uid: string }[] } }[] }>(stack.admin, {
      method: 'GET',
      path: `/apis/${API_VERSION}/namespaces/${jobNamespace}/decisions`,
    });
    for (const proposal of proposals) {
      const owned = decisions.items.filter((d) => d.metadata.ownerReferences?.some((o) => o.uid === proposal.metadata.uid));
      expect(owned.map((d) => d.metadata.name), proposal.metadata.name).toEqual([proposal.metadata.name]);
    }
    await waitFor(
      async () => {
        const deployment = await kubeRequest<{ status?: { readyReplicas?: number } }>(stack.admin, {
          method: 'GET',
          path: `/apis/apps/v1/namespaces/${CONTROLLER_NAMESPACE}/deployments/${CONTROLLER_DEPLOYMENT}`,
        });
        return deployment.status?.readyReplicas === 1 ? true : undefined;
      },
      { what: 'the Deployment to report its recreated replica ready', timeoutMs: 60_000 },
    );
  }, 400_000);
});
