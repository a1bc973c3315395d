// vitest globalSetup for the e2e-real tier: a local control plane started for the real node's pod network and
// the real node (containerd, kubelet, kube-router) on it, brought up once per run and down at its end; the
// teardown fails the run when the node left anything on the host. Where the real node cannot start (not root,
// no overlayfs, missing pieces) its tests are skipped with the reason in one line.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { TestProject } from 'vitest/node';
import './cluster-global-setup.ts'; // the m87Cluster type this setup also provides
import { startControlPlane } from '../../dev/cluster/plane.ts';
import { HOST_ADDRESS } from '../../dev/cluster/real-node/network.ts';
import { checkRealNodePrerequisites, RealNodeUnavailableError } from '../../dev/cluster/real-node/prerequisites.ts';
import { destroyLockedRealNode, startRealNode } from '../../dev/cluster/real-node/real-node.ts';

export type RealNodeTier =
  | { readonly available: false; readonly reason: string }
  | {
      readonly available: true;
      readonly kubeconfigPath: string;
      readonly planeStateDir: string;
      readonly nodeStateDir: string;
      readonly nodeName: string;
      readonly upSeconds: number;
    };

declare module 'vitest' {
  export interface ProvidedContext {
    m87RealNode: RealNodeTier;
  }
}

const log = (line: string): void => {
  process.stderr.write(`m87 real node: ${line}\n`);
};

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  try {
    checkRealNodePrerequisites();
  } catch (error) {
    if (!(error instanceof RealNodeUnavailableError)) throw error;
    log(`${error.message}; skipping the real-node tests (the tier's control-plane tests run on a plane without it)`);
    project.provide('m87RealNode', { available: false, reason: error.message });
    const plane = await startControlPlane({});
    project.provide('m87Cluster', { kubeconfigPath: plane.kubeconfigPath, server: plane.server, stateDir: plane.stateDir, runId: randomBytes(4).toString('hex') });
    return () => plane.stop();
  }
  const verbose = process.env.M87_VERBOSE === '1' ? log : undefined;
  const planeStart = performance.now();
  const plane = await startControlPlane({ podNetworkAddress: HOST_ADDRESS, onProgress: verbose });
  log(`control plane ${plane.server} in ${((performance.now() - planeStart) / 1000).toFixed(1)} s`);
  let node;
  try {
    node = await startRealNode({ plane, onProgress: verbose });
  } catch (error) {
    await plane.stop();
    throw error;
  }
  log(`node ${node.nodeName} up in ${node.startSeconds.toFixed(1)} s (state: ${node.stateDir})`);
  // Control-plane tests listed in the tier (e.g. garbage collection) run on this plane, their Pods on the node.
  project.provide('m87Cluster', { kubeconfigPath: plane.kubeconfigPath, server: plane.server, stateDir: plane.stateDir, runId: randomBytes(4).toString('hex') });
  // Control-plane tests listed in the tier (e.g. garbage collection) run on this plane, their Pods on the node.
  project.provide('m87Cluster', { kubeconfigPath: plane.kubeconfigPath, server: plane.server, stateDir: plane.stateDir, runId: randomBytes(4).toString('hex') });
  project.provide('m87RealNode', {
    available: true,
    kubeconfigPath: plane.kubeconfigPath,
    planeStateDir: plane.stateDir,
    nodeStateDir: node.stateDir,
    nodeName: node.nodeName,
    upSeconds: node.startSeconds,
  });
  return async () => {
    // Tests may have replaced the node (stop and start again): stop whichever the host-wide lock names.
    const report = (await destroyLockedRealNode()) ?? (await node.stop());
    await plane.stop();
    log(`node down in ${report.seconds.toFixed(1)} s`);
    if (report.problems.length > 0) throw new Error(`the real node's teardown left something behind: ${report.problems.join('; ')}`);
  };
}
