// The chart carries copies of generated files (hack/sync-chart-crds.sh): the CRDs and the default
// AgentProfiles and GovernancePolicy. The copies must be byte-identical to their sources, which `npm run gen`
// writes from src/api and src/governance/defaults.ts.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../dev/cluster/binaries.ts';
import { CHART_DIR } from './helm.ts';

const yamlFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
const FIX = 'run `npm run gen` and then `hack/sync-chart-crds.sh`';

describe('charts/m87 copies of generated files', () => {
  it('charts/m87/crds/ holds exactly the CRDs of crds/, byte for byte', () => {
    const source = yamlFiles(join(REPO_ROOT, 'crds'));
    expect(source.length).toBeGreaterThan(0);
    expect(yamlFiles(join(CHART_DIR, 'crds')), FIX).toEqual(source);
    for (const f of source) {
      const chartCopy = readFileSync(join(CHART_DIR, 'crds', f));
      expect(chartCopy.equals(readFileSync(join(REPO_ROOT, 'crds', f))), `charts/m87/crds/${f} differs from crds/${f}: ${FIX}`).toBe(true);
    }
  });

  it.each(['agentprofiles.yaml', 'governancepolicy.yaml', 'tools.yaml'])('charts/m87/files/%s is the one in examples/, byte for byte', (f) => {
    const chartCopy = readFileSync(join(CHART_DIR, 'files', f));
    expect(chartCopy.equals(readFileSync(join(REPO_ROOT, 'examples', f))), `charts/m87/files/${f} differs: ${FIX}`).toBe(true);
  });

  it('hack/sync-chart-crds.sh --check agrees', () => {
    const r = spawnSync('bash', [join(REPO_ROOT, 'hack', 'sync-chart-crds.sh'), '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
