// Public surface of the local control plane launcher (dev/test only).
export type { ControlPlane, ControlPlanePorts, StartControlPlaneOptions } from './plane.ts';
export { ComponentFailedError, attachControlPlane, startControlPlane } from './plane.ts';
export type { BinaryName, ControlPlaneBinaries, Versions } from './binaries.ts';
export { MissingBinaryError, cacheDir, readVersions, resolveBinary, resolveControlPlaneBinaries } from './binaries.ts';
export type { UserContext } from './identities.ts';
export { APPROVERS_GROUP, USER_CONTEXTS, USER_IDENTITIES, VIEWERS_GROUP } from './identities.ts';
export type { ServiceAccountTokenOptions } from './service-account.ts';
export { serviceAccountKubeConfig, serviceAccountUsername } from './service-account.ts';
export { destroyPlane, sweepOrphanedPlanes } from './state.ts';
export type { RestartOptions, RestartResult, RestartableComponent } from './faults.ts';
export { compactEtcd, etcdRevision, restartComponent } from './faults.ts';
