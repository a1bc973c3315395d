import { describe, expect, it } from 'vitest';
import { renderProfileSummary, sourceGroup, summarizeProfile, type CpuProfile } from '../../../bench/profile-summary.ts';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

const PROFILE: CpuProfile = {
  startTime: 0,
  endTime: 10_000,
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 3, 4, 5] },
    { id: 2, callFrame: frame('(idle)') },
    { id: 3, callFrame: frame('parseJson', 'file:///repo/src/runtime/kube-http.ts', 63) },
    { id: 4, callFrame: frame('', 'file:///repo/node_modules/undici/lib/fetch.js', 9) },
    { id: 5, callFrame: frame('(garbage collector)') },
  ],
  // timeDeltas[i + 1] is how long sample i lasted (µs)
  samples: [2, 3, 3, 4, 5, 2],
  timeDeltas: [0, 4000, 3000, 1000, 1000, 1000],
};

describe('summarizeProfile', () => {
  it('attributes self time per function and per source, without idle', () => {
    const s = summarizeProfile(PROFILE);
    expect(s.totalMs).toBeCloseTo(10, 9);
    expect(s.busyMs).toBeCloseTo(6, 9);
    expect(s.functions.map((f) => [f.name, f.selfMs])).toEqual([
      ['parseJson src/runtime/kube-http.ts:64', 4],
      ['(anonymous) node_modules/undici:10', 1],
      ['(garbage collector)', 1],
    ]);
    expect(s.files.map((f) => f.name)).toEqual(['src/runtime/kube-http.ts', 'node_modules/undici', '(garbage collector)']);
    expect(renderProfileSummary(s)).toContain(' 66.7%        4 ms  parseJson src/runtime/kube-http.ts:64');
  });

  it('attributes inclusive time to every function on the stack, once per sample even when recursive', () => {
    const nested: CpuProfile = {
      startTime: 0,
      endTime: 10_000,
      nodes: [
        { id: 1, callFrame: frame('(root)'), children: [2, 3] },
        { id: 2, callFrame: frame('(idle)') },
        { id: 3, callFrame: frame('reconcile', 'file:///repo/src/controller/decider.ts', 9), children: [4, 5] },
        { id: 4, callFrame: frame('parseJson', 'file:///repo/src/runtime/kube-http.ts', 63) },
        { id: 5, callFrame: frame('reconcile', 'file:///repo/src/controller/decider.ts', 9), children: [6] },
        { id: 6, callFrame: frame('parseJson', 'file:///repo/src/runtime/kube-http.ts', 63) },
      ],
      samples: [2, 3, 4, 6, 2],
      timeDeltas: [0, 1000, 2000, 3000, 4000],
    };
    const s = summarizeProfile(nested);
    expect(s.inclusive.map((f) => [f.name, f.selfMs])).toEqual([
      ['reconcile src/controller/decider.ts:10', 9],
      ['parseJson src/runtime/kube-http.ts:64', 7],
    ]);
    expect(renderProfileSummary(s)).toContain('top functions by inclusive time');
  });

  it('keeps only the top entries', () => {
    expect(summarizeProfile(PROFILE, 1).functions).toHaveLength(1);
  });
});

describe('sourceGroup', () => {
  it('groups by package, node internal module or repository file', () => {
    expect(sourceGroup('file:///w/node_modules/@kubernetes/client-node/dist/config.js')).toBe('node_modules/@kubernetes/client-node');
    expect(sourceGroup('node:internal/crypto/sig')).toBe('node:internal/crypto');
    expect(sourceGroup('node:events')).toBe('node:events');
    expect(sourceGroup('file:///work/main/src/controller/decider.ts')).toBe('src/controller/decider.ts');
    expect(sourceGroup('')).toBe('(native)');
  });
});
