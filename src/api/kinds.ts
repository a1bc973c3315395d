import { z } from 'zod';
import { AgentProfileSpec } from './agent-profile.ts';
import { ApprovalSpec, ApprovalStatus } from './approval.ts';
import { DecisionSpec, DecisionStatus } from './decision.ts';
import { API_VERSION } from './group.ts';
import { GovernancePolicySpec, GovernancePolicyStatus } from './governance-policy.ts';
import { JobSpec, JobStatus } from './job.ts';
import { ProposalSpec, ProposalStatus } from './proposal.ts';
import { TOOL_NAME_MAX, TOOL_NAME_PATTERN, ToolSpec, ToolStatus } from './tool.ts';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

/** Everything the CRD generator and the clients need to know about one kind. */
export interface KindInfo {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: 'Namespaced' | 'Cluster';
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  printerColumns: PrinterColumn[];
  /** CEL rules on the whole object (only metadata.name and generateName are visible there), e.g. a name format. */
  objectValidations?: { rule: string; message: string }[];
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since creation.' };

export const KINDS = {
  Proposal: {
    kind: 'Proposal',
    plural: 'proposals',
    singular: 'proposal',
    shortNames: ['prop'],
    scope: 'Namespaced',
    description: 'Work an agent proposes. The M87 controller decides it under the GovernancePolicy; agents can only propose.',
    spec: ProposalSpec,
    status: ProposalStatus,
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Lifecycle phase.' },
      { name: 'Outcome', type: 'string', jsonPath: '.status.outcome', description: 'Decision outcome.' },
      { name: 'Agent', type: 'string', jsonPath: '.spec.agent', description: 'AgentProfile name.' },
      { name: 'Effects', type: 'string', jsonPath: '.spec.effects', description: 'Declared effects.' },
      { name: 'Hash', type: 'string', jsonPath: '.status.proposalHash', description: 'Proposal hash.', priority: 1 },
      { name: 'Submitter', type: 'string', jsonPath: '.spec.submittedBy', description: 'Submitting identity.', priority: 1 },
      age,
    ],
  },
  Decision: {
    kind: 'Decision',
    plural: 'decisions',
    singular: 'decision',
    shortNames: ['dec'],
    scope: 'Namespaced',
    description: 'The recorded governance decision about one Proposal (same name, owned by it). Written by the controller only.',
    spec: DecisionSpec,
    status: DecisionStatus,
    printerColumns: [
      { name: 'Outcome', type: 'string', jsonPath: '.spec.outcome', description: 'Decision outcome.' },
      { name: 'Agent', type: 'string', jsonPath: '.spec.agent', description: 'AgentProfile name.' },
      { name: 'Effects', type: 'string', jsonPath: '.spec.effects', description: 'Declared effects.' },
      { name: 'Approvals', type: 'integer', jsonPath: '.spec.requiredApprovals.count', description: 'Approvals required.' },
      { name: 'Hash', type: 'string', jsonPath: '.spec.proposalHash', description: 'Proposal hash.', priority: 1 },
      { name: 'Reason', type: 'string', jsonPath: '.spec.reasons[0].code', description: 'First finding.', priority: 1 },
      age,
    ],
  },
  Approval: {
    kind: 'Approval',
    plural: 'approvals',
    singular: 'approval',
    shortNames: ['appr'],
    scope: 'Namespaced',
    description: 'A human verdict (Approve or Reject) bound to a Proposal by name, UID and hash.',
    spec: ApprovalSpec,
    status: ApprovalStatus,
    printerColumns: [
      { name: 'Verdict', type: 'string', jsonPath: '.spec.verdict', description: 'Approve or Reject.' },
      { name: 'State', type: 'string', jsonPath: '.status.state', description: 'Accepted or Rejected by the controller.' },
      { name: 'Reason', type: 'string', jsonPath: '.status.reason', description: 'Why.' },
      { name: 'Proposal', type: 'string', jsonPath: '.spec.proposalName', description: 'Proposal approved.' },
      { name: 'Approver', type: 'string', jsonPath: '.spec.approver', description: 'Approving identity.' },
      { name: 'Hash', type: 'string', jsonPath: '.spec.proposalHash', description: 'Proposal hash.', priority: 1 },
      age,
    ],
  },
  Job: {
    kind: 'Job',
    plural: 'jobs',
    singular: 'job',
    shortNames: ['gjob'],
    scope: 'Namespaced',
    description: 'An approved, signed unit of work run as an isolated Pod by the M87 runner. Written by the controller only.',
    spec: JobSpec,
    status: JobStatus,
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Job phase.' },
      { name: 'Reason', type: 'string', jsonPath: '.status.reason', description: 'Reason for the phase.' },
      { name: 'Effects', type: 'string', jsonPath: '.spec.envelope.effects', description: 'Allowed effects.' },
      { name: 'Pod', type: 'string', jsonPath: '.status.podName', description: 'Pod name.' },
      { name: 'DEH', type: 'string', jsonPath: '.spec.envelopeHash', description: 'Deployment envelope hash.', priority: 1 },
      age,
    ],
  },
  AgentProfile: {
    kind: 'AgentProfile',
    plural: 'agentprofiles',
    singular: 'agentprofile',
    shortNames: ['agent'],
    scope: 'Cluster',
    description: 'An agent identity: which users may act as it, what effects it may propose and its risk ceiling.',
    spec: AgentProfileSpec,
    status: z.object({}).meta({ description: 'Unused.' }),
    printerColumns: [
      { name: 'Display', type: 'string', jsonPath: '.spec.displayName', description: 'Display name.' },
      { name: 'Max-Risk', type: 'number', jsonPath: '.spec.maxRisk', description: 'Risk ceiling.' },
      { name: 'Effects', type: 'string', jsonPath: '.spec.allowedEffects', description: 'Allowed effects.' },
      age,
    ],
  },
  GovernancePolicy: {
    kind: 'GovernancePolicy',
    plural: 'governancepolicies',
    singular: 'governancepolicy',
    shortNames: ['gpol'],
    scope: 'Cluster',
    description: 'The cluster governance policy. The controller uses the one named "default" and decides nothing without it.',
    spec: GovernancePolicySpec,
    status: GovernancePolicyStatus,
    printerColumns: [
      { name: 'Tier', type: 'integer', jsonPath: '.spec.quarantineTier', description: 'Quarantine tier.' },
      { name: 'Rate', type: 'integer', jsonPath: '.spec.rateLimit.proposalsPerMinute', description: 'Proposals per minute per submitter.' },
      { name: 'Hash', type: 'string', jsonPath: '.status.hash', description: 'Policy hash.', priority: 1 },
      age,
    ],
  },
  Tool: {
    kind: 'Tool',
    plural: 'tools',
    singular: 'tool',
    shortNames: ['tool'],
    scope: 'Cluster',
    description:
      'A catalogue tool a governed Job may run: effects, write scope, argument schema, an image pinned by digest and an argv template (no shell). Written by platform admins; the name is what Proposal steps use.',
    spec: ToolSpec,
    status: ToolStatus,
    printerColumns: [
      { name: 'Effects', type: 'string', jsonPath: '.spec.effects', description: 'Effects the tool has.' },
      { name: 'Write-Scope', type: 'string', jsonPath: '.spec.minWriteScope', description: 'Least write scope it needs.' },
      { name: 'Network', type: 'boolean', jsonPath: '.spec.network', description: 'Whether it needs the network.' },
      { name: 'Workspace', type: 'string', jsonPath: '.spec.workspace.access', description: 'How it sees the workspace.', priority: 1 },
      { name: 'Image', type: 'string', jsonPath: '.spec.image', description: 'Image pinned by digest.', priority: 1 },
      age,
    ],
    objectValidations: [
      {
        rule: `size(self.metadata.name) <= ${TOOL_NAME_MAX} && self.metadata.name.matches('${TOOL_NAME_PATTERN}')`,
        message: `metadata.name must be a DNS label of at most ${TOOL_NAME_MAX} characters (lowercase letters, digits and -, starting with a letter): it is the tool name steps use`,
      },
    ],
  },
} as const satisfies Record<string, KindInfo>;

