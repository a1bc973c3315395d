// The chart against the real local control plane: `helm template | kubectl apply --dry-run=server` for the
// default and HA values, then a real `helm install`, after which the controller — run in this process with
// the ServiceAccount token and the settings of the chart's Deployment — decides an example Proposal that a
// human submits under the chart's RBAC and admission policies. Its /metrics then back every expression of
// the dashboard and the alerts: each names only metric families, labels and label values it exports.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { API_VERSION } from '../../../src/api/group.ts';
import { AgentProfile, GovernancePolicy, Proposal } from '../../../src/api/kinds.ts';
import type { ProposalSpec } from '../../../src/api/proposal.ts';
import { startController, type RunningController, type StartControllerOptions } from '../../../src/controller/index.ts';
import { REPO_ROOT } from '../../../dev/cluster/binaries.ts';
import { evaluate, type EvaluationResult } from '../../../src/governance/index.ts';
import { canonicalHash } from '../../../src/hash/canonical.ts';
import { proposalHash } from '../../../src/integrity/document-hashes.ts';
import { KubeApiError, kubeRequest } from '../../../src/runtime/kube-http.ts';
import { waitForAdmissionPolicies, waitForAdmissionPoliciesRemoved } from '../../../dev/security/admission-ready.ts';
import { catalogueOf } from '../../../src/tool-catalogue/catalogue.ts';
import { clusterInfo, clusterKubeConfig, serviceAccountKubeConfig, testNamespace, waitFor } from '../../support/kube.ts';
import { CHART_DIR, CI_VALUES_DIR, findObject, helm, kubectl, parseRendered, withValuesFile, type Rendered } from '../../unit/chart/helm.ts';
import { alertExpressions, dashboardExpressions } from '../../unit/chart/monitoring.ts';
import { expressionRefs, parseExposition } from '../../unit/chart/promql.ts';

const RELEASE = 'm87-chart-test';
/** Labels Prometheus adds from the scrape target (ServiceMonitor), not exported by the controller. */
const TARGET_LABELS = new Set(['namespace', 'pod', 'instance', 'job', 'service', 'endpoint', 'container']);

const { kubeconfigPath } = clusterInfo();
const admin = clusterKubeConfig('admin');
const releaseNamespace = await testNamespace('m87-chart');
const agentNamespace = await testNamespace('m87-chart-agents');

const installValues = {
  // Where a node runs Pods (a process node), the Deployment must not start a second controller.
  controller: { nodeSelector: { 'm87.io/never-scheduled': 'true' } },
  agentProfiles: { profiles: { human: { enabled: true, subjects: ['alice'] } } },
  agents: { namespaces: [{ namespace: agentNamespace, users: ['alice'] }] },
};

function exampleProposal(): { metadata: { name: string }; spec: Record<string, unknown> } {
  return parse(readFileSync(join(REPO_ROOT, 'examples', 'proposal-deploy.yaml'), 'utf8')) as { metadata: { name: string }; spec: Record<string, unknown> };
}

/** What the engine decides for the proposal under the chart's policy and profile (no session history). */
function engineDecision(spec: ProposalSpec, rendered: Rendered[], controllerConfig: NonNullable<StartControllerOptions['config']>): EvaluationResult {
  const policy = GovernancePolicy.shape.spec.parse(findObject(rendered, 'GovernancePolicy', controllerConfig.policyName ?? 'default').spec);
  const profile = AgentProfile.shape.spec.parse(findObject(rendered, 'AgentProfile', spec.agent).spec);
  return evaluate({
    proposal: { namespace: agentNamespace, name: 'p', uid: 'u', spec, hash: proposalHash(spec), createdAt: Date.now() },
    profile,
    policy: { spec: policy, generation: 1, hash: canonicalHash(policy) },
    history: { known: true, entries: [] },
    now: Date.now(),
    challengeSecret: 'unused: only the challenge text depends on it',
    runnerImage: controllerConfig.runnerImage ?? '',
    // The catalogue the chart installs (its Tool objects), as the controller's cache would hold it.
    catalogue: catalogueOf(rendered.filter((r) => r.object.kind === 'Tool').map((r) => [r.object.metadata.name, r.object.spec] as const)),
  });
}

function helmTemplate(valuesFiles: string[]): string {
  return withValuesFile(installValues, (extra) => {
    const args = ['template', RELEASE, CHART_DIR, '--namespace', releaseNamespace, '--kube-context', 'admin'];
    for (const f of [...valuesFiles, extra]) args.push('--values', f);
    const r = helm(args, { kubeconfig: kubeconfigPath });
    if (r.status !== 0) throw new Error(`helm template: ${r.stderr}`);
    return r.stdout;
  });
}

