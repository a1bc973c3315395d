// Status and object writes against the real apiserver: merge patches guarded by resourceVersion, conflict
// retry that re-reads and re-applies the mutation, no request when nothing changed, the write fence, and
// createIfAbsent's AlreadyExists handling.
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { getObject, KubeApiError } from '../../../src/runtime/kube-http.ts';
import type { KubeObject } from '../../../src/runtime/resource.ts';
import { deepFreeze } from '../../../src/hash/freeze.ts';
import { createIfAbsent, getCondition, patchObject, patchStatus, setCondition, type Condition } from '../../../src/runtime/status.ts';
import { clusterKubeConfig, testNamespace } from '../../support/kube.ts';
import { testCrd } from './crd.ts';

interface Widget extends KubeObject {
  spec?: { size?: number };
  status?: { phase?: string; note?: string; other?: string; conditions?: Condition[] };
}

const ns = await testNamespace('rt-status');
const admin = clusterKubeConfig('admin');
const widgets = await testCrd(admin, 'widgets', 'Widget');
const objects = admin.makeApiClient(CustomObjectsApi);
const ref = { group: widgets.group, version: widgets.version, plural: widgets.plural, namespace: ns };

const body = (name: string, size: number): Widget => ({
  apiVersion: `${widgets.group}/v1`,
  kind: 'Widget',
  metadata: { name, namespace: ns },
  spec: { size },
});

async function createWidget(name: string, size = 1): Promise<Widget> {
  return (await objects.createNamespacedCustomObject({ ...ref, body: body(name, size) })) as Widget;
}

const read = async (name: string): Promise<Widget> => (await getObject<Widget>(admin, widgets, { namespace: ns, name }))!;

