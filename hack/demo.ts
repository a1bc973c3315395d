// npm run demo [-- --keep | --down]: the whole M87 flow on this machine. Brings up the local control plane,
// installs charts/m87 (CRDs, policy, profiles, RBAC, admission policies), runs the controller and the process
// node as child processes, lets agents (real ServiceAccount tokens) and people propose, has alice approve
// through `m87 approve`, and prints what became of each proposal. Then tears everything down, or with --keep
// leaves it running (`npm run demo -- --down` stops it later). Exit code 0 only when every scenario ended as
// expected. Needs root (the process node creates network namespaces).
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { REPO_ROOT, readVersions, resolveBinary } from '../dev/cluster/binaries.ts';
import { startControlPlane, type ControlPlane } from '../dev/cluster/plane.ts';
import { destroyPlane, destroyPlaneSync } from '../dev/cluster/state.ts';
import { scrapeMetrics } from '../dev/demo/metrics.ts';
import { propose, waitForProposalPhase } from '../dev/demo/observe.ts';
import { onProcessExit, stopPid } from '../dev/demo/processes.ts';
import { deploySpec } from '../dev/demo/proposals.ts';
import { REAL_NODE_TAMPER_METHOD, runScenarios, TAMPER_METHOD, type ScenarioResult } from '../dev/demo/scenarios.ts';
import { startRealStack } from '../dev/demo/real-stack.ts';
import { HOST_ADDRESS } from '../dev/cluster/real-node/network.ts';
import { checkRealNodePrerequisites, RealNodeUnavailableError } from '../dev/cluster/real-node/prerequisites.ts';
import { startRealNode, type RealNode } from '../dev/cluster/real-node/real-node.ts';
import { AGENT_NAMESPACE, startStack, type Stack } from '../dev/demo/stack.ts';
import { renderTable } from '../dev/demo/table.ts';

const USAGE = `usage: npm run demo [-- --keep | --down] [--network veth|isolated] [--node process|real]

  (none)     run the demo and tear everything down
  --keep     leave the control plane, controller and process node running, print how to use them
  --down     stop what an earlier --keep left running
  --network  job Pod networking of the process node: veth (NetworkPolicy egress via nftables; the default
             when the nft tool exists) or isolated (no network at all)
  --node     where job Pods run: process (the process node, default) or real (containerd, kubelet and
             kube-router on this machine, the m87 image and the shipped tools' images built offline, the
             controller in-cluster as the chart's Deployment, step Pods of (f) in real containers; falls
             back to the process node, saying why, where it cannot start)

Scenarios: (a) allowed test run, (b) secrets denied, (c) deploy approved, (d) read then network,
(e) tampering, (f) fix the failing test (checkout → patch → pytest, outputs via kubectl m87 artifacts;
veth mode or the real node, where a Pod can reach the demo's git server).
`;

const JOB_NAMESPACE = 'm87-jobs';
const PENDING_PROPOSAL = 'deploy-checkout-production';
const t0 = performance.now();
const elapsed = (): string => `${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s`;
const progress = (line: string): void => {
  process.stderr.write(`m87 demo [${elapsed()}] ${line}\n`);
};
const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

/** Where --keep leaves its state: one per checkout. */
function keepDir(): string {
  const base = process.env.XDG_RUNTIME_DIR !== undefined && process.env.XDG_RUNTIME_DIR !== '' ? process.env.XDG_RUNTIME_DIR : tmpdir();
  return join(base, `m87-demo-${createHash('sha256').update(REPO_ROOT).digest('hex').slice(0, 8)}`);
}

interface KeptState {
  planeDir: string;
  workDir: string;
  kubeconfig: string;
  controllerPid: number;
  nodePid: number;
}

async function down(): Promise<number> {
  const stateFile = join(keepDir(), 'demo.json');
  if (!existsSync(stateFile)) {
    progress(`nothing to stop (no ${stateFile})`);
    return 0;
  }
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as KeptState;
  if (await stopPid(state.controllerPid, 'controller')) progress(`stopped the controller (pid ${state.controllerPid})`);
  if (await stopPid(state.nodePid, 'dev/process-node/cli.ts', 20_000)) progress(`stopped the process node (pid ${state.nodePid})`);
  const killed = await destroyPlane(state.planeDir);
  progress(`stopped the control plane${killed.length > 0 ? ` (pids ${killed.join(', ')})` : ''}`);
  rmSync(keepDir(), { recursive: true, force: true });
  progress('removed the demo state');
  return 0;
}

