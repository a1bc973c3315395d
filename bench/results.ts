// The shape of bench/results/latest.json: everything the table shows, and the settings that produced it.
import type { RequestSummary } from './api-requests.ts';
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
}

export interface MemoryResult {
  proposals: number;
  decided: number;
  undecided: number;
  podsObserved: number;
  /** Controller VmRSS once every proposal was decided and the controller went quiet, MiB. */
  rssMiB: number;
  peakRssMiB: number;
  /** What the controller's informers hold at that moment (counted on the server). */
  objects: Record<string, number>;
  /** Their size as JSON, and the part of it that is metadata.managedFields, MiB. */
  objectsJsonMiB: number;
  managedFieldsJsonMiB: number;
  sustainedPerSecond: number;
  durationSeconds: number;
}

/** One batch of the soak. */
export interface SoakPoint {
  batch: number;
  /** Proposals sent so far. */
  sent: number;
  created: number;
  seconds: number;
  /** Controller VmRSS with the batch decided and still stored, MiB. */
  rssRetainedMiB: number;
  /** Controller VmRSS once the batch's tree was deleted, MiB. */
  rssAfterDeleteMiB: number;
  /** etcd database file size and the part in use (etcd_mvcc_db_total_size_in_bytes / _in_use_), MiB. */
  etcdDbMiB: number;
  etcdDbInUseMiB: number;
  /** The batch's Proposals, Decisions, Jobs and Pods were all gone within 120 s. */
  treeGone: boolean;
}

export interface SoakResult {
  n: number;
  batch: number;
  rate: number;
  sent: number;
  decided: number;
  retention: string;
  peakRssMiB: number;
  durationSeconds: number;
  points: SoakPoint[];
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
  soak?: { n: number; batch: number; rate: number };
  submitters: number;
  concurrency: number;
  workers: number;
  controllerLogLevel: string;
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
