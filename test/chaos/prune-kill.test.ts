// Scenario 7: the controller is killed with SIGKILL while retention prunes (docs/audit.md). Finished trees (allowed
// jobs with their receipt, denials) and trees awaiting approval are made first by a controller with retention off;
// then controllers with retention on are killed right after random retention steps and started again. After every
// kill no job Pod is without its NetworkPolicy and every Proposal gone has its audit record in the file; at the end
// every finished tree is gone with everything it owned, the pending ones stay, and the API server's own audit log
// shows each Proposal DELETE after its record and each NetworkPolicy DELETE after its Pod's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/api/audit.ts';
import { Job } from '../../src/api/kinds.ts';
import { jobNetworkPolicyName, jobPodName } from '../../src/controller/names.ts';
import { DECISIONS, GOVERNANCE_POLICIES, JOBS, NETWORK_POLICIES, PODS, PROPOSALS } from '../../src/controller/resources.ts';
import { sha256Hex } from '../../src/hash/canonical.ts';
import { getObject, kubeRequest } from '../../src/runtime/kube-http.ts';
import { resourcePath } from '../../src/runtime/resource.ts';
import { auditEvents } from '../support/audit.ts';
import { waitFor } from '../support/kube.ts';
import { readAuditRecords, simulateRunnerExit, succeededReceipt } from '../support/runner-exit.ts';
import { ControllerProcess, type LeaseTimings, type LogLine } from './support/controller-process.ts';
import { admin, RUNNER_IMAGE, setupChaosEnv } from './support/env.ts';
import { chaosCounts } from './support/mode.ts';
import { metadataList } from './support/observe.ts';
import { ScenarioReport } from './support/report.ts';
import { scenarioRandom } from './support/seed.ts';
import { burstSpec, createProposal, type Template } from './support/workload.ts';

