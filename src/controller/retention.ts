// Retention planning (pure): when a finished job's Pod and NetworkPolicy go, and when a whole proposal tree
// (Proposal → Decision, Approvals, Job by owner references) goes. The retention controller
// (retention-reconciler.ts) executes the plan; nothing here does I/O or reads a clock.
//
// Invariants the plan keeps, whatever the settings say:
// - a Pod goes only after its Job's result (and receipt) is recorded in Job.status and the keep-for window
//   passed; its NetworkPolicy only after the Pod is gone (never a Pod without its NetworkPolicy);
// - a tree goes only when nothing in it is pending: decided, no approval unjudged or still possible, its Job
//   finished and its Pod and NetworkPolicy already gone (so the tree goes after max(TTL, keep-for));
// - never within the session window (plus the rate window) after it finished: the topology and rate rules
//   read Decisions and Jobs, so pruning must not make a toxic pair's first half disappear.
import { isTerminalJobPhase } from '../api/job.ts';

/** The settings the planner needs (GovernancePolicy spec.retention with defaults, and spec.session). */
export interface RetentionSettings {
  jobResourcesKeepForSeconds: number;
  historyTTLSeconds: number;
  maxProposalsPerNamespace: number;
  /** spec.session.windowSeconds. */
  sessionWindowSeconds: number;
}

/** The rate rule looks one minute back (session-ledger.ts). */
export const RATE_WINDOW_SECONDS = 60;

/** Proposal phases after which nothing more happens to the tree (given the checks in treeState). */
export const FINISHED_PHASES: ReadonlySet<string> = new Set(['Denied', 'NeedsEvidence', 'Succeeded', 'Failed', 'Rejected', 'Expired']);

// ---- job Pods and NetworkPolicies ------------------------------------------------------------------------

export interface JobResourceFacts {
  /** Job.status.phase. */
  phase: string | undefined;
  /** Job.status.completionTime, epoch ms (NaN when absent or unreadable). */
  completedAt: number;
  /** The job's Pod exists (as far as the caller knows). */
  pod: boolean;
  /** The job's NetworkPolicy exists (as far as the caller knows). */
  networkPolicy: boolean;
}

export type JobResourcePlan =
  | { action: 'none' }
  /** Not yet: look again at `at` (epoch ms). */
  | { action: 'wait'; at: number }
  | { action: 'deletePod' }
  /** The Pod is gone (the caller confirms that on the server before deleting). */
  | { action: 'deleteNetworkPolicy' };

export function planJobResources(job: JobResourceFacts, keepForSeconds: number, now: number): JobResourcePlan {
  if (!job.pod && !job.networkPolicy) return { action: 'none' };
  // The result (with its receipt) is recorded first; a job without a readable completion time keeps its
  // resources until its tree goes (fail safe: nothing deleted on a guess).
  if (!isTerminalJobPhase(job.phase) || !Number.isFinite(job.completedAt)) return { action: 'none' };
  const due = job.completedAt + keepForSeconds * 1000;
  if (now < due) return { action: 'wait', at: due };
  return job.pod ? { action: 'deletePod' } : { action: 'deleteNetworkPolicy' };
}

// ---- proposal trees ----------------------------------------------------------------------------------------

export interface TreeFacts {
  namespace: string;
  name: string;
  uid: string;
  /** Proposal creation, epoch ms (ordering only). */
  createdAt: number;
  /** Proposal.status.phase. */
  phase: string | undefined;
  /** The Decision of this incarnation: absent, unreadable, or its facts (times in epoch ms, NaN when absent). */
  decision: { outcome: string; decidedAt: number; expiresAt: number } | 'unreadable' | undefined;
  /** The Job of this incarnation, when there is one. */
  job: { phase: string | undefined; completedAt: number } | undefined;
  /** Approvals naming this incarnation: how many are not judged yet, and the latest judgement (epoch ms). */
  approvals: { unjudged: number; lastJudgedAt: number };
  /**
   * The job's Pod or NetworkPolicy still exists. The tree waits for keep-for to remove them (Pod first):
   * the garbage collector would delete both at once, in either order, and a Pod must never be left without
   * its NetworkPolicy, not even for a moment.
   */
  jobResourcesLeft: boolean;
}

