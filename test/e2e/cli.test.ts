// The kubectl plugin (m87 / kubectl-m87) against the e2e stack: `pending` lists what waits for a human,
// `approve` refuses the wrong person and unknown proposals with the documented exit codes and records a
// hash-bound Approval for an approver, and `explain` replays the decision under today's policy.
import { describe, expect, it } from 'vitest';
import { getProposal, m87Cli, propose, waitForDecision, waitForProposalPhase } from '../../dev/demo/observe.ts';
import { deploySpec } from '../../dev/demo/proposals.ts';
import { proposalHash } from '../../src/integrity/document-hashes.ts';
import { e2eStack } from './stack.ts';

const { stack, ctx } = await e2eStack('cli');
const ns = stack.jobNamespace;
const name = `cli-deploy-${ctx.suffix}`;
const as = (context: string) => ['-n', ns, '--kubeconfig', stack.kubeconfigPath, '--context', context];

describe('m87 CLI (kubectl-m87) against the cluster', () => {
  it('pending lists a proposal awaiting approval, with its effects and reasons', async () => {
    await propose(stack.bob, ns, name, deploySpec('bob', `cli-${ctx.suffix}`, stack.repository!));
    const decision = await waitForDecision(stack.admin, ns, name);
    expect(decision.spec.outcome).toBe('REQUIRE_HUMAN');
    await waitForProposalPhase(stack.admin, ns, name, ['AwaitingApproval']);
    const r = await m87Cli(['pending', ...as('alice'), '-o', 'json']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as { name: string; effects: string[]; reasons: string[]; proposalHash: string }[];
    const row = rows.find((x) => x.name === name);
    expect(row?.effects).toEqual(expect.arrayContaining(['DEPLOY']));
    expect(row?.reasons).toContain('DEPLOY_REQUIRES_HUMAN');
    const table = await m87Cli(['pending', ...as('alice')]);
    expect(table.stdout).toMatch(new RegExp(`^NAME\\s+AGENT\\s+EFFECTS`, 'm'));
    expect(table.stdout).toContain(name);
  });

  it('approve: unknown proposal → exit 3; a viewer (no approve verb) → exit 4; nothing recorded', async () => {
    const missing = await m87Cli(['approve', 'no-such-proposal', ...as('alice'), '--yes']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('no Proposal named "no-such-proposal"');
    const viewer = await m87Cli(['approve', name, ...as('viewer'), '--yes']);
    expect(viewer.code).toBe(4);
    expect(viewer.stderr).toMatch(/you \(viewer\) are not an approver/);
    expect((await getProposal(stack.admin, ns, name))?.status?.phase).toBe('AwaitingApproval');
  });

  it('approve by alice records an Approval bound to name, UID and hash, and the job runs', async () => {
    const decision = await waitForDecision(stack.admin, ns, name);
    const args = ['approve', name, ...as('alice'), '--yes', '-o', 'json'];
    if (decision.spec.challenge !== undefined) args.push('--challenge-response', /topology (\w+)/.exec(decision.spec.challenge.prompt)?.[1] ?? '');
    const r = await m87Cli(args);
    expect(r.code, r.stderr).toBe(0);
    const approval = JSON.parse(r.stdout) as { spec: { proposalHash: string; proposalUID: string; approver: string } };
    const proposal = await getProposal(stack.admin, ns, name);
    expect(approval.spec).toMatchObject({ approver: 'alice', proposalUID: proposal?.metadata.uid, proposalHash: proposalHash(proposal?.spec) });
    expect(r.stderr).toContain('Envelope'); // the approver was shown the envelope hash being approved
    await waitForProposalPhase(stack.admin, ns, name, ['Succeeded'], 90_000);
    const again = await m87Cli(['approve', name, ...as('alice'), '--yes']);
    expect(again.code).toBe(5); // no longer awaiting approval
  });

  it('explain agrees with the recorded decision under today\'s policy', async () => {
    const r = await m87Cli(['explain', name, ...as('admin'), '-o', 'json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const out = JSON.parse(r.stdout) as { agrees: boolean; comparisons: { aspect: string; same: boolean }[] };
    expect(out.agrees).toBe(true);
    expect(out.comparisons.find((c) => c.aspect === 'outcome')?.same).toBe(true);
  });
});
