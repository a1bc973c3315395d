// Retention end to end on the local plane (controller in-process, its clock shifted by the test;
// kube-controller-manager's garbage collector does the cascade): a finished job's Pod and then its
// NetworkPolicy go after keep-for; over the namespace cap the oldest finished trees go, each after its audit
// record; a tree still inside the session window stays, so the second half of a toxic pair is still caught;
// after the history TTL a finished tree goes with its Decision, Approvals and Job, pending ones never.
// The API server's own audit log proves the order of every deletion: no Proposal deleted without an audit
// record written before, no NetworkPolicy deleted before its Pod. Malformed retention settings are refused
// by the API server, naming the field.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../../src/api/audit.ts';
import { API_VERSION } from '../../../src/api/group.ts';
import { Job } from '../../../src/api/kinds.ts';
import type { ProposalSpecInput } from '../../../src/api/proposal.ts';
import type { Receipt } from '../../../src/api/receipt.ts';
import { GOVERNANCE_POLICIES, NETWORK_POLICIES, PODS } from '../../../src/controller/resources.ts';
import { canonicalHash, sha256Hex } from '../../../src/hash/canonical.ts';
import { errorCode, kubeRequest } from '../../../src/runtime/kube-http.ts';
import { resourcePath, type KubeObject } from '../../../src/runtime/resource.ts';
import { auditEvents } from '../../support/audit.ts';
import { readAuditRecords, simulateRunnerExit, succeededReceipt } from '../../support/runner-exit.ts';
import { waitFor } from '../../support/kube.ts';
import { admin, createPolicy, DECISIONS, get, JOBS, phaseOf, propose, PROPOSALS, RUNNER_IMAGE, setupEnv, startTestController, waitForPhase } from './harness.ts';

const env = await setupEnv('m87-retain', { withPolicy: false });
const SESSION_S = 300;
env.policySpec = {
  ...env.policySpec,
  session: { windowSeconds: SESSION_S },
  approvals: { ...env.policySpec.approvals, expirySeconds: 2592000 },
  retention: { jobResourcesKeepForSeconds: 0, historyTTLSeconds: 3600, maxProposalsPerNamespace: 1000 },
};
await createPolicy(env);