export type KindName = keyof typeof KINDS;

/** Object metadata as the clients see it; the API server owns its validation. */
export const ObjectMeta = z.looseObject({
  name: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().optional(),
  creationTimestamp: z.union([z.string(), z.date()]).optional(),
  deletionTimestamp: z.union([z.string(), z.date()]).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  ownerReferences: z.array(z.looseObject({ uid: z.string(), name: z.string(), kind: z.string() })).optional(),
});

function resource<K extends KindName>(kind: K) {
  // Indexed-access types keep each kind's own spec/status types (a plain KINDS[kind] would widen to the union).
  const spec: (typeof KINDS)[K]['spec'] = KINDS[kind].spec;
  const status: (typeof KINDS)[K]['status'] = KINDS[kind].status;
  return z.object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(kind),
    metadata: ObjectMeta,
    spec,
    status: status.optional(),
  });
}

export const Proposal = resource('Proposal');
export type Proposal = z.infer<typeof Proposal>;
export const Decision = resource('Decision');
export type Decision = z.infer<typeof Decision>;
export const Approval = resource('Approval');
export type Approval = z.infer<typeof Approval>;
export const Job = resource('Job');
export type Job = z.infer<typeof Job>;
export const AgentProfile = resource('AgentProfile');
export type AgentProfile = z.infer<typeof AgentProfile>;
export const GovernancePolicy = resource('GovernancePolicy');
export type GovernancePolicy = z.infer<typeof GovernancePolicy>;
export const Tool = resource('Tool');
export type Tool = z.infer<typeof Tool>;
