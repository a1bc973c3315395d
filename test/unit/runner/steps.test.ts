// A job's steps as the step Pod runs them (each `m87 step <i>` in turn, then the final container), with the
// test catalogue's harmless Tools (echo, write-file): the gates each step passes before its tool runs, the
// budget carried from step to step, workspace paths, and the environment a tool sees.
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EffectiveEnvelope } from '../../../src/api/envelope.ts';
import { Receipt, RECEIPT_MAX_BYTES } from '../../../src/api/receipt.ts';
import type { ReasonCode } from '../../../src/runner/codes.ts';
import { boundStep, envelope, fixture, type Fixture } from './fixture.ts';

const open: Fixture[] = [];
afterEach(() => {
  for (const f of open.splice(0)) f.cleanup();
});

async function run(env: EffectiveEnvelope, prepare?: (f: Fixture) => void, startedAtMs?: number) {
  const f = await fixture(env);
  open.push(f);
  prepare?.(f);
  const outcome = await f.run({}, startedAtMs);
  const written = f.terminationMessage();
  expect(Buffer.byteLength(written)).toBeLessThanOrEqual(RECEIPT_MAX_BYTES);
  expect(Receipt.safeParse(JSON.parse(written)).success).toBe(true);
  return { f, outcome, receipt: outcome.receipt };
}

const echo = (message: string) => boundStep('echo', { message });
const write = (path: string, content: string) => boundStep('write-file', { path, content });
/** A step refused before its tool ran, as the receipt lists it. */
const notRun = (tool: string) => ({ tool, exitCode: -1, outputHash: '' });

describe('runner steps: tools in order', () => {
  it('write-file writes inside the workspace; every step is in the receipt with its exit code', async () => {
    const { f, receipt } = await run(envelope({ steps: [write('notes/a.txt', '-not an option'), echo('done')] }), (f) => mkdirSync(join(f.workspace, 'notes')));
    expect(receipt).toMatchObject({ status: 'Succeeded', reasonCode: '', usage: { steps: 2, toolCalls: 2 } });
    expect(receipt.steps.map((s) => [s.tool, s.exitCode])).toEqual([['write-file', 0], ['echo', 0]]);
    expect(readFileSync(join(f.workspace, 'notes/a.txt'), 'utf8')).toBe('-not an option');
  });

  it('a failing step → Failed / STEP_FAILED with its exit code; later steps are skipped', async () => {
    const { outcome, receipt } = await run(envelope({ steps: [write('dir', 'x'), echo('after')] }), (f) => mkdirSync(join(f.workspace, 'dir')));
    expect(receipt).toMatchObject({ status: 'Failed', reasonCode: 'STEP_FAILED' });
    expect(receipt.steps).toHaveLength(1);
    expect(receipt.steps[0]!.exitCode).toBeGreaterThan(0);
    expect(outcome.records.map((r) => r?.status)).toEqual(['Failed', 'Skipped']);
    expect(outcome.exitCode).not.toBe(0);
  });

  it('arguments are re-validated against the bound Tool in the step container', async () => {
    const cases: [EffectiveEnvelope['steps'][number], string][] = [
      [boundStep('echo', {}), 'steps[0].args.message'],
      [boundStep('echo', { message: 'x', extra: 'y' }), 'steps[0].args.extra'],
      [boundStep('echo', { message: 'x'.repeat(5000) }), 'steps[0].args.message'],
      [boundStep('http-get', { url: 'file:///etc/passwd' }), 'steps[0].args.url'],
      [boundStep('write-file', { path: 'a.txt', content: 'x\u0000' }), 'steps[0].args.content'],
    ];
    for (const [step, field] of cases) {
      const { outcome } = await run(envelope({ steps: [step] }));
      expect(outcome.receipt).toMatchObject({ status: 'Refused', reasonCode: 'TOOL_ARGS_INVALID', steps: [notRun(step.tool)], usage: { steps: 0 } });
      expect(outcome.message).toContain(field);
    }
  });
});

