// The checks the controller (mint time: ToolChanged / a deleted tool) and the runner (before a step) make
// against a decided envelope step.
import { describe, expect, it } from 'vitest';
import type { EnvelopeStep } from '../../../src/api/envelope.ts';
import { checkToolBinding, checkToolBindings } from '../../../src/tool-catalogue/binding.ts';
import { catalogueOf } from '../../../src/tool-catalogue/catalogue.ts';
import { DEFAULT_CATALOGUE, SHIPPED_TOOLS } from '../../../src/tool-catalogue/default-catalogue.ts';
import { toolHash } from '../../../src/tool-catalogue/tool-hash.ts';

function decided(tool: string, args: Record<string, string> = {}): EnvelopeStep {
  const spec = DEFAULT_CATALOGUE.get(tool);
  if (spec === undefined) throw new Error(`no shipped tool ${tool}`);
  return { tool, args, toolHash: toolHash(spec), image: spec.image };
}

describe('tool bindings', () => {
  const steps = [decided('git-checkout', { repository: 'http://127.0.0.1/r.git', commit: 'a'.repeat(40) }), decided('run-tests')];

  it('accept the catalogue the decision was made against', () => {
    expect(checkToolBindings(steps, DEFAULT_CATALOGUE)).toEqual([]);
  });

  it('report a tool changed after the decision, naming the step', () => {
    const edited = catalogueOf(Object.entries(SHIPPED_TOOLS).map(([n, t]) => [n, n === 'run-tests' ? { ...t, timeoutSeconds: 3600 } : t] as const));
    expect(checkToolBindings(steps, edited)).toEqual([expect.objectContaining({ step: 1, tool: 'run-tests', reason: 'ToolChanged', message: expect.stringMatching(/^steps\[1\]\.toolHash/) as unknown })]);
  });

  it('report a deleted tool', () => {
    const without = catalogueOf(Object.entries(SHIPPED_TOOLS).filter(([n]) => n !== 'git-checkout'));
    expect(checkToolBindings(steps, without).map((p) => [p.step, p.reason])).toEqual([[0, 'ToolMissing']]);
  });

  it('report an image swapped under the same hash-relevant name, and an invalid definition', () => {
    const step = decided('http-get');
    expect(checkToolBinding({ ...step, image: `ghcr.io/m87/other@sha256:${'1'.repeat(64)}` }, 0, DEFAULT_CATALOGUE.get('http-get'))?.reason).toBe('ToolChanged');
    expect(checkToolBinding(step, 0, { ...SHIPPED_TOOLS['http-get'], image: 'python:latest' })?.reason).toBe('ToolChanged');
  });

  it('report a step minted before tools were bound', () => {
    expect(checkToolBinding({ tool: 'echo', args: {} }, 3, DEFAULT_CATALOGUE.get('http-get'))).toMatchObject({ step: 3, reason: 'ToolUnbound' });
  });
});
