import { describe, expect, it } from 'vitest';
import { LABELS } from '../../../src/api/group.ts';
import { buildNetworkPolicy, CLUSTER_DNS_PEER, EgressRuleError, egressRules, networkPolicyMatches, PUBLIC_INTERNET_PEERS } from '../../../src/controller/network-policy.ts';
import { labelValue } from '../../../src/controller/names.ts';

const job = { namespace: 'team-a', name: 'write-file', uid: 'job-uid', proposalName: 'write-file' };

describe('job NetworkPolicy', () => {
  it('selects the job Pod, isolates both directions and allows no ingress', () => {
    const np = buildNetworkPolicy(job, []);
    expect(np.metadata.name).toBe('m87-job-write-file');
    expect(np.spec.podSelector).toEqual({ matchLabels: { [LABELS.job]: 'write-file' } });
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.spec.ingress).toEqual([]);
    expect(np.spec.egress).toEqual([]);
    expect(np.metadata.ownerReferences).toEqual([
      { apiVersion: 'governance.m87.io/v1alpha1', kind: 'Job', name: 'write-file', uid: 'job-uid', controller: true, blockOwnerDeletion: true },
    ]);
    expect(np.metadata.labels[LABELS.managedBy]).toBe('m87');
  });

  it('turns IP hosts into /32 and /128 ipBlocks on their port, without DNS', () => {
    const rules = egressRules([
      { host: '10.1.2.3', port: 443 },
      { host: 'fd00::1', port: 8443 },
    ]);
    expect(rules).toEqual([
      { to: [{ ipBlock: { cidr: '10.1.2.3/32' } }], ports: [{ protocol: 'TCP', port: 443 }] },
      { to: [{ ipBlock: { cidr: 'fd00::1/128' } }], ports: [{ protocol: 'TCP', port: 8443 }] },
    ]);
  });

  it('adds DNS to kube-dns (UDP and TCP 53) only when a name is in the allowlist', () => {
    const rules = egressRules([
      { host: '10.1.2.3', port: 443 },
      { host: 'api.example.com', port: 443 },
    ]);
    // A name opens its port to public addresses only: private and cluster ranges stay closed.
    expect(rules).toContainEqual({ to: PUBLIC_INTERNET_PEERS, ports: [{ protocol: 'TCP', port: 443 }] });
    expect(PUBLIC_INTERNET_PEERS[0]?.ipBlock?.except).toEqual(expect.arrayContaining(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16']));
    expect(rules.at(-1)).toEqual({
      to: [CLUSTER_DNS_PEER],
      ports: [
        { protocol: 'UDP', port: 53 },
        { protocol: 'TCP', port: 53 },
      ],
    });
    expect(rules.filter((r) => r.to?.[0] === CLUSTER_DNS_PEER)).toHaveLength(1);
  });

  it('refuses a host that is neither an IP nor a DNS name, naming the field', () => {
    expect(() => egressRules([{ host: 'a..b', port: 1 }])).toThrow(EgressRuleError);
    expect(() => egressRules([{ host: 'ok.example', port: 1 }, { host: '1.2.3.4:80', port: 80 }])).toThrow(/envelope\.egress\[1\]\.host/);
  });

  it('uses a shortened, stable label value for long job names (Pod and policy agree)', () => {
    const long = 'x'.repeat(200);
    const np = buildNetworkPolicy({ ...job, name: long, proposalName: long }, []);
    const value = np.spec.podSelector.matchLabels[LABELS.job];
    expect(value).toBe(labelValue(long));
    expect(value!.length).toBeLessThanOrEqual(63);
    expect(np.metadata.name.length).toBeLessThanOrEqual(253);
  });

  it('detects a read-back policy that differs from the one built', () => {
    const np = buildNetworkPolicy(job, [{ host: '10.0.0.9', port: 80 }]);
    // What the API server returns: defaults filled in (protocol), keys in another order.
    const stored = JSON.parse(JSON.stringify(np)) as typeof np;
    expect(networkPolicyMatches(stored, np)).toEqual({ ok: true });
    expect(networkPolicyMatches({ spec: { ...stored.spec, ingress: [{}] } }, np)).toEqual({ ok: false, field: 'spec.ingress' });
    expect(networkPolicyMatches({ spec: { ...stored.spec, policyTypes: ['Ingress'] } }, np)).toEqual({ ok: false, field: 'spec.policyTypes' });
    expect(networkPolicyMatches({ spec: { ...stored.spec, egress: [{ ports: [{ protocol: 'TCP', port: 80 }] }] } }, np)).toEqual({ ok: false, field: 'spec.egress' });
    expect(networkPolicyMatches({ spec: { ...stored.spec, podSelector: {} } }, np)).toEqual({ ok: false, field: 'spec.podSelector.matchLabels' });
    expect(networkPolicyMatches(undefined, np)).toEqual({ ok: false, field: 'spec' });
  });
});
