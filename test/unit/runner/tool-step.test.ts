// The step runner's own decisions, without a Pod: the tool binding (hash and image), the envelope gates,
// argv localisation, and a whole step run with its record (refusals recorded, later steps skipped).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/hash/canonical.ts';
import { RunnerStop } from '../../../src/runner/codes.ts';
import { StepState } from '../../../src/runner/step-state.ts';
import { boundTool, checkStepGates, localiseArgv, runToolStep } from '../../../src/runner/tool-step.ts';
import { finishJob } from '../../../src/runner/finish.ts';
import { summariseApiServerChecks } from '../../../src/runner/receipt.ts';
import { DEFAULT_CATALOGUE } from '../../../src/tool-catalogue/default-catalogue.ts';
import { toolHash } from '../../../src/tool-catalogue/tool-hash.ts';
import { envelope, fixture, type Fixture } from './fixture.ts';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    if (e instanceof RunnerStop) return e.code;
    throw e;
  }
  return undefined;
};

const runTests = DEFAULT_CATALOGUE.get('run-tests')!;
const bound = (tool: string, args: Record<string, string> = {}) => {
  const spec = DEFAULT_CATALOGUE.get(tool)!;
  return { tool, args, toolHash: toolHash(spec), image: spec.image };
};

describe('the tool binding', () => {
  const env = envelope({ steps: [bound('run-tests', { path: 'tests' })], effects: ['RUN_TESTS'] });

  it('accepts the decided definition in the decided image', () => {
    expect(boundTool(env, 0, canonicalJson(runTests), runTests.image).argv).toEqual(runTests.argv);
  });

  it('refuses a definition edited after the decision, a different image, and an unbound step', () => {
    const edited = { ...runTests, timeoutSeconds: 3600 };
    expect(codeOf(() => boundTool(env, 0, canonicalJson(edited), runTests.image))).toBe('TOOL_CHANGED');
    expect(codeOf(() => boundTool(env, 0, '{not json', runTests.image))).toBe('TOOL_CHANGED');
    expect(codeOf(() => boundTool(env, 0, undefined, runTests.image))).toBe('TOOL_CHANGED');
    expect(codeOf(() => boundTool(env, 0, canonicalJson(runTests), `ghcr.io/m87/other@sha256:${'1'.repeat(64)}`))).toBe('TOOL_IMAGE_MISMATCH');
    const unbound = envelope({ steps: [{ tool: 'run-tests', args: {} }], effects: ['RUN_TESTS'] });
    expect(codeOf(() => boundTool(unbound, 0, canonicalJson(runTests), runTests.image))).toBe('TOOL_UNBOUND');
  });
});

describe('the envelope gates of a step', () => {
  it('effects, write scope, mode, arguments and URL egress', () => {
    const git = DEFAULT_CATALOGUE.get('git-checkout')!;
    const args = { repository: 'http://10.0.0.1:8080/r.git', commit: 'a'.repeat(40) };
    const ok = envelope({ steps: [bound('git-checkout', args)], effects: ['READ_REPO'], egress: [{ host: '10.0.0.1', port: 8080 }] });
    expect(checkStepGates(ok, 0, git).get('commit')).toBe('a'.repeat(40));
    expect(codeOf(() => checkStepGates({ ...ok, effects: ['COMPUTE'] }, 0, git))).toBe('TOOL_EFFECT_NOT_ALLOWED');
    expect(codeOf(() => checkStepGates({ ...ok, egress: [] }, 0, git))).toBe('EGRESS_HOST_NOT_ALLOWED');
    const bad = envelope({ steps: [bound('git-checkout', { ...args, commit: '--upload-pack=touch /tmp/x' })], effects: ['READ_REPO'], egress: ok.egress });
    expect(codeOf(() => checkStepGates(bad, 0, git))).toBe('TOOL_ARGS_INVALID');
    const patch = DEFAULT_CATALOGUE.get('apply-patch')!;
    const none = envelope({ steps: [bound('apply-patch', { patch: '--- a/x\n+++ b/x\n' })], effects: ['WRITE_PATCH'], autonomyBudget: { maxWriteScope: 'none' } });
    expect(codeOf(() => checkStepGates(none, 0, patch))).toBe('WRITE_SCOPE_EXCEEDED');
    expect(codeOf(() => checkStepGates({ ...none, autonomyBudget: { ...none.autonomyBudget, maxWriteScope: 'sandbox' }, reversibility: { ...none.reversibility, executionMode: 'preview' } }, 0, patch))).toBe('EXECUTION_MODE_UNSUPPORTED');
  });
});

