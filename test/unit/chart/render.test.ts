// What the chart renders: the controller Deployment (args, probes, restricted security), the PDB only with
// replicas > 1, the metrics Service, monitoring behind flags, and the shipped AgentProfiles and
// GovernancePolicy equal to src/governance/defaults.ts (their single source).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GovernancePolicy } from '../../../src/api/kinds.ts';
import { REPO_ROOT } from '../../../dev/cluster/binaries.ts';
import { DEFAULT_AGENT_PROFILES, DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';
import { canonicalHash } from '../../../src/hash/canonical.ts';
import { CI_VALUES_DIR, findObject, objectsOfKind, renderChart, type RenderedObject } from './helm.ts';

interface Container {
  name: string;
  image: string;
  args: string[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  startupProbe?: { httpGet: { path: string; port: string } };
  securityContext: Record<string, unknown>;
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  env?: { name: string; value?: string }[];
}
interface PodSpec {
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  containers: Container[];
  affinity?: Record<string, unknown>;
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  volumes?: { name: string }[];
}

function deployment(rendered: ReturnType<typeof renderChart>): { object: RenderedObject; pod: PodSpec; container: Container } {
  const object = findObject(rendered, 'Deployment', 'm87-controller');
  const pod = (object.spec as { template: { spec: PodSpec } }).template.spec;
  const container = pod.containers.find((c) => c.name === 'controller');
  if (!container) throw new Error('no controller container');
  return { object, pod, container };
}

function arg(container: Container, flag: string): string | undefined {
  const prefix = `--${flag}=`;
  return container.args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

describe('controller Deployment', () => {
  const rendered = renderChart({ namespace: 'governance' });
  const { object, pod, container } = deployment(rendered);

  it('runs `m87 controller` leader-elected in the release namespace with the chart-wide names', () => {
    expect(object.metadata.namespace).toBe('governance');
    expect(container.args[0]).toBe('controller');
    expect(arg(container, 'leader-elect')).toBe('true');
    expect(arg(container, 'namespace')).toBe('governance');
    expect(arg(container, 'runner-image')).toBe('ghcr.io/m87/m87:0.1.0');
    expect(container.image).toBe('ghcr.io/m87/m87:0.1.0');
    expect(arg(container, 'signing-secret')).toBe('m87-signing-key');
    expect(arg(container, 'public-key-configmap')).toBe('m87-signing-public-key');
    expect(arg(container, 'policy')).toBe('default');
    expect(arg(container, 'metrics-addr')).toBe('0.0.0.0:8080');
    expect((object.spec as { replicas: number }).replicas).toBe(1);
  });

  it('runs retention at 5 deletions/s, audit records in the JSON log only (no file, no volume) by default', () => {
    expect(arg(container, 'retention')).toBe('true');
    expect(arg(container, 'retention-rate')).toBe('5');
    expect(arg(container, 'audit-file')).toBeUndefined();
    expect((pod.volumes ?? []).map((v) => v.name)).toEqual(['tmp']);
  });

  it('runs as the ServiceAccount the security templates create and the admission policies trust', () => {
    const sa = findObject(rendered, 'ServiceAccount', 'm87-controller');
    expect(pod.serviceAccountName).toBe(sa.metadata.name);
    expect(sa.metadata.namespace).toBe('governance');
    const binding = findObject(rendered, 'ClusterRoleBinding', 'm87-controller') as unknown as { subjects: { name: string; namespace: string }[] };
    expect(binding.subjects).toContainEqual(expect.objectContaining({ name: 'm87-controller', namespace: 'governance' }));
  });

  it('probes /healthz and /readyz on the metrics port', () => {
    expect(container.ports).toContainEqual(expect.objectContaining({ name: 'http-metrics', containerPort: 8080 }));
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http-metrics' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http-metrics' });
    expect(container.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'http-metrics' });
  });

  it('meets Pod Security "restricted"', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.hostNetwork).toBeUndefined();
    expect(container.securityContext).not.toHaveProperty('privileged', true);
  });

  it('sets resource requests and a memory limit', () => {
    expect(typeof container.resources.requests?.cpu).toBe('string');
    expect(typeof container.resources.requests?.memory).toBe('string');
    expect(typeof container.resources.limits?.memory).toBe('string');
  });

  it('sizes the V8 heap for the container (NODE_OPTIONS), with the old-space cap below the memory limit; "" leaves V8 alone', () => {
    const nodeOptions = container.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
    expect(nodeOptions).toMatch(/--max-semi-space-size=\d+/);
    const oldSpaceMiB = Number(/--max-old-space-size=(\d+)/.exec(nodeOptions)?.[1]);
    const limit = container.resources.limits?.memory ?? '';
    const limitMiB = limit.endsWith('Gi') ? Number(limit.slice(0, -2)) * 1024 : Number(limit.replace(/Mi$/, ''));
    expect(oldSpaceMiB).toBeGreaterThan(0);
    expect(oldSpaceMiB).toBeLessThanOrEqual(limitMiB - 100);
    const plain = deployment(renderChart({ namespace: 'governance', extraArgs: ['--set', 'controller.nodeOptions='] })).container;
    expect(plain.env?.find((e) => e.name === 'NODE_OPTIONS')).toBeUndefined();
  });

  it('caps glibc malloc arenas (MALLOC_ARENA_MAX 1); null leaves glibc alone', () => {
    expect(container.env?.find((e) => e.name === 'MALLOC_ARENA_MAX')?.value).toBe('1');
    const plain = deployment(renderChart({ namespace: 'governance', extraArgs: ['--set', 'controller.mallocArenaMax=null'] })).container;
    expect(plain.env?.find((e) => e.name === 'MALLOC_ARENA_MAX')).toBeUndefined();
  });

  it('renders no PodDisruptionBudget, ServiceMonitor, PrometheusRule or dashboard by default', () => {
    expect(objectsOfKind(rendered, 'PodDisruptionBudget')).toEqual([]);
    expect(objectsOfKind(rendered, 'ServiceMonitor')).toEqual([]);
    expect(objectsOfKind(rendered, 'PrometheusRule')).toEqual([]);
    expect(objectsOfKind(rendered, 'ConfigMap').filter((c) => c.metadata.labels?.grafana_dashboard !== undefined)).toEqual([]);
  });

  it('has a metrics Service selecting the controller Pods, scrapeable while not ready', () => {
    const svc = findObject(rendered, 'Service', 'm87-controller-metrics') as unknown as {
      spec: { selector: Record<string, string>; publishNotReadyAddresses: boolean; ports: { name: string; port: number }[] };
    };
    const podLabels = (object.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(podLabels[k], k).toBe(v);
    expect(svc.spec.publishNotReadyAddresses).toBe(true);
    expect(svc.spec.ports).toContainEqual(expect.objectContaining({ name: 'http-metrics', port: 8080 }));
  });
});

