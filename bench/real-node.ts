/**
 * npm run bench:real-node [-- --n 50 --interval-ms 1000 --cold-image --out FILE]
 *
 * Figures of the product as users install it, on the real node (dev/cluster/real-node): the m87 image's
 * build time (warm: inputs hashed, layers cached; with --cold-image also a build into an empty image cache)
 * and size; the real node's up and down time; the chart with the controller in-cluster (dev/demo/real-stack.ts);
 * then N ALLOW proposals, one every --interval-ms, round-robin over casey, bob and alice (each below the
 * policy's 30 proposals per minute), each followed by polling (100 ms) until its job Pod is Running and its
 * Job Succeeded: p50/p99 of proposal→Pod Running and proposal→Succeeded. A Pod seen already finished counts
 * as Running at that moment (short jobs may run for less than one poll). Needs root (the real node).
 * Prints the figures; writes JSON to --out when given.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import type { KubeConfig } from '@kubernetes/client-node';
import { startControlPlane } from '../dev/cluster/plane.ts';
import { HOST_ADDRESS } from '../dev/cluster/real-node/network.ts';
import { startRealNode } from '../dev/cluster/real-node/real-node.ts';
import { buildImage } from '../dev/image/index.ts';
import { getJob, getPod, propose } from '../dev/demo/observe.ts';
import { networkCallSpec } from '../dev/demo/proposals.ts';
import { startRealStack } from '../dev/demo/real-stack.ts';
import type { ProposalSpecInput } from '../src/api/proposal.ts';

const { values } = parseArgs({
  options: { n: { type: 'string' }, 'interval-ms': { type: 'string' }, 'cold-image': { type: 'boolean' }, out: { type: 'string' } },
});
const N = Number(values.n ?? 50);
const INTERVAL_MS = Number(values['interval-ms'] ?? 1000);
const log = (line: string): void => {
  process.stderr.write(`bench real-node: ${line}\n`);
};
const seconds = (t0: number): number => (performance.now() - t0) / 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

interface Sample {
  readonly name: string;
  readonly runningSeconds: number;
  readonly succeededSeconds: number;
  readonly phase: string;
}

/** Polls the Job and its Pod until the Job is final; times from `t0`. */
async function follow(admin: KubeConfig, ns: string, name: string, t0: number): Promise<Sample> {
  let running: number | undefined;
  const deadline = performance.now() + 180_000;
  while (performance.now() < deadline) {
    const job = await getJob(admin, ns, name).catch(() => undefined);
    const podName = job?.status?.podName;
    if (running === undefined && podName !== undefined) {
      const phase = (await getPod(admin, ns, podName).catch(() => undefined))?.status?.phase;
      if (phase === 'Running' || phase === 'Succeeded' || phase === 'Failed') running = seconds(t0);
    }
    const phase = job?.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return { name, runningSeconds: running ?? seconds(t0), succeededSeconds: seconds(t0), phase };
    await sleep(100);
  }
  throw new Error(`${ns}/${name}: no final Job phase within 180 s`);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the real node needs root');
  const figures: Record<string, unknown> = { n: N, intervalMs: INTERVAL_MS };
  if (values['cold-image'] === true) {
    const imageDir = mkdtempSync(join(tmpdir(), 'm87-bench-image-'));
    try {
      const t0 = performance.now();
      await buildImage({ imageDir });
      figures.imageColdBuildSeconds = seconds(t0);
      log(`image cold build ${(figures.imageColdBuildSeconds as number).toFixed(1)} s`);
    } finally {
      rmSync(imageDir, { recursive: true, force: true });
    }
  }
  let t0 = performance.now();
  const image = await buildImage();
  figures.imageWarmBuildSeconds = seconds(t0);
  figures.imageCompressedBytes = image.size;
  figures.imageUnpackedBytes = image.unpackedSize;
  log(`image ${image.reference}: ${(image.size / 1e6).toFixed(1)} MB compressed, ${(image.unpackedSize / 1e6).toFixed(1)} MB unpacked; warm build ${(figures.imageWarmBuildSeconds as number).toFixed(1)} s`);

  t0 = performance.now();
  const plane = await startControlPlane({ podNetworkAddress: HOST_ADDRESS });
  figures.planeUpSeconds = seconds(t0);
  try {
    t0 = performance.now();
    const node = await startRealNode({ plane });
    figures.nodeUpSeconds = seconds(t0);
    log(`plane up ${(figures.planeUpSeconds as number).toFixed(1)} s, real node up ${(figures.nodeUpSeconds as number).toFixed(1)} s`);
    try {
      const jobNamespace = 'bench-real';
      t0 = performance.now();
      const stack = await startRealStack({ kubeconfigPath: plane.kubeconfigPath, node, jobNamespace, onProgress: (line) => log(`  ${line}`) });
      figures.stackUpSeconds = seconds(t0);
      try {
        const suffix = randomBytes(2).toString('hex');
        const submitters: { kc: KubeConfig; spec: (i: number) => ProposalSpecInput }[] = [
          // The real node serves no repository (Stack.repository): every job fetches a status page from the
          // egress target through the runner's gate (the shipped http-get Tool).
          { kc: stack.bob, spec: (i) => networkCallSpec('bob', [`http://${stack.egressDestination.host}:${stack.egressDestination.port}/bench/${i}`], stack.egressDestination) },
          { kc: stack.alice, spec: (i) => networkCallSpec('alice', [`http://${stack.egressDestination.host}:${stack.egressDestination.port}/bench/${i}`], stack.egressDestination) },
        ];
        const followers: Promise<Sample>[] = [];
        const start = performance.now();
        for (let i = 0; i < N; i++) {
          const s = submitters[i % submitters.length]!;
          const name = `bench-${suffix}-${i}`;
          const at = performance.now();
          await propose(s.kc, jobNamespace, name, s.spec(i));
          followers.push(follow(stack.admin, jobNamespace, name, at));
          const next = start + (i + 1) * INTERVAL_MS;
          await sleep(Math.max(0, next - performance.now()));
        }
        const samples = await Promise.all(followers);
        const failed = samples.filter((s) => s.phase !== 'Succeeded');
        if (failed.length > 0) throw new Error(`${failed.length} of ${N} jobs did not succeed: ${failed.map((f) => f.name).join(', ')}`);
        const running = samples.map((s) => s.runningSeconds).sort((a, b) => a - b);
        const succeeded = samples.map((s) => s.succeededSeconds).sort((a, b) => a - b);
        figures.proposalToPodRunning = { p50: quantile(running, 0.5), p99: quantile(running, 0.99), max: running.at(-1) };
        figures.proposalToSucceeded = { p50: quantile(succeeded, 0.5), p99: quantile(succeeded, 0.99), max: succeeded.at(-1) };
      } finally {
        await stack.stop();
      }
    } finally {
      const report = await node.stop();
      figures.nodeDownSeconds = report.seconds;
      if (report.problems.length > 0) figures.nodeDownProblems = report.problems;
    }
  } finally {
    await plane.stop();
  }
  const out = JSON.stringify(figures, null, 2);
  process.stdout.write(`${out}\n`);
  if (values.out !== undefined) writeFileSync(values.out, `${out}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench real-node: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
