// The real node's pod network: one bridge the node creates itself, a private /24 for Pods, the host's address
// on it. One real node per machine, so these are fixed. 10.239/16 is apart from the process node's pools
// (10.233–10.237) and from the plane's Service range (10.0.0.0/24).
export const BRIDGE = 'm87br0';
export const POD_SUBNET = '10.239.0.0/24';
/** The host's address on the bridge: the kubelet serves here, and the API server is reachable here. */
export const HOST_ADDRESS = '10.239.0.1';
export const POD_PREFIX_LENGTH = 24;
/** The CNI network's name (libcni's cache entries under /var/lib/cni carry it). */
export const CNI_NETWORK = 'm87-real-node';
/** The kubernetes Service's ClusterIP in the plane's Service range (10.0.0.0/24). */
export const KUBERNETES_SERVICE_IP = '10.0.0.1';
export const KUBERNETES_SERVICE_PORT = 443;
export const DEFAULT_NODE_NAME = 'm87-real-node';
export const KUBELET_PORT = 10250;
