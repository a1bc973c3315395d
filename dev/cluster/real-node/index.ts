// Public surface of the local real node (dev/test only): see docs/dev/real-node.md.
export type { RealNode, StartRealNodeOptions, StopReport } from './real-node.ts';
export { NodeComponentFailedError, REAL_NODE_LOCK, attachRealNode, destroyLockedRealNode, destroyRealNode, lockedRealNode, realNodeRunning, startRealNode } from './real-node.ts';
export type { NodeTools } from './prerequisites.ts';
export { RealNodeUnavailableError, checkRealNodePrerequisites } from './prerequisites.ts';
export type { NodeImage, NodeImageName } from './images.ts';
export { importNodeImage, nodeImages } from './images.ts';
export { BRIDGE, CNI_NETWORK, DEFAULT_NODE_NAME, HOST_ADDRESS, KUBERNETES_SERVICE_IP, KUBERNETES_SERVICE_PORT, POD_SUBNET } from './network.ts';
export type { Leftovers } from './host-state.ts';