describe('runner steps: gates', () => {
  async function refused(env: EffectiveEnvelope, code: ReasonCode) {
    const r = await run(env);
    expect(r.receipt).toMatchObject({ status: 'Refused', reasonCode: code, artifacts: [] });
    expect(r.receipt.steps.at(-1)).toEqual(notRun(env.steps[r.receipt.steps.length - 1]!.tool));
    expect(r.outcome.exitCode).not.toBe(0);
    return r;
  }

  it('write scope: write-file (sandbox) under maxWriteScope none → WRITE_SCOPE_EXCEEDED; echo (none) runs', async () => {
    const r = await refused(envelope({ steps: [echo('x'), write('a.txt', 'x')], autonomyBudget: { maxWriteScope: 'none' } }), 'WRITE_SCOPE_EXCEEDED');
    expect(r.receipt.steps.map((s) => s.exitCode)).toEqual([0, -1]);
    expect(existsSync(join(r.f.workspace, 'a.txt'))).toBe(false);
    const ok = await run(envelope({ steps: [echo('x')], autonomyBudget: { maxWriteScope: 'none' } }));
    expect(ok.receipt.status).toBe('Succeeded');
  });

  it('open-weight models are held to sandbox even if the envelope says prod', async () => {
    const ok = await run(envelope({ modelSource: 'open', steps: [write('a.txt', 'x')], autonomyBudget: { maxWriteScope: 'prod' } }));
    expect(ok.receipt.status).toBe('Succeeded'); // write-file needs only sandbox
  });

  it('execution mode: write-file does not support preview → EXECUTION_MODE_UNSUPPORTED', async () => {
    await refused(envelope({ steps: [write('a.txt', 'x')], reversibility: { executionMode: 'preview', class: 'PARTIALLY_REVERSIBLE' } }), 'EXECUTION_MODE_UNSUPPORTED');
  });

  it('a tool whose effects the envelope does not allow → TOOL_EFFECT_NOT_ALLOWED', async () => {
    await refused(envelope({ steps: [write('a.txt', 'x')], effects: ['COMPUTE'], reversibility: { class: undefined } }), 'TOOL_EFFECT_NOT_ALLOWED');
  });

  it('reversibility: missing class with write effects, REVERSIBLE without proof, PARTIALLY_REVERSIBLE commit without proof, IRREVERSIBLE without approval', async () => {
    await refused(envelope({ reversibility: { class: undefined } }), 'REVERSIBILITY_CLASS_MISSING');
    await refused(envelope({ reversibility: { class: 'REVERSIBLE', hasRollbackProof: false } }), 'ROLLBACK_PROOF_MISSING');
    await refused(envelope({ reversibility: { class: 'PARTIALLY_REVERSIBLE', hasRollbackProof: false, executionMode: 'commit' } }), 'ROLLBACK_PROOF_MISSING');
    await refused(envelope({ reversibility: { class: 'IRREVERSIBLE' }, humanApproved: false }), 'HUMAN_APPROVAL_MISSING');
  });

  it('reversibility: read-only jobs need no class; draft of PARTIALLY_REVERSIBLE needs no proof; approved IRREVERSIBLE runs', async () => {
    expect((await run(envelope({ effects: ['COMPUTE'], reversibility: { class: undefined } }))).receipt.status).toBe('Succeeded');
    expect((await run(envelope({ reversibility: { class: 'PARTIALLY_REVERSIBLE', hasRollbackProof: false, executionMode: 'draft' } }))).receipt.status).toBe('Succeeded');
    expect((await run(envelope({ reversibility: { class: 'IRREVERSIBLE' }, humanApproved: true }))).receipt.status).toBe('Succeeded');
  });
});

describe('runner steps: budget (checked before every step, carried from step to step)', () => {
  it('maxSteps: the step beyond the budget does not run', async () => {
    const { f, receipt } = await run(envelope({ steps: [write('one.txt', '1'), write('two.txt', '2')], autonomyBudget: { maxSteps: 1 } }));
    expect(receipt).toMatchObject({ status: 'Refused', reasonCode: 'BUDGET_STEPS_EXCEEDED' });
    expect(receipt.steps.map((s) => s.exitCode)).toEqual([0, -1]);
    expect(receipt.usage).toMatchObject({ steps: 1, toolCalls: 1 });
    expect(existsSync(join(f.workspace, 'one.txt'))).toBe(true);
    expect(existsSync(join(f.workspace, 'two.txt'))).toBe(false);
  });

  it('maxToolCalls: the call beyond the budget does not run', async () => {
    const { f, receipt } = await run(envelope({ steps: [write('one.txt', '1'), write('two.txt', '2'), write('three.txt', '3')], autonomyBudget: { maxToolCalls: 2 } }));
    expect(receipt).toMatchObject({ status: 'Refused', reasonCode: 'BUDGET_TOOL_CALLS_EXCEEDED' });
    expect(receipt.steps.map((s) => s.exitCode)).toEqual([0, 0, -1]);
    expect(existsSync(join(f.workspace, 'three.txt'))).toBe(false);
  });

  it('maxRuntimeSeconds: a job whose runtime (from its delivery) is used up starts no step', async () => {
    const { f, receipt } = await run(envelope({ steps: [write('one.txt', '1')], autonomyBudget: { maxRuntimeSeconds: 1 } }), undefined, Date.now() - 2000);
    expect(receipt).toMatchObject({ status: 'Refused', reasonCode: 'BUDGET_RUNTIME_EXCEEDED', steps: [notRun('write-file')] });
    expect(existsSync(join(f.workspace, 'one.txt'))).toBe(false);
  });
});

