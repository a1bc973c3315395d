// The fault helpers of the local control plane that the scenarios rely on: restartComponent keeps ports, data and
// the state file (so stop() still finds every process), and compactEtcd really compacts etcd's history.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { etcdRevision } from '../../dev/cluster/faults.ts';
import { httpGet, waitUntil } from '../../dev/cluster/probe.ts';
import { readState } from '../../dev/cluster/state.ts';
import { isAlive } from '../../dev/cluster/supervisor.ts';
import { getObject, kubeRequest } from '../../src/runtime/kube-http.ts';
import { CONFIG_MAPS } from '../../src/controller/resources.ts';
import { testNamespace } from '../support/kube.ts';
import { admin, localPlane } from './support/env.ts';
import { chaosMode } from './support/mode.ts';
import { ScenarioReport } from './support/report.ts';

const report = new ScenarioReport('devcluster');
afterAll(() => report.save());
const plane = localPlane();
if (plane === undefined) report.note('skipped: faults need the local control plane, and the test cluster (M87_KUBECONFIG) is not one');

describe.skipIf(plane === undefined)('control plane fault helpers', async () => {
  if (plane === undefined) return;
  const ns = await testNamespace('chaos-plane');
  const name = `cm-${randomBytes(3).toString('hex')}`;
  await kubeRequest(admin, { method: 'POST', path: `/api/v1/namespaces/${ns}/configmaps`, body: { metadata: { name }, data: { k: 'v' } } });

  async function apiReady(): Promise<void> {
    await waitUntil(async () => ((await httpGet(`${plane?.server ?? ''}/readyz`, { caPem: plane?.caPem ?? '' })).status === 200 ? true : undefined), {
      what: 'kube-apiserver /readyz',
      timeoutMs: 60_000,
      intervalMs: 50,
    });
  }

  it('compactEtcd compacts to the current revision: etcd refuses older reads', async () => {
    await report.step('compactEtcd', async () => {
      const before = await etcdRevision(plane.stateDir);
      const { revision } = await plane.compactEtcd();
      expect(revision).toBeGreaterThanOrEqual(before);
      const res = await fetch(`http://127.0.0.1:${plane.ports.etcdClient}/v3/kv/range`, {
        method: 'POST',
        body: JSON.stringify({ key: Buffer.from('/registry/').toString('base64'), revision: String(revision - 1) }),
      });
      expect(res.ok).toBe(false);
      expect(await res.text()).toMatch(/compacted/);
    });
  });

  // An orderly stop (SIGTERM) takes etcd ~7 s; the short form only crashes it.
  const etcdSignal = chaosMode() === 'long' ? 'SIGTERM' : 'SIGKILL';
  for (const [component, signal] of [
    ['etcd', etcdSignal],
    ['kube-apiserver', 'SIGKILL'],
  ] as const) {
    it(`restartComponent('${component}', ${signal}) keeps ports and data and records the new process`, async () => {
      await report.step(`restartComponent ${component} (${signal})`, async () => {
        const oldPid = plane.pids[component];
        const result = await plane.restartComponent(component, { signal });
        report.sample(`${component} ${signal} → ready`, result.downMs);
        expect(result.oldPid).toBe(oldPid);
        expect(result.newPid).not.toBe(oldPid);
        expect(isAlive(oldPid)).toBe(false);
        expect(plane.pids[component]).toBe(result.newPid);
        expect(readState(plane.stateDir)?.processes.find((p) => p.name === component)?.pid).toBe(result.newPid);
        await apiReady();
        const cm = await waitUntil(async () => getObject(admin, CONFIG_MAPS, { namespace: ns, name }), { what: 'the ConfigMap after the restart', timeoutMs: 30_000, intervalMs: 100 });
        expect((cm as { data?: Record<string, string> }).data).toEqual({ k: 'v' });
      });
    });
  }
});
