// The engine decides steps against the catalogue it is given (the controller's Tool cache) and binds each
// step's tool hash and image in the effective envelope, so the signed DEH covers exactly what will run.
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../../src/governance/index.ts';
import { envelopeHash } from '../../../src/integrity/document-hashes.ts';
import { catalogueOf, type ToolCatalogue } from '../../../src/tool-catalogue/catalogue.ts';
import { DEFAULT_CATALOGUE, SHIPPED_TOOLS } from '../../../src/tool-catalogue/default-catalogue.ts';
import { toolHash } from '../../../src/tool-catalogue/tool-hash.ts';
import { baseSpec, customProfile, findings, input, policyWith, type InputOptions } from './fixtures.ts';

const COMMIT = '3f'.repeat(20);
const REPO = 'http://git.demo.local:8080/calc.git';
const PATCH = 'diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1 +1 @@\n-    return a - b\n+    return a + b\n';

/** Casey's "fix the failing test" proposal against the shipped catalogue. */
function fixTheTest(
  steps: { tool: string; args: Record<string, string> }[] = [
    { tool: 'git-checkout', args: { repository: REPO, commit: COMMIT } },
    { tool: 'apply-patch', args: { patch: PATCH } },
    { tool: 'run-tests', args: {} },
  ],
) {
  return baseSpec({
    summary: 'Fix the failing test',
    effects: ['READ_REPO', 'WRITE_PATCH', 'RUN_TESTS'],
    steps,
    envelope: { egress: [{ host: 'git.demo.local', port: 8080 }] },
  });
}

const allowGitEgress = policyWith((p) => {
  p.envelope.allowedEgress = [{ host: 'git.demo.local', port: 8080 }];
});

function decide(spec = fixTheTest(), catalogue: ToolCatalogue = DEFAULT_CATALOGUE, o: InputOptions = {}) {
  return evaluate({ ...input({ spec, policy: allowGitEgress, ...o }), catalogue });
}

