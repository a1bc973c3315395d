// One measured phase: a fresh namespace, the watcher, the controller under test as a child process, the
// loader as another; waits until every created proposal is decided (and, for the real controller, every
// ALLOW has its Pod), then turns the observations into figures.
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ControlPlane } from '../dev/cluster/index.ts';
import { sleep } from '../src/runtime/backoff.ts';
import { kubeRequest } from '../src/runtime/kube-http.ts';
import { fetchApiserverProfile, summarizeProfile } from './apiserver-profile.ts';
import { diffRequestCounts, scrapeRequestCounts, summarizeRequests, type RequestSummary } from './api-requests.ts';
import { API_VERSION } from '../src/api/group.ts';
import { GOVERNANCE_POLICIES } from '../src/controller/resources.ts';
import { resourcePath } from '../src/runtime/resource.ts';
import { POLICY_NAME, setupPhaseNamespace, type Submitter } from './cluster-setup.ts';
import { KubeletStandIn } from './kubelet-standin.ts';
import { promSum } from './soak-stats.ts';
import type { LoaderConfig, LoaderDone } from './loader.ts';
import { EXPECTED_OUTCOME } from './mix.ts';
import { cpuSeconds, peakResidentBytes, residentBytes, residentSplit, startControllerChild, startLoader, type ControllerChild } from './processes.ts';
import type { Progress } from './progress.ts';
import { BUDGET, type ControllerKind, type HeapFigures, type MemoryResult, type PhaseResult, type Rate, type RequestFigures } from './results.ts';
import { overallRate, summarize, sustainedRate } from './stats.ts';
import { rateLabel } from './targets.ts';
import { LatencyWatch, type ProposalTiming, type WatchHooks } from './watch-latency.ts';

const MiB = 1024 * 1024;
/** Give up waiting for the rest when nothing was decided and no Pod appeared for this long. */
const STALL_MS = 60_000;

export interface BenchContext {
  plane: ControlPlane;
  admin: KubeConfig;
  logDir: string;
  progress: Progress;
  submitters: number;
  concurrency: number;
  workers: number;
  controllerLogLevel: string;
  /** NODE_OPTIONS of the real controller. */
  controllerNodeOptions: string;
  /** MALLOC_ARENA_MAX of the real controller (undefined: the environment's). */
  controllerMallocArenaMax: number | undefined;
  /** More flags for the real controller (--controller-args). */
  controllerArgs: readonly string[];
  profileDir: string | undefined;
  /** Go CPU profiles of kube-apiserver during each phase's measured load (the plane runs with --profiling=true). */
  apiserverProfile?: { dir: string; seconds: number } | undefined;
}

/** What every controller child of a run shares: the plane's admin kubeconfig, its log file, level, heap and workers. */
export function controllerChildOptions(ctx: BenchContext, kind: ControllerKind, namespace: string) {
  return {
    kind,
    kubeconfigPath: ctx.plane.kubeconfigPath,
    context: 'admin',
    logFile: join(ctx.logDir, `${namespace}.controller.log`),
    logLevel: ctx.controllerLogLevel,
    nodeOptions: ctx.controllerNodeOptions,
    mallocArenaMax: ctx.controllerMallocArenaMax,
    controllerArgs: ctx.controllerArgs,
    workers: ctx.workers,
  };
}


interface Run {
  timings: ProposalTiming[];
  loader: LoaderDone;
  controller: { cpuSeconds: number; rssBytes: number; peakRssBytes: number; heapUsedBytes: number; rssSplit?: { anonBytes: number; fileBytes: number }; heap?: HeapFigures };
  apiserverCpuSeconds: number;
  etcdCpuSeconds: number;
  durationSeconds: number;
  loadAverage: { start: number[]; end: number[] };
  pods: number;
  /** apiserver_request_total over the measured load (after the warm-up), attributed. */
  requests: RequestSummary | undefined;
  apiserverProfile: PhaseResult['apiserverProfile'];
}

