// The human-readable report (stdout): plain-text tables of the figures in bench/results/latest.json.
import type { BenchResults, PhaseResult, SoakResult } from './results.ts';
import { rateLabel } from './targets.ts';
import { renderPprofSummary } from './apiserver-profile.ts';

/** A number with `digits` decimals, or "-" when it is not a finite number. */
export function num(value: number | undefined, digits = 0): string {
  return value !== undefined && Number.isFinite(value) ? value.toFixed(digits) : '-';
}

/** Pads columns to their widest cell; numeric-looking cells are right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = (s: string) => /^[-+]?[\d.,]+( ?(x|%|\/s|ms|us|MiB))?$|^-$/.test(s);
  const line = (cells: readonly string[], isHeader: boolean) =>
    widths
      .map((w, i) => {
        const c = cells[i] ?? '';
        return !isHeader && numeric(c) ? c.padStart(w) : c.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  return [line(header, true), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => line(r, false))].join('\n');
}

function phaseRow(p: PhaseResult): string[] {
  return [
    rateLabel(p.rate),
    p.controller === 'm87' ? 'm87' : 'baseline',
    `${p.decided}/${p.n}`,
    num(p.loader.createRate, 1),
    num(p.sustainedPerSecond, 1),
    num(p.latencyMs.p50),
    num(p.latencyMs.p90),
    num(p.latencyMs.p99),
    num(p.latencyMs.max),
    num(p.latencyFromCreationTimestampMs.p99),
    p.pod ? num(p.pod.latencyMs.p50) : '-',
    p.pod ? num(p.pod.latencyMs.p99) : '-',
    num(p.controllerProcess.cpuMsPerDecision, 2),
    num(p.decided > 0 ? (p.apiserverCpuSeconds * 1000) / p.decided : NaN, 2),
    num(p.controllerProcess.rssMiB),
  ];
}

export function renderReport(r: BenchResults): string {
  const s = r.settings;
  const out: string[] = [];
  out.push(
    `M87 benchmark ${r.startedAt} - Node ${r.host.node}, ${r.host.cpus} CPUs (${r.host.cpuModel}), load average at start ${r.host.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}`,
  );
  out.push(
    `N=${s.n} per phase, ${s.submitters} submitters, mix ${s.mix}; policy rate limit raised to ${s.rateLimitPerSubmitterPerMinute}/min per submitter for the bench (default 30/min); controller log level ${s.controllerLogLevel}; controller NODE_OPTIONS ${s.controllerNodeOptions ? JSON.stringify(s.controllerNodeOptions) : 'none'}${s.controllerArgs ? `, flags ${s.controllerArgs.join(' ')}` : ''}; process node ${s.processNode ? 'running' : 'not run (Pods are created, not started)'}`,
  );
  for (const note of s.notes) out.push(`  - ${note}`);

  if (r.phases.length > 0) {
    out.push(
      '',
      'End to end: latency from the loader send time to Decided=True / Pod seen through a watch (ms); ct p99 = from creationTimestamp (1 s resolution);',
      'CPU ms/dec = controller CPU time per decision, API ms/dec = kube-apiserver CPU time per decision (both from /proc, load-independent)',
    );
    out.push(
      formatTable(
        ['rate', 'controller', 'decided', 'sent/s', 'decided/s', 'p50', 'p90', 'p99', 'max', 'ct p99', 'pod p50', 'pod p99', 'CPU ms/dec', 'API ms/dec', 'RSS MiB'],
        r.phases.map(phaseRow),
      ),
    );
    const odd = r.phases.filter((p) => p.unexpectedOutcomes > 0 || p.loader.errors > 0 || p.undecided > 0);
    for (const p of odd) {
      out.push(
        `  ! ${rateLabel(p.rate)} ${p.controller}: ${p.undecided} undecided, ${p.unexpectedOutcomes} unexpected outcomes, ${p.loader.errors} loader errors${p.loader.firstErrors[0] ? ` (${p.loader.firstErrors[0]})` : ''}`,
      );
    }
    const m87 = r.phases.find((p) => p.controller === 'm87');
    if (m87) out.push(`  outcomes (${rateLabel(m87.rate)} m87): ${Object.entries(m87.outcomes).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }

  const withRequests = r.phases.filter((p) => p.requests !== undefined);
  if (withRequests.length > 0) {
    out.push(
      '',
      'API requests per decision (apiserver_request_total before/after the measured load; budget 6 per ALLOW, 2 per other outcome;',
      'others = scheduler Pod status and events.k8s.io, the garbage collector\'s owner GETs, Leases, LIST/WATCH, the loader\'s creates, /metrics)',
    );
    out.push(
      formatTable(
        ['rate', 'controller', 'controller req/dec', 'budget/dec', 'all req/dec', 'largest rows per decision'],
        withRequests.map((p) => {
          const q = p.requests!;
          const top = Object.entries(q.rowsPerDecision)
            .slice(0, 6)
            .map(([k, v]) => `${k} ${num(v, 2)}`)
            .join('; ');
          return [rateLabel(p.rate), p.controller === 'm87' ? 'm87' : 'baseline', num(q.controllerPerDecision, 2), num(q.budgetPerDecision, 2), num(q.totalPerDecision, 2), top];
        }),
      ),
    );
  }

  if (r.comparisons.length > 0) {
    out.push('', 'Ours / baseline (no-op controller on the same runtime, same two writes per proposal)');
    out.push(
      formatTable(
        ['rate', 'throughput', 'p99 latency', 'CPU per decision', 'API server CPU per decision'],
        r.comparisons.map((c) => [
          rateLabel(c.rate),
          `${num(c.throughputRatio, 2)} x`,
          `${num(c.p99Ratio, 2)} x`,
          `${num(c.cpuPerDecisionRatio, 2)} x`,
          `${num(c.apiserverCpuPerDecisionRatio, 2)} x`,
        ]),
      ),
    );
  }

  if (r.memory) {
    const m = r.memory;
    const objects = Object.entries(m.objects)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ');
    out.push(
      '',
      `Memory${m.rate !== undefined && m.rate !== 'max' ? ` (proposals sent at ${m.rate}/s)` : ''}: controller RSS ${num(m.rssMiB)} MiB (peak ${num(m.peakRssMiB)} MiB${m.heapUsedMiB !== undefined ? `, V8 heap used ${num(m.heapUsedMiB)} MiB` : ''}) with ${m.decided.toLocaleString('en-US')} of ${m.proposals.toLocaleString('en-US')} proposals decided`,
      `  cached: ${objects}; ${num(m.objectsJsonMiB)} MiB as JSON, of which ${num(m.managedFieldsJsonMiB)} MiB metadata.managedFields`,
    );
    if (m.rssSplitMiB !== undefined || m.heap !== undefined) {
      const split = m.rssSplitMiB !== undefined ? `RSS ${num(m.rssSplitMiB.anon)} MiB anonymous + ${num(m.rssSplitMiB.file)} MiB file-backed` : undefined;
      const spaces = m.heap
        ? Object.entries(m.heap.spaces)
            .filter(([, v]) => v.committedMiB >= 0.5)
            .map(([k, v]) => `${k} ${num(v.usedMiB)}/${num(v.committedMiB)}`)
            .join(', ')
        : '';
      const heap = m.heap ? `V8 heap ${num(m.heap.usedMiB)} used of ${num(m.heap.committedMiB)} MiB committed (${spaces}), external ${num(m.heap.externalMiB)} MiB` : undefined;
      out.push(`  where: ${[split, heap].filter((x) => x !== undefined).join('; ')}`);
    }
    if (m.finish) {
      const l = m.finish.left;
      out.push(
        `  trees finished ${num(m.finish.waitedSeconds)} s after the last decision (unfinished: ${l.jobs} Jobs, ${l.pods} Pods, ${l.networkPolicies} NetworkPolicies, ${l.awaiting} awaiting approval); kubelet stand-in: ${m.node?.published ?? 0} runner exits published, ${m.node?.failed ?? 0} failed${m.node?.firstError ? ` (${m.node.firstError})` : ''}`,
      );
    }
  }

  for (const p of r.phases) {
    if (p.apiserverProfile) out.push('', ...renderPprofSummary(`${rateLabel(p.rate)} ${p.controller === 'm87' ? 'm87' : 'baseline'}, ${p.apiserverProfile.seconds} s, ${p.apiserverProfile.file}`, p.apiserverProfile.summary));
  }

  if (r.soak) out.push('', ...renderSoak(r.soak));

  if (r.engine) {
    const e = r.engine;
    out.push(
      '',
      `Engine (bench/engine.ts, one core): ${Math.round(e.opsPerSecond).toLocaleString('en-US')} decisions/s wall clock, ${Math.round(e.opsPerCpuSecond).toLocaleString('en-US')} per CPU-second (${Math.round(e.cpuShareDuringRun * 100)}% of a core); per decision p50 ${num(e.latencyMicroseconds.p50, 1)} us, p99 ${num(e.latencyMicroseconds.p99, 1)} us, p99.9 ${num(e.latencyMicroseconds.p999, 1)} us`,
    );
  }

  out.push('', 'Targets');
  out.push(formatTable(['target', 'actual', 'result'], r.targets.map((t) => [t.target, t.actual, t.pass === null ? 'not run' : t.pass ? 'pass' : 'MISS'])));
  return `${out.join('\n')}\n`;
}

/** The soak's summary, its curve and the verdicts (also printed by itself at the end of a soak). */
export function renderSoak(k: SoakResult): string[] {
  const out: string[] = [];
  const lat = (l: SoakResult['decisionsBeforePruning']) => (l.n === 0 ? 'none' : `${l.n.toLocaleString('en-US')} decisions, p50 ${num(l.p50)} ms, p99 ${num(l.p99)} ms`);
  out.push(
    `Soak: ${k.sent.toLocaleString('en-US')} proposals sent at ${k.rate}/s (${k.created.toLocaleString('en-US')} created, ${k.decided.toLocaleString('en-US')} decided) in ${num(k.durationSeconds)} s; the controller's retention deletes every finished tree`,
    `  retention: history TTL ${k.retention.historyTTLSeconds} s, job Pods kept ${k.retention.jobResourcesKeepForSeconds} s, session window ${k.retention.sessionWindowSeconds} s, approvals expire after ${k.retention.approvalExpirySeconds} s; --retention-rate ${k.retention.deletionsPerSecond} (${k.retention.why})`,
    `  deleted: ${Object.entries(k.deletions)
      .map(([kind, v]) => `${num(v)} ${kind}`)
      .join(', ')}; audit file ${k.auditRecords.toLocaleString('en-US')} records for ${k.auditDistinctProposals.toLocaleString('en-US')} distinct proposals; ${num(k.proposalsLeft)} proposals left at the end`,
    `  runner exits published by the kubelet stand-in: ${k.runnerExits.published.toLocaleString('en-US')}${k.runnerExits.failed > 0 ? ` (${k.runnerExits.failed} failed: ${k.runnerExits.firstError ?? '?'})` : ''}; controller peak RSS ${num(k.peakRssMiB)} MiB; API server flags ${k.apiserverFlags.join(' ')}`,
    `  decision latency before retention deleted a tree: ${lat(k.decisionsBeforePruning)}; while it deletes: ${lat(k.decisionsWhilePruning)}`,
    `  the curve (${k.csv}):`,
  );
  out.push(
    formatTable(
      ['sent', 's', 'stage', 'RSS MiB', 'heap MiB', 'proposals', 'pods', 'etcd MiB', 'etcd in use', 'apiserver RSS', 'dec/s', 'p50 ms', 'p99 ms', 'del/s', 'trees/s'],
      k.samples.map((s) => [
        String(s.sent),
        num(s.seconds),
        s.pruning ? s.stage : `${s.stage} (before pruning)`,
        num(s.controllerRssMiB),
        num(s.controllerHeapUsedMiB),
        num(s.proposalsRetained),
        num(s.podsRetained),
        num(s.etcdDbMiB, 1),
        num(s.etcdDbInUseMiB, 1),
        num(s.apiserverRssMiB),
        num(s.windowDecisionsPerSecond, 1),
        num(s.windowP50Ms),
        num(s.windowP99Ms),
        num(s.deletionsPerSecond, 1),
        num(s.treeDeletionsPerSecond, 1),
      ]),
    ),
  );
  out.push('  flat? (load samples: mean of the last third against the middle third; slope over both per 10,000 proposals)');
  out.push(
    formatTable(
      ['curve', 'verdict', 'middle mean', 'last mean', 'slope / 10k'],
      Object.entries(k.flatness).map(([name, f]) => [name, f.verdict, num(f.middleMean, 1), num(f.lastMean, 1), num(f.slopePer10k, 2)]),
    ),
  );
  return out;
}
