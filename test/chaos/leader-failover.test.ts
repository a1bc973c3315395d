// Scenario 4: two replicas share one Lease, each talking to the API server through its own recording proxy, so
// every write is attributed to the replica that sent it. (a) The leader is killed during a burst: the standby
// takes over once the lease expired, and no proposal gets a second Decision. (b) The leader is frozen (SIGSTOP)
// past its lease, the standby takes over and decides new work, and the frozen one is resumed (SIGCONT): it must
// not write anything and must exit to restart as a candidate.
import { afterAll, describe, expect, it } from 'vitest';
import { DECISIONS, JOBS, PODS } from '../../src/controller/resources.ts';
import { waitUntil } from '../../dev/cluster/probe.ts';
import { getObject } from '../../src/runtime/kube-http.ts';
import { LEASE_RESOURCE, type Lease } from '../../src/runtime/leader-election.ts';
import { ControllerProcess, type LeaseTimings, type LogLine } from './support/controller-process.ts';
import { admin, setupChaosEnv } from './support/env.ts';
import { chaosCounts } from './support/mode.ts';
import { assertSettledInvariants, DecisionPoller, waitForSettled } from './support/observe.ts';
import { startRecordingProxy, type RecordedRequest, type RecordingProxy } from './support/recording-proxy.ts';
import { ScenarioReport } from './support/report.ts';
import { scenarioRandom } from './support/seed.ts';
import { burstNames, createBurst } from './support/workload.ts';

const counts = chaosCounts().failover;
const report = new ScenarioReport('failover');
afterAll(() => report.save());
const random = scenarioRandom('failover');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const LEASE: LeaseTimings = { durationMs: 5000, renewDeadlineMs: 3500, retryPeriodMs: 500 };
/** client-go's bound: a candidate retries every retryPeriod × [1, 2.2), so it notices an expired lease that late. */
const TAKEOVER_BOUND_MS = LEASE.durationMs + 2.2 * LEASE.retryPeriodMs;
/** Scheduling slack of a loaded test machine on top of that bound. */
const SLACK_MS = 1500;

const env = await setupChaosEnv('chaos-failover');
const leaseName = `m87-${env.suffix}`;

interface Replica {
  readonly identity: string;
  readonly proxy: RecordingProxy;
  proc: ControllerProcess;
  incarnation: number;
}

const replicas: Replica[] = [];
for (const identity of ['replica-a', 'replica-b']) {
  const proxy = await startRecordingProxy(admin, identity);
  replicas.push({ identity, proxy, proc: undefined as unknown as ControllerProcess, incarnation: 0 });
}
afterAll(async () => {
  for (const r of replicas) await r.proxy.close();
});

function start(r: Replica): void {
  r.incarnation++;
  r.proc = new ControllerProcess({ env, label: `${r.identity}-${r.incarnation}`, identity: r.identity, kubeconfigPath: r.proxy.kubeconfigPath, lease: LEASE });
}

/** What the Lease says, as seen by the test (polled). */
interface LeaseView {
  readonly holder: string;
  readonly renewTime: number;
  readonly acquireTime: number;
  readonly transitions: number;
}

async function readLease(): Promise<LeaseView | undefined> {
  const lease = await getObject<Lease>(admin, LEASE_RESOURCE, { namespace: env.controllerNamespace, name: leaseName }).catch(() => undefined);
  if (lease?.spec === undefined) return undefined;
  return {
    holder: lease.spec.holderIdentity ?? '',
    renewTime: Date.parse(lease.spec.renewTime ?? ''),
    acquireTime: Date.parse(lease.spec.acquireTime ?? ''),
    transitions: lease.spec.leaseTransitions ?? 0,
  };
}

/** Polls the Lease every 50 ms; remembers the last renewTime seen per holder. */
class LeaseWatcher {
  readonly lastRenew = new Map<string, number>();
  current: LeaseView | undefined;
  #stopped = false;
  constructor() {
    void (async () => {
      while (!this.#stopped) {
        const view = await readLease();
        if (view !== undefined) {
          this.current = view;
          if (view.holder !== '') this.lastRenew.set(view.holder, Math.max(this.lastRenew.get(view.holder) ?? 0, view.renewTime));
        }
        await sleep(50);
      }
    })();
  }
  stop(): void {
    this.#stopped = true;
  }
}

const leaseWatcher = new LeaseWatcher();
afterAll(() => leaseWatcher.stop());

async function leaderAndStandby(): Promise<{ leader: Replica; standby: Replica }> {
  return waitUntil(
    async () => {
      const holder = leaseWatcher.current?.holder;
      const leader = replicas.find((r) => r.identity === holder);
      const standby = replicas.find((r) => r !== leader);
      if (leader === undefined || standby === undefined) return undefined;
      if ((await leader.proc.metricSum('m87_leader').catch(() => 0)) !== 1) return undefined;
      const res = await fetch(`${standby.proc.metricsUrl ?? 'http://127.0.0.1:1'}/readyz`).catch(() => undefined);
      return res?.status === 200 ? { leader, standby } : undefined;
    },
    { what: 'a leader and a ready standby', timeoutMs: 60_000, intervalMs: 100 },
  );
}

