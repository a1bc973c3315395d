import { z } from 'zod';
import { effectSet } from './effects.ts';
import { AutonomyBudget, EgressRule, InferencePolicy, ModelSource, SafetyMode } from './envelope.ts';
import { boundedList, Conditions, nonEmptyText, objectName, sha256Hex, text } from './primitives.ts';
import { ARTIFACT_TYPES } from './proposal.ts';

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

export const ToxicPair = z
  .object({
    name: z.string().min(1).max(64).regex(/^[a-z][a-z0-9_]*$/).meta({ description: 'Topology name; also the expected challenge answer.' }),
    effects: effectSet('Effects that together (within the session window) form the topology.', { min: 2, max: 4 }),
    outcome: z.enum(['DENY', 'REQUIRE_HUMAN']).meta({ description: 'DENY or REQUIRE_HUMAN (with a challenge).' }),
  })
  .meta({ description: 'A combination of effects that is dangerous within one session.' });
export type ToxicPair = z.infer<typeof ToxicPair>;

export const Tripwire = z
  .object({
    name: z.string().min(1).max(64).regex(/^[a-z][a-z0-9_]*$/).meta({ description: 'Flag name reported when the pattern matches.' }),
    pattern: nonEmptyText(512, 'JavaScript regular expression searched in code artifacts.').refine(compiles, {
      message: 'must be a valid JavaScript regular expression',
    }),
  })
  .meta({ description: 'A code pattern that needs a human.' });
export type Tripwire = z.infer<typeof Tripwire>;

