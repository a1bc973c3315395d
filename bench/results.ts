// The shape of bench/results/latest.json: everything the table shows, and the settings that produced it.
import type { RequestSummary } from './api-requests.ts';
import type { PprofSummary } from './apiserver-profile.ts';
import type { LatencySummary } from './stats.ts';

/** API requests the controller may make per decision (issue 16): up to the job Pod and Job.status for an ALLOW. */
export const BUDGET = { allow: 6, other: 2 } as const;

/** apiserver_request_total over a phase's measured load, per decision (bench/api-requests.ts attributes rows). */
export interface RequestFigures extends RequestSummary {
  decided: number;
  /** The controller's requests ÷ decisions. */
  controllerPerDecision: number;
  /** Every request (scheduler, leases, the loader's creates, informers) ÷ decisions. */
  totalPerDecision: number;
  /** 6 per ALLOW and 2 per other decision in this phase's mix, ÷ decisions. */
  budgetPerDecision: number;
  rowsPerDecision: Record<string, number>;
}

/** Proposals per second the loader sends; 'max' = as fast as it can. */
export type Rate = number | 'max';

export type ControllerKind = 'm87' | 'noop';

export interface LoaderFigures {
  created: number;
  errors: number;
  retries: number;
  /** Proposals created per second (achieved). */
  createRate: number;
  /** Fixed rate: the latest a send went out against its schedule, and how many were > 50 ms late. */
  maxLagMs: number;
  lateOver50ms: number;
  firstErrors: string[];
}

export interface ProcessFigures {
  /** CPU seconds (user + system) during the phase, from the controller being ready to the phase's end. */
  cpuSeconds: number;
  cpuMsPerDecision: number;
  /** VmRSS at the end of the phase, MiB. */
  rssMiB: number;
  /** VmHWM (peak RSS) at the end of the phase, MiB. */
  peakRssMiB: number;
}

export interface PhaseResult {
  controller: ControllerKind;
  rate: Rate;
  namespace: string;
  n: number;
  loader: LoaderFigures;
  decided: number;
  /** Created but not decided when the phase gave up waiting. */
  undecided: number;
  /** Decisions per second between the 10 % and the 90 % completion (warm-up and tail excluded). */
  sustainedPerSecond: number;
  /** Decisions per second from the first send to the last decision. */
  overallPerSecond: number;
  /** Send time (loader, sub-ms) → Decided=True observed through a watch; milliseconds. */
  latencyMs: LatencySummary;
  /** creationTimestamp (truncated to the second) → Decided=True observed; milliseconds. */
  latencyFromCreationTimestampMs: LatencySummary;
  /** ALLOW only: send time → job Pod observed through a watch. Absent for the baseline. */
  pod?: { expected: number; observed: number; latencyMs: LatencySummary };
  /** Outcomes as written in Proposal.status.outcome. */
  outcomes: Record<string, number>;
  /** Proposals decided otherwise than the mix meant (should be 0 for m87). */
  unexpectedOutcomes: number;
  controllerProcess: ProcessFigures;
  apiserverCpuSeconds: number;
  etcdCpuSeconds: number;
  durationSeconds: number;
  loadAverage: { start: number[]; end: number[] };
  requests?: RequestFigures;
  /** Go CPU profile of kube-apiserver over the first seconds of the measured load (--apiserver-profile). */
  apiserverProfile?: { file: string; seconds: number; summary: PprofSummary };
}

/** A controller's V8 heap as its /metrics reports it (prom-client's nodejs_heap_* gauges), MiB. */
export interface HeapFigures {
  usedMiB: number;
  /** Committed by V8 (nodejs_heap_size_total_bytes). */
  committedMiB: number;
  /** Memory outside the heap that V8 accounts for (Buffers' backing stores, …). */
  externalMiB: number;
  /** Per heap space: committed and used. */
  spaces: Record<string, { committedMiB: number; usedMiB: number }>;
}

export interface MemoryResult {
  proposals: number;
  decided: number;
  undecided: number;
  podsObserved: number;
  /** Arrival rate of its proposals ('max': as fast as possible). */
  rate?: Rate;
  /** Controller VmRSS once every proposal was decided and the controller went quiet, MiB. */
  rssMiB: number;
  peakRssMiB: number;
  /** V8 heap in use at that moment (the controller's nodejs_heap_size_used_bytes), MiB. */
  heapUsedMiB?: number;
  /** That RSS split: anonymous (V8 heap, malloc, stacks) and file-backed (the mapped node binary), MiB. */
  rssSplitMiB?: { anon: number; file: number };
  /** The V8 heap at that moment (the controller's /metrics). */
  heap?: HeapFigures;
  /** What the controller's informers hold at that moment (counted on the server). */
  objects: Record<string, number>;
  /** Their size as JSON, and the part of it that is metadata.managedFields, MiB. */
  objectsJsonMiB: number;
  managedFieldsJsonMiB: number;
  sustainedPerSecond: number;
  durationSeconds: number;
  /**
   * How long the phase waited, after the last decision, for the trees to finish (Jobs done, their Pods and
   * NetworkPolicies deleted by retention, approvals expired), and what was still unfinished when it stopped.
   */
  finish?: { waitedSeconds: number; left: { jobs: number; pods: number; networkPolicies: number; awaiting: number } };
  /** The kubelet stand-in: runner exits published (one per job Pod), failures. */
  node?: { published: number; failed: number; firstError?: string };
}

