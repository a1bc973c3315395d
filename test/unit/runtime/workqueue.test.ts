import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WorkQueue, type WorkQueueMetrics } from '../../../src/runtime/workqueue.ts';
import { ItemExponentialFailureRateLimiter } from '../../../src/runtime/rate-limiter.ts';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function recordingMetrics(): WorkQueueMetrics & { log: Record<string, number[]> } {
  const log: Record<string, number[]> = { depth: [], added: [], latency: [], work: [], retried: [] };
  return {
    log,
    depth: (n) => log.depth!.push(n),
    added: () => log.added!.push(1),
    queueLatency: (s) => log.latency!.push(s),
    workDuration: (s) => log.work!.push(s),
    retried: () => log.retried!.push(1),
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('WorkQueue deduplication', () => {
  it('keeps a single entry for a key added while queued', async () => {
    const q = new WorkQueue({ name: 't' });
    q.add('a');
    q.add('b');
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  it('re-queues a key added during processing only after done()', async () => {
    const q = new WorkQueue({ name: 't' });
    q.add('a');
    const key = await q.get();
    expect(key).toBe('a');
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(0);
    q.done('a');
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('a');
    q.done('a');
    expect(q.len()).toBe(0);
  });

  it('hands a key to a worker that was already waiting', async () => {
    const q = new WorkQueue({ name: 't' });
    const pending = q.get();
    q.add('x');
    expect(await pending).toBe('x');
  });
});

describe('WorkQueue per-key serialisation', () => {
  it('never lets two workers hold one key and processes every add that came after a run started', async () => {
    const q = new WorkQueue({ name: 't' });
    const keys = ['a', 'b', 'c', 'd'];
    const active = new Map<string, number>();
    let maxPerKey = 0;
    let maxOverall = 0;
    let overall = 0;
    const lastAdd = new Map<string, number>();
    const lastStart = new Map<string, number>();
    let clock = 0;
    const add = (key: string): void => {
      lastAdd.set(key, ++clock);
      q.add(key);
    };

    const workers = q.run(8, async (key) => {
      lastStart.set(key, ++clock);
      active.set(key, (active.get(key) ?? 0) + 1);
      overall++;
      maxPerKey = Math.max(maxPerKey, active.get(key)!);
      maxOverall = Math.max(maxOverall, overall);
      // Re-add keys (including our own) while we are busy.
      if (Math.random() < 0.5) add(keys[Math.floor(Math.random() * keys.length)]!);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
      active.set(key, active.get(key)! - 1);
      overall--;
    });

    for (let round = 0; round < 50; round++) {
      for (const key of keys) add(key);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 2));
    }
    // Let the re-adds settle, then drain.
    while (q.len() > 0 || q.processing() > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await q.shutDown()).toBe(true);
    await workers;

    expect(maxPerKey).toBe(1);
    expect(maxOverall).toBeGreaterThan(1); // different keys did run concurrently
    for (const key of keys) expect(lastStart.get(key)!).toBeGreaterThan(lastAdd.get(key)!);
  });
});

describe('rate limiting', () => {
  it('grows the per-key delay exponentially up to the cap, and forget resets it', () => {
    const rl = new ItemExponentialFailureRateLimiter(5, 1_000_000);
    const delays = Array.from({ length: 6 }, () => rl.when('k'));
    expect(delays).toEqual([5, 10, 20, 40, 80, 160]);
    expect(rl.numRequeues('k')).toBe(6);
    expect(rl.when('other')).toBe(5); // per key
    for (let i = 0; i < 40; i++) rl.when('k');
    expect(rl.when('k')).toBe(1_000_000);
    rl.forget('k');
    expect(rl.numRequeues('k')).toBe(0);
    expect(rl.when('k')).toBe(5);
  });

  it('addRateLimited delays the key by the backoff and forget restarts it', async () => {
    vi.useFakeTimers();
    const metrics = recordingMetrics();
    const q = new WorkQueue({ name: 't', rateLimiter: new ItemExponentialFailureRateLimiter(100, 10_000), metrics });
    q.addRateLimited('k'); // 100 ms
    expect(q.len()).toBe(0);
    await vi.advanceTimersByTimeAsync(99);
    expect(q.len()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(q.len()).toBe(1);
    q.done((await q.get())!);

    q.addRateLimited('k'); // 200 ms
    await vi.advanceTimersByTimeAsync(199);
    expect(q.len()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(q.len()).toBe(1);
    q.done((await q.get())!);
    expect(q.numRequeues('k')).toBe(2);

    q.forget('k');
    q.addRateLimited('k'); // back to 100 ms
    await vi.advanceTimersByTimeAsync(100);
    expect(q.len()).toBe(1);
    expect(metrics.log.retried).toHaveLength(3);
  });
});

describe('addAfter', () => {
  it('adds the key after the delay; the earliest of several delays wins', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue({ name: 't' });
    q.addAfter('k', 1000);
    q.addAfter('k', 300);
    q.addAfter('k', 5000);
    expect(q.delayed()).toBe(1);
    await vi.advanceTimersByTimeAsync(299);
    expect(q.len()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(q.len()).toBe(1);
    expect(q.delayed()).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(q.len()).toBe(1); // the later delays were superseded, not added again
  });

  it('treats a non-positive delay as an immediate add', () => {
    const q = new WorkQueue({ name: 't' });
    q.addAfter('k', 0);
    q.addAfter('j', -5);
    expect(q.len()).toBe(2);
  });
});

describe('shutDown', () => {
  it('drains queued keys, then ends the workers; later adds are ignored', async () => {
    const q = new WorkQueue({ name: 't' });
    const processed: string[] = [];
    for (const k of ['a', 'b', 'c']) q.add(k);
    const workers = q.run(1, async (key) => {
      await tick();
      processed.push(key);
    });
    const drained = q.shutDown();
    q.add('late');
    q.addAfter('later', 1);
    q.addRateLimited('retry');
    expect(await drained).toBe(true);
    await workers;
    expect(processed).toEqual(['a', 'b', 'c']);
    expect(q.len()).toBe(0);
    expect(await q.get()).toBeUndefined();
  });

  it('waits for the in-flight key and runs its pending re-add when draining', async () => {
    const q = new WorkQueue({ name: 't' });
    const processed: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    q.add('a');
    const workers = q.run(2, async (key) => {
      processed.push(key);
      if (processed.length === 1) await gate;
    });
    await tick();
    q.add('a'); // dirty while processing
    const drained = q.shutDown();
    let finished = false;
    void drained.then(() => (finished = true));
    await tick();
    expect(finished).toBe(false);
    release();
    expect(await drained).toBe(true);
    await workers;
    expect(processed).toEqual(['a', 'a']);
  });

  it('without drain drops queued keys but still waits for in-flight ones', async () => {
    const q = new WorkQueue({ name: 't' });
    const processed: string[] = [];
    for (const k of ['a', 'b', 'c']) q.add(k);
    const workers = q.run(1, async (key) => {
      processed.push(key);
      await tick();
    });
    await Promise.resolve();
    expect(await q.shutDown({ drain: false })).toBe(true);
    await workers;
    expect(processed).toEqual(['a']);
  });

  it('reports false when the deadline passes, and stops handing out keys', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue({ name: 't' });
    const processed: string[] = [];
    for (const k of ['a', 'b']) q.add(k);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const workers = q.run(1, async (key) => {
      processed.push(key);
      await gate;
    });
    await vi.advanceTimersByTimeAsync(0);
    const result = q.shutDown({ timeoutMs: 1000 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(await result).toBe(false);
    release();
    await workers;
    expect(processed).toEqual(['a']);
  });

  it('re-adds a key whose processing threw (rate limited), so no key is silently lost', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue({ name: 't', rateLimiter: new ItemExponentialFailureRateLimiter(50, 1000) });
    let calls = 0;
    const workers = q.run(1, () => {
      calls++;
      return calls === 1 ? Promise.reject(new Error('boom')) : Promise.resolve();
    });
    q.add('k');
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(50);
    expect(calls).toBe(2);
    void q.shutDown();
    await workers;
  });
});

describe('metrics', () => {
  it('reports adds (not duplicates), depth, latency, work duration and retries', async () => {
    const metrics = recordingMetrics();
    const q = new WorkQueue({ name: 't', metrics });
    q.add('a');
    q.add('a');
    q.add('b');
    expect(metrics.log.added).toHaveLength(2);
    expect(metrics.log.depth!.at(-1)).toBe(2);
    const key = (await q.get())!;
    expect(metrics.log.depth!.at(-1)).toBe(1);
    expect(metrics.log.latency).toHaveLength(1);
    q.done(key);
    expect(metrics.log.work).toHaveLength(1);
  });

  it('creates the prom-client families with the label set initialised, shared across queues', async () => {
    const registry = new Registry();
    const q1 = new WorkQueue({ name: 'one', registry });
    new WorkQueue({ name: 'two', registry });
    const text = await registry.metrics();
    for (const name of ['one', 'two']) {
      expect(text).toContain(`m87_workqueue_depth{name="${name}"} 0`);
      expect(text).toContain(`m87_workqueue_adds_total{name="${name}"} 0`);
      expect(text).toContain(`m87_workqueue_retries_total{name="${name}"} 0`);
      expect(text).toContain(`m87_workqueue_queue_duration_seconds_count{name="${name}"} 0`);
      expect(text).toContain(`m87_workqueue_work_duration_seconds_count{name="${name}"} 0`);
    }
    q1.add('x');
    expect(await registry.metrics()).toContain('m87_workqueue_adds_total{name="one"} 1');
  });
});
