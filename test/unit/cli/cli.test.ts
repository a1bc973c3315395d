import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { proposalHash } from '../../../src/integrity/document-hashes.ts';
import { approvalName } from '../../../src/cli/approve-command.ts';
import { age, outputFormat, table } from '../../../src/cli/output.ts';
import { listedTools } from '../../../src/client/tools.ts';
import { SHIPPED_TOOLS } from '../../../src/tool-catalogue/default-catalogue.ts';
import { toolHash } from '../../../src/tool-catalogue/tool-hash.ts';

const MAIN = join(import.meta.dirname, '../../../src/cli/main.ts');
const m87 = (args: string[], input?: string) =>
  spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', input, env: { ...process.env, KUBECONFIG: '/nonexistent' } });

describe('m87 CLI', () => {
  it('hash -f prints the same proposal hash as the library, for files and stdin', () => {
    const text = readFileSync('examples/proposal-allow.yaml', 'utf8');
    const expected = proposalHash((parse(text) as { spec: unknown }).spec);
    const fromFile = m87(['hash', '-f', 'examples/proposal-allow.yaml', '-o', 'json']);
    expect(fromFile.status).toBe(0);
    expect((JSON.parse(fromFile.stdout) as { hash: string }[])[0]?.hash).toBe(expected);
    const fromStdin = m87(['hash', '-f', '-'], text);
    expect(fromStdin.stdout).toContain(expected);
  });

  it('hash -f refuses a float where an integer is meant, naming the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'm87-cli-'));
    const text = readFileSync('examples/proposal-allow.yaml', 'utf8').replace('  envelope:\n', '  envelope:\n    autonomyBudget:\n      maxSteps: 2.5\n');
    writeFileSync(join(dir, 'p.yaml'), text);
    const r = m87(['hash', '-f', join(dir, 'p.yaml')]);
    rmSync(dir, { recursive: true, force: true });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('spec.envelope.autonomyBudget.maxSteps');
  });

  it('unknown commands and missing arguments exit 2 with usage', () => {
    expect(m87(['frobnicate']).status).toBe(2);
    expect(m87(['hash']).status).toBe(2);
    expect(m87(['approve']).status).toBe(2);
  });

  it('tools reads the catalogue from the cluster: without a reachable kubeconfig it fails, and says so', () => {
    const r = m87(['tools']);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(m87(['tools', '--help']).stdout).toMatch(/Tool objects/);
    expect(m87(['tools', '-o', 'xml']).status).toBe(2);
  });

  it('tools: each listed object is validated on its own; an invalid one is shown with the field at fault', () => {
    const ok = { apiVersion: 'governance.m87.io/v1alpha1', kind: 'Tool', metadata: { name: 'http-get' }, spec: SHIPPED_TOOLS['http-get'] };
    const bad = { ...ok, metadata: { name: 'tagged' }, spec: { ...SHIPPED_TOOLS['http-get'], image: 'python:3.12' } };
    const listed = listedTools([ok, bad]);
    expect(listed.map((t) => [t.name, t.valid])).toEqual([
      ['http-get', true],
      ['tagged', false],
    ]);
    expect(listed[0]?.hash).toBe(toolHash(SHIPPED_TOOLS['http-get']));
    expect(listed[1]?.problem).toMatch(/^spec\.image: must be pinned by digest/);
  });

  it('formats tables, ages and output flags', () => {
    expect(table(['name', 'x'], [['a', '1'], ['long-name', '22']])).toBe('NAME        X\na           1\nlong-name   22\n');
    const now = new Date('2026-01-01T01:00:00Z');
    expect(age('2026-01-01T00:59:30Z', now)).toBe('30s');
    expect(age('2026-01-01T00:00:00Z', now)).toBe('60m');
    expect(() => outputFormat('xml')).toThrow(/json, yaml or table/);
  });

  it('names one approval per approver and proposal, valid for any username', () => {
    const a = approvalName('deploy', 'system:serviceaccount:ns:x');
    expect(a).toMatch(/^deploy-[0-9a-f]{10}$/);
    expect(approvalName('deploy', 'alice')).not.toBe(approvalName('deploy', 'bob'));
  });
});
