/** Public API of the M87 controller. */
export { startController, type RunningController, type StartControllerOptions, type LeaderElectionSettings } from './start.ts';
export { DEFAULT_CONFIG, DEFAULT_RUNNER_IMAGE, type ControllerConfig } from './config.ts';
export { parseListenAddress, type ListenAddress, type Readiness } from './http-server.ts';
