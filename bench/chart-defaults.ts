// What the chart installs by default, read from charts/m87/values.yaml, so the bench measures the controller
// as an install runs it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../dev/cluster/binaries.ts';

/** The chart's default controller.mallocArenaMax (MALLOC_ARENA_MAX); undefined when null or unset. */
export function chartControllerMallocArenaMax(valuesPath = join(REPO_ROOT, 'charts/m87/values.yaml')): number | undefined {
  const values = parse(readFileSync(valuesPath, 'utf8')) as { controller?: { mallocArenaMax?: unknown } };
  const v = values.controller?.mallocArenaMax;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${valuesPath}: controller.mallocArenaMax must be a positive integer or null`);
  return v;
}

/** The chart's default controller.nodeOptions (V8 heap settings); "" when unset. */
export function chartControllerNodeOptions(valuesPath = join(REPO_ROOT, 'charts/m87/values.yaml')): string {
  const values = parse(readFileSync(valuesPath, 'utf8')) as { controller?: { nodeOptions?: unknown } };
  const v = values.controller?.nodeOptions;
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new Error(`${valuesPath}: controller.nodeOptions must be a string`);
  return v;
}
