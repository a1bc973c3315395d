import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allGeneratedFiles, planGeneration } from '../../../dev/codegen/generate-main.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');

describe('generated files (crds/*.yaml and the generated examples)', () => {
  const files = allGeneratedFiles(ROOT);

  it.each(files.map((f) => [f.path, f] as const))('%s is what `npm run gen` produces from src/', (path, file) => {
    let committed: string;
    try {
      committed = readFileSync(join(ROOT, path), 'utf8');
    } catch {
      throw new Error(`${path} is missing: run \`npm run gen\``);
    }
    // Compare as text: a one-character difference in a CRD is a different API.
    expect(committed, `${path} drifted from the zod schemas: run \`npm run gen\``).toBe(file.content);
  });

  it('has one CRD per kind', () => {
    expect(
      files
        .filter((f) => f.path.startsWith('crds/'))
        .map((f) => f.path)
        .sort(),
    ).toEqual([
      'crds/agentprofiles.governance.m87.io.yaml',
      'crds/approvals.governance.m87.io.yaml',
      'crds/decisions.governance.m87.io.yaml',
      'crds/governancepolicies.governance.m87.io.yaml',
      'crds/jobs.governance.m87.io.yaml',
      'crds/proposals.governance.m87.io.yaml',
      'crds/tools.governance.m87.io.yaml',
    ]);
  });
});

describe('npm run gen -- --check', () => {
  it('finds a hand-edited, a missing and a stale file in a copy of the tree', () => {
    const copy = mkdtempSync(join(tmpdir(), 'm87-gen-check-'));
    try {
      cpSync(join(ROOT, 'crds'), join(copy, 'crds'), { recursive: true });
      cpSync(join(ROOT, 'examples'), join(copy, 'examples'), { recursive: true });
      expect(planGeneration(copy).differing).toEqual([]);

      writeFileSync(join(copy, 'crds/proposals.governance.m87.io.yaml'), '# edited by hand\n');
      unlinkSync(join(copy, 'examples/job.yaml'));
      writeFileSync(join(copy, 'crds/widgets.governance.m87.io.yaml'), 'kind: CustomResourceDefinition\n');
      const plan = planGeneration(copy);
      expect(plan.differing.map((f) => f.path).sort()).toEqual(['crds/proposals.governance.m87.io.yaml', 'examples/job.yaml']);
      expect(plan.stale).toEqual(['crds/widgets.governance.m87.io.yaml']);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('exits 0 on the committed tree and 2 on an unknown flag', () => {
    const script = join(ROOT, 'dev/codegen/generate-main.ts');
    const ok = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const bad = spawnSync(process.execPath, [script, '--chek'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--chek');
  });
});