const counts = chaosCounts().prune;
const report = new ScenarioReport('prune');
afterAll(() => report.save());
const env = await setupChaosEnv('chaos-prune');
const random = scenarioRandom('prune');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const IDENTITY = 'm87-controller-0';
const LEASE: LeaseTimings = { durationMs: 8000, renewDeadlineMs: 6000, retryPeriodMs: 1000 };
const ns = env.namespace;
const dir = mkdtempSync(join(tmpdir(), 'm87-prune-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const auditFile = join(dir, 'audit.jsonl');
// The retention steps a kill can land right after (job resources go before their trees). Each controller is
// killed after a random number of them, about the whole work's share per life, so the kills spread over it, both
// kinds included. (Counting one kind per life let the other kind go on uncounted: in the long form two
// controllers did all of the work, 8 of 10 kills were idle and the last controller had nothing to do; a small
// fixed bound per life never reached the trees, which come after every job's Pod and NetworkPolicy.)
const RETENTION_LINES = new Set(['Deleted the Pod of a finished job', 'Deleted the NetworkPolicy of a finished job', 'Audit record', 'Deleted a proposal tree']);

// Trees finish 60 s after the last event at the earliest (the rate window; the session window is 1 s here).
await kubeRequest(admin, {
  method: 'PATCH',
  path: resourcePath(GOVERNANCE_POLICIES, { name: env.policyName }),
  contentType: 'application/merge-patch+json',
  body: { spec: { session: { windowSeconds: 1 }, retention: { jobResourcesKeepForSeconds: 0, historyTTLSeconds: 60, maxProposalsPerNamespace: 1000000 } } },
});

function templateAt(i: number): Template {
  return (['allow', 'allow', 'deny', 'human'] as const)[i % 4]!;
}

// Every line parses: a record is one append, so a kill never leaves half of one behind.
const records = (): AuditRecord[] => readAuditRecords(auditFile);

async function finishJob(name: string): Promise<number> {
  const job = Job.parse(await waitForObject(() => getObject(admin, JOBS, { namespace: ns, name }), `job ${name}`));
  const pod = await waitForObject(() => getObject(admin, PODS, { namespace: ns, name: jobPodName(name) }), `Pod of ${name}`);
  const receipt = succeededReceipt(job, { artifacts: [{ path: `notes/${name}.md`, sha256: sha256Hex(name) }], runtimeMs: 10 });
  await simulateRunnerExit(admin, { namespace: ns, name: pod.metadata.name ?? '', image: RUNNER_IMAGE }, JSON.stringify(receipt));
  return Date.now();
}

const waitForObject = <T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 60_000) => waitFor(fn, { what, timeoutMs, intervalMs: 200 });

async function phases(): Promise<Map<string, string>> {
  const r = await kubeRequest<{ items: { metadata: { name: string }; status?: { phase?: string } }[] }>(admin, { method: 'GET', path: resourcePath(PROPOSALS, { namespace: ns }) });
  return new Map(r.items.map((p) => [p.metadata.name, p.status?.phase ?? '']));
}

/** After every kill: no job Pod without its NetworkPolicy; every proposal gone has its record (by UID). */
async function assertNoOrphans(uids: ReadonlyMap<string, string>, finished: ReadonlySet<string>): Promise<void> {
  const [pods, policies, proposals] = await Promise.all([metadataList(PODS, ns), metadataList(NETWORK_POLICIES, ns), metadataList(PROPOSALS, ns)]);
  for (const pod of pods.keys()) expect(policies.has(pod), `Pod ${pod} has its NetworkPolicy`).toBe(true);
  const recorded = new Set(records().map((r) => r.proposal.uid));
  for (const [name, uid] of uids) {
    if (proposals.get(name) === uid) continue;
    expect(finished.has(name), `only finished trees are deleted (${name})`).toBe(true);
    expect(recorded.has(uid), `Proposal ${name} deleted only after its audit record`).toBe(true);
  }
}

describe('controller killed with SIGKILL while it prunes', () => {
  it(`${counts.kills} kills while ${counts.trees} trees are pruned: no orphan, no deletion without its audit record`, async () => {
    const uids = new Map<string, string>();
    const templates = new Map<string, Template>();
    const names = Array.from({ length: counts.trees }, (_, i) => `prune-${String(i).padStart(4, '0')}`);
    let lastFinish = 0;

    await report.step('a controller with retention off decides the burst; allowed jobs get their receipt', async () => {
      const maker = new ControllerProcess({ env, label: 'prune-maker', identity: IDENTITY, lease: LEASE, extraArgs: ['--retention', 'false'] });
      await maker.ready();
      for (let i = 0; i < names.length; i++) {
        const name = names[i]!;
        const agent = env.agents[i % env.agents.length]!;
        const template = templateAt(i);
        const { object } = await createProposal(agent.kubeConfig, ns, name, burstSpec(env, agent, template, name));
        uids.set(name, object.metadata.uid ?? '');
        templates.set(name, template);
      }
      for (const name of names) if (templates.get(name) === 'allow') lastFinish = Math.max(lastFinish, await finishJob(name));
      const want: Record<Template, string> = { allow: 'Succeeded', deny: 'Denied', human: 'AwaitingApproval', evidence: 'NeedsEvidence' };
      await waitForObject(async () => {
        const p = await phases();
        return names.every((n) => p.get(n) === want[templates.get(n)!]) ? true : undefined;
      }, 'every proposal in its final phase', 120_000);
      lastFinish = Math.max(lastFinish, Date.now());
      expect((await maker.stop()).code).toBe(0);
    });
    const finished = new Set(names.filter((n) => templates.get(n) !== 'human'));
    report.count('trees to prune', finished.size);
    report.count('trees awaiting approval (never pruned)', names.length - finished.size);
    const jobPods = names.filter((n) => templates.get(n) === 'allow').length;
    report.count('job Pods (and NetworkPolicies) to delete', jobPods);
    // Two lines per job (Pod, NetworkPolicy) and per tree (audit record, deletion), shared by the kills and the last life.
    const stepsPerLife = Math.max(1, Math.floor((2 * jobPods + 2 * finished.size) / (counts.kills + 1)));

    // The rate window (60 s) protects every tree that long after it finished.
    await sleep(Math.max(0, lastFinish + 62_000 - Date.now()));

    await report.step(`kill the controller ${counts.kills} times while it prunes`, async () => {
      for (let k = 0; k < counts.kills; k++) {
        const proc = new ControllerProcess({ env, label: `prune-${k}`, identity: IDENTITY, lease: LEASE, extraArgs: ['--audit-file', auditFile, '--retention-rate', '8'] });
        const target = 1 + Math.floor(random() * stepsPerLife * 2);
        const killed = proc.killAtLine((l: LogLine) => RETENTION_LINES.has(l.msg ?? '') && (l.namespace === ns || l.audit !== undefined), target);
        const idle = (async () => {
          for (;;) {
            await sleep(250);
            if (!proc.alive()) return;
            if (performance.now() - proc.lastLineAt > 5000 && proc.metricsUrl !== undefined) return;
          }
        })();
        const line = await Promise.race([killed, idle.then(() => 'idle' as const)]);
        if (line === 'idle') {
          report.add('kills while idle (pruning ran out first)');
          await proc.kill();
        } else if (line !== undefined) {
          report.add(`kills right after "${line.msg ?? '?'}"`);
        } else {
          throw new Error(`controller prune-${k} exited on its own: ${JSON.stringify(proc.exitStatus())}\n${proc.stderr().slice(-2000)}`);
        }
        expect(proc.exitStatus()?.signal).toBe('SIGKILL');
        await assertNoOrphans(uids, finished);
      }
    });

    // The last controller prunes at 4 deletions/s (burst 16): the API server's audit log shows it kept to that.
    const FINAL_RATE = 4;
    const final = new ControllerProcess({ env, label: 'prune-final', identity: IDENTITY, lease: LEASE, extraArgs: ['--audit-file', auditFile, '--retention-rate', String(FINAL_RATE)] });
    await report.step('the last controller finishes; the garbage collector removes what the trees owned', async () => {
      await final.ready();
      await waitForObject(
        async () => {
          const p = await metadataList(PROPOSALS, ns);
          return [...finished].every((n) => !p.has(n)) ? true : undefined;
        },
        'every finished tree to be deleted',
        180_000,
      );
      await waitForObject(
        async () => {
          const [d, j, pods, np] = await Promise.all([metadataList(DECISIONS, ns), metadataList(JOBS, ns), metadataList(PODS, ns), metadataList(NETWORK_POLICIES, ns)]);
          const left = [...finished].filter((n) => d.has(n) || j.has(n) || pods.has(jobPodName(n)) || np.has(jobNetworkPolicyName(n)));
          return left.length === 0 ? true : undefined;
        },
        "the finished trees' Decisions, Jobs, Pods and NetworkPolicies to be gone",
        120_000,
      );
      await assertNoOrphans(uids, finished);
      const p = await phases();
      for (const n of names) if (!finished.has(n)) expect(p.get(n), `${n} (awaiting approval) stays`).toBe('AwaitingApproval');
    });

    await report.step("the API server's audit log: every Proposal DELETE after its record, every NetworkPolicy DELETE after its Pod's", async () => {
      const recorded = records();
      const byUID = new Map<string, number>();
      for (const r of recorded) byUID.set(r.proposal.uid, (byUID.get(r.proposal.uid) ?? 0) + 1);
      report.count('audit records', recorded.length);
      report.count('trees recorded twice (killed between record and delete)', [...byUID.values()].filter((n) => n > 1).length);
      for (const n of finished) expect(byUID.get(uids.get(n) ?? ''), `audit record of ${n}`).toBeGreaterThanOrEqual(1);
      const allDeletes = (await auditEvents(admin)).filter((e) => e.objectRef?.namespace === ns && e.verb === 'delete');
      const events = allDeletes.filter((e) => (e.responseStatus?.code ?? 0) < 300);
      // When an object went: its first successful DELETE. A DELETE in flight when its controller was killed can be
      // applied while the API server records an error (the request's context was cancelled with the client), and
      // then no DELETE of that object ever succeeds: its first DELETE of any outcome is when it went. (Had it
      // failed for real, the object would have been deleted again later, successfully, and that time counts.)
      const deletedAt = (resource: string): Map<string, number> => {
        const at = new Map<string, number>();
        for (const e of [...events, ...allDeletes]) {
          const name = e.objectRef?.name ?? '';
          if (e.objectRef?.resource === resource && !at.has(name)) at.set(name, Date.parse(e.stageTimestamp));
        }
        return at;
      };
      const deletesOf = (resource: string, name: string): string =>
        JSON.stringify(allDeletes.filter((e) => e.objectRef?.resource === resource && e.objectRef.name === name).map((e) => [e.user.username, e.responseStatus?.code, e.stageTimestamp]));
      // Only finished trees were ever sent a DELETE, each after its first audit record (recordedAt is to the second).
      const proposalDeletedAt = deletedAt('proposals');
      expect(new Set(proposalDeletedAt.keys())).toEqual(finished);
      for (const [name, at] of proposalDeletedAt) {
        const first = Math.min(...recorded.filter((r) => r.proposal.uid === uids.get(name)).map((r) => Date.parse(r.recordedAt)));
        expect(at, `Proposal ${name} deleted at ${new Date(at).toISOString()}, recorded at ${new Date(first).toISOString()}; its DELETEs: ${deletesOf('proposals', name)}`).toBeGreaterThanOrEqual(first);
      }
      const podDeletedAt = deletedAt('pods');
      let npDeletes = 0;
      for (const e of events) {
        if (e.objectRef?.resource !== 'networkpolicies' || e.user.username !== 'admin') continue;
        npDeletes++;
        const podAt = podDeletedAt.get(e.objectRef.name ?? '');
        expect(podAt, `Pod ${e.objectRef.name ?? ''} deleted before its NetworkPolicy`).toBeDefined();
        expect(Date.parse(e.stageTimestamp), `NetworkPolicy ${e.objectRef.name ?? ''} deleted at ${e.stageTimestamp}; its Pod's DELETEs: ${deletesOf('pods', e.objectRef.name ?? '')}`).toBeGreaterThanOrEqual(podAt!);
      }
      report.count('NetworkPolicies deleted by the controller (after their Pod)', npDeletes);
      // Rate: of the last controller's deletions, any n within t seconds stay within burst + rate × t (+1 slack).
      const mine = events
        .filter((e) => e.user.username === 'admin' && Date.parse(e.stageTimestamp) >= final.spawnedAtWall)
        .map((e) => Date.parse((e as { requestReceivedTimestamp?: string }).requestReceivedTimestamp ?? e.stageTimestamp))
        .sort((a, b) => a - b);
      report.count('deletions by the last controller', mine.length);
      for (let i = 0; i < mine.length; i++) {
        for (let j = i; j < mine.length; j++) {
          expect(j - i + 1, `deletions ${i}..${j} within ${(mine[j]! - mine[i]!) / 1000} s`).toBeLessThanOrEqual(4 * FINAL_RATE + 1 + (FINAL_RATE * (mine[j]! - mine[i]!)) / 1000);
        }
      }
      expect((await final.stop()).code).toBe(0);
    });
  });
});
