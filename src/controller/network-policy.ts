// The job Pod's NetworkPolicy (docs/dev/pod-contract.md): deny all ingress, and all egress except the
// envelope's allowlist. The runner's egress gate enforces host names and request counts; this policy is the
// kernel backstop, so it is built from the same signed envelope.
import { isIP } from 'node:net';
import type { EgressRule } from '../api/envelope.ts';
import { LABELS } from '../api/group.ts';
import { jobLabels, jobNetworkPolicyName, labelValue } from './names.ts';
import { controllerRef } from './owner.ts';

export interface NetworkPolicyPort {
  protocol: 'TCP' | 'UDP';
  port: number;
}

export interface NetworkPolicyPeer {
  ipBlock?: { cidr: string; except?: string[] };
  namespaceSelector?: { matchLabels: Record<string, string> };
  podSelector?: { matchLabels: Record<string, string> };
}

export interface NetworkPolicyEgressRule {
  to?: NetworkPolicyPeer[];
  ports: NetworkPolicyPort[];
}

export interface NetworkPolicySpec {
  podSelector: { matchLabels: Record<string, string> };
  policyTypes: ['Ingress', 'Egress'];
  ingress: [];
  egress: NetworkPolicyEgressRule[];
}

export interface JobNetworkPolicy {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    ownerReferences: ReturnType<typeof controllerRef>[];
  };
  spec: NetworkPolicySpec;
}

export class EgressRuleError extends Error {
  override name = 'EgressRuleError';
}

/** Where cluster DNS runs; a name in the allowlist needs it, an IP-only allowlist does not. */
export const CLUSTER_DNS_PEER: NetworkPolicyPeer = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
  podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
};

/**
 * Where a name in the allowlist may resolve to: anywhere public. Cluster-internal and private ranges (the
 * API server's service address, Pods, nodes, link-local metadata endpoints, loopback) stay closed, because
 * a NetworkPolicy cannot say "only the addresses of this name" and the kernel backstop must never open them.
 * IPv4 only: a name that resolves only to IPv6 stays blocked (fail closed) until an IPv6 peer is added with
 * an analyzer that can verify it (netpol-analyzer v1.2.0 reads `::/0` as every address).
 */
export const PUBLIC_INTERNET_PEERS: NetworkPolicyPeer[] = [
  {
    ipBlock: {
      cidr: '0.0.0.0/0',
      except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16', '127.0.0.0/8'],
    },
  },
];

const DNS_NAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * Egress rules for the allowlist. An IP host becomes an ipBlock /32 (/128) on its port. A DNS name cannot be
 * expressed as a peer, so it allows its TCP port to public addresses only (the runner's gate restricts the
 * name; private and cluster ranges stay closed) and adds DNS to kube-dns. Anything that is neither is refused (fail closed), naming the field.
 */
export function egressRules(egress: readonly EgressRule[]): NetworkPolicyEgressRule[] {
  const rules: NetworkPolicyEgressRule[] = [];
  let needsDns = false;
  egress.forEach((rule, i) => {
    const field = `envelope.egress[${i}]`;
    if (!Number.isInteger(rule.port) || rule.port < 1 || rule.port > 65535) {
      throw new EgressRuleError(`${field}.port: ${rule.port} is not a TCP port`);
    }
    const family = isIP(rule.host);
    if (family === 4 || family === 6) {
      rules.push({ to: [{ ipBlock: { cidr: `${rule.host}/${family === 4 ? 32 : 128}` } }], ports: [{ protocol: 'TCP', port: rule.port }] });
    } else if (DNS_NAME.test(rule.host)) {
      needsDns = true;
      rules.push({ to: PUBLIC_INTERNET_PEERS, ports: [{ protocol: 'TCP', port: rule.port }] });
    } else {
      throw new EgressRuleError(`${field}.host: ${JSON.stringify(rule.host)} is neither an IP address nor a DNS name`);
    }
  });
  if (needsDns) {
    rules.push({
      to: [CLUSTER_DNS_PEER],
      ports: [
        { protocol: 'UDP', port: 53 },
        { protocol: 'TCP', port: 53 },
      ],
    });
  }
  return rules;
}

export interface JobRef {
  namespace: string;
  name: string;
  uid: string;
  proposalName: string;
}

export function buildNetworkPolicy(job: JobRef, egress: readonly EgressRule[]): JobNetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: jobNetworkPolicyName(job.name),
      namespace: job.namespace,
      labels: jobLabels(job.name, job.proposalName),
      ownerReferences: [controllerRef('Job', job)],
    },
    spec: {
      podSelector: { matchLabels: { [LABELS.job]: labelValue(job.name) } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [],
      egress: egressRules(egress),
    },
  };
}

/**
 * Whether a NetworkPolicy read back from the server isolates the Pod at least as strictly as the one we
 * built: same selector, both policy types, no ingress rule, exactly our egress rules. Anything else (someone
 * edited it, or defaulting we did not expect) means the Pod must not be created.
 */
export function networkPolicyMatches(actual: unknown, expected: JobNetworkPolicy): { ok: true } | { ok: false; field: string } {
  const spec = (actual as { spec?: Record<string, unknown> } | undefined)?.spec;
  if (!spec) return { ok: false, field: 'spec' };
  const selector = spec.podSelector as { matchLabels?: Record<string, string>; matchExpressions?: unknown[] } | undefined;
  if (JSON.stringify(sortKeys(selector?.matchLabels ?? {})) !== JSON.stringify(sortKeys(expected.spec.podSelector.matchLabels))) {
    return { ok: false, field: 'spec.podSelector.matchLabels' };
  }
  if ((selector?.matchExpressions ?? []).length > 0) return { ok: false, field: 'spec.podSelector.matchExpressions' };
  const types = new Set((spec.policyTypes as string[] | undefined) ?? []);
  if (!types.has('Ingress') || !types.has('Egress')) return { ok: false, field: 'spec.policyTypes' };
  if (((spec.ingress as unknown[] | undefined) ?? []).length > 0) return { ok: false, field: 'spec.ingress' };
  const normalise = (rules: unknown): string =>
    JSON.stringify(
      ((rules as NetworkPolicyEgressRule[] | undefined) ?? []).map((r) => ({
        to: (r.to ?? []).map((p) => sortKeys(p)),
        ports: (r.ports ?? []).map((p) => ({ protocol: p.protocol ?? 'TCP', port: p.port })),
      })),
    );
  if (normalise(spec.egress) !== normalise(expected.spec.egress)) return { ok: false, field: 'spec.egress' };
  return { ok: true };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}
