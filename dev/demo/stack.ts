// The M87 stack on a running cluster (the local control plane), for `npm run demo` and the e2e tier: the Helm
// chart (CRDs, policy, profiles, RBAC, admission policies, job namespace), the agents' ServiceAccounts, the
// controller and the process node as child processes, and an egress target job Pods may be allowed to reach.
// Dev/test only: the process node runs as root and the node's image map routes the runner image through the
// fault injector, so tests can play a compromised node for the jobs they name.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION } from '../../src/api/group.ts';
import { withOwnConnections, type PooledKubeConfig } from '../../src/runtime/connection-pool.ts';
import { REPO_ROOT } from '../cluster/binaries.ts';
import { waitUntil } from '../cluster/probe.ts';
import { serviceAccountKubeConfig, serviceAccountUsername } from '../cluster/service-account.ts';
import { RUNNER_IMAGE_PATTERNS, type ImageMapping } from '../process-node/image-map.ts';
import { podLayout } from '../process-node/pod-layout.ts';
import { isNotFound, kubeRequest } from '../../src/runtime/kube-http.ts';
import { waitForAdmissionPolicies } from '../security/admission-ready.ts';
import { egressTargetAddress, startEgressTarget, type EgressTarget } from './egress-target.ts';
import { makePythonRepo, startGitHttpServer, type GitHttpServer } from './git-http-server.ts';
import { toolImageMap } from '../process-node/tool-images.ts';
import type { FaultPlan, FaultSpec } from './faults.ts';
import { helmUpgradeInstall } from './helm.ts';
import { startChild, type ChildProcessHandle } from './processes.ts';

export const RELEASE = 'm87';
export const CONTROLLER_NAMESPACE = 'm87-system';
export const CONTROLLER_SERVICE_ACCOUNT = 'm87-controller';
/** The shipped AgentProfiles name these ServiceAccounts as their subjects. */
export const AGENT_NAMESPACE = 'm87-agents';
export const AGENTS = ['casey', 'jordan', 'riley'] as const;
export type Agent = (typeof AGENTS)[number];
/**
 * People who act as the shipped `human` AgentProfile (they may propose what no agent profile allows). The
 * demo's proposals are bob's; the e2e tier's egress tests are alice's, so that their session histories
 * (toxic pairs within 300 s) never mix, whatever order the test files run in.
 */
export const HUMAN_SUBMITTERS = ['bob', 'alice'] as const;
export const RUNNER_CONTAINER = 'runner';

const CLI_MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts');
const NODE_CLI = join(REPO_ROOT, 'dev', 'process-node', 'cli.ts');
const INJECTOR = join(REPO_ROOT, 'dev', 'demo', 'node-fault-injector.ts');

/** 'kube-router': job Pods on the real node (dev/cluster/real-node), NetworkPolicy enforced by kube-router. */
export type NetworkMode = 'veth' | 'isolated' | 'kube-router';

export interface StackOptions {
  /** The cluster's kubeconfig with the contexts admin, alice and bob (the local plane's). */
  readonly kubeconfigPath: string;
  /** Logs, the node's state, kubeconfigs and the fault plan go here (created; must be kept while running). */
  readonly workDir: string;
  /** Where agents propose and job Pods run (the chart creates it, Pod Security restricted). */
  readonly jobNamespace: string;
  readonly nodeName: string;
  /** The process node's Pod address pool; the egress target takes its first address. */
  readonly podCidr: string;
  /** 'veth' (NetworkPolicy egress through nftables) when the nft tool exists, else 'isolated'. Default auto. */
  readonly network?: NetworkMode | 'auto';
  /** Children survive this process (`demo --keep`). Default false. */
  readonly detached?: boolean;
  readonly logLevel?: string;
  /** Progress lines with timings. */
  readonly onProgress?: (line: string) => void;
}

export interface DemoRepository {
  readonly url: string;
  readonly commit: string;
  readonly fix: string;
  readonly destination: { readonly host: string; readonly port: number };
  readonly server: GitHttpServer;
}

export interface RunnerReport {
  status?: string;
  reasonCode?: string;
  /** Envelope verification time inside the runner, in milliseconds. */
  verifyMs?: number | null;
  egress?: { allowed: number; refused: number; records: unknown[] } | null;
}