/** The runner's envelope verification time, or (refused before it finished) when it refused. */
function runnerTime(run: ScenarioResult['runs'][number]): string | undefined {
  const v = run.runner?.verifyMs;
  if (typeof v === 'number') return `${v.toFixed(1)} ms`;
  const receipt = run.job?.status?.receipt;
  if (receipt?.status === 'Refused') return `refused after ${receipt.usage.runtimeMs} ms`;
  return undefined;
}

function scenarioRows(results: readonly ScenarioResult[]): string[][] {
  return results.map((r) => [
    `${r.problems.length === 0 ? '✔' : '✘'} ${r.id}`,
    `${r.title} — ${r.submitter}`,
    r.decision,
    r.human,
    `${r.result}. ${r.evidence}`,
    r.runs.map(runnerTime).filter((t) => t !== undefined).join(', ') || '-',
    r.runs.map((run) => `${run.decidedSeconds.toFixed(1)} → ${run.finishedSeconds.toFixed(1)} s`).join(', '),
  ]);
}

async function printMetrics(stack: Stack): Promise<void> {
  const m = await scrapeMetrics(stack.metricsUrl);
  const by = (name: string, label: string, values: readonly string[]): string =>
    values
      .map((v) => [v, m.value(name, { [label]: v })] as const)
      .filter(([, n]) => n > 0)
      .map(([v, n]) => `${v}=${n}`)
      .join(' ') || '0';
  out(`controller ${stack.metricsUrl}:`);
  out(`  m87_proposals_total                ${by('m87_proposals_total', 'outcome', ['ALLOW', 'DENY', 'REQUIRE_HUMAN', 'NEED_MORE_EVIDENCE'])}`);
  out(`  m87_approvals_total                ${by('m87_approvals_total', 'state', ['Accepted', 'Rejected'])}`);
  out(`  m87_jobs_total                     ${by('m87_jobs_total', 'result', ['Succeeded', 'Failed'])}`);
  out(`  m87_envelope_verifications_total   ${by('m87_envelope_verifications_total', 'result', ['verified', 'refused', 'mismatch', 'invalid', 'missing'])}`);
  const topologies = m.samples.filter((s) => s.name === 'm87_topology_hits_total' && s.value > 0).map((s) => `${s.labels.topology ?? '?'}=${s.value}`);
  out(`  m87_topology_hits_total            ${topologies.join(' ') || '0'}`);
}

/** With --keep: one more DEPLOY for the reader to approve, left AwaitingApproval. */
async function leavePending(stack: Stack): Promise<void> {
  await propose(stack.bob, JOB_NAMESPACE, PENDING_PROPOSAL, deploySpec('bob', 'production', stack.repository ?? stack.egressDestination));
  await waitForProposalPhase(stack.admin, JOB_NAMESPACE, PENDING_PROPOSAL, ['AwaitingApproval']);
}

