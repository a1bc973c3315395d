// The soak: --soak-n proposals sent open-loop at --soak-rate (the 70/20/10 mix, 8 submitters) to one
// controller process whose retention controller deletes everything finished, as a deployment with a short
// history would. The bench deletes nothing; it plays the node (bench/kubelet-standin.ts publishes each job
// Pod's runner exit, so jobs finish) and samples the curve every --soak-sample proposals: controller RSS and
// heap, Proposals retained, etcd's database size and in-use size, API server RSS, decision latency and
// retention deletions/s of the window. Then it judges each curve (soak-stats.ts): FLAT or GROWING.
import { appendFileSync, createReadStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ControlPlane } from '../dev/cluster/index.ts';
import { API_VERSION } from '../src/api/group.ts';
import { GOVERNANCE_POLICIES } from '../src/controller/resources.ts';
import { RATE_WINDOW_SECONDS } from '../src/controller/retention.ts';
import { sleep } from '../src/runtime/backoff.ts';
import { kubeRequest } from '../src/runtime/kube-http.ts';
import { resourcePath } from '../src/runtime/resource.ts';
import { POLICY_NAME, setupPhaseNamespace } from './cluster-setup.ts';
import { KubeletStandIn } from './kubelet-standin.ts';
import type { LoaderConfig, LoaderDone } from './loader.ts';
import { controllerChildOptions, type BenchContext } from './phase.ts';
import { peakResidentBytes, residentBytes, startControllerChild, startLoader } from './processes.ts';
import type { SoakFlatness, SoakResult, SoakSample } from './results.ts';
import { judgeFlatness, listTotal, promSum, retentionTokensPerProposal, soakRetentionRate } from './soak-stats.ts';
import { summarize } from './stats.ts';
import { LatencyWatch } from './watch-latency.ts';

const MiB = 1024 * 1024;

/**
 * The soak plane's API server: compaction every minute (default 5) so etcd's in-use size shows its steady state
 * within the run; Events kept 5 minutes (default 1 h): without a node every job Pod gets the scheduler's
 * FailedScheduling Events and, its outputs never reaching a log, the controller's two OUTPUT_MISSING Warnings —
 * kept an hour they made etcd grow through a 50-minute soak while m87's own objects stayed flat (measured:
 * 26,979 Events against 338 Proposals after 12,000 proposals); its audit log rotated.
 */
export const SOAK_APISERVER_FLAGS = ['--etcd-compaction-interval=1m', '--event-ttl=5m', '--audit-log-maxsize=100', '--audit-log-maxbackup=1'];

/** The soak policy (on top of the bench's): the shortest history the API allows, jobs' Pods kept 5 s. */
export const SOAK_POLICY = {
  historyTTLSeconds: 60,
  jobResourcesKeepForSeconds: 5,
  /**
   * Retention never deletes a tree within max(session window, rate window) of its end (the topology rule reads
   * it): the shipped 300 s would make that the TTL. The mix's outcomes do not depend on the window (mix.ts).
   */
  sessionWindowSeconds: RATE_WINDOW_SECONDS,
  /**
   * REQUIRE_HUMAN trees are pending while an approval could still be given; at expiry the proposal becomes
   * Expired (finished) and goes a TTL later. 60 s (the minimum) instead of the shipped hour bounds them, as a
   * team that answers within the hour or never would set it; nobody approves in the soak.
   */
  approvalExpirySeconds: 60,
} as const;

export interface SoakOptions {
  n: number;
  rate: number;
  sampleEvery: number;
  namespace: string;
  /** Override of the computed --retention-rate. */
  retentionRate: number | undefined;
}

const round2 = (v: number) => Math.round(v * 100) / 100;

/** etcd's database size (file) and the part of it in use, from its /metrics (plain HTTP on loopback). */
export async function etcdDbBytes(plane: ControlPlane): Promise<{ total: number; inUse: number } | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${plane.ports.etcdClient}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    return { total: promSum(text, 'etcd_mvcc_db_total_size_in_bytes'), inUse: promSum(text, 'etcd_mvcc_db_total_size_in_use_in_bytes') };
  } catch {
    return undefined;
  }
}

async function countOf(admin: KubeConfig, path: string): Promise<number> {
  try {
    const page = await kubeRequest<{ items?: unknown[]; metadata?: { remainingItemCount?: number; continue?: string } }>(admin, {
      method: 'GET',
      path,
      query: { limit: 1 },
      timeoutMs: 30_000,
    });
    return listTotal(page);
  } catch {
    return NaN;
  }
}