describe('the Deployment args against the real CLI', () => {
  // `m87 controller` parses every flag before it looks at --help: an unknown or malformed flag exits 2.
  it.each(['default-values.yaml', 'custom-values.yaml'])('m87 accepts the args rendered with %s', (file) => {
    const { container } = deployment(renderChart({ valuesFiles: [join(CI_VALUES_DIR, file)] }));
    const r = spawnSync(process.execPath, ['--disable-warning=ExperimentalWarning', join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...container.args, '--help'], {
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: m87 controller');
  });
});

describe('high availability (ci/ha-values.yaml)', () => {
  const rendered = renderChart({ valuesFiles: [join(CI_VALUES_DIR, 'ha-values.yaml')] });
  const { object, pod } = deployment(rendered);

  it('runs two replicas with a PodDisruptionBudget keeping one and preferring separate nodes', () => {
    expect((object.spec as { replicas: number }).replicas).toBe(2);
    const pdb = findObject(rendered, 'PodDisruptionBudget', 'm87-controller') as unknown as {
      spec: { minAvailable: number; selector: { matchLabels: Record<string, string> }; unhealthyPodEvictionPolicy: string };
    };
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
    expect((object.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels).toEqual(pdb.spec.selector.matchLabels);
    expect(pod.affinity).toHaveProperty('podAntiAffinity');
  });
});

describe('overrides (ci/custom-values.yaml)', () => {
  const rendered = renderChart({ valuesFiles: [join(CI_VALUES_DIR, 'custom-values.yaml')], namespace: 'elsewhere' });

  it('appends audit records to a file on the given claim', () => {
    const { pod, container } = deployment(rendered);
    expect(arg(container, 'audit-file')).toBe('/var/lib/m87-audit/audit/records.jsonl');
    expect(arg(container, 'retention-rate')).toBe('2.5');
    expect(pod.volumes).toContainEqual({ name: 'audit', persistentVolumeClaim: { claimName: 'm87-audit' } });
  });
  const { object, container } = deployment(rendered);

  it('uses controller.namespace over the release namespace, pinned digests and the existing signing Secret', () => {
    expect(object.metadata.namespace).toBe('m87-system');
    expect(arg(container, 'namespace')).toBe('m87-system');
    expect(container.image).toBe('registry.example.com/m87/m87@sha256:' + '0'.repeat(64));
    expect(arg(container, 'runner-image')).toBe('registry.example.com/m87/m87-runner:0.1.0');
    expect(arg(container, 'signing-secret')).toBe('m87-signing-key-2025');
    expect(arg(container, 'public-key-configmap')).toBe('m87-public-key');
    expect(arg(container, 'lease-name')).toBe('m87-leader');
    expect(arg(container, 'metrics-addr')).toBe('[::]:9090');
  });

  it('replaces only the subjects asked for, leaves disabled profiles and the policy out', () => {
    const profiles = objectsOfKind(rendered, 'AgentProfile');
    expect(profiles.map((p) => p.metadata.name).sort()).toEqual(['casey', 'human', 'jordan']);
    expect(findObject(rendered, 'AgentProfile', 'casey').spec?.subjects).toEqual(['system:serviceaccount:team-a:casey']);
    expect(findObject(rendered, 'AgentProfile', 'human').spec?.subjects).toEqual(['alice@example.com']);
    expect(findObject(rendered, 'AgentProfile', 'jordan').spec?.subjects).toEqual(DEFAULT_AGENT_PROFILES.jordan?.subjects);
    expect(objectsOfKind(rendered, 'GovernancePolicy')).toEqual([]);
  });

  it('adds commonLabels to the chart objects', () => {
    expect(object.metadata.labels?.['example.com/cost-center']).toBe('4711');
  });
});

describe('runner image', () => {
  const runnerImage = (values: unknown): string | undefined => arg(deployment(renderChart({ values })).container, 'runner-image');

  it('defaults to the controller image, digest included', () => {
    const digest = 'sha256:' + 'a'.repeat(64);
    expect(runnerImage({ controller: { image: { repository: 'r.example/m87', tag: '1.2.3', digest: '' } } })).toBe('r.example/m87:1.2.3');
    expect(runnerImage({ controller: { image: { repository: 'r.example/m87', tag: '1.2.3', digest } } })).toBe(`r.example/m87@${digest}`);
  });

  it('takes runner.image field by field', () => {
    expect(runnerImage({ controller: { image: { tag: '1.2.3' } }, runner: { image: { repository: 'r.example/runner' } } })).toBe('r.example/runner:1.2.3');
  });
});

describe('shipped AgentProfiles and GovernancePolicy (single source: src/governance/defaults.ts)', () => {
  const rendered = renderChart({ namespace: 'governance' });

  it('renders every default profile with exactly the spec of DEFAULT_AGENT_PROFILES', () => {
    const profiles = objectsOfKind(rendered, 'AgentProfile');
    expect(profiles.map((p) => p.metadata.name).sort()).toEqual(Object.keys(DEFAULT_AGENT_PROFILES).sort());
    for (const p of profiles) expect(p.spec, p.metadata.name).toEqual(DEFAULT_AGENT_PROFILES[p.metadata.name]);
  });

  it('renders the policy equal to DEFAULT_POLICY_SPEC except the challenge Secret, which lives in the controller namespace', () => {
    const policy = findObject(rendered, 'GovernancePolicy', 'default');
    const expected = {
      ...DEFAULT_POLICY_SPEC,
      approvals: { ...DEFAULT_POLICY_SPEC.approvals, challengeSecretRef: { namespace: 'governance', name: 'm87-challenge-secret', key: 'secret' } },
    };
    expect(policy.spec).toEqual(expected);
    // The same policy hash the controller records in Decisions (JCS over the parsed spec).
    expect(canonicalHash(GovernancePolicy.shape.spec.parse(policy.spec))).toBe(canonicalHash(GovernancePolicy.shape.spec.parse(expected)));
  });

  it('names the policy after governancePolicy.name and passes the same name to the controller', () => {
    const r = renderChart({ values: { governancePolicy: { name: 'strict' } } });
    expect(findObject(r, 'GovernancePolicy', 'strict')).toBeDefined();
    expect(arg(deployment(r).container, 'policy')).toBe('strict');
  });

  it('writes governancePolicy.retention values into spec.retention; null keeps the shipped value', () => {
    const r = renderChart({ values: { governancePolicy: { retention: { historyTTLSeconds: 86400, maxProposalsPerNamespace: 500 } } } });
    const spec = findObject(r, 'GovernancePolicy', 'default').spec as { retention?: unknown };
    expect(spec.retention).toEqual({ ...DEFAULT_POLICY_SPEC.retention, historyTTLSeconds: 86400, maxProposalsPerNamespace: 500 });
    expect(GovernancePolicy.shape.spec.safeParse(spec).success).toBe(true);
  });

  it('refuses a malformed retention value (values.schema.json)', () => {
    expect(() => renderChart({ values: { governancePolicy: { retention: { historyTTLSeconds: 5 } } } })).toThrow(/historyTTLSeconds/);
  });

  it('can leave all profiles out', () => {
    expect(objectsOfKind(renderChart({ values: { agentProfiles: { enabled: false } } }), 'AgentProfile')).toEqual([]);
  });
});

describe('monitoring (ci/monitoring-values.yaml)', () => {
  const rendered = renderChart({ valuesFiles: [join(CI_VALUES_DIR, 'monitoring-values.yaml')] });

  it('renders a ServiceMonitor selecting the metrics Service port', () => {
    const sm = findObject(rendered, 'ServiceMonitor', 'm87-controller') as unknown as {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] };
    };
    const svc = findObject(rendered, 'Service', 'm87-controller-metrics');
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) expect(svc.metadata.labels?.[k], k).toBe(v);
    expect(sm.spec.endpoints).toContainEqual(expect.objectContaining({ port: 'http-metrics', path: '/metrics' }));
    expect(findObject(rendered, 'ServiceMonitor', 'm87-controller').metadata.labels?.release).toBe('kube-prometheus-stack');
  });

  it('renders the PrometheusRule with every alert of the brief', () => {
    const rule = findObject(rendered, 'PrometheusRule', 'm87-controller') as unknown as { spec: { groups: { rules: { alert: string }[] }[] } };
    const alerts = rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(alerts).toEqual(
      expect.arrayContaining([
        'M87EnvelopeVerificationFailures',
        'M87DecisionLatencyHigh',
        'M87InformerStale',
        'M87ApprovalsWaitingTooLong',
        'M87ControllerNotLeading',
        'M87NotificationsDropped',
      ]),
    );
  });

  it('renders the Grafana dashboard ConfigMap with the sidecar label and valid JSON', () => {
    const cm = findObject(rendered, 'ConfigMap', 'm87-grafana-dashboard');
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    expect(cm.metadata.annotations?.grafana_folder).toBe('M87');
    const dashboard = JSON.parse(cm.data?.['m87.json'] ?? '') as { uid: string; panels: unknown[] };
    expect(dashboard.uid).toBe('m87-governance');
    expect(dashboard.panels.length).toBeGreaterThan(10);
  });

  it('renders no PrometheusRule when every alert is off (an empty rule group is invalid)', () => {
    const off = { enabled: false };
    const alerts = Object.fromEntries(
      ['envelopeVerificationFailures', 'decisionLatency', 'informerStale', 'approvalWait', 'approvalsExpired', 'notificationsDropped', 'notLeading', 'policyInvalid'].map((k) => [k, off]),
    );
    expect(objectsOfKind(renderChart({ values: { prometheusRule: { enabled: true, alerts } } }), 'PrometheusRule')).toEqual([]);
  });
});