export interface Stack {
  readonly kubeconfigPath: string;
  readonly jobNamespace: string;
  readonly nodeName: string;
  readonly network: NetworkMode;
  readonly admin: KubeConfig;
  readonly alice: KubeConfig;
  readonly bob: KubeConfig;
  readonly agents: Readonly<Record<Agent, KubeConfig>>;
  /** http://127.0.0.1:<port>/metrics of the controller. */
  readonly metricsUrl: string;
  readonly podCidr: string;
  /** The one destination the policy's allowedEgress lists (the Pod pool's reserved first address). */
  readonly egressDestination: { readonly host: string; readonly port: number };
  /** The HTTP server at egressDestination (veth mode only: an isolated Pod has no route to anything). */
  readonly egress: EgressTarget | undefined;
  /**
   * The small Python repository the fix-the-failing-test scenario checks out (veth mode and the real node):
   * served over git smart HTTP at the egress target's address (the one a Pod can reach), its commit with one
   * failing test, and the patch that fixes it. The policy's allowedEgress lists it too.
   */
  readonly repository: DemoRepository | undefined;
  /** The controller and the process node as local processes; absent on the real node (the controller runs in-cluster). */
  readonly controller: ChildProcessHandle | undefined;
  readonly node: ChildProcessHandle | undefined;
  readonly nodeStateDir: string;
  /** Where job Pods run, for the demo's table (e.g. "process node m87-demo-1a2b" or "real node … (containerd …)"). */
  readonly nodeDescription: string;
  /** Makes the node present `fault` to the Pod of job namespace/name (set it before the Job is minted); the real node cannot. */
  setFault(namespace: string, job: string, fault: FaultSpec): void;
  /** The runner's JSON report line from a job Pod's stdout (the node's state dir, or the Pod's log through the API server). */
  runnerReport(pod: { uid: string; name: string }): RunnerReport | undefined | Promise<RunnerReport | undefined>;
  /** Stops the controller, the node and the egress target (the cluster and what the chart installed stay). */
  stop(): Promise<void>;
}

