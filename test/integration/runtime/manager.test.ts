// The pieces together against the real apiserver: a manager with leader election runs an informer and a
// controller; only the leader reconciles; stop() drains and releases so the standby takes over; a stolen
// lease makes run() fail instead of carrying on.
import { randomBytes } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Controller } from '../../../src/runtime/controller.ts';
import { Informer } from '../../../src/runtime/informer.ts';
import { getObject, kubeRequest } from '../../../src/runtime/kube-http.ts';
import { LEASE_RESOURCE, type Lease } from '../../../src/runtime/leader-election.ts';
import { LeadershipLostError, Manager } from '../../../src/runtime/manager.ts';
import { resourcePath, type KubeObject, type ResourceType } from '../../../src/runtime/resource.ts';
import { patchObject } from '../../../src/runtime/status.ts';
import { clusterKubeConfig, testNamespace, waitFor } from '../../support/kube.ts';

const CONFIGMAPS: ResourceType = { group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' };
type ConfigMap = KubeObject & { data?: Record<string, string> };

const ns = await testNamespace('rt-manager');
const admin = clusterKubeConfig('admin');
const core = admin.makeApiClient(CoreV1Api);

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A manager whose controller copies data.v into the annotation reconciled-by-<identity>. */
function makeManager(lease: string, label: string, registry = new Registry()) {
  const informer = new Informer<ConfigMap>({ kubeConfig: admin, resource: CONFIGMAPS, namespace: ns, labelSelector: `rt-manager=${label}` });
  const reconciled: string[] = [];
  const manager = new Manager({
    registry,
    handleSignals: false,
    shutdownTimeoutMs: 5000,
    leaderElection: { kubeConfig: admin, namespace: ns, name: lease, leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 300 },
  });
  const controller = new Controller({
    name: `copy-${label}`,
    registry,
    reconcile: async (key, ctx) => {
      const cm = informer.getByName(key.namespace, key.name);
      if (!cm) return;
      reconciled.push(`${key.namespace}/${key.name}`);
      await patchObject<ConfigMap>(
        admin,
        CONFIGMAPS,
        { namespace: key.namespace, name: key.name },
        (draft) => {
          draft.metadata.annotations = { ...draft.metadata.annotations, reconciled: `${manager.identity}:${cm.data?.v ?? ''}` };
        },
        { current: cm, fence: ctx.fence },
      );
    },
  }).watch(informer);
  manager.addInformer(informer).addController(controller);
  return { manager, reconciled, registry };
}

const annotation = async (name: string): Promise<string | undefined> =>
  (await core.readNamespacedConfigMap({ name, namespace: ns })).metadata?.annotations?.reconciled;

describe('Manager', () => {
  it('reconciles only on the leader and hands over on stop', async () => {
    const lease = `mgr-${randomBytes(2).toString('hex')}`;
    const first = makeManager(lease, 'handover');
    const firstRun = first.manager.run();
    cleanups.push(() => first.manager.stop());
    await waitFor(() => first.manager.isLeader(), { what: 'the first manager to lead' });
    const second = makeManager(lease, 'handover');
    const secondRun = second.manager.run();
    cleanups.push(() => second.manager.stop());
    await waitFor(() => second.manager.isReady(), { what: 'the standby to sync its cache' });

    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'h1', labels: { 'rt-manager': 'handover' } }, data: { v: '1' } } });
    expect(await waitFor(() => annotation('h1'), { what: 'h1 reconciled' })).toBe(`${first.manager.identity}:1`);
    expect(second.reconciled).toEqual([]);
    expect(second.manager.isLeader()).toBe(false);
    expect(() => second.manager.fence()).toThrow();

    // The annotation is visible as soon as the patch lands, a moment before the reconcile returns and is counted.
    const reconcileCounted = /m87_reconcile_total\{controller="copy-handover",result="success"\} [1-9]/;
    const metrics = await waitFor(async () => {
      const text = await first.registry.metrics();
      return reconcileCounted.test(text) ? text : undefined;
    }, { what: 'the reconcile counted in the metrics' });
    expect(metrics).toMatch(reconcileCounted);
    expect(metrics).toMatch(/m87_informer_last_event_age_seconds\{resource="configmaps"\} \d/);
    expect(metrics).toContain('m87_leader_election_is_leader{lease="' + lease + '"} 1');

    await first.manager.stop();
    await firstRun; // resolves after an orderly shutdown
    expect(first.manager.isLeader()).toBe(false);
    await waitFor(() => second.manager.isLeader(), { what: 'the standby to take over after the release', timeoutMs: 10_000 });

    await core.patchNamespacedConfigMap({ name: 'h1', namespace: ns, body: [{ op: 'replace', path: '/data/v', value: '2' }] });
    expect(await waitFor(async () => ((await annotation('h1')) === `${second.manager.identity}:2` ? 'ok' : undefined), { what: 'h1 reconciled by the new leader' })).toBe('ok');
    await second.manager.stop();
    await secondRun;
  });

  it('fails run() when another holder takes the lease', async () => {
    const lease = `stolen-${randomBytes(2).toString('hex')}`;
    const { manager } = makeManager(lease, 'stolen');
    const run = manager.run();
    cleanups.push(() => manager.stop());
    const failure = run.then(
      () => new Error('run() resolved'),
      (err: unknown) => err,
    );
    await waitFor(() => manager.isLeader(), { what: 'the manager to lead' });
    const current = (await getObject<Lease>(admin, LEASE_RESOURCE, { namespace: ns, name: lease }))!;
    await kubeRequest(admin, {
      method: 'PUT',
      path: resourcePath(LEASE_RESOURCE, { namespace: ns, name: lease }),
      body: { ...current, spec: { ...current.spec, holderIdentity: 'intruder' } },
    });
    const err = await failure;
    expect(err).toBeInstanceOf(LeadershipLostError);
    expect(manager.isLeader()).toBe(false);
    expect(() => manager.fence()).toThrow();
  });
});
