// What the chart installs by default, read from charts/m87/values.yaml, so the bench measures the controller
// as an install runs it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../dev/cluster/binaries.ts';

/** The chart's default controller.nodeOptions (V8 heap settings); "" when unset. */
export function chartControllerNodeOptions(valuesPath = join(REPO_ROOT, 'charts/m87/values.yaml')): string {
  const values = parse(readFileSync(valuesPath, 'utf8')) as { controller?: { nodeOptions?: unknown } };
  const v = values.controller?.nodeOptions;
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new Error(`${valuesPath}: controller.nodeOptions must be a string`);
  return v;
}
