/** Public API of the M87 controller. */
export { startController, type RunningController, type StartControllerOptions, type LeaderElectionSettings } from './start.ts';
export { DEFAULT_CONFIG, DEFAULT_RUNNER_IMAGE, type ControllerConfig } from './config.ts';
export { parseListenAddress, type ListenAddress, type Readiness } from './http-server.ts';
export { buildNetworkPolicy, egressRules, networkPolicyMatches } from './network-policy.ts';
export { buildJobPod, jobPodAnnotations, podAnnotationMismatch, DEFAULT_RUNNER_RESOURCES } from './job-pod.ts';
export { podProgress, jobFacts, type JobResult } from './receipt-check.ts';
export { jobPodName, jobNetworkPolicyName, labelValue } from './names.ts';
export { ControllerMetrics } from './metrics.ts';