describe('argv localisation', () => {
  it('moves only literal /workspace paths to the real workspace, never an argument value', () => {
    const argv = ['python3', '-m', 'pytest', '-p', 'no:cacheprovider', '--rootdir=/workspace', '--junitxml=/workspace/.m87/test-report.xml', '--maxfail', '100', '--', '/workspace/tests'];
    const out = localiseArgv(argv, runTests, '/var/pods/x/workspace');
    expect(out[5]).toBe('--rootdir=/var/pods/x/workspace');
    expect(out[6]).toBe('--junitxml=/var/pods/x/workspace/.m87/test-report.xml');
    expect(out[10]).toBe('/workspace/tests'); // the step's own argument stays as given
    expect(localiseArgv(argv, runTests, '/workspace')).toEqual(argv);
    expect(localiseArgv(['x', '--rootdir=/workspaces'], { ...runTests, argv: [{ literal: 'x' }, { literal: '--rootdir=/workspaces' }] }, '/w')[1]).toBe('--rootdir=/workspaces');
  });
});

describe('a step run and the receipt', () => {
  let f: Fixture | undefined;
  afterEach(() => f?.cleanup());

  async function stepFixture(steps: ReturnType<typeof bound>[]) {
    const env = envelope({ steps, effects: ['RUN_TESTS', 'WRITE_PATCH'] });
    f = await fixture(env);
    const state = join(f.dir, 'state');
    mkdirSync(state);
    new StepState(state).writeRun({ startedAtMs: Date.now() });
    const renvFor = (i: number, spec: unknown = DEFAULT_CATALOGUE.get(steps[i]!.tool)) => ({
      ...f!.renv,
      env: { ...f!.renv.env, M87_STATE_DIR: state, M87_TOOL_SPEC: canonicalJson(spec), M87_TOOL_IMAGE: steps[i]!.image },
    });
    return { state: new StepState(state), renvFor };
  }

  it('records a refusal (tool changed), skips the later step, and the receipt is Refused with no outputs', async () => {
    const { state, renvFor } = await stepFixture([bound('run-tests', { path: 'tests' }), bound('run-tests', { path: 'tests' })]);
    expect(await runToolStep(0, renvFor(0, { ...runTests, timeoutSeconds: 1 }))).toBe(0);
    expect(state.readStep(0)).toMatchObject({ status: 'Refused', reasonCode: 'TOOL_CHANGED', ran: false });
    expect(await runToolStep(1, renvFor(1))).toBe(0);
    expect(state.readStep(1)).toMatchObject({ status: 'Skipped', ran: false });
    const { exitCode } = await finishJob({ ...f!.renv, env: { ...f!.renv.env, M87_STATE_DIR: state.dir } });
    const receipt: unknown = JSON.parse(readFileSync(f!.terminationLog, 'utf8'));
    expect(exitCode).toBe(2);
    expect(receipt).toMatchObject({ status: 'Refused', reasonCode: 'TOOL_CHANGED', artifacts: [], deh: { verified: true } });
    // Each of the three containers (two steps, the final one) checked the API server before acting.
    expect(receipt).toMatchObject({ isolation: { apiServer: { result: 'blocked', cause: 'ECONNREFUSED', checks: 3, attempts: 1 } } });
  });

  it('the receipt summarises the API-server checks of the containers: the weakest result, the longest wait', () => {
    const blocked = { result: 'blocked' as const, cause: 'ECONNREFUSED', attempts: 4, waitedMs: 612 };
    const noRoute = { result: 'no-route' as const, cause: 'EHOSTUNREACH', attempts: 1, waitedMs: 0 };
    expect(summariseApiServerChecks([])).toBeUndefined();
    expect(summariseApiServerChecks([blocked, noRoute, { ...blocked, attempts: 1, waitedMs: 1 }])).toEqual({
      apiServer: { result: 'no-route', cause: 'EHOSTUNREACH', checks: 3, attempts: 4, waitedMs: 612 },
    });
    expect(summariseApiServerChecks([{ ...blocked, cause: 'time out!' }])?.apiServer.cause).toBe('time_out_');
  });

  it('the final container refuses a job with a step that left no record', async () => {
    const { state } = await stepFixture([bound('run-tests', { path: 'tests' })]);
    await finishJob({ ...f!.renv, env: { ...f!.renv.env, M87_STATE_DIR: state.dir } });
    expect(JSON.parse(readFileSync(f!.terminationLog, 'utf8'))).toMatchObject({ status: 'Refused', reasonCode: 'STEP_RESULT_MISSING' });
  });

  it('the final container fails the job when an output changed after its step recorded it', async () => {
    const { state } = await stepFixture([bound('run-tests', { path: 'tests' })]);
    state.writeOutput(0, 'test-report', Buffer.from('<testsuite failures="0"/>'));
    state.writeStep({ index: 0, tool: 'run-tests', status: 'Succeeded', reasonCode: '', message: '', exitCode: 0, outputHash: 'b'.repeat(64), externalIO: 0, ran: true, durationMs: 1, outputs: [{ name: 'test-report', size: 25, sha256: 'c'.repeat(64) }] });
    await finishJob({ ...f!.renv, env: { ...f!.renv.env, M87_STATE_DIR: state.dir } });
    expect(JSON.parse(readFileSync(f!.terminationLog, 'utf8'))).toMatchObject({ status: 'Failed', reasonCode: 'OUTPUT_DIGEST_MISMATCH', artifacts: [] });
  });

  it('runs a tool (argv, never a shell; scrubbed env), records its declared output, and refuses one over its cap', async () => {
    const writer = (bytes: number) => ({
      description: 'writes a report',
      effects: ['RUN_TESTS' as const],
      minWriteScope: 'sandbox' as const,
      executionModes: ['commit' as const],
      args: { name: { type: 'string' as const, required: true, maxLength: 64 } },
      image: `m87.local/tool-test@sha256:${'2'.repeat(64)}`,
      argv: [
        { literal: 'node' },
        { literal: '-e' },
        { literal: `require('fs').writeFileSync('.m87/report.txt', 'x'.repeat(${bytes}) + process.argv[1] + String(process.env.SECRET_TOKEN))` },
        { arg: 'name' },
      ],
      timeoutSeconds: 30,
      network: false,
      workspace: { access: 'writable' as const, outputs: [{ name: 'report', kind: 'file' as const, path: '.m87/report.txt', maxBytes: 1000 }] },
    });
    const { parseTool } = await import('../../../src/tool-catalogue/catalogue.ts');
    const small = parseTool('writer', writer(10));
    const big = parseTool('writer', writer(2000));
    const step = (spec: typeof small) => ({ tool: 'writer', args: { name: '; rm -rf / $(id)' }, toolHash: toolHash(spec), image: spec.image });
    const { state, renvFor } = await stepFixture([step(small), step(big)]);
    expect(await runToolStep(0, renvFor(0, small))).toBe(0);
    const ok = state.readStep(0)!;
    expect(ok).toMatchObject({ status: 'Succeeded', exitCode: 0, ran: true });
    const report = state.readOutput(0, 'report').toString('utf8');
    // The argument arrived as one argv item, untouched; the runner's own environment did not leak.
    expect(report).toBe(`${'x'.repeat(10)}; rm -rf / $(id)undefined`);
    expect(ok.outputs).toEqual([{ name: 'report', size: report.length, sha256: createHash('sha256').update(report).digest('hex') }]);
    expect(await runToolStep(1, renvFor(1, big))).toBe(0);
    expect(state.readStep(1)).toMatchObject({ status: 'Failed', reasonCode: 'OUTPUT_TOO_LARGE', outputs: [] });
  });

  it('http-get runs curl with the egress gate as its proxy; the request is counted in the record', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.end('hello from the allowlisted host\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (server.address() as AddressInfo).port;
      const step = bound('http-get', { url: `http://127.0.0.1:${port}/status` });
      const env = envelope({ steps: [step, bound('http-get', { url: `http://127.0.0.2:${port}/other` })], effects: ['NETWORK_CALL'], egress: [{ host: '127.0.0.1', port }] });
      f = await fixture(env);
      const state = new StepState(join(f.dir, 'state'));
      mkdirSync(state.dir);
      state.writeRun({ startedAtMs: Date.now() });
      const renvFor = () => ({ ...f!.renv, env: { ...f!.renv.env, M87_STATE_DIR: state.dir, M87_TOOL_SPEC: canonicalJson(DEFAULT_CATALOGUE.get('http-get')), M87_TOOL_IMAGE: step.image } });
      expect(await runToolStep(0, renvFor())).toBe(0);
      expect(state.readStep(0)).toMatchObject({ status: 'Succeeded', exitCode: 0, externalIO: 1 });
      expect(seen).toEqual(['GET /status']); // externalIO 1: the gate let it through (curl had no other way out that counts)
      // Not in the envelope's egress: refused before anything runs.
      expect(await runToolStep(1, renvFor())).toBe(0);
      expect(state.readStep(1)).toMatchObject({ status: 'Refused', reasonCode: 'EGRESS_HOST_NOT_ALLOWED', ran: false });
      expect(seen).toHaveLength(1);
    } finally {
      server.close();
    }
  });
});