const round2 = (v: number) => Math.round(v * 100) / 100;

function processCpu(pid: number | undefined): number {
  return pid === undefined ? NaN : (cpuSeconds(pid) ?? NaN);
}

interface LoadOptions {
  label: string;
  namespace: string;
  namePrefix: string;
  submitters: Submitter[];
  n: number;
  rate: Rate;
  watchPods: boolean;
}

/** Runs the loader once and waits until what it created is decided (and has its Pods); gives up on a stall. */
async function loadAndWait(ctx: BenchContext, watch: LatencyWatch, controllerPid: number, o: LoadOptions): Promise<LoaderDone> {
  const { plane, progress } = ctx;
  const configPath = join(ctx.logDir, `${o.namePrefix}.loader.json`);
  const loaderConfig: LoaderConfig = {
    server: plane.server,
    caPem: plane.caPem,
    namespace: o.namespace,
    namePrefix: o.namePrefix,
    submitters: o.submitters,
    n: o.n,
    rate: o.rate === 'max' ? 0 : o.rate,
    concurrency: ctx.concurrency,
  };
  writeFileSync(configPath, JSON.stringify(loaderConfig), { mode: 0o600 });
  const t0 = performance.now();
  let sent = 0;
  let window: { at: number; decided: number }[] = [];
  const show = () => {
    const c = watch.counts();
    const now = performance.now();
    window.push({ at: now, decided: c.decided });
    window = window.filter((w) => now - w.at <= 3000);
    const first = window[0];
    const rate = first && now > first.at ? ((c.decided - first.decided) / (now - first.at)) * 1000 : 0;
    const rss = residentBytes(controllerPid);
    progress.update(
      `[${o.label}] sent ${sent}/${o.n}  decided ${c.decided}${o.watchPods ? `  pods ${c.pods}/${c.allowed}` : ''}  ${rate.toFixed(0)} decisions/s  controller RSS ${rss === undefined ? '?' : (rss / MiB).toFixed(0)} MiB  ${((now - t0) / 1000).toFixed(0)} s`,
    );
  };
  const ticker = setInterval(show, 500);
  try {
    const loader = startLoader(configPath, join(ctx.logDir, `${o.namePrefix}.loader.log`), (m) => {
      sent = m.sent;
    });
    const done = await loader.done;
    sent = done.created + done.errors;
    let lastChange = performance.now();
    let last = { decided: -1, pods: -1 };
    for (;;) {
      const c = watch.counts();
      if (c.decided >= done.created && (!o.watchPods || c.pods >= c.allowed)) break;
      if (c.decided !== last.decided || c.pods !== last.pods) {
        last = { decided: c.decided, pods: c.pods };
        lastChange = performance.now();
      } else if (performance.now() - lastChange > STALL_MS) {
        progress.log(`[${o.label}] no progress for ${STALL_MS / 1000} s; ${done.created - c.decided} undecided, ${c.allowed - c.pods} Pods missing - moving on`);
        break;
      }
      await sleep(50);
    }
    return done;
  } finally {
    clearInterval(ticker);
  }
}

/**
 * Sends `n` proposals at `rate` into a fresh `namespace` with `controller` deciding, and observes
 * everything. `warmup` proposals go first (at most 20/s) and are waited for, but not measured: a fresh
 * process spends its first seconds compiling and connecting, which a long-running controller does not.
 */
