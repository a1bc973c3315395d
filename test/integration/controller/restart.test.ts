// `m87 controller` as a child process, killed (SIGKILL) in the middle of deciding a batch and started
// again: every proposal ends with exactly one Decision and at most one Job, and nothing decided before the
// crash is decided again. A SIGTERM then shuts it down in order (exit 0).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../dev/cluster/binaries.ts';
import { PODS } from '../../../src/controller/resources.ts';
import type { KubeObject } from '../../../src/runtime/resource.ts';
import { clusterInfo, waitFor } from '../../support/kube.ts';
import { caseySpec, DECISIONS, JOBS, list, phaseOf, propose, PROPOSALS, RUNNER_IMAGE, setupEnv } from './harness.ts';

const env = await setupEnv('m87-restart');
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

interface Child {
  proc: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

function startChild(identity: string): Child {
  const proc = spawn(
    process.execPath,
    [
      join(REPO_ROOT, 'src/cli/main.ts'),
      'controller',
      '--kubeconfig',
      clusterInfo().kubeconfigPath,
      '--context',
      'admin',
      '--namespace',
      env.controllerNamespace,
      '--policy',
      env.policyName,
      '--runner-image',
      RUNNER_IMAGE,
      '--metrics-addr',
      '127.0.0.1:0',
      '--lease-name',
      `m87-${env.suffix}`,
      '--identity',
      identity,
      '--lease-duration',
      '3s',
      '--renew-deadline',
      '2s',
      '--retry-period',
      '250ms',
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(proc);
  let output = '';
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, exited, output: () => output };
}

const NAMES = Array.from({ length: 16 }, (_, i) => `batch-${String(i).padStart(2, '0')}`);
const isDenied = (i: number): boolean => i % 4 === 3;

function decided(p: KubeObject): boolean {
  return !['Pending', 'Throttled', undefined].includes(phaseOf(p));
}

describe('controller restart', () => {
  const before = new Map<string, string>();

  it('is killed mid-flight', async () => {
    const first = startChild('first');
    for (const [i, name] of NAMES.entries()) {
      await propose(env, 'casey', name, caseySpec(env, isDenied(i) ? { effects: ['READ_SECRETS', 'WRITE_PATCH'] } : { summary: `write ${name}` }));
    }
    await waitFor(async () => (await list(DECISIONS, env.jobNamespace)).length >= 1, { what: 'the first decision', timeoutMs: 30_000 });
    first.proc.kill('SIGKILL');
    await first.exited;
    for (const d of await list(DECISIONS, env.jobNamespace)) before.set(d.metadata.name ?? '', d.metadata.uid ?? '');
    expect(before.size).toBeGreaterThan(0);
    process.stderr.write(`restart test: ${before.size} of ${NAMES.length} decided before the kill\n`);
  });

  it('the next process finishes the batch without a second Decision or Job', async () => {
    const second = startChild('second');
    await waitFor(async () => (await list(PROPOSALS, env.jobNamespace)).every(decided), { what: 'every proposal decided', timeoutMs: 45_000 });
    const allowed = NAMES.filter((_, i) => !isDenied(i));
    await waitFor(async () => (await list(PODS, env.jobNamespace)).length === allowed.length, { what: 'one Pod per allowed proposal', timeoutMs: 30_000 });

    const decisions = await list(DECISIONS, env.jobNamespace);
    expect(decisions.map((d) => d.metadata.name).sort()).toEqual([...NAMES].sort());
    for (const d of decisions) {
      const uid = before.get(d.metadata.name ?? '');
      if (uid !== undefined) expect(d.metadata.uid).toBe(uid);
    }
    const jobs = await list(JOBS, env.jobNamespace);
    expect(jobs.map((j) => j.metadata.name).sort()).toEqual(allowed.sort());
    const decisionUid = new Map(decisions.map((d) => [d.metadata.name, d.metadata.uid]));
    for (const j of jobs) expect((j.spec as { decisionRef: { uid: string } }).decisionRef.uid).toBe(decisionUid.get(j.metadata.name));
    for (const [i, name] of NAMES.entries()) {
      const p = (await list(PROPOSALS, env.jobNamespace)).find((x) => x.metadata.name === name);
      expect(phaseOf(p)).toBe(isDenied(i) ? 'Denied' : 'Approved');
    }

    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.output()).toContain('serving metrics on http://127.0.0.1:');
  });
});