async function controllerMetrics(base: string | undefined): Promise<string> {
  if (base === undefined) return '';
  try {
    return await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  } catch {
    return '';
  }
}

/** Lines of the audit file and the distinct proposal UIDs they name. */
async function auditFileCounts(file: string): Promise<{ records: number; distinct: number }> {
  const uids = new Set<string>();
  let records = 0;
  try {
    const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line === '') continue;
      records++;
      try {
        const uid = (JSON.parse(line) as { proposal?: { uid?: string } }).proposal?.uid;
        if (uid !== undefined) uids.add(uid);
      } catch {
        // counted as a record; not a UID
      }
    }
  } catch {
    // no file: nothing pruned
  }
  return { records, distinct: uids.size };
}

const CSV_COLUMNS: (keyof SoakSample)[] = [
  'sent',
  'seconds',
  'stage',
  'pruning',
  'decided',
  'controllerRssMiB',
  'controllerHeapUsedMiB',
  'apiserverRssMiB',
  'etcdRssMiB',
  'proposalsRetained',
  'podsRetained',
  'etcdDbMiB',
  'etcdDbInUseMiB',
  'windowDecisions',
  'windowDecisionsPerSecond',
  'windowP50Ms',
  'windowP99Ms',
  'deletionsPerSecond',
  'treeDeletionsPerSecond',
];

export function soakCsvLine(s: SoakSample): string {
  return CSV_COLUMNS.map((k) => String(s[k])).join(',');
}

export function soakFlatness(samples: readonly SoakSample[]): SoakResult['flatness'] {
  const load = samples.filter((s) => s.stage === 'load');
  const judge = (key: keyof SoakSample, absTolerance: number): SoakFlatness => judgeFlatness(load.map((s) => ({ x: s.sent, y: s[key] as number })), { relTolerance: 0.1, absTolerance });
  return {
    controllerRssMiB: judge('controllerRssMiB', 10),
    // Heap used is a GC sawtooth (a sample lands anywhere on it): only a change beyond 50 MiB counts.
    controllerHeapUsedMiB: judge('controllerHeapUsedMiB', 50),
    proposalsRetained: judge('proposalsRetained', 50),
    etcdDbInUseMiB: judge('etcdDbInUseMiB', 5),
    etcdDbMiB: judge('etcdDbMiB', 5),
    apiserverRssMiB: judge('apiserverRssMiB', 20),
  };
}

