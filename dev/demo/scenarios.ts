// The demo scenarios, run against a started stack by `npm run demo` and asserted in detail by the e2e tier.
// Each scenario submits proposals with the submitter's own credentials, lets the controller decide, has a
// person approve through the real `m87 approve` CLI where a human is needed, waits for the job's result and
// checks that everything ended as expected (`problems` lists what did not).
import { performance } from 'node:perf_hooks';
import type { KubeConfig } from '@kubernetes/client-node';
import { sha256Hex } from '../../src/hash/canonical.ts';
import { EXPECTED_REFUSAL, type FaultSpec } from './faults.ts';
import {
  approveAs,
  condition,
  getJob,
  getPod,
  propose,
  waitForDecision,
  waitForJobResult,
  waitForProposalPhase,
  type DecisionView,
  type HumanApproval,
  type JobView,
  type ProposalView,
} from './observe.ts';
import { runForgedCopy, type JobPodCopy } from './forged-pod.ts';
import { deploySpec, ESCAPING_PATCH, fixFailingTestSpec, networkCallSpec, readRepoSpec, readSecretsSpec, runTestsSpec, uncataloguedToolSpec, type RepositoryRef } from './proposals.ts';
import { fetchJobOutputs, M87Client } from '../../src/client/index.ts';
import type { ProposalSpecInput } from '../../src/api/proposal.ts';
import type { RunnerReport, Stack } from './stack.ts';

export interface ProposalRun {
  readonly name: string;
  readonly submitter: string;
  readonly proposal: ProposalView;
  readonly decision: DecisionView;
  readonly approval?: HumanApproval;
  readonly job?: JobView;
  readonly podUid?: string;
  readonly runner?: RunnerReport;
  /** Seconds from submission to the Decision, and to the final phase. */
  readonly decidedSeconds: number;
  readonly finishedSeconds: number;
}

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly submitter: string;
  readonly runs: readonly ProposalRun[];
  readonly decision: string;
  readonly human: string;
  readonly result: string;
  readonly evidence: string;
  readonly seconds: number;
  readonly problems: readonly string[];
}

export interface ScenarioContext {
  readonly stack: Stack;
  /** Appended to every proposal name (reruns against the same cluster need fresh names). */
  readonly suffix: string;
}

const TERMINAL_PHASES = ['Denied', 'NeedsEvidence', 'Succeeded', 'Failed', 'Rejected', 'Expired'];

function secondsSince(t0: number): number {
  return (performance.now() - t0) / 1000;
}

function nameOf(ctx: ScenarioContext, base: string): string {
  return ctx.suffix === '' ? base : `${base}-${ctx.suffix}`;
}

/** The egress destination the policy allows (served by the stack's egress target in veth mode). */
export function egressDestination(stack: Stack): { host: string; port: number; url: (path: string) => string } {
  const { host, port } = stack.egressDestination;
  return { host, port, url: (p) => `http://${host}:${port}${p}` };
}

export interface RunProposalOptions {
  readonly as: KubeConfig;
  readonly submitter: string;
  readonly name: string;
  readonly spec: ProposalSpecInput;
  /** Who approves when a human is required (through `m87 approve`); nobody when absent. */
  readonly approver?: 'alice' | 'bob';
  /** What the (compromised) node does to this job's Pod. */
  readonly fault?: FaultSpec;
  readonly timeoutMs?: number;
}

