// Schema-valid objects for the security tests and the admission readiness probes. The M87 kinds start
// from the generated examples (examples/*.yaml, which a unit test keeps in step with the zod schemas); job
// Pods and NetworkPolicies come from the controller's own builders, so admission is exercised on exactly
// the shapes the controller writes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { API_VERSION, GROUP } from '../../src/api/group.ts';
import { EffectiveEnvelope } from '../../src/api/envelope.ts';
import { buildJobPod } from '../../src/controller/job-pod.ts';
import { buildNetworkPolicy } from '../../src/controller/network-policy.ts';
import { controllerRef } from '../../src/controller/owner.ts';
import { REPO_ROOT } from '../cluster/binaries.ts';
import { proposalHash } from '../../src/integrity/document-hashes.ts';
import { generateSigningKey, signDeh, type SigningKey } from '../../src/integrity/signing.ts';
import { DEFAULT_CATALOGUE } from '../../src/tool-catalogue/default-catalogue.ts';

export interface KubeObjectJson {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
    [key: string]: unknown;
  };
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface ObjectRef {
  name: string;
  uid: string;
}

/** Labels of the controller's public-key ConfigMap (src/controller/keys.ts). */
export const PUBLIC_KEY_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/managed-by': 'm87',
  'app.kubernetes.io/component': 'signing-public-key',
};

/** Any governance.m87.io/ label also marks a ConfigMap as m87's. */
export const M87_CONFIGMAP_LABEL = `${GROUP}/public-key`;

function example(file: string): KubeObjectJson {
  const value = parse(readFileSync(join(REPO_ROOT, 'examples', file), 'utf8')) as KubeObjectJson;
  if (typeof value.kind !== 'string' || value.spec === undefined) throw new Error(`examples/${file}: not a Kubernetes object with a spec`);
  return value;
}

function specOf(obj: KubeObjectJson): Record<string, unknown> {
  if (obj.spec === undefined) throw new Error(`${obj.kind} ${obj.metadata.name}: no spec`);
  return obj.spec;
}

function owner(proposal: ObjectRef | undefined): { ownerReferences?: unknown[] } {
  return proposal === undefined || proposal.uid === '' ? {} : { ownerReferences: [controllerRef('Proposal', proposal)] };
}

/** An AgentProfile (the first shipped profile's spec) under another name. */
export function agentProfileObject(name: string): KubeObjectJson {
  const first = parseAllDocuments(readFileSync(join(REPO_ROOT, 'examples', 'agentprofiles.yaml'), 'utf8'))[0]?.toJS() as KubeObjectJson | undefined;
  if (first?.spec === undefined) throw new Error('examples/agentprofiles.yaml: no AgentProfile');
  return { apiVersion: API_VERSION, kind: 'AgentProfile', metadata: { name }, spec: first.spec };
}

/** A GovernancePolicy with the default spec under another name (the controller only uses "default"). */
export function governancePolicyObject(name: string): KubeObjectJson {
  return { apiVersion: API_VERSION, kind: 'GovernancePolicy', metadata: { name }, spec: specOf(example('governancepolicy.yaml')) };
}

export interface ProposalInput {
  namespace: string;
  name: string;
  submittedBy: string;
  labels?: Record<string, string>;
}

export function proposalObject(input: ProposalInput): KubeObjectJson {
  const base = example('proposal-allow.yaml');
  return {
    apiVersion: API_VERSION,
    kind: 'Proposal',
    metadata: { name: input.name, namespace: input.namespace, ...(input.labels ? { labels: input.labels } : {}) },
    spec: { ...specOf(base), submittedBy: input.submittedBy },
  };
}

/** The proposal hash of a Proposal object's spec (what approvals must quote). */
export function proposalHashOf(proposal: KubeObjectJson): string {
  return proposalHash(specOf(proposal));
}

export interface DecisionInput {
  namespace: string;
  name: string;
  /** The Proposal decided; uid '' for a probe that is never stored. */
  proposal: ObjectRef;
  submittedBy: string;
}

export function decisionObject(input: DecisionInput): KubeObjectJson {
  const base = example('decision.yaml');
  return {
    apiVersion: API_VERSION,
    kind: 'Decision',
    metadata: { name: input.name, namespace: input.namespace, ...owner(input.proposal) },
    spec: {
      ...specOf(base),
      proposalRef: { name: input.proposal.name, uid: input.proposal.uid === '' ? 'probe' : input.proposal.uid },
      submittedBy: input.submittedBy,
    },
  };
}

export interface ApprovalInput {
  namespace: string;
  name: string;
  proposal: ObjectRef & { hash: string };
  approver: string;
  verdict?: 'Approve' | 'Reject';
  /** Answer to the Decision's challenge, when it has one. */
  challengeResponse?: string | undefined;
}

