// The informer against the real apiserver: it must converge on the server's state through restarts,
// network partitions, silent watches and 410 Gone, emitting the add/update/delete events in between.
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { indexByLabel, Informer, type InformerOptions } from '../../../src/runtime/informer.ts';
import type { KubeObject, ResourceType } from '../../../src/runtime/resource.ts';
import { clusterKubeConfig, testNamespace, waitFor } from '../../support/kube.ts';
import { testCrd } from './crd.ts';
import { startFaultProxy } from './fault-proxy.ts';

const CONFIGMAPS: ResourceType = { group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' };

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

interface Recorded {
  type: 'add' | 'update' | 'delete' | 'resync';
  name: string;
  data?: Record<string, string> | undefined;
  oldData?: Record<string, string> | undefined;
}

const ns = await testNamespace('rt-informer');
const admin = clusterKubeConfig('admin');
const core = admin.makeApiClient(CoreV1Api);

const running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

function startInformer(label: string, overrides: Partial<InformerOptions<ConfigMap>> = {}): { informer: Informer<ConfigMap>; events: Recorded[] } {
  const informer = new Informer<ConfigMap>({
    kubeConfig: admin,
    resource: CONFIGMAPS,
    namespace: ns,
    labelSelector: `rt-test=${label}`,
    backoff: { initialMs: 50, maxMs: 500 },
    ...overrides,
  });
  const events: Recorded[] = [];
  informer.addHandlers({
    onAdd: (obj) => events.push({ type: 'add', name: obj.metadata.name!, data: obj.data }),
    onUpdate: (oldObj, newObj) =>
      events.push({ type: oldObj === newObj ? 'resync' : 'update', name: newObj.metadata.name!, data: newObj.data, oldData: oldObj.data }),
    onDelete: (obj) => events.push({ type: 'delete', name: obj.metadata.name!, data: obj.data }),
  });
  informer.start();
  running.push(informer);
  return { informer, events };
}

const cm = (name: string, label: string, data: Record<string, string> = {}, labels: Record<string, string> = {}) => ({
  metadata: { name, namespace: ns, labels: { 'rt-test': label, ...labels } },
  data,
});

async function createCm(name: string, label: string, data: Record<string, string> = {}, labels: Record<string, string> = {}): Promise<void> {
  await core.createNamespacedConfigMap({ namespace: ns, body: cm(name, label, data, labels) });
}

async function updateCm(name: string, data: Record<string, string>, labels?: Record<string, string>): Promise<void> {
  const current = await core.readNamespacedConfigMap({ name, namespace: ns });
  await core.replaceNamespacedConfigMap({
    name,
    namespace: ns,
    body: { ...current, data, metadata: { ...current.metadata, labels: { ...current.metadata?.labels, ...labels } } },
  });
}

async function deleteCm(name: string): Promise<void> {
  await core.deleteNamespacedConfigMap({ name, namespace: ns });
}

/** The server's state for the label, as name → data. */
async function serverState(label: string): Promise<Map<string, Record<string, string> | undefined>> {
  const list = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: `rt-test=${label}` });
  return new Map(list.items.map((item) => [item.metadata!.name!, item.data]));
}

function cacheState(informer: Informer<ConfigMap>): Map<string, Record<string, string> | undefined> {
  return new Map(informer.list().map((obj) => [obj.metadata.name!, obj.data]));
}

async function waitConverged(informer: Informer<ConfigMap>, label: string, what: string): Promise<void> {
  await waitFor(
    async () => {
      const server = await serverState(label);
      const cache = cacheState(informer);
      return server.size === cache.size && [...server].every(([name, data]) => JSON.stringify(cache.get(name)) === JSON.stringify(data));
    },
    { what, timeoutMs: 30_000 },
  );
}

const namesOf = (events: Recorded[], type: Recorded['type']): string[] => events.filter((e) => e.type === type).map((e) => e.name);

