import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Controller, OBJECT_KEYS, type KeyCodec, type ObjectKey, type ReconcileContext, type ReconcileResult } from '../../../src/runtime/controller.ts';
import type { Informer } from '../../../src/runtime/informer.ts';
import { ItemExponentialFailureRateLimiter } from '../../../src/runtime/rate-limiter.ts';
import { splitKey, type KubeObject } from '../../../src/runtime/resource.ts';

const k = (raw: string): ObjectKey => splitKey(raw);

function captureLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Stand-in for an informer that syncs when the test says so (only the sync contract matters here). */
function gatedInformer(): { informer: Informer<KubeObject>; sync: () => void } {
  let sync!: () => void;
  const synced = new Promise<void>((resolve) => (sync = resolve));
  const informer = {
    resourceLabel: 'things',
    waitForSync: () => synced,
    lastEventAge: () => 0,
  } as unknown as Informer<KubeObject>;
  return { informer, sync };
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value;
}

describe('Controller', () => {
  it('pre-creates reconcile metrics with zero for every result', async () => {
    const registry = new Registry();
    new Controller({ name: 'demo', reconcile: () => undefined, registry });
    const text = await registry.metrics();
    for (const result of ['success', 'error', 'requeue', 'requeue_after']) {
      expect(text).toContain(`m87_reconcile_total{controller="demo",result="${result}"} 0`);
    }
    expect(text).toContain('m87_reconcile_errors_total{controller="demo"} 0');
    expect(text).toContain('m87_reconcile_time_seconds_count{controller="demo"} 0');
  });

  it('does not reconcile before its informers synced', async () => {
    const seen: string[] = [];
    const { informer, sync } = gatedInformer();
    const c = new Controller({ name: 'demo', reconcile: (key) => void seen.push(OBJECT_KEYS.encode(key)) }).dependsOn(informer);
    c.enqueue(k('ns/a'));
    const started = c.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toEqual([]);
    sync();
    await started;
    await until(() => seen.length === 1, 'reconcile after sync');
    await c.stop();
  });

  it('retries errors with backoff, then forgets on success; counts results', async () => {
    const registry = new Registry();
    let calls = 0;
    const c = new Controller({
      name: 'retry',
      registry,
      rateLimiter: new ItemExponentialFailureRateLimiter(1, 10),
      reconcile: () => {
        calls++;
        if (calls < 3) throw new Error(`fail ${calls}`);
      },
    });
    await c.start();
    c.enqueue(k('ns/a'));
    await until(() => calls === 3 && c.queue.processing() === 0, 'third attempt');
    expect(c.queue.numRequeues('ns/a')).toBe(0);
    expect(await metricValue(registry, 'm87_reconcile_total', { controller: 'retry', result: 'error' })).toBe(2);
    expect(await metricValue(registry, 'm87_reconcile_total', { controller: 'retry', result: 'success' })).toBe(1);
    expect(await metricValue(registry, 'm87_reconcile_errors_total', { controller: 'retry' })).toBe(2);
    expect(await metricValue(registry, 'm87_workqueue_retries_total', { name: 'retry' })).toBe(2);
    await c.stop();
  });

  it('requeues after the requested delay, and rate-limited on requeue: true', async () => {
    const registry = new Registry();
    const results: ReconcileResult[] = [{ requeueAfterMs: 5 }, { requeue: true }, undefined];
    let calls = 0;
    const c = new Controller({
      name: 'rq',
      registry,
      rateLimiter: new ItemExponentialFailureRateLimiter(1, 10),
      reconcile: () => results[calls++],
    });
    await c.start();
    c.enqueue(k('a'));
    await until(() => calls === 3 && c.queue.processing() === 0, 'three reconciles');
    expect(await metricValue(registry, 'm87_reconcile_total', { controller: 'rq', result: 'requeue_after' })).toBe(1);
    expect(await metricValue(registry, 'm87_reconcile_total', { controller: 'rq', result: 'requeue' })).toBe(1);
    expect(await metricValue(registry, 'm87_reconcile_total', { controller: 'rq', result: 'success' })).toBe(1);
    await c.stop();
  });

  it('gives each reconcile a context with a fresh reconcileID and a logger carrying the keys', async () => {
    const { logger, lines } = captureLogger();
    const contexts: ReconcileContext[] = [];
    const keys: ObjectKey[] = [];
    const c = new Controller({
      name: 'ctx',
      logger,
      reconcile: (key, ctx) => {
        contexts.push(ctx);
        keys.push(key);
        ctx.log.info('hello');
      },
    });
    await c.start();
    c.enqueue(k('ns/a'));
    await until(() => contexts.length === 1 && c.queue.processing() === 0, 'first');
    c.enqueue(k('cluster-thing'));
    await until(() => contexts.length === 2, 'second');
    await c.stop();
    expect(contexts[0]).toMatchObject({ key: 'ns/a' });
    expect(keys).toEqual([
      { namespace: 'ns', name: 'a' },
      { namespace: undefined, name: 'cluster-thing' },
    ]);
    expect(contexts[0]!.reconcileID).not.toBe(contexts[1]!.reconcileID);
    const hello = lines.filter((l) => l.msg === 'hello');
    expect(hello[0]).toMatchObject({ controller: 'ctx', namespace: 'ns', name: 'a', reconcileID: contexts[0]!.reconcileID });
    expect(contexts[0]!.log).toBe(contexts[0]!.log); // one child per reconcile (made when first used)
  });

  it("logs a reconcile's error with the key's fields and the reconcileID, also when the reconciler logged nothing", async () => {
    const { logger, lines } = captureLogger();
    const ids: string[] = [];
    let calls = 0;
    const c = new Controller({
      name: 'err',
      logger,
      reconcile: (_key, ctx) => {
        ids.push(ctx.reconcileID);
        if (calls++ === 0) throw new Error('first attempt fails');
      },
    });
    await c.start();
    c.enqueue(k('ns/e'));
    await until(() => calls === 2 && c.queue.processing() === 0, 'retry after the error');
    await c.stop();
    const errors = lines.filter((l) => l.msg === 'Reconciler error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ controller: 'err', namespace: 'ns', name: 'e', reconcileID: ids[0] });
  });

  it('passes the fence through and treats a refused write as an error to retry', async () => {
    let allowed = false;
    let attempts = 0;
    let wrote = 0;
    const c = new Controller({
      name: 'fence',
      rateLimiter: new ItemExponentialFailureRateLimiter(1, 5),
      fence: () => {
        if (!allowed) throw new Error('not leader');
      },
      reconcile: (_key, ctx) => {
        attempts++;
        ctx.fence();
        wrote++;
      },
    });
    await c.start();
    c.enqueue(k('a'));
    await until(() => attempts >= 2, 'retries');
    expect(wrote).toBe(0);
    allowed = true;
    await until(() => wrote === 1, 'write once allowed');
    await c.stop();
  });

  it('stop without drain aborts the in-flight reconcile signal and skips queued keys', async () => {
    const seen: string[] = [];
    let aborted = false;
    const c = new Controller({
      name: 'abort',
      reconcile: async (key, ctx) => {
        seen.push(OBJECT_KEYS.encode(key));
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        aborted = ctx.signal.aborted;
      },
    });
    await c.start();
    c.enqueue(k('a'));
    c.enqueue(k('b'));
    await until(() => seen.length === 1, 'first reconcile');
    await c.stop({ drain: false });
    await c.done();
    expect(aborted).toBe(true);
    expect(seen).toEqual(['a']);
  });

  it('a controller that never started (standby) stops at once even with keys queued', async () => {
    let calls = 0;
    const c = new Controller({ name: 'standby', reconcile: () => void calls++ });
    c.enqueue(k('a'));
    c.enqueue(k('b'));
    expect(await c.stop()).toBe(true);
    expect(calls).toBe(0);
  });

  it('carries typed keys of its own kind through the queue', async () => {
    const seen: { submitter: string }[] = [];
    const codec: KeyCodec<{ submitter: string }> = { encode: (x) => x.submitter, decode: (raw) => ({ submitter: raw }), logFields: (x) => x };
    const c = new Controller<{ submitter: string }>({ name: 'typed', keys: codec, reconcile: (key) => void seen.push(key) });
    expect(() => c.watch(gatedInformer().informer)).toThrow(/needs mapToKeys/);
    await c.start();
    c.enqueue({ submitter: 'system:serviceaccount:team-a/b:casey' });
    await until(() => seen.length === 1 && c.queue.processing() === 0, 'typed key');
    // A "/" in a submitter is no namespace separator: the key reaches the reconciler as it was queued.
    expect(seen).toEqual([{ submitter: 'system:serviceaccount:team-a/b:casey' }]);
    await c.stop();
  });

  it('drops malformed keys instead of retrying them forever', async () => {
    let calls = 0;
    const c = new Controller({ name: 'bad', reconcile: () => void calls++ });
    await c.start();
    c.enqueue({ namespace: 'a', name: 'b/c' });
    c.enqueue(k('ok'));
    await until(() => calls === 1 && c.queue.processing() === 0, 'ok key');
    expect(c.queue.delayed()).toBe(0);
    await c.stop();
  });
});