describe('the engine decides against the catalogue it is given', () => {
  it('allows the fix-the-failing-test proposal and binds each step to its tool hash and image', () => {
    const r = decide();
    expect(findings(r)).toEqual([]);
    expect(r.outcome).toBe('ALLOW');
    const steps = r.effectiveEnvelope?.steps ?? [];
    expect(steps.map((s) => [s.tool, s.toolHash, s.image])).toEqual(
      ['git-checkout', 'apply-patch', 'run-tests'].map((name) => [name, toolHash(SHIPPED_TOOLS[name]), DEFAULT_CATALOGUE.get(name)?.image]),
    );
    expect(r.envelopeHash).toBe(envelopeHash(r.effectiveEnvelope));
  });

  it('a tool changed in the catalogue changes the tool hash and so the DEH', () => {
    const before = decide();
    const edited = catalogueOf(
      Object.entries(SHIPPED_TOOLS).map(([n, t]) => [n, n === 'run-tests' ? { ...t, env: [...(t.env ?? []), { name: 'PYTEST_ADDOPTS', value: '-x' }] } : t] as const),
    );
    const after = decide(fixTheTest(), edited);
    expect(after.outcome).toBe('ALLOW');
    expect(after.effectiveEnvelope?.steps[2]?.toolHash).not.toBe(before.effectiveEnvelope?.steps[2]?.toolHash);
    expect(after.effectiveEnvelope?.steps[0]?.toolHash).toBe(before.effectiveEnvelope?.steps[0]?.toolHash);
    expect(after.envelopeHash).not.toBe(before.envelopeHash);
  });

  it('denies a tool the catalogue does not have, naming the step', () => {
    const r = decide(fixTheTest([{ tool: 'git-checkout', args: { repository: REPO, commit: COMMIT } }, { tool: 'shell', args: {} }]));
    expect(r.outcome).toBe('DENY');
    expect(findings(r)).toEqual(['TOOL_UNKNOWN']);
    expect(r.reasons[0]?.message).toMatch(/^steps\[1\]\.tool "shell" is not in the tool catalogue/);
    expect(r.effectiveEnvelope).toBeUndefined();
  });

  it('a tool deleted from the catalogue is unknown; the built-in names are not in the shipped catalogue', () => {
    const withoutRunTests = catalogueOf(Object.entries(SHIPPED_TOOLS).filter(([n]) => n !== 'run-tests'));
    expect(findings(decide(fixTheTest(), withoutRunTests))).toEqual(['TOOL_UNKNOWN']);
    expect(findings(decide(baseSpec(), DEFAULT_CATALOGUE))).toContain('TOOL_UNKNOWN'); // file_write
  });

  it('denies a catalogue entry that is not a valid Tool (fail closed), naming the step and the field', () => {
    const broken = new Map(DEFAULT_CATALOGUE);
    broken.set('run-tests', { ...SHIPPED_TOOLS['run-tests'], image: 'python:3.12' } as never);
    const r = decide(fixTheTest(), broken);
    expect(findings(r)).toEqual(['TOOL_INVALID']);
    expect(r.reasons[0]?.message).toMatch(/^steps\[2\]\.tool "run-tests" is not a valid Tool \(spec\.image: must be pinned by digest/);
  });

  it('effect drift: the catalogue entry decides which effects must be declared', () => {
    const r = decide({ ...fixTheTest(), effects: ['READ_REPO', 'WRITE_PATCH'] });
    expect(findings(r)).toEqual(['TOOL_EFFECT_UNDECLARED']);
    expect(r.reasons[0]?.message).toMatch(/steps\[2\]\.tool run-tests needs RUN_TESTS/);
    const stricter = catalogueOf(
      Object.entries(SHIPPED_TOOLS).map(([n, t]) => [n, n === 'git-checkout' ? { ...t, effects: ['READ_REPO', 'NETWORK_CALL'] } : t] as const),
    );
    expect(findings(decide(fixTheTest(), stricter))).toEqual(['TOOL_EFFECT_UNDECLARED']);
  });

  it('write scope: the catalogue entry decides the minimum', () => {
    const spec = fixTheTest();
    spec.envelope = { ...spec.envelope, autonomyBudget: { maxWriteScope: 'none' } };
    const r = decide(spec);
    expect(findings(r)).toEqual(['WRITE_SCOPE_INSUFFICIENT', 'WRITE_SCOPE_INSUFFICIENT']);
    expect(r.reasons.map((x) => x.message)).toEqual([
      'steps[1].tool apply-patch needs write scope sandbox; the envelope grants none.',
      'steps[2].tool run-tests needs write scope sandbox; the envelope grants none.',
    ]);
  });

  it('denies option injection and control characters in arguments, naming the argument', () => {
    const r = decide(fixTheTest([{ tool: 'run-tests', args: { maxFailures: '--help' } }, { tool: 'run-tests', args: { path: 'tests\n--collect-only' } }]));
    // The path is also a path argument with a control character: the virtual-fs rule says so too.
    expect(findings(r)).toEqual(['PATH_INVALID', 'TOOL_ARGS_INVALID', 'TOOL_ARGS_INVALID']);
    const args = r.reasons.filter((x) => x.code === 'TOOL_ARGS_INVALID').map((x) => x.message);
    expect(args[0]).toMatch(/^steps\[0\]\.args\.maxFailures .*\(ARG_NOT_INT\)/);
    expect(args[1]).toMatch(/^steps\[1\]\.args\.path contains a newline .*\(ARG_CONTROL_CHARACTER\)/);
    const dash = catalogueOf([['lister', { ...SHIPPED_TOOLS['http-get'], args: { dir: { type: 'string', required: true, maxLength: 64 } }, argv: [{ literal: 'ls' }, { arg: 'dir' }] }]]);
    const injected = evaluate({ ...input({ spec: baseSpec({ effects: ['NETWORK_CALL'], steps: [{ tool: 'lister', args: { dir: '--recursive' } }] }), profile: customProfile(['NETWORK_CALL']) }), catalogue: dash });
    expect(findings(injected)).toContain('TOOL_ARGS_INVALID');
    expect(injected.reasons.find((x) => x.code === 'TOOL_ARGS_INVALID')?.message).toMatch(/steps\[0\]\.args\.dir .*ARG_OPTION_INJECTION/);
  });

  it('denies a patch that touches a path outside the workspace, before anyone is asked to approve', () => {
    const escape = '--- a/../../etc/cron.d/job\n+++ b/../../etc/cron.d/job\n@@ -0,0 +1 @@\n+* * * * * root sh\n';
    const r = decide(fixTheTest([{ tool: 'apply-patch', args: { patch: escape } }]));
    expect(r.outcome).toBe('DENY');
    expect(findings(r)).toContain('PATH_OUTSIDE_WORKSPACE');
    expect(r.reasons.find((x) => x.code === 'PATH_OUTSIDE_WORKSPACE')?.message).toMatch(/^steps\[0\]\.args\.patch touches "\.\.\/\.\.\/etc\/cron\.d\/job"/);
  });

  it('denies a patch touching a path the virtual-filesystem rules deny', () => {
    const r = decide(fixTheTest([{ tool: 'apply-patch', args: { patch: '--- /workspace/x\n+++ /dev/shm/x\n' } }]));
    expect(findings(r)).toEqual(expect.arrayContaining(['PATH_OUTSIDE_WORKSPACE', 'VIRTUAL_FS_DENIED']));
  });

  it("denies a checkout whose repository host is not in the envelope's egress", () => {
    const spec = fixTheTest();
    spec.envelope = {};
    const r = decide(spec);
    expect(findings(r)).toEqual(['REPOSITORY_HOST_NOT_IN_EGRESS']);
    expect(r.reasons[0]?.message).toMatch(/^steps\[0\]\.args\.repository host "git\.demo\.local:8080" is not in envelope\.egress/);
    const https = fixTheTest([{ tool: 'git-checkout', args: { repository: 'https://git.demo.local/calc.git', commit: COMMIT } }]);
    expect(findings(decide(https))).toEqual(['REPOSITORY_HOST_NOT_IN_EGRESS']); // port 443, only 8080 requested
  });

  it('TRANSITIONAL: without a catalogue the engine decides against the runner built-ins (the controller passes none yet)', () => {
    const r = evaluate(input());
    expect(r.outcome).toBe('ALLOW');
    expect(r.effectiveEnvelope?.steps[0]).toMatchObject({ tool: 'write-file', toolHash: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown, image: expect.stringContaining('@sha256:') as unknown });
  });
});

describe('rollback proofs name catalogue tools', () => {
  it('a rollback tool must be in the catalogue and its arguments must render', () => {
    const spec = fixTheTest();
    spec.reversibility = { class: 'REVERSIBLE', rollbackProof: { description: 'revert the patch', rollbackTool: 'apply-patch', rollbackArgs: { patch: PATCH } }, executionMode: 'commit', cleanupCost: 'LOW' };
    expect(findings(decide(spec))).toEqual([]);
    spec.reversibility.rollbackProof = { description: 'revert', rollbackTool: 'git-revert' };
    expect(findings(decide(spec))).toEqual(['ROLLBACK_PROOF_INVALID']);
    spec.reversibility.rollbackProof = { description: 'revert', rollbackTool: 'apply-patch', rollbackArgs: { patch: '-- not a diff' } };
    expect(findings(decide(spec))).toEqual(['ROLLBACK_PROOF_INVALID']);
  });
});
