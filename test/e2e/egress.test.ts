// Egress from a job Pod. The runner's tools reach the network only through its egress gate (an HTTP proxy on
// loopback inside the Pod's network namespace: host allowlist from the signed envelope, maxExternalIO
// counted); the process node puts the Pod in its own network namespace and, in veth mode, enforces the job's
// NetworkPolicy with nftables. Servers used here: one on the host's loopback (started by this test) and the
// stack's egress target (an address this run created, see dev/demo/egress-target.ts).
//
// Not covered here: the shipped Tools reach the network only through the gate (http(s)_proxy), so the
// kernel backstop against a direct connection is only checked as far as the NetworkPolicy the controller
// writes; that the node enforces such a policy with nftables is test/integration/node/egress.test.ts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../../src/api/group.ts';
import { getPod } from '../../dev/demo/observe.ts';
import { networkCallSpec } from '../../dev/demo/proposals.ts';
import { runProposal, type ProposalRun } from '../../dev/demo/scenarios.ts';
import { kubeRequest } from '../../src/runtime/kube-http.ts';
import { e2eStack } from './stack.ts';

const { stack, ctx } = await e2eStack('egress');
const ns = stack.jobNamespace;

/** A plain HTTP server on the host's loopback, counting what reaches it. */
let loopback: Server;
let loopbackPort = 0;
const loopbackHits: string[] = [];

async function allowEgress(extra: { host: string; port: number }[]): Promise<void> {
  await kubeRequest(stack.admin, {
    method: 'PATCH',
    path: `/apis/${API_VERSION}/governancepolicies/default`,
    contentType: 'application/merge-patch+json',
    body: { spec: { envelope: { allowedEgress: [stack.egressDestination, ...extra] } } },
  });
}

beforeAll(async () => {
  loopback = createServer((req, res) => {
    loopbackHits.push(req.url ?? '');
    res.end('host loopback\n');
  });
  await new Promise<void>((resolve) => loopback.listen(0, '127.0.0.1', resolve));
  loopbackPort = (loopback.address() as AddressInfo).port;
  await allowEgress([{ host: '127.0.0.1', port: loopbackPort }]);
});

afterAll(async () => {
  await allowEgress([]);
  await new Promise((resolve) => loopback.close(resolve));
});

/**
 * alice's GETs (a person: no shipped agent profile allows NETWORK_CALL; the demo scenarios are bob's, so no
 * toxic pair from another test file reaches into these). bob approves should a human be required anyway.
 */
function fetchAs(name: string, urls: string[], egress: { host: string; port: number }, maxExternalIO?: number): Promise<ProposalRun> {
  return runProposal(ctx, {
    as: stack.alice,
    submitter: 'alice',
    name: `${name}-${ctx.suffix}`,
    spec: networkCallSpec('alice', urls, egress, maxExternalIO),
    approver: 'bob',
  });
}

function expectMinted(run: ProposalRun): void {
  // A lone NETWORK_CALL completes no toxic pair and is within the Human profile's risk.
  expect(run.decision.spec.outcome).toBe('ALLOW');
  expect(run.job).toBeDefined();
}