describe('notifications', () => {
  const roleRules = (rendered: ReturnType<typeof renderChart>) =>
    (findObject(rendered, 'Role', 'm87-controller').rules as { resources: string[]; resourceNames?: string[]; verbs: string[] }[]) ?? [];

  it('are off by default: no --notify-* flag, no extra Secret rule', () => {
    const rendered = renderChart({ namespace: 'governance' });
    expect(deployment(rendered).container.args.filter((a) => a.startsWith('--notify-'))).toEqual([]);
    expect(roleRules(rendered).filter((r) => r.resourceNames !== undefined && r.resourceNames.includes('slack-hook'))).toEqual([]);
    expect(roleRules(rendered).flatMap((r) => r.resourceNames ?? [])).toEqual(['m87-signing-key', 'm87-challenge-secret']);
  });

  it('pass the Secret, its key and the events to the controller, which may get exactly that Secret', () => {
    const rendered = renderChart({
      namespace: 'governance',
      values: { notifications: { enabled: true, webhookSecret: { name: 'slack-hook', key: 'webhook' }, events: ['AwaitingApproval', 'Failed'] } },
    });
    const { container } = deployment(rendered);
    expect(arg(container, 'notify-webhook-secret')).toBe('slack-hook');
    expect(arg(container, 'notify-webhook-key')).toBe('webhook');
    expect(arg(container, 'notify-events')).toBe('AwaitingApproval,Failed');
    expect(findObject(rendered, 'Role', 'm87-controller').metadata.namespace).toBe('governance');
    expect(roleRules(rendered).filter((r) => r.resourceNames?.includes('slack-hook') === true)).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['slack-hook'], verbs: ['get'] },
    ]);
  });

  it('refuse an unknown event (schema)', () => {
    expect(() => renderChart({ values: { notifications: { enabled: true, webhookSecret: { name: 'x', key: 'url' }, events: ['Succeeded'] } } })).toThrow(/notifications/);
  });
});
