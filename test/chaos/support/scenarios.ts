// The scenarios of the chaos tier and the shape of their results (no vitest imports: the globalSetup reads them).
import type { ChaosMode } from './mode.ts';

export const SCENARIOS = {
  kill: { order: 1, title: 'Controller killed (SIGKILL) at random moments during a burst' },
  restart: { order: 2, title: 'kube-apiserver and etcd restarted during a burst' },
  compaction: { order: 3, title: 'etcd compacted while watches are open (410 Gone, relist)' },
  failover: { order: 4, title: 'Two replicas: leader killed, leader frozen past its lease' },
  fuzz: { order: 5, title: 'Generated Proposal objects (fast-check)' },
  devcluster: { order: 6, title: 'Fault helpers of the local control plane' },
  prune: { order: 7, title: 'Controller killed (SIGKILL) mid-prune (retention)' },
} as const;
export type ScenarioId = keyof typeof SCENARIOS;

export interface StepResult {
  readonly name: string;
  readonly passed: boolean;
  readonly error?: string;
  readonly durationMs: number;
}

export interface ScenarioResult {
  readonly id: ScenarioId;
  readonly title: string;
  readonly mode: ChaosMode;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly passed: boolean;
  /** Nothing ran (e.g. faults need a local control plane and the run used M87_KUBECONFIG). */
  readonly skipped: boolean;
  readonly steps: readonly StepResult[];
  /** Named counts (proposals, kills, decisions, 410s…). */
  readonly counts: Readonly<Record<string, number>>;
  /** Named samples in milliseconds (recovery times…). */
  readonly timings: Readonly<Record<string, readonly number[]>>;
  readonly notes: readonly string[];
}