export type TreeState = { state: 'pending'; why: string } | { state: 'finished'; finishedAt: number };

export function treeState(t: TreeFacts, now: number): TreeState {
  const d = t.decision;
  if (d === undefined) return { state: 'pending', why: 'not decided' };
  if (d === 'unreadable') return { state: 'pending', why: 'Decision unreadable (kept for inspection)' };
  if (!Number.isFinite(d.decidedAt)) return { state: 'pending', why: 'decision time unknown' };
  if (t.phase === undefined || !FINISHED_PHASES.has(t.phase)) return { state: 'pending', why: `phase ${t.phase ?? 'unset'}` };
  if (t.approvals.unjudged > 0) return { state: 'pending', why: 'an approval is not judged yet' };
  if (t.jobResourcesLeft) return { state: 'pending', why: "the job's Pod or NetworkPolicy is not deleted yet" };
  let finishedAt = d.decidedAt;
  if (t.job !== undefined) {
    if (!isTerminalJobPhase(t.job.phase)) return { state: 'pending', why: 'job not finished' };
    if (!Number.isFinite(t.job.completedAt)) return { state: 'pending', why: 'job completion time unknown' };
    finishedAt = Math.max(finishedAt, t.job.completedAt);
  } else if (d.outcome === 'REQUIRE_HUMAN' && t.phase !== 'Rejected' && t.phase !== 'Failed') {
    // An approval could still be given until the decision expires.
    if (!Number.isFinite(d.expiresAt) || now <= d.expiresAt) return { state: 'pending', why: 'an approval could still be given' };
    finishedAt = Math.max(finishedAt, d.expiresAt);
  }
  if (Number.isFinite(t.approvals.lastJudgedAt)) finishedAt = Math.max(finishedAt, t.approvals.lastJudgedAt);
  return { state: 'finished', finishedAt };
}

export type PruneReason = 'HistoryTTL' | 'NamespaceCap';

export interface NamespacePlan {
  /** Trees to delete now, oldest finished first. */
  prune: { tree: TreeFacts; reason: PruneReason; finishedAt: number }[];
  /** When something else becomes due (epoch ms), if anything will. */
  nextAt: number | undefined;
}

/** Seconds after it finished before any tree may go: the topology and rate rules still read it before. */
export function protectionSeconds(s: Pick<RetentionSettings, 'sessionWindowSeconds'>): number {
  return Math.max(s.sessionWindowSeconds, RATE_WINDOW_SECONDS);
}

/** What of one namespace's proposal trees is due: past the history TTL, or over the cap (oldest first). */
export function planNamespace(trees: readonly TreeFacts[], s: RetentionSettings, now: number): NamespacePlan {
  const protect = protectionSeconds(s) * 1000;
  const ttl = Math.max(s.historyTTLSeconds * 1000, protect);
  const finished: { tree: TreeFacts; finishedAt: number }[] = [];
  for (const tree of trees) {
    const st = treeState(tree, now);
    if (st.state === 'finished') finished.push({ tree, finishedAt: st.finishedAt });
  }
  finished.sort((a, b) => a.finishedAt - b.finishedAt || a.tree.createdAt - b.tree.createdAt || (a.tree.name < b.tree.name ? -1 : a.tree.name > b.tree.name ? 1 : 0));
  const prune: NamespacePlan['prune'] = [];
  let nextAt: number | undefined;
  const later = (at: number): void => {
    nextAt = nextAt === undefined ? at : Math.min(nextAt, at);
  };
  let excess = trees.length - s.maxProposalsPerNamespace;
  for (const f of finished) {
    if (now >= f.finishedAt + ttl) {
      prune.push({ ...f, reason: 'HistoryTTL' });
      excess--;
    } else if (excess > 0 && now >= f.finishedAt + protect) {
      prune.push({ ...f, reason: 'NamespaceCap' });
      excess--;
    } else {
      later(excess > 0 ? f.finishedAt + protect : f.finishedAt + ttl);
    }
  }
  return { prune, nextAt };
}
