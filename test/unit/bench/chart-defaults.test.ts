import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chartControllerNodeOptions } from '../../../bench/chart-defaults.ts';

describe("the bench runs the controller with the chart's NODE_OPTIONS", () => {
  it('reads controller.nodeOptions from the chart', () => {
    expect(chartControllerNodeOptions()).toMatch(/--max-old-space-size=\d+/);
  });

  it('is empty when the chart sets none and refuses a non-string', () => {
    const dir = mkdtempSync(join(tmpdir(), 'm87-chart-defaults-'));
    writeFileSync(join(dir, 'none.yaml'), 'controller:\n  extraArgs: []\n');
    writeFileSync(join(dir, 'bad.yaml'), 'controller:\n  nodeOptions: 12\n');
    try {
      expect(chartControllerNodeOptions(join(dir, 'none.yaml'))).toBe('');
      expect(() => chartControllerNodeOptions(join(dir, 'bad.yaml'))).toThrow(/controller.nodeOptions must be a string/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
