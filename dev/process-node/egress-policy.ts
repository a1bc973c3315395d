// NetworkPolicy egress, made real in veth mode: the policies selecting the Pod are rendered to an nftables
// ruleset loaded inside the Pod's own network namespace before its process starts (default drop; ipBlock
// cidr/except + ports allowed; DNS only when a rule allows it). Fail closed where we cannot be exact:
// podSelector/namespaceSelector peers and named ports allow nothing; rules are read once at start.
// Whatever the policies say, nothing may leave for an address outside the node's Pod pool (this node only
// ever talks to loopback and namespaces it created).
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { kubeRequest } from '../../src/runtime/kube-http.ts';
import { resourcePath, type ResourceType } from '../../src/runtime/resource.ts';
import { hostCommand } from './host-exec.ts';
import { formatIPv4, parseCidr, type PodNetworks, type PodSandbox } from './pod-network.ts';
import type { PodLike } from './pod-types.ts';

export const NETWORK_POLICIES: ResourceType = { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', namespaced: true, kind: 'NetworkPolicy' };

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export interface NetworkPolicyPort {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}

export interface NetworkPolicyPeer {
  ipBlock?: { cidr: string; except?: string[] };
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
}

export interface NetworkPolicyLike {
  metadata: { name?: string; namespace?: string };
  spec: {
    podSelector?: LabelSelector;
    policyTypes?: string[];
    egress?: { to?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[];
    ingress?: unknown[];
  };
}

export interface EgressPolicy {
  /** Installs the egress rules for the Pod inside its namespace before its process starts. */
  apply(pod: PodLike, sandbox: PodSandbox): Promise<void>;
}

/** Kubernetes label selector semantics; an unknown operator matches nothing (fail closed). */
export function selectorMatches(selector: LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (selector === undefined) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const expr of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, expr.key);
    const value = labels[expr.key];
    switch (expr.operator) {
      case 'In':
        if (!has || !(expr.values ?? []).includes(value!)) return false;
        break;
      case 'NotIn':
        if (has && (expr.values ?? []).includes(value!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

export function selectsForEgress(policy: NetworkPolicyLike, pod: PodLike): boolean {
  const types = policy.spec.policyTypes ?? (policy.spec.egress !== undefined ? ['Ingress', 'Egress'] : ['Ingress']);
  return types.includes('Egress') && selectorMatches(policy.spec.podSelector ?? {}, pod.metadata.labels ?? {});
}

function cidrText(cidr: string, field: string): string | undefined {
  if (cidr.includes(':')) return undefined; // IPv6 peers: the namespace has no IPv6 route anyway
  const c = parseCidr(cidr, field);
  return `${formatIPv4(c.base)}/${c.prefix}`;
}

function portMatch(port: NetworkPolicyPort): string | undefined {
  const proto = (port.protocol ?? 'TCP').toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') return undefined;
  if (port.port === undefined) return `meta l4proto ${proto}`;
  if (typeof port.port !== 'number') return undefined; // named ports: no container ports here → nothing
  const range = port.endPort !== undefined ? `${port.port}-${port.endPort}` : String(port.port);
  return `${proto} dport ${range}`;
}

/** The nftables ruleset for a Pod, given the policies that select it for egress. */
export function renderEgressRuleset(policies: readonly NetworkPolicyLike[], poolCidr: string): string {
  const rules: string[] = [];
  const selected = policies.length > 0;
  if (!selected) {
    rules.push('accept');
  } else {
    for (const [p, policy] of policies.entries()) {
      for (const [r, rule] of (policy.spec.egress ?? []).entries()) {
        const field = `networkpolicy ${policy.metadata.name ?? p}.spec.egress[${r}]`;
        const peers: (string | undefined)[] =
          rule.to === undefined || rule.to.length === 0
            ? ['']
            : rule.to.map((peer, i) => {
                if (peer.ipBlock === undefined) return undefined; // pod/namespace selectors: fail closed
                const cidr = cidrText(peer.ipBlock.cidr, `${field}.to[${i}].ipBlock.cidr`);
                if (cidr === undefined) return undefined;
                const except = (peer.ipBlock.except ?? [])
                  .map((e, j) => cidrText(e, `${field}.to[${i}].ipBlock.except[${j}]`))
                  .filter((e): e is string => e !== undefined);
                return `ip daddr ${cidr}${except.length > 0 ? ` ip daddr != { ${except.join(', ')} }` : ''} `;
              });
        const ports: (string | undefined)[] = rule.ports === undefined || rule.ports.length === 0 ? [''] : rule.ports.map(portMatch);
        for (const peer of peers) {
          if (peer === undefined) continue;
          for (const port of ports) {
            if (port === undefined) continue;
            rules.push(`${peer}${port === '' ? '' : `${port} `}accept`.trim());
          }
        }
      }
    }
  }
  return [
    'table inet m87_egress {',
    '  chain output {',
    '    type filter hook output priority 0; policy drop;',
    '    oif "lo" accept',
    '    ct state established,related accept',
    '    meta nfproto ipv6 drop',
    `    ip daddr != ${poolCidr} drop`,
    ...rules.map((r) => `    ${r}`),
    '  }',
    '}',
    '',
  ].join('\n');
}

export async function createEgressPolicy(opts: { kc: KubeConfig; networks: PodNetworks; log: Logger }): Promise<EgressPolicy> {
  try {
    await hostCommand('nft', ['--version']);
  } catch {
    throw new Error("network.mode 'veth' needs the nft tool (Debian package nftables) to enforce NetworkPolicy; use mode 'isolated' or install it");
  }
  const pool = `${formatIPv4(opts.networks.pool.base)}/${opts.networks.pool.prefix}`;
  return {
    async apply(pod, sandbox) {
      const list = await kubeRequest<{ items?: NetworkPolicyLike[] }>(opts.kc, {
        method: 'GET',
        path: resourcePath(NETWORK_POLICIES, { namespace: pod.metadata.namespace }),
      });
      const selecting = (list.items ?? []).filter((p) => selectsForEgress(p, pod));
      const ruleset = renderEgressRuleset(selecting, pool);
      await hostCommand('ip', ['netns', 'exec', sandbox.name, 'nft', '-f', '-'], ruleset);
      opts.log.info({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, policies: selecting.map((p) => p.metadata.name) }, 'Egress rules installed');
    },
  };
}
