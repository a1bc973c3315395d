// Public surface of the controller runtime.
export * from './resource.ts';
export * from './backoff.ts';
export * from './kube-http.ts';
export * from './informer.ts';
export * from './rate-limiter.ts';
export * from './workqueue.ts';
export * from './controller.ts';
export * from './leader-election.ts';
export * from './merge-patch.ts';
export * from './conditions.ts';
export { patchStatus, patchObject, createIfAbsent } from './status.ts';
export type { WriteOptions, PatchOptions, PatchResult, Mutation } from './status.ts';
export * from './manager.ts';