/** Waits until the standby holds the lease; returns the takeover measured on the Lease and from the fault. */
async function takeover(from: Replica, to: Replica, faultAtWall: number): Promise<{ afterExpiryMs: number; sinceFaultMs: number }> {
  const view = await waitUntil(() => Promise.resolve(leaseWatcher.current?.holder === to.identity ? leaseWatcher.current : undefined), {
    what: `${to.identity} to take the lease from ${from.identity}`,
    timeoutMs: TAKEOVER_BOUND_MS + SLACK_MS + 10_000,
    intervalMs: 20,
  });
  const lastRenew = leaseWatcher.lastRenew.get(from.identity) ?? Number.NaN;
  return { afterExpiryMs: view.acquireTime - lastRenew, sinceFaultMs: view.acquireTime - faultAtWall };
}

async function isSettled(p: Promise<unknown>): Promise<boolean> {
  return Promise.race([p.then(() => true, () => true), sleep(0).then(() => false)]);
}

function isReconcileLine(line: LogLine): boolean {
  return typeof line.reconcileID === 'string' && line.namespace === env.namespace;
}

function successfulCreates(resourcePlural: string): Map<string, RecordedRequest[]> {
  const out = new Map<string, RecordedRequest[]>();
  for (const r of replicas) {
    for (const req of r.proxy.requests) {
      if (req.method !== 'POST' || !req.path.endsWith(`/namespaces/${env.namespace}/${resourcePlural}`) || req.status !== 201) continue;
      const list = out.get(req.name ?? '') ?? [];
      list.push(req);
      out.set(req.name ?? '', list);
    }
  }
  return out;
}