/** Turns the Deployment's `m87 controller` args into startController options (unknown flags fail the test). */
function controllerOptionsFromChart(rendered: Rendered[], kubeConfig: KubeConfig): StartControllerOptions {
  const deployment = findObject(rendered, 'Deployment', 'm87-controller') as unknown as {
    spec: { template: { spec: { containers: { name: string; args: string[] }[] } } };
  };
  const args = deployment.spec.template.spec.containers.find((c) => c.name === 'controller')?.args ?? [];
  expect(args[0]).toBe('controller');
  const config: NonNullable<StartControllerOptions['config']> = {};
  let leaderElection: StartControllerOptions['leaderElection'] = {};
  for (const a of args.slice(1)) {
    const m = /^--([a-z-]+)=(.*)$/.exec(a);
    if (!m) throw new Error(`unexpected controller argument ${a}`);
    const flag: string = m[1] ?? '';
    const value: string = m[2] ?? '';
    if (flag === 'namespace') config.namespace = value;
    else if (flag === 'runner-image') config.runnerImage = value;
    else if (flag === 'signing-secret') config.signingSecretName = value;
    else if (flag === 'public-key-configmap') config.publicKeyConfigMapName = value;
    else if (flag === 'policy') config.policyName = value;
    else if (flag === 'leader-elect') leaderElection = value === 'false' ? false : leaderElection;
    else if (flag === 'lease-name') leaderElection = leaderElection === false ? false : { ...leaderElection, leaseName: value };
    else if (flag === 'retention') config.retention = { ...config.retention, enabled: value === 'true' };
    else if (flag === 'retention-rate') config.retention = { ...config.retention, deletionsPerSecond: Number(value), burst: Math.max(1, Math.ceil(Number(value) * 4)) };
    else if (flag === 'audit-file') config.retention = { ...config.retention, auditFile: value };
    // This process serves on loopback (port 0) and logs quietly.
    else if (flag !== 'metrics-addr' && flag !== 'log-level') throw new Error(`the chart passes --${flag}, which this test does not map`);
  }
  return { kubeConfig, config, leaderElection, http: { host: '127.0.0.1', port: 0 }, logger: pino({ level: process.env.M87_VERBOSE === '1' ? 'info' : 'warn' }) };
}