describe('Informer', () => {
  it('lists, then sees add, update and delete; keeps indexes current; hands out frozen objects', async () => {
    await createCm('pre', 'basic', { v: '0' });
    const { informer, events } = startInformer('basic', { indexers: { color: indexByLabel('color') } });
    await informer.waitForSync({ timeoutMs: 30_000 });
    expect(informer.hasSynced()).toBe(true);
    expect(namesOf(events, 'add')).toEqual(['pre']);

    await createCm('a', 'basic', { v: '1' }, { color: 'red' });
    await waitFor(() => informer.get(`${ns}/a`), { what: 'a in the cache' });
    expect(informer.byIndex('color', 'red').map((o) => o.metadata.name)).toEqual(['a']);
    expect(informer.byIndex('namespace', ns).map((o) => o.metadata.name).sort()).toEqual(['a', 'pre']);
    const cached = informer.get(`${ns}/a`)!;
    expect(cached.kind).toBe('ConfigMap');
    expect(Object.isFrozen(cached.metadata.labels)).toBe(true);
    expect(() => {
      (cached.data as Record<string, string>).v = 'mutated';
    }).toThrow(TypeError);

    await updateCm('a', { v: '2' }, { color: 'blue' });
    await waitFor(() => events.find((e) => e.type === 'update' && e.name === 'a'), { what: 'update of a' });
    expect(events.find((e) => e.type === 'update' && e.name === 'a')).toMatchObject({ oldData: { v: '1' }, data: { v: '2' } });
    expect(informer.byIndex('color', 'red')).toEqual([]);
    expect(informer.byIndex('color', 'blue').map((o) => o.metadata.name)).toEqual(['a']);

    await deleteCm('a');
    await waitFor(() => events.find((e) => e.type === 'delete' && e.name === 'a'), { what: 'delete of a' });
    expect(informer.get(`${ns}/a`)).toBeUndefined();
    expect(informer.byIndex('color', 'blue')).toEqual([]);

    // Objects outside the label selector never show up: 'marker' arrives after 'other' would have.
    await createCm('other', 'not-basic');
    await createCm('marker', 'basic');
    await waitFor(() => informer.get(`${ns}/marker`), { what: 'marker in the cache' });
    expect(informer.get(`${ns}/other`)).toBeUndefined();
    expect(() => informer.byIndex('nope', 'x')).toThrow(/unknown index/);

    // A handler registered late is told about what is already cached.
    const late: string[] = [];
    informer.addHandlers({ onAdd: (obj) => late.push(obj.metadata.name!) });
    expect(late.sort()).toEqual(['marker', 'pre']);
  });

  it('requests bookmarks and moves its resourceVersion forward with them', async () => {
    const proxy = await startFaultProxy(admin);
    running.push({ stop: () => proxy.close() });
    const { informer, events } = startInformer('bookmarks', {
      kubeConfig: proxy.kubeConfig,
      // The apiserver sends a bookmark shortly before a watch's deadline: a short deadline gets one soon.
      watchTimeoutSeconds: { min: 5, max: 5 },
    });
    await informer.waitForSync({ timeoutMs: 30_000 });
    const watch = await waitFor(() => proxy.watchRequests[0], { what: 'the first watch' });
    expect(watch.params.get('allowWatchBookmarks')).toBe('true');
    expect(watch.params.get('resourceVersion')).toBe(informer.stats().resourceVersion);

    // A change the informer filters out still moves the resource's resourceVersion; a bookmark carries it.
    const unrelated = await core.createNamespacedConfigMap({ namespace: ns, body: cm('unrelated', 'not-bookmarks') });
    const unrelatedRV = BigInt(unrelated.metadata!.resourceVersion!);
    await waitFor(() => informer.stats().bookmarks > 0 && BigInt(informer.stats().resourceVersion ?? '0') >= unrelatedRV, {
      what: 'a bookmark at or past the unrelated change',
      timeoutMs: 30_000,
    });
    expect(events).toEqual([]);
    // The next watch resumes from the bookmark's resourceVersion.
    await waitFor(() => proxy.watchRequests.find((w) => BigInt(w.params.get('resourceVersion') ?? '0') >= unrelatedRV), {
      what: 'a watch resumed from the bookmark',
      timeoutMs: 30_000,
    });
  });

  it('on a quiet resource, watches ended by the server keep the informer live and resume at once', async () => {
    const { informer } = startInformer('quiet', { watchTimeoutSeconds: { min: 2, max: 2 } });
    await informer.waitForSync({ timeoutMs: 30_000 });
    const syncedAt = performance.now();
    await waitFor(() => informer.stats().watches >= 3, { what: 'three server-ended watches' });
    const sinceSync = (performance.now() - syncedAt) / 1000;
    // Neither events nor bookmarks arrived, yet each clean end of a watch counted as a sign of life.
    expect(informer.stats().events).toBe(0);
    expect(informer.lastEventAge()).toBeLessThan(sinceSync - 1);
    expect(informer.stats()).toMatchObject({ watchErrors: 0, watchdogRestarts: 0, lists: 1 });
  });

  it('misses nothing across forced watch restarts and resumes without relisting', async () => {
    const { informer, events } = startInformer('restart');
    await informer.waitForSync({ timeoutMs: 30_000 });
    for (let i = 0; i < 15; i++) {
      await createCm(`r${i}`, 'restart', { v: '1' });
      if (i % 3 === 0) informer.restartWatch();
      if (i % 2 === 0) await updateCm(`r${i}`, { v: '2' });
      if (i % 4 === 0) await deleteCm(`r${i}`);
      if (i % 5 === 0) informer.restartWatch();
    }
    await waitConverged(informer, 'restart', 'the cache to match the server after restarts');
    for (let i = 0; i < 15; i += 4) expect(namesOf(events, 'delete')).toContain(`r${i}`);
    expect(informer.stats().lists).toBe(1);
    expect(informer.stats().watches).toBeGreaterThan(5);
  });

  it('catches up after a network partition by resuming the watch from its resourceVersion', async () => {
    const proxy = await startFaultProxy(admin);
    running.push({ stop: () => proxy.close() });
    await createCm('x', 'partition', { v: '1' });
    await createCm('y', 'partition', { v: '1' });
    const { informer, events } = startInformer('partition', { kubeConfig: proxy.kubeConfig });
    await informer.waitForSync({ timeoutMs: 30_000 });

    proxy.partition();
    await deleteCm('x');
    await updateCm('y', { v: '2' });
    await createCm('z', 'partition', { v: '1' });
    // Let the informer notice: its watch fails and it backs off while the network is down.
    await waitFor(() => informer.stats().watchErrors > 0, { what: 'the informer to see the partition' });
    const watchesBefore = proxy.watchRequests.length;
    proxy.heal();

    await waitConverged(informer, 'partition', 'the cache to match the server after the partition');
    expect(namesOf(events, 'delete')).toEqual(['x']);
    expect(events.find((e) => e.type === 'update' && e.name === 'y')?.data).toEqual({ v: '2' });
    expect(namesOf(events, 'add')).toContain('z');
    expect(informer.stats().lists).toBe(1);
    expect(proxy.watchRequests[watchesBefore]?.params.get('resourceVersion')).toMatch(/^\d+$/);
  });

  it('relists on 410 Gone and emits the deletions that happened while it was away', async () => {
    // A CRD's watch cache starts when the CRD is created, so resourceVersion 1 is genuinely too old for
    // it and the apiserver answers 410 (ConfigMaps' cache reaches back to the plane's first write).
    const gadgets = await testCrd(admin, 'gadgets', 'Gadget');
    const objects = admin.makeApiClient(CustomObjectsApi);
    const ref = { group: gadgets.group, version: gadgets.version, plural: gadgets.plural, namespace: ns };
    const create = (name: string, v: string) =>
      objects.createNamespacedCustomObject({ ...ref, body: { apiVersion: `${gadgets.group}/v1`, kind: 'Gadget', metadata: { name }, spec: { v } } });
    const proxy = await startFaultProxy(admin);
    running.push({ stop: () => proxy.close() });
    await create('p', '1');
    await create('q', '1');
    await create('keep', '1');
    const informer = new Informer<KubeObject & { spec?: { v?: string } }>({
      kubeConfig: proxy.kubeConfig,
      resource: gadgets,
      namespace: ns,
      backoff: { initialMs: 50, maxMs: 500 },
    });
    const events: { type: string; name: string; v: string | undefined }[] = [];
    informer.addHandlers({
      onAdd: (o) => events.push({ type: 'add', name: o.metadata.name!, v: o.spec?.v }),
      onUpdate: (_old, o) => events.push({ type: 'update', name: o.metadata.name!, v: o.spec?.v }),
      onDelete: (o) => events.push({ type: 'delete', name: o.metadata.name!, v: o.spec?.v }),
    });
    informer.start();
    running.push(informer);
    await informer.waitForSync({ timeoutMs: 30_000 });
    expect(informer.stats().lists).toBe(1);

    proxy.partition();
    await objects.deleteNamespacedCustomObject({ ...ref, name: 'p' });
    await objects.patchNamespacedCustomObject(
      { ...ref, name: 'q', body: { spec: { v: '2' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await create('r', '1');
    await waitFor(() => informer.stats().watchErrors > 0, { what: 'the informer to see the partition' });
    proxy.expireNextWatch(); // the resumed watch asks for resourceVersion 1: a real 410 from the apiserver
    proxy.heal();

    await waitFor(() => informer.get(`${ns}/r`) && !informer.get(`${ns}/p`) && informer.get(`${ns}/q`)?.spec?.v === '2', {
      what: 'the cache to match the server after 410',
    });
    expect(informer.stats().expired).toBeGreaterThanOrEqual(1);
    expect(informer.stats().lists).toBeGreaterThanOrEqual(2);
    expect(events.filter((e) => e.type === 'delete')).toEqual([{ type: 'delete', name: 'p', v: '1' }]);
    expect(events.filter((e) => e.type === 'update')).toEqual([{ type: 'update', name: 'q', v: '2' }]);
    expect(events.filter((e) => e.type === 'add').map((e) => e.name).sort()).toEqual(['keep', 'p', 'q', 'r']);
  });

  it('restarts a watch that went silent (watchdog) and reports its staleness', async () => {
    const proxy = await startFaultProxy(admin);
    running.push({ stop: () => proxy.close() });
    const { informer } = startInformer('silent', { kubeConfig: proxy.kubeConfig, watchdogMs: 1500 });
    await informer.waitForSync({ timeoutMs: 30_000 });

    proxy.silenceWatches();
    await createCm('s', 'silent', { v: '1' });
    await waitFor(() => informer.stats().watchdogRestarts > 0, { what: 'the watchdog to restart the watch' });
    const staleAge = informer.lastEventAge();
    expect(staleAge).toBeGreaterThan(1);
    expect(informer.get(`${ns}/s`)).toBeUndefined();

    proxy.unsilenceWatches();
    await waitFor(() => informer.get(`${ns}/s`), { what: 's after the watch came back' });
    expect(informer.lastEventAge()).toBeLessThan(staleAge);
  });

  it('re-emits cached objects on resync and re-diffs on the periodic relist', async () => {
    await createCm('c1', 'resync', { v: '1' });
    const { informer, events } = startInformer('resync', { resyncPeriodMs: 200, relistPeriodMs: 300 });
    await informer.waitForSync({ timeoutMs: 30_000 });
    await waitFor(() => events.some((e) => e.type === 'resync' && e.name === 'c1'), { what: 'a resync of c1' });
    await waitFor(() => informer.stats().lists >= 2, { what: 'a periodic relist' });
    // A relist of an unchanged object announces nothing new.
    expect(events.filter((e) => e.type === 'add' || e.type === 'update' || e.type === 'delete')).toEqual([
      { type: 'add', name: 'c1', data: { v: '1' } },
    ]);
  });

  it('relistAndWait resolves only after a list that started later, which contains earlier writes', async () => {
    const proxy = await startFaultProxy(admin);
    running.push({ stop: () => proxy.close() });
    const { informer } = startInformer('fresh', { kubeConfig: proxy.kubeConfig });
    await informer.waitForSync({ timeoutMs: 30_000 });
    // With watches silenced the cache can only learn about this write from a fresh LIST.
    proxy.silenceWatches();
    await createCm('f1', 'fresh', { v: '1' });
    const listsBefore = informer.stats().lists;
    await informer.relistAndWait({ timeoutMs: 30_000 });
    expect(informer.stats().lists).toBeGreaterThan(listsBefore);
    expect(informer.get(`${ns}/f1`)?.data).toEqual({ v: '1' });
  });

  it('stops cleanly and reports the error when it cannot list', async () => {
    const viewer = clusterKubeConfig('viewer'); // not allowed to list ConfigMaps in this namespace
    const informer = new Informer<ConfigMap>({ kubeConfig: viewer, resource: CONFIGMAPS, namespace: ns, backoff: { initialMs: 50, maxMs: 200 } });
    informer.start();
    await waitFor(() => informer.stats().watchErrors >= 2, { what: 'list failures to be retried' });
    expect(informer.hasSynced()).toBe(false);
    await expect(informer.waitForSync({ timeoutMs: 10 })).rejects.toThrow(/not synced/);
    const pending = informer.waitForSync();
    await informer.stop();
    await expect(pending).rejects.toThrow(/stopped/);
  });

  it('caches objects as its transform returns them (default: without managedFields), for lists, watch events and deletions', async () => {
    await createCm('tf-listed', 'tf', { a: '1', big: 'x'.repeat(1000) });
    const plain = startInformer('tf');
    const transformed = startInformer('tf', {
      transform: (obj) => {
        const { big: _big, ...data } = (obj as ConfigMap).data ?? {};
        return { ...obj, metadata: { ...obj.metadata, managedFields: undefined }, data: { ...data, seen: 'yes' } };
      },
    });
    await Promise.all([plain.informer.waitForSync(), transformed.informer.waitForSync()]);
    await createCm('tf-watched', 'tf', { a: '2', big: 'y'.repeat(1000) });
    await waitFor(() => transformed.informer.getByName(ns, 'tf-watched') && plain.informer.getByName(ns, 'tf-watched'), { what: 'tf-watched cached' });
    for (const name of ['tf-listed', 'tf-watched']) {
      // The server keeps managedFields; the default transform drops them.
      const cached = plain.informer.getByName(ns, name)!;
      expect(cached.metadata.managedFields).toBeUndefined();
      expect(cached.data?.big).toBeDefined();
      expect(Object.isFrozen(cached)).toBe(true);
      expect(transformed.informer.getByName(ns, name)?.data).toEqual({ a: name === 'tf-listed' ? '1' : '2', seen: 'yes' });
    }
    const live = await core.readNamespacedConfigMap({ name: 'tf-listed', namespace: ns });
    expect(live.metadata?.managedFields?.length).toBeGreaterThan(0);
    await deleteCm('tf-watched');
    await waitFor(() => transformed.events.some((e) => e.type === 'delete' && e.name === 'tf-watched'), { what: 'delete seen' });
    const deleted = transformed.events.find((e) => e.type === 'delete' && e.name === 'tf-watched');
    expect(deleted?.data).toEqual({ a: '2', seen: 'yes' });
    expect(transformed.events.filter((e) => e.type === 'add').map((e) => e.data?.seen)).toEqual(['yes', 'yes']);
  });
});
