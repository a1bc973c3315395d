// The kinds the typed client knows: for each, where it lives (group/version/plural/scope, from
// src/api/kinds.ts) and the zod schema every answer of the API server is parsed with.
import type { z } from 'zod';
import { GROUP, VERSION } from '../api/group.ts';
import { AgentProfile, Approval, Decision, GovernancePolicy, Job, KINDS, Proposal, Tool } from '../api/kinds.ts';
import type { ResourceType } from '../runtime/resource.ts';

export interface ClientKind<S extends z.ZodType = z.ZodType> {
  readonly resource: ResourceType;
  readonly schema: S;
}

function kind<K extends keyof typeof KINDS, S extends z.ZodType>(name: K, schema: S): ClientKind<S> {
  const info = KINDS[name];
  return {
    resource: { group: GROUP, version: VERSION, plural: info.plural, namespaced: info.scope === 'Namespaced', kind: info.kind },
    schema,
  };
}

/** Every M87 kind of the client. */
export const CLIENT_KINDS = {
  Proposal: kind('Proposal', Proposal),
  Decision: kind('Decision', Decision),
  Approval: kind('Approval', Approval),
  Job: kind('Job', Job),
  AgentProfile: kind('AgentProfile', AgentProfile),
  GovernancePolicy: kind('GovernancePolicy', GovernancePolicy),
  Tool: kind('Tool', Tool),
} as const;

export type ClientKindName = keyof typeof CLIENT_KINDS;
/**
 * The parsed object type of a kind, e.g. ObjectOf<'Proposal'>. `status` is spelt out from the kind's status
 * schema: the inferred type of src/api's resource() schemas loses it (Record<string, never>).
 */
export type ObjectOf<K extends ClientKindName> = Omit<z.infer<(typeof CLIENT_KINDS)[K]['schema']>, 'status'> & {
  status?: z.infer<(typeof KINDS)[K]['status']> | undefined;
};

type ScopeOf<K extends ClientKindName> = (typeof KINDS)[K]['scope'];
export type NamespacedKind = { [K in ClientKindName]: ScopeOf<K> extends 'Namespaced' ? K : never }[ClientKindName];
export type ClusterKind = Exclude<ClientKindName, NamespacedKind>;