async function observe(
  ctx: BenchContext,
  opts: {
    label: string;
    controller: ControllerKind;
    namespace: string;
    n: number;
    rate: Rate;
    warmup: number;
    settle?: boolean;
    /** Taps on the watch (the memory phase's kubelet stand-in). */
    hooks?: WatchHooks;
    /** More flags for the real controller. */
    extraArgs?: readonly string[];
    /** Runs once every proposal is decided, before the controller settles and is measured. */
    beforeMeasure?: () => Promise<void>;
  },
): Promise<Run> {
  const { plane, admin, progress } = ctx;
  const submitters = await setupPhaseNamespace(plane, admin, opts.namespace, ctx.submitters);
  const watchPods = opts.controller === 'm87';
  const watch = new LatencyWatch({ kubeConfig: admin, namespace: opts.namespace, watchPods, ...(opts.hooks ? { hooks: opts.hooks } : {}) });
  await watch.start();
  progress.update(`[${opts.label}] starting the ${opts.controller} controller`);
  // A controller that fails to start must not leave the watch running: its retries would keep the bench alive.
  const child: ControllerChild = await startControllerChild({
    ...controllerChildOptions(ctx, opts.controller, opts.namespace),
    ...(ctx.profileDir !== undefined && opts.controller === 'm87' ? { cpuProfileDir: ctx.profileDir } : {}),
    ...(opts.extraArgs ? { extraArgs: opts.extraArgs } : {}),
  }).catch(async (err: unknown) => {
    await watch.stop();
    throw err;
  });
  const apiserverPid = plane.pids['kube-apiserver'];
  const etcdPid = plane.pids.etcd;
  const prefix = opts.namespace.replace(/^bench-/, '');
  const load = { namespace: opts.namespace, submitters, watchPods };
  try {
    if (opts.warmup > 0) {
      const warmRate = opts.rate === 'max' ? 20 : Math.min(opts.rate, 20);
      await loadAndWait(ctx, watch, child.pid, { ...load, label: `${opts.label} warm-up`, namePrefix: `${prefix}-warm`, n: opts.warmup, rate: warmRate });
      watch.reset();
    }
    const requests0 = await scrapeRequestCounts(admin).catch(() => undefined);
    const cpu0 = { controller: processCpu(child.pid), apiserver: processCpu(apiserverPid), etcd: processCpu(etcdPid) };
    const loadStart = loadavg();
    const t0 = performance.now();
    const profile = ctx.apiserverProfile;
    const profileFile = profile === undefined ? undefined : join(profile.dir, `kube-apiserver.${opts.namespace}.pprof`);
    const profiling =
      profile === undefined || profileFile === undefined
        ? undefined
        : fetchApiserverProfile(admin, plane.caPem, profile.seconds, profileFile).then(
            async () => ({ file: profileFile, seconds: profile.seconds, summary: await summarizeProfile(profileFile) }),
            (err: unknown) => {
              progress.log(`[${opts.label}] API server profile failed: ${(err as Error).message}`);
              return undefined;
            },
          );
    const loaderDone = await loadAndWait(ctx, watch, child.pid, { ...load, label: opts.label, namePrefix: prefix, n: opts.n, rate: opts.rate });
    if (opts.beforeMeasure) await opts.beforeMeasure();
    if (opts.settle === true) await settle(child.pid, (s) => progress.update(`[${opts.label}] all decided; waiting for the controller to go quiet (${s})`));
    const cpu1 = { controller: processCpu(child.pid), apiserver: processCpu(apiserverPid), etcd: processCpu(etcdPid) };
    // Writes still in flight when the last result showed (a Job.status after its Pod) land within a second.
    await sleep(1000);
    const requests1 = await scrapeRequestCounts(admin).catch(() => undefined);
    const heap = await heapFigures(child.metricsBase);
    const rssSplit = residentSplit(child.pid);
    if (profiling !== undefined) progress.update(`[${opts.label}] waiting for the API server profile (${profile?.seconds ?? '?'} s from the start of the load)…`);
    const apiserverProfile = await profiling;
    const timings = watch.timings();
    writeTimings(join(ctx.logDir, `${opts.namespace}.timings.csv`), timings);
    return {
      timings,
      loader: loaderDone,
      controller: {
        cpuSeconds: cpu1.controller - cpu0.controller,
        rssBytes: residentBytes(child.pid) ?? NaN,
        peakRssBytes: peakResidentBytes(child.pid) ?? NaN,
        heapUsedBytes: heap === undefined ? NaN : heap.usedMiB * MiB,
        ...(rssSplit !== undefined ? { rssSplit } : {}),
        ...(heap !== undefined ? { heap } : {}),
      },
      apiserverCpuSeconds: cpu1.apiserver - cpu0.apiserver,
      etcdCpuSeconds: cpu1.etcd - cpu0.etcd,
      durationSeconds: (performance.now() - t0) / 1000,
      loadAverage: { start: loadStart.map(round2), end: loadavg().map(round2) },
      pods: watch.counts().pods,
      requests: requests0 && requests1 ? summarizeRequests(diffRequestCounts(requests0, requests1)) : undefined,
      apiserverProfile,
    };
  } finally {
    const how = await child.stop();
    if (how !== 'exit 0') progress.log(`[${opts.label}] controller ended with ${how} (log ${child.logFile})`);
    await watch.stop();
  }
}