export const VirtualFsRule = z
  .object({
    mountPoint: z.string().min(2).max(256).regex(/^\//).meta({ description: 'Absolute path the rule covers (and everything below it).' }),
    policy: z.enum(['DENY', 'ALLOWLIST']).meta({ description: 'DENY everything below, or ALLOWLIST: only the listed exact paths.' }),
    reason: text(512, 'Why the rule exists (shown in the decision).'),
    allowedPaths: boundedList(text(256, 'An exact allowed path.'), 32, 'Exact paths allowed under an ALLOWLIST mount.').optional(),
  })
  .meta({ description: 'A virtual-filesystem rule applied to every path-like field after normalisation.' });
export type VirtualFsRule = z.infer<typeof VirtualFsRule>;

const CleanupCostEntry = z
  .object({
    budgetMultiplierPercent: z.int().min(1).max(100).meta({ description: 'Budget multiplier in percent.' }),
    retryLimit: z.int().min(0).max(10).meta({ description: 'Retry limit.' }),
  })
  .meta({ description: 'Budget multiplier and retry limit for one cleanup cost.' });

/**
 * Lifetime of what the controller creates (docs/audit.md). Absent fields take RETENTION_DEFAULTS; the
 * controller never prunes within the session window (toxic-pair checks read it) nor while anything is
 * pending, whatever these say.
 */
export const RETENTION_DEFAULTS = {
  jobResourcesKeepForSeconds: 300,
  historyTTLSeconds: 604800,
  maxProposalsPerNamespace: 10000,
} as const;

export const Retention = z
  .object({
    jobResourcesKeepForSeconds: z
      .int()
      .min(0)
      .max(604800)
      .optional()
      .meta({
        description: `How long a finished job's Pod and NetworkPolicy stay (for debugging) after the job's result and receipt are recorded in Job.status; then the Pod is deleted, and the NetworkPolicy once the Pod is gone. Default ${RETENTION_DEFAULTS.jobResourcesKeepForSeconds}.`,
      }),
    historyTTLSeconds: z
      .int()
      .min(60)
      .max(31536000)
      .optional()
      .meta({
        description: `How long a finished proposal tree (Proposal, Decision, Approvals, Job) is kept after it finished; then one audit record is written and the Proposal is deleted (owner-reference cascade). Never while a decision or approval is pending, never within the session window. Default ${RETENTION_DEFAULTS.historyTTLSeconds}.`,
      }),
    maxProposalsPerNamespace: z
      .int()
      .min(1)
      .max(1000000)
      .optional()
      .meta({
        description: `Most Proposals kept per namespace: above it the oldest finished trees are pruned first (with their audit records), pending ones never. Default ${RETENTION_DEFAULTS.maxProposalsPerNamespace}.`,
      }),
  })
  .strict()
  .meta({ description: 'Retention of job Pods, NetworkPolicies and proposal trees (defaults apply to absent fields).' });
export type Retention = z.infer<typeof Retention>;

/** The retention settings in force: the policy's, defaults for what it leaves out. */
export function effectiveRetention(retention: Retention | undefined): Required<Retention> {
  return {
    jobResourcesKeepForSeconds: retention?.jobResourcesKeepForSeconds ?? RETENTION_DEFAULTS.jobResourcesKeepForSeconds,
    historyTTLSeconds: retention?.historyTTLSeconds ?? RETENTION_DEFAULTS.historyTTLSeconds,
    maxProposalsPerNamespace: retention?.maxProposalsPerNamespace ?? RETENTION_DEFAULTS.maxProposalsPerNamespace,
  };
}

const BudgetCeiling = AutonomyBudget.meta({ description: 'Upper bounds a requested budget may not exceed (and the write scope ceiling).' });

export const GovernancePolicySpec = z
  .object({
    quarantineTier: z
      .int()
      .min(0)
      .max(3)
      .meta({ description: 'Degradation tier: 0 full service, 1 read-only effects, 2 quarantine (READ_REPO, READ_CONFIG), 3 deny all.' }),
    rateLimit: z
      .object({
        proposalsPerMinute: z.int().min(1).max(10000).meta({ description: 'Proposals one submitter may have decided per minute; more wait (phase Throttled).' }),
      })
      .meta({ description: 'Per-submitter rate limit.' }),
    session: z
      .object({
        windowSeconds: z.int().min(1).max(86400).meta({ description: 'How far back the authorized effects of a submitter count for toxic topologies.' }),
      })
      .meta({ description: 'Session topology settings.' }),
    toxicPairs: boundedList(ToxicPair, 64, 'Toxic effect topologies; the most severe match wins.'),
    tripwires: z
      .object({
        patterns: boundedList(Tripwire, 64, 'Code tripwire patterns.'),
        maxCodeBytes: z.int().min(1).max(1048576).meta({ description: 'Code artifacts larger than this (UTF-8 bytes) are denied.' }),
        // An enum, not free text: a misspelt type would silently switch scanning off.
        scannedTypes: z
          .array(z.enum(ARTIFACT_TYPES).meta({ description: `Artifact type: ${ARTIFACT_TYPES.join(', ')}.` }))
          .max(ARTIFACT_TYPES.length)
          .refine((types) => new Set(types).size === types.length, { message: 'artifact types must not repeat' })
          .meta({ description: 'Artifact types that are scanned.', 'x-kubernetes-list-type': 'set' }),
      })
      .meta({ description: 'Code tripwires.' }),
    virtualFilesystem: boundedList(VirtualFsRule, 32, 'Virtual-filesystem rules.'),
    evidence: z
      .object({
        minObservationsForNonRead: z.int().min(0).max(32).meta({ description: 'Observations needed when any effect is not read-only.' }),
      })
      .meta({ description: 'Evidence requirements (unmet: NEED_MORE_EVIDENCE).' }),
    reversibility: z
      .object({
        cleanupCost: z
          .object({ LOW: CleanupCostEntry, MEDIUM: CleanupCostEntry, HIGH: CleanupCostEntry })
          .meta({ description: 'Budget multiplier and retry limit per cleanup cost (unknown counts as MEDIUM).' }),
      })
      .meta({ description: 'Reversibility gate settings.' }),
    approvals: z
      .object({
        requiredCount: z.int().min(1).max(10).meta({ description: 'Distinct approvers needed for REQUIRE_HUMAN.' }),
        expirySeconds: z.int().min(60).max(2592000).meta({ description: 'How long a REQUIRE_HUMAN decision waits for approval.' }),
        challengeSecretRef: z
          .object({
            namespace: objectName('Namespace of the Secret.'),
            name: objectName('Name of the Secret.'),
            key: nonEmptyText(253, 'Key in the Secret.'),
          })
          .meta({ description: 'Secret holding the HMAC key for challenges (created by the controller if absent).' }),
      })
      .meta({ description: 'Human approval settings.' }),
    envelope: z
      .object({
        defaults: z
          .object({
            modelId: nonEmptyText(256, 'Default model identity.'),
            modelSource: ModelSource,
            safetyMode: SafetyMode,
            inferencePolicy: InferencePolicy,
            autonomyBudget: AutonomyBudget,
          })
          .meta({ description: 'Envelope used where the proposal requests nothing.' }),
        ceiling: BudgetCeiling,
        allowedEgress: boundedList(EgressRule, 64, 'Egress destinations proposals may request; anything else is denied.'),
      })
      .meta({ description: 'Deployment envelope defaults and bounds.' }),
    retention: Retention.optional(),
  })
  .meta({ description: 'The cluster governance policy (name: default).' });
export type GovernancePolicySpec = z.infer<typeof GovernancePolicySpec>;

export const GovernancePolicyStatus = z
  .object({
    hash: sha256Hex('SHA-256 of the canonical spec, as recorded in Decisions.').optional(),
    message: text(4096, 'Why the policy is not usable, when it is not.').optional(),
    conditions: Conditions.optional(),
    observedGeneration: z.int().min(0).optional().meta({ description: 'The metadata.generation this status describes.' }),
  })
  .meta({ description: 'Controller-observed state of the policy (Valid condition).' });