/** One sample of the soak's curve (taken every --soak-sample proposals sent, and while it drains). */
export interface SoakSample {
  /** Proposals the loader had sent (created + failed) when the sample was taken. */
  sent: number;
  seconds: number;
  /** 'load' while the loader sends; 'drain' after it finished (retention removes the rest). */
  stage: 'load' | 'drain';
  /** Retention had deleted a proposal tree before this sample's window began. */
  pruning: boolean;
  /** Decided so far (cumulative). */
  decided: number;
  controllerRssMiB: number;
  /** nodejs_heap_size_used_bytes of the controller's /metrics. */
  controllerHeapUsedMiB: number;
  apiserverRssMiB: number;
  etcdRssMiB: number;
  /** Proposals / job Pods in the namespace (LIST limit=1 with remainingItemCount). */
  proposalsRetained: number;
  podsRetained: number;
  etcdDbMiB: number;
  etcdDbInUseMiB: number;
  /** Decisions in this sample's window, their rate, and their latency from send. */
  windowDecisions: number;
  windowDecisionsPerSecond: number;
  windowP50Ms: number;
  windowP99Ms: number;
  /** m87_retention_deletions_total over the window, per second: every kind, and Proposals (trees) alone. */
  deletionsPerSecond: number;
  treeDeletionsPerSecond: number;
}

export interface SoakFlatness {
  verdict: string;
  middleMean: number;
  lastMean: number;
  slopePer10k: number;
  samples: number;
}

export interface SoakResult {
  n: number;
  rate: number;
  sampleEvery: number;
  sent: number;
  created: number;
  decided: number;
  /** How the trees went: the controller's retention, the policy's settings and the rate chosen. */
  retention: {
    historyTTLSeconds: number;
    jobResourcesKeepForSeconds: number;
    sessionWindowSeconds: number;
    approvalExpirySeconds: number;
    deletionsPerSecond: number;
    why: string;
  };
  apiserverFlags: string[];
  /** m87_retention_deletions_total at the end, by kind. */
  deletions: Record<string, number>;
  /** Lines of the controller's --audit-file (one per deleted tree; a tree whose DELETE conflicted is written again). */
  auditRecords: number;
  auditDistinctProposals: number;
  /** Trees left at the end (the drain did not finish when > 0). */
  proposalsLeft: number;
  /** The kubelet stand-in's runner exits published / failed (bench/kubelet-standin.ts). */
  runnerExits: { published: number; failed: number; firstError: string | undefined };
  peakRssMiB: number;
  durationSeconds: number;
  /** Decision latency before retention deleted its first tree, and after (while it deletes). */
  decisionsBeforePruning: LatencySummary;
  decisionsWhilePruning: LatencySummary;
  /** The load samples judged (first third = fill; last third against the middle). */
  flatness: Record<'controllerRssMiB' | 'controllerHeapUsedMiB' | 'proposalsRetained' | 'etcdDbInUseMiB' | 'etcdDbMiB' | 'apiserverRssMiB', SoakFlatness>;
  csv: string;
  samples: SoakSample[];
}

export interface EngineFigures {
  opsPerSecond: number;
  opsPerCpuSecond: number;
  cpuShareDuringRun: number;
  iterations: number;
  latencyMicroseconds: { p50: number; p90: number; p99: number; p999: number; max: number };
  targets: { opsPerSecond: number; p99Microseconds: number };
}

export interface Comparison {
  rate: Rate;
  /** m87 sustained decisions/s ÷ baseline's. */
  throughputRatio: number;
  /** m87 p99 latency ÷ baseline's. */
  p99Ratio: number;
  cpuPerDecisionRatio: number;
  /** kube-apiserver CPU per decision, m87 ÷ baseline. */
  apiserverCpuPerDecisionRatio: number;
}

export interface TargetCheck {
  target: string;
  actual: string;
  /** null: not measured in this run (part not selected, or no phase at that rate). */
  pass: boolean | null;
}

export interface BenchSettings {
  n: number;
  warmup: number;
  rates: number[];
  parts: string[];
  memoryN: number;
  /** Arrival rate of the memory part ('max' or proposals/s). */
  memoryRate?: Rate;
  soak?: { n: number; rate: number; sampleEvery: number };
  submitters: number;
  concurrency: number;
  workers: number;
  controllerLogLevel: string;
  /** NODE_OPTIONS the real controller ran with. */
  controllerNodeOptions?: string;
  /** More flags the real controller ran with (--controller-args). */
  controllerArgs?: string[];
  mix: string;
  rateLimitPerSubmitterPerMinute: number;
  processNode: boolean;
  notes: string[];
}

export interface BenchResults {
  benchmark: 'm87 end-to-end';
  startedAt: string;
  finishedAt: string;
  host: { node: string; cpus: number; cpuModel: string; loadAverageAtStart: number[] };
  settings: BenchSettings;
  phases: PhaseResult[];
  comparisons: Comparison[];
  memory?: MemoryResult;
  soak?: SoakResult;
  engine?: EngineFigures;
  targets: TargetCheck[];
  logDir: string;
}