const dir = mkdtempSync(join(tmpdir(), 'm87-retention-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const auditFile = join(dir, 'audit.jsonl');
const logs: string[] = [];
let offsetMs = 0;
await startTestController(env, {
  clock: () => Date.now() + offsetMs,
  config: { namespace: env.controllerNamespace, policyName: env.policyName, runnerImage: RUNNER_IMAGE, retention: { auditFile, deletionsPerSecond: 20, burst: 20 } },
  logger: pino({ level: 'info' }, { write: (line: string) => void logs.push(line) }),
});

const ns = env.jobNamespace;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const records = (): AuditRecord[] => readAuditRecords(auditFile);

/** Moves the controller's clock and has retention look again at once (a policy update wakes every namespace). */
async function advance(seconds: number, retention?: Record<string, number>): Promise<void> {
  offsetMs += seconds * 1000;
  await kubeRequest(admin, {
    method: 'PATCH',
    path: resourcePath(GOVERNANCE_POLICIES, { name: env.policyName }),
    contentType: 'application/merge-patch+json',
    body: { metadata: { annotations: { 'test.m87.io/clock-offset': String(offsetMs) } }, ...(retention ? { spec: { retention } } : {}) },
  });
}

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

const NOTIFY: Partial<ProposalSpecInput> = {
  summary: 'Tell the team',
  intent: { id: 'notify', goal: 'Notify the team', mode: 'report' },
  effects: ['SEND_NOTIFICATION'],
  steps: [{ tool: 'notify', args: { url: 'https://hooks.example.com/build', message: 'green' } }],
};

async function outcome(name: string): Promise<string | undefined> {
  return ((await get(DECISIONS, ns, name))?.spec as { outcome?: string } | undefined)?.outcome;
}

async function finishJob(name: string): Promise<Job> {
  const job = Job.parse(await waitFor(() => get(JOBS, ns, name), { what: `job ${name}` }));
  const pod = await waitFor(() => get(PODS, ns, `m87-job-${name}`), { what: `job Pod of ${name}` });
  const receipt = succeededReceipt(job, { artifacts: [{ path: 'report.txt', sha256: sha256Hex('read') }] });
  await simulateRunnerExit(admin, { namespace: ns, name: pod.metadata.name ?? '', image: RUNNER_IMAGE }, JSON.stringify(receipt));
  await waitForPhase(env, name, ['Succeeded']);
  return Job.parse(await get(JOBS, ns, name));
}

const jobs = new Map<string, KubeObject>();
const proposalUIDs = new Map<string, string>();

async function proposeAs(name: string, spec: ProposalSpecInput): Promise<void> {
  const p = await propose(env, 'jordan', name, spec);
  proposalUIDs.set(name, p.metadata.uid ?? '');
}

async function gone(name: string): Promise<boolean> {
  const [p, d, j] = await Promise.all([get(PROPOSALS, ns, name), get(DECISIONS, ns, name), get(JOBS, ns, name)]);
  return p === undefined && d === undefined && j === undefined;
}

describe('retention settings are checked by the API server', () => {
  it.each([
    [{ historyTTLSeconds: 5 }, 'spec.retention.historyTTLSeconds'],
    [{ jobResourcesKeepForSeconds: -1 }, 'spec.retention.jobResourcesKeepForSeconds'],
    [{ maxProposalsPerNamespace: 0 }, 'spec.retention.maxProposalsPerNamespace'],
    [{ historyTTLSeconds: '1h' }, 'spec.retention.historyTTLSeconds'],
  ] as [Record<string, unknown>, string][])('%j is refused naming %s', async (retention, field) => {
    const error = await kubeRequest(admin, {
      method: 'POST',
      path: resourcePath(GOVERNANCE_POLICIES, {}),
      body: { apiVersion: API_VERSION, kind: 'GovernancePolicy', metadata: { name: `${env.policyName}-bad` }, spec: { ...env.policySpec, retention } },
    }).then(
      () => new Error('the policy was stored'),
      (err: unknown) => err,
    );
    expect(errorCode(error)).toBe(422);
    expect(JSON.stringify((error as { body?: unknown }).body)).toContain(field);
  });
});

describe('retention on the local plane', () => {
  it('setup: two denied proposals and one awaiting approval (never pruned while it can be approved)', async () => {
    await proposeAs('ret-deny-1', jordan({ effects: ['READ_SECRETS'] }));
    await proposeAs('ret-deny-2', jordan({ effects: ['READ_SECRETS'] }));
    await proposeAs('ret-pending', jordan({ effects: ['READ_REPO', 'SEND_NOTIFICATION'], steps: NOTIFY.steps! }));
    await waitForPhase(env, 'ret-deny-1', ['Denied']);
    await waitForPhase(env, 'ret-deny-2', ['Denied']);
    await waitForPhase(env, 'ret-pending', ['AwaitingApproval']);
  });

  it('a finished job keeps its Pod and NetworkPolicy for keep-for (0 here), then the Pod goes and the NetworkPolicy after it', async () => {
    await advance(250);
    await proposeAs('half-1', jordan({}));
    expect(await waitFor(() => outcome('half-1'), { what: 'the first half decided' })).toBe('ALLOW');
    const job = await finishJob('half-1');
    jobs.set('half-1', job as unknown as KubeObject);
    expect(job.status?.receipt).toBeDefined();
    await waitFor(async () => (await get(PODS, ns, 'm87-job-half-1')) === undefined && (await get(NETWORK_POLICIES, ns, 'm87-job-half-1')) === undefined, {
      what: 'the Pod and NetworkPolicy of half-1 to be deleted',
      timeoutMs: 30_000,
    });
    // The Job and the tree stay (history TTL), with the receipt.
    expect((await get(JOBS, ns, 'half-1'))?.status).toMatchObject({ phase: 'Succeeded', receipt: { jobUID: job.metadata.uid } });
    expect(phaseOf(await get(PROPOSALS, ns, 'half-1'))).toBe('Succeeded');
  });

  it('over the cap the oldest finished trees go (audit record first); one inside the session window and a pending one stay', async () => {
    // Denials finished 360 s ago (outside the session window), half-1 110 s ago (inside it).
    await advance(110, { maxProposalsPerNamespace: 1 });
    await waitFor(async () => (await gone('ret-deny-1')) && (await gone('ret-deny-2')), { what: 'the denied trees to be deleted', timeoutMs: 45_000 });
    await sleep(3000); // more retention passes (each deletion wakes the namespace again)
    expect(await get(PROPOSALS, ns, 'half-1')).toBeDefined();
    expect(await get(PROPOSALS, ns, 'ret-pending')).toBeDefined();
    const byName = new Map(records().map((r) => [r.proposal.name, r]));
    for (const name of ['ret-deny-1', 'ret-deny-2']) {
      expect(byName.get(name), `audit record of ${name}`).toMatchObject({
        reason: 'NamespaceCap',
        proposal: { uid: proposalUIDs.get(name), submittedBy: env.users.jordan, phase: 'Denied' },
        decision: { outcome: 'DENY' },
        job: null,
      });
      expect(byName.get(name)?.decision.reasons.map((r) => r.code)).toContain('READ_SECRETS_FORBIDDEN');
    }
    expect(byName.has('half-1')).toBe(false);
    expect(byName.has('ret-pending')).toBe(false);
  });

  it('pruning between the halves of a toxic pair does not weaken the topology check: the second half is still caught', async () => {
    await proposeAs('half-2', jordan(NOTIFY));
    expect(await waitFor(() => outcome('half-2'), { what: 'the second half decided' })).toBe('REQUIRE_HUMAN');
    const reasons = ((await get(DECISIONS, ns, 'half-2'))?.spec as { reasons: { code: string; message: string }[] }).reasons;
    expect(reasons.find((r) => r.code === 'TOXIC_TOPOLOGY')?.message).toContain('repo_read_then_notify');
    await sleep(2500);
    expect(await get(PROPOSALS, ns, 'half-1')).toBeDefined();
  });

  it('after the history TTL a finished tree goes with its Decision and Job, and its audit record; pending trees never', async () => {
    const proposal = await get(PROPOSALS, ns, 'half-1');
    const decision = await get(DECISIONS, ns, 'half-1');
    const job = await get(JOBS, ns, 'half-1');
    await advance(3700);
    await waitFor(() => gone('half-1'), { what: 'the half-1 tree to be deleted', timeoutMs: 45_000 });
    await sleep(3000);
    expect(phaseOf(await get(PROPOSALS, ns, 'ret-pending'))).toBe('AwaitingApproval');
    expect(phaseOf(await get(PROPOSALS, ns, 'half-2'))).toBe('AwaitingApproval');
    const record = records().find((r) => r.proposal.name === 'half-1');
    const receipt = (job?.status as { receipt?: Receipt } | undefined)?.receipt;
    expect(record).toMatchObject({
      reason: 'HistoryTTL',
      proposal: { uid: proposal?.metadata.uid, hash: (proposal?.status as { proposalHash?: string }).proposalHash, phase: 'Succeeded' },
      decision: {
        uid: decision?.metadata.uid,
        outcome: 'ALLOW',
        policyHash: (decision?.spec as { policy: { hash: string } }).policy.hash,
        envelopeHash: (decision?.spec as { envelopeHash: string }).envelopeHash,
      },
      approvals: [],
      job: {
        uid: job?.metadata.uid,
        envelopeHash: (job?.spec as { envelopeHash: string }).envelopeHash,
        phase: 'Succeeded',
        receiptDigest: canonicalHash(receipt),
        outputs: [{ path: 'report.txt', sha256: sha256Hex('read') }],
      },
    });
    expect(record?.decision.reasons).toEqual((decision?.spec as { reasons: unknown[] }).reasons);
    // The same record went to the controller's JSON log.
    const logged = logs.map((l) => JSON.parse(l) as { msg?: string; audit?: AuditRecord }).filter((l) => l.msg === 'Audit record');
    expect(logged.map((l) => l.audit)).toContainEqual(record);
  });

  it("the API server's audit log: every Proposal deletion after its audit record, every NetworkPolicy deletion after its Pod's", async () => {
    const events = (await auditEvents(admin)).filter((e) => e.objectRef?.namespace === ns && e.verb === 'delete' && (e.responseStatus?.code ?? 0) < 300);
    const proposalDeletes = events.filter((e) => e.objectRef?.resource === 'proposals' && e.objectRef.apiGroup === 'governance.m87.io');
    expect(proposalDeletes.map((e) => e.objectRef?.name).sort()).toEqual(['half-1', 'ret-deny-1', 'ret-deny-2']);
    const recorded = records();
    // recordedAt is the controller's shifted clock; its log line's time is the wall clock, written after the
    // record was fsynced to the file: it must precede the API server's receipt of the DELETE.
    const loggedAt = new Map<string, number>();
    for (const line of logs) {
      const l = JSON.parse(line) as { msg?: string; time?: number; audit?: AuditRecord };
      if (l.msg === 'Audit record' && l.audit && l.time !== undefined && !loggedAt.has(l.audit.proposal.uid)) loggedAt.set(l.audit.proposal.uid, l.time);
    }
    for (const e of proposalDeletes) {
      const name = e.objectRef?.name ?? '';
      const r = recorded.find((x) => x.proposal.name === name);
      expect(r, `audit record of ${name}`).toBeDefined();
      expect(r?.proposal.uid).toBe(proposalUIDs.get(name));
      const received = Date.parse((e as { requestReceivedTimestamp?: string }).requestReceivedTimestamp ?? e.stageTimestamp);
      expect(loggedAt.get(r?.proposal.uid ?? ''), `audit record of ${name} written before its DELETE`).toBeLessThanOrEqual(received + 1);
    }
    const podDelete = events.find((e) => e.objectRef?.resource === 'pods' && e.objectRef.name === 'm87-job-half-1');
    const npDelete = events.find((e) => e.objectRef?.resource === 'networkpolicies' && e.objectRef.name === 'm87-job-half-1');
    expect(podDelete).toBeDefined();
    expect(npDelete).toBeDefined();
    expect(Date.parse(npDelete!.stageTimestamp)).toBeGreaterThanOrEqual(Date.parse(podDelete!.stageTimestamp));
    expect(jobs.has('half-1')).toBe(true);
  });
});
