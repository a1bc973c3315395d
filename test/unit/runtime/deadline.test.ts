import { describe, expect, it } from 'vitest';
import { deadline } from '../../../src/runtime/deadline.ts';

describe('deadline', () => {
  it('aborts with a TimeoutError after the limit', async () => {
    const d = deadline(20);
    await new Promise((resolve) => d.signal.addEventListener('abort', resolve));
    expect(d.signal.reason).toMatchObject({ name: 'TimeoutError' });
  });

  it('never fires once cleared', async () => {
    const d = deadline(10);
    d.clear();
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(d.signal.aborted).toBe(false);
  });

  it('aborts with the parent, with the parent’s reason', () => {
    const parent = new AbortController();
    const d = deadline(60_000, parent.signal);
    parent.abort(new Error('stopping'));
    expect(d.signal.aborted).toBe(true);
    expect((d.signal.reason as Error).message).toBe('stopping');
    d.clear();
  });
});