function keepInstructions(plane: ControlPlane, stack: Stack, workDir: string): void {
  // kubectl finds plugins as kubectl-<name> executables on PATH.
  const pluginDir = join(workDir, 'bin');
  mkdirSync(pluginDir, { recursive: true });
  rmSync(join(pluginDir, 'kubectl-m87'), { force: true });
  symlinkSync(join(REPO_ROOT, 'bin', 'm87'), join(pluginDir, 'kubectl-m87'));
  const kubectlDir = dirname(resolveBinary('kubectl'));
  out('');
  out('Left running (--keep). Point kubectl at it:');
  out(`  export KUBECONFIG=${plane.kubeconfigPath}`);
  out(`  export PATH=${pluginDir}:${kubectlDir}:$PATH   # kubectl ${readVersions().kubernetes} and the kubectl-m87 plugin`);
  out('  kubectl get m87 -A');
  out('  kubectl m87 pending -A');
  out(`  kubectl m87 approve ${PENDING_PROPOSAL} -n ${JOB_NAMESPACE} --context alice   # bob's DEPLOY is waiting for you`);
  out(`Contexts: admin, alice and bob (approvers), viewer. Agents are ServiceAccounts in ${AGENT_NAMESPACE}.`);
  out(`Logs: ${workDir}/controller.log, ${workDir}/process-node.log. Metrics: ${stack.metricsUrl}`);
  out('The egress target stopped with the demo: jobs that call it now fail upstream.');
  out('Stop everything: npm run demo -- --down');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { keep: { type: 'boolean' }, down: { type: 'boolean' }, network: { type: 'string' }, node: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help === true) {
    out(USAGE);
    return 0;
  }
  if (values.down === true) return down();
  const network = values.network ?? 'auto';
  if (network !== 'auto' && network !== 'veth' && network !== 'isolated') {
    process.stderr.write(`m87 demo: --network must be veth or isolated\n\n${USAGE}`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('m87 demo: must run as root (the process node runs job Pods in their own network namespaces)\n');
    return 2;
  }
  const keep = values.keep === true;
  const nodeKind = values.node ?? 'process';
  if (nodeKind !== 'process' && nodeKind !== 'real') {
    process.stderr.write(`m87 demo: --node must be process or real\n\n${USAGE}`);
    return 2;
  }
  if (nodeKind === 'real' && keep) {
    process.stderr.write('m87 demo: --keep works with the process node only (run `npm run cluster -- up --node real` for a real node that stays)\n');
    return 2;
  }
  let wantRealNode = nodeKind === 'real';
  if (wantRealNode) {
    try {
      checkRealNodePrerequisites();
    } catch (err) {
      if (!(err instanceof RealNodeUnavailableError)) throw err;
      progress(`the real node cannot start here: ${err.message}; using the process node`);
      wantRealNode = false;
    }
  }
  if (keep && existsSync(join(keepDir(), 'demo.json'))) {
    process.stderr.write(`m87 demo: an earlier --keep demo is still there (${keepDir()}); stop it first: npm run demo -- --down\n`);
    return 2;
  }

  // Ctrl-C: exit through the exit hooks (they stop the plane, the children and the egress target's link).
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      interrupted = true;
      progress(`${signal}: stopping everything`);
      process.exit(130);
    });
  }
  progress(`starting the local control plane (Kubernetes ${readVersions().kubernetes})`);
  if (keep) mkdirSync(keepDir(), { recursive: true, mode: 0o711 });
  const plane = await startControlPlane({
    onProgress: (line) => progress(`  ${line}`),
    ...(keep ? { stateDir: join(keepDir(), 'plane'), persistent: true } : {}),
    // The real node's Pods (the in-cluster controller) reach the API server at the host's bridge address.
    ...(wantRealNode ? { podNetworkAddress: HOST_ADDRESS } : {}),
  });
  let realNode: RealNode | undefined;
  if (wantRealNode) {
    try {
      progress('starting the real node (containerd, kubelet, kube-router)');
      realNode = await startRealNode({ plane, onProgress: (line) => progress(`  ${line}`) });
      progress(`  real node ${realNode.nodeName} up (${realNode.startSeconds.toFixed(1)} s)`);
    } catch (err) {
      progress(`the real node could not start: ${(err instanceof Error ? err.message : String(err)).split('\n')[0] ?? ''}; using the process node`);
    }
  }
  const workDir = keep ? join(keepDir(), 'work') : mkdtempSync(join(tmpdir(), 'm87-demo-'));
  let stack: Stack | undefined;
  let ok = false;
  let kept = false;
  if (!keep) onProcessExit(() => interrupted && rmSync(workDir, { recursive: true, force: true }));
  // --keep detaches the plane and the children; until the demo finished, an interruption must not leave them.
  if (keep) {
    onProcessExit(() => {
      if (kept) return;
      for (const child of [stack?.controller, stack?.node]) if (child !== undefined && child.exit() === undefined) process.kill(child.pid, 'SIGTERM');
      destroyPlaneSync(plane.stateDir, []);
    });
  }
  try {
    // A node name and Pod pool of our own: another process node on this host (a kept demo, a test run) keeps its namespaces.
    const id = randomBytes(2).toString('hex');
    stack = realNode !== undefined
      ? await startRealStack({ kubeconfigPath: plane.kubeconfigPath, node: realNode, jobNamespace: JOB_NAMESPACE, onProgress: (line) => progress(`  ${line}`) })
      : await startStack({
      kubeconfigPath: plane.kubeconfigPath,
      workDir,
      jobNamespace: JOB_NAMESPACE,
      nodeName: `m87-demo-${id}`,
      podCidr: `10.236.${randomInt(0, 256)}.0/24`,
      detached: keep,
      network,
      onProgress: (line) => progress(`  ${line}`),
    });
    progress('running the scenarios (one lane per submitter, lanes in parallel)');
    const results = await runScenarios({ stack, suffix: '' }, (r) =>
      progress(`  ${r.problems.length === 0 ? 'ok  ' : 'FAIL'} (${r.id}) ${r.title}: ${r.result} (${r.seconds.toFixed(1)} s)`),
    );
    out('');
    out(
      renderTable(
        [
          { header: '#', maxWidth: 3 },
          { header: 'Scenario — submitted by', maxWidth: 24 },
          { header: 'Decision (reasons)', maxWidth: 30 },
          { header: 'Human step', maxWidth: 24 },
          { header: 'Job and evidence', maxWidth: 44 },
          { header: 'Runner verify', maxWidth: 13 },
          { header: 'Decided → done', maxWidth: 14 },
        ],
        scenarioRows(results),
      ),
    );
    out('Times are seconds from submission (approval included). Runner verify: the final container check of the strict envelope schema, DEH and signature.');
    out(`(e) tampering: ${stack.network === 'kube-router' ? REAL_NODE_TAMPER_METHOD : TAMPER_METHOD}.`);
    out(`Node: ${stack.nodeDescription}${realNode !== undefined ? '; controller in-cluster (the chart\'s Deployment: leader election, probes, restricted security context)' : '; controller as a local process'}.`);
    const target = `${stack.egressDestination.host}:${stack.egressDestination.port}`;
    out(
      `Network: ${stack.network}${
        stack.network === 'veth'
          ? ` (NetworkPolicy egress enforced with nftables; egress target ${target})`
          : stack.network === 'kube-router'
            ? ` (NetworkPolicy enforced by kube-router; egress target ${target} and the git server ${stack.repository ? `${stack.repository.destination.host}:${stack.repository.destination.port}` : '-'}, a network namespace on the node's bridge)`
            : ' (nft missing: Pods have no network at all)'
      }.`,
    );
    realNode?.failIfCrashed();
    out('');
    await printMetrics(stack);
    const problems = results.flatMap((r) => r.problems);
    ok = problems.length === 0;
    out('');
    if (ok) out(`All ${results.length} scenarios ended as expected.`);
    else {
      out(`${problems.length} unexpected outcome(s):`);
      for (const p of problems) out(`  - ${p}`);
      out(realNode !== undefined ? `Logs: the real node's ${realNode.logDir}; the controller: kubectl -n m87-system logs deploy/m87-controller` : `Logs: ${workDir}/controller.log, ${workDir}/process-node.log`);
    }
    if (keep) {
      await stack.egress?.stop();
      await leavePending(stack);
      writeFileSync(
        join(keepDir(), 'demo.json'),
        JSON.stringify({ planeDir: plane.stateDir, workDir, kubeconfig: plane.kubeconfigPath, controllerPid: stack.controller?.pid ?? 0, nodePid: stack.node?.pid ?? 0 } satisfies KeptState, null, 2),
      );
      keepInstructions(plane, stack, workDir);
      kept = true;
    }
  } finally {
    if (!keep || stack === undefined) {
      progress(`tearing down: ${realNode !== undefined ? 'the real node' : 'controller, process node'}, control plane, temporary state`);
      await stack?.stop().catch((err: unknown) => progress(`  stopping the stack failed: ${String(err)}`));
      if (realNode !== undefined) {
        const report = await realNode.stop();
        progress(`  real node down (${report.seconds.toFixed(1)} s)${report.problems.length > 0 ? `; left behind: ${report.problems.join('; ')}` : ''}`);
        if (report.problems.length > 0) ok = false;
      }
      await plane.stop();
      if (ok) rmSync(keep ? keepDir() : workDir, { recursive: true, force: true });
      else progress(`logs kept in ${workDir}`);
    }
  }
  out(`Wall time: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return ok ? 0 : 1;
}

// Exit explicitly: idle HTTP keep-alive connections to the API server must not hold the process (with --keep,
// what keeps running runs detached).
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`m87 demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