export function approvalObject(input: ApprovalInput): KubeObjectJson {
  const base = example('approval.yaml');
  return {
    apiVersion: API_VERSION,
    kind: 'Approval',
    metadata: { name: input.name, namespace: input.namespace },
    spec: {
      ...specOf(base),
      proposalName: input.proposal.name,
      proposalUID: input.proposal.uid === '' ? 'probe' : input.proposal.uid,
      proposalHash: input.proposal.hash,
      approver: input.approver,
      verdict: input.verdict ?? 'Approve',
      ...(input.challengeResponse !== undefined ? { challengeResponse: input.challengeResponse } : {}),
    },
  };
}

export interface JobInput {
  namespace: string;
  name: string;
  proposal: ObjectRef;
  decision: ObjectRef;
}

export function jobObject(input: JobInput): KubeObjectJson {
  const base = example('job.yaml');
  const spec = specOf(base);
  return {
    apiVersion: API_VERSION,
    kind: 'Job',
    metadata: { name: input.name, namespace: input.namespace, ...owner(input.proposal) },
    spec: {
      ...spec,
      proposalRef: { name: input.proposal.name, uid: input.proposal.uid === '' ? 'probe' : input.proposal.uid },
      decisionRef: { name: input.decision.name, uid: input.decision.uid === '' ? 'probe' : input.decision.uid },
      approvalRefs: [],
    },
  };
}

/** The effective envelope of examples/job.yaml, optionally with another egress allowlist. */
export function exampleEnvelope(egress?: EffectiveEnvelope['egress']): EffectiveEnvelope {
  const envelope = EffectiveEnvelope.parse(specOf(example('job.yaml')).envelope);
  return egress === undefined ? envelope : { ...envelope, egress };
}

export interface JobPodInput {
  namespace: string;
  /** The governance Job the Pod belongs to (uid '' for a probe). */
  job: ObjectRef;
  proposalName: string;
  envelope?: EffectiveEnvelope;
  signingKey?: SigningKey;
  publicKeyConfigMap?: string;
}

/** A job Pod exactly as the controller builds it (labels, signed annotations, restricted security context). */
export function jobPodObject(input: JobPodInput): KubeObjectJson {
  const envelope = input.envelope ?? exampleEnvelope();
  const key = input.signingKey ?? generateSigningKey();
  const pod = buildJobPod({
    job: {
      namespace: input.namespace,
      name: input.job.name,
      uid: input.job.uid === '' ? 'probe' : input.job.uid,
      proposalName: input.proposalName,
      envelope,
      envelopeHash: 'e'.repeat(64),
      signature: signDeh(key.privateKeyPem, 'e'.repeat(64)),
      keyId: key.keyId,
    },
    publicKeyConfigMap: input.publicKeyConfigMap ?? 'm87-public-key',
    // The envelope's steps name shipped tools (examples/job.yaml); the Pod runs each in its tool's image.
    tools: Object.fromEntries(envelope.steps.map((s) => [s.tool, DEFAULT_CATALOGUE.get(s.tool)!])),
  }) as unknown as KubeObjectJson;
  if (input.job.uid === '') delete pod.metadata.ownerReferences;
  return pod;
}

export interface JobNetworkPolicyInput {
  namespace: string;
  job: ObjectRef;
  proposalName: string;
  egress?: EffectiveEnvelope['egress'];
}

/** A job NetworkPolicy exactly as the controller builds it. */
export function jobNetworkPolicyObject(input: JobNetworkPolicyInput): KubeObjectJson {
  const policy = buildNetworkPolicy(
    { namespace: input.namespace, name: input.job.name, uid: input.job.uid === '' ? 'probe' : input.job.uid, proposalName: input.proposalName },
    input.egress ?? [],
  ) as unknown as KubeObjectJson;
  if (input.job.uid === '') delete policy.metadata.ownerReferences;
  return policy;
}

/** A Pod that passes Pod Security `restricted` and carries no m87 metadata unless asked to. */
export function restrictedPodObject(namespace: string, name: string, metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): KubeObjectJson {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, ...metadata },
    spec: {
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'main',
          image: 'registry.k8s.io/pause:3.10',
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  };
}

export function networkPolicyObject(namespace: string, name: string, podSelector: Record<string, unknown>, labels?: Record<string, string>): KubeObjectJson {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace, ...(labels ? { labels } : {}) },
    spec: { podSelector, policyTypes: ['Egress'], egress: [{}] },
  };
}

export function configMapObject(namespace: string, name: string, data: Record<string, string>, labels?: Record<string, string>): KubeObjectJson {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, ...(labels ? { labels } : {}) }, data };
}
