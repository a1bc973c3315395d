// Leader election against the real apiserver: one leader at a time, fast handover on release, and a
// leader frozen past its lease (SIGSTOP) that must notice on resume, before writing, that it lost.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { getObject } from '../../../src/runtime/kube-http.ts';
import { LEASE_RESOURCE, LeaderElector, NotLeaderError, type Lease, type LeaderElectionOptions } from '../../../src/runtime/leader-election.ts';
import { clusterInfo, clusterKubeConfig, testNamespace, waitFor } from '../../support/kube.ts';
import { startFaultProxy } from './fault-proxy.ts';

const ns = await testNamespace('rt-lease');
const admin = clusterKubeConfig('admin');
const FAST = { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 500 };

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function elector(lease: string, identity: string, extra: Partial<LeaderElectionOptions> = {}): LeaderElector {
  const e = new LeaderElector({ kubeConfig: admin, namespace: ns, name: lease, identity, ...FAST, ...extra });
  void e.run();
  cleanups.push(() => e.stop());
  return e;
}

const readLease = (name: string): Promise<Lease | undefined> => getObject<Lease>(admin, LEASE_RESOURCE, { namespace: ns, name });

/** Checks repeatedly, over a few renew periods, that never more than one elector leads. */
async function assertNeverTwoLeaders(electors: LeaderElector[], samples: number): Promise<void> {
  for (let i = 0; i < samples; i++) {
    expect(electors.filter((e) => e.isLeader()).length).toBeLessThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('LeaderElector', () => {
  it('elects exactly one leader, records it on the Lease, and fences the other', async () => {
    const lease = `one-${randomBytes(2).toString('hex')}`;
    const a = elector(lease, 'a');
    const b = elector(lease, 'b');
    const leader = await waitFor(() => [a, b].find((e) => e.isLeader()), { what: 'a leader' });
    const follower = leader === a ? b : a;
    await assertNeverTwoLeaders([a, b], 60);
    expect(leader.isLeader()).toBe(true);
    expect(() => leader.fence()).not.toThrow();
    expect(() => follower.fence()).toThrow(NotLeaderError);
    const record = await readLease(lease);
    expect(record?.spec).toMatchObject({ holderIdentity: leader.identity, leaseDurationSeconds: 4 });
    expect(record?.spec?.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(follower.observedLeader()).toBe(leader.identity);
  });

  it('hands over quickly when the leader releases on stop', async () => {
    const lease = `release-${randomBytes(2).toString('hex')}`;
    const stopped: string[] = [];
    // Default (long) lease: only a release lets the standby in before 15 s of observation.
    const timings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 500 };
    const a = elector(lease, 'a', { ...timings, onStoppedLeading: (reason) => stopped.push(reason) });
    await waitFor(() => a.isLeader(), { what: 'a to lead' });
    const b = elector(lease, 'b', timings);
    await waitFor(() => b.observedLeader() === 'a', { what: 'b to see a as leader' });
    const transitionsBefore = (await readLease(lease))?.spec?.leaseTransitions ?? 0;

    await a.stop();
    expect(a.isLeader()).toBe(false);
    expect(stopped).toEqual(['stopped']);
    await waitFor(() => b.isLeader(), { what: 'b to take over after the release', timeoutMs: 10_000 });
    const record = await readLease(lease);
    expect(record?.spec?.holderIdentity).toBe('b');
    expect(record?.spec?.leaseTransitions).toBe(transitionsBefore + 1);
  });

  it('stops leading when it cannot reach the apiserver to renew within the deadline', async () => {
    const lease = `partition-${randomBytes(2).toString('hex')}`;
    const proxy = await startFaultProxy(admin);
    cleanups.push(() => proxy.close());
    const stopped: string[] = [];
    const leading = new LeaderElector({
      kubeConfig: proxy.kubeConfig,
      namespace: ns,
      name: lease,
      identity: 'cut-off',
      ...FAST,
      onStoppedLeading: (reason) => stopped.push(reason),
    });
    const run = leading.run();
    cleanups.push(() => leading.stop());
    await waitFor(() => leading.isLeader(), { what: 'the elector to lead' });
    const standby = elector(lease, 'standby');

    proxy.partition();
    await waitFor(() => stopped.length > 0, { what: 'the cut-off leader to stop leading' });
    expect(stopped).toEqual(['renew deadline passed']);
    expect(leading.isLeader()).toBe(false);
    expect(() => leading.fence()).toThrow(NotLeaderError);
    await run; // the election ends with the leadership
    await waitFor(() => standby.isLeader(), { what: 'the standby to take over', timeoutMs: 20_000 });
  });

  it('a leader frozen past its lease notices on resume that it lost, before writing', async () => {
    const lease = `frozen-${randomBytes(2).toString('hex')}`;
    const configMap = `written-by-${lease}`;
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: configMap }, data: {} } });

    const childPath = fileURLToPath(new URL('./fixtures/elector-child.ts', import.meta.url));
    const child: ChildProcess = spawn(process.execPath, [childPath, clusterInfo().kubeconfigPath, 'admin', ns, lease, 'child', configMap], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
    });
    const lines: { event: string; wall: number; reason?: string; writes?: number }[] = [];
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let buffered = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buffered.slice(0, nl)) as (typeof lines)[number]);
        buffered = buffered.slice(nl + 1);
      }
    });

    await waitFor(() => lines.some((l) => l.event === 'wrote'), { what: `the child to lead and write (stderr: ${stderr})` });
    const standby = elector(lease, 'standby');
    await assertNeverTwoLeaders([standby], 20);

    // Freeze it right after a write, i.e. between writes.
    const writesSoFar = lines.filter((l) => l.event === 'wrote').length;
    await waitFor(() => lines.filter((l) => l.event === 'wrote').length > writesSoFar, { what: 'the next write', intervalMs: 5 });
    child.kill('SIGSTOP');
    await waitFor(() => standby.isLeader(), { what: 'the standby to take over from the frozen leader', timeoutMs: 20_000 });
    // The new leader writes; the old one must not overwrite it after it wakes up.
    await core.patchNamespacedConfigMap({ name: configMap, namespace: ns, body: [{ op: 'replace', path: '/data', value: { writer: 'standby' } }] });

    const resumedAt = Date.now();
    child.kill('SIGCONT');
    await waitFor(() => lines.find((l) => l.event === 'stopped' && l.wall >= resumedAt), { what: 'the child to notice it lost the lease' });
    // Give the child's write loop several more ticks to (wrongly) write.
    await waitFor(() => lines.find((l) => l.event === 'exit'), { what: 'the child to end its election' });
    await new Promise((resolve) => setTimeout(resolve, 500));

    expect(lines.filter((l) => (l.event === 'wrote' || l.event === 'fence-passed') && l.wall >= resumedAt)).toEqual([]);
    expect(lines.find((l) => l.event === 'stopped')?.reason).toBe('renew deadline passed');
    const current = await core.readNamespacedConfigMap({ name: configMap, namespace: ns });
    expect(current.data).toEqual({ writer: 'standby' });
    expect(standby.isLeader()).toBe(true);
    expect((await readLease(lease))?.spec?.holderIdentity).toBe('standby');
  });
});