export async function runSoak(ctx: BenchContext, opts: SoakOptions): Promise<SoakResult> {
  const { plane, admin, progress } = ctx;
  const retentionRate = opts.retentionRate ?? soakRetentionRate(opts.rate);
  const submitters = await setupPhaseNamespace(plane, admin, opts.namespace, ctx.submitters);
  await kubeRequest(admin, {
    method: 'PATCH',
    path: resourcePath(GOVERNANCE_POLICIES, { name: POLICY_NAME }),
    contentType: 'application/merge-patch+json',
    body: {
      apiVersion: API_VERSION,
      spec: {
        session: { windowSeconds: SOAK_POLICY.sessionWindowSeconds },
        approvals: { expirySeconds: SOAK_POLICY.approvalExpirySeconds },
        retention: { historyTTLSeconds: SOAK_POLICY.historyTTLSeconds, jobResourcesKeepForSeconds: SOAK_POLICY.jobResourcesKeepForSeconds },
      },
    },
  });
  const auditFile = join(ctx.logDir, `${opts.namespace}.audit.jsonl`);
  const csvFile = join(ctx.logDir, 'soak.csv');
  writeFileSync(csvFile, `${CSV_COLUMNS.join(',')}\n`);

  // Taps on the watch: window latencies, the first tree deletion, the kubelet stand-in.
  const standIn = new KubeletStandIn(admin);
  let firstTreeDeletionAt: number | undefined;
  let window: number[] = [];
  const before: number[] = [];
  const during: number[] = [];
  const watch = new LatencyWatch({
    kubeConfig: admin,
    namespace: opts.namespace,
    watchPods: true,
    hooks: {
      onDecided: (t) => {
        if (!Number.isFinite(t.sentAt)) return;
        const ms = t.decidedAt - t.sentAt;
        window.push(ms);
        (firstTreeDeletionAt === undefined ? before : during).push(ms);
      },
      onProposalDeleted: () => {
        firstTreeDeletionAt ??= performance.now();
      },
      onPod: (pod) => standIn.onPod(pod),
      onPodDeleted: (pod) => standIn.onPodDeleted(pod),
    },
  });
  await watch.start();
  const child = await startControllerChild({
    ...controllerChildOptions(ctx, 'm87', opts.namespace),
    extraArgs: ['--retention=true', '--retention-rate', String(retentionRate), '--audit-file', auditFile],
  }).catch(async (err: unknown) => {
    await watch.stop(); // else its retries keep the bench alive after the error
    throw err;
  });
  progress.log(
    `[soak] ${opts.n.toLocaleString('en-US')} proposals at ${opts.rate}/s (about ${Math.round(opts.n / opts.rate / 60)} min); retention: history TTL ${SOAK_POLICY.historyTTLSeconds} s, job Pods kept ${SOAK_POLICY.jobResourcesKeepForSeconds} s, approvals expire after ${SOAK_POLICY.approvalExpirySeconds} s, ${retentionRate} deletions/s (${retentionTokensPerProposal()} per proposal × ${opts.rate}/s × 2); audit file ${auditFile}; curve ${csvFile}`,
  );

  const samples: SoakSample[] = [];
  const t0 = performance.now();
  const base = `/apis/governance.m87.io/v1alpha1/namespaces/${opts.namespace}`;
  let loaderProgress = { sent: 0, created: 0 };
  let last = { at: t0, decided: 0, deletions: 0, trees: 0 };
  let stage: SoakSample['stage'] = 'load';
  let sampling = false;
  let finalMetrics: string | undefined;
  let peakRss: number | undefined;

  const sample = async (): Promise<SoakSample> => {
    const windowStart = last.at;
    const metrics = await controllerMetrics(child.metricsBase);
    const deletions = promSum(metrics, 'm87_retention_deletions_total');
    const trees = promSum(metrics, 'm87_retention_deletions_total', { kind: 'Proposal' });
    const [proposals, pods, db] = await Promise.all([countOf(admin, `${base}/proposals`), countOf(admin, `/api/v1/namespaces/${opts.namespace}/pods`), etcdDbBytes(plane)]);
    const now = performance.now();
    const dt = (now - last.at) / 1000;
    const decided = watch.counts().decided;
    const lat = summarize(window);
    window = [];
    const rss = (pid: number | undefined) => round2((pid === undefined ? NaN : (residentBytes(pid) ?? NaN)) / MiB);
    const s: SoakSample = {
      sent: loaderProgress.sent,
      seconds: round2((now - t0) / 1000),
      stage,
      pruning: firstTreeDeletionAt !== undefined && firstTreeDeletionAt <= windowStart,
      decided,
      controllerRssMiB: rss(child.pid),
      controllerHeapUsedMiB: round2(promSum(metrics, 'nodejs_heap_size_used_bytes') / MiB),
      apiserverRssMiB: rss(plane.pids['kube-apiserver']),
      etcdRssMiB: rss(plane.pids.etcd),
      proposalsRetained: proposals,
      podsRetained: pods,
      etcdDbMiB: round2((db?.total ?? NaN) / MiB),
      etcdDbInUseMiB: round2((db?.inUse ?? NaN) / MiB),
      windowDecisions: decided - last.decided,
      windowDecisionsPerSecond: round2((decided - last.decided) / dt),
      windowP50Ms: Math.round(lat.p50),
      windowP99Ms: Math.round(lat.p99),
      deletionsPerSecond: round2((deletions - last.deletions) / dt),
      treeDeletionsPerSecond: round2((trees - last.trees) / dt),
    };
    last = { at: now, decided, deletions: Number.isFinite(deletions) ? deletions : last.deletions, trees: Number.isFinite(trees) ? trees : last.trees };
    samples.push(s);
    appendFileSync(csvFile, `${soakCsvLine(s)}\n`);
    progress.log(
      `[soak ${s.stage}] sent ${s.sent.toLocaleString('en-US')}  ${s.seconds.toFixed(0)} s  decided ${s.decided.toLocaleString('en-US')}  RSS ${s.controllerRssMiB.toFixed(0)} MiB (heap ${s.controllerHeapUsedMiB.toFixed(0)})  retained ${s.proposalsRetained} proposals, ${s.podsRetained} Pods  etcd ${s.etcdDbMiB.toFixed(1)} MiB (${s.etcdDbInUseMiB.toFixed(1)} in use)  apiserver RSS ${s.apiserverRssMiB.toFixed(0)} MiB  window: ${s.windowDecisionsPerSecond.toFixed(1)} decisions/s p50 ${s.windowP50Ms} p99 ${s.windowP99Ms} ms, ${s.deletionsPerSecond.toFixed(1)} deletions/s (${s.treeDeletionsPerSecond.toFixed(1)} trees/s)${s.pruning ? '' : '  [before pruning]'}`,
    );
    return s;
  };

  const status = () => {
    const c = watch.counts();
    const r = standIn.counts();
    const rss = residentBytes(child.pid);
    progress.update(
      `[soak] sent ${loaderProgress.sent}/${opts.n}  decided ${c.decided}  pods ${c.pods}  runner exits ${r.published}${r.failed > 0 ? ` (${r.failed} failed)` : ''}  controller RSS ${rss === undefined ? '?' : (rss / MiB).toFixed(0)} MiB  ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
  };
  const ticker = setInterval(status, 1000);
  let loaderDone: LoaderDone | undefined;
  try {
    const configPath = join(ctx.logDir, 'soak.loader.json');
    const loaderConfig: LoaderConfig = {
      server: plane.server,
      caPem: plane.caPem,
      namespace: opts.namespace,
      namePrefix: 'soak',
      submitters,
      n: opts.n,
      rate: opts.rate,
      concurrency: ctx.concurrency,
    };
    writeFileSync(configPath, JSON.stringify(loaderConfig), { mode: 0o600 });
    let nextSampleAt = opts.sampleEvery;
    const loader = startLoader(configPath, join(ctx.logDir, 'soak.loader.log'), (m) => {
      loaderProgress = { sent: m.sent, created: m.created };
      if (m.sent >= nextSampleAt && !sampling) {
        nextSampleAt += opts.sampleEvery;
        sampling = true;
        void sample()
          .catch((err: unknown) => progress.log(`[soak] sample failed: ${(err as Error).message}`))
          .finally(() => {
            sampling = false;
          });
      }
    });
    loaderDone = await loader.done;
    loaderProgress = { sent: loaderDone.created + loaderDone.errors, created: loaderDone.created };
    while (sampling) await sleep(100);
    if (samples.at(-1)?.sent !== loaderProgress.sent) await sample();
    // Drain: retention removes what is left (the last trees are due a TTL after they finish).
    stage = 'drain';
    const drainEveryMs = Math.min(60_000, Math.max(10_000, (opts.sampleEvery / opts.rate) * 1000));
    const drainDeadline = performance.now() + 10 * 60_000;
    for (;;) {
      await sleep(drainEveryMs);
      const s = await sample();
      if (s.proposalsRetained === 0) break;
      if (performance.now() > drainDeadline) {
        progress.log(`[soak] ${s.proposalsRetained} proposals still retained 10 min after the last was sent; stopping`);
        break;
      }
    }
    finalMetrics = await controllerMetrics(child.metricsBase);
  } finally {
    clearInterval(ticker);
    peakRss = peakResidentBytes(child.pid) ?? NaN;
    const how = await child.stop();
    if (how !== 'exit 0') progress.log(`[soak] controller ended with ${how} (log ${child.logFile})`);
    await watch.stop();
  }
  const audit = await auditFileCounts(auditFile);
  const lastSample = samples.at(-1);
  const deletions: Record<string, number> = {};
  for (const kind of ['Pod', 'NetworkPolicy', 'Proposal']) deletions[kind] = promSum(finalMetrics ?? '', 'm87_retention_deletions_total', { kind });
  const r = standIn.counts();
  return {
    n: opts.n,
    rate: opts.rate,
    sampleEvery: opts.sampleEvery,
    sent: loaderProgress.sent,
    created: loaderDone?.created ?? loaderProgress.created,
    decided: watch.counts().decided,
    retention: {
      historyTTLSeconds: SOAK_POLICY.historyTTLSeconds,
      jobResourcesKeepForSeconds: SOAK_POLICY.jobResourcesKeepForSeconds,
      sessionWindowSeconds: SOAK_POLICY.sessionWindowSeconds,
      approvalExpirySeconds: SOAK_POLICY.approvalExpirySeconds,
      deletionsPerSecond: retentionRate,
      why: `${retentionTokensPerProposal()} deletions per proposal of the mix (ALLOW: Pod, NetworkPolicy, Proposal; DENY and REQUIRE_HUMAN: Proposal) × ${opts.rate}/s × 2 headroom`,
    },
    apiserverFlags: SOAK_APISERVER_FLAGS,
    deletions,
    auditRecords: audit.records,
    auditDistinctProposals: audit.distinct,
    proposalsLeft: lastSample?.proposalsRetained ?? NaN,
    runnerExits: { published: r.published, failed: r.failed, firstError: r.firstError },
    peakRssMiB: round2((peakRss ?? NaN) / MiB),
    durationSeconds: round2((performance.now() - t0) / 1000),
    decisionsBeforePruning: summarize(before),
    decisionsWhilePruning: summarize(during),
    flatness: soakFlatness(samples),
    csv: csvFile,
    samples,
  };
}
