// The API resources the controller reads and writes, named explicitly (no discovery at runtime).
import { GROUP, VERSION } from '../api/group.ts';
import { KINDS } from '../api/kinds.ts';
import type { ResourceType } from '../runtime/resource.ts';

function m87(kind: keyof typeof KINDS): ResourceType {
  const info = KINDS[kind];
  return { group: GROUP, version: VERSION, plural: info.plural, namespaced: info.scope === 'Namespaced', kind: info.kind };
}

export const PROPOSALS = m87('Proposal');
export const DECISIONS = m87('Decision');
export const APPROVALS = m87('Approval');
export const JOBS = m87('Job');
export const AGENT_PROFILES = m87('AgentProfile');
export const GOVERNANCE_POLICIES = m87('GovernancePolicy');
export const TOOLS = m87('Tool');

export const PODS: ResourceType = { group: '', version: 'v1', plural: 'pods', namespaced: true, kind: 'Pod' };
export const CONFIG_MAPS: ResourceType = { group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' };
export const SECRETS: ResourceType = { group: '', version: 'v1', plural: 'secrets', namespaced: true, kind: 'Secret' };
export const EVENTS: ResourceType = { group: '', version: 'v1', plural: 'events', namespaced: true, kind: 'Event' };
export const NETWORK_POLICIES: ResourceType = {
  group: 'networking.k8s.io',
  version: 'v1',
  plural: 'networkpolicies',
  namespaced: true,
  kind: 'NetworkPolicy',
};
export const NAMESPACES: ResourceType = { group: '', version: 'v1', plural: 'namespaces', namespaced: false, kind: 'Namespace' };