describe('egress from a job Pod', () => {
  it('a host loopback server outside the allowlist: the runner refuses the step, nothing is sent', async () => {
    const run = await fetchAs('loopback-not-allowed', [`http://127.0.0.1:${loopbackPort}/not-allowed`], stack.egressDestination);
    expectMinted(run);
    expect(run.job?.status?.phase).toBe('Failed');
    // The step is listed as refused before its tool ran (exit code -1); nothing went out.
    expect(run.job?.status?.receipt).toMatchObject({ status: 'Refused', reasonCode: 'EGRESS_HOST_NOT_ALLOWED', steps: [{ tool: 'http-get', exitCode: -1 }], usage: { steps: 0, externalIO: 0 } });
    expect(loopbackHits).toEqual([]);
  });

  it('a host loopback server in the allowlist is still unreachable from the Pod: the gate admits, the namespace has no such server', async () => {
    const run = await fetchAs('loopback-allowed', [`http://127.0.0.1:${loopbackPort}/allowed`], { host: '127.0.0.1', port: loopbackPort });
    expectMinted(run);
    expect(run.job?.spec.envelope.egress).toEqual([{ host: '127.0.0.1', port: loopbackPort }]);
    expect(run.job?.status?.phase).toBe('Failed');
    // The gate counted the request it admitted (try-then-consume), then its connection was refused.
    expect(run.job?.status?.receipt).toMatchObject({ status: 'Failed', reasonCode: 'EGRESS_UPSTREAM_FAILED', usage: { externalIO: 1 } });
    expect(run.runner?.egress?.records).toContainEqual({ method: 'GET', host: '127.0.0.1', port: loopbackPort, allowed: true });
    expect(run.runner?.egress?.records).toContainEqual({ method: 'GET', host: '127.0.0.1', port: loopbackPort, allowed: false, code: 'EGRESS_UPSTREAM_FAILED' });
    expect(loopbackHits).toEqual([]);
  });

  describe.skipIf(stack.network !== 'veth')('veth mode (NetworkPolicy egress via nftables)', () => {
    it('the allowlisted target is reached through the egress gate, from the Pod, and counted', async () => {
      const target = stack.egress!;
      const before = target.requests.length;
      const run = await fetchAs('allowed-target', [target.url('/counted')], stack.egressDestination);
      expectMinted(run);
      expect(run.job?.status?.phase).toBe('Succeeded');
      expect(run.job?.status?.receipt).toMatchObject({ status: 'Succeeded', usage: { externalIO: 1 } });
      expect(run.runner?.egress).toMatchObject({ allowed: 1, refused: 0 });
      const got = target.requests.slice(before);
      const pod = await getPod(stack.admin, ns, run.job!.status!.podName!);
      expect(got).toHaveLength(1);
      expect(got[0]).toMatchObject({ method: 'GET', path: '/counted', remoteAddress: pod?.status?.podIP, });
      // The shipped http-get Tool is curl, in its own image; the gate forwards its request as sent.
      expect(got[0]?.headers['user-agent']).toMatch(/^curl\//);
      expect(got[0]?.headers['proxy-authorization']).toBeUndefined();
      // The kernel backstop the controller wrote: deny everything but the allowlisted address and port.
      const np = await kubeRequest<{ spec: { policyTypes: string[]; ingress?: unknown[]; egress?: unknown[] } }>(stack.admin, {
        method: 'GET',
        path: `/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies/m87-job-${run.name}`,
      });
      expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
      expect(np.spec.ingress ?? []).toEqual([]);
      expect(np.spec.egress).toEqual([{ to: [{ ipBlock: { cidr: `${target.host}/32` } }], ports: [{ protocol: 'TCP', port: target.port }] }]);
    });

    it('budget exhaustion: with maxExternalIO 1 the second request is refused and the run halts', async () => {
      const target = stack.egress!;
      const before = target.requests.length;
      const run = await fetchAs('io-budget', [target.url('/budget-1'), target.url('/budget-2'), target.url('/budget-3')], stack.egressDestination, 1);
      expectMinted(run);
      const receipt = run.job?.status?.receipt;
      expect(run.job?.status?.phase).toBe('Failed');
      expect(receipt).toMatchObject({ status: 'Refused', reasonCode: 'BUDGET_EXTERNAL_IO_EXCEEDED', usage: { steps: 2, externalIO: 1 } });
      // curl's own exit code for the gate's refusal (22: HTTP error with --fail).
      expect(receipt?.steps.map((s) => s.exitCode === 0)).toEqual([true, false]);
      expect(run.job?.status?.reason).toBe('BUDGET_EXTERNAL_IO_EXCEEDED');
      expect(target.requests.slice(before).map((r) => r.path)).toEqual(['/budget-1']);
      expect(run.runner?.egress).toMatchObject({ allowed: 1, refused: 1 });
    });
  });
});
