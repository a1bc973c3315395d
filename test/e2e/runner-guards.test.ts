// The runner's own guards on a real job Pod: a workspace path that escapes through a symlink (planted in the
// Pod's workspace by the compromised node of dev/demo/node-fault-injector.ts) or through `..` is refused
// before the step writes anything; a tool that is not in the catalogue is denied by the policy and never gets
// a Job or a Pod (a forged envelope that smuggles one in is covered by tampering.test.ts).
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { condition, getJob, getPod } from '../../dev/demo/observe.ts';
import { unknownToolSpec } from '../../dev/demo/proposals.ts';
import { writeFileSpec } from './specs.ts';
import { runProposal } from '../../dev/demo/scenarios.ts';
import { e2eStack } from './stack.ts';

const { stack, ctx } = await e2eStack('runner-guards');
const ns = stack.jobNamespace;

describe('runner guards', () => {
  // A directory outside the workspace the Pod's user could write to, so an escape would leave a file here.
  const outside = mkdtempSync(join(tmpdir(), 'm87-e2e-outside-'));
  chmodSync(outside, 0o777);
  afterAll(() => rmSync(outside, { recursive: true, force: true }));

  it('a symlink in the workspace that leads outside it is refused (PATH_SYMLINK_ESCAPE) and nothing is written', async () => {
    const run = await runProposal(ctx, {
      as: stack.agents.casey,
      submitter: 'casey',
      name: `symlink-escape-${ctx.suffix}`,
      spec: writeFileSpec('reports/summary.md', 'this must not leave the workspace\n'),
      fault: { symlink: { link: 'reports', target: outside } },
    });
    expect(run.decision.spec.outcome).toBe('ALLOW');
    const job = run.job!;
    expect(job.status?.phase).toBe('Failed');
    // The envelope itself verified; the path gate refused.
    expect(job.status?.receipt).toMatchObject({ status: 'Refused', reasonCode: 'PATH_SYMLINK_ESCAPE', steps: [{ tool: 'write-file', exitCode: -1 }], usage: { steps: 0 }, deh: { verified: true } });
    expect(job.status?.reason).toBe('PATH_SYMLINK_ESCAPE');
    expect(condition(job, 'Succeeded')).toMatchObject({ status: 'False' });
    expect(run.runner?.verifyMs).toBeGreaterThan(0);
    expect(readdirSync(outside)).toEqual([]);
  });

  it('a `..` path that climbs out of the workspace is denied by policy: no Job, nothing runs', async () => {
    const run = await runProposal(ctx, {
      as: stack.agents.casey,
      submitter: 'casey',
      name: `dotdot-escape-${ctx.suffix}`,
      spec: writeFileSpec('../../../escape.md', 'this must not leave the workspace\n'),
    });
    // Decided up front (the runner would refuse it too: PATH_ESCAPE, covered by test/unit/runner).
    expect(run.decision.spec.outcome).toBe('DENY');
    expect(run.decision.spec.reasons.map((r) => r.code)).toContain('PATH_OUTSIDE_WORKSPACE');
    expect(await getJob(stack.admin, ns, run.name)).toBeUndefined();
  });

  it('a tool that is not in the catalogue is denied: no Job, no Pod, nothing runs', async () => {
    const run = await runProposal(ctx, { as: stack.agents.casey, submitter: 'casey', name: `unknown-tool-${ctx.suffix}`, spec: unknownToolSpec() });
    expect(run.decision.spec.outcome).toBe('DENY');
    expect(run.decision.spec.reasons.find((r) => r.code === 'TOOL_UNKNOWN')?.message).toContain('shell');
    expect(run.proposal.status?.phase).toBe('Denied');
    expect(await getJob(stack.admin, ns, run.name)).toBeUndefined();
    expect(await getPod(stack.admin, ns, `m87-job-${run.name}`)).toBeUndefined();
    expect(run.proposal.status?.message).toContain('TOOL_UNKNOWN');
  });
});
