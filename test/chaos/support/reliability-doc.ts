// Renders docs/reliability.md from the scenario results of a long chaos run (pure: results in, Markdown out).
import { SCENARIOS, type ScenarioId, type ScenarioResult } from './scenarios.ts';

export interface RunInfo {
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly cpus: number;
  readonly node: string;
  readonly kubernetes: string;
  readonly etcd: string;
  readonly seed: string | undefined;
}

/** What each scenario does and what it asserts, in the words of the report. */
const PROCEDURES: Record<ScenarioId, string> = {
  kill:
    'The controller runs as a child process (`m87 controller`, leader election on with lease 8 s / renew deadline 6 s / ' +
    'retry 1 s and one stable identity, as a StatefulSet replica has; scenario 4 covers a new identity waiting for ' +
    'the lease). Agents (ServiceAccounts listed as AgentProfile subjects) create the burst in chunks; during each ' +
    'chunk the controller is killed with SIGKILL at a random moment — in 15 % of the cycles while it starts, otherwise ' +
    'right after a randomly chosen reconcile log line (decided, minted, NetworkPolicy and Pod created, phase changed) — ' +
    'and started again. Afterwards: every Proposal has exactly one Decision (never replaced: the UID first seen stays), ' +
    'agreeing with the engine evaluated locally on the same inputs; a Job exactly for each ALLOW; every Job exactly ' +
    'one Pod; and every Pod\'s NetworkPolicy (owned by the same Job) was stored before the Pod: its resourceVersion (a ' +
    'global, monotonic etcd revision) is lower and its creationTimestamp not later.',
  restart:
    'The controller keeps running while kube-apiserver, and in a second burst etcd, is killed (SIGKILL), kept down ' +
    'for 1 s and started again on the same ports and data directory, a third of the way into a burst. Agents retry ' +
    'their creates while the API is down. The controller runs with lease 40 s / renew deadline 30 s / retry 2 s: a ' +
    'leader that cannot renew for the renew deadline steps down and exits for its Deployment to restart it (scenario ' +
    '1), and a lone kube-apiserver restarting on a loaded machine can take longer than the default 10 s. Asserted: the ' +
    'same controller process decides every proposal exactly once and creates the Jobs, Pods and NetworkPolicies as in ' +
    'scenario 1. Catch-up is measured from the moment the API server answers again until every proposal of the burst ' +
    'has its Decision.',
  compaction:
    'While the controller\'s watches are open and a burst is in flight, etcd is compacted to its current revision ' +
    'several times (HTTP/JSON gateway, physical compaction; etcd then refuses reads below it, which the test checks). ' +
    'The API server\'s watch cache serves open watches and their resumptions, so compaction alone reaches no client ' +
    '(the count of 410s below says so). Then etcd is compacted once more and kube-apiserver restarted (same lease ' +
    'as scenario 2), so every informer has to resume from a revision that neither the new watch cache nor etcd still ' +
    'has: the API server answers 410 Gone, the informers relist, and nothing is missed (every proposal of both bursts ' +
    'decided exactly once, Jobs, Pods and NetworkPolicies as in scenario 1).',
  failover:
    'Two controller replicas share one Lease (5 s / renew deadline 3.5 s / retry 0.5 s); each reaches the API server ' +
    'through its own recording proxy, so every write is attributed to the replica that sent it. (a) The leader is ' +
    'killed (SIGKILL) right after a random reconcile log line during a burst: the standby must take the lease only ' +
    'after it expired (acquireTime − last renewTime ≥ lease duration) and within the lease duration plus the ' +
    'candidate\'s retry interval (2.2 × retry, plus 1.5 s of scheduling slack), and no proposal may get a second ' +
    'Decision: exactly one successful Decision create per proposal across both replicas. (b) During a burst the ' +
    'leader\'s proxy holds back the answers to its requests, so its reconciles stay suspended mid-work; once it has ' +
    'sent nothing for 0.75 s it is frozen with SIGSTOP right after a Lease renew. The standby takes over and finishes ' +
    'the burst; the frozen replica is resumed with SIGCONT and its held answers delivered: it must not send a single ' +
    'write (a stale Lease renew would have to be refused) and must exit to restart as a candidate.' +
    ' Before a new leader decides or mints anything, its caches must hold every write of the old one: it waits for a ' +
    'LIST of Proposals, Decisions, Jobs and Approvals that *started* after it acquired the Lease (a LIST already in ' +
    'flight at that moment may predate the old leader\'s last Decision). ' +
    '`test/integration/controller/failover-history.test.ts` proves it: a proxy holds back the standby\'s Decision ' +
    'LIST while the old leader decides the first half of a toxic pair, and the new leader must find the pair ' +
    '(REQUIRE_HUMAN), never ALLOW on a history without it. Not covered by any LIST: a write the old leader sent ' +
    'before its renew deadline that reaches the API server only after the new leader\'s LIST started (held in the ' +
    'network for longer than lease duration − renew deadline); the Lease timings are what bound it.',
  fuzz:
    'fast-check generates Proposal objects, half from an arbitrary schema-valid base (foreign agents and submitters, ' +
    'random tools, effects and arguments) and half from a plausible one (tools and effects agree, evidence, rollback), ' +
    'then applies up to two mutations: unicode (astral, combining, RTL override, NUL, lone surrogates), strings at and ' +
    'past each length limit (also in astral characters), deep values (also under unknown fields, which are pruned), ' +
    'path tricks (`//sys`, `/dev/./shm`, `/workspace/../dev/shm`, encoded and look-alike), numbers at and past the ' +
    'bounds, wrong types, unknown enum values, repeated set members, too many items, malformed argument names, missing ' +
    'required fields, and long, dotted or invalid object names. Agent ServiceAccounts create them. Asserted: the API ' +
    'server either rejects an object naming a field it touched (status causes, or the message), or stores it and the ' +
    'controller decides it; the controller never ALLOWs what the engine alone (evaluate() with the same policy, ' +
    'profile and an empty session) would not, and is never less severe; it never crashes; and an object stored under ' +
    'an earlier, looser schema (the CRD relaxed for a moment, then restored) that it cannot parse gets ' +
    'Decided=False/InvalidProposal and is neither rewritten nor retried while its submitter\'s queue is woken again.',
  prune:
    'Retention under SIGKILL. A controller with retention off decides a burst (allowed, denied, awaiting approval); ' +
    'the allowed jobs\' Pods are given a receipt, so their trees finish. The policy keeps job Pods 0 s and trees 60 s ' +
    '(the least the session and rate windows allow). Then controllers with retention on (audit file sink, 8 deletions/s) ' +
    'are killed with SIGKILL right after a random retention log line (audit record written, tree deleted, job Pod or ' +
    'NetworkPolicy deleted) and started again. After every kill: no job Pod without its NetworkPolicy, and every ' +
    'Proposal gone from the server has an audit record (its UID) in the file. At the end: every finished tree is gone ' +
    'with its Decision, Job, Pod and NetworkPolicy (garbage collector), the ones awaiting approval all stay, and the ' +
    'API server\'s audit log shows every Proposal DELETE preceded by the record in the file and every NetworkPolicy ' +
    'DELETE by its Pod\'s.',
  devcluster:
    'The fault helpers used above: `ControlPlane.restartComponent()` keeps ports, data and the state file (stop() ' +
    'finds the new process), and `compactEtcd()` really compacts (etcd refuses reads below the compacted revision).',
};