/** Submits one proposal and follows it to its end: decision, approval, job result (or no job). */
export async function runProposal(ctx: ScenarioContext, o: RunProposalOptions): Promise<ProposalRun> {
  const { stack } = ctx;
  const ns = stack.jobNamespace;
  if (o.fault !== undefined) stack.setFault(ns, o.name, o.fault);
  const t0 = performance.now();
  await propose(o.as, ns, o.name, o.spec);
  const decision = await waitForDecision(stack.admin, ns, o.name);
  const decidedSeconds = secondsSince(t0);
  let approval: HumanApproval | undefined;
  if (decision.spec.outcome === 'REQUIRE_HUMAN' && o.approver !== undefined) {
    await waitForProposalPhase(stack.admin, ns, o.name, ['AwaitingApproval']);
    const person = o.approver === 'alice' ? stack.alice : stack.bob;
    approval = await approveAs({ context: o.approver, kubeConfig: person }, stack.kubeconfigPath, ns, o.name);
  }
  let job: JobView | undefined;
  let podUid: string | undefined;
  let runner: RunnerReport | undefined;
  const timeoutMs = o.timeoutMs ?? 90_000;
  const minted = decision.spec.outcome === 'ALLOW' || (approval !== undefined && approval.cli.code === 0);
  if (minted) {
    job = await waitForJobResult(stack.admin, ns, o.name, timeoutMs);
    const podName = job.status?.podName;
    const pod = podName === undefined ? undefined : await getPod(stack.admin, ns, podName);
    podUid = pod?.metadata.uid;
    runner = pod === undefined || podUid === undefined ? undefined : await stack.runnerReport({ uid: podUid, name: pod.metadata.name });
  }
  const proposal = await waitForProposalPhase(stack.admin, ns, o.name, minted ? ['Succeeded', 'Failed'] : [...TERMINAL_PHASES, 'AwaitingApproval'], timeoutMs);
  return {
    name: o.name,
    submitter: o.submitter,
    proposal,
    decision,
    ...(approval !== undefined ? { approval } : {}),
    ...(job !== undefined ? { job } : {}),
    ...(podUid !== undefined ? { podUid } : {}),
    ...(runner !== undefined ? { runner } : {}),
    decidedSeconds,
    finishedSeconds: secondsSince(t0),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Rendering and checking helpers.

function short(hex: string | undefined): string {
  return hex === undefined ? '-' : `${hex.slice(0, 12)}…`;
}

export function decisionText(d: DecisionView): string {
  const codes = [...new Set(d.spec.reasons.filter((r) => r.outcome === undefined || r.outcome === d.spec.outcome).map((r) => r.code))];
  return codes.length === 0 || (codes.length === 1 && codes[0] === 'ALLOWED') ? d.spec.outcome : `${d.spec.outcome} (${codes.join(', ')})`;
}

export function jobText(run: ProposalRun): string {
  if (run.job === undefined) return run.decision.spec.outcome === 'ALLOW' || run.approval !== undefined ? 'no Job?' : 'no Job minted';
  const s = run.job.status;
  const verified = condition(run.job, 'EnvelopeVerified');
  return `${s?.phase ?? '?'}${s?.phase === 'Failed' ? ` ${s.reason ?? ''}` : ''}; EnvelopeVerified=${verified?.status ?? '?'}`;
}

class Checks {
  readonly problems: string[] = [];
  expect(ok: boolean, what: string): void {
    if (!ok) this.problems.push(what);
  }
}

function checkSucceeded(c: Checks, run: ProposalRun): void {
  c.expect(run.job?.status?.phase === 'Succeeded', `${run.name}: Job ${run.job?.status?.phase ?? 'missing'} (${run.job?.status?.message ?? ''}), expected Succeeded`);
  c.expect(condition(run.job, 'EnvelopeVerified')?.status === 'True', `${run.name}: EnvelopeVerified is not True`);
  c.expect(run.job?.status?.receipt?.status === 'Succeeded', `${run.name}: the receipt does not say Succeeded`);
  c.expect(run.proposal.status?.phase === 'Succeeded', `${run.name}: Proposal phase ${run.proposal.status?.phase ?? '?'}, expected Succeeded`);
}

function checkDecision(c: Checks, run: ProposalRun, outcome: string, code?: string): void {
  c.expect(run.decision.spec.outcome === outcome, `${run.name}: decided ${run.decision.spec.outcome}, expected ${outcome}`);
  if (code !== undefined) c.expect(run.decision.spec.reasons.some((r) => r.code === code), `${run.name}: the Decision does not name ${code}`);
}

function checkApproved(c: Checks, run: ProposalRun, approver: string): void {
  c.expect(run.approval?.cli.code === 0, `${run.name}: m87 approve as ${approver} exited ${run.approval?.cli.code ?? 'never ran'}: ${run.approval?.cli.stderr.trim() ?? ''}`);
}

export interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly run: (ctx: ScenarioContext) => Promise<ScenarioResult>;
}

function finish(
  id: string,
  title: string,
  submitter: string,
  t0: number,
  runs: ProposalRun[],
  row: { decision: string; human: string; result: string; evidence: string },
  checks: Checks,
): ScenarioResult {
  return { id, title, submitter, runs, ...row, seconds: secondsSince(t0), problems: checks.problems };
}

// ---------------------------------------------------------------------------------------------------------
// The scenarios.

/** The test report of scenario (a): run-tests is its step 1, its declared output test-report. */
export const REPORT_PATH = 'outputs/1/test-report';

/** The demo's repository, served in veth mode only (an isolated Pod reaches nothing, so no step Pod can run). */
function repositoryOf(ctx: ScenarioContext): RepositoryRef {
  const repo = ctx.stack.repository;
  if (repo === undefined) throw new Error('no demo repository (veth network mode only: an isolated Pod reaches nothing)');
  return repo;
}

export const allowedTestRun: Scenario = {
  id: 'a',
  title: 'allowed test run with an artifact',
  run: async (ctx) => {
    const t0 = performance.now();
    const spec = runTestsSpec(repositoryOf(ctx));
    const run = await runProposal(ctx, { as: ctx.stack.agents.casey, submitter: 'casey', name: nameOf(ctx, 'run-unit-tests'), spec, timeoutMs: 150_000 });
    const c = new Checks();
    checkDecision(c, run, 'ALLOW');
    checkSucceeded(c, run);
    const artifact = run.job?.status?.receipt?.artifacts.find((a) => a.path === REPORT_PATH);
    try {
      const { outputs } = await fetchJobOutputs(new M87Client(ctx.stack.admin), { namespace: ctx.stack.jobNamespace, proposal: run.name });
      const report = outputs.find((o) => o.path === REPORT_PATH);
      c.expect(report !== undefined && report.sha256 === artifact?.sha256 && report.sha256 === sha256Hex(report.bytes), `${run.name}: the stored report does not match the receipt's ${REPORT_PATH} digest`);
      c.expect(/<testsuite [^>]*failures="0"/.test(report?.bytes.toString('utf8') ?? ''), `${run.name}: the test report does not say 0 failures`);
    } catch (err) {
      c.expect(false, `${run.name}: the test report is not retrievable: ${(err as Error).message}`);
    }
    return finish('a', allowedTestRun.title, 'casey (SA)', t0, [run], {
      decision: decisionText(run.decision),
      human: '-',
      result: jobText(run),
      evidence: `${run.job?.status?.receipt?.steps.length ?? 0} steps exit 0; artifact ${REPORT_PATH} sha256 ${short(artifact?.sha256)}`,
    }, c);
  },
};

export const secretsDenied: Scenario = {
  id: 'b',
  title: 'READ_SECRETS',
  run: async (ctx) => {
    const t0 = performance.now();
    const dest = egressDestination(ctx.stack);
    const run = await runProposal(ctx, { as: ctx.stack.agents.riley, submitter: 'riley', name: nameOf(ctx, 'read-db-password'), spec: readSecretsSpec(dest.url('/report')) });
    const c = new Checks();
    checkDecision(c, run, 'DENY', 'READ_SECRETS_FORBIDDEN');
    c.expect(run.proposal.status?.phase === 'Denied', `${run.name}: Proposal phase ${run.proposal.status?.phase ?? '?'}, expected Denied`);
    const job = await getJob(ctx.stack.admin, ctx.stack.jobNamespace, run.name);
    c.expect(job === undefined, `${run.name}: a Job was minted for a denied proposal`);
    return finish('b', secretsDenied.title, 'riley (SA)', t0, [run], {
      decision: decisionText(run.decision),
      human: '-',
      result: jobText(run),
      evidence: `Proposal ${run.proposal.status?.phase ?? '?'}; nothing ran`,
    }, c);
  },
};

export const deployApproved: Scenario = {
  id: 'c',
  title: 'DEPLOY approved by a human',
  run: async (ctx) => {
    const t0 = performance.now();
    const run = await runProposal(ctx, { as: ctx.stack.bob, submitter: 'bob', name: nameOf(ctx, 'deploy-checkout-staging'), spec: deploySpec('bob', 'staging', repositoryOf(ctx)), approver: 'alice', timeoutMs: 150_000 });
    const c = new Checks();
    checkDecision(c, run, 'REQUIRE_HUMAN', 'DEPLOY_REQUIRES_HUMAN');
    checkApproved(c, run, 'alice');
    checkSucceeded(c, run);
    return finish('c', deployApproved.title, 'bob (Human profile)', t0, [run], {
      decision: decisionText(run.decision),
      human: `alice: m87 approve (exit ${run.approval?.cli.code ?? '-'})`,
      result: jobText(run),
      evidence: `approved envelope ${short(run.decision.spec.envelopeHash)} ran; ${run.job?.status?.receipt?.steps.length ?? 0} step exit 0`,
    }, c);
  },
};

export const readThenNetwork: Scenario = {
  id: 'd',
  title: 'READ_REPO then NETWORK_CALL (toxic pair)',
  run: async (ctx) => {
    const t0 = performance.now();
    const { stack } = ctx;
    const read = await runProposal(ctx, { as: stack.bob, submitter: 'bob', name: nameOf(ctx, 'read-checkout-repo'), spec: readRepoSpec('bob', repositoryOf(ctx)), timeoutMs: 150_000 });
    const dest = egressDestination(stack);
    const before = stack.egress?.requests.length ?? 0;
    const call = await runProposal(ctx, {
      as: stack.bob,
      submitter: 'bob',
      name: nameOf(ctx, 'fetch-checkout-status'),
      spec: networkCallSpec('bob', [dest.url('/status')], { host: dest.host, port: dest.port }),
      approver: 'alice',
    });
    const c = new Checks();
    checkDecision(c, read, 'ALLOW');
    checkSucceeded(c, read);
    checkDecision(c, call, 'REQUIRE_HUMAN', 'TOXIC_TOPOLOGY');
    c.expect(
      call.decision.spec.reasons.some((r) => r.code === 'TOXIC_TOPOLOGY' && r.message.includes('repo_read_then_network')),
      `${call.name}: no TOXIC_TOPOLOGY finding for repo_read_then_network`,
    );
    c.expect(call.decision.spec.challenge !== undefined, `${call.name}: the Decision carries no challenge`);
    checkApproved(c, call, 'alice');
    const arrived = (stack.egress?.requests.length ?? 0) - before;
    if (stack.network !== 'isolated') {
      checkSucceeded(c, call);
      c.expect(call.job?.status?.receipt?.usage.externalIO === 1, `${call.name}: receipt usage.externalIO is ${call.job?.status?.receipt?.usage.externalIO ?? '?'}, expected 1`);
      c.expect(arrived === 1, `${call.name}: the egress target received ${arrived} requests, expected 1`);
    } else {
      c.expect(call.job?.status?.reason === 'EGRESS_UPSTREAM_FAILED', `${call.name}: expected EGRESS_UPSTREAM_FAILED without a Pod network (isolated mode)`);
    }
    const topologies = call.decision.spec.reasons.filter((r) => r.code === 'TOXIC_TOPOLOGY').map((r) => /topology (\S+)/.exec(r.message)?.[1] ?? '?');
    return finish('d', readThenNetwork.title, 'bob (Human profile)', t0, [read, call], {
      decision: `${decisionText(read.decision)}, then ${call.decision.spec.outcome} (${topologies.join(', ')})`,
      human: `alice: m87 approve --challenge-response ${call.approval?.challengeResponse ?? '-'} (exit ${call.approval?.cli.code ?? '-'})`,
      result: `${read.job?.status?.phase ?? '?'}, then ${jobText(call)}`,
      evidence:
        stack.network !== 'isolated'
          ? `${call.job?.status?.receipt?.usage.externalIO ?? 0} external I/O via the egress gate; target saw ${arrived} GET /status`
          : 'isolated Pod network: the gate admitted the request, the kernel had no route',
    }, c);
  },
};

export const TAMPER_METHOD =
  'compromised node: the process node runs the runner image through dev/demo/node-fault-injector.ts, which hands the runner downward-API ' +
  'files whose envelope step was rewritten (the Pod object itself stays intact: admission keeps m87 annotations immutable)';

export const tamperedAnnotation: Scenario = {
  id: 'e',
  title: 'tampered Pod annotation',
  run: async (ctx) => {
    const t0 = performance.now();
    const run = await runProposal(ctx, {
      as: ctx.stack.agents.casey,
      submitter: 'casey',
      name: nameOf(ctx, 'smoke-tests-tampered'),
      spec: runTestsSpec(repositoryOf(ctx)),
      fault: { annotations: 'envelope' },
    });
    const c = new Checks();
    checkDecision(c, run, 'ALLOW');
    const receipt = run.job?.status?.receipt;
    c.expect(run.job?.status?.phase === 'Failed', `${run.name}: Job ${run.job?.status?.phase ?? 'missing'}, expected Failed`);
    c.expect(receipt?.status === 'Refused' && receipt.reasonCode === EXPECTED_REFUSAL.envelope, `${run.name}: receipt ${receipt?.status ?? '?'} ${receipt?.reasonCode ?? ''}, expected Refused ${EXPECTED_REFUSAL.envelope}`);
    c.expect(receipt?.steps.length === 0, `${run.name}: steps ran despite the refusal`);
    const verified = condition(run.job, 'EnvelopeVerified');
    c.expect(verified?.status === 'False', `${run.name}: EnvelopeVerified ${verified?.status ?? '?'}, expected False`);
    return finish('e', tamperedAnnotation.title, 'casey (SA)', t0, [run], {
      decision: decisionText(run.decision),
      human: '-',
      result: `${run.job?.status?.phase ?? '?'}; EnvelopeVerified=${verified?.status ?? '?'} (${verified?.reason ?? '?'})`,
      evidence: `annotations forged on the node; runner refused ${receipt?.reasonCode ?? '?'} before any step (${receipt?.steps.length ?? '?'} steps ran)`,
    }, c);
  },
};

export const REAL_NODE_TAMPER_METHOD =
  'compromised node on the real node: a copy of the minted job Pod whose downward-API files (envelope, DEH, signature, job UID) ' +
  'come from a ConfigMap with the envelope step rewritten, in namespace ' + 'm87-forgery' + ' (admission lets nobody but the controller put m87 annotations on a Pod)';

/** (e) on the real node, where no fault injector sits between the kubelet and the runner (dev/demo/forged-pod.ts). */
export const tamperedFilesOnRealNode: Scenario = {
  id: 'e',
  title: 'tampered envelope files',
  run: async (ctx) => {
    const t0 = performance.now();
    const { stack } = ctx;
    // The genuine job runs the repository's smoke tests as Casey, as on the process node. (As Bob, a
    // NETWORK_CALL here made his later READ_REPO in (d) the second half of a toxic pair.)
    const run = await runProposal(ctx, { as: stack.agents.casey, submitter: 'casey', name: nameOf(ctx, 'smoke-tests'), spec: runTestsSpec(repositoryOf(ctx)), timeoutMs: 150_000 });
    const c = new Checks();
    checkDecision(c, run, 'ALLOW');
    checkSucceeded(c, run);
    const pod = run.job?.status?.podName === undefined ? undefined : await getPod(stack.admin, stack.jobNamespace, run.job.status.podName);
    const forged =
      pod === undefined
        ? undefined
        : await runForgedCopy(stack.admin, { pod: pod as JobPodCopy, jobNamespace: stack.jobNamespace, namespace: 'm87-forgery', name: nameOf(ctx, 'forged-release-notes'), fault: 'envelope' });
    c.expect(forged?.phase === 'Failed', `${run.name}: the forged copy ended ${forged?.phase ?? 'missing'}, expected Failed`);
    c.expect(
      forged?.report?.status === 'Refused' && forged.report.reasonCode === EXPECTED_REFUSAL.envelope,
      `${run.name}: the runner reported ${forged?.report?.status ?? '?'} ${forged?.report?.reasonCode ?? ''}, expected Refused ${EXPECTED_REFUSAL.envelope}`,
    );
    return finish('e', tamperedFilesOnRealNode.title, 'casey (SA)', t0, [run], {
      decision: decisionText(run.decision),
      human: '-',
      result: `${run.job?.status?.phase ?? '?'}; forged copy ${forged?.phase ?? '?'}`,
      evidence: `genuine job ran; its copy with a rewritten envelope step was refused ${forged?.report?.reasonCode ?? '?'} before any step`,
    }, c);
  },
};

/**
 * (f) Real work: Casey fixes the failing test of a small repository the demo serves where Pods reach it (the
 * process node in veth mode; on the real node from a network namespace on its bridge) — checkout at
 * the pinned commit → apply the patch → pytest in the Python image — and the patch and the test report are
 * fetched like `kubectl m87 artifacts` does, each digest checked against the receipt. A patch reaching outside
 * the workspace and a tool that is not in the catalogue are denied with their reasons.
 */
export const fixFailingTest: Scenario = {
  id: 'f',
  title: 'fix the failing test: checkout → patch → pytest, outputs retrievable',
  run: async (ctx) => {
    const t0 = performance.now();
    const repo = ctx.stack.repository;
    if (repo === undefined) throw new Error('no demo repository (the process node in veth mode or the real node only: an isolated Pod reaches nothing)');
    const casey = ctx.stack.agents.casey;
    const fix = await runProposal(ctx, { as: casey, submitter: 'casey', name: nameOf(ctx, 'fix-calc-add'), spec: fixFailingTestSpec(repo, repo.fix), timeoutMs: 150_000 });
    const escaping = await runProposal(ctx, { as: casey, submitter: 'casey', name: nameOf(ctx, 'fix-calc-escape'), spec: fixFailingTestSpec(repo, ESCAPING_PATCH) });
    const uncatalogued = await runProposal(ctx, { as: casey, submitter: 'casey', name: nameOf(ctx, 'fix-calc-git-push'), spec: uncataloguedToolSpec(repo) });
    const c = new Checks();
    checkDecision(c, fix, 'ALLOW');
    checkSucceeded(c, fix);
    checkDecision(c, escaping, 'DENY', 'PATH_OUTSIDE_WORKSPACE');
    checkDecision(c, uncatalogued, 'DENY', 'TOOL_UNKNOWN');
    const toolReason = uncatalogued.decision.spec.reasons.find((r) => r.code === 'TOOL_UNKNOWN');
    c.expect(toolReason?.message.includes('steps[1].tool') === true, `${uncatalogued.name}: TOOL_UNKNOWN does not name steps[1].tool`);
    let evidence = '';
    try {
      const { outputs } = await fetchJobOutputs(new M87Client(ctx.stack.admin), { namespace: ctx.stack.jobNamespace, proposal: fix.name });
      const patch = outputs.find((o) => o.name === 'patch');
      const report = outputs.find((o) => o.name === 'test-report');
      c.expect(patch?.bytes.toString('utf8').includes('+    return a + b') === true, `${fix.name}: the patch output does not carry the fix`);
      c.expect(/<testsuite [^>]*failures="0"/.test(report?.bytes.toString('utf8') ?? ''), `${fix.name}: the test report does not say 0 failures`);
      evidence = `outputs ${outputs.map((o) => `${o.name} ${o.bytes.length} B sha256 ${short(o.sha256)}`).join(', ')}; denied: ${escaping.decision.spec.reasons.find((r) => r.code === 'PATH_OUTSIDE_WORKSPACE') ? 'PATH_OUTSIDE_WORKSPACE' : '?'}, ${toolReason ? 'TOOL_UNKNOWN' : '?'}`;
    } catch (err) {
      c.expect(false, `${fix.name}: outputs not retrievable: ${(err as Error).message}`);
    }
    return finish('f', fixFailingTest.title, 'casey (SA)', t0, [fix, escaping, uncatalogued], {
      decision: `${decisionText(fix.decision)}; ${decisionText(escaping.decision)}; ${decisionText(uncatalogued.decision)}`,
      human: '-',
      result: jobText(fix),
      evidence,
    }, c);
  },
};

export const SCENARIOS: readonly Scenario[] = [allowedTestRun, secretsDenied, deployApproved, readThenNetwork, tamperedAnnotation, fixFailingTest];

/**
 * Runs the scenarios: one lane per submitter, lanes in parallel (a submitter's proposals are decided one at
 * a time, in order, so bob's lane runs (c) before (d)). Results in scenario order.
 */
export async function runScenarios(ctx: ScenarioContext, onResult?: (r: ScenarioResult) => void): Promise<ScenarioResult[]> {
  // The real node has no fault injector: (e) forges a copy of a minted job Pod instead.
  const tamper = ctx.stack.network === 'kube-router' ? tamperedFilesOnRealNode : tamperedAnnotation;
  // (f) needs the demo's repository, served only where a Pod can reach it (veth mode, the real node); Casey's lane.
  const served = ctx.stack.repository !== undefined;
  const lanes: Scenario[][] = [[allowedTestRun, ...(served ? [fixFailingTest] : [])], [secretsDenied], [deployApproved, readThenNetwork], [tamper]];
  const results = new Map<string, ScenarioResult>();
  const runSafely = async (s: Scenario): Promise<ScenarioResult> => {
    const t0 = performance.now();
    try {
      return await s.run(ctx);
    } catch (err) {
      return {
        id: s.id,
        title: s.title,
        submitter: '-',
        runs: [],
        decision: '-',
        human: '-',
        result: 'error',
        evidence: err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err),
        seconds: secondsSince(t0),
        problems: [`${s.id}: ${err instanceof Error ? err.message : String(err)}`],
      };
    }
  };
  await Promise.all(
    lanes.map(async (lane) => {
      for (const s of lane) {
        const r = await runSafely(s);
        results.set(s.id, r);
        onResult?.(r);
      }
    }),
  );
  return SCENARIOS.filter((s) => results.has(s.id)).map((s) => results.get(s.id)!);
}
