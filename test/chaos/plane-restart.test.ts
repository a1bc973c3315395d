// Scenario 2: kube-apiserver, and in further bursts etcd, is killed and started again (same ports, same data)
// while agents create proposals. The controller process is never restarted: it must ride out the outage, catch up
// and miss nothing. Catch-up is measured from the moment the restarted component answers again.
import { afterAll, describe, expect, it } from 'vitest';
import type { RestartableComponent } from '../../dev/cluster/faults.ts';
import type { ControlPlane } from '../../dev/cluster/plane.ts';
import { httpGet, waitUntil } from '../../dev/cluster/probe.ts';
import { ControllerProcess, isExpiredWatchLine, OUTAGE_LEASE } from './support/controller-process.ts';
import { apiBackAfterOutage, localPlane, setupChaosEnv } from './support/env.ts';
import { chaosCounts } from './support/mode.ts';
import { assertSettledInvariants, DecisionPoller, waitForSettled } from './support/observe.ts';
import { ScenarioReport } from './support/report.ts';
import { burstNames, createBurst, noteApiOutage, type Created } from './support/workload.ts';

const counts = chaosCounts().restart;
const report = new ScenarioReport('restart');
afterAll(() => report.save());
const plane = localPlane();
if (plane === undefined) report.note('skipped: faults need the local control plane, and the test cluster (M87_KUBECONFIG) is not one');

describe.skipIf(plane === undefined)('kube-apiserver and etcd restarted during a burst', async () => {
  if (plane === undefined) return;
  const cp: ControlPlane = plane;
  const env = await setupChaosEnv('chaos-restart');
  const controller = new ControllerProcess({ env, label: 'restart', lease: OUTAGE_LEASE });
  const poller = new DecisionPoller(env.namespace);
  const uids = new Map<string, string>();
  afterAll(() => poller.stop());

  async function apiAnswers(): Promise<void> {
    await waitUntil(async () => ((await httpGet(`${cp.server}/readyz`, { caPem: cp.caPem })).status === 200 ? true : undefined), {
      what: 'kube-apiserver /readyz',
      timeoutMs: 120_000,
      intervalMs: 50,
    });
  }

  async function burstWithRestart(component: RestartableComponent, prefix: string): Promise<void> {
    const names = burstNames(prefix, counts.proposals);
    const created: Created[] = [];
    let restarted: () => void = () => undefined;
    const third = new Promise<void>((resolve) => (restarted = resolve));
    const creating = createBurst(env, names, {
      onCreated: (c) => {
        created.push(c);
        uids.set(c.name, c.uid);
        if (created.length === Math.ceil(names.length / 3)) restarted();
      },
    });
    creating.catch(() => undefined); // awaited below; a failure must not surface as unhandled meanwhile
    await Promise.race([third, creating]);
    const expiredBefore = controller.linesMatching(isExpiredWatchLine).length;
    const killedAt = performance.now();
    // "Back": kube-apiserver answers again, or etcd is healthy again (the API server answered all along).
    const apiBack = component === 'kube-apiserver' ? apiBackAfterOutage(cp) : undefined;
    apiBack?.catch(() => undefined); // awaited below
    noteApiOutage(); // agents' 401/403 from the restarted API server are warming, not verdicts
    await cp.restartComponent(component, { signal: 'SIGKILL', downtimeMs: 1000 });
    const back = apiBack !== undefined ? await apiBack : performance.now();
    report.sample(`${component} killed (down 1 s) → ${component} answers again`, back - killedAt);
    await apiAnswers();
    if (!controller.alive()) {
      throw new Error(`the controller exited (${JSON.stringify(controller.exitStatus())}) during an API outage of ${Math.round(back - killedAt)} ms (renew deadline ${OUTAGE_LEASE.renewDeadlineMs} ms)`);
    }
    await creating;
    const last = await poller.waitFor(names, `every proposal of the ${component} burst decided`, 180_000, controller.assertAlive);
    report.sample(`${component} back → every proposal decided (catch-up)`, Math.max(0, last - back));
    const afterBack = names.map((n) => poller.firstSeen.get(n) ?? 0).filter((t) => t >= back);
    if (afterBack.length > 0) report.sample(`${component} back → first new decision seen`, Math.min(...afterBack) - back);
    report.add(`${component} restarts`);
    report.add(`${component} bursts: proposals`, names.length);
    report.add(`${component} bursts: agent retries while the API was unavailable`, created.reduce((n, c) => n + c.retries, 0));
    report.add(`${component} bursts: decided before the kill`, names.filter((n) => (poller.firstSeen.get(n) ?? Infinity) < killedAt).length);
    report.add(`${component} bursts: watches answered 410 Gone (relisted)`, controller.linesMatching(isExpiredWatchLine).length - expiredBefore);
    expect(controller.alive(), 'the controller process survived the outage').toBe(true);
  }

  it('the controller starts and leads', async () => {
    await report.step('controller ready', () => controller.ready());
  });

  it(`kube-apiserver killed and restarted mid-burst (${counts.restarts}×): the same controller decides everything`, async () => {
    for (let i = 0; i < counts.restarts; i++) await report.step(`kube-apiserver restart during burst ${i + 1}`, () => burstWithRestart('kube-apiserver', `api${i}`));
  });

  it(`etcd killed and restarted mid-burst (${counts.restarts}×): the same controller decides everything`, async () => {
    for (let i = 0; i < counts.restarts; i++) await report.step(`etcd restart during burst ${i + 1}`, () => burstWithRestart('etcd', `etcd${i}`));
  });

  it('nothing lost, nothing duplicated; the controller was never restarted', async () => {
    await report.step('one Decision per Proposal, ≤ 1 Job, one Pod per Job, NetworkPolicy before Pod', async () => {
      await waitForSettled(env, [...uids.keys()]);
      const settled = await assertSettledInvariants(env, uids);
      expect([...poller.replaced], 'Decisions deleted and made again').toEqual([]);
      report.count('Jobs', settled.jobs);
      report.count('Pods', settled.pods);
      expect(controller.alive()).toBe(true);
      expect(controller.linesMatching((l) => l.msg === 'Controller started').length, 'started once').toBe(1);
      report.count('controller error log lines (reconciles failing while the API was down, retried)', controller.linesMatching((l) => (l.level ?? 0) >= 50).length);
      expect((await controller.stop()).code).toBe(0);
    });
  });
});
