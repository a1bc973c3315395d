// Two replicas, one Lease: only the leader reconciles and writes; the standby keeps warm caches and takes
// over within the lease duration when the leader stops; nothing is decided twice.
import { describe, expect, it } from 'vitest';
import type { RunningController } from '../../../src/controller/start.ts';
import { waitFor } from '../../support/kube.ts';
import { caseySpec, DECISIONS, JOBS, list, propose, PROPOSALS, setupEnv, startTestController, waitForPhase } from './harness.ts';

const env = await setupEnv('m87-le');
const replicas = await Promise.all(
  ['replica-a', 'replica-b'].map((identity) => startTestController(env, { leaderElection: { leaseName: `m87-${env.suffix}`, identity, leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 250 } })),
);

async function metricsOf(r: RunningController): Promise<string> {
  const { host, port } = r.httpAddress!;
  return (await fetch(`http://${host}:${port}/metrics`)).text();
}

/** Total reconciles of all controllers of a replica. */
async function reconciles(r: RunningController): Promise<number> {
  let total = 0;
  for (const m of (await metricsOf(r)).matchAll(/^m87_reconcile_total\{[^}]*\} (\d+)/gm)) total += Number(m[1]);
  return total;
}

/** Proposals a replica decided (its m87_proposals_total): decisions make no Events any more. */
async function decided(r: RunningController): Promise<number> {
  let total = 0;
  for (const m of (await metricsOf(r)).matchAll(/^m87_proposals_total\{[^}]*\} (\d+)/gm)) total += Number(m[1]);
  return total;
}

describe('two replicas', () => {
  let leader: RunningController;
  let standby: RunningController;

  it('elect exactly one leader; the standby is ready with warm caches', async () => {
    leader = await waitFor(() => replicas.find((r) => r.isLeader()), { what: 'a leader' });
    standby = replicas.find((r) => r !== leader)!;
    expect(standby.isLeader()).toBe(false);
    await waitFor(() => standby.readiness().ready, { what: 'the standby to be ready' });
    expect(await metricsOf(standby)).toContain('m87_leader 0');
    expect(await metricsOf(leader)).toContain('m87_leader 1');
  });

  it('only the leader reconciles and writes', async () => {
    const names = ['le-1', 'le-2', 'le-3'];
    for (const n of names) await propose(env, 'casey', n, caseySpec(env, { summary: `write ${n}` }));
    for (const n of names) await waitForPhase(env, n, ['Approved', 'Running']);
    await waitFor(async () => (await list(JOBS, env.jobNamespace)).length === names.length, { what: 'three jobs' });
    expect(await reconciles(standby)).toBe(0);
    expect(await reconciles(leader)).toBeGreaterThan(0);
    // Which replica decided: its own counter (decisions are not Events any more).
    expect(await decided(leader)).toBe(names.length);
    expect(await decided(standby)).toBe(0);
  });

  it('the standby takes over when the leader stops, without deciding anything twice', async () => {
    await leader.stop();
    await waitFor(() => standby.isLeader(), { what: 'the standby to take over', timeoutMs: 15_000 });
    const names = ['le-4', 'le-5'];
    for (const n of names) await propose(env, 'casey', n, caseySpec(env, { summary: `write ${n}` }));
    for (const n of names) await waitForPhase(env, n, ['Approved', 'Running']);
    expect(await reconciles(standby)).toBeGreaterThan(0);
    // The new leader decided exactly the new proposals: nothing the old leader decided was decided again.
    expect(await decided(standby)).toBe(names.length);
    const proposals = (await list(PROPOSALS, env.jobNamespace)).map((p) => p.metadata.name).sort();
    expect((await list(DECISIONS, env.jobNamespace)).map((d) => d.metadata.name).sort()).toEqual(proposals);
    await waitFor(async () => (await list(JOBS, env.jobNamespace)).length === proposals.length, { what: 'one job per proposal' });
  });
});
