import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EffectiveEnvelope } from '../../../src/api/envelope.ts';
import { Receipt, RECEIPT_MAX_BYTES } from '../../../src/api/receipt.ts';
import type { ReasonCode } from '../../../src/runner/codes.ts';
import { TOOL_MANIFEST } from '../../../src/tool-catalogue/manifest.ts';
import { envelope, fixture, type Fixture } from './fixture.ts';

const open: Fixture[] = [];
afterEach(() => {
  for (const f of open.splice(0)) f.cleanup();
});

function sha(s: string | Buffer): string {
  return createHash('sha256').update(s).digest('hex');
}

async function run(env: EffectiveEnvelope, prepare?: (f: Fixture) => void) {
  const f = await fixture(env);
  open.push(f);
  prepare?.(f);
  const outcome = await f.run();
  const written = f.terminationMessage();
  expect(Buffer.byteLength(written)).toBeLessThanOrEqual(RECEIPT_MAX_BYTES);
  expect(Receipt.safeParse(JSON.parse(written)).success).toBe(true);
  return { f, outcome, receipt: outcome.receipt };
}

const echo = (message: string) => ({ tool: 'echo', args: { message } });
const write = (path: string, content: string) => ({ tool: 'file_write', args: { path, content } });

describe('runner steps: tools', () => {
  it('echo writes its message to the output; the output is hashed and saved as the step artifact', async () => {
    const { f, receipt } = await run(envelope({ steps: [echo('hello, world')] }));
    expect(receipt.status).toBe('Succeeded');
    expect(receipt.steps).toEqual([{ tool: 'echo', exitCode: 0, outputHash: sha('hello, world') }]);
    expect(receipt.artifacts).toEqual([{ path: '.m87/steps/01-echo.out', sha256: sha('hello, world') }]);
    expect(readFileSync(join(f.workspace, '.m87/steps/01-echo.out'), 'utf8')).toBe('hello, world');
    expect(receipt.usage).toMatchObject({ steps: 1, toolCalls: 1, externalIO: 0 });
  });

  it('echo does not read a leading dash as an option', async () => {
    const { receipt } = await run(envelope({ steps: [echo('-n -e \\x41')] }));
    expect(receipt.steps[0]!.outputHash).toBe(sha('-n -e \\x41'));
  });

  it('file_write writes inside the workspace and records the artifact digest', async () => {
    const { f, receipt } = await run(envelope({ steps: [write('src/fix.patch', 'diff --git a b\n'), write('/workspace/notes/a.txt', 'abs')] }));
    expect(receipt.status).toBe('Succeeded');
    expect(readFileSync(join(f.workspace, 'src/fix.patch'), 'utf8')).toBe('diff --git a b\n');
    expect(readFileSync(join(f.workspace, 'notes/a.txt'), 'utf8')).toBe('abs');
    expect(receipt.artifacts).toEqual([
      { path: 'src/fix.patch', sha256: sha('diff --git a b\n') },
      { path: 'notes/a.txt', sha256: sha('abs') },
    ]);
  });

  it('file_write in draft mode writes nothing', async () => {
    const { f, receipt } = await run(envelope({ steps: [write('a.txt', 'x')], reversibility: { executionMode: 'draft' } }));
    expect(receipt.status).toBe('Succeeded');
    expect(existsSync(join(f.workspace, 'a.txt'))).toBe(false);
    expect(receipt.artifacts.map((a) => a.path)).toEqual(['.m87/steps/01-file_write.out']);
  });

  it('run_tests runs the configured suite (argv, no shell) and saves its output as an artifact', async () => {
    const { f, receipt, outcome } = await run(envelope({ steps: [{ tool: 'run_tests', args: { suite: 'unit' } }] }));
    expect(receipt.status).toBe('Succeeded');
    expect(receipt.steps[0]!.exitCode).toBe(0);
    const out = readFileSync(join(f.workspace, '.m87/steps/01-run_tests.out'));
    expect(out.toString()).toBe(process.version + '\n');
    expect(receipt.steps[0]!.outputHash).toBe(sha(out));
    expect(outcome.steps[0]).toMatchObject({ outputBytes: out.length, outputTruncated: false });
  });

  it('a failing suite → Failed / STEP_FAILED with its exit code, and later steps do not run', async () => {
    const { receipt, outcome } = await run(envelope({ steps: [{ tool: 'run_tests', args: { suite: 'failing' } }, echo('after')] }));
    expect(receipt).toMatchObject({ status: 'Failed', reasonCode: 'STEP_FAILED' });
    expect(receipt.steps).toEqual([{ tool: 'run_tests', exitCode: 1, outputHash: sha('') }]);
    expect(outcome.exitCode).not.toBe(0);
  });

  it('a tool not in the manifest never runs, and neither does any step before it', async () => {
    const { f, receipt } = await run(envelope({ steps: [echo('first'), { tool: 'shell', args: { cmd: 'rm -rf /' } }] }));
    expect(TOOL_MANIFEST.tools.some((t) => t.name === 'shell')).toBe(false);
    expect(receipt).toMatchObject({ status: 'Refused', reasonCode: 'TOOL_NOT_IN_MANIFEST', steps: [], artifacts: [] });
    expect(receipt.usage.steps).toBe(0);
    expect(readdirSync(f.workspace)).toEqual([]);
  });

  it('arguments are re-validated against the manifest schema', async () => {
    const cases: [EffectiveEnvelope['steps'][number], string][] = [
      [{ tool: 'echo', args: {} }, 'steps[0].args.message'],
      [{ tool: 'echo', args: { message: 'x', extra: 'y' } }, 'steps[0].args.extra'],
      [{ tool: 'run_tests', args: { suite: 'rm -rf /' } }, 'steps[0].args.suite'],
      [{ tool: 'echo', args: { message: 'x'.repeat(5000) } }, 'steps[0].args.message'],
      [{ tool: 'http_get', args: { url: 'file:///etc/passwd' } }, 'steps[0].args.url'],
    ];
    for (const [step, field] of cases) {
      const { outcome } = await run(envelope({ steps: [step] }));
      expect(outcome.receipt).toMatchObject({ status: 'Refused', reasonCode: 'TOOL_ARGS_INVALID', steps: [] });
      expect(outcome.message).toContain(field);
    }
  });
});