describe('runner steps: workspace paths', () => {
  async function pathRefused(path: string, code: ReasonCode, prepare?: (f: Fixture) => void) {
    const { f, receipt } = await run(envelope({ steps: [write(path, 'x')] }), prepare);
    expect(receipt).toMatchObject({ status: 'Refused', reasonCode: code, steps: [notRun('write-file')] });
    return f;
  }

  it('`..` segments and absolute paths outside the workspace are refused by the argument check (pathLike), the rest by the workspace', async () => {
    for (const path of ['../escape.txt', 'a/../../escape.txt', '/etc/passwd', '/workspace/../etc/passwd']) {
      const { outcome } = await run(envelope({ steps: [write(path, 'x')] }));
      expect(outcome.receipt).toMatchObject({ status: 'Refused', reasonCode: 'TOOL_ARGS_INVALID', steps: [notRun('write-file')] });
      expect(outcome.message).toContain('steps[0].args.path');
    }
    await pathRefused('.', 'PATH_INVALID');
    await pathRefused('.m87/steps/01-echo.out', 'PATH_RESERVED');
  });

  it('a symlinked directory leading outside the workspace is refused and nothing is written there', async () => {
    const f = await pathRefused('out/pwned.txt', 'PATH_SYMLINK_ESCAPE', (f) => {
      mkdirSync(join(f.dir, 'outside'));
      symlinkSync(join(f.dir, 'outside'), join(f.workspace, 'out'));
    });
    expect(readdirSync(join(f.dir, 'outside'))).toEqual([]);
  });

  it('a symlink as the target file is refused (even one pointing inside)', async () => {
    const f = await pathRefused('link.txt', 'PATH_SYMLINK_ESCAPE', (f) => {
      writeFileSync(join(f.dir, 'victim.txt'), 'original');
      symlinkSync(join(f.dir, 'victim.txt'), join(f.workspace, 'link.txt'));
    });
    expect(readFileSync(join(f.dir, 'victim.txt'), 'utf8')).toBe('original');
  });

  it('a symlink that stays inside the workspace is followed', async () => {
    const { f, receipt } = await run(envelope({ steps: [write('alias/a.txt', 'x')] }), (f) => {
      mkdirSync(join(f.workspace, 'real'));
      symlinkSync(join(f.workspace, 'real'), join(f.workspace, 'alias'));
    });
    expect(receipt.status).toBe('Succeeded');
    expect(readFileSync(join(f.workspace, 'real/a.txt'), 'utf8')).toBe('x');
  });
});

describe('runner: child environment', () => {
  it('child processes see only PATH, HOME=workspace and LANG', async () => {
    const { childEnvironment } = await import('../../../src/runner/runner.ts');
    const env = childEnvironment({ PATH: '/bin', LANG: 'C', SECRET_TOKEN: 'x', KUBERNETES_SERVICE_HOST: '10.0.0.1', M87_PODINFO_DIR: '/etc' }, '/ws', undefined);
    expect(env).toEqual({ PATH: '/bin', HOME: '/ws', LANG: 'C' });
    const withProxy = childEnvironment({}, '/ws', 'http://m87:t@127.0.0.1:1');
    expect(Object.keys(withProxy).sort()).toEqual(['HOME', 'HTTPS_PROXY', 'HTTP_PROXY', 'LANG', 'PATH', 'http_proxy', 'https_proxy']);
  });
});
