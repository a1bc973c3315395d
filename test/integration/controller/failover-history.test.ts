// A toxic pair split across a failover. The old leader decides the first half (READ_REPO) while the standby's
// Decision cache is behind: its LIST of Decisions started before that Decision existed and its answer is
// held back by a proxy, so the old leader's Decision reaches the API server after the new leader started.
// Once the standby leads, it must decide the second half (SEND_NOTIFICATION) with a cache that contains
// every Decision written before it became leader — a LIST that *started* after leadership — and so find
// repo_read_then_notify (REQUIRE_HUMAN), never ALLOW on a history that misses the first half.
import { afterAll, describe, expect, it } from 'vitest';
import type { ProposalSpecInput } from '../../../src/api/proposal.ts';
import { waitFor } from '../../support/kube.ts';
import { startFaultProxy, type ProxiedRequest } from '../runtime/fault-proxy.ts';
import { admin, DECISIONS, get, propose, setupEnv, startTestController, waitForPhase } from './harness.ts';

const env = await setupEnv('m87-failover');
const lease = { leaseName: `m87-${env.suffix}`, leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 250 };
const oldLeader = await startTestController(env, { kubeConfig: admin, leaderElection: { ...lease, identity: 'old-leader' } });
await waitFor(() => oldLeader.isLeader(), { what: 'the first replica to lead' });
const proxy = await startFaultProxy(admin);
afterAll(() => proxy.close());
const newLeader = await startTestController(env, { kubeConfig: proxy.kubeConfig, leaderElection: { ...lease, identity: 'new-leader' } });

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const decisionList = (r: ProxiedRequest): boolean => r.method === 'GET' && r.path.endsWith('/decisions') && !r.params.has('watch');

function jordan(overrides: Partial<ProposalSpecInput>): ProposalSpecInput {
  return {
    agent: env.agents.jordan,
    submittedBy: env.users.jordan,
    summary: 'Look at the repository',
    intent: { id: 'inspect', goal: 'Inspect the repository', mode: 'report' },
    effects: ['READ_REPO', 'COMPUTE'],
    steps: [{ tool: 'echo', args: { message: 'read' } }],
    artifacts: [],
    truthAccount: { observations: ['the repository exists'], claims: [] },
    riskScore: 0.2,
    reversibility: { class: 'REVERSIBLE', rollbackProof: { description: 'nothing to undo' }, executionMode: 'commit', cleanupCost: 'LOW' },
    ...overrides,
  };
}

const outcome = async (name: string): Promise<string | undefined> =>
  ((await get(DECISIONS, env.jobNamespace, name))?.spec as { outcome?: string } | undefined)?.outcome;

describe('failover with a Decision the new leader has not seen yet', () => {
  it('the standby is ready; its Decision LIST is in flight and held', async () => {
    await waitFor(() => newLeader.readiness().ready, { what: 'the standby to be ready' });
    expect(newLeader.isLeader()).toBe(false);
    proxy.holdResponses(decisionList);
    proxy.expireWatches('/decisions');
    await waitFor(() => proxy.held() >= 1, { what: "the standby's Decision LIST to be held" });
  });

  it('the old leader decides the first half after that LIST started', async () => {
    await propose(env, 'jordan', 'half-1', jordan({}));
    await waitForPhase(env, 'half-1', ['Approved', 'Running']);
    expect(await outcome('half-1')).toBe('ALLOW');
  });

  it('the new leader decides the second half with the first in its history', async () => {
    await oldLeader.stop();
    await waitFor(() => newLeader.isLeader(), { what: 'the standby to take over', timeoutMs: 15_000 });
    await propose(
      env,
      'jordan',
      'half-2',
      jordan({
        summary: 'Tell the team',
        intent: { id: 'notify', goal: 'Notify the team', mode: 'report' },
        effects: ['SEND_NOTIFICATION'],
        steps: [{ tool: 'notify', args: { url: 'https://hooks.example.com/build', message: 'green' } }],
      }),
    );
    // Let the new leader reach its barrier, then deliver the stale LIST (it started before leadership);
    // LISTs started since stay held a while longer.
    await sleep(1500);
    expect(proxy.releaseHeld(1)).toBe(1);
    await sleep(4000);
    proxy.releaseHeld();
    await waitFor(() => outcome('half-2'), { what: 'the decision of the second half', timeoutMs: 30_000 });
    expect(await outcome('half-2')).toBe('REQUIRE_HUMAN');
    const decision = await get(DECISIONS, env.jobNamespace, 'half-2');
    expect(JSON.stringify((decision?.spec as { reasons?: unknown }).reasons)).toContain('repo_read_then_notify');
  });
});