describe('runner steps: gates', () => {
  async function refused(env: EffectiveEnvelope, code: ReasonCode) {
    const r = await run(env);
    expect(r.receipt).toMatchObject({ status: 'Refused', reasonCode: code, steps: [], artifacts: [] });
    expect(readdirSync(r.f.workspace)).toEqual([]);
    expect(r.outcome.exitCode).not.toBe(0);
    return r;
  }

  it('write scope: file_write (sandbox) under maxWriteScope none → WRITE_SCOPE_EXCEEDED; echo (none) runs', async () => {
    await refused(envelope({ steps: [echo('x'), write('a.txt', 'x')], autonomyBudget: { maxWriteScope: 'none' } }), 'WRITE_SCOPE_EXCEEDED');
    const ok = await run(envelope({ steps: [echo('x')], autonomyBudget: { maxWriteScope: 'none' } }));
    expect(ok.receipt.status).toBe('Succeeded');
  });

  it('open-weight models are held to sandbox even if the envelope says prod', async () => {
    const ok = await run(envelope({ modelSource: 'open', steps: [write('a.txt', 'x')], autonomyBudget: { maxWriteScope: 'prod' } }));
    expect(ok.receipt.status).toBe('Succeeded'); // file_write needs only sandbox
  });

  it('execution mode: file_write does not support preview → EXECUTION_MODE_UNSUPPORTED', async () => {
    await refused(envelope({ steps: [write('a.txt', 'x')], reversibility: { executionMode: 'preview', class: 'PARTIALLY_REVERSIBLE' } }), 'EXECUTION_MODE_UNSUPPORTED');
  });

  it("a tool whose effects the envelope does not allow → TOOL_EFFECT_NOT_ALLOWED", async () => {
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

describe('runner steps: budget (checked before every step)', () => {
  it('maxSteps: the step beyond the budget does not run', async () => {
    const { f, receipt } = await run(envelope({ steps: [write('one.txt', '1'), write('two.txt', '2')], autonomyBudget: { maxSteps: 1 } }));
    expect(receipt).toMatchObject({ status: 'Refused', reasonCode: 'BUDGET_STEPS_EXCEEDED' });
    expect(receipt.steps).toHaveLength(1);
    expect(receipt.usage).toMatchObject({ steps: 1, toolCalls: 1 });
    expect(existsSync(join(f.workspace, 'one.txt'))).toBe(true);
    expect(existsSync(join(f.workspace, 'two.txt'))).toBe(false);
  });

  it('maxToolCalls: the call beyond the budget does not run', async () => {
    const { f, receipt } = await run(envelope({ steps: [write('one.txt', '1'), write('two.txt', '2'), write('three.txt', '3')], autonomyBudget: { maxToolCalls: 2 } }));
    expect(receipt).toMatchObject({ status: 'Refused', reasonCode: 'BUDGET_TOOL_CALLS_EXCEEDED' });
    expect(receipt.steps).toHaveLength(2);
    expect(existsSync(join(f.workspace, 'three.txt'))).toBe(false);
  });

  it('maxRuntimeSeconds: once the runtime is used up no further step starts', async () => {
    const env = envelope({ steps: [write('one.txt', '1'), write('two.txt', '2')], autonomyBudget: { maxRuntimeSeconds: 5 } });
    const f = await fixture(env);
    open.push(f);
    const real = f.renv.now;
    // The clock jumps past the budget as soon as the first step has written its file.
    f.renv.now = () => real() + (existsSync(join(f.workspace, 'one.txt')) ? 10_000 : 0);
    const outcome = await f.run();
    expect(outcome.receipt).toMatchObject({ status: 'Refused', reasonCode: 'BUDGET_RUNTIME_EXCEEDED' });
    expect(outcome.receipt.steps).toHaveLength(1);
    expect(existsSync(join(f.workspace, 'two.txt'))).toBe(false);
  });

  it('maxRuntimeSeconds already used up before the first step → nothing runs', async () => {
    const f = await fixture(envelope({ steps: [write('one.txt', '1')], autonomyBudget: { maxRuntimeSeconds: 1 } }));
    open.push(f);
    const real = f.renv.now;
    let calls = 0;
    // The runner's start time is read first; every later reading is two seconds on.
    f.renv.now = () => real() + (calls++ === 0 ? 0 : 2000);
    const outcome = await f.run();
    expect(outcome.receipt).toMatchObject({ status: 'Refused', reasonCode: 'BUDGET_RUNTIME_EXCEEDED', steps: [] });
    expect(existsSync(join(f.workspace, 'one.txt'))).toBe(false);
  });
});

describe('runner steps: workspace paths', () => {
  async function pathRefused(path: string, code: ReasonCode, prepare?: (f: Fixture) => void) {
    const { f, receipt } = await run(envelope({ steps: [write(path, 'x')] }), prepare);
    expect(receipt).toMatchObject({ status: 'Refused', reasonCode: code, steps: [] });
    return f;
  }

  it('`..` escapes and absolute paths outside the workspace are refused', async () => {
    await pathRefused('../escape.txt', 'PATH_ESCAPE');
    await pathRefused('a/../../escape.txt', 'PATH_ESCAPE');
    await pathRefused('/etc/passwd', 'PATH_ESCAPE');
    await pathRefused('/workspace/../etc/passwd', 'PATH_ESCAPE');
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
