// vitest globalSetup for the e2e-real tier: a local control plane started for the real node's pod network and
// the real node (containerd, kubelet, kube-router) on it, brought up once per run and down at its end; the
// teardown fails the run when the node left anything on the host. Where the real node cannot start (not root,
// no overlayfs, missing pieces) the tier is skipped with the reason in one line.
import { performance } from 'node:perf_hooks';
import type { TestProject } from 'vitest/node';
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

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  try {
    checkRealNodePrerequisites();
  } catch (error) {
    if (!(error instanceof RealNodeUnavailableError)) throw error;
    log(`${error.message}; skipping the e2e-real tier`);
    project.provide('m87RealNode', { available: false, reason: error.message });
    return undefined;
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
