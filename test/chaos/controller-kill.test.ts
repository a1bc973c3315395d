// Scenario 1: the controller is killed with SIGKILL at random moments while agents create a burst of proposals
// (sometimes while it is still starting, sometimes mid-decision or mid-minting) and started again each time.
// Afterwards every Proposal has exactly one Decision (never replaced), at most one Job, every Job one Pod, and each
// Pod's NetworkPolicy was stored before the Pod.
import { afterAll, describe, expect, it } from 'vitest';
import { DECISIONS } from '../../src/controller/resources.ts';
import { ControllerProcess, type LeaseTimings, type LogLine } from './support/controller-process.ts';
import { setupChaosEnv } from './support/env.ts';
import { chaosCounts } from './support/mode.ts';
import { assertSettledInvariants, DecisionPoller, metadataList, waitForSettled } from './support/observe.ts';
import { ScenarioReport } from './support/report.ts';
import { scenarioRandom } from './support/seed.ts';
import { burstNames, createBurst } from './support/workload.ts';

const counts = chaosCounts().kill;
const report = new ScenarioReport('kill');
afterAll(() => report.save());
const env = await setupChaosEnv('chaos-kill');
const random = scenarioRandom('kill');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// One stable identity, as a StatefulSet replica has: the restarted process takes the lease back at once
// (scenario 4 covers a new identity waiting for the lease to expire).
const IDENTITY = 'm87-controller-0';
const LEASE: LeaseTimings = { durationMs: 8000, renewDeadlineMs: 6000, retryPeriodMs: 1000 };

/** A log line written inside a reconcile (decided, minted, Pod started, phase changed …). */
function isReconcileLine(line: LogLine): boolean {
  return typeof line.reconcileID === 'string' && line.namespace === env.namespace;
}

async function stage(proc: ControllerProcess): Promise<'starting' | 'standby' | 'leading'> {
  if (proc.metricsUrl === undefined) return 'starting';
  const leader = await proc.metricSum('m87_leader').catch(() => 0);
  return leader === 1 ? 'leading' : 'standby';
}

describe('controller killed with SIGKILL during a burst', () => {
  it(`${counts.kills} kills during ${counts.proposals} proposals: nothing lost, nothing duplicated`, async () => {
    const poller = new DecisionPoller(env.namespace);
    const uids = new Map<string, string>();
    const names = burstNames('kill', counts.proposals);
    const chunk = Math.ceil(counts.proposals / counts.kills);
    report.count('proposals', counts.proposals);
    report.count('agents (ServiceAccounts)', env.agents.length);

    await report.step(`kill the controller ${counts.kills} times during the burst`, async () => {
      for (let k = 0; k < counts.kills; k++) {
        const slice = names.slice(k * chunk, (k + 1) * chunk);
        const creating = createBurst(env, slice, { firstIndex: k * chunk, onCreated: (c) => uids.set(c.name, c.uid) });
        creating.catch(() => undefined); // awaited below; must not surface as unhandled meanwhile
        const proc = new ControllerProcess({ env, label: `kill-${k}`, identity: IDENTITY, lease: LEASE });
        const decidedAtStart = poller.firstSeen.size;
        if (random() < 0.15) {
          // While it starts: loading code, reading its key, listing, campaigning.
          await sleep(random() * 1500);
          report.add(`kills while ${await stage(proc)}`);
          await proc.kill();
        } else {
          // Mid-work: right after a random reconcile log line (decided, minted, NetworkPolicy+Pod created, status).
          const target = 1 + Math.floor(random() * 3 * slice.length);
          const killed = proc.killAtLine(isReconcileLine, target);
          const idle = (async () => {
            for (;;) {
              await sleep(200);
              if (!proc.alive()) return;
              if (performance.now() - proc.lastLineAt > 2500 && (await stage(proc)) === 'leading') return;
            }
          })();
          const line = await Promise.race([killed, idle.then(() => 'idle' as const)]);
          if (line === 'idle') {
            report.add('kills while idle (work ran out first)');
            await proc.kill();
          } else if (line !== undefined) {
            report.add(`kills right after "${line.msg ?? '?'}"`);
          } else {
            throw new Error(`controller kill-${k} exited on its own: ${JSON.stringify(proc.exitStatus())}\n${proc.stderr().slice(-2000)}`);
          }
        }
        expect(proc.exitStatus()?.signal, `controller kill-${k} ended by our SIGKILL`).toBe('SIGKILL');
        // How far it got: from its spawn to leading, and to its first decision (pino times are epoch ms).
        const leading = proc.linesMatching((l) => l.msg === 'Became leader')[0]?.time;
        if (leading !== undefined) report.sample('restart → leading again', leading - proc.spawnedAtWall);
        const first = proc.linesMatching((l) => l.msg === 'Decided proposal' && l.namespace === env.namespace)[0]?.time;
        if (first !== undefined) report.sample('restart → first decision', first - proc.spawnedAtWall);
        await creating;
        await poller.poll().catch(() => undefined);
        report.add('decisions made between start and kill (all processes)', poller.firstSeen.size - decidedAtStart);
      }
    });
    report.count('kills', counts.kills);
    expect(uids.size).toBe(counts.proposals);

    const final = new ControllerProcess({ env, label: 'kill-final', identity: IDENTITY, lease: LEASE });
    const restartedAt = performance.now();
    const undecidedAtRestart = names.filter((n) => !poller.firstSeen.has(n));
    report.count('undecided when the last controller started', undecidedAtRestart.length);

    await report.step('the last controller finishes the burst', async () => {
      await final.ready();
      report.sample('last start → ready (caches synced)', performance.now() - restartedAt);
      const lastDecision = await poller.waitFor(names, 'every proposal decided');
      if (undecidedAtRestart.length > 0) report.sample('last start → every proposal decided', lastDecision - restartedAt);
      await waitForSettled(env, names);
      report.sample('last start → every Job has its Pod', performance.now() - restartedAt);
    });

    await report.step('one Decision per Proposal, ≤ 1 Job, one Pod per Job, NetworkPolicy before Pod', async () => {
      const settled = await assertSettledInvariants(env, uids);
      expect([...poller.replaced], 'Decisions deleted and made again').toEqual([]);
      for (const [name, uid] of await metadataList(DECISIONS, env.namespace)) expect(uid, `Decision ${name} kept the UID first seen`).toBe(poller.uids.get(name));
      for (const [outcome, n] of Object.entries(settled.outcomes)) report.count(`decisions ${outcome}`, n);
      report.count('Jobs', settled.jobs);
      report.count('Pods', settled.pods);
      report.count('smallest NetworkPolicy→Pod revision gap', settled.minNetworkPolicyLead);
    });
    poller.stop();

    await report.step('the last controller stops in order (SIGTERM → exit 0)', async () => {
      const errors = final.linesMatching((l) => (l.level ?? 0) >= 50);
      report.count('error log lines of the last controller', errors.length);
      expect((await final.stop()).code).toBe(0);
    });
  });
});