describe('two replicas, one lease', () => {
  const poller = new DecisionPoller(env.namespace);
  const uids = new Map<string, string>();
  afterAll(() => poller.stop());

  it('elect one leader; the standby is ready with warm caches', async () => {
    await report.step('leader elected, standby ready', async () => {
      for (const r of replicas) start(r);
      await leaderAndStandby();
    });
  });

  it(`the leader is killed during a burst (${counts.kills}×): the standby takes over within the lease; no double decisions`, async () => {
    await report.step('kill the leader during bursts', async () => {
      for (let k = 0; k < counts.kills; k++) {
        const { leader, standby } = await leaderAndStandby();
        const names = burstNames(`kill${k}`, counts.proposals);
        const creating = createBurst(env, names, { onCreated: (c) => uids.set(c.name, c.uid) });
        creating.catch(() => undefined);
        // A random moment in the leader's work.
        const killed = leader.proc.killAtLine(isReconcileLine, 1 + Math.floor(random() * 2 * counts.proposals));
        const line = await Promise.race([killed, creating.then(async () => (await sleep(3000), 'done' as const))]);
        if (line === 'done') await leader.proc.kill();
        const killedAtWall = Date.now();
        expect(leader.proc.exitStatus()?.signal, `${leader.identity} ended by our SIGKILL`).toBe('SIGKILL');
        report.add(line === 'done' ? 'leader kills after the burst was created' : 'leader kills mid-work');
        const t = await takeover(leader, standby, killedAtWall);
        report.sample('leader killed → standby holds the lease', t.sinceFaultMs);
        report.sample('last renew of the dead leader → standby holds the lease', t.afterExpiryMs);
        // Safety: never before the lease expired; liveness: within the lease and the candidate's retry interval.
        expect(t.afterExpiryMs, 'standby acquired only after the lease expired').toBeGreaterThanOrEqual(LEASE.durationMs);
        expect(t.afterExpiryMs, `standby acquired within ${TAKEOVER_BOUND_MS} ms (+${SLACK_MS} ms slack) of the last renew`).toBeLessThanOrEqual(TAKEOVER_BOUND_MS + SLACK_MS);
        await creating;
        await poller.waitFor(names, 'every proposal of the burst decided by the new leader');
        start(leader); // back as a standby
      }
    });
  });

  it(`the leader frozen (SIGSTOP) mid-work past its lease writes nothing once resumed (${counts.freezes}×)`, async () => {
    await report.step('freeze the leader mid-work past its lease, then resume it', async () => {
      for (let f = 0; f < counts.freezes; f++) {
        const { leader, standby } = await leaderAndStandby();
        const isLease = (r: RecordedRequest): boolean => r.path.includes('/leases/');
        // Mid-work: a burst is being decided. Its proxy then holds back the answers to the leader's requests
        // (Lease renews excepted), so its reconciles stay suspended awaiting them; once it has sent nothing for
        // a while, nothing of it can be between "may I write?" and the write, and it is frozen right after a
        // Lease renew. Every write the proxy sees after SIGCONT was therefore attempted after the resume.
        const names = burstNames(`freeze${f}`, counts.proposals);
        const creating = createBurst(env, names, { onCreated: (c) => uids.set(c.name, c.uid) });
        creating.catch(() => undefined);
        const target = 1 + Math.floor(random() * counts.proposals);
        await waitUntil(async () => (leader.proc.linesMatching(isReconcileLine).length >= target || (await isSettled(creating)) ? true : undefined), {
          what: `${leader.identity} at work`,
          timeoutMs: 60_000,
          intervalMs: 5,
        });
        leader.proxy.holdResponses((r) => !isLease(r));
        const lastSent = (): number => Math.max(0, ...leader.proxy.requests.filter((r) => !r.watch && !isLease(r)).map((r) => r.at));
        const renewsBefore = leader.proxy.requests.filter((r) => isLease(r) && r.method === 'PUT').length;
        await waitUntil(
          () => {
            const renews = leader.proxy.requests.filter((r) => isLease(r) && r.method === 'PUT');
            const justRenewed = renews.length > renewsBefore && renews.every((r) => r.doneAt !== undefined) && performance.now() - (renews.at(-1)?.doneAt ?? 0) < 100;
            return Promise.resolve(justRenewed && performance.now() - lastSent() > 750 ? true : undefined);
          },
          { what: `${leader.identity} waiting on its held responses, right after a Lease renew`, timeoutMs: 30_000, intervalMs: 2 },
        );
        leader.proc.signal('SIGSTOP');
        const frozenAtWall = Date.now();
        const frozenAt = performance.now();
        report.add('requests of the frozen leader suspended on a held response', leader.proxy.held());
        const t = await takeover(leader, standby, frozenAtWall);
        report.sample('leader frozen → standby holds the lease', t.sinceFaultMs);
        report.sample('last renew of the frozen leader → standby holds the lease', t.afterExpiryMs);
        expect(t.afterExpiryMs).toBeGreaterThanOrEqual(LEASE.durationMs);
        expect(t.afterExpiryMs).toBeLessThanOrEqual(TAKEOVER_BOUND_MS + SLACK_MS);

        // The new leader finishes the burst while the old one is frozen (whose watches receive the same events).
        await creating;
        await poller.waitFor(names, 'every proposal decided by the new leader');
        expect(leader.proxy.writes().filter((w) => w.at >= frozenAt), 'writes of the frozen replica').toEqual([]);

        const resumedAt = performance.now();
        report.sample('frozen for', resumedAt - frozenAt);
        leader.proc.signal('SIGCONT');
        report.add('responses released to the resumed replica', leader.proxy.release());
        const exit = await Promise.race([leader.proc.exited, sleep(30_000).then(() => undefined)]);
        expect(exit?.code, `${leader.identity} exits (to restart as a candidate) after it resumed`).toBe(1);
        report.sample('resumed → exited', performance.now() - resumedAt);

        const after = leader.proxy.requests.filter((r) => r.at >= resumedAt && r.method !== 'GET');
        const leaseWrites = after.filter(isLease);
        const otherWrites = after.filter((r) => !isLease(r));
        expect(otherWrites.map((r) => `${r.method} ${r.path} ${r.name ?? ''}`), 'writes of the resumed replica').toEqual([]);
        for (const w of leaseWrites) expect(w.status, `stale Lease ${w.method} of the resumed replica is refused`).toBe(409);
        report.add('writes of the resumed replica (other than refused Lease renews)', otherWrites.length);
        report.add('stale Lease renews of the resumed replica (refused)', leaseWrites.length);
        report.add('reads of the resumed replica before it exited', leader.proxy.requests.filter((r) => r.at >= resumedAt && r.method === 'GET').length);
        expect(leader.proc.linesMatching((l) => l.msg === 'Stopped leading').length, 'it logged that it stopped leading').toBeGreaterThan(0);
        start(leader);
      }
    });
  });

  it('nothing lost, nothing duplicated across replicas', async () => {
    await report.step('exactly one successful Decision create per Proposal across both replicas', async () => {
      await waitForSettled(env, [...uids.keys()]);
      const settled = await assertSettledInvariants(env, uids);
      const decisions = successfulCreates(DECISIONS.plural);
      for (const name of uids.keys()) expect(decisions.get(name)?.length ?? 0, `successful Decision creates for ${name}`).toBe(1);
      const jobs = successfulCreates(JOBS.plural);
      for (const [name, list] of jobs) expect(list.length, `successful Job creates for ${name}`).toBe(1);
      const pods = successfulCreates(PODS.plural);
      for (const [name, list] of pods) expect(list.length, `successful Pod creates for ${name}`).toBe(1);
      expect(pods.size).toBe(settled.pods);
      report.count('proposals', uids.size);
      report.count('Decision creates that succeeded', [...decisions.values()].reduce((n, l) => n + l.length, 0));
      report.count('Decision creates refused as AlreadyExists', replicas.reduce((n, r) => n + r.proxy.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/decisions') && q.status === 409).length, 0));
      report.count('Jobs', settled.jobs);
      report.count('Pods', settled.pods);
      report.count('lease transitions', leaseWatcher.current?.transitions ?? 0);
      for (const r of replicas) await r.proc.stop();
    });
  });
});
