// The chaos tier runs in two sizes: `short` (part of npm test, a few minutes at most) and `long` (npm run
// test:chaos, the default, whose figures become docs/reliability.md). M87_CHAOS chooses; each scenario reads
// its counts from here so that both forms run the same code.

export type ChaosMode = 'short' | 'long';

export function chaosMode(env: NodeJS.ProcessEnv = process.env): ChaosMode {
  const value = (env.M87_CHAOS ?? '').trim().toLowerCase();
  if (value === '' || value === 'long') return 'long';
  if (value === 'short') return 'short';
  throw new Error(`M87_CHAOS=${JSON.stringify(env.M87_CHAOS)}: want short or long`);
}

export interface ChaosCounts {
  /** Scenario 1: proposals in the burst and kill -9 of the controller during it. */
  readonly kill: { readonly proposals: number; readonly kills: number };
  /** Scenario 2: proposals per burst; `restarts` bursts restart kube-apiserver, as many restart etcd. */
  readonly restart: { readonly proposals: number; readonly restarts: number };
  /** Scenario 3: proposals per burst and compactions during the first burst. */
  readonly compaction: { readonly proposals: number; readonly compactions: number };
  /** Scenario 4: proposals per burst, leader kills and leader freezes (SIGSTOP past the lease). */
  readonly failover: { readonly proposals: number; readonly kills: number; readonly freezes: number };
  /** Scenario 5: generated Proposal objects. */
  readonly fuzz: { readonly runs: number };
  /** Scenario 7: finished proposal trees (and jobs) to prune, and kill -9 of the controller while it prunes. */
  readonly prune: { readonly trees: number; readonly kills: number };
}

const COUNTS: Record<ChaosMode, ChaosCounts> = {
  short: {
    kill: { proposals: 60, kills: 3 },
    restart: { proposals: 30, restarts: 1 },
    compaction: { proposals: 30, compactions: 2 },
    failover: { proposals: 30, kills: 1, freezes: 1 },
    fuzz: { runs: 40 },
    prune: { trees: 40, kills: 3 },
  },
  long: {
    kill: { proposals: 300, kills: 20 },
    restart: { proposals: 100, restarts: 3 },
    compaction: { proposals: 150, compactions: 5 },
    failover: { proposals: 100, kills: 3, freezes: 3 },
    fuzz: { runs: 300 },
    prune: { trees: 160, kills: 10 },
  },
};

export function chaosCounts(mode: ChaosMode = chaosMode()): ChaosCounts {
  return COUNTS[mode];
}