function seconds(ms: number): string {
  return (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

export function timingRow(name: string, samples: readonly number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const cells = [sorted.length, quantile(sorted, 0), quantile(sorted, 0.5), quantile(sorted, 0.95), quantile(sorted, 1)];
  return `| ${name} | ${cells[0]} | ${cells.slice(1).map((ms) => seconds(ms)).join(' | ')} |`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderReliabilityDoc(results: readonly ScenarioResult[], run: RunInfo): string {
  const byId = new Map(results.map((r) => [r.id, r]));
  const ids = (Object.keys(SCENARIOS) as ScenarioId[]).sort((a, b) => SCENARIOS[a].order - SCENARIOS[b].order);
  const out: string[] = [];
  out.push('# Reliability');
  out.push('');
  out.push(
    `Generated by \`npm run test:chaos\` (long form) on ${run.finishedAt}; the next long run rewrites this file. ` +
      'The short form of the same tests runs in `npm test`. Everything runs against the real local control plane ' +
      `(${run.kubernetes}, etcd ${run.etcd}) on ${run.cpus} CPU(s), Node ${run.node}; the whole run took ` +
      `${seconds(run.durationMs)} s.${run.seed !== undefined ? ` Random seed: \`${run.seed}\` (M87_CHAOS_SEED reproduces the random moments and the generated objects).` : ''}`,
  );
  out.push('');
  out.push('Times are wall-clock on a shared machine, observed by the test (polling every 100–250 ms), so they are');
  out.push('upper bounds for what the controller needs; they are reported, not asserted, except the lease bounds.');
  out.push('Each scenario has its own namespaces, GovernancePolicy, AgentProfile and controller (namespace, Lease, signing');
  out.push('key). `M87_CHAOS=short` runs the short form, `M87_CHAOS_SEED=<n>` repeats a run; when a scenario fails, the');
  out.push("controllers' logs are kept (the run prints where). Code: `test/chaos/`.");
  out.push('');
  out.push('| # | Scenario | Result | Duration |');
  out.push('|---|---|---|---|');
  for (const id of ids) {
    const r = byId.get(id);
    const result = r === undefined ? 'not run' : r.skipped ? 'skipped' : r.passed ? 'passed' : '**FAILED**';
    out.push(`| ${SCENARIOS[id].order} | ${SCENARIOS[id].title} | ${result} | ${r === undefined ? '–' : `${seconds(r.durationMs)} s`} |`);
  }
  for (const id of ids) {
    const r = byId.get(id);
    out.push('');
    out.push(`## ${SCENARIOS[id].order}. ${SCENARIOS[id].title}`);
    out.push('');
    out.push(PROCEDURES[id]);
    out.push('');
    if (r === undefined) {
      out.push('_Not run in the last long run._');
      continue;
    }
    const counts = Object.entries(r.counts);
    if (counts.length > 0) {
      out.push('| Count | Value |');
      out.push('|---|---:|');
      for (const [name, value] of counts) out.push(`| ${cell(name)} | ${value} |`);
      out.push('');
    }
    const timings = Object.entries(r.timings);
    if (timings.length > 0) {
      out.push('| Time (s) | n | min | median | p95 | max |');
      out.push('|---|---:|---:|---:|---:|---:|');
      for (const [name, samples] of timings) out.push(timingRow(cell(name), samples));
      out.push('');
    }
    out.push('| Step | Result | s |');
    out.push('|---|---|---:|');
    for (const s of r.steps) out.push(`| ${cell(s.name)} | ${s.passed ? 'passed' : `**failed**: ${cell(s.error ?? '')}`} | ${seconds(s.durationMs)} |`);
    if (r.notes.length > 0) {
      out.push('');
      for (const n of r.notes) out.push(`- ${n}`);
    }
  }
  out.push('');
  return out.join('\n');
}
