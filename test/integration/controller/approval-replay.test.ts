// An Approval is bound to one proposal incarnation (UID) and content (hash). Approve a proposal, delete it,
// create it again under the same name with the same content: the earlier, already Accepted Approval must
// not count for the new incarnation (no Job is minted from it), and Approvals are owned by the proposal
// they approve, so the garbage collector removes them with it.
import { describe, expect, it } from 'vitest';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import { resourcePath, type KubeObject } from '../../../src/runtime/resource.ts';
import { waitFor } from '../../support/kube.ts';
import {
  admin,
  approve,
  APPROVALS,
  caseySpec,
  get,
  JOBS,
  phaseOf,
  propose,
  PROPOSALS,
  setupEnv,
  startTestController,
  waitForApprovalState,
  waitForPhase,
} from './harness.ts';

const env = await setupEnv('m87-replay');
await startTestController(env);

const NAME = 'replay-1';
const spec = caseySpec(env, { riskScore: 0.9, summary: 'Risky write' });
const proposalUIDOfJob = (job: KubeObject | undefined): string | undefined => (job?.spec as { proposalRef?: { uid?: string } } | undefined)?.proposalRef?.uid;

describe('approval replay across delete and re-create', () => {
  let first: KubeObject;

  it('an accepted approval mints the Job of its proposal and is owned by it', async () => {
    await propose(env, 'casey', NAME, spec);
    first = await waitForPhase(env, NAME, ['AwaitingApproval']);
    await approve(env, 'alice', 'replay-1-alice', first);
    expect(await waitForApprovalState(env, 'replay-1-alice')).toMatchObject({ state: 'Accepted' });
    const job = await waitFor(() => get(JOBS, env.jobNamespace, NAME), { what: 'the first Job' });
    expect(proposalUIDOfJob(job)).toBe(first.metadata.uid);
    const owned = await waitFor(
      async () => {
        const a = await get(APPROVALS, env.jobNamespace, 'replay-1-alice');
        return a?.metadata.ownerReferences?.some((r) => r.kind === 'Proposal' && r.uid === first.metadata.uid) ? a : undefined;
      },
      { what: 'the Approval to be owned by its Proposal' },
    );
    expect(owned.metadata.ownerReferences?.[0]).toMatchObject({ name: NAME, uid: first.metadata.uid });
  });

  it('the same name and content again: the old approval does not count, nothing is minted', async () => {
    await kubeRequest(admin, { method: 'DELETE', path: resourcePath(PROPOSALS, { namespace: env.jobNamespace, name: NAME }) });
    await waitFor(async () => (await get(PROPOSALS, env.jobNamespace, NAME)) === undefined, { what: 'the proposal to be gone' });
    const second = await propose(env, 'casey', NAME, spec);
    expect(second.metadata.uid).not.toBe(first.metadata.uid);
    const waiting = await waitForPhase(env, NAME, ['AwaitingApproval', 'Approved', 'Running'], 45_000);
    // Give a wrongly counted approval every chance to mint.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const job = await get(JOBS, env.jobNamespace, NAME);
    expect(proposalUIDOfJob(job)).not.toBe(second.metadata.uid);
    expect(phaseOf(waiting)).toBe('AwaitingApproval');
    expect(phaseOf(await get(PROPOSALS, env.jobNamespace, NAME))).toBe('AwaitingApproval');
    // The old approval went with its proposal (garbage collector), or at least never counts.
    const status = (await get(PROPOSALS, env.jobNamespace, NAME))?.status as { approvalRefs?: unknown[] } | undefined;
    expect(status?.approvalRefs ?? []).toEqual([]);
  });

  it('a fresh approval of the new incarnation mints its Job', async () => {
    const current = await waitForPhase(env, NAME, ['AwaitingApproval']);
    await approve(env, 'bob', 'replay-1-bob', current);
    expect(await waitForApprovalState(env, 'replay-1-bob')).toMatchObject({ state: 'Accepted' });
    const job = await waitFor(
      async () => {
        const j = await get(JOBS, env.jobNamespace, NAME);
        return proposalUIDOfJob(j) === current.metadata.uid ? j : undefined;
      },
      { what: 'the Job of the new incarnation', timeoutMs: 30_000 },
    );
    expect((job.spec as { approvalRefs: { name: string }[] }).approvalRefs.map((r) => r.name)).toEqual(['replay-1-bob']);
  });
});
