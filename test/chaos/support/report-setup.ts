// vitest globalSetup of the chaos tier (next to the cluster's): a results directory for the scenario reports
// and the run's random seed; at the end, a summary on stderr and — after a long run — docs/reliability.md.
import { randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { REPO_ROOT, readVersions } from '../../../dev/cluster/binaries.ts';
import { chaosMode } from './mode.ts';
import { renderReliabilityDoc } from './reliability-doc.ts';
import { SCENARIOS, type ScenarioId, type ScenarioResult } from './scenarios.ts';

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'm87-chaos-results-'));
  const seed = process.env.M87_CHAOS_SEED !== undefined && process.env.M87_CHAOS_SEED !== '' ? Number(process.env.M87_CHAOS_SEED) : randomInt(1, 2 ** 31 - 1);
  if (!Number.isSafeInteger(seed)) throw new Error(`M87_CHAOS_SEED=${process.env.M87_CHAOS_SEED}: want an integer`);
  project.provide('chaosResultsDir', dir);
  project.provide('chaosSeed', seed);
  const mode = chaosMode();
  const started = performance.now();
  process.stderr.write(`m87 chaos: ${mode} form, seed ${seed} (M87_CHAOS_SEED=${seed} repeats it)\n`);
  return () => {
    const results = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ScenarioResult);
    const allPassed = results.length > 0 && results.every((r) => r.passed);
    if (allPassed) rmSync(dir, { recursive: true, force: true });
    else process.stderr.write(`m87 chaos: controller logs and results kept in ${dir}\n`);
    for (const r of results) {
      const counts = Object.entries(r.counts)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ');
      const timings = Object.entries(r.timings)
        .map(([k, v]) => `${k}: ${v.map((ms) => (ms / 1000).toFixed(2)).join('/')} s`)
        .join('; ');
      process.stderr.write(`m87 chaos: ${r.skipped ? 'skipped' : r.passed ? 'passed' : 'FAILED'} ${r.id} in ${(r.durationMs / 1000).toFixed(1)} s — ${counts}${timings !== '' ? ` — ${timings}` : ''}\n`);
    }
    if (mode !== 'long') return;
    const missing = (Object.keys(SCENARIOS) as ScenarioId[]).filter((id) => !results.some((r) => r.id === id));
    if (missing.length > 0) {
      // A partial run (a file filter, a skipped scenario) does not replace the report of a complete one.
      process.stderr.write(`m87 chaos: not writing docs/reliability.md: no result from ${missing.join(', ')}\n`);
      return;
    }
    const versions = readVersions();
    const doc = renderReliabilityDoc(results, {
      finishedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      durationMs: performance.now() - started,
      cpus: cpus().length,
      node: process.versions.node,
      kubernetes: `Kubernetes ${versions.kubernetes}`,
      etcd: versions.etcd,
      seed: String(seed),
    });
    const file = join(REPO_ROOT, 'docs', 'reliability.md');
    writeFileSync(file, doc);
    process.stderr.write(`m87 chaos: wrote ${file}\n`);
  };
}
