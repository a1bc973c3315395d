import { describe, expect, it } from 'vitest';
import { KeyedMutex } from '../../../src/controller/keyed-mutex.ts';

describe('KeyedMutex', () => {
  it('serialises sections of one key and lets other keys run', async () => {
    const m = new KeyedMutex();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a = m.run('s', async () => {
      order.push('a-start');
      await gate;
      order.push('a-end');
    });
    const b = m.run('s', () => {
      order.push('b');
      return Promise.resolve();
    });
    const c = m.run('t', () => {
      order.push('c');
      return Promise.resolve();
    });
    await c;
    expect(order).toEqual(['a-start', 'c']);
    release();
    await Promise.all([a, b]);
    expect(order).toEqual(['a-start', 'c', 'a-end', 'b']);
    expect(m.size()).toBe(0);
  });

  it('releases the key when a section throws', async () => {
    const m = new KeyedMutex();
    await expect(m.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await m.run('k', () => Promise.resolve(42))).toBe(42);
  });
});