describe('chart against the local control plane', () => {
  let controller: RunningController | undefined;
  let installed = false;

  afterAll(async () => {
    await controller?.stop();
    if (installed) {
      const r = helm(['uninstall', RELEASE, '--namespace', releaseNamespace, '--kube-context', 'admin', '--wait', '--timeout', '60s'], { kubeconfig: kubeconfigPath });
      expect(r.status, r.stderr).toBe(0);
      // The admission policies are cluster-wide: the next test file must not see ours.
      await waitForAdmissionPoliciesRemoved(admin, { namespace: agentNamespace });
    }
  });

  it('installs its CRDs (charts/m87/crds) with server-side apply', () => {
    const r = kubectl(['--context', 'admin', 'apply', '--server-side', '--force-conflicts', '-f', join(CHART_DIR, 'crds')], { kubeconfig: kubeconfigPath });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const established = kubectl(['--context', 'admin', 'wait', '--for=condition=Established', '--timeout=60s', '-f', join(CHART_DIR, 'crds')], { kubeconfig: kubeconfigPath });
    expect(established.status, established.stderr).toBe(0);
  });

  it.each(['default-values.yaml', 'ha-values.yaml'])('helm template (%s) | kubectl apply --dry-run=server succeeds', (file) => {
    const manifest = helmTemplate([join(CI_VALUES_DIR, file)]);
    const r = kubectl(['--context', 'admin', 'apply', '--dry-run=server', '-f', '-'], { kubeconfig: kubeconfigPath, input: manifest });
    // kubectl warns when an object exists already without its last-applied annotation (another test file's
    // cluster-scoped objects); anything else on stderr is a failure.
    const stderr = r.stderr.split('\n').filter((l) => l !== '' && !/^Warning: resource \S+ is missing the kubectl.kubernetes.io\/last-applied-configuration annotation/.test(l));
    expect(stderr).toEqual([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('deployment.apps/m87-controller created (server dry run)');
    expect(r.stdout).toContain('governancepolicy.governance.m87.io/default');
  });

  it('helm install succeeds and the admission policies come into force', async () => {
    // Cluster-scoped objects of the same names left by a test file that crashed before its cleanup would make
    // the install fail for a reason that is not the chart's: adopt them (and so remove them on uninstall).
    const r = withValuesFile(installValues, (values) =>
      helm(['install', RELEASE, CHART_DIR, '--namespace', releaseNamespace, '--kube-context', 'admin', '--values', values, '--take-ownership'], {
        kubeconfig: kubeconfigPath,
      }),
    );
    expect(r.status, r.stderr).toBe(0);
    installed = true;
    expect(r.stdout).toContain('STATUS: deployed');
    await waitForAdmissionPolicies(admin, { namespace: agentNamespace }, { policies: ['m87-proposal-submitter', 'm87-controller-writes', 'm87-approval-approver'] });
  });

  it('the controller, with the chart ServiceAccount and Deployment settings, decides an example Proposal', async () => {
    expect(installed).toBe(true);
    const rendered = parseRendered(helmTemplate([]));
    const kc = await serviceAccountKubeConfig(releaseNamespace, 'm87-controller');
    const options = controllerOptionsFromChart(rendered, kc);
    controller = await startController(options);

    // alice submits as the Human agent (the chart bound her as an agent there and made her a Human subject).
    const alice = clusterKubeConfig('alice');
    const proposal = { apiVersion: API_VERSION, kind: 'Proposal', ...exampleProposal() };
    await waitFor(
      async () => {
        try {
          await kubeRequest(alice, { method: 'POST', path: `/apis/${API_VERSION}/namespaces/${agentNamespace}/proposals`, body: proposal });
          return true;
        } catch (error) {
          // RBAC bindings take effect once the authorizer has seen them.
          if (error instanceof KubeApiError && error.code === 403 && !error.message.includes('ValidatingAdmissionPolicy')) return false;
          throw error;
        }
      },
      { what: 'alice may create a Proposal in the agent namespace' },
    );

    const decision = await waitFor(
      async () => {
        try {
          return await kubeRequest<{ spec: { outcome: string; proposalHash: string; reasons: { code: string }[]; policy: { hash: string } } }>(admin, {
            method: 'GET',
            path: `/apis/${API_VERSION}/namespaces/${agentNamespace}/decisions/${proposal.metadata.name}`,
          });
        } catch (error) {
          if (error instanceof KubeApiError && error.code === 404) return undefined;
          throw error;
        }
      },
      { what: 'the Decision', timeoutMs: 45_000 },
    );
    // The decision the engine makes under the policy and profile the chart shipped, recorded for this proposal.
    const spec = Proposal.shape.spec.parse(proposal.spec);
    const expected = engineDecision(spec, rendered, options.config ?? {});
    expect(decision.spec.proposalHash).toBe(proposalHash(spec));
    // And what the generated example says this proposal gets.
    const example = parse(readFileSync(join(REPO_ROOT, 'examples', 'decision.yaml'), 'utf8')) as { spec: { outcome: string; proposalHash: string } };
    expect(decision.spec.outcome).toBe(example.spec.outcome);
    expect(decision.spec.proposalHash).toBe(example.spec.proposalHash);
    expect(decision.spec.policy.hash).toBe(expected.policy.hash);
    expect({ outcome: decision.spec.outcome, codes: decision.spec.reasons.map((r) => r.code).sort() }).toEqual({
      outcome: expected.outcome,
      codes: expected.reasons.map((r) => r.code).sort(),
    });
    expect(controller.readiness()).toEqual({ ready: true, reasons: [] });
  });

  it('every dashboard and alert expression names only metrics, labels and label values the controller exports', async () => {
    const address = controller?.httpAddress;
    if (address === undefined) throw new Error('the controller did not start');
    const body = await (await fetch(`http://${address.host}:${address.port}/metrics`)).text();
    const exported = parseExposition(body);
    const problems: string[] = [];
    const expressions = [...dashboardExpressions(), ...alertExpressions()];
    expect(expressions.length).toBeGreaterThan(20);
    for (const { where, expr } of expressions) {
      const refs = expressionRefs(expr);
      const labelsOfSelected = new Set<string>();
      for (const s of refs.selectors) {
        const series = exported.get(s.metric);
        if (series === undefined) {
          problems.push(`${where}: ${s.metric} is not exported`);
          continue;
        }
        for (const labels of series) for (const l of Object.keys(labels)) labelsOfSelected.add(l);
        for (const m of s.matchers) {
          if (TARGET_LABELS.has(m.label)) continue;
          const values = new Set(series.map((l) => l[m.label]).filter((v) => v !== undefined));
          if (values.size === 0) problems.push(`${where}: ${s.metric} has no label ${m.label}`);
          else if ((m.op === '=' || m.op === '!=') && !values.has(m.value)) {
            problems.push(`${where}: ${s.metric}{${m.label}${m.op}"${m.value}"}: the controller exports ${m.label} = ${[...values].join(', ')}`);
          }
        }
      }
      for (const l of refs.groupingLabels) {
        if (!TARGET_LABELS.has(l) && !labelsOfSelected.has(l)) problems.push(`${where}: groups by ${l}, which no selected metric has`);
      }
    }
    expect(problems).toEqual([]);
  });
});