/** The runner's JSON report: the last line of its stdout that carries verifyMs. */
export function parseRunnerReport(stdout: string): RunnerReport | undefined {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{') && l.includes('"verifyMs"'));
  return line === undefined ? undefined : (JSON.parse(line) as RunnerReport);
}

function nftAvailable(): boolean {
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

export async function step<T>(progress: (line: string) => void, what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await fn();
  progress(`${what} (${seconds(t0)})`);
  return result;
}

/** Helm values for the local stack. */
export function chartValues(jobNamespace: string): Record<string, unknown> {
  return {
    // There is no container runtime: the controller runs as a local process with the chart's ServiceAccount
    // token; the Deployment's Pod must never be scheduled (the process node would try to run it).
    controller: { nodeSelector: { 'm87.io/never-scheduled': 'true' } },
    agentProfiles: { profiles: { human: { enabled: true, subjects: [...HUMAN_SUBMITTERS] } } },
    agents: {
      namespaces: [{ namespace: jobNamespace, users: [...AGENTS.map((a) => serviceAccountUsername(AGENT_NAMESPACE, a)), ...HUMAN_SUBMITTERS] }],
    },
    jobNamespaces: [jobNamespace],
  };
}

export async function ensureNamespace(admin: KubeConfig, name: string): Promise<void> {
  try {
    await kubeRequest(admin, { method: 'POST', path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

export async function canCreateProposals(kc: KubeConfig, namespace: string): Promise<boolean> {
  const review = await kubeRequest<{ status?: { allowed?: boolean } }>(kc, {
    method: 'POST',
    path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { group: 'governance.m87.io', resource: 'proposals', verb: 'create', namespace } },
    },
  });
  return review.status?.allowed === true;
}

export async function allowEgressTo(admin: KubeConfig, targets: readonly { host: string; port: number }[]): Promise<void> {
  // The chart has no value for the policy's allowedEgress; an admin edits the installed policy.
  await kubeRequest(admin, {
    method: 'PATCH',
    path: `/apis/${API_VERSION}/governancepolicies/default`,
    contentType: 'application/merge-patch+json',
    body: { spec: { envelope: { allowedEgress: targets.map((t) => ({ host: t.host, port: t.port })) } } },
  });
}

async function nodeReady(admin: KubeConfig, name: string): Promise<boolean> {
  try {
    const node = await kubeRequest<{ status?: { conditions?: { type: string; status: string }[] } }>(admin, { method: 'GET', path: `/api/v1/nodes/${name}` });
    return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

function failIfExited(child: ChildProcessHandle): void {
  const exit = child.exit();
  if (exit !== undefined) {
    throw new Error(`${child.name} exited (${exit.signal ?? `code ${String(exit.code)}`}); last log lines (${child.logFile}):\n${child.log().trimEnd().split('\n').slice(-20).join('\n')}`);
  }
}

function writeJsonAtomically(file: string, value: unknown): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2), { mode: 0o644 });
  renameSync(tmp, file);
}

interface StartContext {
  readonly opts: StackOptions;
  readonly progress: (line: string) => void;
  readonly admin: KubeConfig;
  readonly logLevel: string;
  readonly network: NetworkMode;
  /** Everything started so far, for cleanup when the start fails. */
  readonly children: ChildProcessHandle[];
  egress: EgressTarget | undefined;
  repository: DemoRepository | undefined;
}

/** The process node as a child process, until its Node is Ready. Independent of the chart. */
async function startNode(c: StartContext, planFile: string, nodeStateDir: string): Promise<ChildProcessHandle> {
  const { opts } = c;
  const imageMapFile = join(opts.workDir, 'image-map.json');
  const imageMap: ImageMapping[] = RUNNER_IMAGE_PATTERNS.map((image) => ({
    image,
    executables: { m87: [process.execPath, INJECTOR, planFile, CLI_MAIN] },
    entrypoint: ['m87'],
    // Step Pods: install-runner links the checkout's runner; step containers run it (dev/process-node/README.md).
    env: { M87_RUNNER_DELIVERY: 'link' },
    deliveredRunner: true,
  }));
  // The shipped tool images (git, python + pytest, curl) stand in with host programs, for step Pods.
  // Their step containers run the delivered runner through the fault injector too: a compromised node shows
  // every container of a targeted Pod the same forgery.
  if (c.network === 'veth') imageMap.push(...toolImageMap(join(opts.workDir, 'tools')).map((m) => ({ ...m, deliveredRunnerPrefix: [process.execPath, INJECTOR, planFile, CLI_MAIN] })));
  writeFileSync(imageMapFile, JSON.stringify(imageMap, null, 2), { mode: 0o644 });
  return step(c.progress, `process node ${opts.nodeName} (network ${c.network}${c.network === 'veth' ? `, pool ${opts.podCidr}` : ''}) Ready`, async () => {
    const child = await startChild({
      name: 'process-node',
      argv: [
        process.execPath,
        NODE_CLI,
        ...['--kubeconfig', opts.kubeconfigPath, '--context', 'admin', '--node-name', opts.nodeName, '--state-dir', nodeStateDir],
        ...['--network', c.network, '--pod-cidr', opts.podCidr, '--image-map', imageMapFile, '--delete-node-on-stop', '--log-level', c.logLevel],
      ],
      logFile: join(opts.workDir, 'process-node.log'),
      detached: opts.detached === true,
    });
    c.children.push(child);
    await waitUntil(async () => ((await nodeReady(c.admin, opts.nodeName)) ? true : undefined), {
      what: `Node ${opts.nodeName} Ready`,
      timeoutMs: 60_000,
      intervalMs: 100,
      abortIf: () => failIfExited(child),
    });
    return child;
  });
}

/** The controller as a child process with the chart's ServiceAccount token, until it leads and is ready. */
async function startControllerProcess(c: StartContext): Promise<{ controller: ChildProcessHandle; metricsUrl: string }> {
  const { opts } = c;
  return step(c.progress, `controller (local process, ServiceAccount ${CONTROLLER_NAMESPACE}/${CONTROLLER_SERVICE_ACCOUNT}) leading and ready`, async () => {
    const saKc = await serviceAccountKubeConfig(c.admin, CONTROLLER_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT, { expirationSeconds: 24 * 3600 });
    const kubeconfigFile = join(opts.workDir, 'controller.kubeconfig');
    writeFileSync(kubeconfigFile, saKc.exportConfig(), { mode: 0o600 });
    const child = await startChild({
      name: 'controller',
      argv: [process.execPath, CLI_MAIN, 'controller', '--kubeconfig', kubeconfigFile, '--namespace', CONTROLLER_NAMESPACE, '--metrics-addr', '127.0.0.1:0', '--log-level', c.logLevel],
      logFile: join(opts.workDir, 'controller.log'),
      detached: opts.detached === true,
    });
    c.children.push(child);
    const url = (await child.waitForLog(/serving metrics on (http:\/\/\S+\/metrics)/, 60_000))[1] ?? '';
    await waitUntil(
      async () => {
        const body = await (await fetch(url)).text();
        const ready = (await fetch(url.replace(/\/metrics$/, '/readyz'))).status === 200;
        return ready && /^m87_leader 1$/m.test(body) ? true : undefined;
      },
      { what: 'the controller to lead and be ready', timeoutMs: 60_000, intervalMs: 100, abortIf: () => failIfExited(child) },
    );
    return { controller: child, metricsUrl: url };
  });
}

/** The agents' ServiceAccounts with TokenRequest tokens, then admission policies in force and RBAC effective for everyone who proposes. */
export async function setUpAgents(
  progress: (line: string) => void,
  admin: KubeConfig,
  pooled: (kc: KubeConfig) => KubeConfig,
  jobNamespace: string,
  people: { alice: KubeConfig; bob: KubeConfig },
): Promise<Record<Agent, KubeConfig>> {
  const { alice, bob } = people;
  const opts = { jobNamespace };
  const agents = await step(progress, `agent ServiceAccounts ${AGENTS.map((a) => `${AGENT_NAMESPACE}/${a}`).join(', ')} with TokenRequest tokens`, async () => {
    await ensureNamespace(admin, AGENT_NAMESPACE);
    const entries = await Promise.all(AGENTS.map(async (a): Promise<[Agent, KubeConfig]> => [a, pooled(await serviceAccountKubeConfig(admin, AGENT_NAMESPACE, a))]));
    return Object.fromEntries(entries) as Record<Agent, KubeConfig>;
  });
  await step(progress, 'admission policies in force, RBAC bindings effective', async () => {
    await waitForAdmissionPolicies(admin, { namespace: opts.jobNamespace, jobNamespace: opts.jobNamespace }, { timeoutMs: 60_000 });
    for (const [who, kc] of [...Object.entries(agents), ['bob', bob], ['alice', alice]] as const) {
      await waitUntil(async () => ((await canCreateProposals(kc, opts.jobNamespace)) ? true : undefined), {
        what: `${who} may create Proposals in ${opts.jobNamespace}`,
        timeoutMs: 30_000,
        intervalMs: 100,
      });
    }
  });
  return agents;
}

/** Chart, agents, admission and RBAC in force, egress allowed, then the controller. */
async function installAndStartController(c: StartContext, pooled: (kc: KubeConfig) => KubeConfig, people: { alice: KubeConfig; bob: KubeConfig }) {
  const { opts, progress, admin } = c;
  await step(progress, `helm upgrade --install ${RELEASE} charts/m87 (CRDs, policy, profiles, RBAC, admission policies, namespace ${opts.jobNamespace})`, () =>
    helmUpgradeInstall({ kubeconfigPath: opts.kubeconfigPath, context: 'admin', release: RELEASE, namespace: CONTROLLER_NAMESPACE, values: chartValues(opts.jobNamespace) }),
  );
  const agents = await setUpAgents(progress, admin, pooled, opts.jobNamespace, people);
  let egressDestination = { host: egressTargetAddress(opts.podCidr), port: 80 };
  if (c.network === 'veth') {
    c.egress = await step(progress, `egress target: HTTP server on ${egressDestination.host} (the Pod pool's reserved first address)`, () =>
      startEgressTarget({ podCidr: opts.podCidr }),
    );
    egressDestination = { host: c.egress.host, port: c.egress.port };
    c.repository = await step(progress, `git repository: smart HTTP on ${egressDestination.host} (a Python project with one failing test)`, async () => {
      const dir = join(opts.workDir, 'git', 'calc');
      mkdirSync(dir, { recursive: true });
      const { commit, fix } = makePythonRepo(dir);
      const server = await startGitHttpServer(join(opts.workDir, 'git'), { host: egressDestination.host, addressExists: true });
      return { url: server.url('calc'), commit, fix, destination: { host: server.host, port: server.port }, server };
    });
  }
  const allowed = [egressDestination, ...(c.repository ? [c.repository.destination] : [])];
  await step(progress, `policy default: allowedEgress ${allowed.map((d) => `${d.host}:${d.port}`).join(', ')} (admin edit; the chart has no value for it)`, () =>
    allowEgressTo(admin, allowed),
  );
  return { agents, egressDestination, ...(await startControllerProcess(c)) };
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const progress = opts.onProgress ?? (() => undefined);
  // The runtime pools connections per KubeConfig; a view with its own pool per identity lets the stack
  // close exactly its connections when it stops.
  const pools: PooledKubeConfig[] = [];
  const pooled = (kc: KubeConfig): PooledKubeConfig => {
    const p = withOwnConnections(kc);
    pools.push(p);
    return p;
  };
  const human = (context: string): KubeConfig => {
    const kc = new KubeConfig();
    kc.loadFromFile(opts.kubeconfigPath);
    kc.setCurrentContext(context);
    return pooled(kc);
  };
  const closePools = (): Promise<unknown> => Promise.all(pools.map((p) => p.closePool()));
  const admin = human('admin');
  const alice = human('alice');
  const bob = human('bob');
  const network: NetworkMode = opts.network === undefined || opts.network === 'auto' ? (nftAvailable() ? 'veth' : 'isolated') : opts.network;
  // Pods run as uid 65532 and must reach their files below the work dir.
  mkdirSync(opts.workDir, { recursive: true });
  chmodSync(opts.workDir, 0o711);
  const c: StartContext = { opts, progress, admin, logLevel: opts.logLevel ?? 'info', network, children: [], egress: undefined, repository: undefined };
  const nodeStateDir = join(opts.workDir, 'node');
  const planFile = join(opts.workDir, 'faults.json');
  writeJsonAtomically(planFile, {});

  // The node needs nothing from the chart: it starts while the chart installs.
  const [nodeStart, controlStart] = await Promise.allSettled([startNode(c, planFile, nodeStateDir), installAndStartController(c, pooled, { alice, bob })]);
  if (nodeStart.status === 'rejected' || controlStart.status === 'rejected') {
    for (const child of c.children.reverse()) await child.stop().catch(() => undefined);
    await c.egress?.stop();
    await c.repository?.server.stop();
    await closePools();
    throw nodeStart.status === 'rejected' ? nodeStart.reason : (controlStart as PromiseRejectedResult).reason;
  }
  const node = nodeStart.value;
  const { agents, egressDestination, controller, metricsUrl } = controlStart.value;
  const egress = c.egress;
  const repository = c.repository;

  const plan: FaultPlan = {};
  let stopping: Promise<void> | undefined;
  return {
    kubeconfigPath: opts.kubeconfigPath,
    jobNamespace: opts.jobNamespace,
    nodeName: opts.nodeName,
    network,
    podCidr: opts.podCidr,
    egressDestination,
    admin,
    alice,
    bob,
    agents,
    metricsUrl,
    egress,
    repository,
    controller,
    node,
    nodeStateDir,
    nodeDescription: `process node ${opts.nodeName} (network ${network})`,
    setFault(namespace, job, fault) {
      plan[`${namespace}/${job}`] = fault;
      writeJsonAtomically(planFile, plan);
    },
    runnerReport(pod) {
      const file = podLayout(nodeStateDir, pod.uid).stdoutLog(RUNNER_CONTAINER);
      return existsSync(file) ? parseRunnerReport(readFileSync(file, 'utf8')) : undefined;
    },
    stop() {
      stopping ??= (async () => {
        // The controller first: it must not see the node's shutdown as job failures it then records.
        await controller.stop();
        await node.stop(15_000);
        await egress?.stop();
        await repository?.server.stop();
        await closePools();
      })();
      return stopping;
    },
  };
}