/**
 * The controller's V8 heap from its /metrics (prom-client's process metrics): in use, committed, external
 * (Buffers and other memory V8 accounts for outside its heap) and per space; undefined when unreadable.
 */
async function heapFigures(metricsBase: string | undefined): Promise<HeapFigures | undefined> {
  if (metricsBase === undefined) return undefined;
  try {
    const text = await (await fetch(`${metricsBase}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const spaces: HeapFigures['spaces'] = {};
    for (const m of text.matchAll(/^nodejs_heap_space_size_total_bytes\{space="([a-z_]+)"\}/gm)) {
      const space = m[1]!;
      spaces[space] = {
        committedMiB: round2(promSum(text, 'nodejs_heap_space_size_total_bytes', { space }) / MiB),
        usedMiB: round2(promSum(text, 'nodejs_heap_space_size_used_bytes', { space }) / MiB),
      };
    }
    return {
      usedMiB: round2(promSum(text, 'nodejs_heap_size_used_bytes') / MiB),
      committedMiB: round2(promSum(text, 'nodejs_heap_size_total_bytes') / MiB),
      externalMiB: round2(promSum(text, 'nodejs_external_memory_bytes') / MiB),
      spaces,
    };
  } catch {
    return undefined;
  }
}

/** Every observation of the phase, one proposal a line (epoch ms), for a closer look at a run. */
function writeTimings(file: string, timings: readonly ProposalTiming[]): void {
  const cell = (v: number | string | undefined) => (v === undefined ? '' : typeof v === 'number' ? v.toFixed(3) : v);
  const lines = timings.map((t) => [t.name, t.kind, t.outcome, t.sentAt, t.createdAt, t.decidedAt, t.podAt].map(cell).join(','));
  writeFileSync(file, `name,kind,outcome,sentAt,createdAt,decidedAt,podAt\n${lines.join('\n')}\n`);
}

/** Waits until the controller used < 2 % of a CPU over 2 s (its queues drained), at most 60 s. */
async function settle(pid: number, onWait: (s: string) => void): Promise<void> {
  const deadline = performance.now() + 60_000;
  let before = cpuSeconds(pid) ?? 0;
  while (performance.now() < deadline) {
    await sleep(2000);
    const now = cpuSeconds(pid) ?? 0;
    const share = (now - before) / 2;
    onWait(`${(share * 100).toFixed(0)}% CPU`);
    if (share < 0.02) return;
    before = now;
  }
}

function decidedOnly(timings: readonly ProposalTiming[]): (ProposalTiming & { decidedAt: number })[] {
  return timings.filter((t): t is ProposalTiming & { decidedAt: number } => t.decidedAt !== undefined);
}

export async function runPhase(ctx: BenchContext, controller: ControllerKind, rate: Rate, n: number, namespace: string, warmup: number): Promise<PhaseResult> {
  const label = `${rateLabel(rate)} ${controller === 'm87' ? 'm87' : 'baseline'}`;
  const run = await observe(ctx, { label, controller, namespace, n, rate, warmup });
  const decided = decidedOnly(run.timings);
  const outcomes: Record<string, number> = {};
  let unexpected = 0;
  for (const t of decided) {
    const outcome = t.outcome ?? 'unknown';
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    if (controller === 'm87' && t.kind !== undefined && outcome !== EXPECTED_OUTCOME[t.kind]) unexpected++;
  }
  const allowed = decided.filter((t) => t.outcome === 'ALLOW');
  const withPod = allowed.filter((t): t is typeof t & { podAt: number } => t.podAt !== undefined);
  const cpuMsPerDecision = decided.length > 0 ? (run.controller.cpuSeconds * 1000) / decided.length : NaN;
  const requests = run.requests ? requestFigures(run.requests, controller, decided.length, allowed.length) : undefined;
  return {
    controller,
    rate,
    namespace,
    n,
    loader: {
      created: run.loader.created,
      errors: run.loader.errors,
      retries: run.loader.retries,
      createRate: run.loader.createRate,
      maxLagMs: run.loader.maxLagMs,
      lateOver50ms: run.loader.lateOver50ms,
      firstErrors: run.loader.firstErrors,
    },
    decided: decided.length,
    undecided: run.loader.created - decided.length,
    sustainedPerSecond: sustainedRate(decided.map((t) => t.decidedAt)),
    overallPerSecond: overallRate(
      decided.map((t) => t.decidedAt),
      run.loader.startedAt,
    ),
    latencyMs: summarize(decided.filter((t) => Number.isFinite(t.sentAt)).map((t) => t.decidedAt - t.sentAt)),
    latencyFromCreationTimestampMs: summarize(decided.filter((t) => Number.isFinite(t.createdAt)).map((t) => t.decidedAt - t.createdAt)),
    ...(controller === 'm87'
      ? { pod: { expected: allowed.length, observed: withPod.length, latencyMs: summarize(withPod.filter((t) => Number.isFinite(t.sentAt)).map((t) => t.podAt - t.sentAt)) } }
      : {}),
    outcomes,
    unexpectedOutcomes: unexpected,
    controllerProcess: {
      cpuSeconds: round2(run.controller.cpuSeconds),
      cpuMsPerDecision,
      rssMiB: run.controller.rssBytes / MiB,
      peakRssMiB: run.controller.peakRssBytes / MiB,
    },
    apiserverCpuSeconds: round2(run.apiserverCpuSeconds),
    etcdCpuSeconds: round2(run.etcdCpuSeconds),
    durationSeconds: round2(run.durationSeconds),
    loadAverage: run.loadAverage,
    ...(requests ? { requests } : {}),
    ...(run.apiserverProfile ? { apiserverProfile: run.apiserverProfile } : {}),
  };
}

/** Requests per decision against the budget: 6 per ALLOW, 2 per other outcome (issue 16); the baseline makes 2. */
export function requestFigures(summary: RequestSummary, controller: ControllerKind, decided: number, allowed: number): RequestFigures {
  const budget = controller === 'm87' ? BUDGET.allow * allowed + BUDGET.other * (decided - allowed) : BUDGET.other * decided;
  const per = (v: number) => (decided > 0 ? v / decided : NaN);
  return {
    ...summary,
    decided,
    controllerPerDecision: per(summary.bySource.controller),
    totalPerDecision: per(summary.total),
    budgetPerDecision: per(budget),
    rowsPerDecision: Object.fromEntries(Object.entries(summary.rows).map(([k, v]) => [k, Math.round(per(v) * 1000) / 1000])),
  };
}

interface ListPage {
  items?: KubeObjectLike[];
  metadata?: { continue?: string };
}

interface KubeObjectLike {
  metadata?: { managedFields?: unknown };
}

/** Count and JSON size of the objects of a list path (paged), and how much of it is metadata.managedFields. */
async function measureObjects(admin: KubeConfig, path: string): Promise<{ count: number; jsonBytes: number; managedFieldsBytes: number }> {
  let count = 0;
  let jsonBytes = 0;
  let managedFieldsBytes = 0;
  let cont: string | undefined;
  do {
    const page = await kubeRequest<ListPage>(admin, { method: 'GET', path, query: { limit: 500, continue: cont } });
    for (const item of page.items ?? []) {
      count++;
      jsonBytes += Buffer.byteLength(JSON.stringify(item));
      if (item.metadata?.managedFields !== undefined) managedFieldsBytes += Buffer.byteLength(JSON.stringify(item.metadata.managedFields));
    }
    cont = page.metadata?.continue || undefined;
  } while (cont !== undefined);
  return { count, jsonBytes, managedFieldsBytes };
}

/**
 * The memory phase's policy (on top of the bench's): job Pods and NetworkPolicies kept 5 s after their job
 * finished (as the soak), approvals expiring after 60 s (the minimum), the history TTL left at its default
 * (7 days): every tree stays, finished, as the trees a cluster retains are.
 */
export const MEMORY_POLICY = { jobResourcesKeepForSeconds: 5, approvalExpirySeconds: 60 } as const;
/** Retention's deletions/s in the memory phase: a Pod and a NetworkPolicy per ALLOW, well ahead of the load. */
const MEMORY_RETENTION_RATE = 200;
/** Give up waiting for the trees to finish after this long (the figure is then taken as it is). */
const FINISH_TIMEOUT_MS = 20 * 60_000;

/** Objects of the phase namespace that are not finished yet (counted on the server). */
async function unfinished(admin: KubeConfig, namespace: string): Promise<{ jobs: number; pods: number; networkPolicies: number; awaiting: number }> {
  const list = async (path: string) => {
    const items: ListPage['items'] & object = [];
    let cont: string | undefined;
    do {
      const page = await kubeRequest<ListPage>(admin, { method: 'GET', path, query: { limit: 500, continue: cont }, timeoutMs: 60_000 });
      items.push(...(page.items ?? []));
      cont = page.metadata?.continue || undefined;
    } while (cont !== undefined);
    return items;
  };
  const base = `/apis/governance.m87.io/v1alpha1/namespaces/${namespace}`;
  const [jobs, pods, nps, proposals] = await Promise.all([
    list(`${base}/jobs`),
    list(`/api/v1/namespaces/${namespace}/pods`),
    list(`/apis/networking.k8s.io/v1/namespaces/${namespace}/networkpolicies`),
    list(`${base}/proposals`),
  ]);
  const phase = (o: unknown) => (o as { status?: { phase?: string } }).status?.phase;
  return {
    jobs: jobs.filter((j) => phase(j) !== 'Succeeded' && phase(j) !== 'Failed').length,
    pods: pods.length,
    networkPolicies: nps.length,
    awaiting: proposals.filter((p) => phase(p) === 'AwaitingApproval').length,
  };
}

export async function runMemory(ctx: BenchContext, n: number, namespace: string, rate: Rate = 'max'): Promise<MemoryResult> {
  const { admin, progress } = ctx;
  const policyPath = resourcePath(GOVERNANCE_POLICIES, { name: POLICY_NAME });
  const patchPolicy = (spec: object) => kubeRequest(admin, { method: 'PATCH', path: policyPath, contentType: 'application/merge-patch+json', body: { apiVersion: API_VERSION, spec } });
  await patchPolicy({ approvals: { expirySeconds: MEMORY_POLICY.approvalExpirySeconds }, retention: { jobResourcesKeepForSeconds: MEMORY_POLICY.jobResourcesKeepForSeconds } });
  // Jobs finish as on a cluster: the soak's stand-in for the node publishes each job Pod's runner exit.
  const standIn = new KubeletStandIn(admin);
  let finish: { waitedSeconds: number; left: Awaited<ReturnType<typeof unfinished>> } | undefined;
  const waitForFinished = async (): Promise<void> => {
    const t0 = performance.now();
    for (;;) {
      const left = await unfinished(admin, namespace).catch(() => undefined);
      const waited = (performance.now() - t0) / 1000;
      if (left !== undefined) {
        finish = { waitedSeconds: round2(waited), left };
        if (left.jobs + left.pods + left.networkPolicies + left.awaiting === 0) return;
        progress.update(
          `[memory ${n}] all decided; waiting for the trees to finish: ${left.jobs} Jobs running, ${left.pods} Pods, ${left.networkPolicies} NetworkPolicies, ${left.awaiting} awaiting approval (${Math.round(waited)} s)`,
        );
      }
      if (performance.now() - t0 > FINISH_TIMEOUT_MS) {
        progress.log(`[memory ${n}] trees not all finished after ${FINISH_TIMEOUT_MS / 60_000} min; measuring as it is`);
        return;
      }
      await sleep(5000);
    }
  };
  // Never profiled: V8's profiler keeps its samples in memory, which the RSS figure must not include.
  let run: Run;
  try {
    run = await observe(
      { ...ctx, profileDir: undefined },
      {
        label: `memory ${n}`,
        controller: 'm87',
        namespace,
        n,
        rate,
        warmup: 0,
        settle: true,
        hooks: { onPod: (pod) => standIn.onPod(pod), onPodDeleted: (pod) => standIn.onPodDeleted(pod) },
        extraArgs: ['--retention=true', '--retention-rate', String(MEMORY_RETENTION_RATE), '--audit-file', join(ctx.logDir, `${namespace}.audit.jsonl`)],
        beforeMeasure: waitForFinished,
      },
    );
  } finally {
    // The later parts run with the bench's policy.
    await patchPolicy({ approvals: { expirySeconds: null }, retention: { jobResourcesKeepForSeconds: null } }).catch(() => undefined);
  }
  const decided = decidedOnly(run.timings);
  const objects: Record<string, number> = {};
  let jsonBytes = 0;
  let managedFieldsBytes = 0;
  progress.update('measuring what the controller caches…');
  // What the controller's informers hold (its Pod and NetworkPolicy informers select managed objects only;
  // every Pod and NetworkPolicy of this plane is one).
  for (const [name, path] of [
    ['Proposals', '/apis/governance.m87.io/v1alpha1/proposals'],
    ['Decisions', '/apis/governance.m87.io/v1alpha1/decisions'],
    ['Jobs', '/apis/governance.m87.io/v1alpha1/jobs'],
    ['Pods', '/api/v1/pods'],
    ['NetworkPolicies', '/apis/networking.k8s.io/v1/networkpolicies'],
  ] as const) {
    const m = await measureObjects(admin, path);
    objects[name] = m.count;
    jsonBytes += m.jsonBytes;
    managedFieldsBytes += m.managedFieldsBytes;
  }
  return {
    rate,
    proposals: run.loader.created,
    decided: decided.length,
    undecided: run.loader.created - decided.length,
    podsObserved: run.pods,
    rssMiB: run.controller.rssBytes / MiB,
    peakRssMiB: run.controller.peakRssBytes / MiB,
    heapUsedMiB: run.controller.heapUsedBytes / MiB,
    ...(run.controller.rssSplit !== undefined
      ? { rssSplitMiB: { anon: round2(run.controller.rssSplit.anonBytes / MiB), file: round2(run.controller.rssSplit.fileBytes / MiB) } }
      : {}),
    ...(run.controller.heap !== undefined ? { heap: run.controller.heap } : {}),
    objects,
    objectsJsonMiB: jsonBytes / MiB,
    managedFieldsJsonMiB: managedFieldsBytes / MiB,
    sustainedPerSecond: sustainedRate(decided.map((t) => t.decidedAt)),
    durationSeconds: round2(run.durationSeconds),
    ...(finish ? { finish } : {}),
    node: (({ published, failed, firstError }) => ({ published, failed, ...(firstError !== undefined ? { firstError } : {}) }))(standIn.counts()),
  };
}
