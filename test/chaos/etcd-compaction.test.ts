// Scenario 3: etcd is compacted while the controller's watches are open and a burst is in flight. The API
// server's watch cache keeps serving open watches, so compaction alone reaches no client (counted, not assumed);
// then etcd is compacted again and kube-apiserver restarted, so every informer must resume from a revision that
// neither the new watch cache nor etcd still has: 410 Gone, relist, and nothing is missed.
import { afterAll, describe, expect, it } from 'vitest';
import { etcdRevision } from '../../dev/cluster/faults.ts';
import { waitUntil } from '../../dev/cluster/probe.ts';
import { ControllerProcess, isExpiredWatchLine, OUTAGE_LEASE } from './support/controller-process.ts';
import { apiBackAfterOutage, localPlane, setupChaosEnv } from './support/env.ts';
import { chaosCounts } from './support/mode.ts';
import { assertSettledInvariants, DecisionPoller, waitForSettled } from './support/observe.ts';
import { ScenarioReport } from './support/report.ts';
import { burstNames, createBurst, noteApiOutage, type Created } from './support/workload.ts';

const counts = chaosCounts().compaction;
const report = new ScenarioReport('compaction');
afterAll(() => report.save());
const plane = localPlane();
if (plane === undefined) report.note('skipped: faults need the local control plane, and the test cluster (M87_KUBECONFIG) is not one');

/** etcd's answer to a read at `revision`: the error message when it refuses (compacted). */
async function readAtRevision(etcdPort: number, revision: number): Promise<string | undefined> {
  const res = await fetch(`http://127.0.0.1:${etcdPort}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from('/registry/').toString('base64'), range_end: Buffer.from('/registry0').toString('base64'), revision: String(revision), count_only: true }),
  });
  const body = (await res.json()) as { message?: string; error?: string };
  return res.ok ? undefined : (body.message ?? body.error ?? `HTTP ${res.status}`);
}

describe.skipIf(plane === undefined)('etcd compacted while watches are open', async () => {
  if (plane === undefined) return;
  const env = await setupChaosEnv('chaos-compact');
  const controller = new ControllerProcess({ env, label: 'compaction', lease: OUTAGE_LEASE });
  const poller = new DecisionPoller(env.namespace);
  const uids = new Map<string, string>();
  afterAll(() => poller.stop());
  const expired = (): number => controller.linesMatching(isExpiredWatchLine).length;

  it('the controller starts and leads', async () => {
    await report.step('controller ready', () => controller.ready());
  });

  it(`${counts.compactions} compactions during a burst of ${counts.proposals}: nothing missed`, async () => {
    await report.step('compactions during a burst', async () => {
      const names = burstNames('compact', counts.proposals);
      const created: Created[] = [];
      const every = Math.max(1, Math.floor(names.length / (counts.compactions + 1)));
      const compactions: Promise<void>[] = [];
      const before = expired();
      const creating = createBurst(env, names, {
        onCreated: (c) => {
          created.push(c);
          uids.set(c.name, c.uid);
          if (created.length % every === 0 && compactions.length < counts.compactions) {
            const compaction = (async () => {
              const { revision } = await plane.compactEtcd();
              // etcd now refuses reads below the compacted revision: the history really is gone.
              const refusal = await readAtRevision(plane.ports.etcdClient, revision - 1);
              expect(refusal, `etcd read at ${revision - 1} after compacting at ${revision}`).toMatch(/compacted/);
            })();
            compaction.catch(() => undefined); // awaited below (Promise.all)
            compactions.push(compaction);
          }
        },
      });
      await creating;
      await Promise.all(compactions);
      expect(compactions.length).toBe(counts.compactions);
      await poller.waitFor(names, 'every proposal of the compaction burst decided', 180_000, controller.assertAlive);
      report.count('burst 1: proposals', names.length);
      report.count('burst 1: etcd compactions during the burst', compactions.length);
      report.count('burst 1: watches answered 410 Gone', expired() - before);
    });
  });

  it('compaction + kube-apiserver restart: informers get 410 Gone, relist, and miss nothing', async () => {
    await report.step('compaction, then kube-apiserver restart, during a burst', async () => {
      const names = burstNames('relist', counts.proposals);
      const created: Created[] = [];
      let half: () => void = () => undefined;
      const halfway = new Promise<void>((resolve) => (half = resolve));
      const creating = createBurst(env, names, {
        onCreated: (c) => {
          created.push(c);
          uids.set(c.name, c.uid);
          if (created.length === Math.ceil(names.length / 2)) half();
        },
      });
      creating.catch(() => undefined);
      await Promise.race([halfway, creating]);
      const before = expired();
      const { revision } = await plane.compactEtcd();
      const restartedAt = performance.now();
      const apiBack = apiBackAfterOutage(plane);
      apiBack.catch(() => undefined); // awaited below
      noteApiOutage(); // agents' 401/403 from the restarted API server are warming, not verdicts
      await plane.restartComponent('kube-apiserver', { signal: 'SIGKILL' });
      const back = await apiBack;
      report.sample('kube-apiserver killed → API answers again', back - restartedAt);
      if (!controller.alive()) {
        throw new Error(`the controller exited (${JSON.stringify(controller.exitStatus())}) during an API outage of ${Math.round(back - restartedAt)} ms (renew deadline ${OUTAGE_LEASE.renewDeadlineMs} ms)`);
      }
      await creating;
      const last = await poller.waitFor(names, 'every proposal of the relist burst decided', 180_000, controller.assertAlive);
      report.sample('API answers again → every proposal decided (catch-up)', Math.max(0, last - back));
      // Every informer resumes from a revision at or below the compaction: each must have been told 410 Gone.
      await waitUntil(() => Promise.resolve(expired() - before >= 1 ? true : undefined), { what: 'a 410 Gone in the controller log', timeoutMs: 30_000 });
      report.count('burst 2: proposals', names.length);
      report.count('burst 2: compacted revision', revision);
      report.count('burst 2: etcd revision after the burst', await etcdRevision(plane.stateDir));
      report.count('burst 2: watches answered 410 Gone (each relisted)', expired() - before);
      report.count('burst 2: agent retries while the API was unavailable', created.reduce((n, c) => n + c.retries, 0));
    });
  });

  it('nothing lost, nothing duplicated; the controller was never restarted', async () => {
    await report.step('one Decision per Proposal, ≤ 1 Job, one Pod per Job, NetworkPolicy before Pod', async () => {
      await waitForSettled(env, [...uids.keys()]);
      const settled = await assertSettledInvariants(env, uids);
      expect([...poller.replaced], 'Decisions deleted and made again').toEqual([]);
      report.count('Jobs', settled.jobs);
      report.count('Pods', settled.pods);
      expect(controller.linesMatching((l) => l.msg === 'Controller started').length, 'started once').toBe(1);
      expect((await controller.stop()).code).toBe(0);
    });
  });
});
