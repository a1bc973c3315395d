import { defineConfig } from 'vitest/config';

// Tiers: unit (pure, no cluster), integration (one real control plane per run, a namespace per test file),
// e2e (control plane + controller + process node running real job Pods), chaos, and e2e-real (a control plane
// with a real node: containerd, kubelet, kube-router; root only, skipped with the reason elsewhere).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000 } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: ['test/integration/real-node/**'],
          globalSetup: ['test/support/cluster-global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/cluster-global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        // Faults, restarts, compaction and fuzzed input (test/chaos/support/mode.ts: M87_CHAOS=short|long).
        test: {
          name: 'chaos',
          include: ['test/chaos/**/*.test.ts'],
          globalSetup: ['test/support/cluster-global-setup.ts', 'test/chaos/support/report-setup.ts'],
          testTimeout: 1_800_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        // One real node per machine: the files share the node the global setup brings up and down (serial).
        test: {
          name: 'e2e-real',
          // Garbage collection again, with the job Pods bound to the real node (its kubelet finishes their deletion).
          include: ['test/integration/real-node/**/*.test.ts', 'test/integration/controller/garbage-collection.test.ts'],
          globalSetup: ['test/support/real-node-global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
