// The e2e tier's stack: the same one `npm run demo` runs (dev/demo/stack.ts) — the Helm chart, agents,
// controller and process node as child processes — on the run's shared control plane. One stack per test
// file (files run one after another); the chart release is shared and upgraded idempotently.
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { scrapeMetrics, type MetricsSnapshot } from '../../dev/demo/metrics.ts';
import type { ScenarioContext } from '../../dev/demo/scenarios.ts';
import { startStack, type Stack } from '../../dev/demo/stack.ts';
import { clusterInfo } from '../support/kube.ts';
import { TEST_ONLY_TOOLS } from '../support/tool-catalogue.ts';
import { installTestTools } from '../support/tools.ts';

export const E2E_JOB_NAMESPACE = 'm87-e2e-jobs';

const log = (line: string): void => {
  process.stderr.write(`m87 e2e: ${line}\n`);
};

/** Starts the stack for this test file (call at the top level) and stops it after the file. */
export async function e2eStack(file: string): Promise<{ stack: Stack; ctx: ScenarioContext; metrics: () => Promise<MetricsSnapshot> }> {
  const workDir = mkdtempSync(join(tmpdir(), 'm87-e2e-'));
  const id = randomBytes(2).toString('hex');
  let stack: Stack;
  try {
    stack = await startStack({
      kubeconfigPath: clusterInfo().kubeconfigPath,
      workDir,
      jobNamespace: E2E_JOB_NAMESPACE,
      nodeName: `m87-e2e-${id}`,
      // Apart from the demo's (10.236/16) and the integration tests' (10.233/16, 10.234/16) pools.
      podCidr: `10.237.${randomInt(0, 256)}.0/24`,
      onProgress: process.env.M87_VERBOSE === '1' ? (line) => log(`${file}: ${line}`) : undefined,
    });
  } catch (err) {
    log(`${file}: the stack did not start; logs kept in ${workDir}`);
    throw err;
  }
  // The chart installed the shipped Tools; tests that only need a harmless step add the test-only ones.
  await installTestTools(stack.admin, Object.keys(TEST_ONLY_TOOLS));
  let failed = false;
  afterEach(({ task }) => {
    if (task.result?.state === 'fail') failed = true;
  });
  afterAll(async () => {
    await stack.stop();
    if (failed) log(`${file}: logs kept in ${workDir} (controller.log, process-node.log, node/pods/<uid>/containers/runner/)`);
    else rmSync(workDir, { recursive: true, force: true });
  });
  return { stack, ctx: { stack, suffix: id }, metrics: () => scrapeMetrics(stack.metricsUrl) };
}
