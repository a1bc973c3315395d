import { readFileSync } from 'node:fs';
import type { ResourceRequirements } from './job-pod.ts';
import type { NotificationsConfig } from './notifications.ts';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'latest';
  } catch {
    return 'latest';
  }
}

export const DEFAULT_RUNNER_IMAGE = `ghcr.io/m87/m87:${packageVersion()}`;

/** What the controller needs to know about its environment; the CLI fills it from flags. */
export interface ControllerConfig {
  /** Namespace of the controller: its Lease, signing key Secret and public key ConfigMap. */
  namespace: string;
  /** Runner image written into every effective envelope (and so into every job Pod). */
  runnerImage: string;
  /** Secret (in `namespace`) holding the Ed25519 signing key; created if absent. */
  signingSecretName: string;
  /** ConfigMap (in `namespace` and every job namespace) publishing the public key under public.pem. */
  publicKeyConfigMapName: string;
  /** Name of the cluster-scoped GovernancePolicy to decide under. */
  policyName: string;
  /**
   * Start job Pods only in namespaces labelled pod-security.kubernetes.io/enforce=restricted (default
   * true); elsewhere the Job waits with reason NamespaceNotRestricted.
   */
  requireRestrictedNamespace?: boolean;
  /** Resources of the runner container. */
  runnerResources?: ResourceRequirements;
  /** Webhook notifications (docs/notifications.md); off when absent. */
  notifications?: NotificationsConfig;
  /** Retention (docs/audit.md): the audit file sink and the deletion rate; the windows are in the GovernancePolicy. */
  retention?: RetentionConfig;
  /** Concurrent reconciles per controller. */
  workers?: { decisions?: number; proposals?: number; jobs?: number };
}

export interface RetentionConfig {
  /** false: never delete anything (Pods, NetworkPolicies, proposal trees). Default true. */
  enabled?: boolean;
  /** Append-only file that receives every audit record (fsync before the deletion); default none (log only). */
  auditFile?: string;
  /** Deletions per second (token bucket refill); default 5. */
  deletionsPerSecond?: number;
  /** Token bucket size; default 20. */
  burst?: number;
}

export const DEFAULT_CONFIG: ControllerConfig = {
  namespace: 'm87-system',
  runnerImage: DEFAULT_RUNNER_IMAGE,
  signingSecretName: 'm87-signing-key',
  publicKeyConfigMapName: 'm87-signing-public-key',
  policyName: 'default',
};