describe('patchStatus', () => {
  it('writes only the status subresource and returns the server object', async () => {
    await createWidget('w1', 3);
    const result = await patchStatus<Widget>(admin, widgets, { namespace: ns, name: 'w1' }, (w) => {
      w.status = { ...w.status, phase: 'Ready' };
      w.spec = { size: 99 }; // ignored: only .status goes to /status
    });
    expect(result.changed).toBe(true);
    expect(result.attempts).toBe(1);
    expect(result.object.status?.phase).toBe('Ready');
    const stored = await read('w1');
    expect(stored.status?.phase).toBe('Ready');
    expect(stored.spec?.size).toBe(3);
  });

  it('sends nothing when the mutation changes nothing', async () => {
    await createWidget('w2');
    await patchStatus<Widget>(admin, widgets, { namespace: ns, name: 'w2' }, (w) => {
      w.status = { phase: 'Ready' };
    });
    const before = await read('w2');
    const result = await patchStatus<Widget>(admin, widgets, { namespace: ns, name: 'w2' }, (w) => {
      w.status = { phase: 'Ready' };
    });
    expect(result).toMatchObject({ changed: false, attempts: 0 });
    expect((await read('w2')).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('on a conflict re-reads, re-applies the mutation and keeps the concurrent change', async () => {
    await createWidget('w3');
    const stale = await read('w3');
    // Someone else writes status after we read: our first attempt carries an outdated resourceVersion.
    await objects.patchNamespacedCustomObjectStatus(
      { ...ref, name: 'w3', body: { status: { other: 'theirs' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    let calls = 0;
    const result = await patchStatus<Widget>(
      admin,
      widgets,
      { namespace: ns, name: 'w3' },
      (w) => {
        calls++;
        w.status = { ...w.status, phase: 'Mine' };
      },
      { current: stale },
    );
    expect(calls).toBe(2);
    expect(result.attempts).toBe(2);
    expect((await read('w3')).status).toEqual({ other: 'theirs', phase: 'Mine' });
  });

  it('removes fields the mutation deleted', async () => {
    await createWidget('w4');
    await patchStatus<Widget>(admin, widgets, { namespace: ns, name: 'w4' }, (w) => {
      w.status = { phase: 'A', note: 'temporary' };
    });
    await patchStatus<Widget>(admin, widgets, { namespace: ns, name: 'w4' }, (w) => {
      delete w.status!.note;
    });
    expect((await read('w4')).status).toEqual({ phase: 'A' });
  });

  it('keeps lastTransitionTime across reconciles that do not change a condition status', async () => {
    await createWidget('w5');
    const set = (status: 'True' | 'False', reason: string, now: Date) =>
      patchStatus<Widget>(admin, widgets, { namespace: ns, name: 'w5' }, (w) => {
        w.status = { ...w.status, conditions: setCondition(w.status?.conditions, { type: 'Ready', status, reason, observedGeneration: w.metadata.generation }, now) };
      });
    await set('False', 'Waiting', new Date('2026-01-01T00:00:00Z'));
    const refreshed = await set('False', 'StillWaiting', new Date('2026-01-01T00:05:00Z'));
    expect(getCondition(refreshed.object.status?.conditions, 'Ready')).toMatchObject({
      reason: 'StillWaiting',
      lastTransitionTime: '2026-01-01T00:00:00Z',
      observedGeneration: 1,
    });
    const flipped = await set('True', 'Done', new Date('2026-01-01T00:10:00Z'));
    expect(getCondition(flipped.object.status?.conditions, 'Ready')?.lastTransitionTime).toBe('2026-01-01T00:10:00Z');
  });

  it('from a frozen cached copy: copies only the status, leaves the copy as it was, and refuses a mutation of the rest', async () => {
    await createWidget('w-frozen', 4);
    await patchStatus<Widget>(admin, widgets, { namespace: ns, name: 'w-frozen' }, (w) => {
      w.status = { phase: 'Pending', note: 'n', conditions: [] };
    });
    const cached = deepFreeze(await read('w-frozen'));
    const result = await patchStatus<Widget>(
      admin,
      widgets,
      { namespace: ns, name: 'w-frozen' },
      (w) => {
        expect(w.spec).toBe(cached.spec); // shared, not copied
        w.status!.phase = 'Ready'; // the status is the mutation's own copy
        delete w.status!.note;
      },
      { current: cached },
    );
    expect(result).toMatchObject({ changed: true, attempts: 1 });
    expect(result.object.status).toMatchObject({ phase: 'Ready' });
    expect(result.object.status?.note).toBeUndefined();
    expect(cached.status).toEqual({ phase: 'Pending', note: 'n', conditions: [] });
    const stored = await read('w-frozen');
    expect(stored.status?.phase).toBe('Ready');
    expect(stored.status?.note).toBeUndefined();
    expect(stored.spec?.size).toBe(4);
    // Writing into the frozen rest fails loudly (it could never reach the server through /status anyway).
    const again = deepFreeze(stored);
    await expect(
      patchStatus<Widget>(admin, widgets, { namespace: ns, name: 'w-frozen' }, (w) => {
        w.spec!.size = 5;
        w.status = { phase: 'Other' };
      }, { current: again }),
    ).rejects.toThrow(TypeError);
    expect((await read('w-frozen')).metadata.resourceVersion).toBe(stored.metadata.resourceVersion);
  });

  it('does not write when the fence refuses', async () => {
    await createWidget('w6');
    const before = await read('w6');
    await expect(
      patchStatus<Widget>(admin, widgets, { namespace: ns, name: 'w6' }, (w) => void (w.status = { phase: 'X' }), {
        fence: () => {
          throw new Error('not the leader');
        },
      }),
    ).rejects.toThrow('not the leader');
    const after = await read('w6');
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.status).toBeUndefined();
  });

  it('reports a missing object as 404', async () => {
    const error: unknown = await patchStatus<Widget>(admin, widgets, { namespace: ns, name: 'absent' }, () => undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).code).toBe(404);
  });
});

describe('patchObject', () => {
  it('patches metadata and spec with the resourceVersion guard, ignoring status', async () => {
    await createWidget('o1', 1);
    const stale = await read('o1');
    await objects.patchNamespacedCustomObject(
      { ...ref, name: 'o1', body: { metadata: { labels: { theirs: 'yes' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const result = await patchObject<Widget>(
      admin,
      widgets,
      { namespace: ns, name: 'o1' },
      (w) => {
        w.metadata.labels = { ...w.metadata.labels, mine: 'yes' };
        w.metadata.finalizers = ['runtime.m87.io/test'];
        w.spec = { size: 2 };
        w.status = { phase: 'ignored' };
      },
      { current: stale },
    );
    expect(result.attempts).toBe(2);
    const stored = await read('o1');
    expect(stored.metadata.labels).toEqual({ theirs: 'yes', mine: 'yes' });
    expect(stored.spec).toEqual({ size: 2 });
    expect(stored.status).toBeUndefined();
    await patchObject<Widget>(admin, widgets, { namespace: ns, name: 'o1' }, (w) => {
      w.metadata.finalizers = [];
    });
    expect((await read('o1')).metadata.finalizers).toBeUndefined();
  });
});

describe('createIfAbsent', () => {
  it('creates once and afterwards returns the existing object', async () => {
    const first = await createIfAbsent<Widget>(admin, widgets, body('c1', 1));
    expect(first.created).toBe(true);
    const second = await createIfAbsent<Widget>(admin, widgets, body('c1', 2));
    expect(second.created).toBe(false);
    expect(second.object.metadata.uid).toBe(first.object.metadata.uid);
    expect(second.object.spec?.size).toBe(1);
  });

  it('does not create when the fence refuses, and requires a namespace', async () => {
    await expect(
      createIfAbsent<Widget>(admin, widgets, body('c2', 1), {
        fence: () => {
          throw new Error('not the leader');
        },
      }),
    ).rejects.toThrow('not the leader');
    expect(await getObject(admin, widgets, { namespace: ns, name: 'c2' })).toBeUndefined();
    await expect(createIfAbsent<Widget>(admin, widgets, { metadata: { name: 'nons' } })).rejects.toThrow(/metadata.namespace/);
  });
});
